//! Events: what happened in a run, in the past tense, with its simulated time.
//!
//! The event log is the source of truth. Events are generic over how they
//! name a step: the engine uses [`StepIdx`] (cheap to copy), logs use the
//! step's id string (readable, and stable when steps are added elsewhere in
//! the file). [`Event::map_names`] converts between the two.

mod canonical;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::data::Checksum;
use crate::fault::{Action, FaultIdx};
use crate::scenario::StepIdx;
use crate::time::SimTime;

/// Version of the event schema written into every [`Event::RunStarted`].
/// Bump it whenever an event's shape or meaning changes.
/// 2: `ReplicationBacklog` added; random streams are SplitMix64 (every
/// random run differs from version 1).
/// 3: `ChangesReplicated` added: the data model holds the replication (the
/// source grows with the users' changes, the target with what was applied).
/// 4: a resume does the interrupted step again, whole (001's Resume
/// button), where it did what the attempt had left; `StepWaited` (a
/// resource at capacity) and `StepHeld` (a fixed slot) added.
pub const SCHEMA_VERSION: u32 = 4;

/// The step field of a kind's fields: the one typed `S`.
macro_rules! step_of {
    () => { None };
    ($field:ident: S $(, $rest:ident: $ty:ident)*) => { Some($field) };
    ($field:ident: $other:ident $(, $rest:ident: $ty:ident)*) => { step_of!($($rest: $ty),*) };
}

/// A field renamed by [`Event::map_names`]: a step through `fs`, a fault
/// through `ff`, anything else copied.
macro_rules! map_field {
    (S, $field:ident, $fs:ident, $ff:ident) => {
        $fs($field)?
    };
    (F, $field:ident, $fs:ident, $ff:ident) => {
        $ff($field)?
    };
    ($other:ident, $field:ident, $fs:ident, $ff:ident) => {
        *$field
    };
}

/// Declares [`Event`] from its kinds, and what follows from them: the
/// private `Kind` (the `kind` tag as read), [`Wire`] and its conversion
/// kind by kind, [`Event::step`], [`Event::kind`] and [`Event::map_names`].
/// A field typed `S` is the step the event concerns and one typed `F` a
/// fault; every other field is copied. Field types are single names.
macro_rules! events {
    (
        $(#[$meta:meta])*
        pub enum Event<S = StepIdx, F = FaultIdx> {
            $(
                $(#[$kind_meta:meta])*
                $kind:ident $({ $($field:ident: $ty:ident),* $(,)? })?
            ),* $(,)?
        }

        fields { $($wire_field:ident: $wire_ty:ty),* $(,)? }
    ) => {
        $(#[$meta])*
        pub enum Event<S = StepIdx, F = FaultIdx> {
            $(
                $(#[$kind_meta])*
                $kind $({ $($field: $ty),* })?,
            )*
        }

        /// The kinds of [`Event`], as written in logs.
        #[derive(Clone, Copy, Debug, Deserialize)]
        enum Kind {
            $($kind,)*
        }

        /// An event as read: its kind and every field any event has.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[doc(hidden)]
        pub struct Wire<S, F> {
            kind: Kind,
            $($wire_field: Option<$wire_ty>,)*
        }

        impl<S, F> Wire<S, F> {
            /// The first field present that `kind` does not have.
            fn stray(&self, wanted: &[&str]) -> Option<&'static str> {
                $(if self.$wire_field.is_some() && !wanted.contains(&stringify!($wire_field)) {
                    return Some(stringify!($wire_field));
                })*
                None
            }
        }

        /// Each kind takes its fields and refuses the others.
        impl<S, F> TryFrom<Wire<S, F>> for Event<S, F> {
            type Error = WireError;

            fn try_from(mut w: Wire<S, F>) -> Result<Self, WireError> {
                Ok(match w.kind {
                    $(Kind::$kind => {
                        let kind = stringify!($kind);
                        if let Some(field) = w.stray(&[$($(stringify!($field)),*)?]) {
                            return Err(WireError::Unknown { kind, field });
                        }
                        Event::$kind {
                            $($($field: w.$field.take().ok_or(WireError::Missing { kind, field: stringify!($field) })?,)*)?
                        }
                    })*
                })
            }
        }

        impl<'a> Event<&'a str, &'a str> {
            /// The kind and the fields after `{"kind":`, in their canonical
            /// form ([`canonical`]), up to the closing brace.
            fn read_fields(c: &mut canonical::Cursor<'a>) -> Option<Self> {
                Some(match c.string()? {
                    $(stringify!($kind) => {
                        $($(
                            c.eat(concat!(",\"", stringify!($field), "\":"))?;
                            let $field = canonical::Canonical::read(c)?;
                        )*)?
                        Event::$kind $({ $($field),* })?
                    })*
                    _ => return None,
                })
            }

            /// The event as serde_json writes it (`{"kind":..}`), if every
            /// field can be written so here.
            fn write_fields(&self, out: &mut Vec<u8>) -> Option<()> {
                match self {
                    $(Event::$kind $({ $($field),* })? => {
                        out.extend_from_slice(concat!("{\"kind\":\"", stringify!($kind), "\"").as_bytes());
                        $($(
                            out.extend_from_slice(concat!(",\"", stringify!($field), "\":").as_bytes());
                            canonical::Canonical::write($field, out)?;
                        )*)?
                    })*
                }
                out.push(b'}');
                Some(())
            }
        }

        impl<S, F> Event<S, F> {
            /// The step the event concerns, if any.
            #[allow(unused_variables, reason = "every field is bound, the step alone is used")]
            pub fn step(&self) -> Option<&S> {
                match self {
                    $(Event::$kind { $($($field),*)? } => step_of!($($($field: $ty),*)?),)*
                }
            }

            /// The event's kind, as written in logs.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Event::$kind { .. } => stringify!($kind),)*
                }
            }

            /// The same event with its steps and faults named another way.
            ///
            /// # Errors
            /// Whatever `fs` or `ff` returns for a name it cannot map.
            pub fn map_names<T, G, E>(
                &self,
                mut fs: impl FnMut(&S) -> Result<T, E>,
                mut ff: impl FnMut(&F) -> Result<G, E>,
            ) -> Result<Event<T, G>, E> {
                Ok(match self {
                    $(Event::$kind { $($($field),*)? } => Event::$kind {
                        $($($field: map_field!($ty, $field, fs, ff),)*)?
                    },)*
                })
            }
        }
    };
}

