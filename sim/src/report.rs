//! The HTML report of an estimate: one self-contained page (inline SVG and
//! CSS, no scripts, no external assets) with the Gantt charts of the P50 and
//! P90 runs, the downtime histogram and CDF with the window line, the
//! tornado of what drives the downtime, and the fault table.

use std::fmt::Write as _;

use rehearse_core::event::{Event, EventRecord};
use rehearse_core::scenario::Scenario;
use rehearse_core::time::SimDuration;

use rehearse_core::event::Outcome;

use crate::estimate::{Checkpoints, Estimate};
use crate::summary::RunSummary;

/// A run shown as a Gantt chart.
pub struct GanttRun<'a> {
    pub title: String,
    pub summary: &'a RunSummary,
    pub events: &'a [EventRecord],
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn hms(ms: u64) -> String {
    SimDuration(ms).hms()
}

/// The whole page.
pub fn html(sc: &Scenario, e: &Estimate, gantts: &[GanttRun<'_>]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rehearse estimate: {name}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}}h1{{font-size:22px}}h2{{font-size:17px;margin-top:28px}}\
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f3f3f3}}\
td.l,th.l{{text-align:left}}.kpi{{display:inline-block;margin:0 18px 8px 0;padding:8px 12px;background:#f6f8fa;border-radius:6px}}\
.kpi b{{display:block;font-size:20px}}svg{{max-width:100%;height:auto}}svg text{{font-size:11px;font-family:system-ui,sans-serif}}</style></head><body>\n",
        name = esc(&sc.meta.name)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(&sc.meta.name));
    let _ = writeln!(
        h,
        "<p>{} runs, seed {}. Run <i>k</i> is reproduced, event for event, by <code>rehearse run SCENARIO --seed {} --run k</code>.</p>",
        e.runs, e.seed, e.seed
    );
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
    let pct = |v: f64| format!("{:.1}%", 100.0 * v);
    let _ = write!(
        h,
        "<div class=\"kpi\">P(success){}<b>{}</b></div>",
        e.window.map_or(" (committed)".to_string(), |w| format!(": committed inside {}", hms(w.as_ms()))),
        pct(e.p_success)
    );
    let late = e.share(Outcome::Committed) - e.p_success;
    if late > 0.0 {
        let _ = write!(h, "<div class=\"kpi\">committed late<b>{}</b></div>", pct(late));
    }
    for (label, o) in
        [("rolled back", Outcome::RolledBack), ("aborted", Outcome::Aborted), ("cancelled", Outcome::Cancelled)]
    {
        if e.share(o) > 0.0 || o == Outcome::RolledBack {
            let _ = write!(h, "<div class=\"kpi\">{label}<b>{}</b></div>", pct(e.share(o)));
        }
    }
    h.push_str("<br>\n");
    let live: Vec<String> = [("P50", 0.5), ("P80", 0.8), ("P90", 0.9)]
        .iter()
        .map(|(label, q)| {
            format!("{label}&nbsp; {}", e.go_live(*q).map_or("never".to_string(), |ms| esc(&when(sc, ms))))
        })
        .collect();
    let _ = writeln!(
        h,
        "<div class=\"kpi\">live by (all runs; a rolled-back run never goes live)<b>{}</b></div><br>",
        live.join("<br>")
    );
    for (label, q) in [("P50", 0.5), ("P80", 0.8), ("P90", 0.9), ("P95", 0.95), ("P99", 0.99)] {
        let v = e.committed_quantile(q).map_or("none committed".to_string(), hms);
        let _ = write!(h, "<div class=\"kpi\">{label} {} (committed)<b>{v}</b></div>", e.measure.label());
    }
    if let (Some(p50), Some(p90)) = (e.outage_quantile(0.5), e.outage_quantile(0.9)) {
        let _ =
            write!(h, "<div class=\"kpi\">outage when rolled back, P50 / P90<b>{} / {}</b></div>", hms(p50), hms(p90));
    }
    h.push('\n');
    if let Some(p) = &e.point_of_no_return {
        let pol = &sc.policies[p.policy.index()].name;
        if p.latest_start_ms == 0 {
            let _ = write!(
                h,
                "<p><b>Point of no return:</b> a rollback (<code>{}</code>: reaction + restore, P90) takes {}, longer than the window: no rollback can end inside it.",
                esc(pol),
                hms(p.rollback_p90_ms)
            );
        } else {
            let _ = write!(
                h,
                "<p><b>Point of no return:</b> {}. A rollback (<code>{}</code>: reaction + restore, P90) takes {}; decided later, it does not end inside the window.",
                when(sc, p.latest_start_ms),
                esc(pol),
                hms(p.rollback_p90_ms)
            );
        }
        for d in &p.deadlines {
            let _ = write!(
                h,
                " The plan's deadline for <code>{}</code> is {}{}.",
                esc(&sc.policies[d.policy.index()].name),
                when(sc, d.deadline_ms),
                if d.too_late() {
                    format!(
                        ": <b style=\"color:#c0392b\">later than {}, by which a rollback must begin to end inside the window</b>",
                        when(sc, d.safe_begin_ms)
                    )
                } else {
                    " (a rollback begun then ends inside the window)".to_string()
                }
            );
        }
        h.push_str("</p>\n");
    }
    if let Some(c) = &e.checkpoints {
        h.push_str(&checkpoint_table(sc, c));
    }
    let _ = writeln!(
        h,
        "<h2>Distribution of the {}</h2>\n<p>All runs: committed in blue, rolled back, cancelled or aborted in orange (for those, the outage until the old system was back).</p>",
        e.measure.label()
    );
    h.push_str(&histogram_svg(e));
    let _ = writeln!(
        h,
        "<h2>What drives the {m}</h2>\n<p>Over committed runs: how much the mean {m} moves between the runs where a step was long (the upper half of its durations) and those where it was short (bars, in hours), and the share of runs in which it is on the critical path.</p>",
        m = e.measure.label()
    );
    h.push_str(&tornado_svg(sc, e));
    if !e.faults.is_empty() {
        h.push_str("<h2>Faults</h2>\n<p>Each fault against the same runs without it (same random numbers): the change in P(success), and, over the runs that commit either way, in the committed P50 and P90.</p>\n<table><tr><th class=\"l\">fault</th><th class=\"l\">message</th><th>runs struck</th><th>strikes</th><th>P(success)</th><th>P50 shift</th><th>P90 shift</th></tr>\n");
        for f in &e.faults {
            let fault = &sc.faults[f.fault.index()];
            let signed = |v: Option<i64>| {
                v.map_or("-".to_string(), |v| format!("{}{}", if v < 0 { "-" } else { "+" }, hms(v.unsigned_abs())))
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&fault.id),
                esc(&fault.message),
                100.0 * f.runs_struck as f64 / e.runs as f64,
                f.strikes,
                f.p_success_shift.map_or("-".to_string(), |p| {
                    let rescued = f.runs_rescued.filter(|n| *n > 0).map_or(String::new(), |n| {
                        format!(" (rescues {n} run{}: its delay moved a later failure past a rollback's deadline, where the plan fixes forward)", if n == 1 { "" } else { "s" })
                    });
                    format!("{}{rescued}", points(p))
                }),
                signed(f.committed_p50_shift_ms),
                signed(f.committed_p90_shift_ms)
            );
        }
        h.push_str("</table>\n");
    }
    for g in gantts {
        let _ = writeln!(h, "<h2>{}</h2>", esc(&g.title));
        h.push_str(&gantt_svg(sc, g));
    }
    h.push_str("<p style=\"color:#777;font-size:12px\">Made by rehearse. Downtime shaded; critical path in dark blue; faults as red marks.</p>\n</body></html>\n");
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

