//! What a weekend log records: one [`Entry`] per fact, stamped with the
//! wall-clock instant it happened (with the offset it was recorded in) and
//! who recorded it, and its canonical encoding, which the hash chain covers.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde::{Deserialize, Serialize};

/// A wall-clock instant to the millisecond, with the offset it is shown in:
/// `2025-03-01T18:00:00+01:00`. Stored as that text (RFC 3339), compared as
/// the instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    ts: Timestamp,
    offset: Offset,
}

impl Stamp {
    /// `ts` (cut to the millisecond) shown in `zone`'s offset at that
    /// instant.
    pub fn new(ts: Timestamp, zone: &TimeZone) -> Stamp {
        let ts = Timestamp::from_millisecond(ts.as_millisecond()).expect("a timestamp's own milliseconds");
        Stamp { ts, offset: zone.to_offset(ts) }
    }

    /// The instant.
    pub fn timestamp(&self) -> Timestamp {
        self.ts
    }

    /// Milliseconds since the Unix epoch (UTC).
    pub fn unix_ms(&self) -> i64 {
        self.ts.as_millisecond()
    }

    /// Reads the RFC 3339 text [`Stamp`]'s `Display` writes.
    ///
    /// # Errors
    /// [`StampError`]: text that is not an RFC 3339 instant with an offset.
    pub fn parse(text: &str) -> Result<Stamp, StampError> {
        let pieces = jiff::fmt::temporal::Pieces::parse(text).map_err(StampError::Malformed)?;
        let offset =
            pieces.offset().map(|o| o.to_numeric_offset()).ok_or_else(|| StampError::NoOffset(text.to_string()))?;
        let ts: Timestamp = text.parse().map_err(StampError::Malformed)?;
        Ok(Stamp::new(ts, &TimeZone::fixed(offset)))
    }
}

/// Text [`Stamp::parse`] cannot read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StampError {
    /// Not an RFC 3339 date and time (jiff says why).
    #[error("{0}")]
    Malformed(jiff::Error),
    #[error("{0:?} has no offset")]
    NoOffset(String),
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let z = self.ts.to_zoned(TimeZone::fixed(self.offset));
        write!(f, "{}", z.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z"))
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Stamp, D::Error> {
        let text = String::deserialize(d)?;
        Stamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One fact of the weekend, named by the plan's ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Record {
    /// The log was opened for this scenario (seq 0, always): its text's
    /// SHA-256 puts the scenario in the chain.
    Opened {
        scenario: String,
        sha256: String,
    },
    Started {
        step: String,
    },
    Done {
        step: String,
    },
    /// A fault struck a running step.
    Fault {
        fault: String,
        step: String,
    },
    /// What was decided (an action of the plan's recovery vocabulary, or
    /// go / no-go), about a step or the weekend, and why.
    Decision {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        why: String,
    },
    Note {
        text: String,
    },
    /// The record `of_seq` was a mistake: it is replaced by `replacement`,
    /// or withdrawn when there is none. The past is never edited.
    Correction {
        of_seq: u64,
        why: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replacement: Option<Replacement>,
    },
}

/// What a correction puts in place of the record it corrects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    pub at: Stamp,
    pub record: Box<Record>,
}

impl Record {
    /// The `kind` column and the word the CLI uses.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Opened { .. } => "opened",
            Record::Started { .. } => "started",
            Record::Done { .. } => "done",
            Record::Fault { .. } => "fault",
            Record::Decision { .. } => "decision",
            Record::Note { .. } => "note",
            Record::Correction { .. } => "correction",
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Opened { scenario, .. } => write!(f, "opened for {scenario}"),
            Record::Started { step } => write!(f, "start {step}"),
            Record::Done { step } => write!(f, "done {step}"),
            Record::Fault { fault, step } => write!(f, "fault {fault}@{step}"),
            Record::Decision { action, step: Some(s), .. } => write!(f, "decide {action} (step {s})"),
            Record::Decision { action, .. } => write!(f, "decide {action}"),
            Record::Note { text } => write!(f, "note {text:?}"),
            Record::Correction { of_seq, replacement: Some(r), .. } => {
                write!(f, "correct seq {of_seq}: {} at {}", r.record, r.at)
            }
            Record::Correction { of_seq, .. } => write!(f, "withdraw seq {of_seq}"),
        }
    }
}

/// One stored record: its place, when it happened, who recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    pub at: Stamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub record: Record,
    /// The writer's idempotency key, if it gave one: a write retried with
    /// the same key is recorded once (the bridge's `POST /api/track`).
    /// Kept in the record, so in the chain, and read back after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Entry {
    /// The canonical encoding: the bytes stored and chained.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).expect("entries serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_keep_their_offset_and_round_trip() {
        let s = Stamp::parse("2025-03-01T18:00:00+01:00").unwrap();
        assert_eq!(s.to_string(), "2025-03-01T18:00:00.000+01:00");
        assert_eq!(Stamp::parse(&s.to_string()).unwrap(), s);
        assert_eq!(s.unix_ms(), Stamp::parse("2025-03-01T17:00:00Z").unwrap().unix_ms());
        assert_eq!(
            Stamp::parse("2025-03-01T18:00:00").unwrap_err().to_string(),
            "\"2025-03-01T18:00:00\" has no offset"
        );
        assert!(matches!(Stamp::parse("18:00 on Saturday"), Err(StampError::Malformed(_))));
    }

    #[test]
    fn entries_round_trip_through_their_encoding() {
        let at = Stamp::parse("2025-03-01T18:00:00.250+01:00").unwrap();
        let e = Entry {
            seq: 3,
            at,
            by: Some("ana".into()),
            record: Record::Correction {
                of_seq: 2,
                why: "typo".into(),
                replacement: Some(Replacement { at, record: Box::new(Record::Done { step: "a".into() }) }),
            },
            key: None,
        };
        let text = e.canonical();
        assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), e);
        assert!(
            text.starts_with(
                r#"{"seq":3,"at":"2025-03-01T18:00:00.250+01:00","by":"ana","record":{"kind":"correction""#
            )
        );
    }
}
