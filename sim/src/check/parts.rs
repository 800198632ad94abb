//! A sharded check: each shard's part (counters, paths reached, distinct
//! failures by fingerprint) and the merge of the parts into the report
//! the unsharded check gives.

use std::collections::BTreeMap;

use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::StepIdx;

use super::{CheckOptions, CheckReport, Distinct, check_runs, investigate};
use crate::engine::{Limits, Plan};
use crate::shard::OUTCOMES;

/// The options that shape a check's result, as a part's header records
/// them.
pub fn options_json(opts: &CheckOptions) -> serde_json::Value {
    serde_json::json!({
        "swarm": opts.swarm,
        "liveness": opts.liveness,
        "determinism_every": opts.determinism_every,
        "max_time_ms": opts.limits.max_time.as_ms(),
        "max_events": opts.limits.max_events,
    })
}

/// The options back from [`options_json`], `runs` and `seed` from the
/// header.
///
/// # Errors
/// A field missing.
pub fn options_from(v: &serde_json::Value, runs: u64, seed: u64) -> Result<CheckOptions, String> {
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).ok_or(format!("the part's options have no `{k}`"));
    let b = |k: &str| v.get(k).and_then(serde_json::Value::as_bool).ok_or(format!("the part's options have no `{k}`"));
    Ok(CheckOptions {
        runs,
        seed,
        swarm: b("swarm")?,
        liveness: b("liveness")?,
        determinism_every: n("determinism_every")?,
        limits: Limits { max_events: n("max_events")?, max_time: rehearse_core::SimDuration(n("max_time_ms")?) },
    })
}

/// Runs shard `shard` of the check and writes its part after `header`:
/// the counters, the paths reached, and each distinct failure as its
/// fingerprint, count and first run (the merge investigates that run
/// again for the reproducer). Returns the shard's report, `out` and the
/// bytes written.
///
/// # Errors
/// The writer's.
pub fn write_part<W: std::io::Write>(
    plan: &Plan<'_>,
    opts: &CheckOptions,
    shard: crate::shard::Shard,
    header: &serde_json::Value,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<(CheckReport, W, u64)> {
    let report = check_runs(plan, opts, shard.range(opts.runs), progress);
    let mut w = crate::shard::PartWriter::new(out, header)?;
    for v in [report.runs, report.successes, report.back_in_window, report.faults_injected, report.runs_with_faults] {
        w.u64(v)?;
    }
    w.u64(report.determinism_checked)?;
    for o in OUTCOMES {
        w.u64(report.outcomes.get(&o).copied().unwrap_or(0))?;
    }
    w.u64(report.reached.len() as u64)?;
    for (f, s, a) in &report.reached {
        w.u64(u64::from(f.0))?;
        w.u64(u64::from(s.0))?;
        w.u64(Action::ALL.iter().position(|x| x == a).expect("every action is listed") as u64)?;
    }
    w.u64(report.failing_runs)?;
    w.u64(report.failures.len() as u64)?;
    for d in &report.failures {
        w.bytes(d.fingerprint.as_bytes())?;
        w.u64(d.runs)?;
        w.u64(d.first_run)?;
    }
    let (out, bytes) = w.finish()?;
    Ok((report, out, bytes))
}

/// Merges the parts of a sharded check into the report the unsharded
/// check gives: counters summed, paths reached joined, failures joined by
/// fingerprint (counts summed, the first run the lowest), each first run
/// investigated again for its shrunk reproducer.
///
/// # Errors
/// A damaged part, or a part whose first failing run does not fail so
/// here (another build).
pub fn merge(
    plan: &Plan<'_>,
    opts: &CheckOptions,
    parts: &crate::shard::Parts,
) -> Result<CheckReport, crate::shard::MergeError> {
    let sc = plan.scenario();
    let mut report = CheckReport::empty(sc);
    let mut distinct: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (n_faults, n_steps) = (sc.faults.len() as u64, sc.steps.len() as u64);
    parts.read_each(|shard, mut r| {
        let expected = shard.range(opts.runs);
        let runs = r.u64()?;
        if runs != expected.end - expected.start {
            return Err(r.error(&format!("{runs} runs where shard {shard} has {}", expected.end - expected.start)));
        }
        report.runs += runs;
        report.successes += r.u64()?;
        report.back_in_window += r.u64()?;
        report.faults_injected += r.u64()?;
        report.runs_with_faults += r.u64()?;
        report.determinism_checked += r.u64()?;
        for o in OUTCOMES {
            let n = r.u64()?;
            if n > 0 {
                *report.outcomes.entry(o).or_default() += n;
            }
        }
        let reached = r.len(n_faults * n_steps * Action::ALL.len() as u64, "paths reached")?;
        for _ in 0..reached {
            let (f, s, a) = (r.u64()?, r.u64()?, r.u64()?);
            if f >= n_faults || s >= n_steps || a >= Action::ALL.len() as u64 {
                return Err(r.error(&format!("a path ({f}, {s}, {a}) the plan does not have")));
            }
            report.reached.insert((FaultIdx(f as u32), StepIdx(s as u32), Action::ALL[a as usize]));
        }
        report.failing_runs += r.u64()?;
        let n = r.len(runs, "distinct failures")?;
        for _ in 0..n {
            let fingerprint = String::from_utf8(r.bytes()?).map_err(|_| r.error("a fingerprint that is not text"))?;
            let (count, first) = (r.u64()?, r.u64()?);
            if !expected.contains(&first) {
                return Err(r.error(&format!("a failing run {first} outside shard {shard}")));
            }
            let e = distinct.entry(fingerprint).or_insert((0, u64::MAX));
            e.0 += count;
            e.1 = e.1.min(first);
        }
        r.finish()
    })?;
    let mut by_first: Vec<(String, (u64, u64))> = distinct.into_iter().collect();
    by_first.sort_by_key(|(_, (_, first))| *first);
    for (fingerprint, (runs, first_run)) in by_first {
        match investigate(plan, opts, first_run) {
            Some((again, failure)) if again == fingerprint => {
                report.failures.push(Distinct { fingerprint, runs, first_run, failure });
            }
            _ => {
                return Err(crate::shard::MergeError::Shards(format!(
                    "run {first_run} does not fail here as its part says ({fingerprint})"
                )));
            }
        }
    }
    Ok(report)
}
