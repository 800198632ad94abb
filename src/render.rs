//! Printing a run: the timeline table with text bars, the summary, and the
//! same as JSON.

use std::io::{self, Write};
use std::path::Path;

use rehearse_core::scenario::{DowntimeMark, Scenario};
use rehearse_core::{Calendar, Mode, SimDuration, SimTime, StepIdx, Violation};
use rehearse_sim::RunSummary;
use serde_json::{Value, json};

const NAME_WIDTH: usize = 48;
const BAR_WIDTH: usize = 32;

pub struct RunReport<'a> {
    pub scenario: &'a Scenario,
    pub path: &'a Path,
    pub summary: &'a RunSummary,
    pub stream_hash: &'a str,
    pub calendar: Option<&'a Calendar>,
    pub violations: &'a [Violation],
}

impl RunReport<'_> {
    fn time(&self, t: SimTime) -> String {
        match self.calendar {
            Some(c) => c.format(t),
            None => t.to_string(),
        }
    }

    fn on_critical_path(&self) -> Vec<bool> {
        let mut crit = vec![false; self.scenario.steps.len()];
        for s in &self.summary.critical_path {
            crit[s.index()] = true;
        }
        crit
    }

    /// The timeline table and the summary.
    pub fn text(&self, out: &mut impl Write) -> io::Result<()> {
        let s = self.summary;
        let span = s.end.as_ms().max(1);
        let crit = self.on_critical_path();
        let time_w = if self.calendar.is_some() { 23 } else { 12 };
        writeln!(
            out,
            "  {:<NAME_WIDTH$}  {:<time_w$}  {:<time_w$}  {:>12}  timeline",
            "step", "start", "end", "duration"
        )?;
        for idx in self.scenario.tree_order() {
            let step = self.scenario.step(idx);
            let t = s.timing(idx);
            let indent = "  ".repeat(step.depth as usize);
            let name = truncate(&format!("{indent}{}", step.name), NAME_WIDTH);
            let mark = if crit[idx.index()] { '*' } else { ' ' };
            let note = match step.downtime {
                Some(DowntimeMark::Begins) => "  downtime begins",
                Some(DowntimeMark::Ends) => "  downtime ends",
                None => "",
            };
            writeln!(
                out,
                "{mark} {name:<NAME_WIDTH$}  {:<time_w$}  {:<time_w$}  {:>12}  {}{note}",
                self.time(t.start),
                self.time(t.end),
                t.duration().hms_ms(),
                bar(t.start.as_ms(), t.end.as_ms(), span),
            )?;
        }
        writeln!(out, "  (* on the critical path)")?;
        writeln!(out)?;
        self.summary_text(out)
    }

    fn summary_text(&self, out: &mut impl Write) -> io::Result<()> {
        let s = self.summary;
        let sc = self.scenario;
        writeln!(
            out,
            "scenario       {} ({}, digest {})",
            sc.meta.name,
            self.path.display(),
            s.scenario
        )?;
        writeln!(out, "outcome        {}", s.outcome)?;
        writeln!(
            out,
            "span           {} (start to end of the run)",
            SimDuration(s.end.as_ms()).hms_ms()
        )?;
        let intervals: Vec<String> = s
            .downtime_intervals
            .iter()
            .map(|(a, b)| format!("{} to {}", self.time(*a), self.time(*b)))
            .collect();
        let mut downtime = format!("downtime       {}", s.downtime.hms_ms());
        if !intervals.is_empty() {
            downtime.push_str(&format!(" ({})", intervals.join(", ")));
        }
        writeln!(out, "{downtime}")?;
        if let Some(w) = sc.meta.window {
            let verdict = if s.downtime <= w {
                format!(
                    "fits, {} to spare",
                    SimDuration(w.as_ms() - s.downtime.as_ms()).hms()
                )
            } else {
                format!(
                    "EXCEEDED by {}",
                    SimDuration(s.downtime.as_ms() - w.as_ms()).hms()
                )
            };
            writeln!(out, "window         {} signed off: {verdict}", w.hms())?;
        }
        let crit_time: u64 = s
            .critical_path
            .iter()
            .map(|i| s.timing(*i).duration().as_ms())
            .sum();
        writeln!(
            out,
            "critical path  {} steps, {} of work; longest: {}",
            s.critical_path.len(),
            SimDuration(crit_time).hms(),
            self.longest_critical(3)
        )?;
        let ids: Vec<&str> = s
            .critical_path
            .iter()
            .map(|i| sc.step(*i).id.as_str())
            .collect();
        for line in wrap(&ids.join(" -> "), 84) {
            writeln!(out, "               {line}")?;
        }
        let mode = match s.mode {
            Mode::Median => "every step at its median (--median)".to_string(),
            Mode::Random => format!("{} (random draws)", s.seed),
        };
        writeln!(out, "seed           {mode}")?;
        writeln!(out, "events         {}", s.n_events)?;
        writeln!(out, "stream sha256  {}", self.stream_hash)?;
        if self.violations.is_empty() {
            writeln!(out, "invariants     all hold")?;
        } else {
            writeln!(out, "invariants     {} VIOLATED:", self.violations.len())?;
            for v in self.violations {
                writeln!(out, "  {v}")?;
            }
        }
        Ok(())
    }

    fn longest_critical(&self, n: usize) -> String {
        let s = self.summary;
        let mut crit: Vec<StepIdx> = s.critical_path.clone();
        crit.sort_by_key(|i| std::cmp::Reverse(s.timing(*i).duration()));
        crit.iter()
            .take(n)
            .map(|i| {
                format!(
                    "{} {}",
                    self.scenario.step(*i).id,
                    s.timing(*i).duration().hms()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The machine-readable form.
    pub fn json(&self) -> Value {
        let s = self.summary;
        let sc = self.scenario;
        let crit = self.on_critical_path();
        let cal = |t: SimTime| self.calendar.map(|c| c.format(t));
        let steps: Vec<Value> = sc
            .tree_order()
            .into_iter()
            .map(|idx| {
                let step = sc.step(idx);
                let t = s.timing(idx);
                json!({
                    "id": step.id,
                    "name": step.name,
                    "parent": step.parent.map(|p| sc.step(p).id.clone()),
                    "depth": step.depth,
                    "start_ms": t.start.as_ms(),
                    "end_ms": t.end.as_ms(),
                    "duration_ms": t.duration().as_ms(),
                    "start": cal(t.start),
                    "end": cal(t.end),
                    "critical": crit[idx.index()],
                    "downtime": step.downtime,
                })
            })
            .collect();
        json!({
            "scenario": { "name": sc.meta.name, "file": self.path.display().to_string(), "digest": s.scenario.to_string() },
            "seed": s.seed,
            "mode": s.mode,
            "outcome": s.outcome,
            "end_ms": s.end.as_ms(),
            "downtime_ms": s.downtime.as_ms(),
            "downtime_intervals": s.downtime_intervals.iter().map(|(a, b)| json!({"start_ms": a.as_ms(), "end_ms": b.as_ms()})).collect::<Vec<_>>(),
            "window_ms": sc.meta.window.map(|w| w.as_ms()),
            "fits_window": sc.meta.window.map(|w| s.downtime <= w),
            "critical_path": s.critical_path.iter().map(|i| sc.step(*i).id.clone()).collect::<Vec<_>>(),
            "events": s.n_events,
            "stream_sha256": self.stream_hash,
            "violations": self.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            "steps": steps,
        })
    }
}

/// A bar from `start` to `end` on a line `span` long.
fn bar(start: u64, end: u64, span: u64) -> String {
    let scale = |t: u64| ((t as u128 * BAR_WIDTH as u128) / span as u128) as usize;
    let (a, b) = (scale(start).min(BAR_WIDTH - 1), scale(end).min(BAR_WIDTH));
    let mut s = " ".repeat(a);
    if end == start {
        s.push('|');
    } else {
        s.push_str(&"#".repeat((b - a).max(1)));
    }
    s
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width - 3).collect();
        t.push_str("...");
        t
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("non-empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
