//! Reading event logs back: JSON Lines as written by [`crate::JsonlWriter`],
//! resolved against the scenario they were run from.

use rehearse_core::event::EventRecord;
use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::{Scenario, StepIdx};

/// Why a log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("line {line}: not an event record: {message}")]
    Malformed { line: usize, message: String },
    #[error("line {line} (event seq {seq}): step `{step}` is not in the scenario")]
    UnknownStep { line: usize, seq: u64, step: String },
    #[error("line {line} (event seq {seq}): fault `{fault}` is not in the scenario")]
    UnknownFault { line: usize, seq: u64, fault: String },
    #[error("line {line}: the log ends in the middle of a line (truncated?)")]
    Truncated { line: usize },
}

/// Parses a JSON Lines event log.
///
/// # Errors
/// The first line that is not a well-formed event of this scenario.
pub fn read_jsonl(text: &str, scenario: &Scenario) -> Result<Vec<EventRecord>, LogError> {
    let mut out = Vec::new();
    let n_lines = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let named: EventRecord<String, String> = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) if line_no == n_lines && !text.ends_with('\n') && e.is_eof() => {
                return Err(LogError::Truncated { line: line_no });
            }
            Err(e) => {
                return Err(LogError::Malformed { line: line_no, message: e.to_string() });
            }
        };
        let event = named.event.map_names(
            |id| {
                scenario.find(id).ok_or_else(|| LogError::UnknownStep {
                    line: line_no,
                    seq: named.seq,
                    step: id.clone(),
                })
            },
            |id| {
                scenario
                    .faults
                    .iter()
                    .position(|f| &f.id == id)
                    .map(|i| FaultIdx(i as u32))
                    .ok_or_else(|| LogError::UnknownFault { line: line_no, seq: named.seq, fault: id.clone() })
            },
        )?;
        out.push(EventRecord::<StepIdx> { seq: named.seq, at: named.at, event });
    }
    Ok(out)
}
