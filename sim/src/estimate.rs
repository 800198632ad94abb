//! Downtime estimation: many runs on all cores, reduced to small per-run
//! results and merged in run order, so the numbers never depend on the
//! thread count.
//!
//! Run `k` is `(seed, run = k)`: `rehearse run --seed S` is run 0 of
//! `rehearse estimate --seed S`. Every random number of a step comes from
//! its own stream, so re-running without one fault (for its cost) changes
//! nothing else.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rehearse_core::event::{Mode, Outcome};
use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::{Scenario, StepIdx};
use rehearse_core::time::SimDuration;

use crate::engine::{FaultMode, Limits, Plan, RunOptions, Simulator};
use crate::rng::{self, Purpose};
use crate::sink::NullSink;

/// What to estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateOptions {
    pub runs: u64,
    pub seed: u64,
    pub threads: usize,
    pub limits: Limits,
    /// Runs kept whole (step durations and end times) for sensitivity and
    /// the go/no-go checkpoint: the first this many.
    pub sample_runs: u64,
    /// Re-run without each fault to price it (one more pass per fault).
    pub fault_costs: bool,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            runs: 10_000,
            seed: 0,
            threads: 1,
            limits: Limits::default(),
            sample_runs: 10_000,
            fault_costs: true,
        }
    }
}

/// Why an estimate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error("run {run} (seed {seed}): {error}")]
    Run { run: u64, seed: u64, error: crate::SimError },
    #[error("no runs to estimate from")]
    NoRuns,
}

/// A fault's part in the downtime.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultStat {
    pub fault: FaultIdx,
    /// Runs in which it struck at least once.
    pub runs_struck: u64,
    pub strikes: u64,
    /// Mean downtime with the fault minus without it (same random numbers).
    pub added_mean_ms: Option<f64>,
    /// P90 downtime with it minus without it.
    pub p90_shift_ms: Option<i64>,
}

/// The latest safe rollback decision.
#[derive(Clone, Debug, PartialEq)]
pub struct PointOfNoReturn {
    /// P90 of the slowest rollback policy (reaction plus restore and swap).
    pub rollback_p90_ms: u64,
    /// The latest time into the downtime a rollback may begin and still end
    /// inside the window.
    pub latest_start_ms: u64,
    /// The last step a typical run has done by then, and its median end.
    pub checkpoint: Option<(StepIdx, u64)>,
}

/// The estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// What `downtime_*` below hold: the downtime, or the elapsed time of
    /// a plan without downtime.
    pub measure: Measure,
    pub runs: u64,
    pub seed: u64,
    /// Downtime of every run, sorted.
    pub downtime_sorted: Vec<u64>,
    /// Downtime of every run, by run index (for paired comparisons).
    pub downtime_by_run: Vec<u64>,
    /// Per step: mean duration over the sampled runs that ran it.
    pub step_mean_ms: Vec<Option<f64>>,
    pub mean_ms: f64,
    /// 95 % confidence interval of the P90 (order statistics).
    pub p90_ci: (u64, u64),
    /// Runs after which the running P90 stayed within 1 % of the final one.
    pub converged_after: Option<u64>,
    pub outcomes: BTreeMap<Outcome, u64>,
    pub window: Option<SimDuration>,
    /// Share of runs whose downtime fits the window.
    pub p_fit: Option<f64>,
    /// Per step: share of committed runs with it on the critical path.
    pub criticality: Vec<f64>,
    /// Per step: Spearman rank correlation of its duration with downtime
    /// over the sampled runs (`None` when it never varies).
    pub sensitivity: Vec<Option<f64>>,
    pub faults: Vec<FaultStat>,
    pub point_of_no_return: Option<PointOfNoReturn>,
}

impl Estimate {
    /// The downtime quantile `q` (nearest rank).
    pub fn quantile(&self, q: f64) -> u64 {
        quantile(&self.downtime_sorted, q)
    }
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// What an estimate measures: the downtime, or, for a plan that has none
/// (no step marks where downtime begins or ends, like a code upgrade), the
/// elapsed time from the start of the run to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    Downtime,
    Elapsed,
}

