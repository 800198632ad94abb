//! A distinct failure kept as a capsule (its shrunk schedule as data, the
//! seed and limits it fails under) and replayed later; the command that
//! reproduces a failing run.

use rehearse_core::scenario::Scenario;

use super::{CheckOptions, Distinct, Problem, fingerprint, replay};
use crate::engine::{Injection, Limits, Plan, Simulator};
use crate::script;

/// The command that reproduces a run with a fault schedule, under the
/// limits the check ran it with (`run`'s own are looser: a run that broke
/// check's limit would pass under them).
pub fn repro_command(scenario_path: &str, seed: u64, schedule: &[Injection], sc: &Scenario, limits: Limits) -> String {
    let mut cmd = format!(
        "rehearse run {scenario_path} --seed {seed} --max-time {} --max-events {}",
        duration_arg(limits.max_time.as_ms()),
        limits.max_events
    );
    if schedule.is_empty() {
        cmd.push_str(" --no-faults");
    }
    for spec in script::format_schedule(schedule, sc) {
        cmd.push_str(" --fault ");
        cmd.push_str(&spec);
    }
    cmd
}

/// A duration as `run --max-time` reads it, exactly: whole days, hours,
/// minutes or seconds where it is one, else milliseconds.
fn duration_arg(ms: u64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms > 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// The capsule format; a capsule of another is refused.
pub const CAPSULE_FORMAT: u64 = 1;

/// A distinct failure as a capsule: the shrunk fault schedule (as data,
/// by ids), the seed and limits it fails under, the scenario's digest,
/// the fingerprint and the command that reproduces it.
pub fn capsule(
    plan: &Plan<'_>,
    opts: &CheckOptions,
    scenario_path: &str,
    digest: &str,
    d: &Distinct,
) -> serde_json::Value {
    let sc = plan.scenario();
    let f = &d.failure;
    serde_json::json!({
        "capsule": CAPSULE_FORMAT,
        "fingerprint": d.fingerprint,
        "scenario": { "path": scenario_path, "digest": digest },
        "seed": f.seed,
        "liveness": opts.liveness,
        "max_time_ms": opts.limits.max_time.as_ms(),
        "max_events": opts.limits.max_events,
        "schedule": script::format_schedule(&f.shrunk, sc),
        "problem": f.shrunk_problem.to_string(),
        "runs_seen": d.runs,
        "reproduce": repro_command(scenario_path, f.seed, &f.shrunk, sc, opts.limits),
    })
}

/// A capsule's file name: its fingerprint's hash, so that saving the same
/// failure again replaces it rather than piling up copies.
pub fn capsule_name(fingerprint: &str) -> String {
    format!("failure-{}.json", &crate::sha256_hex(fingerprint.as_bytes())[..16])
}

/// What replaying a capsule on the plan as it is now says.
#[derive(Clone, Debug, PartialEq)]
pub enum Replayed {
    /// It still fails (the fingerprint now, and the problem).
    Fails { fingerprint: String, problem: Problem },
    /// It passes: the failure is fixed.
    Passes,
    /// Its schedule no longer fits the plan (a fault or step it names is
    /// gone): nothing to replay.
    Stale(String),
}

/// Replays a capsule's shrunk schedule on `plan` under the capsule's own
/// seed, limits and mode.
///
/// # Errors
/// Not a capsule (a field missing, another format).
pub fn replay_capsule(plan: &Plan<'_>, capsule: &serde_json::Value) -> Result<Replayed, String> {
    let n = |k: &str| capsule.get(k).and_then(serde_json::Value::as_u64).ok_or(format!("no `{k}`"));
    if n("capsule")? != CAPSULE_FORMAT {
        return Err(format!("capsule format {}, this build reads {CAPSULE_FORMAT}", n("capsule")?));
    }
    let opts = CheckOptions {
        runs: 1,
        seed: n("seed")?,
        swarm: false,
        liveness: capsule.get("liveness").and_then(serde_json::Value::as_bool).ok_or("no `liveness`")?,
        determinism_every: 0,
        limits: Limits { max_events: n("max_events")?, max_time: rehearse_core::SimDuration(n("max_time_ms")?) },
    };
    let specs = capsule.get("schedule").and_then(serde_json::Value::as_array).ok_or("no `schedule`")?;
    let mut schedule = Vec::new();
    for spec in specs {
        let spec = spec.as_str().ok_or("a `schedule` entry that is not text")?;
        match script::parse_injections(spec, plan.scenario()) {
            Ok(i) => schedule.extend(i),
            Err(e) => return Ok(Replayed::Stale(format!("{spec}: {e}"))),
        }
    }
    let mut sim = Simulator::new(plan);
    Ok(match replay(&mut sim, plan, &opts, opts.seed, &schedule) {
        None => Replayed::Passes,
        Some(problem) => {
            let fingerprint = fingerprint(&mut sim, plan, &opts, opts.seed, &schedule, &problem);
            Replayed::Fails { fingerprint, problem }
        }
    })
}

#[cfg(test)]
mod tests {
    use rehearse_core::time::SimDuration;

    use super::duration_arg;

    /// The limits printed in a reproduce command read back as the same
    /// durations, to the millisecond.
    #[test]
    fn printed_limits_read_back_exactly() {
        for ms in [1, 999, 1_000, 61_000, 3_600_000, 5_400_000, 86_400_000, 60 * 86_400_000, 86_400_001] {
            let text = duration_arg(ms);
            assert_eq!(SimDuration::parse(&text).map(|d| d.as_ms()), Ok(ms), "{text}");
        }
        assert_eq!(duration_arg(60 * 86_400_000), "60d");
        assert_eq!(duration_arg(5_400_000), "90m");
    }
}
