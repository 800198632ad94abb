//! Each step's outlook, for a bridge's progress board and call sheet: when
//! the plan as written has it start and end (its median run, dated on the
//! plan's anchor, or from the weekend's first start), and, from what has
//! happened, when it will start and end: P10, P50 and P90 over runs of the
//! plan from the actuals. Every time is an instant.
//!
//! The forecast's own figures (P(success), the go-live quantiles) come from
//! `forecast`; this is the per-step view beside it, from fewer runs, each
//! kept whole.

use jiff::{SignedDuration, Timestamp};
use rehearse_core::event::Mode;
use rehearse_core::scenario::Scenario;

use crate::actuals::Actuals;
use crate::engine::{Plan, RunOptions, Simulator};
use crate::estimate::stats::quantile;
use crate::forecast::ForecastError;
use crate::sink::NullSink;

/// One step's outlook.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutlook {
    /// Start and end in the plan as written (every step at its median),
    /// when that run can be made and dated.
    pub planned: Option<(Timestamp, Timestamp)>,
    /// From now: when it starts, at P10, P50 and P90 over the runs that
    /// started it (`None` when none did).
    pub start: Option<[Timestamp; 3]>,
    /// From now: when it ends, likewise.
    pub end: Option<[Timestamp; 3]>,
    /// The share of runs that started it (a rollback leaves steps out).
    pub p_runs: f64,
}

/// The quantiles an outlook gives.
pub const OUTLOOK_QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

/// The outlook of every step (by `StepIdx`) from `actuals`, over `runs`
/// runs of seed `seed` (`runs` at least 1).
///
/// # Errors
/// Actuals that do not fit the plan, or a run past its limits.
pub fn outlook(
    sc: &Scenario,
    text: &str,
    actuals: &Actuals,
    runs: u64,
    seed: u64,
) -> Result<Vec<StepOutlook>, ForecastError> {
    actuals.check(sc)?;
    let n = sc.steps.len();
    let planned = planned(sc, text, actuals.origin);
    let plan = Plan::new(sc, crate::digest(text)).with_actuals(actuals.clone())?;
    let mut sim = Simulator::new(&plan);
    let mut starts: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut ends: Vec<Vec<u64>> = vec![Vec::new(); n];
    for run in 0..runs.max(1) {
        let opts = RunOptions { run, ..RunOptions::new(seed, Mode::Random) };
        let s =
            sim.run(&opts, &mut NullSink).map_err(|error| crate::estimate::EstimateError::Run { run, seed, error })?;
        for i in 0..n {
            if s.attempts[i] > 0 {
                starts[i].push(s.steps[i].start.as_ms());
                ends[i].push(s.steps[i].end.as_ms());
            }
        }
    }
    let at = |ms: u64| actuals.origin.saturating_add(SignedDuration::from_millis(ms as i64)).unwrap_or(actuals.origin);
    let qs = |v: &mut Vec<u64>| {
        (!v.is_empty()).then(|| {
            v.sort_unstable();
            OUTLOOK_QUANTILES.map(|q| at(quantile(v, q)))
        })
    };
    Ok((0..n)
        .map(|i| StepOutlook {
            planned: planned.as_ref().map(|p| p[i]),
            p_runs: starts[i].len() as f64 / runs.max(1) as f64,
            start: qs(&mut starts[i]),
            end: qs(&mut ends[i]),
        })
        .collect())
}

/// Each step's start and end in the plan's median run: dated on the plan's
/// anchor (its downtime beginning at `downtime_begins_at`), or, for a plan
/// without one, from `origin` (the weekend's first start).
fn planned(sc: &Scenario, text: &str, origin: Timestamp) -> Option<Vec<(Timestamp, Timestamp)>> {
    let plan = Plan::new(sc, crate::digest(text));
    let run = Simulator::new(&plan).run(&RunOptions::new(0, Mode::Median), &mut NullSink).ok()?;
    let date: Box<dyn Fn(rehearse_core::SimTime) -> Option<Timestamp>> = match &sc.meta.anchor {
        Some(anchor) => {
            let began = run.downtime_intervals.first().map(|d| d.0)?;
            let placed = anchor.placed(began);
            let anchor = anchor.clone();
            Box::new(move |t| anchor.at_downtime_offset(placed.offset_ms(t)).map(|z| z.timestamp()))
        }
        None => Box::new(move |t| origin.checked_add(SignedDuration::from_millis(t.as_ms() as i64)).ok()),
    };
    run.steps.iter().map(|t| Some((date(t.start)?, date(t.end)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
[scenario]
name = "t"
downtime_begins_at = "2027-03-05T18:00:00+01:00"
[[step]]
id = "a"
downtime = "begins"
duration = "1h"
[[step]]
id = "b"
after = ["a"]
duration = { triangular = ["1h", "2h", "4h"] }
[[step]]
id = "c"
after = ["b"]
downtime = "ends"
duration = "30m"
"#;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Given a plan dated Friday 18:00 and `a` done late, when the outlook
    /// is made mid-`b`, then the plan's dates stand, `a` is what happened,
    /// and nothing starts or ends before now.
    #[test]
    fn the_outlook_keeps_the_plan_and_what_happened() {
        let sc = Scenario::parse(PLAN, "t.toml").unwrap();
        let origin = ts("2027-03-05T18:30:00+01:00");
        let mut a = Actuals::none(&sc, origin);
        a.started_ms = vec![Some(0), Some(3_600_000), None];
        a.done_ms = vec![Some(3_600_000), None, None];
        a.now_ms = 3 * 3_600_000;
        let o = outlook(&sc, PLAN, &a, 200, 1).unwrap();
        assert_eq!(o[0].planned, Some((ts("2027-03-05T17:00:00Z"), ts("2027-03-05T18:00:00Z"))));
        let (c_start, c_end) = o[2].planned.unwrap();
        assert_eq!(c_end.duration_since(c_start), SignedDuration::from_mins(30));
        assert_eq!(o[0].start, Some([origin; 3]));
        let now = ts("2027-03-05T21:30:00+01:00");
        let b_end = o[1].end.unwrap();
        assert!(b_end[0] >= now && b_end[0] <= b_end[1] && b_end[1] <= b_end[2], "{b_end:?}");
        assert!(o[2].start.unwrap()[0] >= now);
        assert_eq!(o[2].p_runs, 1.0);
    }
}
