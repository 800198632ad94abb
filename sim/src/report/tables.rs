//! The page's tables: readiness, the point of no return, the priced
//! go/no-go checkpoints, the call sheet and the fault register.

use std::fmt::Write as _;

use rehearse_core::scenario::Scenario;

use super::{esc, hms, pct, points, when};
use crate::estimate::{Checkpoint, Checkpoints, Estimate, PointOfNoReturn};

/// The readiness gates, when the plan has them.
pub(super) fn readiness(sc: &Scenario) -> String {
    let Some(r) = &sc.readiness else { return String::new() };
    let mut h = format!(
        "<h2>Readiness: {}</h2>\n<table><tr><th class=\"l\">gate</th><th class=\"l\">status</th><th class=\"l\">owner</th><th class=\"l\">note</th></tr>\n",
        if r.go() { "GO" } else { "NO-GO" }
    );
    for g in &r.gates {
        let status = if g.status.blocks() {
            format!("<b style=\"color:#c0392b\">{}</b>", esc(g.status.label()))
        } else {
            esc(g.status.label())
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{} <span class=\"note\">({})</span></td><td class=\"l\">{status}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(g.def.title),
            esc(g.def.id),
            esc(g.owner.as_deref().unwrap_or("")),
            esc(g.note.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
    h
}

pub(super) fn point_of_no_return(sc: &Scenario, p: &PointOfNoReturn) -> String {
    let mut h = String::from("<h2>Point of no return</h2>\n<p>");
    let pol = &sc.policies[p.policy.index()].name;
    if p.latest_start_ms == 0 {
        let _ = write!(
            h,
            "A rollback (<code>recovery.{}</code>: reaction + restore, P90) takes {}, longer than the window: no rollback can end inside it.",
            esc(pol),
            hms(p.rollback_p90_ms)
        );
    } else {
        let _ = write!(
            h,
            "The last safe rollback decision is <b>{}</b>. A rollback (<code>recovery.{}</code>: reaction + restore) takes {} at its P90; decided later, it does not end inside the window.",
            esc(&when(sc, p.latest_start_ms)),
            esc(pol),
            hms(p.rollback_p90_ms)
        );
    }
    for d in &p.deadlines {
        let _ = write!(
            h,
            " The plan's deadline for <code>recovery.{}</code> is {}{}.",
            esc(&sc.policies[d.policy.index()].name),
            esc(&when(sc, d.deadline_ms)),
            if d.too_late() {
                format!(
                    ": <b style=\"color:#c0392b\">later than {}, by which a rollback must begin to end inside the window</b>",
                    esc(&when(sc, d.safe_begin_ms))
                )
            } else {
                " (a rollback begun then ends inside the window)".to_string()
            }
        );
    }
    h.push_str("</p>\n");
    h
}

/// Who is needed when: each resource's first start and last end of its
/// steps, P10 - P90, and its busy time, when the plan has resources.
pub(super) fn call_sheet(sc: &Scenario, e: &Estimate) -> String {
    if e.call_sheet.is_empty() {
        return String::new();
    }
    let at = |ms: i64| super::at(sc, ms);
    let mut h = String::from(
        "<h2>Call sheet</h2>\n<p class=\"note\">When each person is needed: the first start and last end of the steps that need them, P10 - P90 of the sampled runs that committed, and the time those steps take.</p>\n<table><tr><th class=\"l\">who</th><th>capacity</th><th class=\"l\">needed from</th><th class=\"l\">until</th><th>busy P50</th><th>busy P10 - P90</th></tr>\n",
    );
    for c in &e.call_sheet {
        let r = &sc.resources[c.resource];
        if c.runs == 0 {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\" colspan=\"4\">not needed in any sampled run</td></tr>",
                esc(&r.name),
                r.capacity
            );
            continue;
        }
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{} - {}</td><td class=\"l\">{} - {}</td><td>{}</td><td>{} - {}</td></tr>",
            esc(&r.name),
            r.capacity,
            esc(&at(c.from_ms[0])),
            esc(&at(c.from_ms[2])),
            esc(&at(c.until_ms[0])),
            esc(&at(c.until_ms[2])),
            hms(c.busy_ms[1]),
            hms(c.busy_ms[0]),
            hms(c.busy_ms[2])
        );
    }
    h.push_str("</table>\n");
    h
}

/// The go/no-go rules and what each costs.
pub(super) fn checkpoints(sc: &Scenario, c: &Checkpoints) -> String {
    let mut h = String::from("<h2>Go/no-go checkpoints</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"note\">\"If the step is not done by T into the downtime, roll back\", each at its best time, over {} sampled runs: without a rule, P(success) {} and {} of runs blow the window (committed late, or not back in time). A needless rollback is a run that would have succeeded; a saved run one that would have blown the window.</p>",
        c.runs,
        pct(c.p_success),
        pct(c.p_blown)
    );
    h.push_str("<table><tr><th class=\"l\">step</th><th class=\"l\">not done by</th><th>rolls back</th><th>needless</th><th>saved</th><th>P(success)</th><th>blown</th><th class=\"l\"></th></tr>\n");
    let row = |h: &mut String, r: &Checkpoint, note: &str| {
        let st = sc.step(r.step);
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{} <span class=\"note\">({})</span></td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{note}</td></tr>",
            esc(&st.name),
            esc(&st.id),
            esc(&when(sc, r.by_ms)),
            pct(r.rolls_back),
            pct(r.needless),
            pct(r.saved),
            pct(r.p_success),
            pct(r.p_blown)
        );
    };
    for r in c.rules.iter().filter(|r| r.rolls_back > 0.0 || c.recommended.as_ref() == Some(*r)).take(8) {
        let note = if c.recommended.as_ref() == Some(r) { "<b>recommended</b>" } else { "" };
        row(&mut h, r, note);
    }
    if let Some(n) = &c.naive {
        row(&mut h, n, "naive: the last step typically done by the point of no return");
    }
    h.push_str("</table>\n");
    if c.recommended.is_none() {
        h.push_str("<p>No rule saves more runs than it rolls back needlessly.</p>\n");
    }
    h
}

