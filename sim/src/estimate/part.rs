//! An estimate split over shards: each shard runs its block of run indexes
//! (main pass and the fault pricing's re-runs of the runs it struck) and
//! writes them to a part as integers; the merge reads the parts in shard
//! order into the very arrays the unsharded estimate fills, and finishes
//! them with the same [`super::finish`].
//!
//! A part's data after the header: per run, its downtime, outcome and
//! struck mask; the shard's counters (critical steps, per fault runs
//! struck and strikes); its sampled runs (those below `sample_runs`, with
//! their resources' calls); then,
//! when faults are priced, per fault the struck runs' downtime and outcome
//! without it.

use std::io::{BufRead, Write};
use std::sync::atomic::AtomicU64;

use rehearse_core::event::Outcome;
use rehearse_core::time::SimDuration;
use serde_json::{Value, json};

use super::pass::{Call, Counts, Pass, RunResult, Sampled, pass};
use super::{Estimate, EstimateError, EstimateOptions, Measure, finish};
use crate::engine::{Limits, Plan};
use crate::shard::{OUTCOMES, PartError, PartReader, PartWriter, Shard};

/// The options that shape an estimate's numbers, as a part's header
/// records them (threads do not: they never change the result).
pub fn options_json(opts: &EstimateOptions, window: Option<SimDuration>) -> Value {
    json!({
        "sample_runs": opts.sample_runs,
        "fault_costs": opts.fault_costs,
        "max_time_ms": opts.limits.max_time.as_ms(),
        "max_events": opts.limits.max_events,
        "window_ms": window.map(SimDuration::as_ms),
    })
}

/// The options and window back from [`options_json`] (`runs` and `seed`
/// from the header), threads as given.
///
/// # Errors
/// A field missing.
pub fn options_from(
    v: &Value,
    runs: u64,
    seed: u64,
    threads: usize,
) -> Result<(EstimateOptions, Option<SimDuration>), String> {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).ok_or(format!("the part's options have no `{k}`"));
    let fault_costs =
        v.get("fault_costs").and_then(Value::as_bool).ok_or("the part's options have no `fault_costs`")?;
    let window = match v.get("window_ms") {
        Some(Value::Null) => None,
        Some(w) => Some(SimDuration(w.as_u64().ok_or("the part's `window_ms` is not a number")?)),
        None => return Err("the part's options have no `window_ms`".into()),
    };
    let opts = EstimateOptions {
        runs,
        seed,
        threads,
        limits: Limits { max_events: n("max_events")?, max_time: SimDuration(n("max_time_ms")?) },
        sample_runs: n("sample_runs")?,
        fault_costs,
    };
    Ok((opts, window))
}

fn outcome_code(o: Option<Outcome>) -> u64 {
    let o = o.expect("every run has an outcome");
    OUTCOMES.iter().position(|x| *x == o).expect("every outcome has a code") as u64
}

fn outcome_of<R: BufRead>(r: &mut PartReader<R>) -> Result<Option<Outcome>, PartError> {
    let n = r.u64()?;
    match OUTCOMES.get(n as usize) {
        Some(o) => Ok(Some(*o)),
        None => Err(r.error(&format!("an outcome code {n}"))),
    }
}

/// Runs shard `shard` of the estimate and writes its part after `header`
/// to `out`; returns `out` and the bytes written. `progress` counts runs.
///
/// # Errors
/// A run past its limits, or the writer's error.
pub fn write_part<W: Write>(
    plan: &Plan<'_>,
    opts: &EstimateOptions,
    shard: Shard,
    header: &Value,
    out: W,
    progress: &AtomicU64,
) -> Result<(W, u64), EstimateError> {
    let sc = plan.scenario();
    let measure = Measure::of(sc);
    let range = shard.range(opts.runs);
    tracing::info!(shard = %shard, from = range.start, to = range.end, "estimate shard begins");
    let main = pass(plan, measure, opts, opts.sample_runs, range.clone(), opts.fault_costs, progress)?;
    let mut w = PartWriter::new(out, header)?;
    for r in &main.results {
        w.u64(r.downtime_ms)?;
        w.u64(outcome_code(r.outcome))?;
        w.u64(r.struck_mask)?;
    }
    for v in main.counts.critical.iter().chain(&main.counts.runs_struck).chain(&main.counts.strikes) {
        w.u64(*v)?;
    }
    for s in &main.samples {
        for d in &s.durations {
            w.u64(*d)?;
        }
        w.u64(u64::from(s.began))?;
        for d in &s.done_at {
            w.u64(d.map_or(0, |v| v + 1))?;
        }
        w.u64(s.stopped_at.map_or(0, |v| v + 1))?;
        // Per resource: 0 when none of its steps ran, else 1 and its call
        // (the signed times as their two's complement).
        for c in &s.calls {
            match c {
                None => w.u64(0)?,
                Some(c) => {
                    w.u64(1)?;
                    w.u64(c.from_ms as u64)?;
                    w.u64(c.until_ms as u64)?;
                    w.u64(c.busy_ms)?;
                }
            }
        }
    }
    if opts.fault_costs {
        // Each fault's struck runs without it, priced in the main pass.
        for without in &main.without {
            w.u64(without.len() as u64)?;
            for r in without {
                w.u64(r.downtime_ms)?;
                w.u64(outcome_code(r.outcome))?;
            }
        }
    }
    Ok(w.finish()?)
}

