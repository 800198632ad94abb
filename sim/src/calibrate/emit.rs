//! The calibrated scenario as TOML: a runbook of phases and sub-steps,
//! their lags, the fitted durations and the observed failures as faults.
//!
//! Every value is written by `toml_edit` (strings escaped, arrays and inline
//! tables laid out by it), so any name an export holds round-trips; only
//! the fixed table headers and keys are written here. The scenario is
//! valid by construction: ids are made unique ([`Ids`]), every time lies
//! within [`MAX_SPAN`](rehearse_core::scenario::MAX_SPAN) (the export's
//! span is checked when read, scaled durations here), faults strike only
//! steps that do work. Debug builds hold it to that (`super::calibrate`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rehearse_core::time::SimDuration;
use toml_edit::{Array, InlineTable, Value};

use super::export::{Row, Run};
use super::fit::{Fitted, Observed, TooLong, fit, is_size_dependent, scale, size_factor};
use super::shape::Shape;
use super::{CalibrateError, Options, Renamed};

/// What emission gives besides the text.
pub(super) struct Emitted {
    pub(super) toml: String,
    /// (Steps, SubSteps, factor) of every scaled sub-step.
    pub(super) scaled: Vec<(String, String, f64)>,
    /// Names whose id was taken by an earlier one.
    pub(super) renamed: Vec<Renamed>,
    /// Per row of the base run: its modelled median, for a step that does work.
    pub(super) modelled: Vec<Option<u64>>,
    /// Sub-steps that failed but have sub-steps in the scenario, so carry
    /// no fault.
    pub(super) failed_groups: Vec<(String, String)>,
}

/// The scenario text for the runs, with `base`'s structure.
///
/// # Errors
/// [`CalibrateError::TooLong`]: a duration scaled beyond what a step may
/// last.
pub(super) fn scenario(
    runs: &[Run],
    base: &Run,
    sh: &Shape,
    observed: &BTreeMap<(String, String), Observed>,
    opts: &Options,
) -> Result<Emitted, CalibrateError> {
    let mut t = String::new();
    header(&mut t, runs, base, opts);
    let mut ids = Ids::default();
    ids.claim("runbook".into(), || "the runbook".into());
    let phase_ids: Vec<String> = sh.phases.iter().map(|p| ids.claim(id(p, "phase"), || p.clone())).collect();
    let row_ids: Vec<String> = base
        .rows
        .iter()
        .map(|r| ids.claim(id(&r.steps, &r.substeps), || format!("{}/{}", r.steps, r.substeps)))
        .collect();
    let mut out = Emitted {
        toml: String::new(),
        scaled: Vec::new(),
        renamed: std::mem::take(&mut ids.renamed),
        modelled: vec![None; base.rows.len()],
        failed_groups: Vec::new(),
    };
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); sh.phases.len()];
    for (i, k) in sh.phase_of.iter().enumerate() {
        rows_of[*k].push(i);
    }
    for (k, phase) in sh.phases.iter().enumerate() {
        t.push_str("\n[[step]]\n");
        kv(&mut t, "id", phase_ids[k].as_str());
        kv(&mut t, "name", phase.as_str());
        kv(&mut t, "parent", "runbook");
        if let Some((prev, ss, lag)) = sh.phase_after[k] {
            kv(&mut t, "after", deps([dep(&phase_ids[prev], ss, lag)]));
        }
        for &i in &rows_of[k] {
            row(&mut t, i, base, sh, &phase_ids[k], &row_ids, observed, opts, &mut out)?;
        }
    }
    faults(&mut t, base, sh, &row_ids, observed, &mut out);
    out.toml = t;
    Ok(out)
}

/// Where the scenario came from, `[scenario]`, `[database]` and the runbook.
fn header(t: &mut String, runs: &[Run], base: &Run, opts: &Options) {
    let files: Vec<&str> = runs.iter().map(|r| r.file.as_str()).collect();
    let files = files.join(", ");
    comment(t, &format!("Calibrated by `rehearse calibrate` from {} measured run(s): {files}.", runs.len()));
    comment(t, &format!("Structure and lags from {}, which started {}.", base.file, base.first_start));
    if runs.len() == 1 {
        comment(t, "One run: every duration is its measured value, so `--median` reproduces it.");
    } else {
        comment(t, "Several runs: a lognormal where it fits the observations, else the observations themselves.");
    }
    if let Some((from, to)) = opts.size_gb {
        comment(
            t,
            &format!(
                "Scaled from a {from} GB database to {to} GB: database synchronisation and upgrade scripts x{:.3}.",
                to / from
            ),
        );
    }
    t.push_str("\n[scenario]\n");
    kv(t, "name", "Calibrated data upgrade runbook");
    kv(t, "source", format!("DBUPGRADE.DATAUPGRADESTATUS exports: {files}"));
    if let Some((_, to)) = opts.size_gb {
        t.push_str("\n[database]\n");
        kv(t, "size_gb", to);
    }
    t.push_str("\n[[step]]\n");
    kv(t, "id", "runbook");
    kv(t, "name", "Data upgrade runbook");
    kv(t, "records_status", true);
}

