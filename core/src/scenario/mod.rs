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
    Anchor, Database, Decision, Dep, DowntimeMark, Driver, FACTOR_UNIT, MAX_CHANGES_PER_HOUR, MAX_ROWS, MAX_SIZE_GB,
    MAX_SPAN, Meta, Resource, Scaled, Scenario, Step, StepDuration, StepIdx, Table, Upgrade, Work,
};
pub use suggest::{Suggester, suggest};

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
        let (raw, problems) = raw::read(text);
        let mut v = Validator::new(text);
        for (at, step, message) in problems {
            let (line, col) = line_col(text, at);
            v.diags.push(Diagnostic { line, col, step, message });
        }
        let scenario = raw.and_then(|raw| v.scenario(raw));
        if v.diags.is_empty() {
            return Ok(scenario.expect("a scenario is built whenever no error was reported"));
        }
        v.diags.sort_by_key(|d| (d.line, d.col));
        Err(ScenarioError { origin: origin.to_string(), diagnostics: v.diags })
    }
}
