//! The Gantt chart of one run, zoomed on the downtime: what ran before it
//! (a replication snapshot a week earlier, say) is drawn compressed at the
//! left, past a visible break, and the downtime fills the rest of the width
//! on the plan's clock when it is anchored. Critical path and faults are
//! marked.
//!
//! Rows are grouped in swimlanes by workstream (each lane headed by its
//! name, the lanes in the order their first step comes in the plan), and
//! within a lane the steps come in tree order (a parent, then its
//! sub-steps). A plan that names no workstreams has one lane, unheaded.

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

/// The swimlane a step is drawn in: its workstream.
fn lane(sc: &Scenario, step: StepIdx) -> Option<&str> {
    sc.step(step).workstream.as_deref()
}

/// A row of the chart: a lane's heading, or a step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Row<'a> {
    Lane(&'a str),
    Step(StepIdx),
}

/// The rows: each lane's heading (when the plan names workstreams), then
/// its steps in tree order; lanes in the order of their first step.
fn rows<'a>(sc: &'a Scenario, steps: &[StepIdx]) -> Vec<Row<'a>> {
    let mut lanes: Vec<Option<&str>> = Vec::new();
    for i in steps {
        if !lanes.contains(&lane(sc, *i)) {
            lanes.push(lane(sc, *i));
        }
    }
    let named = lanes.iter().any(Option::is_some);
    let mut rows = Vec::with_capacity(steps.len() + lanes.len());
    for l in lanes {
        if named {
            rows.push(Row::Lane(l.unwrap_or("(no workstream)")));
        }
        rows.extend(steps.iter().filter(|i| lane(sc, **i) == l).map(|i| Row::Step(*i)));
    }
    rows
}

pub(super) fn chart(sc: &Scenario, g: &GanttRun<'_>) -> String {
    let steps: Vec<StepIdx> = sc.tree_order().into_iter().filter(|i| g.summary.attempts[i.index()] > 0).collect();
    let order = rows(sc, &steps);
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
    for (k, row) in order.iter().enumerate() {
        let yy = 3.0 + k as f64 * ROW;
        let i = match row {
            Row::Lane(name) => {
                let _ = writeln!(
                    s,
                    "<line x1=\"0\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c9ced6\"/><text x=\"2\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
                    yy + 0.5,
                    W - RIGHT,
                    yy + 0.5,
                    yy + 11.0,
                    esc(name)
                );
                continue;
            }
            Row::Step(i) => i,
        };
        let st = sc.step(*i);
        let t = g.summary.timing(*i);
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
    let row_of = |step: usize| order.iter().position(|o| *o == Row::Step(StepIdx(step as u32)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ws: [&str; 4]) -> Scenario {
        let mut t = String::from("[scenario]\nname = \"t\"\n");
        for (k, w) in ws.iter().enumerate() {
            let lane = if w.is_empty() { String::new() } else { format!("workstream = \"{w}\"\n") };
            t.push_str(&format!("[[step]]\nid = \"s{k}\"\nduration = \"1h\"\n{lane}"));
        }
        Scenario::parse(&t, "t.toml").unwrap()
    }

    fn drawn(sc: &Scenario) -> Vec<String> {
        let steps: Vec<StepIdx> = sc.tree_order();
        rows(sc, &steps)
            .into_iter()
            .map(|r| match r {
                Row::Lane(l) => format!("[{l}]"),
                Row::Step(i) => sc.step(i).id.clone(),
            })
            .collect()
    }

    /// Swimlanes: each headed, in the order of their first step, the steps
    /// in plan order within each; a step without a workstream in a lane of
    /// its own; no headings when the plan names none.
    #[test]
    fn rows_are_grouped_in_headed_lanes_in_plan_order() {
        assert_eq!(
            drawn(&plan(["tech", "func", "tech", ""])),
            ["[tech]", "s0", "s2", "[func]", "s1", "[(no workstream)]", "s3"]
        );
        assert_eq!(drawn(&plan(["", "", "", ""])), ["s0", "s1", "s2", "s3"]);
    }
}
