//! The event store: the canonical encoding of events, its hash chain, and
//! the two formats that hold it — JSON Lines ([`JsonlWriter`], [`read_jsonl`])
//! and SQLite ([`sqlite`]).
//!
//! Each event is encoded as one JSON object with the step and fault ids
//! (`{"seq":..,"at":..,"event":{..}}`, fields in declaration order). Each
//! stored event also carries `chain`: the first 16 bytes of
//! SHA-256(previous chain ‖ canonical encoding), starting from 16 zero
//! bytes. A changed, dropped or reordered event breaks the chain at that
//! event, in either format.

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
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    let d = h.finalize();
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
    pub fn new(scenario: &'s Scenario) -> Self {
        Encoder { scenario, buf: Vec::with_capacity(160), chain: GENESIS }
    }

    /// The canonical encoding of `rec` and its chain link.
    ///
    /// # Errors
    /// Serialization errors (none are expected for well-formed events).
    pub fn encode(&mut self, rec: &EventRecord) -> io::Result<(&[u8], Chain)> {
        let (steps, faults) = (&self.scenario.steps, &self.scenario.faults);
        let event = rec
            .event
            .map_names(|i| Ok::<&str, ()>(steps[i.index()].id.as_str()), |f| Ok(faults[f.index()].id.as_str()))
            .expect("indexes come from this scenario");
        let named = EventRecord { seq: rec.seq, at: rec.at, event };
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &named).map_err(io::Error::other)?;
        self.chain = chain_next(&self.chain, &self.buf);
        Ok((&self.buf, self.chain))
    }
}

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
        let (canonical, chain) = self.enc.encode(rec)?;
        self.line.clear();
        // `{...}` becomes `{...,"chain":"<32 hex>"}`.
        self.line.extend_from_slice(&canonical[..canonical.len() - 1]);
        self.line.extend_from_slice(b",\"chain\":\"");
        self.line.extend_from_slice(hex(&chain).as_bytes());
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
    #[error("line {line}: the log ends in the middle of a line (truncated?)")]
    Truncated { line: usize },
    #[error("event seq {seq}: the hash chain breaks here: the event was changed, or an earlier one dropped")]
    ChainBroken { seq: u64 },
    #[error("event seq {seq}: step `{step}` is not in the scenario")]
    UnknownStep { seq: u64, step: String },
    #[error("event seq {seq}: fault `{fault}` is not in the scenario")]
    UnknownFault { seq: u64, fault: String },
}

/// Verifies stored events one at a time against the chain and resolves
/// their names against the scenario.
pub struct Verifier<'s> {
    steps: BTreeMap<&'s str, StepIdx>,
    faults: BTreeMap<&'s str, FaultIdx>,
    chain: Chain,
}

impl<'s> Verifier<'s> {
    pub fn new(scenario: &'s Scenario) -> Self {
        Verifier {
            steps: scenario.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), StepIdx(i as u32))).collect(),
            faults: scenario.faults.iter().enumerate().map(|(i, f)| (f.id.as_str(), FaultIdx(i as u32))).collect(),
            chain: GENESIS,
        }
    }

    /// Checks one event given as its stored canonical JSON and its chain
    /// link. The chain covers the stored bytes: any change to them, even
    /// to spacing, breaks it.
    ///
    /// # Errors
    /// [`LogError::Malformed`] (with `line` 0: the caller knows the place),
    /// [`LogError::ChainBroken`], unknown names.
    pub fn verify(&mut self, canonical: &str, link: &Chain) -> Result<EventRecord, LogError> {
        let named: EventRecord<&str, &str> =
            serde_json::from_str(canonical).map_err(|e| LogError::Malformed { line: 0, message: e.to_string() })?;
        let expected = chain_next(&self.chain, canonical.as_bytes());
        if &expected != link {
            return Err(LogError::ChainBroken { seq: named.seq });
        }
        self.chain = expected;
        let seq = named.seq;
        let event = named.event.map_names(
            |id| self.steps.get(id).copied().ok_or_else(|| LogError::UnknownStep { seq, step: id.to_string() }),
            |id| self.faults.get(id).copied().ok_or_else(|| LogError::UnknownFault { seq, fault: id.to_string() }),
        )?;
        Ok(EventRecord { seq, at: named.at, event })
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
        match v.verify(&canonical, &link) {
            Ok(r) => records.push(r),
            Err(LogError::Malformed { message, .. }) => {
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
