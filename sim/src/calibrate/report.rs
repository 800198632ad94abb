//! The calibration's text report: each run, each sub-step measured
//! against modelled, the steps that dominate the measured span, and the
//! names whose id had to differ from what they clean to.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rehearse_core::time::SimDuration;

use super::Renamed;
use super::export::{RowStatus, Run};
use super::fit::Observed;

/// What the report is made of.
pub(super) struct Inputs<'a> {
    pub(super) runs: &'a [Run],
    pub(super) base: &'a Run,
    pub(super) observed: &'a BTreeMap<(String, String), Observed>,
    pub(super) scaled: &'a [(String, String, f64)],
    /// Per row of `base`: the modelled median of a step that does work.
    pub(super) modelled: &'a [Option<u64>],
    pub(super) renamed: &'a [Renamed],
    pub(super) failed_groups: &'a [(String, String)],
}

/// Renamed names listed in full up to this many.
const RENAMED_SHOWN: usize = 20;

/// Per sub-step: measured against modelled, and what dominates the total.
pub(super) fn report(i: &Inputs<'_>) -> String {
    let mut out = String::new();
    for run in i.runs {
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
    let scaled: BTreeMap<(&str, &str), f64> = i.scaled.iter().map(|(a, b, f)| ((a.as_str(), b.as_str()), *f)).collect();
    let total = i.base.span_ms().max(1);
    let mut shares: Vec<(u64, String)> = Vec::new();
    for (k, r) in i.base.rows.iter().enumerate() {
        let Some(o) = i.observed.get(&(r.steps.clone(), r.substeps.clone())) else { continue };
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
            let _ = write!(note, "  {} failed", o.failed);
        }
        if let Some(f) = scaled.get(&(r.steps.as_str(), r.substeps.as_str())) {
            let _ = write!(note, "  scaled x{f:.3}");
        }
        let model = i.modelled[k].map_or_else(|| "(spans others)".to_string(), |m| SimDuration(m).hms_ms());
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
    if !i.scaled.is_empty() {
        let _ = writeln!(out, "\nscaled with the database size: {} sub-step(s)", i.scaled.len());
    }
    for (steps, substeps) in i.failed_groups {
        let _ = writeln!(
            out,
            "\n{steps}/{substeps} failed, but it spans other rows (a step with sub-steps): no fault modelled for it"
        );
    }
    renamed(&mut out, i.renamed);
    out
}

/// The names whose id differs from what they clean to, and why.
pub(super) fn renamed(out: &mut String, renamed: &[Renamed]) {
    if renamed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nids: {} name(s) clean to an id another name has, so got their own (step names are as measured):",
        renamed.len()
    );
    for r in renamed.iter().take(RENAMED_SHOWN) {
        let _ = writeln!(out, "  {:<44} id {} ({} is {}'s)", r.name, r.id, r.wanted, r.taken_by);
    }
    if renamed.len() > RENAMED_SHOWN {
        let _ = writeln!(out, "  ... and {} more", renamed.len() - RENAMED_SHOWN);
    }
}
