//! Calendar time for a plan: the instant its downtime begins, in a time
//! zone, and the deadline it must end by (`downtime_begins_at`,
//! `window_end`, `time_zone` in `[scenario]`).
//!
//! Display, fixed slots (`not_before`) and working hours
//! (`[[resource]] available`). Simulated time stays milliseconds since the run started;
//! a run is placed on the calendar afterwards, so that *its* downtime
//! begins at the anchor: the calendar time of simulated time `t` is the
//! anchor plus `t` minus the run's downtime begin. Runs differ in when
//! their downtime begins (replication started a week before takes as long
//! as it takes), and the business signs off the downtime, not the first
//! step.
//!
//! Time zones come from the IANA database compiled into the binary
//! (`jiff`'s `tzdb-bundle-always`), never the machine's
//! `/usr/share/zoneinfo`: a plan shows the same times on every machine.
//! Arithmetic is exact: "12 hours after 18:00 the day before the clocks go
//! forward" is 07:00 the next morning, and a window from Saturday 18:00 to
//! Monday 06:00 across that night is 35 hours, not 36.

use std::fmt::Write as _;
use std::sync::OnceLock;

use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::time::{SimDuration, SimTime};

/// The IANA time zone database bundled into the binary.
fn tzdb() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// The time zone an IANA name (`Europe/Berlin`, any case) names, from the
/// bundled database.
///
/// # Errors
/// [`AnchorError::UnknownZone`] for a name the database does not hold.
///
/// # Examples
/// ```
/// let tz = rehearse_core::anchor::time_zone("europe/berlin").unwrap();
/// assert_eq!(tz.iana_name(), Some("Europe/Berlin"));
/// assert!(rehearse_core::anchor::time_zone("Europe/Berln").is_err());
/// ```
pub fn time_zone(name: &str) -> Result<TimeZone, AnchorError> {
    tzdb().get(name.trim()).map_err(|_| AnchorError::UnknownZone { name: name.to_string() })
}

/// Every zone name in the bundled database, sorted (for did-you-mean hints).
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = tzdb().available().map(|n| n.as_str().to_string()).collect();
    names.sort();
    names
}

/// Reads an instant: RFC 3339 with an offset (`2027-03-05T18:00:00+01:00`,
/// `...Z`), or a civil date and time (`2027-03-05T18:00:00`) placed in
/// `zone`. With both an offset and a zone, the offset must be the zone's
/// at that instant. The result is in `zone` when one is given, else in the
/// text's fixed offset.
///
/// # Errors
/// An [`AnchorError`]: not a date and time, no time of day, a bracketed
/// zone annotation, no offset and no zone, an offset the zone does not
/// have then, a civil time the zone skips (clocks going forward) or has
/// twice (clocks going back).
///
/// # Examples
/// ```
/// use rehearse_core::anchor::{instant, time_zone};
/// let berlin = time_zone("Europe/Berlin").unwrap();
/// let a = instant("2027-03-05T18:00:00", Some(&berlin)).unwrap();
/// let b = instant("2027-03-05T18:00:00+01:00", None).unwrap();
/// assert_eq!(a.timestamp(), b.timestamp());
/// assert!(instant("2027-03-28T02:30:00", Some(&berlin)).is_err()); // skipped
/// assert!(instant("2027-03-05T18:00:00", None).is_err()); // which zone?
/// ```
pub fn instant(text: &str, zone: Option<&TimeZone>) -> Result<Zoned, AnchorError> {
    let t = text.trim();
    let malformed = |why: String| AnchorError::Malformed { text: text.to_string(), why };
    let pieces = Pieces::parse(t).map_err(|e| malformed(e.to_string()))?;
    if pieces.time_zone_annotation().is_some() {
        return Err(AnchorError::Annotation { text: text.to_string() });
    }
    let Some(time) = pieces.time() else {
        return Err(malformed("it has no time of day".to_string()));
    };
    let civil = pieces.date().to_datetime(time);
    match (pieces.offset().map(|o| o.to_numeric_offset()), zone) {
        (Some(offset), zone) => {
            let ts = offset.to_timestamp(civil).map_err(|e| malformed(e.to_string()))?;
            match zone {
                None => Ok(ts.to_zoned(TimeZone::fixed(offset))),
                Some(z) => {
                    let zone_offset = z.to_offset(ts);
                    if zone_offset != offset {
                        return Err(AnchorError::OffsetMismatch {
                            text: text.to_string(),
                            offset: offset_text(offset),
                            zone: zone_label(z),
                            zone_offset: offset_text(zone_offset),
                        });
                    }
                    Ok(ts.to_zoned(z.clone()))
                }
            }
        }
        (None, None) => Err(AnchorError::NoZone { text: text.to_string() }),
        (None, Some(z)) => {
            let amb = z.to_ambiguous_zoned(civil);
            match amb.offset() {
                AmbiguousOffset::Unambiguous { .. } => amb.unambiguous().map_err(|e| malformed(e.to_string())),
                AmbiguousOffset::Gap { before, after } => Err(AnchorError::Skipped {
                    text: text.to_string(),
                    zone: zone_label(z),
                    before: offset_text(before),
                    after: offset_text(after),
                }),
                AmbiguousOffset::Fold { before, after } => Err(AnchorError::Twice {
                    text: text.to_string(),
                    zone: zone_label(z),
                    before: offset_text(before),
                    after: offset_text(after),
                }),
            }
        }
    }
}