events! {
    /// One thing that happened. `S` names steps and `F` faults: indexes in
    /// memory, ids in logs.
    ///
    /// Written with its `kind` first and its fields after, in the order
    /// declared here. Read through [`Wire`], a flat record of every field,
    /// which serde streams without buffering (an internally tagged enum
    /// buffers every field first, which made reading logs several times
    /// slower); fields may come in any order, and a field the kind does not
    /// have is refused.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", try_from = "Wire<S, F>")]
    pub enum Event<S = StepIdx, F = FaultIdx> {
        /// The run began: the identity that reproduces it.
        RunStarted { schema: u32, scenario: ScenarioDigest, seed: u64, run: u64, mode: Mode },
        StepStarted { step: S, attempt: u32 },
        StepCompleted { step: S, attempt: u32 },
        /// A fault struck a running step; part of the attempt's work is lost.
        FaultInjected { fault: F, step: S, attempt: u32 },
        /// The attempt failed (it did not complete).
        StepFailed { step: S, attempt: u32 },
        /// The attempt ended and nobody knows whether it completed.
        StepOutcomeUnknown { step: S, attempt: u32 },
        /// Recovery found out what the unknown outcome was.
        OutcomeVerified { step: S, attempt: u32, completed: bool },
        /// The plan's recovery for a failed attempt: what it does, how long
        /// the operator takes to react, and how long fixing, undoing or
        /// verifying takes on top.
        RecoveryChosen {
            step: S,
            fault: F,
            action: Action,
            attempt: u32,
            max_attempts: u32,
            reaction_ms: u64,
            extra_ms: u64,
        },
        /// A completed step is to run again (rerun from an earlier step).
        StepReset { step: S },
        /// A running step was stopped by a rollback, cancel or abort.
        StepAbandoned { step: S, attempt: u32 },
        /// The plan's own go/no-go rule (`[[decision]]`): `step` was not
        /// done by the rule's time, so the plan rolls back.
        CheckpointMissed { step: S },
        /// Roll back the whole upgrade; `late` when it begins after its
        /// deadline.
        RollbackStarted { step: S, late: bool },
        /// The original environment is back online, as it was.
        RollbackCompleted,
        /// A table after a step's data effect (`table` indexes `[database]
        /// tables`): row counts and checksums of the source and the target.
        TableChanged {
            step: S,
            table: u32,
            source_rows: u64,
            source_checksum: Checksum,
            target_rows: u64,
            target_checksum: Checksum,
        },
        /// Record counts compared, source against target, table by table.
        RecordCountsValidated { step: S, matched: bool },
        /// A `replication = "caught-up"` step started: the changes written
        /// while the source was online and not yet applied. The step lasts
        /// until they are.
        ReplicationBacklog { step: S, changes: u64 },
        /// The replication as the data model holds it, brought up to date
        /// at a step's boundary: the rows the users have written to the
        /// source table since the run began (`written`), and the changes of
        /// the current replication not yet applied to the target
        /// (`backlog`).
        ChangesReplicated { step: S, table: u32, written: u64, backlog: u64 },
        /// A step ready to start found a resource it needs at capacity
        /// (`resource` indexes `[[resource]]`): it waits for one of the
        /// steps holding it to end; its `StepStarted` follows.
        StepWaited { step: S, resource: u32 },
        /// A step ready to start is held until its fixed slot
        /// (`not_before`); its `StepStarted` follows at that time.
        StepHeld { step: S },
        /// A `downtime = "begins"` step started: users are locked out.
        DowntimeBegan { step: S },
        /// A `downtime = "ends"` step completed (or a rollback brought the
        /// original back): users are let back in.
        DowntimeEnded { step: S },
        RunFinished { outcome: Outcome },
    }

    // Every field name any kind uses, once, with its type: [`Wire`] holds
    // one of each, read before the kind is known, so a name has one type in
    // every kind. A kind with a field not listed here does not compile.
    fields {
        schema: u32,
        scenario: ScenarioDigest,
        seed: u64,
        run: u64,
        mode: Mode,
        step: S,
        fault: F,
        action: Action,
        attempt: u32,
        max_attempts: u32,
        reaction_ms: u64,
        extra_ms: u64,
        completed: bool,
        late: bool,
        table: u32,
        source_rows: u64,
        source_checksum: Checksum,
        target_rows: u64,
        target_checksum: Checksum,
        matched: bool,
        changes: u64,
        written: u64,
        backlog: u64,
        resource: u32,
        outcome: Outcome,
    }
}

