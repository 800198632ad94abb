//! The drill: the plan played as if it were the weekend, into a weekend
//! log, so the people on the bridge rehearse their decisions on the page
//! they will use for real.
//!
//! A drill is one run of the plan (its seed, run 0), with the plan's faults
//! or exactly the scripted ones. Steps start and finish on their own: the
//! drill writes their records (by [`BY`]). When a fault strikes, the drill
//! writes the fault and pauses; the bridge records a decision (resume,
//! retry, roll back...), and the drill goes on from the log as it then
//! stands: the run is simulated again from the actuals, the recorded
//! decision applied, on the same random numbers. Any decision the bridge
//! records (a no-go at any time) is taken the same way.
//!
//! So a drill is a function of its settings and of what people recorded
//! in it, and nothing else: [`Drill::observe`] folds a log's records in
//! order and refuses one the drill would not have written. The server
//! paces the drill with it, `replay` verifies a drill log with it, and a
//! server restarted on a drill log takes up where it stopped.
//!
//! Times here are milliseconds from the drill's origin (the first record's
//! instant): the pacing against the wall clock is the server's.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};
use rehearse_core::event::{Event, Mode, Outcome};
use rehearse_core::fault::{Action, FaultIdx};
use rehearse_core::scenario::{Scenario, StepIdx};

use crate::actuals::Actuals;
use crate::engine::{FaultMode, Plan, RunOptions, Simulator};
use crate::script::parse_injection;
use crate::sink::MemorySink;
use crate::track::{Entry, Record, actuals_of};

/// Who the drill's own records are by.
pub const BY: &str = "drill";

/// The log identity keys a drill's settings are kept under.
const SEED: &str = "drill_seed";
const SPEED: &str = "drill_speed";
const FAULTS: &str = "drill_faults";

/// What a drill plays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillSpec {
    pub seed: u64,
    /// Simulated time per wall-clock time (600: ten minutes a second).
    pub speed: u32,
    /// `None`: faults strike as the plan says; `Some`: exactly these
    /// (`FAULT@STEP[#ATTEMPT]`), nothing else.
    pub faults: Option<Vec<String>>,
}

impl DrillSpec {
    /// The settings as the log's identity keeps them.
    pub fn to_meta(&self) -> Vec<(&'static str, String)> {
        let mut m = vec![(SEED, self.seed.to_string()), (SPEED, self.speed.to_string())];
        if let Some(f) = &self.faults {
            m.push((FAULTS, f.join(" ")));
        }
        m
    }

    /// The settings a log's identity holds: `None` for a log that is no
    /// drill.
    ///
    /// # Errors
    /// A drill setting that does not read.
    pub fn from_meta(get: impl Fn(&str) -> Option<String>) -> Option<Result<DrillSpec, DrillError>> {
        let seed = get(SEED)?;
        let bad = |key: &str, v: &str| DrillError::Settings(format!("`{key}` = {v:?} is not a number"));
        Some((|| {
            let speed = get(SPEED).unwrap_or_default();
            Ok(DrillSpec {
                seed: seed.parse().map_err(|_| bad(SEED, &seed))?,
                speed: speed.parse().map_err(|_| bad(SPEED, &speed))?,
                faults: get(FAULTS).map(|f| f.split_whitespace().map(str::to_string).collect()),
            })
        })())
    }

    /// The settings of the drill `log` holds: `None` for a log that is no
    /// drill.
    ///
    /// # Errors
    /// As [`DrillSpec::from_meta`].
    pub fn of(log: &crate::track::Log) -> Option<Result<DrillSpec, DrillError>> {
        DrillSpec::from_meta(|k| log.meta(k).map(str::to_string))
    }

