//! The board: what the page, `/api/forecast` and the status pack show,
//! made from the weekend log and the instant it is made at. The forecast
//! document of `forecast --json` (schema 3), the verdict, the dated figures,
//! each step's state (done, running, next, waiting) with its actual and
//! planned times and its outlook, the call sheet, and the alarms, in words.
//!
//! Pure apart from the runs it asks `rehearse-sim` for: the instant "now"
//! comes in from the caller, which read the clock.

use std::sync::atomic::AtomicU64;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rehearse_core::SimDuration;
use rehearse_core::scenario::{Anchor, Scenario, StepIdx};
use rehearse_sim::estimate::EstimateOptions;
use rehearse_sim::forecast::{Alarm, Forecast, document, forecast, options};
use rehearse_sim::outlook::{StepOutlook, outlook};
use rehearse_sim::track::{self, Log, Record};
use serde_json::{Value, json};

use crate::verdict::{Verdict, verdict};

/// How much to run for a board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardOptions {
    /// Runs of the forecast.
    pub runs: u64,
    pub seed: u64,
    pub threads: usize,
    /// Runs kept whole for each step's outlook (its start and end
    /// quantiles).
    pub outlook_runs: u64,
}

impl BoardOptions {
    /// The estimate's options for these runs (faults not priced: a board
    /// is made again on every record).
    pub fn estimate(&self) -> EstimateOptions {
        EstimateOptions {
            runs: self.runs,
            seed: self.seed,
            threads: self.threads.max(1),
            fault_costs: false,
            ..Default::default()
        }
    }
}

impl Default for BoardOptions {
    fn default() -> Self {
        BoardOptions { runs: 20_000, seed: 0, threads: 2, outlook_runs: 400 }
    }
}

/// Why a board could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error(transparent)]
    Track(#[from] track::TrackError),
    #[error(transparent)]
    Forecast(#[from] rehearse_sim::forecast::ForecastError),
}

/// A board, typed where the status pack reads it, and as JSON.
#[derive(Clone, Debug)]
pub struct Board {
    pub verdict: Verdict,
    pub json: Value,
}

/// The plan's zone, or UTC.
pub fn zone_of(sc: &Scenario) -> TimeZone {
    track::plan_zone(sc).unwrap_or(TimeZone::UTC)
}

/// A long date: `Sat 2027-03-06 14:20 +01:00`.
pub fn long(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone()).strftime("%a %Y-%m-%d %H:%M %:z").to_string()
}

/// A short one, for tables: `Sat 14:20`.
pub fn short(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone()).strftime("%a %H:%M").to_string()
}

/// `14:20:00`, `1d 02:00:00`.
pub fn hms(ms: u64) -> String {
    SimDuration(ms).hms()
}

/// The state of a step on the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Done,
    Running,
    /// Everything it waits for is there: it can start now.
    Next,
    Waiting,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Running => "running",
            State::Next => "next",
            State::Waiting => "waiting",
        }
    }
}

/// Each step's state from what is started and done.
pub fn states(sc: &Scenario, started: &[bool], done: &[bool]) -> Vec<State> {
    (0..sc.steps.len())
        .map(|i| {
            if done[i] {
                return State::Done;
            }
            if started[i] {
                return State::Running;
            }
            let s = &sc.steps[i];
            let parent_ok = s.parent.is_none_or(|p| started[p.index()]);
            let deps_ok = s.after.iter().all(|d| match d.anchor {
                Anchor::Finish => done[d.step.index()],
                Anchor::Start => started[d.step.index()],
            });
            if parent_ok && deps_ok { State::Next } else { State::Waiting }
        })
        .collect()
}

