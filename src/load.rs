//! Reading scenario files, with errors that name the file.

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

/// Reads and parses a scenario; all errors become one message.
pub fn scenario(path: &Path) -> Result<(Scenario, String)> {
    let text = read_text(path)?;
    match parse(path, &text) {
        Ok(s) => Ok((s, text)),
        Err(e) => {
            let n = e.diagnostics.len();
            Err(anyhow::anyhow!("{e}\n{n} error{} in {}", if n == 1 { "" } else { "s" }, path.display()))
        }
    }
}
