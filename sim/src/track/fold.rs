//! The log as it stands: corrections applied ([`effective`]), then each
//! record checked against the plan and what came before it ([`Fold`]). The
//! same checks run when a record is written and when a log is replayed.

use rehearse_core::fault::Action;
use rehearse_core::scenario::{Anchor, Scenario, StepIdx, suggest};

use super::record::{Entry, Record, Stamp};

/// A record as the log now holds it: its own, or its latest correction's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// The seq of the record it stands for.
    pub seq: u64,
    pub at: Stamp,
    pub by: Option<String>,
    pub record: Record,
    /// The seq of the correction that put it there, if corrected.
    pub corrected_by: Option<u64>,
}

/// The records in log order with corrections applied: a corrected record
/// stands where it was, as its latest correction says; a withdrawn one is
/// gone. `Opened` and the corrections themselves are left out.
pub fn effective(entries: &[Entry]) -> Vec<Effective> {
    let mut out: Vec<Option<Effective>> = Vec::with_capacity(entries.len());
    for e in entries {
        match &e.record {
            Record::Correction { of_seq, replacement, .. } => {
                if let Some(slot) = usize::try_from(*of_seq).ok().and_then(|i| out.get_mut(i)) {
                    *slot = replacement.as_ref().map(|r| Effective {
                        seq: *of_seq,
                        at: r.at,
                        by: e.by.clone(),
                        record: (*r.record).clone(),
                        corrected_by: Some(e.seq),
                    });
                }
                out.push(None);
            }
            Record::Opened { .. } => out.push(None),
            r => out.push(Some(Effective {
                seq: e.seq,
                at: e.at,
                by: e.by.clone(),
                record: r.clone(),
                corrected_by: None,
            })),
        }
    }
    out.into_iter().flatten().collect()
}

/// Why a record is refused. Messages name the step (or fault) and the
/// times concerned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown step `{step}`{hint}")]
    UnknownStep { step: String, hint: String },
    #[error("unknown fault `{fault}`{hint}")]
    UnknownFault { fault: String, hint: String },
    #[error("fault `{fault}` cannot strike `{step}` in this plan; it strikes: {can}")]
    CannotStrike { fault: String, step: String, can: String },
    #[error("unknown action `{action}` (expected one of: {known}){hint}")]
    UnknownAction { action: String, hint: String, known: String },
    #[error("`{step}` is already started (seq {seq}); correct that record instead")]
    StartedTwice { step: String, seq: u64 },
    #[error("`{step}` is already done (seq {seq}); correct that record instead")]
    DoneTwice { step: String, seq: u64 },
    #[error("`{step}` cannot be done: it has not started")]
    DoneNotStarted { step: String },
    #[error("`{step}` cannot be done at {done}: it started later, at {started}")]
    DoneBeforeStart { step: String, started: Stamp, done: Stamp },
    #[error("`{step}` cannot start: it waits for `{pred}` to {what}, and `{pred}` has not")]
    Waits { step: String, pred: String, what: &'static str },
    #[error("`{step}` cannot start at {at}: it waits for `{pred}`, which {what} later, at {pred_at}")]
    BeforePredecessor { step: String, at: Stamp, pred: String, what: &'static str, pred_at: Stamp },
    #[error("`{step}` cannot start: it is a sub-step of `{parent}`, which has not started")]
    ParentNotStarted { step: String, parent: String },
    #[error("`{step}` cannot start at {at}: `{parent}`, which it is part of, started later, at {parent_at}")]
    BeforeParent { step: String, at: Stamp, parent: String, parent_at: Stamp },
    #[error("`{step}` cannot be done: its sub-step `{child}` is not done")]
    ChildNotDone { step: String, child: String },
    #[error("`{step}` cannot be done at {at}: its sub-step `{child}` was done later, at {child_at}")]
    BeforeChild { step: String, at: Stamp, child: String, child_at: Stamp },
    #[error("fault `{fault}` cannot strike `{step}` at {at}: `{step}` {why}")]
    NotRunning { fault: String, step: String, at: Stamp, why: String },
    #[error("{at} is in the future (now is {now})")]
    InTheFuture { at: Stamp, now: Stamp },
    #[error("there is no record seq {seq} to correct (the log holds 0 to {last})")]
    NoSuchRecord { seq: u64, last: u64 },
    #[error("seq {seq} is a {kind} record, which cannot be corrected{hint}")]
    Uncorrectable { seq: u64, kind: &'static str, hint: &'static str },
    #[error("a {kind} record cannot replace a {was} record (seq {seq}); withdraw it and record anew")]
    OtherKind { seq: u64, kind: &'static str, was: &'static str },
    #[error("{what} is empty")]
    Empty { what: &'static str },
}

/// The decisions the log knows: the plan's recovery actions, and go/no-go.
pub fn known_actions() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Action::ALL.iter().map(|a| a.name()).collect();
    v.extend(["go", "conditional-go", "no-go", "fix-forward"]);
    v
}

fn hint(wanted: &str, ids: &[&str]) -> String {
    suggest(wanted, ids).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
}

/// Finds a step by id, or says which one was meant.
///
/// # Errors
/// [`Refusal::UnknownStep`].
pub fn find_step(sc: &Scenario, id: &str) -> Result<StepIdx, Refusal> {
    sc.find(id).ok_or_else(|| {
        let ids: Vec<&str> = sc.steps.iter().map(|s| s.id.as_str()).collect();
        Refusal::UnknownStep { step: id.to_string(), hint: hint(id, &ids) }
    })
}

/// The state of the weekend, built one record at a time, each checked.
#[derive(Clone, Debug)]
pub struct Fold<'s> {
    sc: &'s Scenario,
    /// Per step: when it started and the seq that says so.
    pub started: Vec<Option<(Stamp, u64)>>,
    pub done: Vec<Option<(Stamp, u64)>>,
}

