//! Event sinks: where a run's events go, one at a time, as they happen.

use std::io::{self, Write};

use rehearse_core::event::EventRecord;
use rehearse_core::scenario::Scenario;
use sha2::{Digest, Sha256};

/// Receives a run's events in order.
pub trait EventSink {
    /// Takes one event.
    ///
    /// # Errors
    /// An I/O error from the underlying writer.
    fn record(&mut self, rec: &EventRecord) -> io::Result<()>;

    /// Called once after the last event.
    ///
    /// # Errors
    /// An I/O error while flushing.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps every event in memory.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub records: Vec<EventRecord>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventSink for MemorySink {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        self.records.push(*rec);
        Ok(())
    }
}

/// Drops every event (for runs where only the summary matters).
#[derive(Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn record(&mut self, _: &EventRecord) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the canonical event stream: JSON Lines, one event a line, steps
/// named by id, fields in declaration order. Hashes exactly the bytes it
/// writes (SHA-256), so the printed hash is the hash of the file.
pub struct JsonlWriter<'s, W: Write> {
    out: W,
    scenario: &'s Scenario,
    line: Vec<u8>,
    hasher: Sha256,
}

impl<'s, W: Write> JsonlWriter<'s, W> {
    pub fn new(out: W, scenario: &'s Scenario) -> Self {
        JsonlWriter { out, scenario, line: Vec::with_capacity(128), hasher: Sha256::new() }
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
        let (steps, faults) = (&self.scenario.steps, &self.scenario.faults);
        let event = rec
            .event
            .map_names(|i| Ok::<&str, ()>(steps[i.index()].id.as_str()), |f| Ok(faults[f.index()].id.as_str()))
            .expect("infallible");
        let named = EventRecord { seq: rec.seq, at: rec.at, event };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &named).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out.write_all(&self.line)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Sends each event to two sinks.
pub struct Tee<'a, A: EventSink + ?Sized, B: EventSink + ?Sized>(pub &'a mut A, pub &'a mut B);

impl<A: EventSink + ?Sized, B: EventSink + ?Sized> EventSink for Tee<'_, A, B> {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        self.0.record(rec)?;
        self.1.record(rec)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
