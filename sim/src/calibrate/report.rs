//! The calibration's text report: each run, each sub-step measured
//! against modelled, and the steps that dominate the measured span.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rehearse_core::time::SimDuration;

use super::export::{RowStatus, Run};
use super::fit::Observed;

/// The modelled median of each sub-step, as the calibrated scenario will
/// run it (empty if the text does not parse).
pub(super) fn modelled_medians(toml: &str) -> BTreeMap<(String, String), u64> {
    match rehearse_core::Scenario::parse(toml, "calibrated") {
        Ok(sc) => crate::store::projection::status_names(&sc)
            .into_iter()
            .zip(&sc.steps)
            .filter_map(|(name, step)| match (&step.work, name) {
                (rehearse_core::scenario::Work::Leaf(d), Some(n)) => Some((n, d.median().as_ms())),
                _ => None,
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// Per sub-step: measured against modelled, and what dominates the total.
pub(super) fn report(
    runs: &[Run],
    base: &Run,
    observed: &BTreeMap<(String, String), Observed>,
    scaled: &[(String, String, f64)],
    modelled: &BTreeMap<(String, String), u64>,
) -> String {
    let mut out = String::new();
    for run in runs {
        let state = if run.rows.iter().any(|r| r.status == RowStatus::Failed) {
            "FAILED"
        } else if run.unfinished() {
            "UNFINISHED"
        } else {
            "complete"
        };
        let _ = writeln!(
            out,
            "run          {}: {} rows, {} from {}, {state}",
            run.file,
            run.rows.len(),
            SimDuration(run.span_ms()).hms_ms(),
            run.first_start
        );
        for r in run.rows.iter().filter(|r| r.status != RowStatus::Completed) {
            let what = if r.status == RowStatus::Failed { "failed" } else { "still running" };
            let _ = writeln!(out, "             {}/{} {what} (line {})", r.steps, r.substeps, r.line);
        }
    }
    let _ = writeln!(
        out,
        "\n{:<14} {:<30} {:>4} {:>13} {:>13} {:>13} {:>15}",
        "Steps", "SubSteps", "n", "min", "median", "max", "modelled median"
    );
    let total = base.span_ms().max(1);
    let mut shares: Vec<(u64, String)> = Vec::new();
    for r in &base.rows {
        let Some(o) = observed.get(&(r.steps.clone(), r.substeps.clone())) else { continue };
        let mut v = o.completed_ms.clone();
        v.sort_unstable();
        let (min, med, max) = match v.as_slice() {
            [] => ("-".to_string(), "-".to_string(), "-".to_string()),
            s => {
                (SimDuration(s[0]).hms_ms(), SimDuration(s[s.len() / 2]).hms_ms(), SimDuration(s[s.len() - 1]).hms_ms())
            }
        };
        let mut note = String::new();
        if o.failed > 0 {
            note.push_str(&format!("  {} failed", o.failed));
        }
        if let Some((_, _, f)) = scaled.iter().find(|(a, b, _)| a == &r.steps && b == &r.substeps) {
            note.push_str(&format!("  scaled x{f:.3}"));
        }
        let model = modelled
            .get(&(r.steps.clone(), r.substeps.clone()))
            .map_or_else(|| "(spans others)".to_string(), |m| SimDuration(*m).hms_ms());
        let _ = writeln!(
            out,
            "{:<14} {:<30} {:>4} {:>13} {:>13} {:>13} {:>15}{note}",
            r.steps,
            r.substeps,
            v.len(),
            min,
            med,
            max,
            model
        );
        if let Some(m) = v.get(v.len() / 2) {
            shares.push((*m, format!("{}/{}", r.steps, r.substeps)));
        }
    }
    shares.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let _ = writeln!(out, "\ndominating steps (median, share of the measured span {}):", SimDuration(total).hms_ms());
    for (m, name) in shares.iter().take(5) {
        let _ =
            writeln!(out, "  {name:<44} {:>13}  {:>5.1}%", SimDuration(*m).hms_ms(), 100.0 * *m as f64 / total as f64);
    }
    if !scaled.is_empty() {
        let _ = writeln!(out, "\nscaled with the database size: {} sub-step(s)", scaled.len());
    }
    out
}
