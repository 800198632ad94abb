//! The page of `compare --html`: both plans side by side, the differences
//! with their paired intervals, and what changed in the plan itself (steps,
//! dependencies and faults added or removed, steps renamed or moved).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rehearse_core::scenario::{Anchor, Scenario};

use super::{Footer, esc, head, hms, verdict};
use crate::estimate::{Comparison, Estimate};

/// What changed in the plan's structure from A to B, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Structure {
    pub steps_added: Vec<String>,
    pub steps_removed: Vec<String>,
    /// (id, name in A, name in B).
    pub steps_renamed: Vec<(String, String, String)>,
    /// (id, parent in A, parent in B): a step moved in the tree.
    pub steps_moved: Vec<(String, String, String)>,
    /// `step after other` (or `step starts with other`, `+lag`).
    pub deps_added: Vec<String>,
    pub deps_removed: Vec<String>,
    pub faults_added: Vec<String>,
    pub faults_removed: Vec<String>,
}

impl Structure {
    pub fn is_empty(&self) -> bool {
        *self == Structure::default()
    }
}

fn deps(sc: &Scenario) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for st in &sc.steps {
        for d in &st.after {
            let how = match d.anchor {
                Anchor::Finish => "after",
                Anchor::Start => "starts with",
            };
            let lag = if d.lag.as_ms() > 0 { format!(" +{}", d.lag.hms()) } else { String::new() };
            out.insert(format!("{} {how} {}{lag}", st.id, sc.step(d.step).id));
        }
    }
    out
}

/// What changed from `a` to `b`, each list in id order.
pub fn structure(a: &Scenario, b: &Scenario) -> Structure {
    let ids = |sc: &Scenario| sc.steps.iter().map(|s| s.id.clone()).collect::<BTreeSet<_>>();
    let (ia, ib) = (ids(a), ids(b));
    let parent = |sc: &Scenario, id: &str| {
        sc.steps
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.parent)
            .map_or("(top level)".to_string(), |p| sc.step(p).id.clone())
    };
    let name = |sc: &Scenario, id: &str| sc.steps.iter().find(|s| s.id == id).map_or(String::new(), |s| s.name.clone());
    let mut s = Structure {
        steps_added: ib.difference(&ia).cloned().collect(),
        steps_removed: ia.difference(&ib).cloned().collect(),
        ..Structure::default()
    };
    for id in ia.intersection(&ib) {
        let (na, nb) = (name(a, id), name(b, id));
        if na != nb {
            s.steps_renamed.push((id.clone(), na, nb));
        }
        let (pa, pb) = (parent(a, id), parent(b, id));
        if pa != pb {
            s.steps_moved.push((id.clone(), pa, pb));
        }
    }
    let (da, db) = (deps(a), deps(b));
    s.deps_added = db.difference(&da).cloned().collect();
    s.deps_removed = da.difference(&db).cloned().collect();
    let faults = |sc: &Scenario| sc.faults.iter().map(|f| f.id.clone()).collect::<BTreeSet<_>>();
    let (fa, fb) = (faults(a), faults(b));
    s.faults_added = fb.difference(&fa).cloned().collect();
    s.faults_removed = fa.difference(&fb).cloned().collect();
    s
}

fn list(h: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(h, "<p><b>{title}</b> ({}):</p><ul>", items.len());
    for i in items {
        let _ = write!(h, "<li><code>{}</code></li>", esc(i));
    }
    h.push_str("</ul>\n");
}

fn side(sc: &Scenario, e: &Estimate, label: &str, f: &Footer) -> String {
    let v = verdict(sc, e);
    let mut h = format!(
        "<div><h2>{label}: {}</h2><p class=\"note\"><code>{}</code>, digest <code>{}</code>, {} steps, {} faults</p>\n<div class=\"verdict {}\">{}</div>\n<table>",
        esc(&sc.meta.name),
        esc(&f.file),
        esc(&f.digest),
        sc.steps.len(),
        sc.faults.len(),
        if v.go { "go" } else { "nogo" },
        esc(&v.sentence)
    );
    for (q, label) in [(0.5, "live P50"), (0.9, "live P90")] {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{label}</td><td class=\"l\">{}</td></tr>",
            e.go_live(q).map_or("never".to_string(), |ms| esc(&super::when(sc, ms)))
        );
    }
    let _ = writeln!(
        h,
        "<tr><td class=\"l\">P(success)</td><td class=\"l\">{:.1}&nbsp;%</td></tr><tr><td class=\"l\">rolled back</td><td class=\"l\">{:.1}&nbsp;%</td></tr></table></div>",
        100.0 * e.p_success,
        100.0 * e.share(rehearse_core::event::Outcome::RolledBack)
    );
    h
}

