//! The `estimate --json` document, schema 3. `forecast --json` and the live
//! bridge's `/api/forecast` extend it, so it lives here rather than in the
//! binary.

use rehearse_core::event::Outcome;
use rehearse_core::scenario::Scenario;
use serde_json::{Value, json};

use super::{Checkpoint, Estimate, Gate, QUANTILES};

/// The same as an RFC 3339 date with its offset, when anchored.
pub fn dated(sc: &Scenario, ms: Option<u64>) -> Value {
    match (&sc.meta.anchor, ms) {
        (Some(a), Some(ms)) => json!(a.rfc3339(ms as i64)),
        _ => Value::Null,
    }
}

/// The `estimate --json` document (schema 3): every figure of an estimate,
/// in milliseconds and, where the plan is anchored, dated.
pub fn to_json(e: &Estimate, sc: &Scenario, path: &str, gates: &[Gate], failed: &[&Gate]) -> Value {
    let quantiles = |sorted: Option<()>, f: &dyn Fn(f64) -> Option<u64>| -> Value {
        sorted.map_or(Value::Null, |()| {
            QUANTILES.iter().map(|(n, q)| (format!("{n}_ms"), json!(f(*q)))).collect::<serde_json::Map<_, _>>().into()
        })
    };
    let outcomes: serde_json::Map<String, Value> = e
        .outcomes
        .iter()
        .map(|(o, n)| (serde_json::to_value(o).unwrap().as_str().unwrap().to_string(), json!(n)))
        .collect();
    let steps: Vec<Value> = (0..sc.steps.len())
        .filter(|i| !sc.steps[*i].is_group())
        .map(|i| {
            json!({
                "id": sc.steps[i].id,
                "criticality": e.criticality[i],
                "p90_long_minus_short_ms": e.drivers[i].map(|x| x.p90_shift_ms),
                "mean_long_minus_short_ms": e.drivers[i].map(|x| x.mean_shift_ms),
                "sensitivity": e.sensitivity[i],
            })
        })
        .collect();
    let faults: Vec<Value> = e
        .faults
        .iter()
        .map(|f| {
            json!({
                "id": sc.faults[f.fault.index()].id,
                "runs_struck": f.runs_struck,
                "strikes": f.strikes,
                "p_success_shift": f.p_success_shift,
                "p_success_net_shift": f.p_success_net_shift,
                "runs_lost": f.runs_lost,
                "runs_rescued": f.runs_rescued,
                "committed_p50_shift_ms": f.committed_p50_shift_ms,
                "committed_p90_shift_ms": f.committed_p90_shift_ms,
            })
        })
        .collect();
    let rule = |r: &Checkpoint| {
        json!({
            "step": sc.step(r.step).id, "by_ms": r.by_ms, "by": dated(sc, Some(r.by_ms)), "rolls_back": r.rolls_back, "needless": r.needless,
            "saved": r.saved, "p_success": r.p_success, "p_blown": r.p_blown,
        })
    };
    let back_in_window = e
        .window
        .filter(|_| !e.outage_sorted.is_empty())
        .map(|w| e.outage_sorted.partition_point(|o| *o <= w.as_ms()) as f64 / e.outage_sorted.len() as f64);
    // The call sheet: each resource's P10, P50 and P90, dated when anchored.
    let signed_dated = |ms: i64| sc.meta.anchor.as_ref().map_or(Value::Null, |a| json!(a.rfc3339(ms)));
    let three = |v: &[i64; 3]| {
        json!({
            "p10_ms": v[0], "p50_ms": v[1], "p90_ms": v[2],
            "p10": signed_dated(v[0]), "p50": signed_dated(v[1]), "p90": signed_dated(v[2]),
        })
    };
    let resources: Vec<Value> = e
        .call_sheet
        .iter()
        .map(|c| {
            let r = &sc.resources[c.resource];
            json!({
                "id": r.id,
                "name": r.name,
                "capacity": r.capacity,
                "runs": c.runs,
                "needed_from": three(&c.from_ms),
                "needed_until": three(&c.until_ms),
                "busy_ms": { "p10": c.busy_ms[0], "p50": c.busy_ms[1], "p90": c.busy_ms[2] },
            })
        })
        .collect();
    json!({
        "schema": 3,
        "scenario": { "file": path, "name": sc.meta.name },
        "runs": e.runs,
        "seed": e.seed,
        "measure": e.measure,
        "p_success": e.p_success,
        "p_commit": e.share(Outcome::Committed),
        "p_rollback": e.share(Outcome::RolledBack),
        "outcomes": outcomes,
        "window_ms": e.window.map(|w| w.as_ms()),
        "window_confidence": sc.meta.window_confidence,
        e.measure.key(): {
            "committed": {
                "runs": e.committed_sorted.len(),
                "quantiles": quantiles(e.committed_quantile(0.5).map(|_| ()), &|q| e.committed_quantile(q)),
                "mean_ms": e.mean_ms,
                "max_ms": e.committed_sorted.last(),
                "p90_ci95_ms": e.p90_ci.map(|(lo, hi)| [lo, hi]),
                "p90_converged_after_runs": e.converged_after,
            },
            "rolled_back": {
                "runs": e.outage_sorted.len(),
                "outage_quantiles": quantiles(e.outage_quantile(0.5).map(|_| ()), &|q| e.outage_quantile(q)),
                "max_ms": e.outage_sorted.last(),
                "back_within_window": back_in_window,
            },
        },
        "go_live_ms": { "p50": e.go_live(0.5), "p80": e.go_live(0.8), "p90": e.go_live(0.9) },
        "downtime_begins_at": sc.meta.anchor.as_ref().map(|a| a.rfc3339(0)),
        "window_end": dated(sc, e.window.filter(|_| sc.meta.anchor.is_some()).map(|w| w.as_ms())),
        "go_live": sc.meta.anchor.as_ref().map(|_| json!({
            "p50": dated(sc, e.go_live(0.5)), "p80": dated(sc, e.go_live(0.8)), "p90": dated(sc, e.go_live(0.9)),
        })),
        "steps": steps,
        "faults": faults,
        "resources": resources,
        "point_of_no_return": e.point_of_no_return.as_ref().map(|p| json!({
            "includes": "the slowest rollback policy's reaction plus its restore and swap, P90",
            "policy": sc.policies[p.policy.index()].name,
            "rollback_p90_ms": p.rollback_p90_ms,
            "latest_rollback_start_ms": p.latest_start_ms,
            "latest_rollback_start": dated(sc, Some(p.latest_start_ms)),
            "plan_deadlines": p.deadlines.iter().map(|dl| json!({
                "policy": sc.policies[dl.policy.index()].name,
                "deadline_ms": dl.deadline_ms,
                "deadline": dated(sc, Some(dl.deadline_ms)),
                "latest_safe_begin_ms": dl.safe_begin_ms,
                "agrees": !dl.too_late(),
            })).collect::<Vec<_>>(),
        })),
        "checkpoints": e.checkpoints.as_ref().map(|c| json!({
            "without_rule": { "p_success": c.p_success, "p_blown": c.p_blown },
            "recommended": c.recommended.as_ref().map(rule),
            "rules": c.rules.iter().map(rule).collect::<Vec<_>>(),
            "naive": c.naive.as_ref().map(rule),
        })),
        "gates": gates.iter().map(|g| json!({ "expr": g.text, "failed": failed.iter().any(|f| f.text == g.text) })).collect::<Vec<_>>(),
    })
}
