//! The calibration's text report: each run, each sub-step measured
//! against modelled, the steps that dominate the measured span, and the
//! names whose id had to differ from what they clean to.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rehearse_core::time::SimDuration;

use super::Renamed;
use super::export::{Row, RowStatus, Run};
use super::fit::Observed;

/// What the report is made of.
pub(super) struct Inputs<'a> {
    pub(super) drivers: &'a [super::drivers::FoundDriver],
    pub(super) driver_ids: &'a [String],
    pub(super) apart: &'a [(String, f64)],
    pub(super) runs: &'a [Run],
    pub(super) base: &'a Run,
    /// What all runs say of each row of `base`.
    pub(super) observed: &'a [&'a Observed],
    pub(super) scaled: &'a [(String, String, f64)],
    /// Per row of `base`: the modelled median of a step that does work.
    pub(super) modelled: &'a [Option<u64>],
    pub(super) renamed: &'a [Renamed],
    pub(super) failed_groups: &'a [(String, String)],
}

/// Dominating steps listed.
const TOP: usize = 5;

/// Renamed names listed in full up to this many.
const RENAMED_SHOWN: usize = 20;

/// Per sub-step: measured against modelled, and what dominates the total.
pub(super) fn report<'a>(i: &Inputs<'a>) -> String {
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
    // The five longest medians, kept as the rows go by (a full sort of a
    // million names cost more than the rest of the report).
    let mut top: Vec<(u64, usize)> = Vec::with_capacity(TOP + 1);
    let name_cmp = |a: usize, b: usize| {
        let (ra, rb) = (&i.base.rows[a], &i.base.rows[b]);
        let name = |r: &'a Row| r.steps.bytes().chain(std::iter::once(b'/')).chain(r.substeps.bytes());
        name(ra).cmp(name(rb))
    };
    let mut sorted = Vec::new();
    for (k, r) in i.base.rows.iter().enumerate() {
        let o = i.observed[k];
        let v: &[u64] = match o.completed_ms.as_slice() {
            one @ [_] => one,
            many => {
                sorted.clear();
                sorted.extend_from_slice(many);
                sorted.sort_unstable();
                &sorted
            }
        };
        let _ = write!(out, "{:<14} {:<30} {:>4}", r.steps, r.substeps, v.len());
        match v {
            [] => out.push_str(&format!(" {:>13} {:>13} {:>13}", "-", "-", "-")),
            s => {
                for ms in [s[0], s[s.len() / 2], s[s.len() - 1]] {
                    out.push(' ');
                    hms_ms(&mut out, ms, 13);
                }
            }
        }
        out.push(' ');
        match i.modelled[k] {
            Some(m) => hms_ms(&mut out, m, 15),
            None => out.push_str(&format!("{:>15}", "(spans others)")),
        }
        if o.failed > 0 {
            let _ = write!(out, "  {} failed", o.failed);
        }
        if let Some(f) = scaled.get(&(r.steps.as_str(), r.substeps.as_str())) {
            let _ = write!(out, "  scaled x{f:.3}");
        }
        out.push('\n');
        if let Some(m) = v.get(v.len() / 2) {
            let at = top.partition_point(|(tm, tk)| *tm > *m || (*tm == *m && name_cmp(*tk, k).is_lt()));
            if at < TOP {
                top.insert(at, (*m, k));
                top.truncate(TOP);
            }
        }
    }
    let shares: Vec<(u64, String)> =
        top.into_iter().map(|(m, k)| (m, format!("{}/{}", i.base.rows[k].steps, i.base.rows[k].substeps))).collect();
    let _ = writeln!(out, "\ndominating steps (median, share of the measured span {}):", SimDuration(total).hms_ms());
    for (m, name) in &shares {
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
    if !i.drivers.is_empty() || !i.apart.is_empty() {
        let _ = writeln!(out, "\nshared drivers: the mean correlation of each phase's log durations");
        let _ = writeln!(out, "over the runs (0.5 or more: its sub-steps share a driver)");
    }
    for (d, id) in i.drivers.iter().zip(i.driver_ids) {
        let _ = writeln!(out, "  {}: {} move together", d.steps, d.substeps.join(", "));
        let _ = writeln!(out, "    correlation {:.2}: driver `{id}`, factor p90 {:.3}", d.correlation, d.p90);
    }
    for (steps, r) in i.apart {
        let _ = writeln!(out, "  {steps}: its sub-steps vary apart");
        let _ = writeln!(out, "    correlation {r:.2}: no driver");
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

/// `HH:MM:SS.mmm` (days in front when needed), right-aligned in `width`:
/// what [`SimDuration::hms_ms`] prints, without a string per value.
fn hms_ms(out: &mut String, ms: u64, width: usize) {
    let (d, h, m, s, f) = (ms / 86_400_000, ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1_000 % 60, ms % 1_000);
    let days = if d > 0 { d.to_string() } else { String::new() };
    let len = if d > 0 { days.len() + 14 } else { 12 };
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    if d > 0 {
        out.push_str(&days);
        out.push_str("d ");
    }
    // Digit by digit: `write!` with widths was most of the report's time.
    let digit = |v: u64| char::from(b'0' + (v % 10) as u8);
    out.extend([digit(h / 10), digit(h), ':', digit(m / 10), digit(m), ':', digit(s / 10), digit(s), '.']);
    out.extend([digit(f / 100), digit(f / 10), digit(f)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_the_core_prints_them() {
        for ms in [0, 7, 61_001, 3_599_999, 86_399_999, 86_400_000, 2_592_000_000, 864_000_000_000] {
            let mut out = String::new();
            hms_ms(&mut out, ms, 15);
            assert_eq!(out, format!("{:>15}", SimDuration(ms).hms_ms()));
        }
    }
}
