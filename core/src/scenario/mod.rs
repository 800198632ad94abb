//! The scenario model: a cutover plan as written in TOML, parsed in two
//! stages — a raw serde model that rejects unknown keys, then a validated
//! [`Scenario`] in which every reference is resolved and checked.
//!
//! Validation does not stop at the first problem: it reports every error it
//! finds, each with the file, line and column, the step it concerns and what
//! was expected.
//!
//! The rooms: `model` (the validated types), `raw` (stage one),
//! `validate` (stage two, by subject), `diagnostics` (errors and their
//! places), `suggest` (did-you-mean) and `graph` (precedence and downtime
//! matching).

mod diagnostics;
mod graph;
mod model;
mod raw;
mod suggest;
mod validate;

pub use diagnostics::{Diagnostic, SHOWN_ERRORS, ScenarioError, line_col, n_errors};
pub use graph::Graph;
pub use model::{
    Anchor, Database, Decision, Dep, DowntimeMark, MAX_CHANGES_PER_HOUR, MAX_ROWS, MAX_SIZE_GB, MAX_SPAN, Meta, Scaled,
    Scenario, Step, StepDuration, StepIdx, Table, Upgrade, Work,
};
pub use suggest::{Suggester, suggest};

use raw::RawFile;
use validate::Validator;

impl Scenario {
    /// Parses and validates a scenario.
    ///
    /// `origin` names the text in messages (usually the file path).
    ///
    /// # Errors
    /// A [`ScenarioError`] listing every problem found, each located by line
    /// and column.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let mut message = e.message().trim().to_string();
            if message.starts_with("missing field") {
                message.push_str(" (required here)");
            }
            ScenarioError::single(origin, text, at, None, message)
        })?;
        let mut v = Validator::new(text);
        let scenario = v.scenario(raw);
        if v.diags.is_empty() {
            Ok(scenario.expect("a scenario is built whenever no error was reported"))
        } else {
            v.diags.sort_by_key(|d| (d.line, d.col));
            Err(ScenarioError { origin: origin.to_string(), diagnostics: v.diags })
        }
    }
}
