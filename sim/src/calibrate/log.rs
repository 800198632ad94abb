//! Weekend logs (`rehearse track`) as measurements: each finished step's
//! actual duration is one measurement of the plan's step of that id, so
//! that each mock cutover feeds the next plan.
//!
//! What a log holds: one start and one done per step at most (a second is
//! refused; a mistaken one is corrected by a later record, and the
//! corrections stand: [`Log::effective`]), the faults that struck running
//! steps, and the decisions taken, some about a step. A step's measurement
//! is its last attempt: a fault ends an attempt (and counts as a failure);
//! a `retry`, `rerun` or `resume` decision about the step begins a new one
//! (what ran before it is not the step's length: a resume does the
//! interrupted runbook step again, as 001's Resume button does). A step struck by a
//! fault with no such decision after it has no measured attempt (when its
//! last one began is not in the log): it counts as a failure only. A step
//! started and not done is unfinished.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use rehearse_core::time::SimDuration;

use super::CalibrateError;
use super::fit::Observed;
use super::into::Applied;
use crate::track::{Log, Record};

/// One step of a log, measured.
#[derive(Clone, Debug, PartialEq)]
pub struct LogStep {
    pub id: String,
    /// At most one completed duration, the faults that struck it, and
    /// whether it was left running.
    pub observed: Observed,
    /// Why a step done has no measured duration.
    pub unmeasured: Option<String>,
}

/// One weekend log, read as measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRun {
    pub file: String,
    /// The scenario the log was opened with: where it was read from, and
    /// its text.
    pub scenario_file: String,
    pub scenario_text: String,
    /// The steps with a start recorded, in the plan's order.
    pub steps: Vec<LogStep>,
    /// The export an import that did not finish was reading.
    pub importing: Option<String>,
}

impl LogRun {
    /// Steps with a measured duration.
    pub fn n_measured(&self) -> usize {
        self.steps.iter().filter(|s| !s.observed.completed_ms.is_empty()).count()
    }

    /// The measurements of many logs, by step id.
    pub fn by_id(logs: &[LogRun]) -> BTreeMap<String, Observed> {
        let mut out: BTreeMap<String, Observed> = BTreeMap::new();
        for log in logs {
            for s in &log.steps {
                let o = out.entry(s.id.clone()).or_default();
                *o = o.merged(&s.observed);
            }
        }
        out
    }
}

/// What ends or begins an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    Fault,
    Restart,
}

/// Reads the weekend log at `path`, its chain and records checked.
///
/// # Errors
/// A file that is no weekend log, a damaged one, one whose stored
/// scenario this version refuses ([`CalibrateError::Log`]).
pub fn read_log(path: &Path) -> Result<LogRun, CalibrateError> {
    let log = Log::open(path)?;
    let sc = log.scenario()?;
    let n = sc.steps.len();
    let mut start = vec![None; n];
    let mut done = vec![None; n];
    let mut turns: Vec<Vec<(i64, u64, Turn)>> = vec![Vec::new(); n];
    for e in log.effective() {
        let at = e.at.unix_ms();
        let (step, what) = match &e.record {
            Record::Started { step } => (step, None),
            Record::Done { step } => (step, Some(None)),
            Record::Fault { step, .. } => (step, Some(Some(Turn::Fault))),
            Record::Decision { action, step: Some(step), .. } => match action.as_str() {
                "retry" | "rerun" | "resume" => (step, Some(Some(Turn::Restart))),
                _ => continue,
            },
            _ => continue,
        };
        let Some(i) = sc.find(step).map(|i| i.index()) else { continue };
        match what {
            None => start[i] = Some(at),
            Some(None) => done[i] = Some(at),
            Some(Some(turn)) => turns[i].push((at, e.seq, turn)),
        }
    }
    let mut steps = Vec::new();
    for i in 0..n {
        let Some(s) = start[i] else { continue };
        let mut turns = std::mem::take(&mut turns[i]);
        turns.sort_unstable_by_key(|(at, seq, _)| (*at, *seq));
        let (observed, unmeasured) = measure(s, done[i], &turns);
        steps.push(LogStep { id: sc.steps[i].id.clone(), observed, unmeasured });
    }
    let file = path.display().to_string();
    tracing::debug!(file, steps = steps.len(), "calibrate: weekend log read");
    Ok(LogRun {
        file,
        scenario_file: log.scenario_file().to_string(),
        scenario_text: log.scenario_text().to_string(),
        steps,
        importing: log.importing().map(str::to_string),
    })
}

