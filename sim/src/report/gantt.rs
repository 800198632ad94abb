//! The Gantt chart of one run, zoomed on the downtime: what ran before it
//! (a replication snapshot a week earlier, say) is drawn compressed at the
//! left, past a visible break, and the downtime fills the rest of the width
//! on the plan's clock when it is anchored. Critical path and faults are
//! marked.
//!
//! Rows are the steps in tree order (a parent, then its sub-steps): the
//! grouping by parent. Swimlanes by workstream belong here once steps have
//! one (`lane` is the hook: rows would be grouped by it, in tree order
//! within a lane).

use std::fmt::Write as _;

use rehearse_core::event::Event;
use rehearse_core::scenario::{Scenario, StepIdx};

use super::charts::time_ticks;
use super::{GanttRun, esc, hms, legend};

const W: f64 = 1000.0;
const LABEL: f64 = 300.0;
const RIGHT: f64 = 12.0;
/// The width given to everything before the downtime, and the break.
const BEFORE: f64 = 90.0;
const BREAK: f64 = 16.0;
const ROW: f64 = 15.0;

/// The swimlane a step is drawn in: its workstream (steps without one
/// first), in tree order within it.
fn lane(sc: &Scenario, step: StepIdx) -> Option<&str> {
    sc.step(step).workstream.as_deref()
}

pub(super) fn chart(sc: &Scenario, g: &GanttRun<'_>) -> String {
    let order: Vec<StepIdx> = {
        let mut o: Vec<_> = sc.tree_order().into_iter().filter(|i| g.summary.attempts[i.index()] > 0).collect();
        // Stable: tree order within a lane.
        o.sort_by_key(|i| lane(sc, *i).map(str::to_string));
        o
    };
    let end = g.summary.end.as_ms().max(1);
    let d0 = g.summary.downtime_intervals.first().map_or(0, |(a, _)| a.as_ms()).min(end);
    let compressed = d0 > 0;
    let main_left = if compressed { LABEL + BEFORE + BREAK } else { LABEL };
    let span = (end - d0).max(1) as f64;
    let x = |ms: u64| {
        if ms < d0 {
            LABEL + ms as f64 / d0 as f64 * BEFORE
        } else {
            main_left + (ms - d0) as f64 / span * (W - main_left - RIGHT)
        }
    };
    let plot_h = ROW * order.len() as f64 + 6.0;
    let hgt = plot_h + if compressed { 40.0 } else { 26.0 };
    let crit: Vec<bool> = {
        let mut c = vec![false; sc.steps.len()];
        for s in &g.summary.critical_path {
            c[s.index()] = true;
        }
        c
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{hgt}\" viewBox=\"0 0 {W} {hgt}\" role=\"img\" aria-label=\"gantt\">\n"
    );
    for (a, b) in &g.summary.downtime_intervals {
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"{plot_h:.1}\" fill=\"#fdecea\"/>",
            x(a.as_ms()),
            (x(b.as_ms()) - x(a.as_ms())).max(1.0)
        );
    }
    if compressed {
        // The break: a blank band with a zigzag down its middle.
        let bx = LABEL + BEFORE + BREAK / 2.0;
        let mut zig = format!("M{bx:.1},0");
        let mut k = 0;
        while (k as f64) * 6.0 < plot_h {
            let _ = write!(zig, " l{},6", if k % 2 == 0 { 4 } else { -4 });
            k += 1;
        }
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"0\" width=\"{BREAK}\" height=\"{plot_h:.1}\" fill=\"#fff\"/><path d=\"{zig}\" stroke=\"#666\" fill=\"none\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} before</text>",
            LABEL + BEFORE,
            LABEL + BEFORE / 2.0,
            plot_h + 30.0,
            hms(d0)
        );
    }
    for (k, i) in order.iter().enumerate() {
        let st = sc.step(*i);
        let t = g.summary.timing(*i);
        let yy = 3.0 + k as f64 * ROW;
        let name: String = format!("{}{}", "\u{a0}".repeat(2 * st.depth as usize), st.name).chars().take(50).collect();
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
            LABEL - 6.0,
            yy + 10.0,
            esc(&name),
            x(t.start.as_ms()),
            yy + 2.0,
            (x(t.end.as_ms()) - x(t.start.as_ms())).max(1.5),
            ROW - 4.0,
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
            let (xx, yy) = (x(r.at.as_ms()), 3.0 + k as f64 * ROW);
            let _ = writeln!(
                s,
                "<path d=\"M{xx:.1},{:.1} l5,-9 l-10,0 z\" fill=\"#c0392b\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{}: {}</title></path>",
                yy + 12.0,
                esc(&sc.faults[fault.index()].id),
                esc(&sc.faults[fault.index()].message)
            );
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{main_left:.1}\" y1=\"{plot_h:.1}\" x2=\"{:.1}\" y2=\"{plot_h:.1}\" stroke=\"#444\"/>",
        W - RIGHT
    );
    // Ticks on the downtime's clock: offsets into it, so the anchor's.
    let ticks = time_ticks(sc, 0, end - d0);
    for (t, label) in &ticks {
        let xx = x(d0 + t);
        let a = if xx > W - 50.0 {
            "end"
        } else if xx < main_left + 30.0 {
            "start"
        } else {
            "middle"
        };
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{plot_h:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"{a}\">{}</text>",
            plot_h + 4.0,
            plot_h + 16.0,
            esc(label)
        );
    }
    s.push_str("</svg>\n");
    let mut h = format!("<h2>{}</h2>\n", esc(&g.title));
    if compressed {
        let _ = writeln!(
            h,
            "<p class=\"note\">Zoomed on the downtime: the {} that ran before it are drawn compressed at the left, past the break.</p>",
            hms(d0)
        );
    }
    h.push_str(&s);
    h.push_str(&legend(&[
        ("#1f3b73", "on the critical path"),
        ("#7aa6d8", "other step"),
        ("#b0b8c4", "group (its sub-steps below it)"),
        ("#fdecea", "downtime"),
        ("#c0392b", "fault struck"),
    ]));
    h
}