/// The go/no-go rules and what each costs.
fn checkpoint_table(sc: &Scenario, c: &Checkpoints) -> String {
    let pct = |v: f64| format!("{:.1}%", 100.0 * v);
    let mut h = String::from("<h2>Go/no-go checkpoints</h2>\n");
    let _ = writeln!(
        h,
        "<p>\"If the step is not done by T into the downtime, roll back\", each at its best time, over {} sampled runs: without a rule, P(success) {} and {} of runs blow the window (committed late, or not back in time). A needless rollback is a run that would have succeeded; a saved run one that would have blown the window.</p>",
        c.runs,
        pct(c.p_success),
        pct(c.p_blown)
    );
    h.push_str("<table><tr><th class=\"l\">step</th><th>by</th><th>rolls back</th><th>needless</th><th>saved</th><th>P(success)</th><th>blown</th><th class=\"l\"></th></tr>\n");
    let row = |h: &mut String, r: &crate::estimate::Checkpoint, note: &str| {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{note}</td></tr>",
            esc(&sc.step(r.step).id),
            when(sc, r.by_ms),
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
        row(&mut h, n, "the last step typically done by the point of no return, checked then");
    }
    h.push_str("</table>\n");
    if c.recommended.is_none() {
        h.push_str("<p>No rule saves more runs than it rolls back needlessly.</p>\n");
    }
    h
}