impl Measure {
    pub fn of(sc: &rehearse_core::Scenario) -> Measure {
        if sc.steps.iter().any(|s| s.downtime.is_some()) { Measure::Downtime } else { Measure::Elapsed }
    }

    /// The quantity, in prose ("downtime", "elapsed time").
    pub fn label(self) -> &'static str {
        match self {
            Measure::Downtime => "downtime",
            Measure::Elapsed => "elapsed time",
        }
    }

    /// Its key in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Measure::Downtime => "downtime",
            Measure::Elapsed => "elapsed",
        }
    }
}

/// The same value as [`quantile`] on the sorted data, found in linear time
/// (the order of `data` changes).
fn select_quantile(data: &mut [u64], q: f64) -> u64 {
    if data.is_empty() {
        return 0;
    }
    let rank = ((q * data.len() as f64).ceil() as usize).clamp(1, data.len());
    *data.select_nth_unstable(rank - 1).1
}

/// One run, reduced to what the quantiles need.
#[derive(Clone, Copy, Debug, Default)]
struct RunResult {
    downtime_ms: u64,
    outcome: Option<Outcome>,
    /// Bit f set when fault f (< 64) struck.
    struck_mask: u64,
}

/// A sampled run, kept whole: per step duration, and end relative to the
/// start of downtime (None outside it).
#[derive(Clone, Debug, Default)]
struct Sampled {
    durations: Vec<u64>,
    ends_in_downtime: Vec<Option<u64>>,
}

/// What one thread (or all of them, merged) counted.
#[derive(Clone, Debug, Default)]
struct Counts {
    critical: Vec<u64>,
    /// Per fault: runs it struck in, and strikes.
    runs_struck: Vec<u64>,
    strikes: Vec<u64>,
}

