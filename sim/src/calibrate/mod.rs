//! Calibration from measured runs: exports of the documented monitoring
//! query on `DBUPGRADE.DATAUPGRADESTATUS` turned into scenario durations.
//!
//! Accepted: the documentation's column order (StartTime, EndTime, Steps,
//! SubSteps, Status), newest or oldest first, comma- or tab-separated (as
//! SQL Server Management Studio saves results), with or without a header,
//! with or without milliseconds, `NULL` (or empty) end times for a step
//! still running, and statuses Completed, Failed (an observed failure) and
//! InProgress (an unfinished run). Anything else is an error naming the
//! file and line; nothing is guessed.
//!
//! The structure is rebuilt from the times: rows that span later rows of the
//! same phase become their parent (PreSync's ExecuteScripts), rows that
//! overlap without spanning start alongside (DbSync's EnableSafeMode and
//! SyncSchema), and every gap between rows becomes a lag, so that the
//! calibrated scenario's `--median` run reproduces a single measured run row
//! for row.
//!
//! The rooms: `export` (reading exports), `shape` (nesting and lags from
//! the times), `fit` (durations, failure rates and size scaling over the
//! runs), `emit` (the scenario's TOML), `report` (the text report). This
//! file holds the options, the entry [`calibrate`] and [`apply_into`].

mod emit;
mod export;
mod fit;
mod report;
mod shape;

use std::collections::BTreeMap;

pub use export::{ExportError, Row, RowStatus, Run, read_export};
pub use fit::{Observed, is_size_dependent};

/// Options for calibration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// The measured database's size and the size to plan for, in GB.
    pub size_gb: Option<(f64, f64)>,
}

/// The result: a scenario text and a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub toml: String,
    pub report: String,
    pub observed: BTreeMap<(String, String), Observed>,
    /// (Steps, SubSteps, factor) of every scaled sub-step.
    pub scaled: Vec<(String, String, f64)>,
}

/// Builds the calibrated scenario from one or more runs. The structure and
/// lags come from the first complete run (the first run if none is).
pub fn calibrate(runs: &[Run], opts: &Options) -> Calibration {
    let base = runs.iter().find(|r| !r.unfinished()).unwrap_or(&runs[0]);
    let sh = shape::shape(base);
    tracing::debug!(
        runs = runs.len(),
        base = %base.file,
        rows = base.rows.len(),
        phases = sh.phases.len(),
        "calibrate: structure rebuilt from the base run"
    );
    let observed = fit::observe(runs);
    tracing::debug!(substeps = observed.len(), "calibrate: observations gathered");
    let (toml, scaled) = emit::scenario(runs, base, &sh, &observed, opts);
    tracing::debug!(bytes = toml.len(), scaled = scaled.len(), "calibrate: scenario written");
    let modelled = report::modelled_medians(&toml);
    let report = report::report(runs, base, &observed, &scaled, &modelled);
    Calibration { toml, report, observed, scaled }
}

/// Replaces the durations of `scenario_text`'s matching steps (the sub-steps
/// of its `records_status` runbook, matched by Steps and SubSteps) with the
/// calibrated ones, leaving everything else — comments included — as it is.
/// Returns the new text and the ids of the steps replaced.
///
/// # Errors
/// A scenario that does not parse, or has no step to match.
pub fn apply_into(
    scenario_text: &str,
    origin: &str,
    cal: &Calibration,
    opts: &Options,
) -> Result<(String, Vec<String>), String> {
    let scenario = rehearse_core::Scenario::parse(scenario_text, origin).map_err(|e| e.to_string())?;
    let names = crate::store::projection::status_names(&scenario);
    let mut doc: toml_edit::DocumentMut = scenario_text.parse().map_err(|e| format!("{origin}: {e}"))?;
    let Some(steps) = doc.get_mut("step").and_then(|s| s.as_array_of_tables_mut()) else {
        return Err(format!("{origin}: no [[step]] to calibrate"));
    };
    let mut replaced = Vec::new();
    for table in steps.iter_mut() {
        let Some(id) = table.get("id").and_then(|v| v.as_str()).map(str::to_string) else { continue };
        let Some(idx) = scenario.find(&id) else { continue };
        let Some((phase, sub)) = &names[idx.index()] else { continue };
        if scenario.step(idx).is_group() {
            continue;
        }
        let Some(obs) = cal.observed.get(&(phase.clone(), sub.clone())) else { continue };
        let Some(expr) = emit::duration_expr(&obs.completed_ms, fit::size_factor(opts, sub)) else { continue };
        let parsed: toml_edit::DocumentMut =
            format!("duration = {expr}\n").parse().map_err(|e| format!("internal: {e}"))?;
        let mut value = parsed["duration"].as_value().cloned().ok_or("internal: no value")?;
        if let Some(old) = table.get("duration").and_then(|v| v.as_value()) {
            *value.decor_mut() = old.decor().clone();
        } else {
            value.decor_mut().set_prefix(" ");
        }
        table.insert("duration", toml_edit::Item::Value(value));
        replaced.push(id);
    }
    if replaced.is_empty() {
        return Err(format!(
            "{origin}: no step matches the measured rows (steps under a runbook with records_status = true, by Steps and SubSteps)"
        ));
    }
    tracing::debug!(origin, replaced = replaced.len(), "calibrate: durations replaced in place");
    Ok((doc.to_string(), replaced))
}