/// Where a plan sits in calendar time: the instant its downtime begins, in
/// the zone its times are shown in, and the deadline, if it has one.
///
/// Built by the scenario's validation from `[scenario] downtime_begins_at`
/// (with `time_zone`) and `window_end`; held as `Meta::anchor`. Offsets
/// are signed milliseconds since downtime began: a step before the AOS
/// went off is at a negative offset.
///
/// # Examples
/// ```
/// use rehearse_core::anchor::{CalendarAnchor, instant, time_zone};
/// use rehearse_core::time::MS_PER_H;
/// let berlin = time_zone("Europe/Berlin").unwrap();
/// let begins = instant("2027-03-27T18:00:00", Some(&berlin)).unwrap();
/// let end = instant("2027-03-29T06:00:00", Some(&berlin)).unwrap();
/// let a = CalendarAnchor::new(begins, Some(end)).unwrap();
/// // The clocks go forward that night: 18:00 + 12 h is 07:00 summer time.
/// assert_eq!(a.rfc3339(12 * MS_PER_H as i64), "2027-03-28T07:00:00+02:00");
/// assert_eq!(a.display(12 * MS_PER_H as i64), "Sun 2027-03-28 07:00 +02:00");
/// assert_eq!(a.window().unwrap().as_ms(), 35 * MS_PER_H); // not 36
/// ```
#[derive(Clone, Debug)]
pub struct CalendarAnchor {
    begins: Zoned,
    end: Option<Timestamp>,
}

impl PartialEq for CalendarAnchor {
    /// The same instants shown in the same zone (`Zoned`'s own equality
    /// compares instants only).
    fn eq(&self, other: &Self) -> bool {
        self.begins.timestamp() == other.begins.timestamp()
            && self.begins.time_zone() == other.begins.time_zone()
            && self.end == other.end
    }
}

impl CalendarAnchor {
    /// An anchor whose downtime begins at `begins` (shown in its zone), with
    /// the deadline `window_end`.
    ///
    /// # Errors
    /// [`AnchorError::EndNotAfter`] when the deadline is not after the
    /// beginning.
    pub fn new(begins: Zoned, window_end: Option<Zoned>) -> Result<Self, AnchorError> {
        if let Some(end) = &window_end
            && end.timestamp() <= begins.timestamp()
        {
            return Err(AnchorError::EndNotAfter {
                end: display(end),
                begins: display(&begins.with_time_zone(end.time_zone().clone())),
            });
        }
        Ok(CalendarAnchor { begins, end: window_end.map(|e| e.timestamp()) })
    }

    /// When downtime begins, in the anchor's zone.
    pub fn downtime_begins(&self) -> &Zoned {
        &self.begins
    }

    /// The deadline (`window_end`), in the anchor's zone.
    pub fn window_end(&self) -> Option<Zoned> {
        self.end.map(|e| e.to_zoned(self.begins.time_zone().clone()))
    }