fn histogram_svg(e: &Estimate) -> String {
    let (w, hgt, left, bottom) = (1000.0, 260.0, 60.0, 30.0);
    let v = &e.downtime_sorted;
    let (lo, hi) = (*v.first().unwrap_or(&0) as f64, (*v.last().unwrap_or(&1) as f64).max(1.0));
    let hi = e.window.map_or(hi, |w| hi.max(w.as_ms() as f64 * 1.02));
    let bins = 40usize;
    let width = ((hi - lo) / bins as f64).max(1.0);
    let bin = |d: u64| (((d as f64 - lo) / width) as usize).min(bins - 1);
    let (mut all, mut committed) = (vec![0u64; bins], vec![0u64; bins]);
    for d in v {
        all[bin(*d)] += 1;
    }
    for d in &e.committed_sorted {
        committed[bin(*d)] += 1;
    }
    let top = *all.iter().max().unwrap_or(&1) as f64;
    let x = |ms: f64| left + (ms - lo) / (hi - lo).max(1.0) * (w - left - 20.0);
    let y = |frac: f64| hgt - bottom - frac * (hgt - bottom - 10.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" role=\"img\" aria-label=\"downtime histogram and CDF\">\n"
    );
    for k in 0..bins {
        let (x0, x1) = (x(lo + k as f64 * width), x(lo + (k + 1) as f64 * width));
        let (yc, ya) = (y(committed[k] as f64 / top), y(all[k] as f64 / top));
        let bw = (x1 - x0 - 1.0).max(0.5);
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{yc:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#7aa6d8\"/><rect x=\"{x0:.1}\" y=\"{ya:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#e59866\"/>",
            y(0.0) - yc,
            yc - ya
        );
    }
    // CDF of the go-live: the share of all runs committed by then.
    let mut pts = String::new();
    let c = &e.committed_sorted;
    let step = (c.len() / 200).max(1);
    for (i, d) in c.iter().enumerate().step_by(step).chain(c.iter().enumerate().next_back()) {
        let _ = write!(pts, "{:.1},{:.1} ", x(*d as f64), y((i + 1) as f64 / e.runs as f64));
    }
    let _ = writeln!(s, "<polyline points=\"{pts}\" fill=\"none\" stroke=\"#1f3b73\" stroke-width=\"2\"/>");
    if let Some(win) = e.window {
        let xw = x(win.as_ms() as f64);
        let _ = writeln!(
            s,
            "<line x1=\"{xw:.1}\" y1=\"5\" x2=\"{xw:.1}\" y2=\"{:.1}\" stroke=\"#c0392b\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"15\" text-anchor=\"end\" fill=\"#c0392b\">window {}</text>",
            y(0.0),
            xw - 4.0,
            hms(win.as_ms())
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>",
        y(0.0),
        w - 20.0,
        y(0.0)
    );
    for k in 0..=5 {
        let ms = lo + (hi - lo) * k as f64 / 5.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
            x(ms),
            hgt - 10.0,
            anchor(k),
            hms(ms as u64)
        );
    }
    let _ = writeln!(s, "<text x=\"5\" y=\"20\">share live (CDF)</text>");
    s.push_str("</svg>\n");
    s
}

/// Axis labels: the first starts at its tick, the last ends at it.
fn anchor(k: usize) -> &'static str {
    match k {
        0 => "start",
        5 => "end",
        _ => "middle",
    }
}

