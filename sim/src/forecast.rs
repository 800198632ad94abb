//! The conditional re-forecast: the Monte Carlo run from what has happened
//! (`Actuals`), with the decision-grade set of `estimate`, dated from the
//! weekend's own clock, and the alarms a bridge wants: a step running past
//! its P90, P(success) below the plan's confidence.
//!
//! Dates: once downtime has begun, the plan is re-anchored there (the
//! actual instant, in the plan's zone, UTC without one), and a plan with a
//! `window_end` keeps its deadline, so a late start shortens the window.
//! Before downtime began, dates follow the plan's `downtime_begins_at`, if
//! it has one.

use std::sync::atomic::AtomicU64;

use rehearse_core::anchor::CalendarAnchor;
use rehearse_core::conditional::Conditional;
use rehearse_core::scenario::{DowntimeMark, Scenario, StepIdx, Work};
use rehearse_core::time::SimDuration;
use serde_json::{Value, json};

use rehearse_core::fault::Action;

use crate::actuals::{Actuals, ActualsError, Strike};
use crate::engine::Plan;
use crate::estimate::{Estimate, EstimateError, EstimateOptions, Gate, estimate};

/// A forecast and what it was made from.
#[derive(Clone, Debug)]
pub struct Forecast {
    pub estimate: Estimate,
    /// The plan as forecast: re-anchored where downtime actually began.
    pub scenario: Scenario,
    pub actuals: Actuals,
    /// When downtime began, in ms from the actuals' origin, if it has.
    pub downtime_began_ms: Option<u64>,
    pub alarms: Vec<Alarm>,
}

/// Something the bridge should look at now.
#[derive(Clone, Debug, PartialEq)]
pub enum Alarm {
    /// A running step has taken longer than its plan's P90.
    PastP90 { step: StepIdx, elapsed_ms: u64, p90_ms: u64 },
    /// P(success) is below the plan's `window_confidence`.
    BelowConfidence { p_success: f64, needed: f64 },
    /// Downtime began after the plan's `window_end`.
    BeganAfterDeadline,
}

