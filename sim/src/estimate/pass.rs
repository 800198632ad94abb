//! The threaded pass: every run of one pass, in blocks interleaved over
//! threads (block `b` of [`BLOCK`] runs on thread `b mod threads`), each
//! run reduced to a few numbers in its place, so that nothing depends on
//! the thread count.

use std::sync::atomic::{AtomicU64, Ordering};

use rehearse_core::event::{Mode, Outcome};

use super::{EstimateError, EstimateOptions, Measure};
use crate::engine::{FaultMode, Plan, RunOptions, Simulator};
use crate::sink::NullSink;

/// One run, reduced to what the quantiles need.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct RunResult {
    pub(super) downtime_ms: u64,
    pub(super) outcome: Option<Outcome>,
    /// Bit f set when fault f (< 64) struck.
    pub(super) struck_mask: u64,
}

/// A sampled run, kept whole: per step duration, and when it was done,
/// relative to the start of downtime.
#[derive(Clone, Debug, Default)]
pub(super) struct Sampled {
    pub(super) durations: Vec<u64>,
    /// Downtime began.
    pub(super) began: bool,
    /// Per step: when it completed, in ms after downtime began (0 when it
    /// completed before); `None` when it never completed (never ran, or
    /// stopped by a rollback, cancel or abort) or the run had no downtime.
    pub(super) done_at: Vec<Option<u64>>,
    /// When the run stopped going forward, in ms after downtime began (0
    /// when before): a rollback or cancel began, or the run aborted. `None`
    /// for a committed run or one without downtime.
    pub(super) stopped_at: Option<u64>,
    /// Per resource (`[[resource]]`): when its steps first started and
    /// last ended, in ms from downtime's begin (from the run's start
    /// without downtime), and the time they took, summed; `None` when none
    /// of them ran. Empty for a plan without resources.
    pub(super) calls: Vec<Option<Call>>,
}

/// One resource in one run: the call sheet's raw figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Call {
    pub(super) from_ms: i64,
    pub(super) until_ms: i64,
    pub(super) busy_ms: u64,
}

/// What one thread (or all of them, merged) counted.
#[derive(Clone, Debug, Default)]
pub(super) struct Counts {
    pub(super) critical: Vec<u64>,
    /// Per fault: runs it struck in, and strikes.
    pub(super) runs_struck: Vec<u64>,
    pub(super) strikes: Vec<u64>,
}

