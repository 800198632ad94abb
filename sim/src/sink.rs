//! Event sinks: where a run's events go, one at a time, as they happen.

use std::io;

use rehearse_core::event::EventRecord;

/// Receives a run's events in order.
pub trait EventSink {
    /// Takes one event.
    ///
    /// # Errors
    /// An I/O error from the underlying writer.
    fn record(&mut self, rec: &EventRecord) -> io::Result<()>;

    /// Whether it looks at the events at all. A sink that does not (Monte
    /// Carlo's) saves the engine from building them: the run, its
    /// numbering and its limits are the same either way.
    fn wants_events(&self) -> bool {
        true
    }

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
    fn wants_events(&self) -> bool {
        false
    }
}

/// An optional sink: `None` drops the events.
impl<S: EventSink> EventSink for Option<S> {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        match self {
            Some(s) => s.record(rec),
            None => Ok(()),
        }
    }
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Some(s) => s.finish(),
            None => Ok(()),
        }
    }
    fn wants_events(&self) -> bool {
        self.as_ref().is_some_and(EventSink::wants_events)
    }
}

/// Sends each event to two sinks.
pub struct Tee<'a, A: EventSink + ?Sized, B: EventSink + ?Sized>(pub &'a mut A, pub &'a mut B);

impl<A: EventSink + ?Sized, B: EventSink + ?Sized> EventSink for Tee<'_, A, B> {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        self.0.record(rec)?;
        self.1.record(rec)
    }
    fn wants_events(&self) -> bool {
        self.0.wants_events() || self.1.wants_events()
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