impl Counts {
    fn new(n_steps: usize, n_faults: usize) -> Self {
        Counts { critical: vec![0; n_steps], runs_struck: vec![0; n_faults], strikes: vec![0; n_faults] }
    }
    fn add(&mut self, other: &Counts) {
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

struct Pass {
    results: Vec<RunResult>,
    samples: Vec<Sampled>,
    counts: Counts,
}

/// Runs a thread finishes between two updates of the progress counter.
const PROGRESS_BATCH: u64 = 256;

/// Runs every run of one pass on `threads` threads; results by run index.
fn pass(
    plan: &Plan<'_>,
    measure: Measure,
    opts: &EstimateOptions,
    faults: &FaultMode,
    sample: u64,
    only: Option<&[u64]>,
    progress: &AtomicU64,
) -> Result<Pass, EstimateError> {
    let n_steps = plan.scenario().steps.len();
    let n_faults = plan.scenario().faults.len();
    let threads = opts.threads.max(1);
    type Chunk = (Vec<(u64, RunResult)>, Vec<(u64, Sampled)>, Counts);
    let chunks: Vec<Result<Chunk, EstimateError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut sim = Simulator::new(plan);
                    let mut summary =
                        crate::RunSummary::blank(&RunOptions::new(opts.seed, Mode::Random), plan.digest());
                    let mut out = Vec::with_capacity((opts.runs as usize).div_ceil(threads));
                    let mut sampled = Vec::new();
                    let mut counts = Counts::new(n_steps, n_faults);
                    let mut seen = vec![false; n_faults];
                    let mut next = t;
                    let mut unreported = 0u64;
                    loop {
                        let k = match only {
                            Some(list) => match list.get(next) {
                                Some(k) => *k,
                                None => break,
                            },
                            None if (next as u64) < opts.runs => next as u64,
                            None => break,
                        };
                        let place = next as u64;
                        let run_opts = RunOptions {
                            seed: opts.seed,
                            run: k,
                            mode: Mode::Random,
                            faults: faults.clone(),
                            limits: opts.limits,
                        };
                        sim.run_into(&run_opts, &mut NullSink, &mut summary).map_err(|error| EstimateError::Run {
                            run: k,
                            seed: opts.seed,
                            error,
                        })?;
                        let s = &summary;
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
                        if k < sample {
                            let began = s.downtime_intervals.first().map(|(a, _)| a.as_ms());
                            let ended = s.downtime_intervals.last().map_or(u64::MAX, |(_, b)| b.as_ms());
                            sampled.push((
                                k,
                                Sampled {
                                    durations: s.steps.iter().map(|t| t.duration().as_ms()).collect(),
                                    ends_in_downtime: s
                                        .steps
                                        .iter()
                                        .zip(&s.attempts)
                                        .map(|(t, a)| match began {
                                            Some(b) if *a > 0 && (b..=ended).contains(&t.end.as_ms()) => {
                                                Some(t.end.as_ms() - b)
                                            }
                                            _ => None,
                                        })
                                        .collect(),
                                },
                            ));
                        }
                        let struck_mask =
                            s.injected.iter().fold(0u64, |m, i| if i.fault.0 < 64 { m | (1 << i.fault.0) } else { m });
                        out.push((
                            place,
                            RunResult {
                                downtime_ms: match measure {
                                    Measure::Downtime => s.downtime.as_ms(),
                                    Measure::Elapsed => s.end.as_ms(),
                                },
                                outcome: Some(s.outcome),
                                struck_mask,
                            },
                        ));
                        // Counted in batches: one shared counter bumped by every
                        // thread on every run would bounce its cache line.
                        unreported += 1;
                        if unreported == PROGRESS_BATCH {
                            progress.fetch_add(unreported, Ordering::Relaxed);
                            unreported = 0;
                        }
                        next += threads;
                    }
                    progress.fetch_add(unreported, Ordering::Relaxed);
                    Ok((out, sampled, counts))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("an estimate thread panicked")).collect()
    });
    // Results by run index, or, for a pass over `only`, by place in it.
    let mut results = vec![RunResult::default(); only.map_or(opts.runs as usize, <[u64]>::len)];
    let mut samples = vec![Sampled::default(); sample.min(opts.runs) as usize];
    let mut counts = Counts::new(n_steps, n_faults);
    for chunk in chunks {
        let (out, sampled, c) = chunk?;
        for (place, r) in out {
            results[place as usize] = r;
        }
        for (k, r) in sampled {
            samples[k as usize] = r;
        }
        counts.add(&c);
    }
    Ok(Pass { results, samples, counts })
}