    fn fault_mode(&self, sc: &Scenario) -> Result<FaultMode, DrillError> {
        let Some(specs) = &self.faults else { return Ok(FaultMode::Probabilistic) };
        let injections = specs
            .iter()
            .map(|s| parse_injection(s, sc).map_err(|e| DrillError::Settings(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaultMode::Scripted(injections))
    }
}

/// Why a drill cannot go on, or a log is not the drill it says it is.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("the drill's settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Track(#[from] crate::track::TrackError),
    #[error("the plan cannot be run from the drill's records: {0}")]
    Actuals(#[from] crate::actuals::ActualsError),
    #[error("the drill's run stopped: {0}")]
    Run(#[from] crate::SimError),
    #[error("seq {seq}: the drill would have written `{want}`, the log holds `{got}`")]
    Diverged { seq: u64, want: String, got: String },
    #[error("seq {seq}: `{got}` is the drill's to write (steps start, finish and fail on their own in a drill)")]
    NotForPeople { seq: u64, got: String },
    #[error("seq {seq}: `{got}` is recorded before the drill's last record (at {at})")]
    Backwards { seq: u64, got: String, at: Timestamp },
}

impl DrillError {
    /// The record the error is about, if it is about one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            DrillError::Diverged { seq, .. }
            | DrillError::NotForPeople { seq, .. }
            | DrillError::Backwards { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// A record the drill will write, `at_ms` from its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub at_ms: u64,
    pub record: Record,
}

/// Where a drill stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stand {
    /// It writes its next record at `next_ms`; `idle`: nothing is running
    /// until then (time a drill need not wait through).
    Running { next_ms: u64, idle: bool },
    /// A fault struck `step` at `at_ms`: the bridge decides.
    Paused { step: StepIdx, fault: FaultIdx, at_ms: u64 },
    /// The run is over.
    Over { outcome: Outcome, at_ms: u64 },
}

/// A drill under way: what it has written and will write.
#[derive(Clone, Debug)]
pub struct Drill<'s> {
    sc: &'s Scenario,
    text: &'s str,
    pub spec: DrillSpec,
    faults: FaultMode,
    /// The instant time 0 stands for: the first record's.
    pub origin: Timestamp,
    pending: VecDeque<Planned>,
    /// How the run ends, once it is known, and when.
    ends: Option<(Outcome, u64)>,
    /// The downtime of the run as last simulated (the drill's own, once
    /// it is over).
    downtime_ms: u64,
    paused: Option<(StepIdx, FaultIdx, u64)>,
    /// Records folded so far (the first, the log's opening, included).
    seen: usize,
    /// The time of the last record folded.
    last_ms: u64,
    started: Vec<bool>,
    done: Vec<bool>,
    struck: Vec<u32>,
}

impl<'s> Drill<'s> {
    /// A drill of `sc` (read from `text`) from its beginning at `origin`.
    ///
    /// # Errors
    /// Scripted faults the plan does not have; a run past its limits.
    pub fn new(sc: &'s Scenario, text: &'s str, spec: DrillSpec, origin: Timestamp) -> Result<Drill<'s>, DrillError> {
        let n = sc.steps.len();
        let faults = spec.fault_mode(sc)?;
        let mut d = Drill {
            sc,
            text,
            spec,
            faults,
            origin,
            pending: VecDeque::new(),
            ends: None,
            downtime_ms: 0,
            paused: None,
            seen: 0,
            last_ms: 0,
            started: vec![false; n],
            done: vec![false; n],
            struck: vec![0; n],
        };
        d.simulate(Actuals::none(sc, origin))?;
        Ok(d)
    }

    /// The origin that puts a drill of `sc` on its plan's calendar: the
    /// downtime begins at the plan's `downtime_begins_at` (unless a fault
    /// before it delays it); `now` for a plan without one.
    ///
    /// # Errors
    /// As [`Drill::new`].
    pub fn planned_origin(
        sc: &Scenario,
        text: &str,
        spec: &DrillSpec,
        now: Timestamp,
    ) -> Result<Timestamp, DrillError> {
        // Run first, anchored or not: settings the plan refuses fail here.
        let (events, _) = run(sc, text, spec, &spec.fault_mode(sc)?, Actuals::none(sc, now))?;
        let Some(anchor) = &sc.meta.anchor else { return Ok(now) };
        let began = events.iter().find_map(|(t, e)| matches!(e, Event::DowntimeBegan { .. }).then_some(*t));
        let begins = anchor.downtime_begins().timestamp();
        Ok(began.and_then(|t| begins.checked_sub(SignedDuration::from_millis(t as i64)).ok()).unwrap_or(now))
    }

    /// Where it stands.
    pub fn stand(&self) -> Stand {
        if let Some((step, fault, at_ms)) = self.paused {
            return Stand::Paused { step, fault, at_ms };
        }
        match (self.pending.front(), self.ends) {
            (Some(p), _) => {
                let running = (0..self.sc.steps.len()).any(|i| self.started[i] && !self.done[i]);
                Stand::Running { next_ms: p.at_ms, idle: !running }
            }
            (None, Some((outcome, at_ms))) => Stand::Over { outcome, at_ms },
            // A run always ends; an empty agenda without an end is a run
            // cut at its limits, over where it stopped.
            (None, None) => Stand::Over { outcome: Outcome::Aborted, at_ms: self.last_ms },
        }
    }

    /// What the plan does at the fault the drill is paused on (its policy,
    /// budgets counted); `None` when it is not paused.
    pub fn proposed(&self) -> Option<Action> {
        let (step, fault, _) = self.paused?;
        let sc = self.sc;
        let attempt = self.struck[step.index()];
        Some(crate::engine::resolve(sc, sc.faults[fault.index()].recovery, attempt, 0, |_| false).action)
    }

    /// The record the drill writes next, unless it is paused or over.
    pub fn next(&self) -> Option<&Planned> {
        if self.paused.is_some() { None } else { self.pending.front() }
    }

    /// The instant of `ms` from the origin.
    pub fn instant(&self, ms: u64) -> Timestamp {
        self.origin.saturating_add(SignedDuration::from_millis(ms as i64)).unwrap_or(self.origin)
    }

    fn ms(&self, t: Timestamp) -> u64 {
        u64::try_from(t.as_millisecond() - self.origin.as_millisecond()).unwrap_or(0)
    }

    /// The downtime of the drill's run, once it is over.
    pub fn downtime_ms(&self) -> Option<u64> {
        matches!(self.stand(), Stand::Over { .. }).then_some(self.downtime_ms)
    }

    /// The time of the last record folded, from the origin.
    pub fn last_ms(&self) -> u64 {
        self.last_ms
    }

    /// Records folded so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Folds the records of `entries` (a log's, from its first) not folded
    /// yet: the drill's own must be the ones it would write; a decision by
    /// people takes effect (the run simulated again from the log as it
    /// stands); a note changes nothing.
    ///
    /// # Errors
    /// A record the drill would not have written, a step record by people,
    /// a record dated before the last; a run past its limits.
    pub fn observe(&mut self, entries: &[Entry]) -> Result<(), DrillError> {
        while self.seen < entries.len() {
            let k = self.seen;
            let e = &entries[k];
            self.seen += 1;
            if k == 0 {
                continue;
            }
            let at = self.ms(e.at.timestamp());
            if at < self.last_ms || e.at.timestamp() < self.origin {
                return Err(DrillError::Backwards {
                    seq: e.seq,
                    got: e.record.to_string(),
                    at: self.instant(self.last_ms),
                });
            }
            self.last_ms = at;
            if e.by.as_deref() == Some(BY) {
                let want = self.next().cloned();
                if want.as_ref().is_none_or(|w| w.record != e.record || w.at_ms != at) {
                    return Err(DrillError::Diverged {
                        seq: e.seq,
                        want: want.map_or_else(
                            || "nothing (it waits for a decision or is over)".to_string(),
                            |w| format!("{} at {}", w.record, self.instant(w.at_ms)),
                        ),
                        got: format!("{} at {}", e.record, e.at),
                    });
                }
                self.pending.pop_front();
                self.fold_own(&e.record);
                continue;
            }
            match &e.record {
                Record::Decision { .. } => {
                    let actuals = actuals_of(self.sc, &entries[..=k], e.at.timestamp());
                    let resolved = actuals.ending.is_some()
                        || self.paused.is_some_and(|(s, ..)| {
                            actuals.struck.iter().rev().find(|x| x.step == s).is_some_and(|x| x.decided.is_some())
                        });
                    self.simulate(actuals)?;
                    if resolved {
                        self.paused = None;
                    }
                }
                Record::Note { .. } => {}
                _ => return Err(DrillError::NotForPeople { seq: e.seq, got: e.record.to_string() }),
            }
        }
        Ok(())
    }

    fn fold_own(&mut self, r: &Record) {
        let find = |s: &str| self.sc.find(s).map(StepIdx::index);
        match r {
            Record::Started { step } => {
                if let Some(i) = find(step) {
                    self.started[i] = true;
                }
            }
            Record::Done { step } => {
                if let Some(i) = find(step) {
                    self.done[i] = true;
                }
            }
            Record::Fault { fault, step } => {
                let f = self.sc.faults.iter().position(|x| &x.id == fault);
                if let (Some(i), Some(f)) = (find(step), f) {
                    self.struck[i] += 1;
                    self.paused = Some((StepIdx(i as u32), FaultIdx(f as u32), self.last_ms));
                }
            }
            _ => {}
        }
    }

    /// Runs the drill's run from `actuals` and keeps what it would write
    /// from now on: the steps' starts and ends not recorded yet, up to and
    /// with the next fault, else to the end.
    fn simulate(&mut self, actuals: Actuals) -> Result<(), DrillError> {
        let shift = self.ms(actuals.origin);
        let now = self.ms(actuals.origin) + actuals.now_ms;
        let human_ending = actuals.ending.is_some();
        let (events, summary) = run(self.sc, self.text, &self.spec, &self.faults, actuals)?;
        let outcome = summary.outcome;
        self.downtime_ms = summary.downtime.as_ms();
        let (mut started, mut done) = (self.started.clone(), self.done.clone());
        let mut struck = vec![0u32; self.sc.steps.len()];
        let mut pending = VecDeque::new();
        let mut ends = None;
        let id = |s: StepIdx| self.sc.step(s).id.clone();
        for (t, ev) in events {
            let at_ms = (shift + t).max(now);
            let record = match ev {
                Event::StepStarted { step, .. } if !started[step.index()] => {
                    started[step.index()] = true;
                    Record::Started { step: id(step) }
                }
                Event::StepCompleted { step, .. } if !done[step.index()] => {
                    done[step.index()] = true;
                    Record::Done { step: id(step) }
                }
                Event::FaultInjected { fault, step, .. } => {
                    struck[step.index()] += 1;
                    if struck[step.index()] <= self.struck[step.index()] {
                        continue;
                    }
                    pending.push_back(Planned {
                        at_ms,
                        record: Record::Fault { fault: self.sc.faults[fault.index()].id.clone(), step: id(step) },
                    });
                    break;
                }
                // The plan's own rollback (a go/no-go rule), not one the
                // bridge decided.
                Event::RollbackStarted { .. } if !human_ending && shift + t > now => Record::Decision {
                    action: "no-go".into(),
                    step: None,
                    why: "the plan's rule rolls back here".into(),
                },
                Event::RunFinished { outcome: o } => {
                    ends = Some((o, at_ms));
                    Record::Note { text: format!("the drill is over: {o}") }
                }
                _ => continue,
            };
            pending.push_back(Planned { at_ms, record });
        }
        if ends.is_none() && pending.back().is_none_or(|p| !matches!(p.record, Record::Fault { .. })) {
            // Cut at the run's limits: over where it stopped.
            ends = Some((outcome, pending.back().map_or(now, |p| p.at_ms)));
        }
        self.pending = pending;
        self.ends = ends;
        Ok(())
    }
}

/// The drill's run from `actuals`: its events (ms from the actuals' origin)
/// and its outcome.
fn run(
    sc: &Scenario,
    text: &str,
    spec: &DrillSpec,
    faults: &FaultMode,
    actuals: Actuals,
) -> Result<(Vec<(u64, Event)>, crate::summary::RunSummary), DrillError> {
    let plan = Plan::new(sc, crate::digest(text)).with_actuals(actuals)?;
    let opts = RunOptions::new(spec.seed, Mode::Random).with_faults(faults.clone());
    let mut sink = MemorySink::new();
    let summary = Simulator::new(&plan).run(&opts, &mut sink)?;
    let events = sink.records.into_iter().map(|r| (r.at.as_ms(), r.event)).collect();
    Ok((events, summary))
}

/// Opens a fresh weekend log at `path` for a drill of `sc` (read from
/// `file`, whose text is `text`): its settings in the log's identity, its
/// first record at the drill's origin ([`Drill::planned_origin`], with
/// `now` for a plan without a calendar). The origin.
///
/// # Errors
/// An existing file (never replaced), scripted faults the plan does not
/// have, I/O and SQLite errors.
pub fn create_log(
    path: &std::path::Path,
    file: &str,
    text: &str,
    sc: &Scenario,
    spec: &DrillSpec,
    now: Timestamp,
) -> Result<Timestamp, DrillError> {
    if spec.speed == 0 {
        return Err(DrillError::Settings("the speed is at least 1".into()));
    }
    // Settings the plan refuses fail here, before the log is made.
    let origin = Drill::planned_origin(sc, text, spec, now)?;
    let zone = crate::track::plan_zone(sc).unwrap_or(jiff::tz::TimeZone::UTC);
    let meta = spec.to_meta();
    let extra: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::track::init_with(path, file, text, crate::track::Stamp::new(origin, &zone), Some(BY.into()), &extra)?;
    Ok(origin)
}

/// Whether `log` is a drill's.
pub fn is_drill(log: &crate::track::Log) -> bool {
    DrillSpec::of(log).is_some()
}

/// Checks that `entries` (a drill log's records) are the drill `spec` of
/// `sc` with what people recorded in it; the drill as it then stands.
///
/// # Errors
/// The first record the drill would not have written.
pub fn verify<'s>(
    sc: &'s Scenario,
    text: &'s str,
    spec: DrillSpec,
    entries: &[Entry],
) -> Result<Drill<'s>, DrillError> {
    let origin = entries.first().map_or(Timestamp::UNIX_EPOCH, |e| e.at.timestamp());
    let mut d = Drill::new(sc, text, spec, origin)?;
    d.observe(entries)?;
    Ok(d)
}

