//! `[[resource]]` and `[[driver]]`, and what steps say of them: `needs`
//! (resources an attempt holds while it runs), `scale_by` (drivers that
//! multiply its duration) and `not_before` (a fixed slot on the plan's
//! calendar).

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use crate::anchor::{self, CalendarAnchor, Hours};
use crate::scenario::graph::Graph;
use crate::scenario::model::{DowntimeMark, Driver, FACTOR_UNIT, MAX_SPAN, Resource, Step};
use crate::scenario::raw::{RawDriver, RawResource, RawStep};

/// What a step says of resources, drivers and slots, taken out of its raw
/// form before the steps are read, and checked once they are.
pub(super) struct StepExtras {
    needs: Vec<Spanned<String>>,
    scale_by: Vec<Spanned<String>>,
    not_before: Option<Spanned<toml::Value>>,
}

impl StepExtras {
    pub(super) fn take(s: &mut RawStep) -> StepExtras {
        StepExtras {
            needs: std::mem::take(&mut s.needs),
            scale_by: std::mem::take(&mut s.scale_by),
            not_before: s.not_before.take(),
        }
    }
}
use crate::scenario::suggest::suggest;

/// Most steps one resource may run at once: far beyond any team, and a
/// typo's ceiling (`capacity = 10000`).
const MAX_CAPACITY: i64 = 1_000;