/// Makes the board of `log` (read from `path`) as of `now`.
///
/// # Errors
/// A log whose scenario no longer parses, actuals the plan cannot run
/// from, a run past its limits.
pub fn board(log: &Log, path: &str, now: Timestamp, opts: &BoardOptions) -> Result<Board, BoardError> {
    let sc = log.scenario()?;
    let zone = zone_of(&sc);
    // A forecast is made from all that happened: never before the last
    // record (a clock that stepped back).
    let last = log.effective().iter().map(|e| e.at.timestamp()).max();
    let now = last.map_or(now, |l| l.max(now));
    let actuals = log.actuals(&sc, now);
    let est = opts.estimate();
    let f = forecast(&sc, log.scenario_text(), actuals.clone(), &est, sc.meta.window, &AtomicU64::new(0))?;
    let look = outlook(&sc, log.scenario_text(), &actuals, opts.outlook_runs, opts.seed)?;
    // At a fault no one has decided yet: the choices, priced on the same
    // runs.
    let options = match rehearse_sim::forecast::open_choices(&f).0 {
        Some(_) => Some(options(&f, log.scenario_text(), &est, &AtomicU64::new(0))?.to_json(&f)),
        None => None,
    };
    let v = verdict(&sc, log, &f);
    let mut doc = document(&f, path, &[], &[], now);
    let at_ms = |ms: u64| actuals.origin.saturating_add(SignedDuration::from_millis(ms as i64)).unwrap_or(now);
    let steps = steps_json(&sc, &f, &look, &zone, now);
    let pnr =
        f.to_point_of_no_return_ms().map(|left| now.saturating_add(SignedDuration::from_millis(left)).unwrap_or(now));
    let go_live = |q: f64| {
        f.estimate
            .go_live(q)
            .and_then(|ms| f.downtime_began_ms.map(|b| at_ms(b + ms)).or_else(|| dated(&f.scenario, ms)))
    };
    let window_end = f.scenario.meta.anchor.as_ref().and_then(|a| a.window_end()).map(|z| z.timestamp());
    let fmt = |t: Option<Timestamp>| t.map(|t| long(t, &zone));
    let iso = |t: Option<Timestamp>| t.map(|t| t.to_string());
    doc["board"] = json!({
        "now": now.to_string(),
        "now_display": long(now, &zone),
        "zone": zone.iana_name().map_or_else(|| long(now, &zone).rsplit(' ').next().unwrap_or("UTC").to_string(), str::to_string),
        "scenario_name": sc.meta.name,
        "records": log.entries().len(),
        "verdict": v.to_json(),
        "dated": {
            "go_live_p50": fmt(go_live(0.5)),
            "go_live_p90": fmt(go_live(0.9)),
            "go_live_p50_at": iso(go_live(0.5)),
            "go_live_p90_at": iso(go_live(0.9)),
            "window_end": fmt(window_end),
            "downtime_began": fmt(f.downtime_began_ms.map(at_ms)),
            "point_of_no_return": fmt(pnr),
            "point_of_no_return_at": iso(pnr),
        },
        "go_live_downtime": {
            "p50": f.estimate.go_live(0.5).map(hms),
            "p90": f.estimate.go_live(0.9).map(hms),
            "window": f.estimate.window.map(|w| hms(w.as_ms())),
        },
        "steps": steps,
        "callsheet": callsheet(&sc, &f, &look, &zone),
        "alarms": alarms(&f),
        "faults": sc.faults.iter().map(|x| json!({
            "id": x.id, "message": x.message, "steps": x.steps.iter().map(|i| sc.step(*i).id.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "decisions": track::known_actions(),
        "options": options,
    });
    Ok(Board { verdict: v, json: doc })
}

/// A go-live `ms` into the downtime of a plan that has not begun it, dated
/// on the plan's own anchor.
fn dated(sc: &Scenario, ms: u64) -> Option<Timestamp> {
    sc.meta.anchor.as_ref().and_then(|a| a.at_downtime_offset(ms as i64)).map(|z| z.timestamp())
}

/// The alarms, in words.
pub fn alarms(f: &Forecast) -> Vec<String> {
    f.alarms
        .iter()
        .map(|a| match a {
            Alarm::PastP90 { step, elapsed_ms, p90_ms } => {
                format!("{} has run {}, past its P90 of {}", f.scenario.step(*step).id, hms(*elapsed_ms), hms(*p90_ms))
            }
            Alarm::BelowConfidence { p_success, needed } => {
                format!("P(success) {:.1}% is below the plan's {:.0}%", 100.0 * p_success, 100.0 * needed)
            }
            Alarm::BeganAfterDeadline => "downtime began after the plan's window end: no go-live can be in time".into(),
        })
        .collect()
}

fn steps_json(sc: &Scenario, f: &Forecast, look: &[StepOutlook], zone: &TimeZone, now: Timestamp) -> Vec<Value> {
    let a = &f.actuals;
    let started: Vec<bool> = a.started_ms.iter().map(Option::is_some).collect();
    let done: Vec<bool> = a.done_ms.iter().map(Option::is_some).collect();
    let st = states(sc, &started, &done);
    let at = |ms: u64| a.origin.saturating_add(SignedDuration::from_millis(ms as i64)).unwrap_or(a.origin);
    sc.tree_order()
        .into_iter()
        .map(|i: StepIdx| {
            let k = i.index();
            let s = sc.step(i);
            let o = &look[k];
            let started_at = a.started_ms[k].map(at);
            let done_at = a.done_ms[k].map(at);
            let took = started_at.map(|b| done_at.unwrap_or(now).duration_since(b).as_millis().max(0) as u64);
            let planned_ms = o.planned.map(|(b, e)| e.duration_since(b).as_millis().max(0) as u64);
            // Actual against plan: a done step's end against its planned
            // end; a running one's start against its planned start.
            let drift_ms = match (o.planned, started_at, done_at) {
                (Some((_, pe)), _, Some(d)) => Some(d.duration_since(pe).as_millis() as i64),
                (Some((ps, _)), Some(b), None) => Some(b.duration_since(ps).as_millis() as i64),
                _ => None,
            };
            let q = |v: Option<[Timestamp; 3]>| v.map(|v| v.map(|t| short(t, zone)));
            json!({
                "id": s.id,
                "name": s.name,
                "owner": s.owner,
                "workstream": s.workstream,
                "depth": s.depth,
                "parent": s.parent.map(|p| sc.step(p).id.clone()),
                "group": s.is_group(),
                "milestone": s.milestone,
                "state": st[k].word(),
                "started": started_at.map(|t| short(t, zone)),
                "done": done_at.map(|t| short(t, zone)),
                "took": took.map(hms),
                "planned_start": o.planned.map(|p| short(p.0, zone)),
                "planned_end": o.planned.map(|p| short(p.1, zone)),
                "planned": planned_ms.map(hms),
                "drift_min": drift_ms.map(|d| d / 60_000),
                "start_q": if st[k] == State::Done || st[k] == State::Running { None } else { q(o.start) },
                "end_q": if st[k] == State::Done { None } else { q(o.end) },
                "p_runs": o.p_runs,
            })
        })
        .collect()
}

/// Who is needed when: each owner (when the plan names owners), or each
/// top-level step (when it names none), with the P10–P90 clock times the
/// first of their steps not yet done starts (now, when one is running).
fn callsheet(sc: &Scenario, f: &Forecast, look: &[StepOutlook], zone: &TimeZone) -> Value {
    let a = &f.actuals;
    let has_owners = sc.steps.iter().any(|s| s.owner.is_some());
    // (who, steps) in order of first appearance.
    let mut rows: Vec<(String, Vec<usize>)> = Vec::new();
    for i in sc.tree_order() {
        let k = i.index();
        let s = sc.step(i);
        let who = if has_owners {
            let Some(o) = &s.owner else { continue };
            o.clone()
        } else {
            if s.depth != 0 {
                continue;
            }
            s.name.clone()
        };
        match rows.iter_mut().find(|r| r.0 == who) {
            Some(r) => r.1.push(k),
            None => rows.push((who, vec![k])),
        }
    }
    let out: Vec<Value> = rows
        .into_iter()
        .filter_map(|(who, steps)| {
            let open: Vec<usize> = steps.iter().copied().filter(|k| a.done_ms[*k].is_none()).collect();
            let first = *open.first()?;
            let running = a.started_ms[first].is_some();
            let q = look[first].start.map(|v| v.map(|t| short(t, zone)));
            Some(json!({
                "who": who,
                "first_step": sc.steps[first].id,
                "steps": open.iter().map(|k| sc.steps[*k].id.clone()).collect::<Vec<_>>(),
                "now": running,
                "needed_q": if running { None } else { q },
            }))
        })
        .collect();
    let note = if has_owners {
        "by owner: the first of their steps not yet done"
    } else {
        "the plan names no owners: one line per top-level step"
    };
    json!({ "by": if has_owners { "owner" } else { "step" }, "note": note, "rows": out })
}

/// Each record in words, for the page's log and the status pack.
pub fn record_text(r: &Record) -> String {
    match r {
        Record::Decision { action, step, why } => {
            format!("decided {action}{}: {why}", step.as_ref().map(|s| format!(" on {s}")).unwrap_or_default())
        }
        Record::Note { text } => format!("note: {text}"),
        r => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
[scenario]
name = "t"
[[step]]
id = "a"
duration = "1h"
[[step]]
id = "g"
after = ["a"]
[[step]]
id = "g1"
parent = "g"
duration = "1h"
[[step]]
id = "g2"
parent = "g"
after = [{ step = "g1", from = "start" }]
duration = "1h"
[[step]]
id = "b"
after = ["g"]
duration = "1h"
"#;

    #[test]
    fn a_step_is_next_when_all_it_waits_for_is_there() {
        let sc = Scenario::parse(PLAN, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let ix = |id: &str| sc.find(id).unwrap().index();
        let check = |started: &[&str], done: &[&str], want: &[(&str, State)]| {
            let mut s = vec![false; sc.steps.len()];
            let mut d = vec![false; sc.steps.len()];
            started.iter().for_each(|x| s[ix(x)] = true);
            done.iter().for_each(|x| d[ix(x)] = true);
            let got = states(&sc, &s, &d);
            for (id, state) in want {
                assert_eq!(got[ix(id)], *state, "{id} with started {started:?}, done {done:?}");
            }
        };
        check(&[], &[], &[("a", State::Next), ("g", State::Waiting), ("g1", State::Waiting)]);
        check(&["a"], &["a"], &[("a", State::Done), ("g", State::Next), ("g1", State::Waiting)]);
        check(&["a", "g"], &["a"], &[("g", State::Running), ("g1", State::Next), ("g2", State::Waiting)]);
        check(&["a", "g", "g1"], &["a"], &[("g1", State::Running), ("g2", State::Next), ("b", State::Waiting)]);
    }
}