/// Signed hours, `+1.5 h`.
pub(super) fn hours(ms: i64) -> String {
    let h = ms as f64 / 3_600_000.0;
    if h.abs() < 0.05 { "0.0&nbsp;h".to_string() } else { format!("{h:+.1}&nbsp;h") }
}

/// The fault register: each fault, its documented message, its rate,
/// what it costs in success points and in hours, and its recovery.
pub(super) fn faults(sc: &Scenario, e: &Estimate) -> String {
    if sc.faults.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<h2>Fault register</h2>\n<p class=\"note\">Each fault against the same runs without it (same random numbers): the success points it costs (never positive: runs it rescues are noted apart), and, over the runs that commit either way, the hours it adds to the committed P50 and P90.</p>\n<table><tr><th class=\"l\">fault</th><th class=\"l\">documented message</th><th>probability</th><th>runs struck</th><th>success cost</th><th>P50 / P90 cost</th><th class=\"l\">recovery</th></tr>\n",
    );
    for (k, fault) in sc.faults.iter().enumerate() {
        let stat = e.faults.iter().find(|f| f.fault.index() == k);
        let steps: Vec<&str> = fault.steps.iter().map(|s| sc.step(*s).id.as_str()).collect();
        let cost = stat.and_then(|f| f.p_success_shift).map_or("not priced".to_string(), |p| {
            let rescued = stat.and_then(|f| f.runs_rescued).filter(|n| *n > 0).map_or(String::new(), |n| {
                format!(
                    "<br><span class=\"note\">rescues {n} run{}: its delay moved a later failure past a rollback's deadline, where the plan fixes forward</span>",
                    if n == 1 { "" } else { "s" }
                )
            });
            format!("{}{rescued}", points(p))
        });
        let shift = |v: Option<i64>| v.map_or("-".to_string(), hours);
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}{}</td><td class=\"l\">{}</td><td>{:.1}&nbsp;% an attempt<br><span class=\"note\">{}</span></td><td>{}</td><td>{}</td><td>{} / {}</td><td class=\"l\">{}</td></tr>",
            esc(&fault.id),
            fault.catalog.map_or(String::new(), |c| format!("<br><span class=\"note\">{}</span>", esc(c))),
            esc(&fault.message),
            100.0 * fault.probability,
            esc(&steps.join(", ")),
            stat.map_or("-".to_string(), |f| pct(f.runs_struck as f64 / e.runs as f64)),
            cost,
            shift(stat.and_then(|f| f.committed_p50_shift_ms)),
            shift(stat.and_then(|f| f.committed_p90_shift_ms)),
            recovery(sc, fault.recovery)
        );
    }
    h.push_str("</table>\n");
    h
}

/// A recovery policy and what it hands over to, `resume (3 attempts), then rollback`.
fn recovery(sc: &Scenario, first: rehearse_core::fault::PolicyIdx) -> String {
    let mut parts = Vec::new();
    let mut next = Some(first);
    // A chain is at most as long as the plan's policies.
    for _ in 0..sc.policies.len() {
        let Some(i) = next else { break };
        let p = &sc.policies[i.index()];
        let mut how = Vec::new();
        if p.name != p.action.name() {
            how.push(p.action.name().to_string());
        }
        if p.action.retries() {
            how.push(format!("{} attempts", p.max_attempts));
        }
        if let Some(d) = p.deadline {
            how.push(format!("begun by T+{}", hms(d.as_ms())));
        }
        let how = if how.is_empty() { String::new() } else { format!(" ({})", how.join(", ")) };
        parts.push(format!("<code>{}</code>{how}", esc(&p.name)));
        next = p.then.or(p.past_deadline);
    }
    parts.join(", then ")
}
