//! Simulated time in integer milliseconds: parsing human durations, printing
//! clock and calendar times.
//!
//! Integer milliseconds keep every sum exact and every run reproducible: no
//! floating-point drift can move a step across a millisecond boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds in one second, minute, hour and day.
pub const MS_PER_S: u64 = 1_000;
pub const MS_PER_M: u64 = 60 * MS_PER_S;
pub const MS_PER_H: u64 = 60 * MS_PER_M;
pub const MS_PER_D: u64 = 24 * MS_PER_H;

/// A point in simulated time: milliseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimTime(pub u64);

/// A length of simulated time, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    pub fn as_ms(self) -> u64 {
        self.0
    }

    /// The time `d` after `self`, saturating at the end of representable time.
    pub fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// The duration from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub fn from_ms(ms: u64) -> Self {
        SimDuration(ms)
    }
    pub fn from_secs(s: u64) -> Self {
        SimDuration(s * MS_PER_S)
    }
    pub fn from_mins(m: u64) -> Self {
        SimDuration(m * MS_PER_M)
    }
    pub fn from_hours(h: u64) -> Self {
        SimDuration(h * MS_PER_H)
    }
    pub fn from_days(d: u64) -> Self {
        SimDuration(d * MS_PER_D)
    }
    pub fn as_ms(self) -> u64 {
        self.0
    }

    /// Parses a human duration: `250ms`, `90s`, `1.5s`, `45m`, `1h30m`,
    /// `2d`, `1h8m27.215s`, or a clock form `10:48:06.077` (`H:MM:SS[.mmm]`).
    ///
    /// Units are written largest first, each at most once. A decimal
    /// fraction is allowed on the last component as long as the result is a
    /// whole number of milliseconds.
    ///
    /// # Errors
    /// Returns a [`DurationError`] for empty or negative input, unknown units,
    /// units out of order or repeated, sub-millisecond precision and overflow.
    ///
    /// # Examples
    /// ```
    /// use rehearse_core::time::SimDuration;
    /// assert_eq!(SimDuration::parse("1h30m").unwrap(), SimDuration::from_mins(90));
    /// assert_eq!(SimDuration::parse("250ms").unwrap().as_ms(), 250);
    /// assert_eq!(SimDuration::parse("10:48:06.077").unwrap().as_ms(), 38_886_077);
    /// ```
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if s.starts_with('-') {
            return Err(DurationError::Negative(text.to_string()));
        }
        if s.contains(':') {
            return parse_clock(s).ok_or_else(|| DurationError::Malformed(text.to_string()));
        }
        parse_units(s, text)
    }

    /// Prints as `HH:MM:SS`, with a day count in front when needed
    /// (`1d 02:03:04`). Milliseconds are truncated.
    pub fn hms(self) -> String {
        let (d, h, m, s, _) = split(self.0);
        if d > 0 { format!("{d}d {h:02}:{m:02}:{s:02}") } else { format!("{h:02}:{m:02}:{s:02}") }
    }

    /// Prints as `HH:MM:SS.mmm` (days in front when needed).
    pub fn hms_ms(self) -> String {
        let (d, h, m, s, ms) = split(self.0);
        if d > 0 { format!("{d}d {h:02}:{m:02}:{s:02}.{ms:03}") } else { format!("{h:02}:{m:02}:{s:02}.{ms:03}") }
    }
}

fn split(ms: u64) -> (u64, u64, u64, u64, u64) {
    (ms / MS_PER_D, ms % MS_PER_D / MS_PER_H, ms % MS_PER_H / MS_PER_M, ms % MS_PER_M / MS_PER_S, ms % MS_PER_S)
}

/// The compact human form accepted by [`SimDuration::parse`]: `1h30m`,
/// `250ms`, `1h8m27.215s`, `0ms`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, h, m, s, ms) = split(self.0);
        if self.0 == 0 {
            return f.write_str("0ms");
        }
        if self.0 < MS_PER_S {
            return write!(f, "{ms}ms");
        }
        let mut out = String::new();
        for (v, unit) in [(d, "d"), (h, "h"), (m, "m")] {
            if v > 0 {
                out.push_str(&format!("{v}{unit}"));
            }
        }
        if s > 0 || ms > 0 {
            if ms > 0 {
                let frac = format!("{ms:03}");
                out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
            } else {
                out.push_str(&format!("{s}s"));
            }
        }
        f.write_str(&out)
    }
}

impl fmt::Display for SimTime {
    /// Time since the run started, as `HH:MM:SS.mmm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&SimDuration(self.0).hms_ms())
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; expected something like \"45m\" or \"1h30m\"")]
    Empty,
    #[error("negative duration \"{0}\"; durations are lengths of time and cannot be negative")]
    Negative(String),
    #[error(
        "malformed duration \"{0}\"; expected numbers with units d, h, m, s, ms, largest first (\"1h30m\", \"250ms\", \"2d\") or a clock \"H:MM:SS[.mmm]\""
    )]
    Malformed(String),
    #[error("duration \"{0}\" is finer than a millisecond, the simulator's resolution")]
    TooPrecise(String),
    #[error("duration \"{0}\" is too large to represent")]
    Overflow(String),
}