    /// The window `window_end` implies: the exact time from downtime's
    /// beginning to the deadline (a night the clocks go forward counts an
    /// hour less than the wall clocks say), in whole milliseconds.
    pub fn window(&self) -> Option<SimDuration> {
        let end = self.end?;
        let ms = end.duration_since(self.begins.timestamp()).as_millis();
        Some(SimDuration(u64::try_from(ms).unwrap_or(0)))
    }

    /// The zone times are shown in: its IANA name (`Europe/Berlin`), or the
    /// fixed offset the anchor was written with (`+01:00`).
    pub fn zone_label(&self) -> String {
        zone_label(self.begins.time_zone())
    }

    /// The instant `ms` milliseconds after downtime began (before, when
    /// negative), in the anchor's zone; `None` past the calendar's range
    /// (years -9999 to 9999).
    pub fn at_downtime_offset(&self, ms: i64) -> Option<Zoned> {
        self.begins.checked_add(SignedDuration::from_millis(ms)).ok()
    }

    /// `2027-03-07T10:32:45+01:00`: RFC 3339 to the second (milliseconds
    /// truncated), always with a numeric offset, never `Z`. Past the
    /// calendar's range, `downtime + 1d 02:03:04` (or `-`).
    pub fn rfc3339(&self, ms: i64) -> String {
        self.at_downtime_offset(ms).map_or_else(|| relative(ms), |z| rfc3339(&z))
    }

    /// `Sun 2027-03-07 10:32 +01:00`: for people, to the minute (seconds
    /// truncated), with the weekday and the offset.
    pub fn display(&self, ms: i64) -> String {
        self.at_downtime_offset(ms).map_or_else(|| relative(ms), |z| display(&z))
    }

    /// `2027-03-07 10:32:45 +01:00`: a timeline's column, to the second.
    pub fn stamp(&self, ms: i64) -> String {
        self.at_downtime_offset(ms).map_or_else(|| relative(ms), |z| stamp(&z))
    }

    /// The first time at or after `ms` (from downtime's begin) that lies
    /// within `hours` on this calendar: `ms` itself when it does, else
    /// the next opening (a day the clocks change counts as it is).
    pub fn next_within(&self, ms: i64, hours: Hours) -> i64 {
        let Some(z) = self.at_downtime_offset(ms) else { return ms };
        let minute = z.hour() as u16 * 60 + z.minute() as u16;
        if hours.contains(minute) {
            return ms;
        }
        let date = if minute < hours.from_min { Some(z.date()) } else { z.date().tomorrow().ok() };
        let open = date.and_then(|d| {
            d.at((hours.from_min / 60) as i8, (hours.from_min % 60) as i8, 0, 0).to_zoned(z.time_zone().clone()).ok()
        });
        open.map_or(ms, |o| {
            let d = o.timestamp().duration_since(self.begins.timestamp()).as_millis();
            i64::try_from(d).unwrap_or(i64::MAX).max(ms)
        })
    }

    /// This anchor placed for one run: its downtime began at `downtime_began`
    /// (simulated time), so that is when the anchor's instant falls.
    pub fn placed(&self, downtime_began: SimTime) -> PlacedCalendar<'_> {
        PlacedCalendar { anchor: self, downtime_began }
    }
}

/// Working hours on a plan's calendar (`"08:00-20:00"`), in minutes of
/// the day: from `from_min` up to, not including, `to_min`; across
/// midnight when `to_min` is the smaller (`"22:00-06:00"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hours {
    pub from_min: u16,
    pub to_min: u16,
}

impl Hours {
    /// `"HH:MM-HH:MM"` (24:00 for midnight at the end).
    ///
    /// # Errors
    /// Anything else, or a range of no time at all, in words.
    pub fn parse(text: &str) -> Result<Hours, String> {
        let minute = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
        };
        let (a, b) = text.split_once('-').ok_or_else(|| format!("{text:?} is not \"HH:MM-HH:MM\""))?;
        let (Some(from_min), Some(to_min)) = (minute(a), minute(b)) else {
            return Err(format!("{text:?} is not \"HH:MM-HH:MM\" with times from 00:00 to 24:00"));
        };
        if from_min % (24 * 60) == to_min % (24 * 60) {
            return Err(format!("{text:?} is no time at all (or all of it: leave `available` out)"));
        }
        Ok(Hours {
            from_min: from_min % (24 * 60),
            // At most 24:00, which stays the end of the day.
            to_min,
        })
    }

    /// Whether minute `m` of the day lies within.
    pub fn contains(self, m: u16) -> bool {
        if self.from_min < self.to_min {
            (self.from_min..self.to_min).contains(&m)
        } else {
            m >= self.from_min || m < self.to_min
        }
    }
}