fn tornado_svg(sc: &Scenario, e: &Estimate) -> String {
    let shift = |i: usize| e.drivers[i].map_or(0, |d| d.mean_shift_ms.round() as i64);
    let mut steps: Vec<usize> =
        (0..sc.steps.len()).filter(|i| !sc.steps[*i].is_group() && e.drivers[*i].is_some()).collect();
    steps.sort_by(|a, b| shift(*b).abs().cmp(&shift(*a).abs()).then(a.cmp(b)));
    steps.truncate(12);
    let largest = steps.first().map_or(1, |i| shift(*i).unsigned_abs().max(1)) as f64;
    let (w, row, label) = (1000.0, 22.0, 300.0);
    let hgt = row * steps.len() as f64 + 30.0;
    let mid = label + (w - label - 160.0) / 2.0;
    let half = (w - label - 160.0) / 2.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" role=\"img\" aria-label=\"tornado\">\n"
    );
    for (k, i) in steps.iter().enumerate() {
        let ms = shift(*i);
        let frac = ms as f64 / largest;
        let yy = 10.0 + k as f64 * row;
        let (x0, len) = if frac >= 0.0 { (mid, frac * half) } else { (mid + frac * half, -frac * half) };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect x=\"{x0:.1}\" y=\"{yy:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}{:.1} h · crit {:.0}%</text>",
            label - 8.0,
            yy + 13.0,
            esc(&sc.steps[*i].id),
            row - 6.0,
            if ms >= 0 { "#d35400" } else { "#27ae60" },
            mid + half + 8.0,
            yy + 13.0,
            if ms >= 0 { "+" } else { "-" },
            ms.unsigned_abs() as f64 / 3_600_000.0,
            100.0 * e.criticality[*i]
        );
    }
    let _ = writeln!(s, "<line x1=\"{mid:.1}\" y1=\"5\" x2=\"{mid:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>", hgt - 15.0);
    s.push_str("</svg>\n");
    s
}

fn gantt_svg(sc: &Scenario, g: &GanttRun<'_>) -> String {
    let order: Vec<_> = sc.tree_order().into_iter().filter(|i| g.summary.attempts[i.index()] > 0).collect();
    let (w, row, label) = (1000.0, 14.0, 300.0);
    let hgt = row * order.len() as f64 + 40.0;
    let span = g.summary.end.as_ms().max(1) as f64;
    let x = |ms: u64| label + ms as f64 / span * (w - label - 10.0);
    let crit: Vec<bool> = {
        let mut c = vec![false; sc.steps.len()];
        for s in &g.summary.critical_path {
            c[s.index()] = true;
        }
        c
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" role=\"img\" aria-label=\"gantt\">\n"
    );
    for (a, b) in &g.summary.downtime_intervals {
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fdecea\"/>",
            x(a.as_ms()),
            x(b.as_ms()) - x(a.as_ms()),
            hgt - 25.0
        );
    }
    for (k, i) in order.iter().enumerate() {
        let st = sc.step(*i);
        let t = g.summary.timing(*i);
        let yy = 5.0 + k as f64 * row;
        let name = format!("{}{}", "\u{a0}".repeat(2 * st.depth as usize), st.name);
        let color = if st.is_group() {
            "#b0b8c4"
        } else if crit[i.index()] {
            "#1f3b73"
        } else {
            "#7aa6d8"
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{} {} - {}</title></rect>",
            label - 6.0,
            yy + 10.0,
            esc(&name.chars().take(44).collect::<String>()),
            x(t.start.as_ms()),
            yy + 2.0,
            (x(t.end.as_ms()) - x(t.start.as_ms())).max(1.0),
            row - 4.0,
            esc(&st.id),
            hms(t.start.as_ms()),
            hms(t.end.as_ms())
        );
    }
    let row_of = |step: usize| order.iter().position(|o| o.index() == step);
    for r in g.events {
        if let Event::FaultInjected { fault, step, .. } = r.event
            && let Some(k) = row_of(step.index())
        {
            let (xx, yy) = (x(r.at.as_ms()), 5.0 + k as f64 * row);
            let _ = writeln!(
                s,
                "<path d=\"M{xx:.1},{:.1} l5,-9 l-10,0 z\" fill=\"#c0392b\"><title>{}</title></path>",
                yy + 11.0,
                esc(&sc.faults[fault.index()].message)
            );
        }
    }
    for k in 0..=5 {
        let ms = (span * k as f64 / 5.0) as u64;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
            x(ms),
            hgt - 8.0,
            anchor(k),
            hms(ms)
        );
    }
    s.push_str("</svg>\n");
    s
}