/// Plays `drill` on from `entries` (its log so far) with no clock: its own
/// records as it would write them, and at each fault the decision
/// `decide` returns (what, by whom, why), until it is over or `limit`
/// records were added. The records, the first ones included.
///
/// # Errors
/// As [`Drill::observe`].
pub fn play(
    drill: &mut Drill<'_>,
    mut entries: Vec<Entry>,
    limit: usize,
    mut decide: impl FnMut(&Drill<'_>, StepIdx, FaultIdx) -> (String, String, String),
) -> Result<Vec<Entry>, DrillError> {
    let zone = crate::track::plan_zone(drill.sc).unwrap_or(jiff::tz::TimeZone::UTC);
    drill.observe(&entries)?;
    for _ in 0..limit {
        let (at_ms, by, record) = match drill.stand() {
            Stand::Over { .. } => break,
            Stand::Running { .. } => {
                let p = drill.next().cloned().expect("running");
                (p.at_ms, BY.to_string(), p.record)
            }
            Stand::Paused { step, fault, at_ms } => {
                let (action, by, why) = decide(drill, step, fault);
                (at_ms, by, Record::Decision { action, step: Some(drill.sc.step(step).id.clone()), why })
            }
        };
        let at = crate::track::Stamp::new(drill.instant(at_ms), &zone);
        entries.push(Entry { seq: entries.len() as u64, at, by: Some(by), record, key: None });
        drill.observe(&entries)?;
    }
    Ok(entries)
}

/// A decision people made at a fault of a drill, against the plan's, on
/// the same random numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub seq: u64,
    pub step: StepIdx,
    pub fault: FaultIdx,
    pub by: Option<String>,
    /// What was decided, as recorded.
    pub chosen: String,
    /// What the plan does there (its policy, budgets counted).
    pub proposed: Option<Action>,
    /// From this decision on, every later fault decided as the plan says:
    /// the outcome and downtime of the drill's run the chosen way, and the
    /// plan's way.
    pub chosen_ends: (Outcome, u64),
    pub plan_ends: (Outcome, u64),
}