/// Parses `d`, `h`, `m`, `s`, `ms` components, largest first.
fn parse_units(s: &str, original: &str) -> Result<SimDuration, DurationError> {
    const UNITS: [(&str, u64); 5] = [("d", MS_PER_D), ("h", MS_PER_H), ("ms", 1), ("m", MS_PER_M), ("s", MS_PER_S)];
    let malformed = || DurationError::Malformed(original.to_string());
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    // Rank of the last unit seen (d=0 .. ms=4), to enforce largest-first.
    let mut last_rank: Option<usize> = None;
    let mut saw_fraction = false;
    while i < bytes.len() {
        if saw_fraction {
            // A fraction is only allowed on the last component.
            return Err(malformed());
        }
        let num_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_') {
            i += 1;
        }
        let number = &s[num_start..i];
        if number.is_empty() {
            return Err(malformed());
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let (rank, unit_ms) = match unit {
            "d" => (0, UNITS[0].1),
            "h" => (1, UNITS[1].1),
            "m" => (2, UNITS[3].1),
            "s" => (3, UNITS[4].1),
            "ms" => (4, UNITS[2].1),
            _ => return Err(malformed()),
        };
        if last_rank.is_some_and(|r| r >= rank) {
            return Err(malformed());
        }
        last_rank = Some(rank);
        let (int_part, frac_part) = match number.split_once('.') {
            Some((a, b)) => {
                saw_fraction = true;
                (a, b)
            }
            None => (number, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(malformed());
        }
        let int_digits: String = int_part.chars().filter(|c| *c != '_').collect();
        let int_value: u64 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| DurationError::Overflow(original.to_string()))?
        };
        let mut ms = int_value.checked_mul(unit_ms).ok_or_else(|| DurationError::Overflow(original.to_string()))?;
        if !frac_part.is_empty() {
            if !frac_part.bytes().all(|b| b.is_ascii_digit()) || frac_part.len() > 12 {
                return Err(malformed());
            }
            // fraction * unit_ms must be a whole number of milliseconds.
            let digits: u64 = frac_part.parse().map_err(|_| malformed())?;
            let scale = 10u64.pow(frac_part.len() as u32);
            let numerator = (digits as u128) * (unit_ms as u128);
            if !numerator.is_multiple_of(scale as u128) {
                return Err(DurationError::TooPrecise(original.to_string()));
            }
            ms = ms
                .checked_add((numerator / scale as u128) as u64)
                .ok_or_else(|| DurationError::Overflow(original.to_string()))?;
        }
        total = total.checked_add(ms).ok_or_else(|| DurationError::Overflow(original.to_string()))?;
    }
    Ok(SimDuration(total))
}

/// Parses `H:MM:SS` or `H:MM:SS.mmm` (hours may exceed 24).
fn parse_clock(s: &str) -> Option<SimDuration> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let h: u64 = parts[0].parse().ok()?;
    let m: u64 = parts[1].parse().ok()?;
    let sec: u64 = parts[2].parse().ok()?;
    if m >= 60 || sec >= 60 || parts[1].len() != 2 || parts[2].len() != 2 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(f) if (1..=3).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10u64.pow(3 - f.len() as u32)
        }
        Some(_) => return None,
    };
    h.checked_mul(MS_PER_H)?.checked_add(m * MS_PER_M + sec * MS_PER_S + ms).map(SimDuration)
}

/// Maps simulated time onto a calendar, for display only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendar {
    start: jiff::civil::DateTime,
}

impl Calendar {
    pub fn new(start: jiff::civil::DateTime) -> Self {
        Calendar { start }
    }

    /// Parses `2026-12-05T18:00`, `2026-12-05T18:00:00`, `2026-12-05 18:00:00.000`.
    ///
    /// A calendar start is a wall-clock time with no zone, so an offset
    /// (`+01:00`, `Z`) or a zone annotation is refused rather than dropped:
    /// a plan placed in a zone says so with `downtime_begins_at` and
    /// `time_zone` (see [`crate::anchor`]).
    ///
    /// # Errors
    /// [`CalendarError::Malformed`], naming the expected form, when the text
    /// is not a civil date and time; [`CalendarError::Offset`] when it
    /// carries an offset or a zone.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let t = text.trim();
        // jiff's civil parser ignores a numeric offset (and refuses `Z`
        // with a message about something else): look for one first.
        if let Ok(pieces) = jiff::fmt::temporal::Pieces::parse(t)
            && (pieces.offset().is_some() || pieces.time_zone_annotation().is_some())
        {
            return Err(CalendarError::Offset { text: text.to_string() });
        }
        t.parse::<jiff::civil::DateTime>()
            .map(Calendar::new)
            .map_err(|e| CalendarError::Malformed { text: text.to_string(), why: e.to_string() })
    }

    pub fn start(&self) -> jiff::civil::DateTime {
        self.start
    }

    /// The calendar time of `t`, or `None` past the end of the calendar.
    pub fn at(&self, t: SimTime) -> Option<jiff::civil::DateTime> {
        let ms = i64::try_from(t.0).ok()?;
        self.start.checked_add(jiff::SignedDuration::from_millis(ms)).ok()
    }

    /// `2022-05-20 06:28:01.020`.
    pub fn format(&self, t: SimTime) -> String {
        match self.at(t) {
            // Written out by hand: stores format every step's start and end.
            Some(dt) if (0..=9999).contains(&dt.year()) => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.millisecond()
            ),
            Some(dt) => dt.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string(),
            None => format!("start + {}", SimDuration(t.0).hms_ms()),
        }
    }
}

