//! Measured durations written into an existing scenario (`--into`, or the
//! plan a weekend log holds) through `toml_edit`, so that everything else —
//! comments, layout, the steps nobody measured — stays as the user wrote it.

use std::collections::BTreeMap;

use rehearse_core::Scenario;

use super::emit::duration_expr;
use super::fit::{Observed, TooLong, is_size_dependent, size_factor};
use super::{CalibrateError, Options};

/// The measurements, by how they name a step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    /// From exports: the sub-steps of a `records_status` runbook, by
    /// (Steps, SubSteps).
    pub by_name: BTreeMap<(String, String), Observed>,
    /// From weekend logs: by step id.
    pub by_id: BTreeMap<String, Observed>,
}

/// A measured step whose duration was left as it was, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub id: String,
    pub why: &'static str,
}

/// What [`apply_into`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The scenario with the measured durations.
    pub text: String,
    /// Steps whose duration was replaced, and from how many measurements.
    pub replaced: Vec<(String, usize)>,
    /// Steps that do work and had no measurement, in file order.
    pub unmeasured: Vec<String>,
    /// Measured steps left as they were.
    pub kept: Vec<Kept>,
    /// Steps whose size model (`per_gb`, `per_million_rows`) the measured
    /// duration replaced.
    pub resized: Vec<String>,
    /// Step ids measured in a log that the scenario does not have.
    pub unknown: Vec<String>,
}

/// Replaces the durations of `scenario_text`'s measured steps (the
/// sub-steps of its `records_status` runbook by Steps and SubSteps, any
/// step by id) with the calibrated ones, leaving everything else —
/// comments included — as it is. A step measured both ways takes both
/// measurements. One measurement gives that value, several a fitted
/// distribution, as [`super::calibrate`] does. A step whose size model
/// (`per_gb`, `per_million_rows`) or sub-step name says it depends on the
/// database's size is scaled by the options' factor, and its size model
/// gives way to the measured duration.
///
/// # Errors
/// A scenario that does not validate as it is ([`CalibrateError::Scenario`]),
/// has no step to match, or would not validate with the measured
/// durations ([`CalibrateError::Invalid`]); a duration scaled beyond what a
/// step may last (the step named).
pub fn apply_into(
    scenario_text: &str,
    origin: &str,
    measured: &Measured,
    opts: &Options,
) -> Result<Applied, CalibrateError> {
    opts.check()?;
    let scenario = Scenario::parse(scenario_text, origin)?;
    let names = crate::store::projection::status_names(&scenario);
    let mut doc: toml_edit::DocumentMut =
        scenario_text.parse().map_err(|e| CalibrateError::Toml { origin: origin.to_string(), why: format!("{e}") })?;
    let Some(steps) = doc.get_mut("step").and_then(|s| s.as_array_of_tables_mut()) else {
        return Err(CalibrateError::NoSteps { origin: origin.to_string() });
    };
    let mut out = Applied {
        text: String::new(),
        replaced: Vec::new(),
        unmeasured: Vec::new(),
        kept: Vec::new(),
        resized: Vec::new(),
        unknown: Vec::new(),
    };
    let none = Observed::default();
    for table in steps.iter_mut() {
        let Some(id) = table.get("id").and_then(|v| v.as_str()).map(str::to_string) else { continue };
        let Some(idx) = scenario.find(&id) else { continue };
        let step = scenario.step(idx);
        let name = names[idx.index()].as_ref();
        let by_name = name.and_then(|n| measured.by_name.get(n));
        let by_id = measured.by_id.get(&id);
        if by_name.is_none() && by_id.is_none() {
            if !step.is_group() {
                out.unmeasured.push(id);
            }
            continue;
        }
        let kept = |why| Kept { id: id.clone(), why };
        if step.is_group() {
            // An export names groups too (a row spanning others); only a
            // log's measurement of one is worth a word.
            if by_id.is_some() {
                out.kept.push(kept("it has sub-steps, whose durations make its length"));
            }
            continue;
        }
        if step.replication.is_some() {
            out.kept.push(kept("its length follows from the replication model"));
            continue;
        }
        let obs = by_name.unwrap_or(&none).merged(by_id.unwrap_or(&none));
        let sized = ["per_gb", "per_million_rows"].iter().any(|k| table.contains_key(k));
        let factor = size_factor(opts, sized || name.is_some_and(|(_, sub)| is_size_dependent(sub)));
        let too_long = |e: TooLong| CalibrateError::TooLong {
            place: format!("{origin}: step `{id}`"),
            what: "its measured duration".into(),
            factor,
            ms: e.ms,
        };
        let Some(mut value) = duration_expr(&obs.completed_ms, factor).map_err(too_long)? else {
            out.kept.push(kept("no measured attempt of it finished"));
            continue;
        };
        match table.get("duration").and_then(|v| v.as_value()) {
            Some(old) => *value.decor_mut() = old.decor().clone(),
            None => value.decor_mut().set_prefix(" "),
        }
        table.insert("duration", toml_edit::Item::Value(value));
        if sized {
            for k in ["per_gb", "per_million_rows", "rows_of"] {
                table.remove(k);
            }
            out.resized.push(id.clone());
        }
        out.replaced.push((id, obs.completed_ms.len()));
    }
    out.unknown = measured.by_id.keys().filter(|id| scenario.find(id).is_none()).cloned().collect();
    if out.replaced.is_empty() {
        return Err(CalibrateError::NoMatch { origin: origin.to_string() });
    }
    out.text = doc.to_string();
    Scenario::parse(&out.text, origin).map_err(|e| CalibrateError::Invalid {
        origin: origin.to_string(),
        problems: e
            .diagnostics
            .iter()
            .map(|d| match &d.step {
                Some(step) => format!("step `{step}`: {}", d.message),
                None => d.message.clone(),
            })
            .collect(),
    })?;
    tracing::debug!(origin, replaced = out.replaced.len(), "calibrate: durations replaced in place");
    Ok(out)
}
