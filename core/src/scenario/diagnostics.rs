//! Errors with places: every problem found in a scenario text, each with
//! its line and column.

use std::fmt;

/// Every problem found in one scenario text.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub origin: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// One located problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// 1-based line and column.
    pub line: u32,
    pub col: u32,
    /// The step it concerns, if any.
    pub step: Option<String>,
    pub message: String,
}

impl ScenarioError {
    pub(super) fn single(origin: &str, text: &str, at: usize, step: Option<String>, message: String) -> ScenarioError {
        let (line, col) = line_col(text, at);
        ScenarioError { origin: origin.to_string(), diagnostics: vec![Diagnostic { line, col, step, message }] }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: ", self.origin, d.line, d.col)?;
            if let Some(step) = &d.step {
                write!(f, "step `{step}`: ")?;
            }
            f.write_str(&d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Where each line of a text starts: line numbers by binary search, so a
/// plan of thousands of steps is not scanned once per step.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    line_starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { text, line_starts }
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        (line as u32, self.text[start..offset].chars().count() as u32 + 1)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    LineIndex::new(text).line_col(offset)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index against the plainest reading of "line and column": count
    /// the newlines before the offset, then the characters since the last.
    #[test]
    fn the_line_index_agrees_with_scanning_the_text() {
        fn scan(text: &str, offset: usize) -> (u32, u32) {
            let offset = floor_char_boundary(text, offset.min(text.len()));
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let col = before[line_start..].chars().count() + 1;
            (line as u32, col as u32)
        }
        let text = "a = 1\n\nname = \"Ümlaut ✓\"\r\nx = [\n  \"é\" ]\nlast";
        let v = LineIndex::new(text);
        for offset in 0..=text.len() + 3 {
            assert_eq!(v.line_col(offset), scan(text, offset), "offset {offset}");
            assert_eq!(line_col(text, offset), scan(text, offset), "offset {offset}");
        }
        assert_eq!(v.line_col(text.find("x =").unwrap()), (4, 1));
        assert_eq!(v.line_col(text.find('✓').unwrap()), (3, 16));
    }
}
