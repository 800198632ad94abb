//! The HTML report of an estimate: one self-contained page (inline SVG and
//! CSS, no scripts, no external assets). `mod.rs` lays out the page: the
//! verdict banner, the dated forecast, the outcome figures, then the
//! charts (`charts`), the tables (`tables`) and the Gantt charts
//! (`gantt`), and the footer that says what made it. `compare` is the
//! page of `compare --html`.
//!
//! Nothing here reads the clock: the generation date is the caller's
//! (`Footer::generated`), so identical inputs give identical bytes.

mod charts;
pub mod compare;
mod gantt;
mod tables;

use std::fmt::Write as _;

use rehearse_core::event::{EventRecord, Outcome};
use rehearse_core::scenario::Scenario;
use rehearse_core::time::SimDuration;

use crate::estimate::Estimate;
use crate::summary::RunSummary;

/// A run shown as a Gantt chart.
pub struct GanttRun<'a> {
    pub title: String,
    pub summary: &'a RunSummary,
    pub events: &'a [EventRecord],
}

/// What made the page, for its footer.
#[derive(Clone, Debug, Default)]
pub struct Footer {
    /// The tool's version (`rehearse 0.1.0`).
    pub version: String,
    /// The scenario's file as given.
    pub file: String,
    /// The scenario digest (the first 8 bytes of the SHA-256 of its text).
    pub digest: String,
    /// When the page was made, as the caller read it (the binary: the wall
    /// clock, or `SOURCE_DATE_EPOCH`).
    pub generated: String,
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn hms(ms: u64) -> String {
    SimDuration(ms).hms()
}

fn pct(v: f64) -> String {
    format!("{:.1}&nbsp;%", 100.0 * v)
}

/// The page's style: fluid to 1024 px and below (no sideways scroll), and
/// an A4 print sheet (no banner colours lost, no chart split over pages).
const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;margin:0 auto;padding:16px 24px;color:#222;max-width:1100px}\
h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:26px 0 6px}\
table{border-collapse:collapse;font-size:13px;width:100%}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:top}\
th{background:#f3f3f3}td.l,th.l{text-align:left;overflow-wrap:break-word}\
.kpi{display:inline-block;margin:0 12px 8px 0;padding:6px 10px;background:#f6f8fa;border-radius:6px;font-size:13px}\
.kpi b{display:block;font-size:18px}svg{display:block;max-width:100%;height:auto}\
svg text{font-size:11px;font-family:system-ui,sans-serif}\
.verdict{padding:12px 16px;border-radius:8px;font-size:18px;line-height:1.45;margin:10px 0 14px}\
.verdict.go{background:#e8f5e9;border-left:8px solid #2e7d32}.verdict.nogo{background:#fdecea;border-left:8px solid #c0392b}\
.legend{font-size:12px;color:#444;margin:2px 0 10px}.legend span{display:inline-block;margin-right:14px;white-space:nowrap}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}\
.note{color:#555;font-size:13px}.pair{display:flex;gap:16px}.pair>div{flex:1;min-width:0}\
footer{margin-top:28px;border-top:1px solid #ccc;padding-top:6px;color:#666;font-size:12px}\
@media (max-width:800px){.pair{display:block}}\
@media print{@page{size:A4;margin:12mm}body{max-width:none;padding:0;font-size:11px}\
.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact;font-size:15px}\
svg,table,.verdict,.legend{break-inside:avoid}h2{break-after:avoid}}";

/// A legend: `(colour, label)` swatches, a dashed line when the colour
/// starts with `-`.
pub(crate) fn legend(items: &[(&str, &str)]) -> String {
    let mut h = String::from("<div class=\"legend\">");
    for (colour, label) in items {
        let swatch = match colour.strip_prefix('-') {
            Some(c) => format!("<i style=\"height:0;border-top:2px dashed {c}\"></i>"),
            None => format!("<i style=\"background:{colour}\"></i>"),
        };
        let _ = write!(h, "<span>{swatch}{}</span>", esc(label));
    }
    h.push_str("</div>\n");
    h
}

/// The page's head, up to the open body.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        esc(title)
    )
}

/// The footer: version, scenario, digest, seed, runs, date.
pub(crate) fn footer(f: &Footer, seed: u64, runs: u64) -> String {
    format!(
        "<footer>Made by {} from <code>{}</code> (scenario digest <code>{}</code>), seed {seed}, {runs} runs; generated {}. Run <i>k</i> is reproduced, event for event, by <code>rehearse run SCENARIO --seed {seed} --run k</code>.</footer>\n",
        esc(&f.version),
        esc(&f.file),
        esc(&f.digest),
        esc(&f.generated)
    )
}

/// The verdict: one sentence an executive reads in ten seconds, and
/// whether it is good news (every number met and the readiness GO).
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub sentence: String,
    pub go: bool,
}

/// A time into the downtime for a sentence: `Sunday 08:20` when anchored
/// (the weekday left out when it is `after`'s), else `T+1d 14:20:00`.
fn spoken(sc: &Scenario, ms: u64, after: Option<u64>) -> String {
    match &sc.meta.anchor {
        Some(a) => {
            let Some(z) = a.at_downtime_offset(ms as i64) else { return format!("T+{}", hms(ms)) };
            let same_day = after.and_then(|p| a.at_downtime_offset(p as i64)).is_some_and(|p| p.date() == z.date());
            z.strftime(if same_day { "%H:%M" } else { "%A %H:%M" }).to_string()
        }
        None => format!("T+{}", hms(ms)),
    }
}

/// The verdict banner's sentence.
pub fn verdict(sc: &Scenario, e: &Estimate) -> Verdict {
    let mut s = String::new();
    let (p50, p90) = (e.go_live(0.5), e.go_live(0.9));
    match (p50, p90) {
        (Some(a), Some(b)) => {
            let _ = write!(s, "Go-live forecast {} (P50), {} (P90).", spoken(sc, a, None), spoken(sc, b, Some(a)));
        }
        (Some(a), None) => {
            let _ = write!(s, "Go-live forecast {} (P50); fewer than 90 % of runs go live.", spoken(sc, a, None));
        }
        _ => s.push_str("Go-live forecast: fewer than half the runs go live."),
    }
    let by = match (&sc.meta.anchor, e.window) {
        (Some(a), Some(w)) if a.window_end().is_some() => format!("by {}", spoken(sc, w.as_ms(), None)),
        (_, Some(w)) => format!("inside the {} window", hms(w.as_ms())),
        (_, None) => String::new(),
    };
    let p_success = format!("{:.1} %", 100.0 * e.p_success);
    if by.is_empty() {
        let _ = write!(s, " Chance of going live: {p_success}.");
    } else {
        let _ = write!(s, " Chance of finishing {by}: {p_success}.");
    }
    let _ = write!(s, " Chance of rollback: {:.1} %.", 100.0 * e.share(Outcome::RolledBack));
    if let Some(p) = &e.point_of_no_return {
        if p.latest_start_ms == 0 {
            s.push_str(" Last safe rollback decision: none (a rollback outlasts the window).");
        } else {
            let _ = write!(s, " Last safe rollback decision: {}.", spoken(sc, p.latest_start_ms, None));
        }
    }
    let ready = match &sc.readiness {
        None => {
            s.push_str(" Readiness: not assessed (no [readiness] in the plan).");
            true
        }
        Some(r) if r.go() => {
            s.push_str(" Readiness: GO.");
            true
        }
        Some(r) => {
            let unmet: Vec<&str> = r.unmet().map(|g| g.def.id).collect();
            // Three gates a reader can hold; the rest is counted.
            let more = if unmet.len() > 3 { format!(" and {} more", unmet.len() - 3) } else { String::new() };
            let _ = write!(s, " Readiness: NO-GO ({}{more}).", unmet[..unmet.len().min(3)].join(", "));
            false
        }
    };
    let confident = sc.meta.window_confidence.is_none_or(|c| e.p_success >= c);
    Verdict { sentence: s, go: ready && confident && p50.is_some() }
}

/// The whole page.
pub fn html(sc: &Scenario, e: &Estimate, gantts: &[GanttRun<'_>], f: &Footer) -> String {
    let mut h = head(&format!("rehearse estimate: {}", sc.meta.name));
    let _ = writeln!(h, "<h1>{}</h1>", esc(&sc.meta.name));
    let v = verdict(sc, e);
    let _ = writeln!(
        h,
        "<div class=\"verdict {}\" id=\"verdict\">{}</div>",
        if v.go { "go" } else { "nogo" },
        esc(&v.sentence)
    );
    h.push_str(&forecast(sc, e));
    h.push_str(&tables::readiness(sc));
    h.push_str(&tables::call_sheet(sc, e));
    if let Some(p) = &e.point_of_no_return {
        h.push_str(&tables::point_of_no_return(sc, p));
    }
    if let Some(c) = &e.checkpoints {
        h.push_str(&tables::checkpoints(sc, c));
    }
    h.push_str(&charts::scurve(sc, e));
    h.push_str(&charts::histogram(sc, e));
    h.push_str(&charts::drivers(sc, e));
    h.push_str(&tables::faults(sc, e));
    for g in gantts {
        h.push_str(&gantt::chart(sc, g));
    }
    h.push_str(&charts::convergence(e));
    h.push_str(&footer(f, e.seed, e.runs));
    h.push_str("</body></html>\n");
    h
}

/// The dated forecast and the outcome figures.
fn forecast(sc: &Scenario, e: &Estimate) -> String {
    let mut h = String::from("<h2>Forecast</h2>\n");
    if let Some(a) = &sc.meta.anchor {
        let end = e
            .window
            .filter(|_| a.window_end().is_some())
            .map_or(String::new(), |w| format!("; the window ends <b>{}</b>", esc(&a.display(w.as_ms() as i64))));
        let _ = writeln!(
            h,
            "<p>Downtime begins <b>{}</b> (zone {}){end}. Every time below is placed from there.</p>",
            esc(&a.display(0)),
            esc(&a.zone_label())
        );
    }
    h.push_str("<table><tr><th class=\"l\">go-live (all runs; a rolled-back run never goes live)</th><th class=\"l\">date</th><th>into the downtime</th><th>committed runs' ");
    h.push_str(e.measure.label());
    h.push_str("</th></tr>\n");
    for (label, q) in [("P50", 0.5), ("P80", 0.8), ("P90", 0.9)] {
        let live = e.go_live(q);
        let date = match (&sc.meta.anchor, live) {
            (Some(a), Some(ms)) => esc(&a.display(ms as i64)),
            (None, Some(_)) => "(no date: the plan is not anchored)".to_string(),
            (_, None) => format!("never: fewer than {:.0}&nbsp;% of runs go live", 100.0 * q),
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{label}</td><td class=\"l\">{date}</td><td>{}</td><td>{}</td></tr>",
            live.map_or("-".to_string(), |ms| format!("T+{}", hms(ms))),
            e.committed_quantile(q).map_or("none committed".to_string(), hms)
        );
    }
    h.push_str("</table>\n<p>");
    let _ = write!(
        h,
        "<span class=\"kpi\">P(success){}<b>{}</b></span>",
        e.window.map_or(" (committed)".to_string(), |w| format!(": committed inside {}", hms(w.as_ms()))),
        pct(e.p_success)
    );
    let late = e.share(Outcome::Committed) - e.p_success;
    if late > 0.0 {
        let _ = write!(h, "<span class=\"kpi\">committed late<b>{}</b></span>", pct(late));
    }
    for (label, o) in
        [("rolled back", Outcome::RolledBack), ("aborted", Outcome::Aborted), ("cancelled", Outcome::Cancelled)]
    {
        if e.share(o) > 0.0 || o == Outcome::RolledBack {
            let _ = write!(h, "<span class=\"kpi\">{label}<b>{}</b></span>", pct(e.share(o)));
        }
    }
    if let (Some(p50), Some(p90)) = (e.outage_quantile(0.5), e.outage_quantile(0.9)) {
        let _ = write!(
            h,
            "<span class=\"kpi\">outage when rolled back, P50 / P90<b>{} / {}</b></span>",
            hms(p50),
            hms(p90)
        );
    }
    if let (Some(p95), Some(p99)) = (e.committed_quantile(0.95), e.committed_quantile(0.99)) {
        let _ = write!(h, "<span class=\"kpi\">committed P95 / P99<b>{} / {}</b></span>", hms(p95), hms(p99));
    }
    h.push_str("</p>\n");
    h
}

/// A time into the downtime: `Sun 2027-03-07 19:07 +01:00 (T+2d 01:07:26)`
/// when the plan is anchored in calendar time, else `T+2d 01:07:26`.
pub fn when(sc: &Scenario, ms: u64) -> String {
    let t = format!("T+{}", hms(ms));
    match &sc.meta.anchor {
        Some(a) => format!("{} ({t})", a.display(ms as i64)),
        None => t,
    }
}

/// A signed time from the downtime's begin, short: the plan's calendar
/// time when it is anchored, else `T-…` / `T+…` (the call sheets).
pub fn at(sc: &Scenario, ms: i64) -> String {
    match &sc.meta.anchor {
        Some(a) => a.display(ms),
        None if ms < 0 => format!("T-{}", hms(ms.unsigned_abs())),
        None => format!("T+{}", hms(ms as u64)),
    }
}

/// Percentage points, signed: two decimals for a change under 0.05, so a
/// small cost is not shown as none.
pub fn points(p: f64) -> String {
    if p == 0.0 {
        "0.0 pts".to_string()
    } else if p.abs() < 0.05 {
        format!("{p:+.2} pts")
    } else {
        format!("{p:+.1} pts")
    }
}

/// Axis labels: the first starts at its tick, the last ends at it.
pub(crate) fn anchor(k: usize, last: usize) -> &'static str {
    if k == 0 {
        "start"
    } else if k == last {
        "end"
    } else {
        "middle"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use rehearse_core::scenario::Scenario;

    use super::*;
    use crate::Plan;
    use crate::estimate::{EstimateOptions, estimate};

    /// A fixed plan, anchored: downtime from Friday 18:00, 38 hours of work,
    /// so every run goes live on Sunday at 08:00.
    const PLAN: &str = r#"
[scenario]
name = "fixed"
downtime_begins_at = "2027-03-05T18:00:00+01:00"
window_end = "2027-03-08T06:00:00+01:00"
READINESS

[[step]]
id = "out"
name = "Users out"
downtime = "begins"
duration = "1h"

[[step]]
id = "upgrade"
name = "Upgrade"
after = ["out"]
duration = "36h"

[[step]]
id = "in"
name = "Users in"
after = ["upgrade"]
downtime = "ends"
duration = "1h"
"#;

    fn check(readiness: &str, expected: &str, go: bool) {
        let text = PLAN.replace("READINESS", readiness);
        let sc = Scenario::parse(&text, "fixed.toml").unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::new(&sc, crate::digest(&text));
        let opts = EstimateOptions { runs: 20, seed: 1, threads: 1, fault_costs: false, ..Default::default() };
        let e = estimate(&plan, &opts, sc.meta.window, &AtomicU64::new(0)).unwrap();
        let v = verdict(&sc, &e);
        assert_eq!(v.sentence, expected);
        assert_eq!(v.go, go);
        let page = html(&sc, &e, &[], &Footer { version: "rehearse 9.9.9".into(), ..Footer::default() });
        assert!(page.contains(&esc(expected)), "the banner is on the page");
        assert!(page.contains("Made by rehearse 9.9.9"), "the version is on the page");
    }

    #[test]
    fn the_verdict_is_one_sentence_with_dates_chances_and_readiness() {
        check(
            "",
            "Go-live forecast Sunday 08:00 (P50), 08:00 (P90). Chance of finishing by Monday 06:00: 100.0 %. \
Chance of rollback: 0.0 %. Readiness: not assessed (no [readiness] in the plan).",
            true,
        );
        check(
            "\n[readiness]\nuser-acceptance-tests = { done = false }\n",
            "Go-live forecast Sunday 08:00 (P50), 08:00 (P90). Chance of finishing by Monday 06:00: 100.0 %. \
Chance of rollback: 0.0 %. Readiness: NO-GO (integration-tests, user-acceptance-tests, performance-tests and 7 more).",
            false,
        );
        let two_unmet = "\n[readiness]\nintegration-tests = true\nuser-acceptance-tests = false\nperformance-tests = true\n\
deployable-packages = true\ndata-migration-plan = true\ncutover-plan = true\ntraining-and-security-roles = false\n\
licences = true\nsupport-plan = true\ncritical-issues = true\n";
        check(
            two_unmet,
            "Go-live forecast Sunday 08:00 (P50), 08:00 (P90). Chance of finishing by Monday 06:00: 100.0 %. \
Chance of rollback: 0.0 %. Readiness: NO-GO (user-acceptance-tests, training-and-security-roles).",
            false,
        );
    }
}
