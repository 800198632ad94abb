//! `rehearse-sim`: everything that runs — the discrete-event engine, random
//! streams, event sinks and logs, run summaries.
//!
//! Deterministic by construction: the same scenario text, seed and version
//! give the byte-identical event stream, on any machine and thread count.

pub mod actuals;
pub mod backend;
pub mod calibrate;
pub mod check;
pub mod drill;
pub mod engine;
pub mod estimate;
pub mod forecast;
pub mod outlook;
pub mod replay;
pub mod report;
pub mod rng;
pub mod script;
pub mod shard;
pub mod sink;
pub mod store;
pub mod summary;
pub mod track;

use rehearse_core::event::ScenarioDigest;
use rehearse_core::time::{SimDuration, SimTime};
use sha2::{Digest, Sha256};

pub use engine::{FaultMode, Injection, Limits, Plan, RunOptions, Simulator};
pub use sink::{EventSink, MemorySink, NullSink, Tee};
pub use store::{JsonlWriter, LogError, read_jsonl};
pub use summary::{RunSummary, StepTiming};

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(
        "the run exceeded {limit} events (at {at}); a step is probably retried without end — raise the limit with --max-events if the plan is really this long"
    )]
    EventLimit { limit: u64, at: SimTime },
    #[error("step `{step}` would run past the {limit} limit on simulated time; check its duration or raise --max-time")]
    TimeLimit { limit: SimDuration, step: String },
    #[error("steps can never start: {}", waiting.join(", "))]
    Stalled { waiting: Vec<String> },
    #[error("writing events: {0}")]
    Sink(std::io::Error),
    #[error(transparent)]
    Backend(#[from] backend::BackendError),
}

/// The fingerprint of a scenario text: the first 64 bits of its SHA-256.
pub fn digest(text: &str) -> ScenarioDigest {
    let d = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    ScenarioDigest(u64::from_be_bytes(first))
}

/// SHA-256 of bytes, as 64 hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sink::hex(&Sha256::digest(bytes))
}
