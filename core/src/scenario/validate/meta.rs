//! The plan's header: `[scenario]` (name, window, start) and `[database]`
//! (size and tables).

use std::collections::BTreeMap;

use toml::Spanned;

use super::Validator;
use crate::scenario::model::{Database, MAX_CHANGES_PER_HOUR, MAX_ROWS, MAX_SIZE_GB, Meta, Table};
use crate::scenario::raw::{RawDatabase, RawMeta};
use crate::time::{Calendar, SimDuration};

impl Validator<'_> {
    pub(super) fn meta(&mut self, raw: RawMeta) -> Meta {
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        if name.trim().is_empty() {
            self.error(&name_span, None, "scenario name is empty; give the plan a name");
        }
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
        let start = raw.start.and_then(|s| {
            let text = match s.get_ref() {
                toml::Value::String(t) => t.clone(),
                toml::Value::Datetime(dt) => dt.to_string(),
                other => {
                    self.error(
                        &s.span(),
                        None,
                        format!(
                            "start must be a date and time like \"2026-12-05T18:00:00\", found {}",
                            other.type_str()
                        ),
                    );
                    return None;
                }
            };
            match Calendar::parse(&text) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.error(&s.span(), None, format!("start: {e}"));
                    None
                }
            }
        });
        Meta { name, source: raw.source, description: raw.description, window, window_confidence, start }
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
        Database { size_gb, collation: raw.collation, tables }
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