/// The compare page.
pub fn html(sa: &Scenario, sb: &Scenario, c: &Comparison, fa: &Footer, fb: &Footer) -> String {
    let mut h = head(&format!("rehearse compare: {} / {}", sa.meta.name, sb.meta.name));
    h.push_str("<h1>Plan B against plan A</h1>\n");
    let _ = writeln!(
        h,
        "<p class=\"note\">Both plans over the same {} runs (seed {}): a step or fault both plans have draws the same random numbers in both, so the differences come from what changed. Intervals are 95&nbsp;% paired bootstrap.</p>",
        c.a.runs, c.a.seed
    );
    let show = |m: &str, v: f64| {
        if m == "p_success" {
            format!("{:.1}&nbsp;%", 100.0 * v)
        } else if v.is_finite() {
            hms(v.max(0.0) as u64)
        } else {
            "never".to_string()
        }
    };
    let signed = |m: &str, v: f64| {
        if !v.is_finite() {
            "n/a".to_string()
        } else if m == "p_success" {
            format!("{:+.1}&nbsp;pts", 100.0 * v)
        } else {
            format!("{}{}", if v < 0.0 { "-" } else { "+" }, hms(v.abs().round() as u64))
        }
    };
    h.push_str("<table><tr><th class=\"l\">metric</th><th>A</th><th>B</th><th>B - A</th><th>95 % interval</th></tr>\n");
    for d in &c.diffs {
        let label = match d.metric {
            "p50" => "go-live P50 (into the downtime)",
            "p90" => "go-live P90 (into the downtime)",
            _ => "P(success)",
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{label}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{} .. {}</td></tr>",
            show(d.metric, d.a),
            show(d.metric, d.b),
            signed(d.metric, d.b_minus_a),
            signed(d.metric, d.ci95.0),
            signed(d.metric, d.ci95.1)
        );
    }
    h.push_str("</table>\n<div class=\"pair\">\n");
    h.push_str(&side(sa, &c.a, "A", fa));
    h.push_str(&side(sb, &c.b, "B", fb));
    h.push_str("</div>\n<h2>What changed in the plan</h2>\n");
    let s = structure(sa, sb);
    if s.is_empty() {
        h.push_str("<p>The same steps, dependencies and faults: only durations, rates or policies differ.</p>\n");
    }
    list(&mut h, "Steps added", &s.steps_added);
    list(&mut h, "Steps removed", &s.steps_removed);
    let renamed: Vec<String> = s.steps_renamed.iter().map(|(id, a, b)| format!("{id}: \"{a}\" -> \"{b}\"")).collect();
    list(&mut h, "Steps renamed", &renamed);
    let moved: Vec<String> = s.steps_moved.iter().map(|(id, a, b)| format!("{id}: under {a} -> under {b}")).collect();
    list(&mut h, "Steps moved", &moved);
    list(&mut h, "Dependencies added", &s.deps_added);
    list(&mut h, "Dependencies removed", &s.deps_removed);
    list(&mut h, "Faults added", &s.faults_added);
    list(&mut h, "Faults removed", &s.faults_removed);
    if !c.drivers.is_empty() {
        h.push_str("<h2>Steps whose duration changed</h2>\n<table><tr><th class=\"l\">step</th><th>mean in A</th><th>mean in B</th><th>B - A</th></tr>\n");
        for (id, a, b) in c.drivers.iter().take(20) {
            let f = |v: &Option<f64>| v.map_or("(absent)".to_string(), |m| hms(m.round() as u64));
            let delta = match (a, b) {
                (Some(x), Some(y)) => signed("", y - x),
                _ => String::new(),
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{delta}</td></tr>",
                esc(id),
                f(a),
                f(b)
            );
        }
        h.push_str("</table>\n");
    }
    let _ = writeln!(
        h,
        "<footer>Made by {} from A <code>{}</code> (digest <code>{}</code>) and B <code>{}</code> (digest <code>{}</code>), seed {}, {} runs each; generated {}.</footer>\n</body></html>",
        esc(&fa.version),
        esc(&fa.file),
        esc(&fa.digest),
        esc(&fb.file),
        esc(&fb.digest),
        c.a.seed,
        c.a.runs,
        esc(&fa.generated)
    );
    h
}

#[cfg(test)]
mod tests {
    use rehearse_core::scenario::Scenario;

    use super::*;

    fn plan(steps: &str) -> Scenario {
        let text = format!("[scenario]\nname = \"p\"\n{steps}");
        Scenario::parse(&text, "p.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    const A: &str = r#"
[[step]]
id = "a"
duration = "1h"
[[step]]
id = "b"
after = ["a"]
duration = "1h"
[[step]]
id = "c"
after = ["a"]
duration = "1h"
"#;

    #[test]
    fn steps_and_dependencies_added_and_removed_are_listed_by_id() {
        let b = A.replace("id = \"c\"\nafter = [\"a\"]", "id = \"c\"\nname = \"Check\"\nafter = [\"b\"]")
            + "[[step]]\nid = \"d\"\nafter = [{ step = \"c\", from = \"start\", lag = \"30m\" }]\nduration = \"1h\"\n";
        let s = structure(&plan(A), &plan(&b));
        assert_eq!(s.steps_added, ["d"]);
        assert!(s.steps_removed.is_empty());
        assert_eq!(s.steps_renamed, [("c".to_string(), "c".to_string(), "Check".to_string())]);
        assert_eq!(s.deps_added, ["c after b", "d starts with c +00:30:00"]);
        assert_eq!(s.deps_removed, ["c after a"]);
        assert!(structure(&plan(A), &plan(A)).is_empty());
    }
}