/// Why a record's fields do not make an event of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("missing field `{field}` for a {kind} event")]
    Missing { kind: &'static str, field: &'static str },
    #[error("unknown field `{field}` for a {kind} event")]
    Unknown { kind: &'static str, field: &'static str },
}

/// An event with its place in the stream and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord<S = StepIdx, F = FaultIdx> {
    pub seq: u64,
    pub at: SimTime,
    pub event: Event<S, F>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step completed: the upgrade stands.
    Committed,
    /// The original environment was restored.
    RolledBack,
    /// The upgrade was cancelled from the original environment before the
    /// swap; the original was never touched.
    Cancelled,
    /// The run stopped without committing or rolling back.
    Aborted,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Committed => "committed",
            Outcome::RolledBack => "rolled back",
            Outcome::Cancelled => "cancelled",
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
            return Err(serde::de::Error::custom("scenario digest must be 16 hex digits"));
        }
        u64::from_str_radix(&s, 16).map(ScenarioDigest).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_names_keeps_everything_else() {
        let e: Event = Event::FaultInjected { fault: FaultIdx(1), step: StepIdx(2), attempt: 3 };
        let named = e.map_names(|i| Ok::<_, ()>(format!("s{}", i.0)), |f| Ok(format!("f{}", f.0))).unwrap();
        assert_eq!(named, Event::FaultInjected { fault: "f1".to_string(), step: "s2".to_string(), attempt: 3 });
        let back =
            named.map_names(|s| s[1..].parse::<u32>().map(StepIdx), |f| f[1..].parse::<u32>().map(FaultIdx)).unwrap();
        assert_eq!(back, e);
    }

    /// One event of every kind, named as in logs, and its canonical JSON:
    /// stored logs of earlier versions must still read, and the stream
    /// hashes cover these bytes.
    fn every_kind() -> Vec<(Event<&'static str, &'static str>, &'static str)> {
        vec![
            (
                Event::RunStarted { schema: 3, scenario: ScenarioDigest(0xab), seed: 7, run: 2, mode: Mode::Random },
                r#"{"kind":"RunStarted","schema":3,"scenario":"00000000000000ab","seed":7,"run":2,"mode":"random"}"#,
            ),
            (Event::StepStarted { step: "a", attempt: 1 }, r#"{"kind":"StepStarted","step":"a","attempt":1}"#),
            (Event::StepCompleted { step: "a", attempt: 2 }, r#"{"kind":"StepCompleted","step":"a","attempt":2}"#),
            (
                Event::FaultInjected { fault: "f", step: "a", attempt: 1 },
                r#"{"kind":"FaultInjected","fault":"f","step":"a","attempt":1}"#,
            ),
            (Event::StepFailed { step: "a", attempt: 1 }, r#"{"kind":"StepFailed","step":"a","attempt":1}"#),
            (
                Event::StepOutcomeUnknown { step: "a", attempt: 1 },
                r#"{"kind":"StepOutcomeUnknown","step":"a","attempt":1}"#,
            ),
            (
                Event::OutcomeVerified { step: "a", attempt: 1, completed: true },
                r#"{"kind":"OutcomeVerified","step":"a","attempt":1,"completed":true}"#,
            ),
            (
                Event::RecoveryChosen {
                    step: "a",
                    fault: "f",
                    action: Action::RollbackPackage,
                    attempt: 1,
                    max_attempts: 3,
                    reaction_ms: 60_000,
                    extra_ms: 5,
                },
                r#"{"kind":"RecoveryChosen","step":"a","fault":"f","action":"rollback-package","attempt":1,"max_attempts":3,"reaction_ms":60000,"extra_ms":5}"#,
            ),
            (Event::StepReset { step: "a" }, r#"{"kind":"StepReset","step":"a"}"#),
            (Event::StepAbandoned { step: "a", attempt: 2 }, r#"{"kind":"StepAbandoned","step":"a","attempt":2}"#),
            (
                Event::RollbackStarted { step: "a", late: false },
                r#"{"kind":"RollbackStarted","step":"a","late":false}"#,
            ),
            (Event::RollbackCompleted, r#"{"kind":"RollbackCompleted"}"#),
            (
                Event::TableChanged {
                    step: "a",
                    table: 1,
                    source_rows: 10,
                    source_checksum: Checksum(0xff),
                    target_rows: 9,
                    target_checksum: Checksum(u64::MAX),
                },
                r#"{"kind":"TableChanged","step":"a","table":1,"source_rows":10,"source_checksum":"00000000000000ff","target_rows":9,"target_checksum":"ffffffffffffffff"}"#,
            ),
            (
                Event::RecordCountsValidated { step: "a", matched: true },
                r#"{"kind":"RecordCountsValidated","step":"a","matched":true}"#,
            ),
            (
                Event::ReplicationBacklog { step: "a", changes: 12 },
                r#"{"kind":"ReplicationBacklog","step":"a","changes":12}"#,
            ),
            (
                Event::ChangesReplicated { step: "a", table: 0, written: 100, backlog: 4 },
                r#"{"kind":"ChangesReplicated","step":"a","table":0,"written":100,"backlog":4}"#,
            ),
            (Event::StepWaited { step: "a", resource: 1 }, r#"{"kind":"StepWaited","step":"a","resource":1}"#),
            (Event::StepHeld { step: "a" }, r#"{"kind":"StepHeld","step":"a"}"#),
            (Event::DowntimeBegan { step: "a" }, r#"{"kind":"DowntimeBegan","step":"a"}"#),
            (Event::DowntimeEnded { step: "a" }, r#"{"kind":"DowntimeEnded","step":"a"}"#),
            (Event::RunFinished { outcome: Outcome::RolledBack }, r#"{"kind":"RunFinished","outcome":"rolled_back"}"#),
        ]
    }

    #[test]
    fn every_kind_is_written_and_read_as_before() {
        for (event, json) in every_kind() {
            assert_eq!(serde_json::to_string(&event).unwrap(), json);
            assert_eq!(serde_json::from_str::<Event<&str, &str>>(json).unwrap(), event, "{json}");
            assert_eq!(json.split('"').nth(3), Some(event.kind()));
            assert_eq!(event.step().is_some(), json.contains(r#""step":"a""#), "{json}");
            let renamed = event.map_names(|s| Ok::<_, ()>(format!("s:{s}")), |f| Ok(format!("f:{f}"))).unwrap();
            let want = json.replace(r#""a""#, r#""s:a""#).replace(r#""f""#, r#""f:f""#);
            assert_eq!(serde_json::to_string(&renamed).unwrap(), want);
            assert_eq!(renamed.step().map(String::as_str), event.step().map(|s| format!("s:{s}")).as_deref());
        }
    }

    /// The canonical reader reads every kind as serde does, and leaves
    /// to serde anything not in the canonical form; the canonical writer
    /// writes serde_json's bytes, or leaves the record to serde.
    #[test]
    fn the_canonical_form_is_read_and_written_as_serde_does_or_left_to_it() {
        fn serde(t: &str) -> Option<EventRecord<&str, &str>> {
            serde_json::from_str(t).ok()
        }
        for (event, json) in every_kind() {
            let text = format!(r#"{{"seq":12,"at":3456,"event":{json}}}"#);
            let want = EventRecord { seq: 12, at: SimTime(3456), event };
            assert_eq!(serde_json::to_string(&want).unwrap(), text);
            assert_eq!(EventRecord::read_canonical(&text), Some(want), "{text}");
            let mut written = b"before".to_vec();
            if want.write_canonical(&mut written) {
                assert_eq!(written, format!("before{text}").into_bytes());
            } else {
                assert_eq!(written, b"before", "{text}");
                assert!(matches!(
                    event,
                    Event::RunStarted { .. } | Event::RecoveryChosen { .. } | Event::RunFinished { .. }
                ));
            }
            assert_eq!(serde(&text), Some(want), "{text}");
            // Every cut, and every byte changed to one of a few others, is
            // read by it as serde reads it, or left to serde.
            for k in 0..text.len() {
                if let Some(cut) = text.get(..k) {
                    assert_eq!(EventRecord::read_canonical(cut), None, "{cut}");
                }
                for b in [b' ', b'0', b'9', b'"', b'\\', b'x', b'}', b',', b'-', b'.', b'e', 0x1f] {
                    let mut bytes = text.clone().into_bytes();
                    bytes[k] = b;
                    let Ok(changed) = String::from_utf8(bytes) else { continue };
                    if let Some(r) = EventRecord::read_canonical(&changed) {
                        assert_eq!(serde(&changed), Some(r), "{changed}");
                    }
                }
            }
        }
        for text in [
            r#"{"seq":01,"at":2,"event":{"kind":"StepStarted","step":"a","attempt":1}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a","attempt":4294967296}}"#,
            r#"{"seq":18446744073709551616,"at":2,"event":{"kind":"RollbackCompleted"}}"#,
            r#"{"seq":1,"at":2.0,"event":{"kind":"RollbackCompleted"}}"#,
            r#"{"seq":1,"at":2e0,"event":{"kind":"RollbackCompleted"}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a\u0062","attempt":1}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","attempt":1,"step":"a"}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"RollbackCompleted"}} "#,
            r#"{"seq":1,"at":2,"event":{"kind":"RollbackCompleted"}}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"Nothing"}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"RunFinished","outcome":"Committed"}}"#,
            r#"{"seq":1,"at":2,"event":{"kind":"TableChanged","step":"a","table":1,"source_rows":10,"source_checksum":"ff","target_rows":9,"target_checksum":"ffffffffffffffff"}}"#,
        ] {
            assert_eq!(EventRecord::read_canonical(text), None, "{text}");
        }
        for name in ["a\"b", "a\\b", "a\nb", "\u{1f}"] {
            let mut out = vec![];
            let r = EventRecord { seq: 0, at: SimTime(0), event: Event::StepStarted { step: name, attempt: 1 } };
            assert!(!r.write_canonical(&mut out), "{name}");
            assert!(out.is_empty());
        }
        let r =
            EventRecord { seq: u64::MAX, at: SimTime(0), event: Event::StepStarted { step: "é ~\u{7f}", attempt: 0 } };
        let mut out = vec![];
        assert!(r.write_canonical(&mut out));
        assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&r).unwrap());
        let max = format!(r#"{{"seq":{},"at":0,"event":{{"kind":"RollbackCompleted"}}}}"#, u64::MAX);
        assert_eq!(EventRecord::read_canonical(&max).map(|r| r.seq), Some(u64::MAX));
    }

    #[test]
    fn a_missing_or_stray_field_is_named_with_its_kind() {
        let convert = |json| Event::try_from(serde_json::from_str::<Wire<&str, &str>>(json).unwrap());
        assert_eq!(
            convert(r#"{"kind":"StepStarted","step":"a"}"#),
            Err(WireError::Missing { kind: "StepStarted", field: "attempt" })
        );
        assert_eq!(
            convert(r#"{"kind":"RollbackCompleted","step":"a"}"#),
            Err(WireError::Unknown { kind: "RollbackCompleted", field: "step" })
        );
        let read = serde_json::from_str::<Event<&str, &str>>(r#"{"attempt":1,"kind":"FaultInjected","step":"a"}"#);
        assert!(read.unwrap_err().to_string().starts_with("missing field `fault` for a FaultInjected event"));
    }

    #[test]
    fn digest_prints_as_sixteen_hex_digits() {
        assert_eq!(ScenarioDigest(0xab).to_string(), "00000000000000ab");
    }
}
