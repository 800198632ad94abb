//! Errors with places: every problem found in a scenario text, each with
//! its line and column, and how a report shows them: the first
//! [`SHOWN_ERRORS`], then a count of the rest.

use std::fmt;

/// How many errors a report lists; the rest are counted, not listed (a
/// plan with an error on every step would bury the first under
/// thousands of its kind).
pub const SHOWN_ERRORS: usize = 100;

/// Every problem found in one scenario text, in file order. Its
/// `Display` lists the first [`SHOWN_ERRORS`], one a line, then
/// "... and N more errors".
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
    /// The errors a report lists: the first [`SHOWN_ERRORS`].
    pub fn shown(&self) -> &[Diagnostic] {
        &self.diagnostics[..self.diagnostics.len().min(SHOWN_ERRORS)]
    }

    /// How many errors there are past those [`shown`](Self::shown).
    pub fn n_more(&self) -> usize {
        self.diagnostics.len().saturating_sub(SHOWN_ERRORS)
    }

    /// "... and 4,900 more errors", when some are not shown.
    pub fn more(&self) -> Option<String> {
        let n = self.n_more();
        (n > 0).then(|| format!("... and {} more error{}", grouped(n), if n == 1 { "" } else { "s" }))
    }

    /// One error as a report gives it: `origin:line:col: step `id`: message`.
    pub fn locate<'e>(&'e self, d: &'e Diagnostic) -> impl fmt::Display + 'e {
        Located { origin: &self.origin, d }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.shown().iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.locate(d))?;
        }
        if let Some(more) = self.more() {
            write!(f, "\n{more}")?;
        }
        Ok(())
    }
}

struct Located<'e> {
    origin: &'e str,
    d: &'e Diagnostic,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.d.line, self.d.col)?;
        if let Some(step) = &self.d.step {
            write!(f, "step `{step}`: ")?;
        }
        f.write_str(&self.d.message)
    }
}

/// "1 error", "12 errors", "4,900 errors".
///
/// # Examples
/// ```
/// use rehearse_core::scenario::n_errors;
/// assert_eq!(n_errors(1), "1 error");
/// assert_eq!(n_errors(4_900), "4,900 errors");
/// assert_eq!(n_errors(1_234_567), "1,234,567 errors");
/// ```
pub fn n_errors(n: usize) -> String {
    format!("{} error{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// 4900 -> "4,900".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

    #[test]
    fn a_long_list_is_cut_after_the_first_hundred() {
        let at = |line: u32| Diagnostic { line, col: 2, step: Some(format!("s{line}")), message: "wrong".into() };
        let e = |n: u32| ScenarioError { origin: "plan.toml".into(), diagnostics: (1..=n).map(at).collect() };
        let text = e(100).to_string();
        assert_eq!(text.lines().count(), 100);
        assert_eq!(text.lines().last(), Some("plan.toml:100:2: step `s100`: wrong"));
        assert_eq!((e(100).n_more(), e(100).more()), (0, None));
        let text = e(5_000).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[0], "plan.toml:1:2: step `s1`: wrong");
        assert_eq!(lines[99], "plan.toml:100:2: step `s100`: wrong");
        assert_eq!(lines[100], "... and 4,900 more errors");
        assert_eq!(e(101).more().as_deref(), Some("... and 1 more error"));
        assert_eq!(e(5_000).shown().len(), 100);
        assert_eq!(e(5_000).diagnostics.len(), 5_000, "the error keeps them all");
    }

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