impl<'s> Fold<'s> {
    pub fn new(sc: &'s Scenario) -> Self {
        Fold { sc, started: vec![None; sc.steps.len()], done: vec![None; sc.steps.len()] }
    }

    fn id(&self, i: StepIdx) -> String {
        self.sc.step(i).id.clone()
    }

    /// Checks `e` against the plan and the records before it, and takes
    /// it in; nothing changes when it is refused.
    ///
    /// # Errors
    /// The [`Refusal`].
    pub fn apply(&mut self, e: &Effective) -> Result<(), Refusal> {
        let at = e.at;
        let t = at.timestamp();
        match &e.record {
            Record::Started { step } => {
                let i = find_step(self.sc, step)?;
                if let Some((_, seq)) = self.started[i.index()] {
                    return Err(Refusal::StartedTwice { step: step.clone(), seq });
                }
                let s = self.sc.step(i);
                if let Some(p) = s.parent {
                    let Some((p_at, _)) = self.started[p.index()] else {
                        return Err(Refusal::ParentNotStarted { step: step.clone(), parent: self.id(p) });
                    };
                    if p_at.timestamp() > t {
                        return Err(Refusal::BeforeParent {
                            step: step.clone(),
                            at,
                            parent: self.id(p),
                            parent_at: p_at,
                        });
                    }
                }
                for dep in &s.after {
                    let (state, what, past) = match dep.anchor {
                        Anchor::Finish => (self.done[dep.step.index()], "be done", "was done"),
                        Anchor::Start => (self.started[dep.step.index()], "start", "started"),
                    };
                    let Some((pred_at, _)) = state else {
                        return Err(Refusal::Waits { step: step.clone(), pred: self.id(dep.step), what });
                    };
                    if pred_at.timestamp() > t {
                        return Err(Refusal::BeforePredecessor {
                            step: step.clone(),
                            at,
                            pred: self.id(dep.step),
                            what: past,
                            pred_at,
                        });
                    }
                }
                self.started[i.index()] = Some((at, e.seq));
            }
            Record::Done { step } => {
                let i = find_step(self.sc, step)?;
                if let Some((_, seq)) = self.done[i.index()] {
                    return Err(Refusal::DoneTwice { step: step.clone(), seq });
                }
                let Some((started, _)) = self.started[i.index()] else {
                    return Err(Refusal::DoneNotStarted { step: step.clone() });
                };
                if started.timestamp() > t {
                    return Err(Refusal::DoneBeforeStart { step: step.clone(), started, done: at });
                }
                for &c in &self.sc.step(i).children {
                    let Some((c_at, _)) = self.done[c.index()] else {
                        return Err(Refusal::ChildNotDone { step: step.clone(), child: self.id(c) });
                    };
                    if c_at.timestamp() > t {
                        return Err(Refusal::BeforeChild { step: step.clone(), at, child: self.id(c), child_at: c_at });
                    }
                }
                self.done[i.index()] = Some((at, e.seq));
            }
            Record::Fault { fault, step } => {
                let ids: Vec<&str> = self.sc.faults.iter().map(|f| f.id.as_str()).collect();
                let Some(f) = self.sc.faults.iter().find(|f| &f.id == fault) else {
                    return Err(Refusal::UnknownFault { fault: fault.clone(), hint: hint(fault, &ids) });
                };
                let i = find_step(self.sc, step)?;
                if !f.steps.contains(&i) {
                    let can: Vec<&str> = f.steps.iter().map(|s| self.sc.step(*s).id.as_str()).collect();
                    return Err(Refusal::CannotStrike {
                        fault: fault.clone(),
                        step: step.clone(),
                        can: can.join(", "),
                    });
                }
                let why = match (self.started[i.index()], self.done[i.index()]) {
                    (None, _) => Some("has not started".to_string()),
                    (Some((s, _)), _) if s.timestamp() > t => Some(format!("only started at {s}")),
                    (_, Some((d, _))) if d.timestamp() < t => Some(format!("was already done, at {d}")),
                    _ => None,
                };
                if let Some(why) = why {
                    return Err(Refusal::NotRunning { fault: fault.clone(), step: step.clone(), at, why });
                }
            }
            Record::Decision { action, step, why } => {
                let known = known_actions();
                if !known.contains(&action.as_str()) {
                    return Err(Refusal::UnknownAction {
                        action: action.clone(),
                        hint: hint(action, &known),
                        known: known.join(", "),
                    });
                }
                if let Some(step) = step {
                    find_step(self.sc, step)?;
                }
                if why.trim().is_empty() {
                    return Err(Refusal::Empty { what: "--why" });
                }
            }
            Record::Note { text } => {
                if text.trim().is_empty() {
                    return Err(Refusal::Empty { what: "the note" });
                }
            }
            Record::Opened { .. } | Record::Correction { .. } => {}
        }
        Ok(())
    }
}