impl Validator<'_> {
    /// The resources, each id well formed and used once, each capacity
    /// at least 1.
    pub(super) fn resources(&mut self, raw: &[RawResource], anchor: Option<&CalendarAnchor>) -> Vec<Resource> {
        let mut out: Vec<Resource> = Vec::with_capacity(raw.len());
        for r in raw {
            let id = r.id.get_ref();
            self.named_once(&r.id, "resource", out.iter().map(|x| (x.id.as_str(), x.line)));
            let capacity = match &r.capacity {
                None => 1,
                Some(c) if (1..=MAX_CAPACITY).contains(c.get_ref()) => *c.get_ref() as u32,
                Some(c) => {
                    self.error(
                        &c.span(),
                        None,
                        format!(
                            "resource `{id}`: capacity = {}; it is how many steps the resource can serve at once, from 1 to {MAX_CAPACITY}",
                            c.get_ref()
                        ),
                    );
                    1
                }
            };
            let available = r.available.as_ref().and_then(|a| {
                if anchor.is_none() {
                    self.error(
                        &a.span(),
                        None,
                        format!("resource `{id}`: available gives working hours on the plan's calendar, which needs [scenario] downtime_begins_at (and time_zone)"),
                    );
                    return None;
                }
                match Hours::parse(a.get_ref()) {
                    Ok(h) => Some(h),
                    Err(why) => {
                        self.error(&a.span(), None, format!("resource `{id}`: available = {why}, like \"08:00-20:00\""));
                        None
                    }
                }
            });
            let line = self.line_col(r.id.span().start).0;
            out.push(Resource {
                id: id.clone(),
                name: r.name.clone().unwrap_or_else(|| id.clone()),
                capacity,
                available,
                line,
            });
        }
        out
    }

    /// The drivers, each id well formed and used once, each factor a
    /// distribution of positive numbers.
    pub(super) fn drivers(&mut self, raw: &[RawDriver]) -> Vec<Driver> {
        let mut out: Vec<Driver> = Vec::with_capacity(raw.len());
        for d in raw {
            let id = d.id.get_ref();
            self.named_once(&d.id, "driver", out.iter().map(|x| (x.id.as_str(), x.line)));
            let line = self.line_col(d.id.span().start).0;
            let what = format!("driver `{id}` factor");
            let Some(value) = self.factor_value(&d.factor, &what) else { continue };
            let spanned = Spanned::new(d.factor.span(), value);
            let Some(factor) = self.dist(&spanned, None, &what, false) else { continue };
            out.push(Driver { id: id.clone(), name: d.name.clone().unwrap_or_else(|| id.clone()), factor, line });
        }
        out
    }

    /// An error if `id` is malformed or was used by an earlier entry.
    fn named_once<'a>(&mut self, id: &Spanned<String>, what: &str, earlier: impl Iterator<Item = (&'a str, u32)>) {
        let name = id.get_ref();
        if !super::well_formed(name) {
            self.error(
                &id.span(),
                None,
                format!("{what} id {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"),
            );
        }
        for (other, line) in earlier {
            if other == name {
                self.error(&id.span(), None, format!("duplicate {what} id `{name}` (first defined on line {line})"));
                return;
            }
        }
    }

    /// A factor written with numbers (`1.2`, `{ lognormal = { median =
    /// 1.0, p90 = 1.4 } }`) as the same distribution over durations in
    /// millionths (`"1200000ms"`), so that every distribution form is read
    /// by the one reader; `None` (reported) for anything but positive
    /// numbers.
    fn factor_value(&mut self, v: &Spanned<toml::Value>, what: &str) -> Option<toml::Value> {
        fn convert(v: &toml::Value) -> Result<toml::Value, String> {
            let x = match v {
                toml::Value::Float(x) => *x,
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Array(items) => {
                    return items.iter().map(convert).collect::<Result<_, _>>().map(toml::Value::Array);
                }
                toml::Value::Table(t) => {
                    let mut out = toml::Table::new();
                    for (k, x) in t {
                        out.insert(k.clone(), convert(x)?);
                    }
                    return Ok(toml::Value::Table(out));
                }
                other => return Err(format!("found {} where a number belongs", other.type_str())),
            };
            if !(x.is_finite() && x > 0.0 && x <= 100.0) {
                return Err(format!("{x} is not a factor from above 0 to 100"));
            }
            Ok(toml::Value::String(format!("{}ms", (x * FACTOR_UNIT).round() as u64)))
        }
        match convert(v.get_ref()) {
            Ok(x) => Some(x),
            Err(why) => {
                self.error(
                    &v.span(),
                    None,
                    format!(
                        "{what}: {why}; a factor is a number (1.2) or a distribution of numbers, like {{ lognormal = {{ median = 1.0, p90 = 1.4 }} }}"
                    ),
                );
                None
            }
        }
    }

    /// Step `steps[i]`'s `needs`, `scale_by` and `not_before`, resolved
    /// and checked against the resources, drivers and the plan's anchor.
    pub(super) fn step_extras(
        &mut self,
        steps: &mut [Step],
        raw: &[StepExtras],
        resources: &[Resource],
        drivers: &[Driver],
        anchor: Option<&CalendarAnchor>,
    ) {
        let resource_ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
        let driver_ids: Vec<&str> = drivers.iter().map(|d| d.id.as_str()).collect();
        // The steps that come after a downtime begin (reached from one),
        // worked out once, when a step has a slot.
        let mut after_begin = Vec::new();
        let with_hours: Vec<&str> = resources.iter().filter(|r| r.available.is_some()).map(|r| r.id.as_str()).collect();
        let needs_hours = |s: &StepExtras| s.needs.iter().any(|n| with_hours.contains(&n.get_ref().as_str()));
        if raw.iter().any(|s| s.not_before.is_some() || needs_hours(s)) {
            let graph = Graph::new(steps);
            after_begin = vec![false; steps.len()];
            let (mut seen, mut stack) = (Vec::new(), Vec::new());
            for b in (0..steps.len()).filter(|i| steps[*i].downtime == Some(DowntimeMark::Begins)) {
                graph.reachable_into(Graph::start(b), &mut seen, &mut stack);
                for (j, a) in after_begin.iter_mut().enumerate() {
                    *a |= seen[Graph::start(j)];
                }
            }
        }
        for (i, s) in raw.iter().enumerate() {
            let id = steps[i].id.clone();
            let is_group = steps[i].is_group();
            for (list, names, what, header) in [
                (&s.needs, &resource_ids, "needs", "[[resource]]"),
                (&s.scale_by, &driver_ids, "scale_by", "[[driver]]"),
            ] {
                let mut found = Vec::new();
                for n in list {
                    let name = n.get_ref();
                    if is_group {
                        self.error(
                            &n.span(),
                            Some(&id),
                            format!("`{what}` applies to a step that does the work, not to one with sub-steps; put it on the sub-steps"),
                        );
                        break;
                    }
                    match names.iter().position(|x| x == name) {
                        Some(k) if found.contains(&(k as u32)) => {
                            self.error(&n.span(), Some(&id), format!("`{name}` is listed twice in {what}"))
                        }
                        Some(k) => found.push(k as u32),
                        None => {
                            let hint =
                                suggest(name, names).map(|x| format!("; did you mean `{x}`?")).unwrap_or_default();
                            let kind = if what == "needs" { "resource" } else { "driver" };
                            self.error(
                                &n.span(),
                                Some(&id),
                                format!("{what} names unknown {kind} `{name}`{hint} (define it as a {header} with id = \"{name}\")"),
                            );
                        }
                    }
                }
                if what == "needs" {
                    steps[i].needs = found;
                } else {
                    steps[i].scale_by = found;
                }
            }
            if let Some(n) = s.needs.iter().find(|n| with_hours.contains(&n.get_ref().as_str()))
                && !after_begin[i]
            {
                self.error(
                    &n.span(),
                    Some(&id),
                    format!("`{}` has working hours, placed by when downtime begins, but this step does not come after the step with downtime = \"begins\"; add it to `after` (directly or through other steps)", n.get_ref()),
                );
            }
            if let Some(nb) = &s.not_before {
                steps[i].not_before = self.not_before(nb, &id, anchor, after_begin[i]);
            }
        }
    }

    /// `not_before = "2027-03-06T08:00:00"`: the time from the anchor's
    /// downtime begin, for a step that comes after downtime begins.
    fn not_before(
        &mut self,
        v: &Spanned<toml::Value>,
        id: &str,
        anchor: Option<&CalendarAnchor>,
        after_begin: bool,
    ) -> Option<i64> {
        let span: Range<usize> = v.span();
        let Some(anchor) = anchor else {
            self.error(
                &span,
                Some(id),
                "not_before is a clock time, which needs the plan on the calendar: give [scenario] downtime_begins_at (and time_zone)",
            );
            return None;
        };
        let text = match v.get_ref() {
            toml::Value::String(t) => t.clone(),
            toml::Value::Datetime(dt) => dt.to_string(),
            other => {
                self.error(
                    &span,
                    Some(id),
                    format!(
                        "not_before must be a date and time like \"2027-03-06T08:00:00\", found {}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        let zone = anchor.downtime_begins().time_zone().clone();
        let at = match anchor::instant(&text, Some(&zone)) {
            Ok(z) => z,
            Err(e) => {
                self.error(&span, Some(id), format!("not_before: {e}"));
                return None;
            }
        };
        let ms = at.timestamp().duration_since(anchor.downtime_begins().timestamp()).as_millis();
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        if ms.unsigned_abs() > MAX_SPAN.as_ms() {
            self.error(
                &span,
                Some(id),
                format!(
                    "not_before is more than {} days from downtime_begins_at; check the date",
                    MAX_SPAN.as_ms() / crate::time::MS_PER_D
                ),
            );
            return None;
        }
        // The slot is placed on the run's own downtime begin, so the step
        // must come after it.
        if !after_begin {
            self.error(
                &span,
                Some(id),
                "not_before is placed by when downtime begins, but this step does not come after the step with downtime = \"begins\"; add it to `after` (directly or through other steps)",
            );
            return None;
        }
        Some(ms)
    }
}