/// An anchor placed for one run: simulated times to calendar times.
#[derive(Clone, Copy, Debug)]
pub struct PlacedCalendar<'a> {
    anchor: &'a CalendarAnchor,
    downtime_began: SimTime,
}

impl PlacedCalendar<'_> {
    /// Signed milliseconds from the run's downtime begin to `t`.
    pub fn offset_ms(&self, t: SimTime) -> i64 {
        let d = i128::from(t.as_ms()) - i128::from(self.downtime_began.as_ms());
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The calendar time of `t`, in the anchor's zone.
    pub fn at(&self, t: SimTime) -> Option<Zoned> {
        self.anchor.at_downtime_offset(self.offset_ms(t))
    }

    /// See [`CalendarAnchor::rfc3339`].
    pub fn rfc3339(&self, t: SimTime) -> String {
        self.anchor.rfc3339(self.offset_ms(t))
    }

    /// See [`CalendarAnchor::display`].
    pub fn display(&self, t: SimTime) -> String {
        self.anchor.display(self.offset_ms(t))
    }

    /// See [`CalendarAnchor::stamp`].
    pub fn stamp(&self, t: SimTime) -> String {
        self.anchor.stamp(self.offset_ms(t))
    }

    /// The civil (wall-clock) time of `t` in the anchor's zone.
    pub fn civil(&self, t: SimTime) -> Option<DateTime> {
        self.at(t).map(|z| z.datetime())
    }
}

fn zone_label(tz: &TimeZone) -> String {
    match tz.iana_name() {
        Some(name) => name.to_string(),
        None => offset_text(tz.to_offset(Timestamp::UNIX_EPOCH)),
    }
}

/// `+01:00`, `-05:30`, `+00:00` (seconds of historic offsets dropped).
fn offset_text(o: Offset) -> String {
    let s = o.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
}

fn ymd_hm(z: &Zoned, out: &mut String, sep: char) {
    let _ = write!(out, "{:04}-{:02}-{:02}{sep}{:02}:{:02}", z.year(), z.month(), z.day(), z.hour(), z.minute());
}

fn rfc3339(z: &Zoned) -> String {
    let mut s = String::with_capacity(25);
    ymd_hm(z, &mut s, 'T');
    let _ = write!(s, ":{:02}{}", z.second(), offset_text(z.offset()));
    s
}

fn display(z: &Zoned) -> String {
    let mut s = z.strftime("%a ").to_string();
    ymd_hm(z, &mut s, ' ');
    let _ = write!(s, " {}", offset_text(z.offset()));
    s
}

fn stamp(z: &Zoned) -> String {
    let mut s = String::with_capacity(26);
    ymd_hm(z, &mut s, ' ');
    let _ = write!(s, ":{:02} {}", z.second(), offset_text(z.offset()));
    s
}

fn relative(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    format!("downtime {sign} {}", SimDuration(ms.unsigned_abs()).hms())
}