/// A drill looked back on: how it ended, and each decision at a fault
/// against the plan's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Debrief {
    /// The outcome and downtime (ms), once it is over.
    pub over: Option<(Outcome, u64)>,
    pub reviews: Vec<Review>,
}

/// The debrief of the drill `spec` of `sc` recorded as `entries`.
///
/// # Errors
/// A log that is not the drill ([`verify`]); a run past its limits.
pub fn debrief(sc: &Scenario, text: &str, spec: &DrillSpec, entries: &[Entry]) -> Result<Debrief, DrillError> {
    let origin = entries.first().map_or(Timestamp::UNIX_EPOCH, |e| e.at.timestamp());
    // One drill, folded on record by record: at each decision it stands
    // where the decision found it.
    let mut before = Drill::new(sc, text, spec.clone(), origin)?;
    let mut reviews = Vec::new();
    for (k, e) in entries.iter().enumerate() {
        let Record::Decision { action, .. } = &e.record else { continue };
        if e.by.as_deref() == Some(BY) || crate::track::recovery_action(action).is_none() {
            continue;
        }
        before.observe(&entries[..k])?;
        let Stand::Paused { step, fault, .. } = before.stand() else { continue };
        let proposed = before.proposed();
        let ends = |first: &str| -> Result<(Outcome, u64), DrillError> {
            let mut d = before.clone();
            let mut first = Some(first.to_string());
            play(&mut d, entries[..k].to_vec(), 100_000, |d, _, _| {
                let action = first.take().unwrap_or_else(|| d.proposed().map_or("rollback", Action::name).to_string());
                (action, "debrief".into(), "debrief".into())
            })?;
            Ok(match d.stand() {
                Stand::Over { outcome, .. } => (outcome, d.downtime_ms),
                _ => (Outcome::Aborted, d.downtime_ms),
            })
        };
        reviews.push(Review {
            seq: e.seq,
            step,
            fault,
            by: e.by.clone(),
            chosen: action.clone(),
            proposed,
            chosen_ends: ends(action)?,
            plan_ends: ends(proposed.map_or("rollback", Action::name))?,
        });
    }
    before.observe(entries)?;
    let over = match before.stand() {
        Stand::Over { outcome, .. } => before.downtime_ms().map(|ms| (outcome, ms)),
        _ => None,
    };
    Ok(Debrief { over, reviews })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::{Stamp, check_all};

    fn bundled() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        v.sort();
        v
    }

    fn opened(origin: Timestamp) -> Vec<Entry> {
        let record = Record::Opened { scenario: "s.toml".into(), sha256: String::new() };
        vec![Entry { seq: 0, at: Stamp::new(origin, &jiff::tz::TimeZone::UTC), by: None, record, key: None }]
    }

    /// Every bundled plan played as a drill, each fault decided as the
    /// plan says, makes a log the weekend log takes record by record, and
    /// that verifies as the drill.
    #[test]
    fn every_bundled_plan_plays_as_a_drill_the_log_takes() {
        let origin: Timestamp = "2027-03-05T17:00:00Z".parse().unwrap();
        for (name, text) in bundled() {
            let sc = Scenario::parse(&text, &name).unwrap();
            for seed in [1, 7] {
                let spec = DrillSpec { seed, speed: 600, faults: None };
                let mut d = Drill::new(&sc, &text, spec.clone(), origin).unwrap();
                let entries = play(&mut d, opened(origin), 10_000, |d, _, _| {
                    (d.proposed().unwrap().name().to_string(), "lead".into(), "as planned".into())
                })
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
                assert!(matches!(d.stand(), Stand::Over { .. }), "{name} seed {seed}: {:?}", d.stand());
                if let Err((seq, why)) = check_all(&sc, &entries) {
                    panic!("{name} seed {seed}: the log refuses seq {seq} `{}`: {why}", entries[seq as usize].record);
                }
                verify(&sc, &text, spec, &entries).unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
            }
        }
    }

    /// The debrief sets a decision against the plan's on the same random
    /// numbers: a retry of the transformation where the plan resumes it.
    #[test]
    fn the_debrief_prices_a_decision_against_the_plans() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/ax2012-go-live.toml")).unwrap();
        let sc = Scenario::parse(&text, "go-live").unwrap();
        let origin: Timestamp = "2027-03-05T17:00:00Z".parse().unwrap();
        let spec = DrillSpec { seed: 0, speed: 600, faults: Some(vec!["dvt@transformation".into()]) };
        let mut d = Drill::new(&sc, &text, spec.clone(), origin).unwrap();
        let entries =
            play(&mut d, opened(origin), 10_000, |_, _, _| ("retry".into(), "lead".into(), "x".into())).unwrap();
        let b = debrief(&sc, &text, &spec, &entries).unwrap();
        let (outcome, downtime) = b.over.unwrap();
        assert_eq!(outcome, Outcome::Committed);
        assert_eq!(b.reviews.len(), 1, "{b:?}");
        let r = &b.reviews[0];
        assert_eq!((r.chosen.as_str(), r.proposed), ("retry", Some(Action::Resume)));
        assert_eq!(r.chosen_ends, (Outcome::Committed, downtime), "the chosen way is the drill itself");
        assert_eq!(r.plan_ends.0, Outcome::Committed);
        // Resume redoes the interrupted attempt, as long again; a retry
        // starts the step over with a fresh draw: another length.
        assert_ne!(r.chosen_ends.1, r.plan_ends.1, "{r:?}");
        // The plan's way is the drill decided as the plan says.
        let mut p = Drill::new(&sc, &text, spec.clone(), origin).unwrap();
        play(&mut p, opened(origin), 10_000, |d, _, _| (d.proposed().unwrap().name().into(), "l".into(), "x".into()))
            .unwrap();
        assert_eq!(p.downtime_ms(), Some(r.plan_ends.1));
    }
}