/// Checks a correction against the record it corrects (the log's check of
/// the result comes after).
///
/// # Errors
/// The [`Refusal`].
pub fn check_correction(entries: &[Entry], of_seq: u64, replacement: Option<&Record>) -> Result<(), Refusal> {
    let last = entries.len().saturating_sub(1) as u64;
    let Some(target) = usize::try_from(of_seq).ok().and_then(|i| entries.get(i)) else {
        return Err(Refusal::NoSuchRecord { seq: of_seq, last });
    };
    match &target.record {
        Record::Opened { .. } => {
            return Err(Refusal::Uncorrectable { seq: of_seq, kind: "opened", hint: "; open a new log instead" });
        }
        Record::Correction { .. } => {
            return Err(Refusal::Uncorrectable {
                seq: of_seq,
                kind: "correction",
                hint: "; correct the record it corrected again: the latest correction stands",
            });
        }
        _ => {}
    }
    if let Some(r) = replacement
        && r.kind() != target.record.kind()
    {
        return Err(Refusal::OtherKind { seq: of_seq, kind: r.kind(), was: target.record.kind() });
    }
    Ok(())
}

/// Checks every effective record in order; the first refused one, with
/// the seq it stands at.
///
/// # Errors
/// The seq and its [`Refusal`].
pub fn check_all<'s>(sc: &'s Scenario, entries: &[Entry]) -> Result<Fold<'s>, (u64, Refusal)> {
    let mut fold = Fold::new(sc);
    for e in entries {
        if let Record::Correction { of_seq, replacement, .. } = &e.record {
            check_correction(&entries[..e.seq as usize], *of_seq, replacement.as_ref().map(|r| &*r.record))
                .map_err(|r| (e.seq, r))?;
        }
    }
    for e in effective(entries) {
        fold.apply(&e).map_err(|r| (e.seq, r))?;
    }
    Ok(fold)
}
