//! Durations: duration strings, distributions, and what each step does
//! with time (a leaf's base and scaled parts, a group's finish lag).

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use crate::dist::{Dist, DistError};
use crate::scenario::model::{Database, MAX_SPAN, Scaled, StepDuration, Work};
use crate::scenario::raw::RawStep;
use crate::time::SimDuration;

const EXPECTED: &str = "expected \"45m\", { uniform = [min, max] }, { triangular = [min, mode, max] }, { pert = [min, most_likely, max] }, { lognormal = { median = \"1h\", p90 = \"2h\" } } or { empirical = [observed, ...] }";

impl Validator<'_> {
    /// What step `s` does with time: a group's finish lag, or a leaf's
    /// duration, held to [`MAX_SPAN`]. `dynamic` steps (replication) may
    /// leave the duration out: the engine works it out as they start.
    pub(super) fn work(&mut self, s: &RawStep, id: &str, is_group: bool, dynamic: bool, db: &Database) -> Option<Work> {
        if is_group {
            return self.group_work(s, id);
        }
        if let Some(v) = &s.finish_lag {
            self.error(
                &v.span(),
                Some(id),
                "finish_lag applies only to a step with sub-steps; put the time in `duration`",
            );
        }
        if s.duration.is_none() && s.per_gb.is_none() && s.per_million_rows.is_none() && !dynamic {
            self.error(&s.id.span(), Some(id), "no duration; expected `duration` (e.g. \"45m\", { pert = [\"1h\", \"2h\", \"4h\"] } or \"instant\"), `per_gb` or `per_million_rows`");
            return None;
        }
        let base = match &s.duration {
            Some(v) => Some(self.dist(v, Some(id), "duration", true)?),
            None => None,
        };
        let per_gb = match &s.per_gb {
            Some(v) => {
                let dist = self.dist(v, Some(id), "per_gb", false)?;
                let Some(units) = db.size_gb else {
                    self.error(&v.span(), Some(id), "per_gb needs the database size: add size_gb under [database]");
                    return None;
                };
                Some(Scaled { dist, units })
            }
            None => None,
        };
        let per_million_rows = self.per_million_rows(s, id, db)?;
        let d = StepDuration { base, per_gb, per_million_rows };
        let max = d.practical_max();
        if max > MAX_SPAN {
            let span = s
                .duration
                .as_ref()
                .or(s.per_gb.as_ref())
                .or(s.per_million_rows.as_ref())
                .map_or(s.id.span(), |v| v.span());
            self.error(
                &span,
                Some(id),
                format!(
                    "duration can reach {} ({}), beyond the {}-day limit for one step; check the units",
                    max,
                    max.hms(),
                    MAX_SPAN.as_ms() / crate::time::MS_PER_D
                ),
            );
            return None;
        }
        Some(Work::Leaf(d))
    }

    /// A step with sub-steps: nothing but a finish lag of its own.
    fn group_work(&mut self, s: &RawStep, id: &str) -> Option<Work> {
        for (field, value) in
            [("duration", &s.duration), ("per_gb", &s.per_gb), ("per_million_rows", &s.per_million_rows)]
        {
            if let Some(v) = value {
                self.error(&v.span(), Some(id), format!("`{field}` on a step with sub-steps: its length follows from them (use finish_lag for time after the last one)"));
            }
        }
        let finish_lag = match &s.finish_lag {
            Some(v) => self.span_duration(&v.span(), Some(id), v.get_ref(), "finish_lag")?,
            None => SimDuration::ZERO,
        };
        Some(Work::Group { finish_lag })
    }

    /// The `per_million_rows` part, if any; `None` once an error is
    /// reported that leaves the step without a duration.
    fn per_million_rows(&mut self, s: &RawStep, id: &str, db: &Database) -> Option<Option<Scaled>> {
        let scaled = match &s.per_million_rows {
            Some(v) => {
                let dist = self.dist(v, Some(id), "per_million_rows", false)?;
                let rows = self.rows_of(s, id, db);
                if db.tables.is_empty() {
                    self.error(&v.span(), Some(id), "per_million_rows needs tables with rows under [database]");
                    return None;
                }
                Some(Scaled { dist, units: rows as f64 / 1e6 })
            }
            None => {
                if let Some(names) = &s.rows_of
                    && let Some(first) = names.first()
                {
                    self.error(&first.span(), Some(id), "rows_of applies only with per_million_rows");
                }
                None
            }
        };
        Some(scaled)
    }

    /// The rows `per_million_rows` scales with: those of the tables
    /// `rows_of` names, or of every table.
    fn rows_of(&mut self, s: &RawStep, id: &str, db: &Database) -> u64 {
        match &s.rows_of {
            None => db.tables.iter().map(|t| t.rows).sum(),
            Some(names) => {
                let mut sum = 0u64;
                for name in names {
                    match db.tables.iter().find(|t| t.name.eq_ignore_ascii_case(name.get_ref())) {
                        Some(t) => sum += t.rows,
                        None => self.error(
                            &name.span(),
                            Some(id),
                            format!("rows_of names table {} that [database] does not list", name.get_ref()),
                        ),
                    }
                }
                sum
            }
        }
    }

    /// A duration written as a string (`"45m"`), for windows and lags.
    pub(super) fn span_duration(
        &mut self,
        span: &Range<usize>,
        step: Option<&str>,
        v: &toml::Value,
        what: &str,
    ) -> Option<SimDuration> {
        let toml::Value::String(s) = v else {
            self.error(
                span,
                step,
                format!(
                    "{what} must be a duration string with a unit, like \"45m\" or \"1h30m\"; found {}",
                    v.type_str()
                ),
            );
            return None;
        };
        match SimDuration::parse(s) {
            Ok(d) if d > MAX_SPAN => {
                self.error(
                    span,
                    step,
                    format!(
                        "{what} {s} is beyond the {}-day limit; check the units",
                        MAX_SPAN.as_ms() / crate::time::MS_PER_D
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(span, step, format!("{what}: {e}"));
                None
            }
        }
    }

    /// A distribution: `"45m"`, `"instant"`, or a one-key table.
    pub(super) fn dist(
        &mut self,
        v: &Spanned<toml::Value>,
        id: Option<&str>,
        what: &str,
        allow_instant: bool,
    ) -> Option<Dist> {
        let span = v.span();
        match v.get_ref() {
            toml::Value::String(s) if s == "instant" && allow_instant => Some(Dist::fixed(SimDuration::ZERO)),
            toml::Value::String(s) => {
                let d = self.span_duration(&span, id, v.get_ref(), what)?;
                if d == SimDuration::ZERO {
                    let hint = if allow_instant { "; write \"instant\" for a step that takes no time" } else { "" };
                    self.error(&span, id, format!("{what} {s} is zero{hint}"));
                    return None;
                }
                Some(Dist::fixed(d))
            }
            toml::Value::Table(t) if t.len() == 1 => {
                let (kind, params) = t.iter().next().expect("one entry");
                match self.dist_of_kind(kind, params, &span, id, what)? {
                    Ok(d) if d.max().is_some_and(|m| m == SimDuration::ZERO) => {
                        self.error(
                            &span,
                            id,
                            format!("{what}: every value is zero; write \"instant\" for a step that takes no time"),
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(e) => {
                        self.error(&span, id, format!("{what}: {kind}: {e}"));
                        None
                    }
                }
            }
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                self.error(
                    &span,
                    id,
                    format!("{what} is a bare number; durations need a unit, like \"45m\" or \"90s\""),
                );
                None
            }
            _ => {
                self.error(&span, id, format!("{what}: {EXPECTED}"));
                None
            }
        }
    }

    /// `{ kind = params }` built as the distribution `kind` names; `None`
    /// when the parameters could not be read (the error is reported), the
    /// distribution's own verdict on them otherwise.
    fn dist_of_kind(
        &mut self,
        kind: &str,
        params: &toml::Value,
        span: &Range<usize>,
        id: Option<&str>,
        what: &str,
    ) -> Option<Result<Dist, DistError>> {
        let list = |v: &mut Self, n: Option<usize>| v.duration_list(params, n, span, id, what, kind);
        let built = match kind {
            "uniform" => {
                let p = list(self, Some(2))?;
                Dist::uniform(p[0], p[1])
            }
            "triangular" => {
                let p = list(self, Some(3))?;
                Dist::triangular(p[0], p[1], p[2])
            }
            "pert" => {
                let p = list(self, Some(3))?;
                Dist::pert(p[0], p[1], p[2])
            }
            "empirical" => {
                let p = list(self, None)?;
                Dist::empirical(&p)
            }
            "lognormal" => {
                let (m, p) = self.lognormal_params(params, span, id, what)?;
                Dist::lognormal(m, p)
            }
            other => {
                self.error(span, id, format!("{what}: unknown distribution `{other}`; {EXPECTED}"));
                return None;
            }
        };
        Some(built)
    }

    /// A distribution's list of durations: `n` of them, or at least one.
    fn duration_list(
        &mut self,
        params: &toml::Value,
        n: Option<usize>,
        span: &Range<usize>,
        id: Option<&str>,
        what: &str,
        kind: &str,
    ) -> Option<Vec<SimDuration>> {
        let toml::Value::Array(items) = params else {
            self.error(span, id, format!("{what}: {kind} takes a list of durations"));
            return None;
        };
        if n.is_some_and(|n| items.len() != n) || items.is_empty() {
            let want = n.map_or("at least one".to_string(), |n| n.to_string());
            self.error(span, id, format!("{what}: {kind} takes {want} durations, found {}", items.len()));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.span_duration(span, id, item, what)?);
        }
        Some(out)
    }

    /// `{ median = "1h", p90 = "2h" }`.
    fn lognormal_params(
        &mut self,
        params: &toml::Value,
        span: &Range<usize>,
        id: Option<&str>,
        what: &str,
    ) -> Option<(SimDuration, SimDuration)> {
        let toml::Value::Table(lt) = params else {
            self.error(span, id, format!("{what}: lognormal takes {{ median = \"1h\", p90 = \"2h\" }}"));
            return None;
        };
        for key in lt.keys() {
            if key != "median" && key != "p90" {
                self.error(span, id, format!("{what}: unknown key `{key}` in lognormal; expected `median` and `p90`"));
                return None;
            }
        }
        let (Some(m), Some(p)) = (lt.get("median"), lt.get("p90")) else {
            self.error(span, id, format!("{what}: lognormal needs both `median` and `p90`"));
            return None;
        };
        let m = self.span_duration(span, id, m, what)?;
        let p = self.span_duration(span, id, p, what)?;
        Some((m, p))
    }
}