/// Runs the estimate. `progress` counts finished runs (all passes).
///
/// # Errors
/// A run that exceeds its limits, or no runs.
pub fn estimate(
    plan: &Plan<'_>,
    opts: &EstimateOptions,
    window: Option<SimDuration>,
    progress: &AtomicU64,
) -> Result<Estimate, EstimateError> {
    if opts.runs == 0 {
        return Err(EstimateError::NoRuns);
    }
    let sc = plan.scenario();
    let sample = opts.sample_runs.min(opts.runs);
    let measure = Measure::of(sc);
    let main = pass(plan, measure, opts, &FaultMode::Probabilistic, sample, None, progress)?;
    let downtimes: Vec<u64> = main.results.iter().map(|r| r.downtime_ms).collect();
    let mut sorted = downtimes.clone();
    sorted.sort_unstable();
    let n = sorted.len();
    let mean_ms = downtimes.iter().map(|d| *d as f64).sum::<f64>() / n as f64;
    let p90 = quantile(&sorted, 0.9);

    let mut outcomes = BTreeMap::new();
    for r in &main.results {
        *outcomes.entry(r.outcome.expect("every run has an outcome")).or_insert(0u64) += 1;
    }
    let committed = outcomes.get(&Outcome::Committed).copied().unwrap_or(0).max(1);
    let criticality = main.counts.critical.iter().map(|c| *c as f64 / committed as f64).collect();

    let samples: Vec<&Sampled> = main.samples.iter().collect();
    let sample_downtime: Vec<u64> = main.results.iter().take(samples.len()).map(|r| r.downtime_ms).collect();
    let downtime_ranks = ranks(&sample_downtime);
    let sensitivity = (0..sc.steps.len())
        .map(|i| {
            let xs: Vec<u64> = samples.iter().map(|r| r.durations[i]).collect();
            spearman_ranked(&xs, &downtime_ranks)
        })
        .collect();

    let mut faults: Vec<FaultStat> = (0..sc.faults.len())
        .map(|f| FaultStat {
            fault: FaultIdx(f as u32),
            runs_struck: main.counts.runs_struck[f],
            strikes: main.counts.strikes[f],
            added_mean_ms: None,
            p90_shift_ms: None,
        })
        .collect();
    if opts.fault_costs {
        for stat in faults.iter_mut() {
            // A fault has its own random streams: a run it did not strike is
            // the same run without it. Only the runs it struck are re-run
            // (all runs, for faults past the 64th).
            let f = stat.fault.0;
            let struck: Vec<u64> =
                (0..opts.runs).filter(|k| f >= 64 || main.results[*k as usize].struck_mask >> f & 1 == 1).collect();
            let without =
                pass(plan, measure, opts, &FaultMode::Without(stat.fault), 0, Some(&struck), &AtomicU64::new(0))?;
            let mut d = downtimes.clone();
            for (place, k) in struck.iter().enumerate() {
                d[*k as usize] = without.results[place].downtime_ms;
            }
            let mean_without = d.iter().map(|x| *x as f64).sum::<f64>() / n as f64;
            stat.added_mean_ms = Some(mean_ms - mean_without);
            stat.p90_shift_ms = Some(p90 as i64 - select_quantile(&mut d, 0.9) as i64);
        }
    }

    let p_fit = window.map(|w| downtimes.iter().filter(|d| **d <= w.as_ms()).count() as f64 / n as f64);
    let point_of_no_return = window.and_then(|w| point_of_no_return(sc, opts.seed, w, &samples));
    let step_mean_ms = (0..sc.steps.len())
        .map(|i| {
            let ran: Vec<f64> = samples.iter().filter(|r| r.durations[i] > 0).map(|r| r.durations[i] as f64).collect();
            (!ran.is_empty()).then(|| ran.iter().sum::<f64>() / ran.len() as f64)
        })
        .collect();
    Ok(Estimate {
        measure,
        runs: opts.runs,
        seed: opts.seed,
        p90_ci: p90_ci(&sorted),
        converged_after: converged_after(&downtimes, p90),
        step_mean_ms,
        downtime_sorted: sorted,
        downtime_by_run: downtimes,
        mean_ms,
        outcomes,
        window,
        p_fit,
        criticality,
        sensitivity,
        faults,
        point_of_no_return,
    })
}

/// The 95 % confidence interval of the 0.9 quantile from order statistics.
fn p90_ci(sorted: &[u64]) -> (u64, u64) {
    let n = sorted.len() as f64;
    let half = 1.96 * (n * 0.9 * 0.1).sqrt();
    let lo = ((n * 0.9 - half).floor().max(1.0) as usize).min(sorted.len());
    let hi = ((n * 0.9 + half).ceil().max(1.0) as usize).min(sorted.len());
    (sorted[lo - 1], sorted[hi - 1])
}

/// The number of runs from which the P90 of the first runs stays within
/// 1 % of the final P90 (checked at 100, 200, 400, ... runs).
fn converged_after(downtimes: &[u64], p90: u64) -> Option<u64> {
    let tolerance = (p90 as f64 * 0.01).max(1.0);
    let mut sizes = Vec::new();
    let mut m = 100usize;
    while m < downtimes.len() {
        sizes.push(m);
        m *= 2;
    }
    sizes.push(downtimes.len());
    let within: Vec<bool> = sizes
        .iter()
        .map(|&m| {
            let mut prefix = downtimes[..m].to_vec();
            (select_quantile(&mut prefix, 0.9) as f64 - p90 as f64).abs() <= tolerance
        })
        .collect();
    // The first size from which every later check holds.
    let mut first = None;
    for (k, ok) in within.iter().enumerate().rev() {
        if *ok {
            first = Some(sizes[k] as u64);
        } else {
            break;
        }
    }
    first
}

