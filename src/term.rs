//! The terminal the text goes to: how wide a line may be and whether it may
//! be coloured. Every text command writes its lines as before and hands
//! them to [`Term::fit`], which wraps what is too wide and paints the words
//! that matter.

use std::io::IsTerminal;

/// The width of text that goes to a pipe or a file, when neither `--width`
/// nor `COLUMNS` says otherwise: the classic terminal's, so that a saved
/// report reads the same in any editor and a test sees what a terminal of
/// 80 columns would.
pub const PIPED_WIDTH: usize = 80;

/// The narrowest width honoured: below it nothing useful fits.
pub const MIN_WIDTH: usize = 40;

/// Colour is allowed unless `NO_COLOR` is set (<https://no-color.org>); the
/// tracing logs on stderr and the text on stdout follow this one rule.
pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    /// The widest a line may be, in characters (`usize::MAX`: no limit).
    pub width: usize,
    /// Whether to paint with ANSI escape codes.
    pub colour: bool,
}

impl Term {
    /// The terminal stdout goes to. The width: `--width N` (0 for no
    /// limit), else the terminal's own (asked of the terminal, so a
    /// resized window is seen), else `COLUMNS`, else [`PIPED_WIDTH`].
    /// Colour only on a terminal, and never under `NO_COLOR`.
    pub fn stdout(width: Option<usize>) -> Term {
        let out = std::io::stdout();
        let tty = out.is_terminal();
        let asked = |n: usize| if n == 0 { usize::MAX } else { n.max(MIN_WIDTH) };
        let width = match width {
            Some(n) => asked(n),
            None => tty
                .then(|| terminal_size::terminal_size_of(&out).map(|(w, _)| w.0 as usize))
                .flatten()
                .filter(|w| *w > 0)
                .or_else(|| {
                    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|w| *w > 0)
                })
                .map_or(PIPED_WIDTH, asked),
        };
        Term { width, colour: tty && colour_allowed() }
    }

    /// Plain text of any width: what a test compares.
    #[cfg(test)]
    pub fn plain(width: usize) -> Term {
        Term { width, colour: false }
    }

    /// `text` with every line wrapped to the width (a continuation indented
    /// under the line's value) and, on a colour terminal, painted.
    pub fn fit(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        for line in text.lines() {
            for part in wrap_line(line, self.width) {
                if self.colour {
                    out.push_str(&paint(&part));
                } else {
                    out.push_str(&part);
                }
                out.push('\n');
            }
        }
        out
    }
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const RESET: &str = "\x1b[0m";

/// Words that say something went wrong, painted red.
const ALARMS: [&str; 10] = [
    "ROLLED BACK",
    "NO-GO",
    "FAILED",
    "ABANDONED",
    "VIOLATED",
    "EXCEEDED",
    "DISAGREES",
    "OUTCOME UNKNOWN",
    "LATE:",
    "PAST",
];

/// A line with its alarms in red and, on a run's row, the critical path's
/// mark (`*` in the first column) in yellow.
fn paint(line: &str) -> String {
    let mut s = line.to_string();
    for word in ALARMS {
        if s.contains(word) {
            s = s.replace(word, &format!("{RED}{word}{RESET}"));
        }
    }
    if let Some(rest) = s.strip_prefix("* ") {
        s = format!("{YELLOW}*{RESET} {rest}");
    }
    s
}

/// The column a line's continuation starts at: under its value when it is
/// a `key          value` line (a key of a few words, then two spaces or
/// more), else two deeper than its own indent.
fn hanging_indent(line: &str) -> usize {
    let lead = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[lead..];
    if let Some(p) = rest.find("  ")
        && p <= 16
    {
        let after = rest[p..].len() - rest[p..].trim_start_matches(' ').len();
        return lead + p + after;
    }
    lead + 2
}

/// `line` cut into pieces no wider than `width`, at spaces where it can be
/// (a word wider than the line is cut where it must be).
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width {
        return vec![line.to_string()];
    }
    let indent = hanging_indent(line).min(width / 2);
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    let mut rest: String = line.to_string();
    let mut first = true;
    loop {
        let room = if first { width } else { width - indent };
        let chars: Vec<(usize, char)> = rest.char_indices().collect();
        if chars.len() <= room {
            out.push(if first { rest.clone() } else { format!("{pad}{rest}") });
            break;
        }
        // The last space at or before the width, past the indent.
        let floor = if first { indent + 1 } else { 1 };
        let cut = (floor..=room).rev().find(|k| chars[*k].1 == ' ');
        let (head, tail) = match cut {
            Some(k) => (rest[..chars[k].0].trim_end().to_string(), rest[chars[k].0..].trim_start().to_string()),
            None => (rest[..chars[room].0].to_string(), rest[chars[room].0..].to_string()),
        };
        out.push(if first { head } else { format!("{pad}{head}") });
        first = false;
        if tail.is_empty() {
            break;
        }
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, width: usize, expected: &[&str]) {
        let got = wrap_line(line, width);
        assert_eq!(got, expected, "{line:?} at {width}");
        assert!(got.iter().all(|l| l.chars().count() <= width));
    }

    #[test]
    fn lines_wrap_under_their_value() {
        check("short", 10, &["short"]);
        // The indent is at most half the width.
        check("critical path  a b c d e", 20, &["critical path  a b c", "          d e"]);
        check("  one two three four", 12, &["  one two", "    three", "    four"]);
        check("abcdefghijkl", 5, &["abcde", "  fgh", "  ijk", "  l"]);
    }

    #[test]
    fn alarms_are_red_and_the_critical_mark_yellow() {
        let t = Term { width: 80, colour: true };
        let s = t.fit("* step  FAILED\n");
        assert!(s.starts_with(&format!("{YELLOW}*{RESET}")), "{s:?}");
        assert!(s.contains(&format!("{RED}FAILED{RESET}")), "{s:?}");
        assert_eq!(Term::plain(80).fit("* step  FAILED"), "* step  FAILED\n");
    }

    /// The frames a progress bar draws, kept.
    #[derive(Debug, Default, Clone)]
    struct Frames(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl indicatif::TermLike for Frames {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.0.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// #17: the progress bar names its phase from its first frame on (it
    /// was drawn once before the phase was set: "estimate,  [...]").
    #[test]
    fn every_frame_of_the_progress_bar_names_its_phase() {
        let frames = Frames::default();
        let target = indicatif::ProgressDrawTarget::term_like(Box::new(frames.clone()));
        let bar = crate::render::progress_bar_to("estimate", "main runs", 10, target);
        bar.set_position(5);
        bar.finish();
        let frames = frames.0.lock().unwrap();
        assert!(!frames.is_empty());
        for f in frames.iter() {
            assert!(f.starts_with("estimate, main runs ["), "{f:?}");
        }
    }
}
