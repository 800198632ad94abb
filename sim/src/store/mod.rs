//! The event store: the canonical encoding of events, its hash chain, and
//! the two formats that hold it — JSON Lines ([`JsonlWriter`], [`read_jsonl`])
//! and SQLite ([`sqlite`]).
//!
//! Each event is encoded as one JSON object with the step and fault ids
//! (`{"seq":..,"at":..,"event":{..}}`, fields in declaration order). Each
//! stored event also carries `chain`: the first 16 bytes of
//! SHA-256(previous chain ‖ canonical encoding), starting from 16 zero
//! bytes in a JSON Lines log, from the run's identity in a SQLite store. A
//! changed, dropped or reordered event breaks the chain at that event, in
//! either format.

pub mod projection;
pub mod sqlite;

use std::io::{self, Write};

use rehearse_core::event::EventRecord;
use std::collections::BTreeMap;

use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::{Scenario, StepIdx};
use sha2::{Digest, Sha256};

use crate::sink::{EventSink, hex};

/// A link of the hash chain.
pub type Chain = [u8; 16];

/// The chain before the first event.
pub const GENESIS: Chain = [0; 16];

/// The next link: the first 16 bytes of SHA-256(prev ‖ canonical).
pub fn chain_next(prev: &Chain, canonical: &[u8]) -> Chain {
    let d = Sha256::new_with_prefix(prev).chain_update(canonical).finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// Encodes records canonically, names resolved, and keeps the chain.
pub struct Encoder<'s> {
    scenario: &'s Scenario,
    buf: Vec<u8>,
    chain: Chain,
}

impl<'s> Encoder<'s> {
    /// An encoder whose chain starts from zeros (a JSON Lines log's).
    pub fn new(scenario: &'s Scenario) -> Self {
        Self::after(scenario, GENESIS)
    }

    /// An encoder whose chain starts from `link` (a run store's starts from
    /// the run's identity).
    pub fn after(scenario: &'s Scenario, link: Chain) -> Self {
        Encoder { scenario, buf: Vec::with_capacity(160), chain: link }
    }

    /// The canonical encoding of `rec` and its chain link.
    ///
    /// # Errors
    /// Serialization errors (none are expected for well-formed events).
    pub fn encode(&mut self, rec: &EventRecord) -> io::Result<(&[u8], Chain)> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let chain = self.encode_into(rec, &mut buf);
        self.buf = buf;
        Ok((&self.buf, chain?))
    }

    /// Appends the canonical encoding of `rec` to `out` (left as it was on
    /// error) and returns its chain link.
    ///
    /// # Errors
    /// Serialization errors (none are expected for well-formed events).
    pub fn encode_into(&mut self, rec: &EventRecord, out: &mut Vec<u8>) -> io::Result<Chain> {
        let (steps, faults) = (&self.scenario.steps, &self.scenario.faults);
        let event = rec
            .event
            .map_names(|i| Ok::<&str, ()>(steps[i.index()].id.as_str()), |f| Ok(faults[f.index()].id.as_str()))
            .expect("indexes come from this scenario");
        let named = EventRecord { seq: rec.seq, at: rec.at, event };
        let start = out.len();
        // serde_json's bytes, written directly where the record allows
        // (every kind but three rare ones), else by serde_json.
        if !named.write_canonical(out)
            && let Err(e) = serde_json::to_writer(&mut *out, &named)
        {
            out.truncate(start);
            return Err(io::Error::other(e));
        }
        self.chain = chain_next(&self.chain, &out[start..]);
        Ok(self.chain)
    }
}

/// Lowercase hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes the canonical event stream as JSON Lines, one event a line, each
/// with its chain link. Hashes exactly the bytes it writes (SHA-256), so the
/// printed hash is the hash of the file.
pub struct JsonlWriter<'s, W: Write> {
    out: W,
    enc: Encoder<'s>,
    line: Vec<u8>,
    hasher: Sha256,
}

impl<'s, W: Write> JsonlWriter<'s, W> {
    pub fn new(out: W, scenario: &'s Scenario) -> Self {
        JsonlWriter { out, enc: Encoder::new(scenario), line: Vec::with_capacity(200), hasher: Sha256::new() }
    }