/// Why a forecast could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error(transparent)]
    Actuals(#[from] ActualsError),
    #[error(transparent)]
    Estimate(#[from] EstimateError),
}

impl Forecast {
    /// The log's clock: time 0 of the actuals (their origin), in the plan's
    /// zone (UTC without one), to date what was recorded.
    pub fn log_clock(&self) -> Option<CalendarAnchor> {
        let zone = self
            .scenario
            .meta
            .anchor
            .as_ref()
            .map_or(jiff::tz::TimeZone::UTC, |a| a.downtime_begins().time_zone().clone());
        CalendarAnchor::new(self.actuals.origin.to_zoned(zone), None).ok()
    }

    /// The critical path now: the steps not done yet that are on the
    /// critical path of at least half the committed runs, in plan order,
    /// with that share.
    pub fn critical_now(&self) -> Vec<(StepIdx, f64)> {
        let sc = &self.scenario;
        (0..sc.steps.len())
            .filter(|i| !sc.steps[*i].is_group() && self.actuals.done_ms[*i].is_none())
            .filter_map(|i| self.estimate.criticality.get(i).map(|c| (StepIdx(i as u32), *c)))
            .filter(|(_, c)| *c >= 0.5)
            .collect()
    }

    /// Time left to the point of no return, from now (negative: passed).
    pub fn to_point_of_no_return_ms(&self) -> Option<i64> {
        let p = self.estimate.point_of_no_return.as_ref()?;
        let began = self.downtime_began_ms?;
        Some(began as i64 + p.latest_start_ms as i64 - self.actuals.now_ms as i64)
    }
}

/// Runs the forecast: `estimate` on the plan from `actuals`.
///
/// # Errors
/// Actuals that do not fit the plan, or a run past its limits.
pub fn forecast(
    sc: &Scenario,
    text: &str,
    actuals: Actuals,
    opts: &EstimateOptions,
    window: Option<SimDuration>,
    progress: &AtomicU64,
) -> Result<Forecast, ForecastError> {
    actuals.check(sc)?;
    let begins = sc.steps.iter().position(|s| s.downtime == Some(DowntimeMark::Begins));
    let downtime_began_ms = begins.and_then(|b| actuals.started_ms[b]);
    let mut scenario = sc.clone();
    let mut alarms = Vec::new();
    let mut window = window;
    if let Some(b) = downtime_began_ms {
        let zone = sc.meta.anchor.as_ref().map_or(jiff::tz::TimeZone::UTC, |a| a.downtime_begins().time_zone().clone());
        let at = actuals.origin.checked_add(jiff::SignedDuration::from_millis(b as i64)).unwrap_or(actuals.origin);
        let begun = at.to_zoned(zone);
        let end = sc.meta.anchor.as_ref().and_then(CalendarAnchor::window_end);
        match CalendarAnchor::new(begun.clone(), end) {
            Ok(anchor) => {
                if let Some(w) = anchor.window() {
                    window = Some(w); // the deadline stands: a late start shortens it
                }
                scenario.meta.anchor = Some(anchor);
            }
            Err(_) => {
                alarms.push(Alarm::BeganAfterDeadline);
                window = Some(SimDuration::ZERO);
                scenario.meta.anchor = CalendarAnchor::new(begun, None).ok();
            }
        }
        scenario.meta.window = window;
    }
    let plan = Plan::new(&scenario, crate::digest(text)).with_actuals(actuals.clone())?;
    let mut estimate = estimate(&plan, opts, window, progress)?;
    // Checkpoints whose time has passed, or on steps already done, are
    // decided already.
    if let (Some(b), Some(c)) = (downtime_began_ms, estimate.checkpoints.as_mut()) {
        let elapsed = actuals.now_ms.saturating_sub(b);
        let open = |r: &crate::estimate::Checkpoint| r.by_ms >= elapsed && actuals.done(r.step).is_none();
        c.rules.retain(|r| open(r));
        c.recommended = c.recommended.take().filter(|r| open(r));
        c.naive = c.naive.take().filter(|r| open(r));
    }
    // Steps running past their P90.
    for (i, step) in sc.steps.iter().enumerate() {
        let (Some(start), None) = (actuals.started_ms[i], actuals.done_ms[i]) else { continue };
        let Work::Leaf(d) = &step.work else { continue };
        let (Some(base), None, None) = (&d.base, &d.per_gb, &d.per_million_rows) else { continue };
        let elapsed_ms = actuals.now_ms.saturating_sub(start);
        let p90_ms = Conditional::new(base, 0).map_or(0, |c| c.quantile(0.9).round() as u64);
        if elapsed_ms > p90_ms {
            alarms.push(Alarm::PastP90 { step: StepIdx(i as u32), elapsed_ms, p90_ms });
        }
    }
    if let Some(needed) = sc.meta.window_confidence
        && estimate.p_success < needed
    {
        alarms.push(Alarm::BelowConfidence { p_success: estimate.p_success, needed });
    }
    Ok(Forecast { estimate, scenario, actuals, downtime_began_ms, alarms })
}

impl Forecast {
    /// The `forecast` member of `forecast --json`: what the forecast was made
    /// from (now, what is done and running) and the alarms.
    pub fn to_json(&self, now: jiff::Timestamp) -> Value {
        let f = self;
        let sc = &f.scenario;
        let a = &f.actuals;
        let running: Vec<Value> = (0..sc.steps.len())
            .filter(|i| !sc.steps[*i].is_group() && a.started_ms[*i].is_some() && a.done_ms[*i].is_none())
            .map(|i| json!({ "step": sc.steps[i].id, "running_ms": a.now_ms - a.started_ms[i].unwrap_or(a.now_ms) }))
            .collect();
        let alarms: Vec<Value> = f
            .alarms
            .iter()
            .map(|x| match x {
                Alarm::PastP90 { step, elapsed_ms, p90_ms } => {
                    json!({ "kind": "past_p90", "step": sc.step(*step).id, "running_ms": elapsed_ms, "p90_ms": p90_ms })
                }
                Alarm::BelowConfidence { p_success, needed } => {
                    json!({ "kind": "below_confidence", "p_success": p_success, "needed": needed })
                }
                Alarm::BeganAfterDeadline => json!({ "kind": "began_after_deadline" }),
            })
            .collect();
        let clock = f.log_clock();
        let dated = |ms: u64| clock.as_ref().map(|c| c.rfc3339(ms as i64));
        let decided = |d: Option<crate::actuals::Decided>| {
            d.map(|d| json!({ "action": d.action.name(), "at_ms": d.at_ms, "at": dated(d.at_ms) }))
        };
        let struck: Vec<Value> = a
            .struck
            .iter()
            .map(|s| {
                json!({
                    "fault": sc.faults[s.fault.index()].id, "step": sc.step(s.step).id,
                    "at_ms": s.at_ms, "at": dated(s.at_ms), "decided": decided(s.decided),
                })
            })
            .collect();
        let critical: Vec<Value> =
            f.critical_now().iter().map(|(i, c)| json!({ "step": sc.step(*i).id, "criticality": c })).collect();
        json!({
            "now": now.to_string(),
            "origin": a.origin.to_string(),
            "now_ms": a.now_ms,
            "steps_done": (0..sc.steps.len()).filter(|i| !sc.steps[*i].is_group() && a.done_ms[*i].is_some()).count(),
            "running": running,
            "downtime_began_ms": f.downtime_began_ms,
            "point_of_no_return_in_ms": f.to_point_of_no_return_ms(),
            "alarms": alarms,
            "struck": struck,
            "ending": decided(a.ending),
            "critical_now": critical,
        })
    }
}

/// The whole `forecast --json` document: the `estimate --json` one (schema
/// 3) of the forecast, with its `forecast` member.
pub fn document(f: &Forecast, path: &str, gates: &[Gate], failed: &[&Gate], now: jiff::Timestamp) -> Value {
    let mut v = crate::estimate::to_json(&f.estimate, &f.scenario, path, gates, failed);
    v["forecast"] = f.to_json(now);
    v
}

/// One recovery open now, priced on the same runs as the others.
#[derive(Clone, Debug)]
pub struct Choice {
    /// `None`: as the plan says (nothing decided now).
    pub action: Option<Action>,
    pub estimate: Estimate,
}

/// The recovery choices open now, compared on common random numbers
/// (every choice runs the same seed and run indexes: the same draws for
/// everything the choice does not change). It shows; it does not decide.
#[derive(Clone, Debug)]
pub struct Options {
    /// The fault the choices are about: the latest recorded on a step not
    /// done, with no recovery recorded for it. `None`: no fault is open,
    /// and the choice is to carry on or to roll back now.
    pub at: Option<Strike>,
    /// What the plan does there (its policy, budgets counted).
    pub plan_action: Option<Action>,
    /// The plan's way first, then each other choice.
    pub choices: Vec<Choice>,
}

/// Prices the choices open at `f` (a forecast made from `text`): at an
/// open fault, the plan's recovery, resume, retry, a rerun (when the
/// fault's policies have one) and a rollback, each decided now; without
/// one, carrying on and rolling back now. Fault costs are not priced.
///
/// # Errors
/// As [`forecast`].
pub fn options(
    f: &Forecast,
    text: &str,
    opts: &EstimateOptions,
    progress: &AtomicU64,
) -> Result<Options, ForecastError> {
    let (at, plan_action, wanted) = open_choices(f);
    let opts = EstimateOptions { fault_costs: false, ..opts.clone() };
    let mut choices = vec![Choice { action: None, estimate: f.estimate.clone() }];
    for action in wanted {
        let decided = f.actuals.deciding(at.map(|s| s.step), action);
        let plan = Plan::new(&f.scenario, crate::digest(text)).with_actuals(decided)?;
        let estimate = estimate(&plan, &opts, f.estimate.window, progress)?;
        choices.push(Choice { action: Some(action), estimate });
    }
    Ok(Options { at, plan_action, choices })
}

/// What [`options`] compares at `f`: the open fault, if any, what the plan
/// does there, and the other actions to price.
pub fn open_choices(f: &Forecast) -> (Option<Strike>, Option<Action>, Vec<Action>) {
    let sc = &f.scenario;
    let a = &f.actuals;
    let at = a.struck.last().copied().filter(|s| s.decided.is_none() && a.done(s.step).is_none() && a.ending.is_none());
    let plan_action = at.map(|s| {
        let attempt = a.strikes_on(s.step).count() as u32;
        crate::engine::resolve(sc, sc.faults[s.fault.index()].recovery, attempt, 0, |_| false).action
    });
    let mut wanted: Vec<Action> = match at {
        Some(s) => {
            let chain = crate::engine::hand_overs(sc, sc.faults[s.fault.index()].recovery);
            let rerun = chain.iter().any(|p| sc.policies[p.index()].action == Action::Rerun);
            [Action::Resume, Action::Retry, Action::Rerun, Action::Rollback]
                .into_iter()
                .filter(|x| *x != Action::Rerun || rerun)
                .collect()
        }
        None => vec![Action::Rollback],
    };
    wanted.retain(|x| Some(*x) != plan_action);
    (at, plan_action, wanted)
}

impl Options {
    /// The `options` member of `forecast --json --options`.
    pub fn to_json(&self, f: &Forecast) -> Value {
        let sc = &f.scenario;
        let dated = |ms: Option<u64>| crate::estimate::dated(sc, ms);
        let clock = f.log_clock();
        let choices: Vec<Value> = self
            .choices
            .iter()
            .map(|c| {
                let e = &c.estimate;
                json!({
                    "choice": c.action.map_or("plan", Action::name),
                    "action": c.action.or(self.plan_action).map(Action::name),
                    "p_success": e.p_success,
                    "p_rollback": e.share(rehearse_core::event::Outcome::RolledBack),
                    "go_live_ms": { "p50": e.go_live(0.5), "p90": e.go_live(0.9) },
                    "go_live": { "p50": dated(e.go_live(0.5)), "p90": dated(e.go_live(0.9)) },
                    "outage_if_rolled_back_ms": { "p50": e.outage_quantile(0.5), "p90": e.outage_quantile(0.9) },
                })
            })
            .collect();
        json!({
            "at": self.at.map(|s| json!({
                "fault": sc.faults[s.fault.index()].id,
                "step": sc.step(s.step).id,
                "struck_ms": s.at_ms,
                "struck_at": clock.as_ref().map(|c| c.rfc3339(s.at_ms as i64)),
            })),
            "plan_action": self.plan_action.map(Action::name),
            "runs": self.choices.first().map(|c| c.estimate.runs),
            "choices": choices,
        })
    }
}
