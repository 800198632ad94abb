//! Runs simulated again in full for a report: the estimate's runs at its
//! P50 and P90, events and all, and a run without its faults (what the
//! faults cost it). Each is the same run — same seed, run index and random
//! numbers — so it is reproduced, not approximated.

use rehearse_core::event::{EventRecord, Mode};
use rehearse_core::time::SimDuration;

use super::{Estimate, EstimateOptions};
use crate::SimError;
use crate::engine::{FaultMode, Plan, RunOptions, Simulator};
use crate::report::GanttRun;
use crate::sink::{MemorySink, NullSink};
use crate::summary::RunSummary;

/// A run at a quantile of an estimate, with its events.
#[derive(Clone, Debug)]
pub struct QuantileRun {
    /// "The P50 run (run 17, downtime 1d 02:03:04)".
    pub title: String,
    pub summary: RunSummary,
    pub events: Vec<EventRecord>,
}

impl QuantileRun {
    /// The run as the HTML report draws it.
    pub fn gantt(&self) -> GanttRun<'_> {
        GanttRun { title: self.title.clone(), summary: &self.summary, events: &self.events }
    }
}

/// The estimate's runs at the P50 and the P90 (the first run with each
/// quantile's value), run again with their events.
///
/// # Errors
/// A run that exceeds its limits (it did not in the estimate, with the
/// same options).
///
/// # Panics
/// If `e` is not an estimate made with `opts` (no run has a quantile's
/// value).
pub fn gantt_runs(plan: &Plan<'_>, opts: &EstimateOptions, e: &Estimate) -> Result<Vec<QuantileRun>, SimError> {
    let mut sim = Simulator::new(plan);
    let mut runs = Vec::new();
    for (label, q) in [("P50", 0.5), ("P90", 0.9)] {
        // The committed runs' quantiles: the go-live's downtime.
        let Some(target) = e.committed_quantile(q) else { break };
        let k = (0..e.downtime_by_run.len())
            .position(|k| {
                e.downtime_by_run[k] == target && e.outcome_by_run[k] == rehearse_core::event::Outcome::Committed
            })
            .expect("a committed run has the quantile's downtime") as u64;
        tracing::debug!(quantile = label, run = k, "the run at a quantile, again with its events");
        let mut memory = MemorySink::new();
        let run_opts = RunOptions { run: k, limits: opts.limits, ..RunOptions::new(opts.seed, Mode::Random) };
        let summary = sim.run(&run_opts, &mut memory)?;
        runs.push(QuantileRun {
            title: format!("The {label} committed run (run {k}, {} {})", e.measure.label(), SimDuration(target).hms()),
            summary,
            events: memory.records,
        });
    }
    Ok(runs)
}

/// How the run `opts` made (its `summary`) would have ended had no fault
/// struck: the same run with faults off. `None` when none struck.
///
/// # Errors
/// A run that exceeds its limits.
pub fn baseline(
    sim: &mut Simulator<'_, '_>,
    opts: &RunOptions,
    summary: &RunSummary,
) -> Result<Option<Baseline>, SimError> {
    if summary.injected.is_empty() {
        return Ok(None);
    }
    tracing::debug!(run = opts.run, strikes = summary.injected.len(), "the same run again without its faults");
    let clean = sim.run(&opts.clone().with_faults(FaultMode::Off), &mut NullSink)?;
    Ok(Some(Baseline { outcome: clean.outcome, downtime: clean.downtime }))
}

/// The same run without its faults: how it ends and its downtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baseline {
    pub outcome: rehearse_core::event::Outcome,
    pub downtime: SimDuration,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use rehearse_core::Scenario;

    use super::*;

    const PLAN: &str = r#"
[scenario]
name = "two steps, one fault"

[[step]]
id = "a"
duration = { uniform = ["1h", "3h"] }
downtime = "begins"

[[step]]
id = "b"
after = ["a"]
duration = { uniform = ["1h", "2h"] }
downtime = "ends"

[[fault]]
id = "crash"
message = "the batch server crashed"
steps = ["b"]
probability = 0.5
recovery = "again"

[recovery.again]
action = "resume"
reaction = "30m"
max_attempts = 3
"#;

    #[test]
    fn the_quantile_runs_are_the_estimates_runs() {
        let sc = Scenario::parse(PLAN, "plan.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(PLAN));
        let opts = EstimateOptions { runs: 200, seed: 5, fault_costs: false, ..Default::default() };
        let e = super::super::estimate(&plan, &opts, None, &AtomicU64::new(0)).unwrap();
        let runs = gantt_runs(&plan, &opts, &e).unwrap();
        assert_eq!(runs.len(), 2);
        for (run, q) in runs.iter().zip([0.5, 0.9]) {
            assert_eq!(run.summary.downtime.as_ms(), e.quantile(q));
            assert!(!run.events.is_empty());
        }
        assert!(runs[0].title.starts_with("The P50 committed run (run "), "{}", runs[0].title);
        assert_eq!(runs[1].gantt().events.len(), runs[1].events.len());
    }

    #[test]
    fn the_baseline_is_the_same_run_without_its_faults() {
        let sc = Scenario::parse(PLAN, "plan.toml").unwrap();
        let plan = Plan::new(&sc, crate::digest(PLAN));
        let mut sim = Simulator::new(&plan);
        let (mut struck, mut clean) = (0, 0);
        for run in 0..40 {
            let opts = RunOptions { run, ..RunOptions::new(1, Mode::Random) };
            let summary = sim.run(&opts, &mut NullSink).unwrap();
            let base = baseline(&mut sim, &opts, &summary).unwrap();
            let off = sim.run(&opts.clone().with_faults(FaultMode::Off), &mut NullSink).unwrap();
            if summary.injected.is_empty() {
                assert_eq!(base, None);
                assert_eq!(summary.downtime, off.downtime, "no fault struck: the same run");
                clean += 1;
            } else {
                assert_eq!(base, Some(Baseline { outcome: off.outcome, downtime: off.downtime }));
                assert!(off.downtime < summary.downtime, "a resume only adds time");
                struck += 1;
            }
        }
        assert!(struck > 0 && clean > 0, "{struck} struck, {clean} clean");
    }
}