    /// The SHA-256 of everything written so far, as 64 hex digits.
    pub fn hash(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    /// The writer back, once done.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> EventSink for JsonlWriter<'_, W> {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        self.line.clear();
        let chain = self.enc.encode_into(rec, &mut self.line)?;
        // `{...}` becomes `{...,"chain":"<32 hex>"}`.
        self.line.pop();
        self.line.extend_from_slice(b",\"chain\":\"");
        for b in chain {
            self.line.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        self.line.extend_from_slice(b"\"}\n");
        self.hasher.update(&self.line);
        self.out.write_all(&self.line)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Why a stored stream could not be read in full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("line {line}: not an event record: {message}")]
    Malformed { line: usize, message: String },
    #[error("event seq {seq}: not an event record: {message}")]
    NotARecord { seq: u64, message: String },
    #[error("line {line}: the log ends in the middle of a line (truncated?)")]
    Truncated { line: usize },
    #[error("event seq {seq}: the hash chain breaks here: the event was changed, or an earlier one dropped")]
    ChainBroken { seq: u64 },
    #[error("event seq {seq}: step `{step}` is not in the scenario")]
    UnknownStep { seq: u64, step: String },
    #[error("event seq {seq}: fault `{fault}` is not in the scenario")]
    UnknownFault { seq: u64, fault: String },
    #[error("event seq {seq}: the stored `{column}` column does not match the event")]
    ColumnDiffers { seq: u64, column: &'static str },
}

/// Verifies stored events one at a time against the chain and resolves
/// their names against the scenario.
pub struct Verifier<'s> {
    /// By (length, id): most comparisons end at the length.
    steps: BTreeMap<(usize, &'s str), StepIdx>,
    faults: BTreeMap<(usize, &'s str), FaultIdx>,
    chain: Chain,
}

impl<'s> Verifier<'s> {
    /// A verifier of a chain that starts from zeros (a JSON Lines log's).
    pub fn new(scenario: &'s Scenario) -> Self {
        Self::after(scenario, GENESIS)
    }

    /// A verifier of a chain that starts from `link` (a run store's: the
    /// run's identity).
    pub fn after(scenario: &'s Scenario, link: Chain) -> Self {
        Verifier {
            steps: scenario
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| ((s.id.len(), s.id.as_str()), StepIdx(i as u32)))
                .collect(),
            faults: scenario
                .faults
                .iter()
                .enumerate()
                .map(|(i, f)| ((f.id.len(), f.id.as_str()), FaultIdx(i as u32)))
                .collect(),
            chain: link,
        }
    }

    /// Checks one event given as its stored canonical JSON and its chain
    /// link; `at` is the seq its place in the log gives it, which errors
    /// name (not the seq a damaged record claims). The chain covers the
    /// stored bytes: any change to them, even to spacing, breaks it.
    ///
    /// # Errors
    /// [`LogError::NotARecord`], [`LogError::ChainBroken`], unknown names.
    pub fn verify(&mut self, at: u64, canonical: &str, link: &Chain) -> Result<EventRecord, LogError> {
        let record = self.check(at, &self.chain, canonical, link)?;
        self.chain = *link;
        Ok(record)
    }

    /// As [`Verifier::verify`], for the event that follows the link `prev`.
    /// Each event of a stored chain can be checked on its own against the
    /// stored link before it: up to the first break, the stored links are
    /// the computed ones.
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub fn check(&self, at: u64, prev: &Chain, canonical: &str, link: &Chain) -> Result<EventRecord, LogError> {
        let named = parse_record(canonical).map_err(|e| LogError::NotARecord { seq: at, message: e.to_string() })?;
        if &chain_next(prev, canonical.as_bytes()) != link {
            return Err(LogError::ChainBroken { seq: at });
        }
        // Errors name the place; the record keeps the seq it holds, which
        // callers hold to its place.
        let seq = at;
        let event = named.event.map_names(
            |id| {
                self.steps
                    .get(&(id.len(), *id))
                    .copied()
                    .ok_or_else(|| LogError::UnknownStep { seq, step: id.to_string() })
            },
            |id| {
                self.faults
                    .get(&(id.len(), *id))
                    .copied()
                    .ok_or_else(|| LogError::UnknownFault { seq, fault: id.to_string() })
            },
        )?;
        Ok(EventRecord { seq: named.seq, at: named.at, event })
    }
}

/// Parses a stored canonical record, names as strings: in the canonical
/// form the writers give it, by [`EventRecord::read_canonical`] (several
/// times faster); anything else through serde, which reads what that
/// reads the same, and says what is wrong with the rest.
///
/// # Errors
/// serde's, for anything that is not an event record.
pub fn parse_record(canonical: &str) -> Result<EventRecord<&str, &str>, serde_json::Error> {
    match EventRecord::read_canonical(canonical) {
        Some(record) => Ok(record),
        None => serde_json::from_str(canonical),
    }
}

/// Splits a stored JSON Lines line into its canonical record and chain link:
/// `{...,"chain":"<32 hex>"}` gives `{...}` and the link.
fn split_line(line: &str) -> Option<(String, Chain)> {
    const KEY: &str = ",\"chain\":\"";
    let at = line.rfind(KEY)?;
    let tail = &line[at + KEY.len()..];
    let hex = tail.strip_suffix("\"}")?;
    let link = unhex16(hex)?;
    let mut canonical = String::with_capacity(at + 1);
    canonical.push_str(&line[..at]);
    canonical.push('}');
    Some((canonical, link))
}

/// The valid events of a log, and what stopped the reading, if anything.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRead {
    pub records: Vec<EventRecord>,
    pub damage: Option<LogError>,
}

/// Reads a JSON Lines log as far as it is valid.
pub fn read_jsonl_prefix(text: &str, scenario: &Scenario) -> LogRead {
    let mut v = Verifier::new(scenario);
    let mut records = Vec::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\n').trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let last_unterminated = i + 1 == lines.len() && !raw.ends_with('\n');
        let next_seq = records.last().map_or(0, |r: &EventRecord| r.seq + 1);
        let Some((canonical, link)) = split_line(line) else {
            let damage = if last_unterminated {
                LogError::Truncated { line: line_no }
            } else {
                LogError::Malformed {
                    line: line_no,
                    message: format!("event seq {next_seq}: no valid `chain` at the end of the line"),
                }
            };
            return LogRead { records, damage: Some(damage) };
        };
        match v.verify(next_seq, &canonical, &link) {
            Ok(r) if r.seq != next_seq => {
                let message = format!("event seq {next_seq}: the record says it is seq {}", r.seq);
                return LogRead { records, damage: Some(LogError::Malformed { line: line_no, message }) };
            }
            Ok(r) => records.push(r),
            Err(LogError::NotARecord { message, .. }) => {
                return LogRead { records, damage: Some(LogError::Malformed { line: line_no, message }) };
            }
            Err(e) => return LogRead { records, damage: Some(e) },
        }
    }
    LogRead { records, damage: None }
}

