//! Printing a run: the timeline table with text bars, faults and recoveries,
//! the summary, and the same as JSON.

use std::io::{self, Write};
use std::path::Path;

use rehearse_core::anchor::{CalendarAnchor, PlacedCalendar};
use rehearse_core::scenario::{DowntimeMark, Scenario};
use rehearse_core::state::StepStatus;
use rehearse_core::{Calendar, Event, EventRecord, Mode, Outcome, RunState, SimDuration, SimTime, StepIdx};
use rehearse_sim::RunSummary;
use serde_json::{Value, json};

use crate::table::{Layout, View, bar, truncate};
use crate::term::Term;

/// A progress bar on stderr for `len` runs of the phase `phase`: the bar
/// takes what the terminal's width leaves (a fixed one wrapped on 80
/// columns once the counts grew long).
pub fn progress_bar(prefix: &'static str, phase: &str, len: u64) -> indicatif::ProgressBar {
    progress_bar_to(prefix, phase, len, indicatif::ProgressDrawTarget::stderr())
}

/// [`progress_bar`] drawn to `target`.
pub fn progress_bar_to(
    prefix: &'static str,
    phase: &str,
    len: u64,
    target: indicatif::ProgressDrawTarget,
) -> indicatif::ProgressBar {
    // Built whole before it is shown: set one by one, the first frame was
    // drawn before the phase was named.
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::hidden())
        .with_style(
            indicatif::ProgressStyle::with_template("{prefix}, {msg} [{wide_bar}] {pos}/{len} runs, {eta} left")
                .expect("valid template")
                .progress_chars("=> "),
        )
        .with_prefix(prefix)
        .with_message(phase.to_string());
    bar.set_draw_target(target);
    bar
}

/// Turns `bar` into a count of runs of a phase whose length is unknown.
pub fn counting(bar: &indicatif::ProgressBar, prefix: &'static str, phase: &str) {
    bar.set_style(indicatif::ProgressStyle::with_template("{prefix}, {msg}: {pos} runs").expect("valid template"));
    bar.set_prefix(prefix);
    bar.set_message(phase.to_string());
    bar.set_length(u64::MAX);
}

/// How a run's simulated times are shown.
#[derive(Clone, Copy, Debug)]
pub enum Dates<'a> {
    /// As time since the run started.
    Sim,
    /// As civil calendar times from the run's start (`start`, `--start`).
    Civil(&'a Calendar),
    /// On the plan's calendar, placed so that this run's downtime begins at
    /// `downtime_begins_at`: times with their offset.
    Anchored(PlacedCalendar<'a>),
    /// An anchored plan whose downtime never began in this run: nothing to
    /// place it by, so time since the run started.
    Unplaced(&'a CalendarAnchor),
}

impl<'a> Dates<'a> {
    /// The dates for a run: `civil` (`--start` or `start`) if given, else
    /// the plan's anchor placed by the run's first downtime begin.
    pub fn new(civil: Option<&'a Calendar>, anchor: Option<&'a CalendarAnchor>, summary: &RunSummary) -> Self {
        match (civil, anchor) {
            (Some(c), _) => Dates::Civil(c),
            (None, Some(a)) => match summary.downtime_intervals.first() {
                Some((began, _)) => Dates::Anchored(a.placed(*began)),
                None => Dates::Unplaced(a),
            },
            (None, None) => Dates::Sim,
        }
    }

    fn anchored(&self) -> Option<&PlacedCalendar<'a>> {
        match self {
            Dates::Anchored(p) => Some(p),
            _ => None,
        }
    }
}

pub struct RunReport<'a> {
    pub scenario: &'a Scenario,
    pub path: &'a Path,
    pub summary: &'a RunSummary,
    pub stream_hash: &'a str,
    pub dates: Dates<'a>,
    pub state: &'a RunState,
    pub records: &'a [EventRecord],
    /// Downtime of the same run without faults, when faults struck.
    /// The same run without its faults, when any struck.
    pub baseline: Option<rehearse_sim::estimate::Baseline>,
}