/// What the merge gathers from the parts: the main pass over every run
/// and, per fault, its struck runs' results without it, in run order.
pub struct Gathered {
    main: Pass,
    without: Vec<Vec<RunResult>>,
    n_steps: usize,
    n_faults: usize,
    n_resources: usize,
    sample: u64,
    runs: u64,
    fault_costs: bool,
}

impl Gathered {
    /// Nothing gathered yet, for `plan` and `opts`.
    pub fn new(plan: &Plan<'_>, opts: &EstimateOptions) -> Gathered {
        let (n_steps, n_faults) = (plan.scenario().steps.len(), plan.scenario().faults.len());
        Gathered {
            main: Pass {
                results: Vec::with_capacity(opts.runs as usize),
                samples: Vec::new(),
                counts: Counts::new(n_steps, n_faults),
                without: Vec::new(),
            },
            without: vec![Vec::new(); if opts.fault_costs { n_faults } else { 0 }],
            n_steps,
            n_resources: plan.scenario().resources.len(),
            n_faults,
            sample: opts.sample_runs.min(opts.runs),
            runs: opts.runs,
            fault_costs: opts.fault_costs,
        }
    }

    /// Reads the next shard's part (after its header): the shards must
    /// come in order, 0 first.
    ///
    /// # Errors
    /// A damaged part.
    pub fn read<R: BufRead>(&mut self, shard: Shard, mut r: PartReader<R>) -> Result<(), PartError> {
        let range = shard.range(self.runs);
        if self.main.results.len() as u64 != range.start {
            return Err(r.error(&format!("shard {shard} out of order")));
        }
        for _ in range.clone() {
            let downtime_ms = r.u64()?;
            let outcome = outcome_of(&mut r)?;
            let struck_mask = r.u64()?;
            self.main.results.push(RunResult { downtime_ms, outcome, struck_mask });
        }
        let mut counts = Counts::new(self.n_steps, self.n_faults);
        for v in counts.critical.iter_mut().chain(&mut counts.runs_struck).chain(&mut counts.strikes) {
            *v = r.u64()?;
        }
        self.main.counts.add(&counts);
        for _ in range.start..self.sample.min(range.end).max(range.start) {
            let durations = (0..self.n_steps).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
            let began = match r.u64()? {
                0 => false,
                1 => true,
                n => return Err(r.error(&format!("a flag {n}"))),
            };
            let done_at =
                (0..self.n_steps).map(|_| r.u64().map(|v| v.checked_sub(1))).collect::<Result<Vec<_>, _>>()?;
            let stopped_at = r.u64()?.checked_sub(1);
            let mut calls = Vec::with_capacity(self.n_resources);
            for _ in 0..self.n_resources {
                calls.push(match r.u64()? {
                    0 => None,
                    1 => Some(Call { from_ms: r.u64()? as i64, until_ms: r.u64()? as i64, busy_ms: r.u64()? }),
                    n => return Err(r.error(&format!("a flag {n}"))),
                });
            }
            self.main.samples.push(Sampled { durations, began, done_at, stopped_at, calls });
        }
        if self.fault_costs {
            for f in 0..self.n_faults {
                let n = r.len(range.end - range.start, "struck runs")?;
                for _ in 0..n {
                    let downtime_ms = r.u64()?;
                    let outcome = outcome_of(&mut r)?;
                    self.without[f].push(RunResult { downtime_ms, outcome, struck_mask: 0 });
                }
            }
        }
        r.finish()
    }

    /// The estimate, finished as the unsharded one is.
    ///
    /// # Errors
    /// Parts that do not add up (a shard's struck runs and its re-runs
    /// disagree).
    pub fn finish(
        mut self,
        plan: &Plan<'_>,
        opts: &EstimateOptions,
        window: Option<SimDuration>,
    ) -> Result<Estimate, EstimateError> {
        if self.main.results.len() as u64 != self.runs {
            return Err(EstimateError::Part(format!("{} runs read, {} expected", self.main.results.len(), self.runs)));
        }
        let mut without = std::mem::take(&mut self.without);
        finish(plan, opts, window, self.main, &mut |fault, struck| {
            let got = std::mem::take(&mut without[fault.index()]);
            if got.len() != struck.len() {
                return Err(EstimateError::Part(format!(
                    "fault {}: {} runs struck, {} priced",
                    plan.scenario().faults[fault.index()].id,
                    struck.len(),
                    got.len()
                )));
            }
            Ok(got)
        })
    }
}