/// Reads a whole JSON Lines log; any damage is an error.
///
/// # Errors
/// The first problem: malformed or truncated line, broken chain, unknown name.
pub fn read_jsonl(text: &str, scenario: &Scenario) -> Result<Vec<EventRecord>, LogError> {
    let read = read_jsonl_prefix(text, scenario);
    match read.damage {
        None => Ok(read.records),
        Some(e) => Err(e),
    }
}

/// 32 hex digits to 16 bytes.
pub fn unhex16(s: &str) -> Option<Chain> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use rehearse_core::data::Checksum;
    use rehearse_core::event::{Event, EventRecord, Mode, Outcome, ScenarioDigest};
    use rehearse_core::fault::Action;
    use rehearse_core::time::SimTime;

    use super::parse_record;

    /// One record of every kind the fast path knows, each field distinct.
    fn samples() -> Vec<EventRecord<&'static str, &'static str>> {
        let events = [
            Event::RunStarted {
                schema: 2,
                scenario: ScenarioDigest(0x0123_4567_89ab_cdef),
                seed: 7,
                run: 8,
                mode: Mode::Median,
            },
            Event::RunStarted {
                schema: 2,
                scenario: ScenarioDigest(u64::MAX),
                seed: u64::MAX,
                run: 0,
                mode: Mode::Random,
            },
            Event::StepStarted { step: "upload", attempt: 1 },
            Event::StepCompleted { step: "a.b-c_d", attempt: 4_294_967_295 },
            Event::FaultInjected { fault: "f1", step: "s1", attempt: 3 },
            Event::StepFailed { step: "s2", attempt: 2 },
            Event::StepOutcomeUnknown { step: "s3", attempt: 5 },
            Event::OutcomeVerified { step: "s4", attempt: 6, completed: true },
            Event::OutcomeVerified { step: "s4", attempt: 6, completed: false },
            Event::RecoveryChosen {
                step: "s5",
                fault: "f2",
                action: Action::RollbackPackage,
                attempt: 1,
                max_attempts: 2,
                reaction_ms: 3,
                extra_ms: 4,
            },
            Event::StepReset { step: "s6" },
            Event::StepAbandoned { step: "s7", attempt: 9 },
            Event::RollbackStarted { step: "s8", late: true },
            Event::RollbackCompleted,
            Event::TableChanged {
                step: "s9",
                table: 10,
                source_rows: 11,
                source_checksum: Checksum(12),
                target_rows: 13,
                target_checksum: Checksum(0xfedc_ba98_7654_3210),
            },
            Event::RecordCountsValidated { step: "s10", matched: false },
            Event::ReplicationBacklog { step: "s11", changes: 123_456_789_012 },
            Event::ChangesReplicated { step: "s14", table: 15, written: 16, backlog: 17 },
            Event::DowntimeBegan { step: "s12" },
            Event::DowntimeEnded { step: "s13" },
            Event::RunFinished { outcome: Outcome::RolledBack },
        ];
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| EventRecord { seq: i as u64 * 1000, at: SimTime(i as u64 * 7919), event })
            .collect()
    }

    fn parse(s: &str) -> Result<EventRecord<&str, &str>, String> {
        parse_record(s).map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_reads_back_as_written() {
        for rec in samples() {
            let text = serde_json::to_string(&rec).unwrap();
            assert!(text.contains(&format!("\"event\":{{\"kind\":\"{}\"", rec.event.kind())), "{text}");
            assert_eq!(parse(&text), Ok(rec), "{text}");
        }
    }

    #[test]
    fn fields_may_come_in_any_order_but_every_field_must_belong() {
        let canonical = r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a","attempt":1}}"#;
        let want = EventRecord { seq: 1, at: SimTime(2), event: Event::StepStarted { step: "a", attempt: 1 } };
        assert_eq!(parse(canonical), Ok(want));
        for reordered in [
            r#"{"seq":1,"at":2,"event":{"attempt":1,"step":"a","kind":"StepStarted"}}"#,
            r#"{"at":2,"event":{"step":"a","kind":"StepStarted","attempt":1},"seq":1}"#,
        ] {
            assert_eq!(parse(reordered), Ok(want), "{reordered}");
        }
        for (text, error) in [
            (
                r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a","attempt":1,"late":true}}"#,
                "unknown field `late` for a StepStarted event",
            ),
            (r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a"}}"#, "missing field `attempt`"),
            (r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a","attempt":1,"x":0}}"#, "unknown field `x`"),
            (r#"{"seq":1,"at":2,"event":{"kind":"SomethingNew","step":"a"}}"#, "unknown variant `SomethingNew`"),
            (
                r#"{"seq":1,"at":2,"event":{"kind":"RollbackCompleted","step":"a"}}"#,
                "unknown field `step` for a RollbackCompleted event",
            ),
            (r#"{"seq":1,"at":2,"event":{"kind":"RunFinished","outcome":"Committed"}}"#, "unknown variant `Committed`"),
            (r#"{"seq":1,"at":2,"event":{"kind":"StepStarted","step":"a","attempt":4294967296}}"#, "invalid value"),
        ] {
            let got = parse(text).expect_err(text);
            assert!(got.contains(error), "{text}: {got}");
        }
    }
}
