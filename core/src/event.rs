//! Events: what happened in a run, in the past tense, with its simulated time.
//!
//! The event log is the source of truth. Events are generic over how they
//! name a step: the engine uses [`StepIdx`] (cheap to copy), logs use the
//! step's id string (readable, and stable when steps are added elsewhere in
//! the file). [`Event::map_step`] converts between the two.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::scenario::StepIdx;
use crate::time::SimTime;

/// Version of the event schema written into every [`Event::RunStarted`].
/// Bump it whenever an event's shape or meaning changes.
pub const SCHEMA_VERSION: u32 = 1;

/// One thing that happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum Event<S = StepIdx> {
    /// The run began: the identity that reproduces it.
    RunStarted {
        schema: u32,
        scenario: ScenarioDigest,
        seed: u64,
        run: u64,
        mode: Mode,
    },
    StepStarted {
        step: S,
        attempt: u32,
    },
    StepCompleted {
        step: S,
        attempt: u32,
    },
    /// A `downtime = "begins"` step started: users are locked out.
    DowntimeBegan {
        step: S,
    },
    /// A `downtime = "ends"` step completed: users are let back in.
    DowntimeEnded {
        step: S,
    },
    RunFinished {
        outcome: Outcome,
    },
}

/// An event with its place in the stream and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord<S = StepIdx> {
    pub seq: u64,
    pub at: SimTime,
    pub event: Event<S>,
}

/// How durations were chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Drawn from each step's distribution.
    Random,
    /// Every step at its median: the plan as written.
    Median,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step completed: the upgrade stands.
    Committed,
    /// The original environment was restored.
    RolledBack,
    /// The run stopped without committing or rolling back.
    Aborted,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Committed => "committed",
            Outcome::RolledBack => "rolled back",
            Outcome::Aborted => "aborted",
        })
    }
}

/// A short fingerprint of the scenario text (the first 64 bits of its
/// SHA-256), written as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScenarioDigest(pub u64);

impl fmt::Display for ScenarioDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for ScenarioDigest {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScenarioDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 16 {
            return Err(serde::de::Error::custom(
                "scenario digest must be 16 hex digits",
            ));
        }
        u64::from_str_radix(&s, 16)
            .map(ScenarioDigest)
            .map_err(serde::de::Error::custom)
    }
}

impl<S> Event<S> {
    /// The step the event concerns, if any.
    pub fn step(&self) -> Option<&S> {
        match self {
            Event::StepStarted { step, .. }
            | Event::StepCompleted { step, .. }
            | Event::DowntimeBegan { step }
            | Event::DowntimeEnded { step } => Some(step),
            Event::RunStarted { .. } | Event::RunFinished { .. } => None,
        }
    }

    /// The event's kind, as written in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "RunStarted",
            Event::StepStarted { .. } => "StepStarted",
            Event::StepCompleted { .. } => "StepCompleted",
            Event::DowntimeBegan { .. } => "DowntimeBegan",
            Event::DowntimeEnded { .. } => "DowntimeEnded",
            Event::RunFinished { .. } => "RunFinished",
        }
    }

    /// The same event with its step named another way.
    ///
    /// # Errors
    /// Whatever `f` returns for a step it cannot map.
    pub fn map_step<T, E>(&self, mut f: impl FnMut(&S) -> Result<T, E>) -> Result<Event<T>, E> {
        Ok(match self {
            Event::RunStarted {
                schema,
                scenario,
                seed,
                run,
                mode,
            } => Event::RunStarted {
                schema: *schema,
                scenario: *scenario,
                seed: *seed,
                run: *run,
                mode: *mode,
            },
            Event::StepStarted { step, attempt } => Event::StepStarted {
                step: f(step)?,
                attempt: *attempt,
            },
            Event::StepCompleted { step, attempt } => Event::StepCompleted {
                step: f(step)?,
                attempt: *attempt,
            },
            Event::DowntimeBegan { step } => Event::DowntimeBegan { step: f(step)? },
            Event::DowntimeEnded { step } => Event::DowntimeEnded { step: f(step)? },
            Event::RunFinished { outcome } => Event::RunFinished { outcome: *outcome },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_step_keeps_everything_else() {
        let e: Event<StepIdx> = Event::StepCompleted {
            step: StepIdx(2),
            attempt: 1,
        };
        let named = e.map_step(|i| Ok::<_, ()>(format!("s{}", i.0))).unwrap();
        assert_eq!(
            named,
            Event::StepCompleted {
                step: "s2".to_string(),
                attempt: 1
            }
        );
        let back = named
            .map_step(|s| s[1..].parse::<u32>().map(StepIdx))
            .unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn digest_prints_as_sixteen_hex_digits() {
        assert_eq!(ScenarioDigest(0xab).to_string(), "00000000000000ab");
    }
}