/// One step's measurement: started at `start`, done at `done` (ms since
/// the epoch), with the faults and decisions about it in time order.
fn measure(start: i64, done: Option<i64>, turns: &[(i64, u64, Turn)]) -> (Observed, Option<String>) {
    let end = done.unwrap_or(i64::MAX);
    let mut o = Observed::default();
    let mut ran = 0;
    let mut from = Some(start);
    let mut struck = None;
    for &(at, _, turn) in turns.iter().filter(|(at, _, _)| (start..=end).contains(at)) {
        match turn {
            Turn::Fault => {
                o.failed += 1;
                if let Some(f) = from.take() {
                    ran += at - f;
                }
                struck = Some(at);
            }
            Turn::Restart => {
                ran = 0;
                from = Some(at);
            }
        }
    }
    let Some(done) = done else {
        o.unfinished += 1;
        return (o, None);
    };
    match from {
        Some(f) => {
            o.completed_ms.push(u64::try_from(ran + done - f).unwrap_or(0));
            (o, None)
        }
        None => {
            let at = struck.map_or_else(String::new, |t| format!(" {} before it was done", ms(done - t)));
            (o, Some(format!("struck by a fault{at}, and no retry, rerun or resume decision about it after that")))
        }
    }
}

fn ms(v: i64) -> String {
    SimDuration(u64::try_from(v).unwrap_or(0)).hms_ms()
}

/// The report of what the logs measured and what it changed in `applied`.
pub fn log_report(logs: &[LogRun], applied: &Applied) -> String {
    let mut out = String::new();
    for log in logs {
        let running = log.steps.iter().filter(|s| s.observed.unfinished > 0).count();
        let faults: u32 = log.steps.iter().map(|s| s.observed.failed).sum();
        let _ = writeln!(
            out,
            "log          {}: plan {}, {} step(s) measured, {running} still running, {faults} fault(s)",
            log.file,
            log.scenario_file,
            log.n_measured()
        );
        if let Some(file) = &log.importing {
            let _ = writeln!(out, "             its import of {file} did not finish; the records it wrote count");
        }
        for s in log.steps.iter().filter(|s| s.unmeasured.is_some()) {
            let _ = writeln!(out, "             {}: no duration: {}", s.id, s.unmeasured.as_deref().unwrap_or(""));
        }
    }
    let by_id = LogRun::by_id(logs);
    let _ = writeln!(out, "\n{:<32} {:>4} {:>13} {:>13} {:>13}", "step", "n", "min", "median", "max");
    for (id, o) in &by_id {
        let mut v = o.completed_ms.clone();
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        let d = |ms: u64| SimDuration(ms).hms_ms();
        let failed = if o.failed > 0 { format!("  {} failed", o.failed) } else { String::new() };
        let _ = writeln!(
            out,
            "{id:<32} {:>4} {:>13} {:>13} {:>13}{failed}",
            v.len(),
            d(v[0]),
            d(v[v.len() / 2]),
            d(v[v.len() - 1])
        );
    }
    let list = |ids: &[String]| ids.join(", ");
    if !applied.unmeasured.is_empty() {
        let _ = writeln!(
            out,
            "\nno measurement, kept as planned: {} step(s): {}",
            applied.unmeasured.len(),
            list(&applied.unmeasured)
        );
    }
    for k in &applied.kept {
        let _ = writeln!(out, "kept {}: {}", k.id, k.why);
    }
    if !applied.resized.is_empty() {
        let _ = writeln!(out, "measured duration in place of a size model: {}", list(&applied.resized));
    }
    if !applied.unknown.is_empty() {
        let _ = writeln!(out, "measured, not in the plan: {}", list(&applied.unknown));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(done: Option<i64>, turns: &[(i64, Turn)], completed: &[u64], failed: u32) {
        let turns: Vec<(i64, u64, Turn)> = turns.iter().enumerate().map(|(k, (at, t))| (*at, k as u64, *t)).collect();
        let (o, why) = measure(100, done, &turns);
        assert_eq!(o.completed_ms, completed, "{turns:?}");
        assert_eq!(o.failed, failed);
        assert_eq!(why.is_some(), done.is_some() && completed.is_empty(), "{why:?}");
    }

    #[test]
    fn a_step_measures_its_last_attempt() {
        check(Some(1_100), &[], &[1_000], 0);
        // Struck at 400, rerun (or retried, or resumed: the step done
        // again) at 600: the last attempt ran 600..1100.
        check(Some(1_100), &[(400, Turn::Fault), (600, Turn::Restart)], &[500], 1);
        // Struck twice, retried each time.
        check(
            Some(2_000),
            &[(400, Turn::Fault), (500, Turn::Restart), (900, Turn::Fault), (1_000, Turn::Restart)],
            &[1_000],
            2,
        );
        // Struck, and nothing says when it started again.
        check(Some(1_100), &[(400, Turn::Fault)], &[], 1);
        // Decisions outside its time are about another attempt of the weekend.
        check(Some(1_100), &[(50, Turn::Restart), (1_200, Turn::Restart)], &[1_000], 0);
        // Still running.
        let (o, _) = measure(100, None, &[]);
        assert_eq!((o.unfinished, o.completed_ms.len()), (1, 0));
    }
}