impl RunReport<'_> {
    fn time(&self, t: SimTime) -> String {
        match self.dates {
            Dates::Civil(c) => c.format(t),
            Dates::Anchored(p) => p.stamp(t),
            Dates::Sim | Dates::Unplaced(_) => t.to_string(),
        }
    }

    /// The civil time of `t` as a store writes it (`2027-03-28 07:00:00.000`):
    /// from the civil start, or the wall clock in the anchor's zone.
    fn civil(&self, t: SimTime) -> Option<String> {
        match self.dates {
            Dates::Civil(c) => Some(c.format(t)),
            Dates::Anchored(p) => p.civil(t).map(|dt| dt.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            Dates::Sim | Dates::Unplaced(_) => None,
        }
    }

    /// `calendar` and `dated` lines of the summary, for an anchored plan.
    fn calendar_text(&self, out: &mut impl Write) -> io::Result<()> {
        let s = self.summary;
        match self.dates {
            Dates::Anchored(p) => {
                let a = self.scenario.meta.anchor.as_ref().expect("anchored dates come from the plan's anchor");
                writeln!(
                    out,
                    "calendar       {}, placed so that this run's downtime begins at downtime_begins_at",
                    a.zone_label()
                )?;
                let mut line = match s.downtime_intervals.last() {
                    Some((_, end)) if !s.downtime_open => {
                        format!(
                            "dated          downtime {} to {}",
                            p.display(s.downtime_intervals[0].0),
                            p.display(*end)
                        )
                    }
                    _ => format!(
                        "dated          downtime {}, still ongoing at the run's end",
                        p.display(s.downtime_intervals[0].0)
                    ),
                };
                if let Some(w) = a.window() {
                    line.push_str(&format!("; window ends {}", a.display(w.as_ms() as i64)));
                }
                writeln!(out, "{line}")
            }
            Dates::Unplaced(a) => writeln!(
                out,
                "calendar       {}: downtime never began in this run, so it cannot be placed; times are since the run started",
                a.zone_label()
            ),
            Dates::Sim | Dates::Civil(_) => Ok(()),
        }
    }

    fn on_critical_path(&self) -> Vec<bool> {
        let mut crit = vec![false; self.scenario.steps.len()];
        for s in &self.summary.critical_path {
            crit[s.index()] = true;
        }
        crit
    }

    fn status(&self, idx: StepIdx) -> StepStatus {
        self.state.steps[idx.index()].status
    }

    /// The rows of the table, in the order `view` asks: by start time
    /// (steps that never ran last; ties in file order, so a parent before
    /// its sub-steps), grouped by workstream if asked (groups in the order
    /// their first step started), only those that ran during downtime if
    /// asked. Each group: its heading (None when not grouped) and its rows.
    fn rows(&self, view: &View) -> Vec<(Option<String>, Vec<StepIdx>)> {
        let s = self.summary;
        let mut order = self.scenario.tree_order();
        order.sort_by_key(|i| {
            let not_run = self.status(*i) == StepStatus::NotStarted;
            (not_run, if not_run { 0 } else { s.timing(*i).start.as_ms() })
        });
        if view.downtime_only {
            order.retain(|i| {
                let t = s.timing(*i);
                self.status(*i) != StepStatus::NotStarted
                    && s.downtime_intervals.iter().any(|(a, b)| t.start <= *b && *a <= t.end)
            });
        }
        if !view.by_workstream {
            return vec![(None, order)];
        }
        let mut groups: Vec<(Option<String>, Vec<StepIdx>)> = Vec::new();
        for i in order {
            let ws = self.scenario.step(i).workstream.clone();
            let heading = Some(ws.unwrap_or_else(|| "(no workstream)".to_string()));
            match groups.iter_mut().find(|g| g.0 == heading) {
                Some(g) => g.1.push(i),
                None => groups.push((heading, vec![i])),
            }
        }
        groups
    }

    /// The timeline table, the faults and recoveries, and the summary, to
    /// fit `term` (its width and colour).
    pub fn text(&self, out: &mut impl Write, term: &Term, view: &View) -> io::Result<()> {
        let mut buf = Vec::new();
        self.plain_text(&mut buf, term.width, view)?;
        out.write_all(term.fit(&String::from_utf8_lossy(&buf)).as_bytes())
    }

    fn plain_text(&self, out: &mut impl Write, width: usize, view: &View) -> io::Result<()> {
        let s = self.summary;
        let span = s.end.as_ms().max(1);
        let crit = self.on_critical_path();
        let time_w = s
            .steps
            .iter()
            .flat_map(|t| [self.time(t.start).len(), self.time(t.end).len()])
            .chain([self.time(s.end).len(), 8])
            .max()
            .unwrap_or(12);
        let dur_w = s.steps.iter().map(|t| t.duration().hms_ms().len()).chain([8]).max().unwrap_or(12);
        let l = Layout::new(width, time_w, dur_w);
        let end_col = |v: &str| if l.show_end { format!("  {v:<time_w$}") } else { String::new() };
        let header = format!(
            "  {:<nw$}  {:<time_w$}{}  {:>dur_w$}{}",
            "step",
            "start",
            end_col("end"),
            "duration",
            if l.bar_w > 0 { "  timeline" } else { "" },
            nw = l.name_w
        );
        writeln!(out, "{}", header.trim_end())?;
        for (heading, rows) in self.rows(view) {
            if let Some(h) = heading {
                writeln!(out, "{h}")?;
            }
            for idx in rows {
                let step = self.scenario.step(idx);
                let t = s.timing(idx);
                let indent = "  ".repeat(step.depth as usize);
                let name = truncate(&format!("{indent}{}", step.name), l.name_w);
                let mark = if crit[idx.index()] { '*' } else { ' ' };
                let mut notes = Vec::new();
                let status = self.status(idx);
                match step.downtime {
                    Some(DowntimeMark::Begins) => notes.push("downtime begins".to_string()),
                    // Only a step that completed let users back in.
                    Some(DowntimeMark::Ends) if status == StepStatus::Completed => {
                        notes.push("downtime ends".to_string())
                    }
                    _ => {}
                }
                let attempts = s.attempts[idx.index()];
                if attempts > 1 {
                    notes.push(format!("{attempts} attempts"));
                }
                match status {
                    StepStatus::NotStarted => {
                        writeln!(out, "{mark} {name:<nw$}  not run", nw = l.name_w)?;
                        continue;
                    }
                    StepStatus::Abandoned => notes.push("ABANDONED".into()),
                    StepStatus::Failed => notes.push("FAILED".into()),
                    StepStatus::OutcomeUnknown => notes.push("OUTCOME UNKNOWN".into()),
                    StepStatus::Running => notes.push("still running".into()),
                    StepStatus::Completed => {}
                }
                let end = if status == StepStatus::Running { String::new() } else { self.time(t.end) };
                let bar = if l.bar_w > 0 {
                    format!("  {}", bar(t.start.as_ms(), t.end.as_ms(), span, l.bar_w))
                } else {
                    String::new()
                };
                let row = format!(
                    "{mark} {name:<nw$}  {:<time_w$}{}  {:>dur_w$}{bar}",
                    self.time(t.start),
                    end_col(&end),
                    t.duration().hms_ms(),
                    nw = l.name_w
                );
                let row = row.trim_end();
                let note = notes.join(", ");
                if note.is_empty() {
                    writeln!(out, "{row}")?;
                } else if row.chars().count() + 2 + note.chars().count() <= width {
                    writeln!(out, "{row}  {note}")?;
                } else {
                    // No room beside the bar: the notes go under the name.
                    writeln!(out, "{row}")?;
                    writeln!(out, "{}{indent}  {note}", " ".repeat(4))?;
                }
            }
        }
        writeln!(out, "  (* on the critical path; a step's time includes its failed attempts and recoveries)")?;
        let incidents = self.incidents();
        if !incidents.is_empty() {
            writeln!(out)?;
            writeln!(out, "faults and recoveries")?;
            for (at, line) in &incidents {
                writeln!(out, "  {:<time_w$}  {line}", self.time(*at))?;
            }
        }
        writeln!(out)?;
        self.summary_text(out)
    }

    /// One line per fault, recovery, retry, rollback and abandoned step.
    fn incidents(&self) -> Vec<(SimTime, String)> {
        let sc = self.scenario;
        let id = |s: &StepIdx| sc.step(*s).id.as_str();
        let mut lines = Vec::new();
        // A rollback the plan's own go/no-go rule called, not a failure.
        let mut decided = false;
        let mut reset = vec![false; sc.steps.len()];
        let mut cascade: Option<(usize, StepIdx, usize)> = None;
        for r in self.records {
            let line = match &r.event {
                Event::FaultInjected { fault, step, attempt } => {
                    let f = &sc.faults[fault.index()];
                    format!("FAULT      {} attempt {attempt}: \"{}\" ({})", id(step), f.message, f.id)
                }
                Event::StepOutcomeUnknown { step, attempt } => {
                    format!("UNKNOWN    {} attempt {attempt} ended and nobody knows whether it completed", id(step))
                }
                Event::OutcomeVerified { step, completed, .. } => format!(
                    "VERIFIED   {}: {}",
                    id(step),
                    if *completed { "it had completed" } else { "it had not completed" }
                ),
                Event::RecoveryChosen { action, attempt, max_attempts, reaction_ms, extra_ms, .. } => {
                    let budget = if action.retries() {
                        format!(" (attempt {attempt} of {max_attempts})")
                    } else {
                        String::new()
                    };
                    let extra = if *extra_ms > 0 {
                        format!(" + {} fixing/undoing/verifying", SimDuration(*extra_ms).hms())
                    } else {
                        String::new()
                    };
                    format!(
                        "RECOVERY   {}{budget}: operator reacts in {}{extra}",
                        action.name(),
                        SimDuration(*reaction_ms).hms()
                    )
                }
                // A step a rerun reset starts again as a matter of course:
                // only the reset is worth a line.
                Event::StepStarted { step, attempt } if *attempt > 1 => {
                    if std::mem::take(&mut reset[step.index()]) {
                        continue;
                    }
                    format!("RETRY      {} attempt {attempt} starts", id(step))
                }
                Event::StepReset { step } => {
                    reset[step.index()] = true;
                    // A cascade (the resets of one rerun, at one time, the
                    // abandons among them kept) is one line.
                    if let Some((k, from, n)) = &mut cascade
                        && lines.get(*k).is_some_and(|(at, _)| *at == r.at)
                    {
                        *n += 1;
                        lines[*k].1 = format!("RESET      rerun from {}: {n} steps reset", id(from));
                        continue;
                    }
                    cascade = Some((lines.len(), *step, 1usize));
                    format!("RESET      {} will run again", id(step))
                }
                Event::StepAbandoned { step, attempt } => format!("ABANDONED  {} attempt {attempt}", id(step)),
                Event::StepWaited { step, resource } => format!(
                    "WAITS      {} for {} (busy)",
                    id(step),
                    sc.resources.get(*resource as usize).map_or("a resource", |r| r.name.as_str())
                ),
                Event::StepHeld { step } => format!("HELD       {} until its not_before slot", id(step)),
                Event::CheckpointMissed { step } => {
                    decided = true;
                    format!("NO-GO      `{}` not done by the plan's go/no-go checkpoint: the plan rolls back", id(step))
                }
                Event::RollbackStarted { step, late } => format!(
                    "ROLLBACK   begins {}: back to the original environment{}",
                    if decided { "on the go/no-go call".to_string() } else { format!("after `{}` failed", id(step)) },
                    if *late { " (LATE: past its deadline)" } else { "" }
                ),
                Event::RollbackCompleted => {
                    "ROLLED BACK the original environment is online again, as before".to_string()
                }
                _ => continue,
            };
            lines.push((r.at, line));
        }
        lines
    }

    fn summary_text(&self, out: &mut impl Write) -> io::Result<()> {
        let s = self.summary;
        let sc = self.scenario;
        writeln!(out, "scenario       {} ({}, digest {})", sc.meta.name, self.path.display(), s.scenario)?;
        writeln!(out, "outcome        {}", s.outcome)?;
        writeln!(out, "span           {} (start to end of the run)", SimDuration(s.end.as_ms()).hms_ms())?;
        let intervals: Vec<String> =
            s.downtime_intervals.iter().map(|(a, b)| format!("{} to {}", self.time(*a), self.time(*b))).collect();
        let mut downtime = format!("downtime       {}", s.downtime.hms_ms());
        if !intervals.is_empty() {
            downtime.push_str(&format!(" ({})", intervals.join(", ")));
        }
        if s.downtime_open {
            downtime.push_str(", STILL ONGOING when the run ended");
        }
        writeln!(out, "{downtime}")?;
        self.calendar_text(out)?;
        if let (Some(from), Some(to)) = (sc.upgrade.from, sc.upgrade.to)
            && let Ok(a) = rehearse_core::versions::code_upgrade(from, to)
        {
            let basis = match a.basis {
                rehearse_core::versions::Basis::Row(r) => format!("the table of {}", r.document),
                rehearse_core::versions::Basis::Rule => "001's rule".to_string(),
                rehearse_core::versions::Basis::Update => "001: an update".to_string(),
            };
            writeln!(
                out,
                "code upgrade   {} -> {}: the code upgrade service is {}needed ({basis}; `rehearse code-upgrade {} {}`)",
                from.id(),
                to.id(),
                if a.required { "" } else { "not " },
                from.id(),
                to.id()
            )?;
        }
        if let Some(rep) = &sc.replication {
            let rows: u64 = rep.publication_rows.iter().sum();
            let backlog = self.records.iter().find_map(|r| match r.event {
                Event::ReplicationBacklog { step, changes } => Some((step, changes)),
                _ => None,
            });
            let n = rep.publication_rows.len();
            let mut line = format!(
                "replication    {} rows in {n} publication{}, {} BCP threads",
                group_thousands(rows),
                if n == 1 { "" } else { "s" },
                rep.max_bcp_threads
            );
            if rep.no_pk_rows > 0 {
                line.push_str(&format!(", {} rows without a primary key at cutover", group_thousands(rep.no_pk_rows)));
            }
            if let Some((step, changes)) = backlog {
                line.push_str(&format!(
                    "; {} changes still to apply when `{}` began",
                    group_thousands(changes),
                    sc.step(step).id
                ));
            }
            // What the users wrote while the source was online, and what of
            // it never reached the target.
            let (written, queued) = (self.state.written.iter().sum::<u64>(), self.state.backlog.iter().sum::<u64>());
            if written > 0 {
                line.push_str(&format!("; {} rows written by users while online", group_thousands(written)));
                if queued > 0 {
                    line.push_str(&format!(", {} never applied to the target", group_thousands(queued)));
                } else {
                    line.push_str(", all applied");
                }
            }
            writeln!(out, "{line}")?;
        }
        if let Some(base) = self.baseline {
            let n = s.injected.len();
            let line = match (s.outcome, base.outcome) {
                (Outcome::Committed, Outcome::Committed) => {
                    let added = s.downtime.as_ms() as i64 - base.downtime.as_ms() as i64;
                    let sign = if added < 0 { "-" } else { "+" };
                    format!(
                        "{n} struck; downtime {sign}{} against the same run without faults ({})",
                        SimDuration(added.unsigned_abs()).hms(),
                        base.downtime.hms()
                    )
                }
                (o, Outcome::Committed) => format!(
                    "{n} struck; they made the go-live fail ({o}): without them the same run commits, with {} of downtime",
                    base.downtime.hms()
                ),
                (_, o) => format!("{n} struck; without them the same run still ends {o}"),
            };
            writeln!(out, "faults         {line}")?;
        }
        if let Some(w) = sc.meta.window {
            let verdict = match s.outcome {
                _ if s.downtime_open => "cannot tell: downtime had not ended when the run did".to_string(),
                Outcome::Committed if s.downtime <= w => {
                    format!("go-live inside it, {} to spare", SimDuration(w.as_ms() - s.downtime.as_ms()).hms())
                }
                Outcome::Committed => {
                    format!("go-live EXCEEDED it by {}", SimDuration(s.downtime.as_ms() - w.as_ms()).hms())
                }
                Outcome::RolledBack => {
                    let back = s.downtime_intervals.last().map_or("-".to_string(), |(_, b)| self.time(*b));
                    format!(
                        "the go-live FAILED (rolled back); the old system was back at {back}, after {} of outage, {} the window",
                        s.downtime.hms(),
                        if s.downtime <= w { "inside" } else { "PAST" }
                    )
                }
                Outcome::Cancelled => "the go-live was cancelled before the swap".to_string(),
                Outcome::Aborted => "the go-live FAILED (aborted): neither system was back".to_string(),
            };
            writeln!(out, "window         {} signed off: {verdict}", w.hms())?;
        }
        if let (Some(first), Some(last)) = (s.critical_path.first(), s.critical_path.last()) {
            // Its steps are marked `*` in the table (and listed in --json):
            // here its length and what weighs most on it.
            writeln!(
                out,
                "critical path  {} steps, `{}` to `{}`; longest: {}",
                s.critical_path.len(),
                sc.step(*first).id,
                sc.step(*last).id,
                self.longest_critical(3)
            )?;
        }
        let mode = match s.mode {
            Mode::Median => "every step at its median (--median)".to_string(),
            Mode::Random if s.run > 0 => format!("{} run {} (random draws)", s.seed, s.run),
            Mode::Random => format!("{} (random draws)", s.seed),
        };
        writeln!(out, "seed           {mode}")?;
        writeln!(out, "events         {}", s.n_events)?;
        writeln!(out, "stream sha256  {}", self.stream_hash)?;
        let violations = self.state.violations();
        if violations.is_empty() {
            writeln!(out, "invariants     all hold")?;
        } else {
            writeln!(out, "invariants     {} VIOLATED:", violations.len())?;
            for v in violations {
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
            .map(|i| format!("{} {}", self.scenario.step(*i).id, s.timing(*i).duration().hms()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Each table's data at the end of the run: counts and checksums on
    /// both sides, the rows the users wrote during replication and the
    /// changes that never reached the target.
    fn tables_json(&self) -> Vec<Value> {
        let st = self.state;
        self.scenario
            .database
            .tables
            .iter()
            .enumerate()
            .map(|(t, table)| {
                let d = st.tables[t];
                json!({
                    "name": table.name,
                    "source_rows": d.source_rows,
                    "source_checksum": d.source_checksum,
                    "target_rows": d.target_rows,
                    "target_checksum": d.target_checksum,
                    "written_by_users": st.written[t],
                    "replication_backlog": st.backlog[t],
                })
            })
            .collect()
    }

    /// The plan's calendar for this run (RFC 3339 times with their offset),
    /// or null when the plan is not anchored.
    fn calendar_json(&self) -> Value {
        let s = self.summary;
        let Some(a) = &self.scenario.meta.anchor else {
            return Value::Null;
        };
        let p = self.dates.anchored();
        let closed = s.downtime_intervals.last().filter(|_| !s.downtime_open).map(|(_, e)| *e);
        json!({
            "time_zone": a.zone_label(),
            "placed": p.is_some(),
            "downtime_begins_at": a.rfc3339(0),
            "downtime_ends_at": p.zip(closed).map(|(p, e)| p.rfc3339(e)),
            "window_end": a.window().map(|w| a.rfc3339(w.as_ms() as i64)),
            "run_starts_at": p.map(|p| p.rfc3339(SimTime::ZERO)),
            "run_ends_at": p.map(|p| p.rfc3339(s.end)),
        })
    }

    /// The machine-readable form.
    pub fn json(&self) -> Value {
        let s = self.summary;
        let sc = self.scenario;
        let crit = self.on_critical_path();
        let cal = |t: SimTime| self.civil(t);
        let at = |t: SimTime| self.dates.anchored().map(|p| p.rfc3339(t));
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
                    "status": self.status(idx),
                    "attempts": s.attempts[idx.index()],
                    "start_ms": t.start.as_ms(),
                    "end_ms": t.end.as_ms(),
                    "duration_ms": t.duration().as_ms(),
                    "start": cal(t.start),
                    "end": cal(t.end),
                    "start_at": at(t.start),
                    "end_at": at(t.end),
                    "critical": crit[idx.index()],
                    "downtime": step.downtime,
                })
            })
            .collect();
        let faults: Vec<Value> = s
            .injected
            .iter()
            .map(|inj| {
                json!({
                    "fault": sc.faults[inj.fault.index()].id,
                    "step": sc.step(inj.step).id,
                    "attempt": inj.attempt,
                    "message": sc.faults[inj.fault.index()].message,
                })
            })
            .collect();
        let recoveries: Vec<Value> = s
            .recoveries
            .iter()
            .map(|(f, st, a)| json!({ "fault": sc.faults[f.index()].id, "step": sc.step(*st).id, "action": a }))
            .collect();
        json!({
            "scenario": { "name": sc.meta.name, "file": self.path.display().to_string(), "digest": s.scenario.to_string() },
            "seed": s.seed,
            "run": s.run,
            "mode": s.mode,
            "outcome": s.outcome,
            "end_ms": s.end.as_ms(),
            "downtime_ms": s.downtime.as_ms(),
            "downtime_open_at_end": s.downtime_open,
            "downtime_intervals": s.downtime_intervals.iter().map(|(a, b)| json!({"start_ms": a.as_ms(), "end_ms": b.as_ms(), "start_at": at(*a), "end_at": at(*b)})).collect::<Vec<_>>(),
            "downtime_without_faults_ms": self.baseline.map(|b| b.downtime.as_ms()),
            "without_faults": self.baseline.map(|b| json!({ "outcome": b.outcome, "downtime_ms": b.downtime.as_ms() })),
            "window_ms": sc.meta.window.map(|w| w.as_ms()),
            // The go-live's fit: for a committed run only (a rollback's short
            // outage is no fit).
            "fits_window": sc.meta.window.filter(|_| !s.downtime_open && s.outcome == Outcome::Committed).map(|w| s.downtime <= w),
            "success": s.outcome == Outcome::Committed && sc.meta.window.is_none_or(|w| s.downtime <= w && !s.downtime_open),
            "back_within_window": (s.outcome == Outcome::RolledBack).then(|| sc.meta.window.map(|w| s.downtime <= w)).flatten(),
            "calendar": self.calendar_json(),
            "critical_path": s.critical_path.iter().map(|i| sc.step(*i).id.clone()).collect::<Vec<_>>(),
            "faults": faults,
            "recoveries": recoveries,
            "events": s.n_events,
            "stream_sha256": self.stream_hash,
            "violations": self.state.violations().iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            "tables": self.tables_json(),
            "steps": steps,
        })
    }
}

/// 1234567 -> "1 234 567".
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}