/// Row `i` of the base run as a step of its phase.
#[allow(clippy::too_many_arguments)]
fn row(
    t: &mut String,
    i: usize,
    base: &Run,
    sh: &Shape,
    phase_id: &str,
    row_ids: &[String],
    observed: &BTreeMap<(String, String), Observed>,
    opts: &Options,
    out: &mut Emitted,
) -> Result<(), CalibrateError> {
    let r = &base.rows[i];
    let parent_id = sh.parent[i].map_or(phase_id, |p| row_ids[p].as_str());
    t.push_str("\n[[step]]\n");
    kv(t, "id", row_ids[i].as_str());
    kv(t, "name", r.substeps.as_str());
    kv(t, "parent", parent_id);
    let mut after: Vec<Value> = Vec::new();
    if let Some(lead) = sh.lead[i]
        && lead > 0
    {
        after.push(dep(parent_id, true, lead));
    }
    for (d, ss, lag) in &sh.after[i] {
        after.push(dep(&row_ids[*d], *ss, *lag));
    }
    if !after.is_empty() {
        kv(t, "after", deps(after));
    }
    if sh.is_parent[i] {
        if sh.finish_lag[i] > 0 {
            kv(t, "finish_lag", dur(sh.finish_lag[i]));
        }
        return Ok(());
    }
    let obs = &observed[&(r.steps.clone(), r.substeps.clone())];
    let factor = size_factor(opts, is_size_dependent(&r.substeps));
    let too_long = |e: TooLong| too_long(base, r, factor, e);
    if factor != 1.0 && obs.completed_ms.iter().any(|v| *v > 0) {
        out.scaled.push((r.steps.clone(), r.substeps.clone(), factor));
    }
    let fitted = match fit(&obs.completed_ms, factor).map_err(too_long)? {
        Some(f) => f,
        None => {
            // Only a failed or unfinished attempt was seen: at least this long.
            let seen = r.end_or_start().max(base.span_ms()) - r.start_ms;
            comment(
                t,
                &format!(
                    "CENSORED: no completed attempt was observed; it ran at least {} before the export.",
                    SimDuration(seen).hms()
                ),
            );
            Fitted::Fixed(scale(seen.max(1), factor).map_err(too_long)?)
        }
    };
    out.modelled[i] = Some(fitted.dist().median().as_ms());
    kv(t, "duration", duration_value(&fitted));
    Ok(())
}

fn too_long(base: &Run, r: &Row, factor: f64, e: TooLong) -> CalibrateError {
    CalibrateError::TooLong {
        place: format!("{}:{}", base.file, r.line),
        what: format!("{}/{}", r.steps, r.substeps),
        factor,
        ms: e.ms,
    }
}

/// Observed failures of steps that do work become faults, at their
/// observed rate, with the assumed recovery they share.
fn faults(
    t: &mut String,
    base: &Run,
    sh: &Shape,
    row_ids: &[String],
    observed: &BTreeMap<(String, String), Observed>,
    out: &mut Emitted,
) {
    let mut fault_ids = Ids::default();
    let mut any = false;
    for (i, r) in base.rows.iter().enumerate() {
        let o = &observed[&(r.steps.clone(), r.substeps.clone())];
        if o.failed == 0 {
            continue;
        }
        if sh.is_parent[i] {
            out.failed_groups.push((r.steps.clone(), r.substeps.clone()));
            continue;
        }
        any = true;
        let attempts = o.attempts();
        let fid = fault_ids.claim(format!("observed-{}", row_ids[i].replace('.', "-")), String::new);
        t.push('\n');
        comment(t, &format!("Observed: {} failure(s) in {attempts} attempt(s).", o.failed));
        t.push_str("[[fault]]\n");
        kv(t, "id", fid);
        kv(t, "catalog", "runbook-step-failed");
        kv(t, "steps", Array::from_iter([row_ids[i].as_str()]));
        kv(t, "probability", o.failure_rate());
        kv(t, "recovery", "rerunstep");
    }
    if any {
        t.push('\n');
        comment(t, "ASSUMPTION: how long it takes to notice, read the logs and rerun the step.");
        t.push_str("[recovery.rerunstep]\n");
        kv(t, "action", "resume");
        let mut reaction = InlineTable::new();
        reaction.insert("triangular", Array::from_iter(["10m", "30m", "2h"]).into());
        kv(t, "reaction", reaction);
        kv(t, "max_attempts", 3);
    }
}

/// The duration value for a sub-step's observations (`None`: nothing
/// completed to learn from).
///
/// # Errors
/// An observation scaled beyond what a step may last.
pub(super) fn duration_expr(obs: &[u64], factor: f64) -> Result<Option<Value>, TooLong> {
    Ok(fit(obs, factor)?.map(|f| duration_value(&f)))
}

