//! The run table's shape: which rows (`View`), the columns at a width
//! (`Layout`), and the text bars and cut names its rows are made of.

/// The widest the step column and the timeline get (what a wide terminal
/// or `--width 0` shows).
const NAME_WIDTH: usize = 48;
const BAR_WIDTH: usize = 32;
const NAME_MIN: usize = 16;
const BAR_MIN: usize = 8;

/// Which rows of a run the table shows, and how they are grouped.
#[derive(Clone, Copy, Debug, Default)]
pub struct View {
    /// Grouped by workstream (`--by workstream`) rather than one list.
    pub by_workstream: bool,
    /// Only the steps that ran while the system was down.
    pub downtime_only: bool,
}

/// The columns of the run table at a width: the end column only where it
/// fits beside a useful name and bar (the start and the duration say it
/// anyway), the rest shared between the name (2/3) and the bar.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub name_w: usize,
    pub show_end: bool,
    pub bar_w: usize,
}

impl Layout {
    pub fn new(width: usize, time_w: usize, dur_w: usize) -> Layout {
        // mark, and the gaps before start, duration and bar.
        let fixed = 2 + 2 + time_w + 2 + dur_w + 2;
        let show_end = width >= fixed + 2 + time_w + NAME_MIN + 8 + BAR_MIN;
        let fixed = fixed + if show_end { 2 + time_w } else { 0 };
        // No limit is as good as room for the widest name and bar.
        let avail = width.saturating_sub(fixed).min(NAME_WIDTH + BAR_WIDTH + 2);
        let name_w = (avail * 2 / 3).clamp(NAME_MIN, NAME_WIDTH);
        let bar_w = avail.saturating_sub(name_w).min(BAR_WIDTH);
        if bar_w < BAR_MIN {
            return Layout { name_w: avail.clamp(NAME_MIN, NAME_WIDTH), show_end, bar_w: 0 };
        }
        Layout { name_w, show_end, bar_w }
    }
}

/// A bar from `start` to `end` on a line `span` long drawn `width` wide.
pub fn bar(start: u64, end: u64, span: u64, width: usize) -> String {
    let scale = |t: u64| ((t as u128 * width as u128) / span as u128) as usize;
    let (a, b) = (scale(start).min(width - 1), scale(end).min(width));
    let mut s = " ".repeat(a);
    if end <= start {
        s.push('|');
    } else {
        s.push_str(&"#".repeat(b.saturating_sub(a).max(1)));
    }
    s
}

pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width - 3).collect();
        t.push_str("...");
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row's width at `width` with times `time_w` and durations
    /// `dur_w` wide: mark, name, start, end if shown, duration, bar.
    fn check(width: usize, time_w: usize, dur_w: usize, show_end: bool, row_w: usize) {
        let l = Layout::new(width, time_w, dur_w);
        let row = 2 + l.name_w + 2 + time_w + if l.show_end { 2 + time_w } else { 0 } + 2 + dur_w + 2 + l.bar_w;
        assert_eq!((l.show_end, row), (show_end, row_w), "{l:?} at {width}");
    }

    #[test]
    fn the_columns_share_the_width() {
        check(80, 23, 15, false, 80);
        check(120, 23, 15, true, 120);
        check(80, 15, 15, false, 80);
        // No limit: the widest name and bar, and no wider.
        check(usize::MAX, 23, 15, true, 2 + 48 + 2 + 23 + 2 + 23 + 2 + 15 + 2 + 32);
    }

    #[test]
    fn bars_and_names_stay_in_their_columns() {
        assert_eq!(bar(0, 50, 100, 10), "#####");
        assert_eq!(bar(100, 100, 100, 10), "         |");
        assert_eq!(truncate("abcdefgh", 6), "abc...");
        assert_eq!(truncate("abc", 6), "abc");
    }
}
