//! The plan's header: `[scenario]` (name, window, start) and `[database]`
//! (size and tables).

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::Validator;
use crate::anchor::{self, CalendarAnchor};
use crate::scenario::model::{Database, MAX_CHANGES_PER_HOUR, MAX_ROWS, MAX_SIZE_GB, MAX_SPAN, Meta, Table};
use crate::scenario::raw::{RawDatabase, RawMeta};
use crate::scenario::suggest::suggest;
use crate::time::{Calendar, SimDuration};

/// The keys that place a plan on the calendar.
struct Dated {
    begins: Option<Spanned<toml::Value>>,
    end: Option<Spanned<toml::Value>>,
    zone: Option<Spanned<String>>,
}

/// "; did you mean `Europe/Berlin`?" for a misspelt zone name, or nothing.
fn zone_hint(name: &str) -> String {
    let names = anchor::zone_names();
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let refs: Vec<&str> = lower.iter().map(String::as_str).collect();
    suggest(&name.trim().to_ascii_lowercase(), &refs)
        .and_then(|s| lower.iter().position(|n| n == s))
        .map(|i| format!("; did you mean `{}`?", names[i]))
        .unwrap_or_default()
}

impl Validator<'_> {
    /// `[scenario]`, and the span of `downtime_begins_at` when the plan is
    /// anchored (the steps, checked later, must have a downtime to anchor).
    pub(super) fn meta(&mut self, raw: RawMeta) -> (Meta, Option<Range<usize>>) {
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        if name.trim().is_empty() {
            self.error(&name_span, None, "scenario name is empty; give the plan a name");
        }
        let window_span = raw.window.as_ref().map_or(0..0, Spanned::span);
        let window = raw.window.and_then(|w| {
            let span = w.span();
            let d = self.span_duration(&span, None, w.get_ref(), "window")?;
            if d == SimDuration::ZERO {
                self.error(&span, None, "window is zero; it is the downtime the business signed off, e.g. \"48h\"");
                return None;
            }
            Some(d)
        });
        let window_confidence = raw.window_confidence.and_then(|p| {
            let v = *p.get_ref();
            if (0.0..=1.0).contains(&v) {
                Some(v)
            } else {
                self.error(
                    &p.span(),
                    None,
                    format!("window_confidence {v} is not a probability; expected a number in [0, 1]"),
                );
                None
            }
        });
        let start_span = raw.start.as_ref().map(Spanned::span);
        let start = raw.start.and_then(|s| {
            let text = self.datetime_text(&s, "start", "2026-12-05T18:00:00")?;
            match Calendar::parse(&text) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.error(&s.span(), None, format!("start: {e}"));
                    None
                }
            }
        });
        let dated = Dated { begins: raw.downtime_begins_at, end: raw.window_end, zone: raw.time_zone };
        let anchor = self.anchor(dated, window.map(|w| (w, window_span.clone())), start_span);
        let anchor_span = anchor.as_ref().map(|(_, span)| span.clone());
        let anchor = anchor.map(|(a, _)| a);
        let window = window.or_else(|| anchor.as_ref().and_then(CalendarAnchor::window));
        (
            Meta { name, source: raw.source, description: raw.description, window, window_confidence, start, anchor },
            anchor_span,
        )
    }

    /// The text of a date and time given as a string or a bare TOML date-time.
    fn datetime_text(&mut self, v: &Spanned<toml::Value>, what: &str, example: &str) -> Option<String> {
        match v.get_ref() {
            toml::Value::String(t) => Some(t.clone()),
            toml::Value::Datetime(dt) => Some(dt.to_string()),
            other => {
                self.error(
                    &v.span(),
                    None,
                    format!("{what} must be a date and time like \"{example}\", found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// `downtime_begins_at`, `time_zone` and `window_end` into an anchor,
    /// with the span of `downtime_begins_at`; `window` (with its span) must
    /// agree with `window_end`, and `start` (its span) must not be given
    /// too: two rules for one calendar would show one of them wrong.
    fn anchor(
        &mut self,
        raw: Dated,
        window: Option<(SimDuration, Range<usize>)>,
        start: Option<Range<usize>>,
    ) -> Option<(CalendarAnchor, Range<usize>)> {
        let mut zone_failed = false;
        let zone = raw.zone.as_ref().and_then(|z| match anchor::time_zone(z.get_ref()) {
            Ok(tz) => Some(tz),
            Err(e) => {
                let hint = zone_hint(z.get_ref());
                self.error(&z.span(), None, format!("time_zone: {e}{hint}"));
                zone_failed = true;
                None
            }
        });
        let Some(begins) = raw.begins else {
            if let Some(z) = &raw.zone {
                self.error(
                    &z.span(),
                    None,
                    "time_zone places downtime_begins_at, which is missing; give downtime_begins_at = \"2027-03-05T18:00:00\" (or drop time_zone)",
                );
            }
            if let Some(end) = &raw.end {
                self.error(
                    &end.span(),
                    None,
                    "window_end needs downtime_begins_at: the window runs from the moment downtime begins to window_end",
                );
            }
            return None;
        };
        let span = begins.span();
        if let Some(start) = start {
            self.error(
                &start,
                None,
                "start and downtime_begins_at both place the plan on the calendar; drop start (downtime_begins_at places each run so that its downtime begins then)",
            );
        }
        let text = self.datetime_text(&begins, "downtime_begins_at", "2027-03-05T18:00:00+01:00")?;
        if zone_failed {
            return None;
        }
        let begins_at = match anchor::instant(&text, zone.as_ref()) {
            Ok(z) => z,
            Err(e) => {
                self.error(&span, None, format!("downtime_begins_at: {e}"));
                return None;
            }
        };
        let end_at = match &raw.end {
            None => None,
            Some(end) => {
                let text = self.datetime_text(end, "window_end", "2027-03-08T06:00:00+01:00")?;
                match anchor::instant(&text, zone.as_ref()) {
                    Ok(z) => Some((z, end.span())),
                    Err(e) => {
                        self.error(&end.span(), None, format!("window_end: {e}"));
                        return None;
                    }
                }
            }
        };
        let end_span = end_at.as_ref().map(|(_, s)| s.clone());
        let anchor = match CalendarAnchor::new(begins_at, end_at.map(|(z, _)| z)) {
            Ok(a) => a,
            Err(e) => {
                self.error(end_span.as_ref().unwrap_or(&span), None, e.to_string());
                return None;
            }
        };
        if let (Some(derived), Some(end_span)) = (anchor.window(), &end_span) {
            if derived > MAX_SPAN {
                self.error(
                    end_span,
                    None,
                    format!(
                        "window_end is {derived} after downtime_begins_at, beyond the {}-day limit; check the dates",
                        MAX_SPAN.as_ms() / crate::time::MS_PER_D
                    ),
                );
                return None;
            }
            if let Some((w, w_span)) = window
                && w != derived
            {
                let (line, col) = self.line_col(w_span.start);
                self.error(
                    end_span,
                    None,
                    format!(
                        "window_end is {derived} after downtime_begins_at, but window = \"{w}\" (line {line}, column {col}); they must agree: keep one"
                    ),
                );
                return None;
            }
        }
        Some((anchor, span))
    }

    pub(super) fn database(&mut self, raw: Option<RawDatabase>) -> Database {
        let Some(raw) = raw else {
            return Database::default();
        };
        let size_gb = raw.size_gb.and_then(|s| {
            let v = *s.get_ref();
            if v.is_finite() && v > 0.0 && v <= MAX_SIZE_GB {
                Some(v)
            } else {
                self.error(
                    &s.span(),
                    None,
                    format!(
                        "size_gb {v} is not a database size; expected a number of GB above 0 and at most {MAX_SIZE_GB}"
                    ),
                );
                None
            }
        });
        let mut tables = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for t in raw.tables {
            let name = t.name.get_ref().clone();
            if let Some(first) = seen.get(&name.to_ascii_uppercase()) {
                let line = self.line_col(*first).0;
                self.error(&t.name.span(), None, format!("table {name} is listed twice (first on line {line})"));
                continue;
            }
            seen.insert(name.to_ascii_uppercase(), t.name.span().start);
            let rows = self.count(&t.rows, "rows", MAX_ROWS);
            let changes = t
                .changes_per_hour
                .as_ref()
                .map_or(Some(0), |c| self.count(c, "changes_per_hour", MAX_CHANGES_PER_HOUR));
            if let (Some(rows), Some(changes_per_hour)) = (rows, changes) {
                tables.push(Table { name, rows, changes_per_hour, primary_key: t.primary_key.unwrap_or(true) });
            }
        }
        Database { size_gb, collation: raw.collation.map(Spanned::into_inner), tables }
    }

    fn count(&mut self, v: &Spanned<i64>, what: &str, max: u64) -> Option<u64> {
        match u64::try_from(*v.get_ref()) {
            Ok(n) if n <= max => Some(n),
            Ok(n) => {
                self.error(
                    &v.span(),
                    None,
                    format!("{what} is {n}, beyond any real database (at most {max}); check the number"),
                );
                None
            }
            Err(_) => {
                self.error(
                    &v.span(),
                    None,
                    format!("{what} is negative ({}); expected a count of 0 or more", v.get_ref()),
                );
                None
            }
        }
    }
}