/// Why a calendar anchor, or a time for one, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("\"{text}\" is not a date and time like \"2027-03-05T18:00:00+01:00\": {why}")]
    Malformed { text: String, why: String },
    #[error(
        "\"{text}\" has neither an offset nor a time zone: add the offset (\"2027-03-05T18:00:00+01:00\") or name the zone with time_zone = \"Europe/Berlin\""
    )]
    NoZone { text: String },
    #[error("\"{text}\" names its zone in brackets; write the time without it and the zone as time_zone = \"...\"")]
    Annotation { text: String },
    #[error("\"{text}\" says {offset}, but {zone} is at {zone_offset} then; correct the offset or drop it")]
    OffsetMismatch { text: String, offset: String, zone: String, zone_offset: String },
    #[error(
        "\"{text}\" does not exist in {zone}: the clocks go from {before} to {after} over it; pick a time outside the gap"
    )]
    Skipped { text: String, zone: String, before: String, after: String },
    #[error(
        "\"{text}\" happens twice in {zone} (first at {before}, then at {after}, when the clocks go back); add the offset to say which"
    )]
    Twice { text: String, zone: String, before: String, after: String },
    #[error("unknown time zone \"{name}\"; expected an IANA name like \"Europe/Berlin\"")]
    UnknownZone { name: String },
    #[error("window_end ({end}) is not after downtime_begins_at ({begins})")]
    EndNotAfter { end: String, begins: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{MS_PER_H, MS_PER_M};

    fn berlin() -> TimeZone {
        time_zone("Europe/Berlin").unwrap()
    }

    fn anchor(begins: &str, end: Option<&str>) -> CalendarAnchor {
        let z = berlin();
        CalendarAnchor::new(instant(begins, Some(&z)).unwrap(), end.map(|e| instant(e, Some(&z)).unwrap())).unwrap()
    }

    #[test]
    fn an_offset_is_kept_and_shown() {
        let z = instant("2027-03-05T18:00:00+01:00", None).unwrap();
        let a = CalendarAnchor::new(z, None).unwrap();
        assert_eq!(a.zone_label(), "+01:00");
        assert_eq!(a.rfc3339(0), "2027-03-05T18:00:00+01:00");
        // A fixed offset stays fixed: no daylight saving is invented.
        assert_eq!(a.rfc3339(30 * 24 * MS_PER_H as i64), "2027-04-04T18:00:00+01:00");
        let utc = CalendarAnchor::new(instant("2027-03-05T17:00:00Z", None).unwrap(), None).unwrap();
        assert_eq!(utc.rfc3339(0), "2027-03-05T17:00:00+00:00");
        assert_eq!(utc.at_downtime_offset(0), a.at_downtime_offset(0));
    }

    #[test]
    fn the_clocks_going_forward_are_honoured() {
        let a = anchor("2027-03-27T18:00:00", None);
        assert_eq!(a.stamp(0), "2027-03-27 18:00:00 +01:00");
        assert_eq!(a.stamp(8 * MS_PER_H as i64 - 1), "2027-03-28 01:59:59 +01:00");
        assert_eq!(a.stamp(8 * MS_PER_H as i64), "2027-03-28 03:00:00 +02:00");
        assert_eq!(a.stamp(12 * MS_PER_H as i64), "2027-03-28 07:00:00 +02:00");
        assert_eq!(a.display(-(6 * 24 * MS_PER_H as i64)), "Sun 2027-03-21 18:00 +01:00");
        assert_eq!(a.rfc3339(12 * MS_PER_H as i64 + 32 * MS_PER_M as i64 + 45_999), "2027-03-28T07:32:45+02:00");
    }

    #[test]
    fn a_window_across_the_change_is_exact() {
        // Wall clocks say 36 h; the night is an hour short.
        assert_eq!(anchor("2027-03-27T18:00:00", Some("2027-03-29T06:00:00")).window().unwrap().as_ms(), 35 * MS_PER_H);
        // And an hour long when they go back (31 October 2027).
        assert_eq!(anchor("2027-10-30T18:00:00", Some("2027-11-01T06:00:00")).window().unwrap().as_ms(), 37 * MS_PER_H);
        assert_eq!(anchor("2027-03-05T18:00:00", Some("2027-03-08T06:00:00")).window().unwrap().as_ms(), 60 * MS_PER_H);
    }

    #[test]
    fn times_the_zone_skips_or_repeats_are_refused() {
        let z = berlin();
        let e = instant("2027-03-28T02:30:00", Some(&z)).unwrap_err();
        assert!(matches!(e, AnchorError::Skipped { .. }), "{e}");
        assert!(e.to_string().contains("from +01:00 to +02:00"), "{e}");
        let e = instant("2027-10-31T02:30:00", Some(&z)).unwrap_err();
        assert!(matches!(e, AnchorError::Twice { .. }), "{e}");
        // With the offset, the repeated hour is either one.
        let first = instant("2027-10-31T02:30:00+02:00", Some(&z)).unwrap();
        let second = instant("2027-10-31T02:30:00+01:00", Some(&z)).unwrap();
        assert_eq!(second.timestamp().duration_since(first.timestamp()), SignedDuration::from_hours(1));
    }

    #[test]
    fn offsets_zones_and_forms_are_checked() {
        let z = berlin();
        assert!(matches!(instant("2027-03-05T18:00:00", None), Err(AnchorError::NoZone { .. })));
        let e = instant("2027-07-05T18:00:00+01:00", Some(&z)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"2027-07-05T18:00:00+01:00\" says +01:00, but Europe/Berlin is at +02:00 then; correct the offset or drop it"
        );
        assert!(matches!(instant("2027-03-05[Europe/Berlin]", Some(&z)), Err(AnchorError::Annotation { .. })));
        assert!(matches!(instant("2027-03-05", Some(&z)), Err(AnchorError::Malformed { .. })));
        assert!(matches!(instant("next friday", Some(&z)), Err(AnchorError::Malformed { .. })));
        assert!(matches!(time_zone("Mars/Olympus"), Err(AnchorError::UnknownZone { .. })));
        let begins = instant("2027-03-05T18:00:00", Some(&z)).unwrap();
        let e = CalendarAnchor::new(begins.clone(), Some(begins)).unwrap_err();
        assert!(matches!(e, AnchorError::EndNotAfter { .. }), "{e}");
    }

    /// Working hours: inside, the time itself; before the opening, that
    /// day's; after closing, the next day's; across midnight too.
    #[test]
    fn the_next_time_within_working_hours() {
        let a = anchor("2027-03-05T18:00:00", None); // a Friday, 18:00 Berlin
        let day = Hours::parse("08:00-20:00").unwrap();
        assert_eq!(a.next_within(0, day), 0);
        assert_eq!(a.next_within(2 * MS_PER_H as i64, day), 14 * MS_PER_H as i64, "20:00: tomorrow 08:00");
        assert_eq!(a.next_within(-11 * MS_PER_H as i64, day), -10 * MS_PER_H as i64, "07:00: 08:00 that day");
        let night = Hours::parse("22:00-06:00").unwrap();
        assert_eq!(a.next_within(0, night), 4 * MS_PER_H as i64);
        assert_eq!(a.next_within(7 * MS_PER_H as i64, night), 7 * MS_PER_H as i64, "01:00 is inside");
        assert!(Hours::parse("8-20").is_err());
        assert!(Hours::parse("08:00-08:00").is_err());
        assert!(Hours::parse("25:00-08:00").is_err());
        assert!(Hours::parse("00:00-24:00").is_err(), "all day: no hours to keep");
        assert_eq!(Hours::parse("06:00-24:00").map(|h| (h.from_min, h.to_min)), Ok((360, 1440)));
    }

    #[test]
    fn a_run_is_placed_by_its_own_downtime() {
        let a = anchor("2027-03-05T18:00:00", None);
        // Replication ran a week; downtime began 168 h into the run.
        let p = a.placed(SimTime(168 * MS_PER_H));
        assert_eq!(p.stamp(SimTime(0)), "2027-02-26 18:00:00 +01:00");
        assert_eq!(p.stamp(SimTime(168 * MS_PER_H)), "2027-03-05 18:00:00 +01:00");
        assert_eq!(p.rfc3339(SimTime(170 * MS_PER_H)), "2027-03-05T20:00:00+01:00");
        assert_eq!(p.offset_ms(SimTime(0)), -168 * MS_PER_H as i64);
        // Far beyond the calendar, a relative time rather than a panic.
        assert_eq!(a.rfc3339(i64::MAX), format!("downtime + {}", SimDuration(i64::MAX as u64).hms()));
    }

    #[test]
    fn the_bundled_database_holds_the_zones() {
        let names = zone_names();
        assert!(names.len() > 300, "{}", names.len());
        assert!(names.iter().any(|n| n == "Europe/Berlin"));
        assert_eq!(time_zone("EUROPE/berlin").unwrap().iana_name(), Some("Europe/Berlin"));
    }
}