fn duration_value(fitted: &Fitted) -> Value {
    match fitted {
        Fitted::Instant => "instant".into(),
        Fitted::Fixed(v) => dur(*v).into(),
        Fitted::Lognormal { median_ms, p90_ms } => {
            let mut ln = InlineTable::new();
            ln.insert("median", dur(*median_ms).into());
            ln.insert("p90", dur(*p90_ms).into());
            let mut d = InlineTable::new();
            d.insert("lognormal", ln.into());
            d.into()
        }
        Fitted::Empirical(sorted) => {
            let mut d = InlineTable::new();
            d.insert("empirical", Array::from_iter(sorted.iter().map(|v| dur(*v))).into());
            d.into()
        }
    }
}

/// `key = value`, the value written by `toml_edit`.
fn kv(t: &mut String, key: &str, value: impl Into<Value>) {
    let _ = writeln!(t, "{key} = {}", value.into());
}

/// A comment line; control characters (a line break in a file name)
/// escaped, so that nothing in it can end the comment.
fn comment(t: &mut String, text: &str) {
    t.push_str("# ");
    for c in text.chars() {
        if c.is_control() {
            t.extend(c.escape_default());
        } else {
            t.push(c);
        }
    }
    t.push('\n');
}

/// Unique ids: a name's id is its characters an id can hold (others
/// become `-`); when that id is taken, by a name that cleans to the same
/// or by the runbook's own, `-2`, `-3`, ... is added, and the name is
/// recorded in `renamed`.
#[derive(Default)]
pub(super) struct Ids {
    /// Each id taken, and the name that took it.
    taken: BTreeMap<String, String>,
    /// Per wanted id, the next suffix to try (so that many names cleaning
    /// to one id are not each tried against all the others).
    next: BTreeMap<String, u64>,
    pub(super) renamed: Vec<Renamed>,
}

impl Ids {
    pub(super) fn claim(&mut self, wanted: String, name: impl FnOnce() -> String) -> String {
        let name = name();
        if !self.taken.contains_key(&wanted) {
            self.taken.insert(wanted.clone(), name);
            return wanted;
        }
        let mut k = self.next.get(&wanted).copied().unwrap_or(2);
        let got = loop {
            let candidate = format!("{wanted}-{k}");
            k += 1;
            if !self.taken.contains_key(&candidate) {
                break candidate;
            }
        };
        self.next.insert(wanted.clone(), k);
        let taken_by = self.taken[&wanted].clone();
        self.taken.insert(got.clone(), name.clone());
        self.renamed.push(Renamed { name, wanted, id: got.clone(), taken_by });
        got
    }
}

fn id(steps: &str, substeps: &str) -> String {
    let clean = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '-' }).collect::<String>()
    };
    format!("{}.{}", clean(steps), clean(substeps))
}

fn dur(ms: u64) -> String {
    SimDuration(ms).to_string()
}

fn deps(items: impl IntoIterator<Item = Value>) -> Array {
    items.into_iter().collect()
}

fn dep(id: &str, start_to_start: bool, lag: u64) -> Value {
    if !start_to_start && lag == 0 {
        return id.into();
    }
    let mut t = InlineTable::new();
    t.insert("step", id.into());
    if start_to_start {
        t.insert("from", "start".into());
    }
    t.insert("lag", dur(lag).into());
    t.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_clean_to_one_id_get_their_own() {
        let mut ids = Ids::default();
        assert_eq!(ids.claim("runbook".into(), || "the runbook".into()), "runbook");
        assert_eq!(ids.claim(id("Post-Sync", "phase"), || "Post-Sync".into()), "Post-Sync.phase");
        assert_eq!(ids.claim(id("Post Sync", "phase"), || "Post Sync".into()), "Post-Sync.phase-2");
        // A sub-step named `phase` would be its phase's id.
        assert_eq!(ids.claim(id("Post-Sync", "phase"), || "Post-Sync/phase".into()), "Post-Sync.phase-3");
        // A natural id that a suffix took is suffixed in turn.
        assert_eq!(ids.claim("Post-Sync.phase-2".into(), || "x".into()), "Post-Sync.phase-2-2");
        let r = &ids.renamed[0];
        assert_eq!(
            (r.name.as_str(), r.wanted.as_str(), r.id.as_str()),
            ("Post Sync", "Post-Sync.phase", "Post-Sync.phase-2")
        );
        assert_eq!(r.taken_by, "Post-Sync");
        assert_eq!(ids.renamed.len(), 3);
    }

    #[test]
    fn values_are_escaped_by_toml_edit() {
        let mut t = String::new();
        kv(&mut t, "name", "say \"hi\" \\o/\nbye");
        comment(&mut t, "file\n[scenario]");
        let doc: toml_edit::DocumentMut = t.parse().unwrap();
        assert_eq!(doc["name"].as_str(), Some("say \"hi\" \\o/\nbye"));
        assert_eq!(doc.len(), 1, "the comment stays a comment: {t}");
    }
}
