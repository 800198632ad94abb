//! Reading scenario files, with errors that name the file, and how every
//! command reports a scenario that does not validate.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use rehearse_core::Scenario;
use rehearse_core::scenario::ScenarioError;

/// A scenario file's text, or an error that says which file and why.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let (line, col) =
            rehearse_core::scenario::line_col(std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default(), at);
        anyhow::anyhow!(
            "{}:{line}:{col}: not a text file (invalid UTF-8 here); expected a TOML scenario",
            path.display()
        )
    })
}

/// Parses a scenario, or returns every error found.
pub fn parse(path: &Path, text: &str) -> std::result::Result<Scenario, ScenarioError> {
    Scenario::parse(text, &path.display().to_string())
}

/// Reads and parses a scenario; all errors become one [`Invalid`].
pub fn scenario(path: &Path) -> Result<(Scenario, String)> {
    let text = read_text(path)?;
    match parse(path, &text) {
        Ok(s) => Ok((s, text)),
        Err(e) => Err(Invalid(e).into()),
    }
}

/// A scenario that does not validate, as every command but `validate`
/// reports it (`validate` lists the same lines, with its verdict per file
/// last): each error shown on a line of its own, `error: ` before each
/// but the first (`main` writes that one, as for any error), the rest
/// counted, then the total.
#[derive(Debug)]
pub struct Invalid(pub ScenarioError);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        for (i, d) in e.shown().iter().enumerate() {
            if i > 0 {
                f.write_str("\nerror: ")?;
            }
            write!(f, "{}", e.locate(d))?;
        }
        if let Some(more) = e.more() {
            write!(f, "\n{more}")?;
        }
        write!(f, "\n{} in {}", rehearse_core::scenario::n_errors(e.diagnostics.len()), e.origin)
    }
}

impl std::error::Error for Invalid {}