impl Counts {
    pub(super) fn new(n_steps: usize, n_faults: usize) -> Self {
        Counts { critical: vec![0; n_steps], runs_struck: vec![0; n_faults], strikes: vec![0; n_faults] }
    }
    pub(super) fn add(&mut self, other: &Counts) {
        for (a, b) in [
            (&mut self.critical, &other.critical),
            (&mut self.runs_struck, &other.runs_struck),
            (&mut self.strikes, &other.strikes),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
}

pub(super) struct Pass {
    pub(super) results: Vec<RunResult>,
    pub(super) samples: Vec<Sampled>,
    pub(super) counts: Counts,
    /// When the pass priced the faults: per fault, the runs it struck (see
    /// [`priced`]), in run order, each run again without it.
    pub(super) without: Vec<Vec<RunResult>>,
}

/// Whether fault `f` is priced in a run whose struck faults are `mask`:
/// the runs it struck, and every run for a fault past the 64th (the mask
/// holds 64).
pub(super) fn priced(mask: u64, f: usize) -> bool {
    f >= 64 || mask >> f & 1 == 1
}

/// Runs a thread finishes between two updates of the progress counter.
const PROGRESS_BATCH: u64 = 256;

/// Runs in a block: a thread takes every `threads`-th block, long enough
/// that threads never write near each other's results, short enough that
/// they finish together.
const BLOCK: usize = 512;

/// Runs every run of one pass (`runs`, faults striking as they may) on
/// `threads` threads; results by place in `runs` (the run index less its
/// start), samples (runs below `sample`) by run index less the start.
///
/// With `price`, each run is run again right after without each fault it
/// struck ([`priced`]), its first attempts' durations kept (the same
/// numbers: see `Simulator::run_again_into`), for `Pass::without`. A run
/// failing without a fault fails the pass as it would fail a pass of its
/// own for that fault: the first fault with a failing run, at its
/// earliest, unless a run of the pass itself failed.
pub(super) fn pass(
    plan: &Plan<'_>,
    measure: Measure,
    opts: &EstimateOptions,
    sample: u64,
    runs: std::ops::Range<u64>,
    price: bool,
    progress: &AtomicU64,
) -> Result<Pass, EstimateError> {
    let (first, end) = (runs.start, runs.end);
    let total = end - first;
    let n_steps = plan.scenario().steps.len();
    let n_faults = plan.scenario().faults.len();
    let threads = opts.threads.max(1);
    tracing::debug!(
        runs = total,
        threads,
        sampled = sample.min(opts.runs),
        priced = price,
        "pass begins, blocks of runs interleaved over threads"
    );
    // Runs go to threads in blocks of `BLOCK` places (block b on thread
    // b mod threads), and each thread writes its results straight into its
    // blocks of the one result vector: no copy to merge, no place kept
    // beside each result (a million runs would hold 24 MB more).
    let mut results = vec![RunResult::default(); total as usize];
    let mut blocks: Vec<Vec<(usize, &mut [RunResult])>> = (0..threads).map(|_| Vec::new()).collect();
    for (b, block) in results.chunks_mut(BLOCK).enumerate() {
        blocks[b % threads].push((b * BLOCK, block));
    }
    // A thread's samples, counts, and priced runs by block (the block's
    // first place, its runs' results without each fault they struck).
    type Chunk = (Vec<(u64, Sampled)>, Counts, Vec<(usize, Vec<RunResult>)>, Option<Failed>);
    let chunks: Vec<Result<Chunk, EstimateError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .into_iter()
            .map(|mine| {
                scope.spawn(move || {
                    let mut sim = Simulator::new(plan);
                    let mut summary =
                        crate::RunSummary::blank(&RunOptions::new(opts.seed, Mode::Random), plan.digest());
                    let mut sampled = Vec::new();
                    let mut counts = Counts::new(n_steps, n_faults);
                    let mut seen = vec![false; n_faults];
                    let mut unreported = 0u64;
                    let mut priced_blocks = Vec::new();
                    let mut pricing_failed: Option<Failed> = None;
                    let mut again = crate::RunSummary::blank(&RunOptions::new(opts.seed, Mode::Random), plan.digest());
                    for (from, block) in mine {
                        let mut without = Vec::new();
                        for (place, slot) in (from..).zip(block.iter_mut()) {
                            let k = first + place as u64;
                            let run_opts = RunOptions {
                                seed: opts.seed,
                                run: k,
                                mode: Mode::Random,
                                faults: FaultMode::Probabilistic,
                                limits: opts.limits,
                            };
                            sim.run_into(&run_opts, &mut NullSink, &mut summary)
                                .map_err(|error| EstimateError::Run { run: k, seed: opts.seed, error })?;
                            if k < sample {
                                sampled.push((k - first, sampled_run(&summary, plan.scenario())));
                            }
                            *slot = tally(&summary, measure, &mut counts, &mut seen);
                            let mask = slot.struck_mask;
                            for f in (0..n_faults).filter(|f| price && priced(mask, *f)) {
                                let fault = rehearse_core::fault::FaultIdx(f as u32);
                                let run_opts = RunOptions { faults: FaultMode::Without(fault), ..run_opts.clone() };
                                match sim.run_again_into(&run_opts, &mut NullSink, &mut again) {
                                    Ok(()) => without.push(result(&again, measure)),
                                    Err(error) => {
                                        let e = EstimateError::Run { run: k, seed: opts.seed, error };
                                        if pricing_failed.as_ref().is_none_or(|p| (f, k) < (p.fault, p.run)) {
                                            pricing_failed = Some(Failed { fault: f, run: k, error: e });
                                        }
                                        without.push(RunResult::default());
                                    }
                                }
                            }
                            // Counted in batches: one shared counter bumped by every
                            // thread on every run would bounce its cache line.
                            unreported += 1;
                            if unreported == PROGRESS_BATCH {
                                progress.fetch_add(unreported, Ordering::Relaxed);
                                unreported = 0;
                            }
                        }
                        if price {
                            priced_blocks.push((from, without));
                        }
                    }
                    progress.fetch_add(unreported, Ordering::Relaxed);
                    Ok((sampled, counts, priced_blocks, pricing_failed))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("an estimate thread panicked")).collect()
    });
    // Samples by run index, counts summed: nothing depends on which
    // thread ran what.
    let mut samples = vec![Sampled::default(); sample.min(end).saturating_sub(first) as usize];
    let mut counts = Counts::new(n_steps, n_faults);
    // A thread stops at its first failing run, its earliest: the earliest
    // of theirs is the earliest of all, whatever the thread count.
    let run_of = |e: &EstimateError| match e {
        EstimateError::Run { run, .. } => *run,
        _ => u64::MAX,
    };
    let mut failed: Option<EstimateError> = None;
    let mut pricing_failed: Option<Failed> = None;
    let mut priced_blocks = Vec::new();
    for chunk in chunks {
        match chunk {
            Ok((sampled, c, blocks, p)) => {
                for (k, r) in sampled {
                    samples[k as usize] = r;
                }
                counts.add(&c);
                priced_blocks.extend(blocks);
                if let Some(p) = p
                    && pricing_failed.as_ref().is_none_or(|q| (p.fault, p.run) < (q.fault, q.run))
                {
                    pricing_failed = Some(p);
                }
            }
            Err(e) if failed.as_ref().is_none_or(|f| run_of(&e) < run_of(f)) => failed = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = failed.or(pricing_failed.map(|p| p.error)) {
        return Err(e);
    }
    // Each fault's runs without it, in run order: the blocks in order, and
    // in each run the faults it struck in order.
    priced_blocks.sort_unstable_by_key(|(from, _)| *from);
    let mut without: Vec<Vec<RunResult>> = vec![Vec::new(); if price { n_faults } else { 0 }];
    let mut next = priced_blocks.into_iter().flat_map(|(_, w)| w);
    for r in results.iter().filter(|_| price) {
        for (_, list) in without.iter_mut().enumerate().filter(|(f, _)| priced(r.struck_mask, *f)) {
            list.push(next.next().expect("a priced run for each fault it struck"));
        }
    }
    tracing::debug!(runs = results.len(), sampled = samples.len(), threads, "pass merged in run order");
    Ok(Pass { results, samples, counts, without })
}

/// A run that failed without a fault.
struct Failed {
    fault: usize,
    run: u64,
    error: EstimateError,
}

/// One run reduced to its result.
fn result(s: &crate::RunSummary, measure: Measure) -> RunResult {
    RunResult {
        downtime_ms: match measure {
            Measure::Downtime => s.downtime.as_ms(),
            Measure::Elapsed => s.end.as_ms(),
        },
        outcome: Some(s.outcome),
        struck_mask: s.injected.iter().fold(0u64, |m, i| if i.fault.0 < 64 { m | (1 << i.fault.0) } else { m }),
    }
}

/// One run reduced to its result, its critical path and faults counted.
fn tally(s: &crate::RunSummary, measure: Measure, counts: &mut Counts, seen: &mut [bool]) -> RunResult {
    if s.outcome == Outcome::Committed {
        for c in &s.critical_path {
            counts.critical[c.index()] += 1;
        }
    }
    seen.fill(false);
    for inj in &s.injected {
        counts.strikes[inj.fault.index()] += 1;
        seen[inj.fault.index()] = true;
    }
    for (f, hit) in seen.iter().enumerate() {
        counts.runs_struck[f] += u64::from(*hit);
    }
    result(s, measure)
}

/// What a sampled run keeps of its summary.
fn sampled_run(s: &crate::RunSummary, sc: &rehearse_core::Scenario) -> Sampled {
    let began = s.downtime_intervals.first().map(|(a, _)| a.as_ms());
    let origin = began.unwrap_or(0) as i64;
    let mut calls: Vec<Option<Call>> = vec![None; sc.resources.len()];
    let steps = if sc.resources.is_empty() { &[][..] } else { &sc.steps[..] };
    for (step, (t, a)) in steps.iter().zip(s.steps.iter().zip(&s.attempts)) {
        if *a == 0 {
            continue;
        }
        let (from, until) = (t.start.as_ms() as i64 - origin, t.end.as_ms() as i64 - origin);
        for r in &step.needs {
            let c = calls[*r as usize].get_or_insert(Call { from_ms: from, until_ms: until, busy_ms: 0 });
            c.from_ms = c.from_ms.min(from);
            c.until_ms = c.until_ms.max(until);
            c.busy_ms += t.duration().as_ms();
        }
    }
    // Steps that ended after the run stopped going forward were abandoned.
    let stop = match s.outcome {
        Outcome::Committed => None,
        Outcome::Aborted => Some(s.end.as_ms()),
        _ => Some(s.ending_began.map_or(s.end.as_ms(), |t| t.as_ms())),
    };
    Sampled {
        durations: s.steps.iter().map(|t| t.duration().as_ms()).collect(),
        began: began.is_some(),
        done_at: s
            .steps
            .iter()
            .zip(&s.attempts)
            .map(|(t, a)| {
                let end = t.end.as_ms();
                let completed = *a > 0 && stop.is_none_or(|x| end < x);
                began.filter(|_| completed).map(|b| end.saturating_sub(b))
            })
            .collect(),
        stopped_at: began.and_then(|b| stop.map(|x| x.saturating_sub(b))),
        calls,
    }
}