/// Spearman's rank correlation (average ranks for ties).
#[cfg(test)]
fn spearman(xs: &[u64], ys: &[u64]) -> Option<f64> {
    spearman_ranked(xs, &ranks(ys))
}

/// Spearman's rank correlation of `xs` with the values ranked `ry`.
fn spearman_ranked(xs: &[u64], ry: &[f64]) -> Option<f64> {
    if xs.len() < 3 || xs.iter().all(|x| *x == xs[0]) {
        return None; // (no variance: no correlation)
    }
    let rx = ranks(xs);
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / libm::sqrt(sxx * syy))
}

fn ranks(v: &[u64]) -> Vec<f64> {
    // Sorted by (value, index): a total order, so an unstable sort gives
    // the one order. Packed into one integer when both fit (durations in
    // ms take 42 bits for over a century), which sorts fastest.
    let index_bits = usize::BITS - v.len().leading_zeros();
    let max = v.iter().copied().max().unwrap_or(0);
    let by_value: Vec<(u64, usize)> = if u64::from(index_bits) + u64::from(u64::BITS - max.leading_zeros()) <= 64 {
        let mut packed: Vec<u64> = v.iter().zip(0u64..).map(|(x, k)| x << index_bits | k).collect();
        packed.sort_unstable();
        let mask = (1u64 << index_bits) - 1;
        packed.into_iter().map(|p| (p >> index_bits, (p & mask) as usize)).collect()
    } else {
        let mut pairs: Vec<(u64, usize)> = v.iter().copied().zip(0..).collect();
        pairs.sort_unstable();
        pairs
    };
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < by_value.len() {
        let mut j = i;
        while j + 1 < by_value.len() && by_value[j + 1].0 == by_value[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &(_, k) in &by_value[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// The latest rollback decision that still ends inside the window.
fn point_of_no_return(sc: &Scenario, seed: u64, window: SimDuration, samples: &[&Sampled]) -> Option<PointOfNoReturn> {
    // The rollbacks that can happen during the downtime: those a fault on a
    // step that runs inside it leads to (directly, once its retries are
    // spent, or past a deadline). A sandbox's rollback does not count.
    let in_downtime =
        |i: usize| samples.iter().any(|r| r.ends_in_downtime.get(i).copied().flatten().is_some_and(|e| e > 0));
    let mut reachable = vec![false; sc.policies.len()];
    let mut stack: Vec<usize> = sc
        .faults
        .iter()
        .filter(|f| f.steps.iter().any(|st| in_downtime(st.index())))
        .map(|f| f.recovery.index())
        .collect();
    while let Some(p) = stack.pop() {
        if std::mem::replace(&mut reachable[p], true) {
            continue;
        }
        let pol = &sc.policies[p];
        stack.extend(pol.then.iter().chain(&pol.past_deadline).map(|q| q.index()));
    }
    let rollbacks: Vec<_> = sc
        .policies
        .iter()
        .enumerate()
        .filter(|(p, pol)| reachable[*p] && pol.action == Action::Rollback)
        .map(|(_, pol)| pol)
        .collect();
    if rollbacks.is_empty() {
        return None;
    }
    // P90 of reaction + restore for each rollback policy, by sampling its
    // own stream; the slowest one decides.
    let rollback_p90_ms = rollbacks
        .iter()
        .map(|p| {
            let mut s = rng::stream(seed, 0, Purpose::Analysis, rng::key_of(&p.name), 0);
            let cap = rehearse_core::scenario::MAX_SPAN;
            let mut v: Vec<u64> = (0..10_000)
                .map(|_| {
                    let reaction = p.reaction.as_ref().map_or(0, |d| d.sample(&mut s, cap).as_ms());
                    let undo = p.duration.as_ref().map_or(0, |d| d.sample(&mut s, cap).as_ms());
                    reaction + undo
                })
                .collect();
            v.sort_unstable();
            quantile(&v, 0.9)
        })
        .max()?;
    let latest_start_ms = window.as_ms().saturating_sub(rollback_p90_ms);
    // The last step a typical run (the median) has done by then: if it is
    // not done at the point of no return, the run is late: roll back.
    let mut checkpoint: Option<(StepIdx, u64)> = None;
    for i in 0..sc.steps.len() {
        if latest_start_ms == 0 {
            break; // no rollback fits: there is no checkpoint to keep
        }
        if sc.steps[i].is_group() {
            continue; // name the step that does the work
        }
        // Steps that end inside the downtime (not as it begins).
        let mut ends: Vec<u64> =
            samples.iter().filter_map(|r| r.ends_in_downtime.get(i).copied().flatten()).filter(|e| *e > 0).collect();
        if ends.len() < samples.len() / 2 || ends.is_empty() {
            continue; // not a step of the downtime
        }
        ends.sort_unstable();
        let p50 = quantile(&ends, 0.5);
        if p50 <= latest_start_ms && checkpoint.is_none_or(|(_, best)| p50 > best) {
            checkpoint = Some((StepIdx(i as u32), p50));
        }
    }
    Some(PointOfNoReturn { rollback_p90_ms, latest_start_ms, checkpoint })
}

/// Plan B against plan A on the same seeds and, for the steps and faults
/// they share, the same random numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub a: Estimate,
    pub b: Estimate,
    /// (metric, B minus A, 95 % bootstrap interval) for p50, p90 (ms) and
    /// p_fit (share).
    pub diffs: Vec<(&'static str, f64, (f64, f64))>,
    /// Steps whose mean duration changed, by id: (mean in A, mean in B),
    /// largest change first; a side is `None` where the step does not run.
    pub drivers: Vec<(String, Option<f64>, Option<f64>)>,
}

/// Compares two plans run with the same options.
///
/// # Errors
/// As [`estimate`].
pub fn compare(
    a: &Plan<'_>,
    b: &Plan<'_>,
    opts: &EstimateOptions,
    window: Option<SimDuration>,
    progress: &AtomicU64,
) -> Result<Comparison, EstimateError> {
    let ea = estimate(a, opts, window, progress)?;
    let eb = estimate(b, opts, window, progress)?;
    let n = ea.downtime_by_run.len();
    type Metric = fn(&[u64], Option<SimDuration>) -> f64;
    let metrics: [(&'static str, Metric); 3] = [
        ("p50", |v, _| sorted_quantile(v, 0.5)),
        ("p90", |v, _| sorted_quantile(v, 0.9)),
        ("p_fit", |v, w| w.map_or(f64::NAN, |w| v.iter().filter(|d| **d <= w.as_ms()).count() as f64 / v.len() as f64)),
    ];
    // Paired bootstrap: resample run indices, the same ones for both plans.
    let mut stream = rng::stream(opts.seed, 0, Purpose::Analysis, rng::key_of("compare"), 0);
    let resamples: Vec<Vec<usize>> = (0..200)
        .map(|_| (0..n).map(|_| (rand_core::Rng::next_u64(&mut stream) % n as u64) as usize).collect())
        .collect();
    let diffs = metrics
        .iter()
        .filter(|(name, _)| *name != "p_fit" || window.is_some())
        .map(|(name, f)| {
            let point = f(&ea.downtime_by_run, window) - f(&eb.downtime_by_run, window);
            let mut boot: Vec<f64> = resamples
                .iter()
                .map(|idx| {
                    let ra: Vec<u64> = idx.iter().map(|i| ea.downtime_by_run[*i]).collect();
                    let rb: Vec<u64> = idx.iter().map(|i| eb.downtime_by_run[*i]).collect();
                    f(&rb, window) - f(&ra, window)
                })
                .collect();
            boot.sort_by(f64::total_cmp);
            (*name, -point, (boot[4], boot[194]))
        })
        .collect();
    let (sa, sb) = (a.scenario(), b.scenario());
    let mut ids: Vec<&str> =
        sa.steps.iter().chain(&sb.steps).filter(|s| !s.is_group()).map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut drivers: Vec<(String, Option<f64>, Option<f64>)> = ids
        .into_iter()
        .map(|id| {
            let ma = sa.find(id).and_then(|i| ea.step_mean_ms[i.index()]);
            let mb = sb.find(id).and_then(|i| eb.step_mean_ms[i.index()]);
            (id.to_string(), ma, mb)
        })
        // Changes under 1 % (and 1 s) are the conditioning on which runs
        // reached the step, not a change of the step.
        .filter(|(_, ma, mb)| match (ma, mb) {
            (Some(x), Some(y)) => (x - y).abs() > (0.01 * x.max(*y)).max(1_000.0),
            (None, None) => false,
            _ => true,
        })
        .collect();
    let change = |(_, ma, mb): &(String, Option<f64>, Option<f64>)| (mb.unwrap_or(0.0) - ma.unwrap_or(0.0)).abs();
    drivers.sort_by(|x, y| change(y).total_cmp(&change(x)).then(x.0.cmp(&y.0)));
    Ok(Comparison { a: ea, b: eb, diffs, drivers })
}

fn sorted_quantile(v: &[u64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    quantile(&s, q) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selecting_a_quantile_agrees_with_sorting() {
        let mut x: u64 = 12345;
        let data: Vec<u64> = (0..1001)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 40) % 500
            })
            .collect();
        let mut sorted = data.clone();
        sorted.sort_unstable();
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(select_quantile(&mut data.clone(), q), quantile(&sorted, q), "q {q}");
        }
        assert_eq!(select_quantile(&mut [], 0.9), 0);
    }

    #[test]
    fn quantiles_ranks_and_correlation() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.9), 90);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(ranks(&[3, 1, 3, 2]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(ranks(&[5, 5, 5, 0, 9]), vec![3.0, 3.0, 3.0, 1.0, 5.0]);
        // Values too large to share a word with their index: sorted as pairs.
        assert_eq!(ranks(&[u64::MAX, 0, u64::MAX - 1, 0]), vec![4.0, 1.5, 3.0, 1.5]);
        assert_eq!(ranks(&[1 << 61, 7, 1 << 61]), vec![2.5, 1.0, 2.5]);
        // Packed or not, the ranks are the average places in sorted order.
        let mut s = crate::rng::stream(1, 0, crate::rng::Purpose::Analysis, 0, 0);
        for shift in [0, 20, 40, 52, 60] {
            let v: Vec<u64> = (0..3000).map(|_| rand_core::Rng::next_u64(&mut s) >> shift >> 3 << 3).collect();
            let want: Vec<f64> = v
                .iter()
                .map(|x| {
                    let below = v.iter().filter(|y| *y < x).count();
                    let same = v.iter().filter(|y| *y == x).count();
                    below as f64 + (same as f64 + 1.0) / 2.0
                })
                .collect();
            assert_eq!(ranks(&v), want, "values >> {shift}");
        }
        let x: Vec<u64> = (0..50).collect();
        let y: Vec<u64> = x.iter().map(|v| v * v).collect();
        assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-12, "monotone: rank correlation 1");
        let rev: Vec<u64> = x.iter().map(|v| 100 - v).collect();
        assert!((spearman(&x, &rev).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&x, &vec![1; 50]), None);
        let (lo, hi) = p90_ci(&v);
        assert!(lo <= 90 && hi >= 90 && lo >= 80 && hi <= 100, "{lo} {hi}");
    }
}