/// A text that is not a calendar start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not a date and time; `why` is what the date-time parser said.
    #[error("\"{text}\" is not a date and time like \"2026-12-05T18:00:00\": {why}")]
    Malformed { text: String, why: String },
    /// A date and time with an offset or a zone, which a civil start would lose.
    #[error(
        "\"{text}\" carries an offset or zone, which a calendar start cannot keep (it is a wall-clock time with none); drop it, or anchor the plan with downtime_begins_at (and time_zone), which honour one"
    )]
    Offset { text: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected_ms: Option<u64>) {
        let got = SimDuration::parse(input).ok().map(|d| d.as_ms());
        assert_eq!(got, expected_ms, "parsing {input:?}");
    }

    #[test]
    fn calendar_times_are_written_like_sql_server_datetimes() {
        let c = Calendar::parse("2022-05-20T06:28:01.020").unwrap();
        assert_eq!(c.format(SimTime(0)), "2022-05-20 06:28:01.020");
        assert_eq!(c.format(SimTime(MS_PER_D + 7)), "2022-05-21 06:28:01.027");
        for ms in [0, 1, 999, 59_999, 86_399_999, 400 * MS_PER_D + 12_345] {
            let dt = c.at(SimTime(ms)).unwrap();
            assert_eq!(c.format(SimTime(ms)), dt.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string());
        }
    }

    #[test]
    fn a_start_with_an_offset_is_refused_not_dropped() {
        for text in ["2026-12-05T18:00:00+01:00", "2026-12-05T18:00:00Z", "2026-12-05T18:00:00[Europe/Berlin]"] {
            assert!(matches!(Calendar::parse(text), Err(CalendarError::Offset { .. })), "{text}");
        }
        assert!(matches!(Calendar::parse("18:00 on Friday"), Err(CalendarError::Malformed { .. })));
        assert_eq!(Calendar::parse(" 2026-12-05 18:00 ").unwrap().format(SimTime(0)), "2026-12-05 18:00:00.000");
    }

    #[test]
    fn parses_human_durations() {
        check("250ms", Some(250));
        check("90s", Some(90_000));
        check("45m", Some(45 * MS_PER_M));
        check("1h30m", Some(90 * MS_PER_M));
        check("2d", Some(2 * MS_PER_D));
        check("1.5s", Some(1_500));
        check("0.5h", Some(30 * MS_PER_M));
        check("1h8m27.215s", Some(MS_PER_H + 8 * MS_PER_M + 27_215));
        check("0ms", Some(0));
        check("10:48:06.077", Some(38_886_077));
        check("1:00:00", Some(MS_PER_H));
        check(" 15m ", Some(15 * MS_PER_M));
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in [
            "",
            "-5m",
            "5",
            "m",
            "5x",
            "30m1h",
            "1h1h",
            "1.5h30m",
            "0.0001s",
            "1:2:3",
            "1:00:60",
            "1..5s",
            "99999999999999999999d",
        ] {
            assert!(SimDuration::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(matches!(SimDuration::parse("-5m"), Err(DurationError::Negative(_))));
        assert!(matches!(SimDuration::parse("0.0001s"), Err(DurationError::TooPrecise(_))));
    }

    #[test]
    fn display_round_trips() {
        for ms in [0, 1, 999, 1_000, 1_500, 61_000, 3_600_000, 38_886_077, 2 * MS_PER_D + 5] {
            let d = SimDuration(ms);
            assert_eq!(SimDuration::parse(&d.to_string()).unwrap(), d, "{d}");
        }
    }

    #[test]
    fn prints_clock_forms() {
        assert_eq!(SimDuration(38_886_077).hms(), "10:48:06");
        assert_eq!(SimDuration(38_886_077).hms_ms(), "10:48:06.077");
        assert_eq!(SimDuration(MS_PER_D + 3_723_000).hms(), "1d 01:02:03");
    }

    #[test]
    fn calendar_maps_sim_time() {
        let cal = Calendar::parse("2022-05-20T06:28:01.020").unwrap();
        assert_eq!(cal.format(SimTime(38_886_077)), "2022-05-20 17:16:07.097");
        assert_eq!(cal.format(SimTime(MS_PER_D)), "2022-05-21 06:28:01.020");
        assert!(Calendar::parse("friday evening").is_err());
    }
}
