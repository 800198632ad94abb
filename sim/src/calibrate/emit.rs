//! The calibrated scenario as TOML: a runbook of phases and sub-steps,
//! their lags, the fitted durations and the observed failures as faults.
//!
//! Every name and file name (text from the user) is written by `toml_edit`
//! (escaped as a TOML string needs, whatever it holds), so any name an
//! export holds round-trips. What this module makes itself — ids (letters,
//! digits, `-`, `_`, `.`: [`id`]), durations (`1h2m3.4s`), numbers, keys,
//! table headers — needs no escaping and is written as it is: going
//! through `toml_edit` for those (an inline table per dependency) cost
//! more than the rest of calibration.
//!
//! The scenario is valid by construction: ids are made unique ([`Ids`]),
//! every time lies within [`MAX_SPAN`](rehearse_core::scenario::MAX_SPAN)
//! (the export's span is checked when read, scaled durations here), faults
//! strike only steps that do work. Debug builds hold it to that
//! (`super::calibrate`).
//!
//! In two passes: [`prepare`] (ids, fits, the medians modelled: what the
//! report needs too) and [`text`], so that the report can be written
//! beside the text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rehearse_core::time::SimDuration;
use toml_edit::Value;

use super::export::{Row, Run};
use super::fit::{Fitted, Observed, TooLong, fit, is_size_dependent, scale, size_factor};
use super::shape::Shape;
use super::{CalibrateError, Options, Renamed};

/// Everything about the scenario but its text.
pub(super) struct Prepared {
    pub(super) phase_ids: Vec<String>,
    pub(super) row_ids: Vec<String>,
    /// Per row of the base run that does work: its duration, and for a
    /// censored one (no completed attempt) how long it was seen running.
    pub(super) fitted: Vec<Option<(Fitted, Option<u64>)>>,
    /// (Steps, SubSteps, factor) of every scaled sub-step.
    pub(super) scaled: Vec<(String, String, f64)>,
    /// Names whose id was taken by an earlier one.
    pub(super) renamed: Vec<Renamed>,
    /// Per row of the base run: its modelled median, for a step that does work.
    pub(super) modelled: Vec<Option<u64>>,
    /// Sub-steps that failed but have sub-steps in the scenario, so carry
    /// no fault.
    pub(super) failed_groups: Vec<(String, String)>,
    /// Each shared driver's id, and per row of the base run the driver
    /// that scales it.
    pub(super) driver_ids: Vec<String>,
    pub(super) scale_by: Vec<Option<usize>>,
    /// Each driver's factor p90.
    pub(super) driver_p90: Vec<f64>,
}

/// Ids, fits and medians for `base`'s rows; `observed` holds what all runs
/// say of each of them.
///
/// # Errors
/// [`CalibrateError::TooLong`]: a duration scaled beyond what a step may
/// last.
pub(super) fn prepare(
    base: &Run,
    sh: &Shape,
    observed: &[&Observed],
    opts: &Options,
    drivers: &[super::drivers::FoundDriver],
) -> Result<Prepared, CalibrateError> {
    // Owners: 0 the runbook, 1 + k phase k, 1 + phases + i row i.
    let n_phases = sh.phases.len();
    let mut ids = Ids::new(|owner| match owner {
        0 => "the runbook".to_string(),
        o if o <= n_phases => sh.phases[o - 1].clone(),
        o => {
            let r = &base.rows[o - 1 - n_phases];
            format!("{}/{}", r.steps, r.substeps)
        }
    });
    ids.claim("runbook".into(), 0);
    let phase_ids: Vec<String> = sh.phases.iter().enumerate().map(|(k, p)| ids.claim(id(p, "phase"), 1 + k)).collect();
    let row_ids: Vec<String> =
        base.rows.iter().enumerate().map(|(i, r)| ids.claim(id(&r.steps, &r.substeps), 1 + n_phases + i)).collect();
    let n = base.rows.len();
    let mut p = Prepared {
        phase_ids,
        row_ids,
        fitted: Vec::with_capacity(n),
        scaled: Vec::new(),
        renamed: std::mem::take(&mut ids.renamed),
        modelled: vec![None; n],
        failed_groups: Vec::new(),
        driver_ids: Vec::with_capacity(drivers.len()),
        scale_by: vec![None; n],
        driver_p90: drivers.iter().map(|d| d.p90).collect(),
    };
    // Driver ids are apart from step ids: unique among themselves.
    let mut driver_ids = Ids::new(|k| drivers[k].steps.clone());
    for (k, d) in drivers.iter().enumerate() {
        p.driver_ids.push(driver_ids.claim(id(&d.steps, "driver"), k));
    }
    for (i, r) in base.rows.iter().enumerate() {
        p.scale_by[i] = drivers.iter().position(|d| d.steps == r.steps && d.substeps.contains(&r.substeps));
    }
    for (i, r) in base.rows.iter().enumerate() {
        let o = observed[i];
        if sh.is_parent[i] {
            if o.failed > 0 {
                p.failed_groups.push((r.steps.clone(), r.substeps.clone()));
            }
            p.fitted.push(None);
            continue;
        }
        let factor = size_factor(opts, is_size_dependent(&r.substeps));
        let too_long = |e: TooLong| too_long(base, r, factor, e);
        if factor != 1.0 && o.completed_ms.iter().any(|v| *v > 0) {
            p.scaled.push((r.steps.clone(), r.substeps.clone(), factor));
        }
        let fitted = match fit(&o.completed_ms, factor).map_err(too_long)? {
            Some(f) => (f, None),
            None => {
                // Only a failed or unfinished attempt was seen: at least this long.
                let seen = r.end_or_start().max(base.span_ms()) - r.start_ms;
                (Fitted::Fixed(scale(seen.max(1), factor).map_err(too_long)?), Some(seen))
            }
        };
        p.modelled[i] = Some(fitted.0.dist().median().as_ms());
        p.fitted.push(Some(fitted));
    }
    Ok(p)
}

/// The scenario text for the runs, with `base`'s structure.
pub(super) fn text(
    runs: &[Run],
    base: &Run,
    sh: &Shape,
    observed: &[&Observed],
    p: &Prepared,
    opts: &Options,
) -> String {
    // About what one row takes, so that the text is not copied as it grows.
    let mut t = String::with_capacity(1024 + base.rows.len() * 192);
    header(&mut t, runs, base, opts, p);
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); sh.phases.len()];
    for (i, k) in sh.phase_of.iter().enumerate() {
        rows_of[*k].push(i);
    }
    for (k, phase) in sh.phases.iter().enumerate() {
        t.push_str("\n[[step]]\n");
        plain(&mut t, "id", &p.phase_ids[k]);
        kv(&mut t, "name", phase.as_str());
        plain(&mut t, "parent", "runbook");
        if let Some((prev, ss, lag)) = sh.phase_after[k] {
            t.push_str("after = [");
            dep(&mut t, &p.phase_ids[prev], ss, lag);
            t.push_str("]\n");
        }
        for &i in &rows_of[k] {
            row(&mut t, i, base, sh, &p.phase_ids[k], p);
        }
    }
    faults(&mut t, base, sh, &p.row_ids, observed);
    t
}

/// Where the scenario came from, `[scenario]`, `[database]` and the runbook.
fn header(t: &mut String, runs: &[Run], base: &Run, opts: &Options, p: &Prepared) {
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
    for (id, p90) in p.driver_ids.iter().zip(&p.driver_p90) {
        t.push_str("\n[[driver]]\n");
        comment(t, "Sub-steps that moved together over the runs: their shared factor, fitted as a lognormal.");
        plain(t, "id", id);
        let _ = writeln!(t, "factor = {{ lognormal = {{ median = 1.0, p90 = {p90:.6} }} }}");
    }
    t.push_str("\n[[step]]\n");
    plain(t, "id", "runbook");
    kv(t, "name", "Data upgrade runbook");
    t.push_str("records_status = true\n");
}

/// Row `i` of the base run as a step of its phase.
fn row(t: &mut String, i: usize, base: &Run, sh: &Shape, phase_id: &str, p: &Prepared) {
    let r = &base.rows[i];
    let parent_id = sh.parent[i].map_or(phase_id, |q| p.row_ids[q].as_str());
    t.push_str("\n[[step]]\n");
    plain(t, "id", &p.row_ids[i]);
    kv(t, "name", r.substeps.as_str());
    plain(t, "parent", parent_id);
    let lead = sh.lead[i].filter(|l| *l > 0);
    if lead.is_some() || !sh.after[i].is_empty() {
        t.push_str("after = [");
        let mut first = true;
        let mut sep = |t: &mut String| {
            if !std::mem::take(&mut first) {
                t.push_str(", ");
            }
        };
        if let Some(lead) = lead {
            sep(t);
            dep(t, parent_id, true, lead);
        }
        for (d, ss, lag) in &sh.after[i] {
            sep(t);
            dep(t, &p.row_ids[*d], *ss, *lag);
        }
        t.push_str("]\n");
    }
    if sh.is_parent[i] {
        if sh.finish_lag[i] > 0 {
            plain(t, "finish_lag", &dur(sh.finish_lag[i]));
        }
        return;
    }
    let (fitted, censored) = p.fitted[i].as_ref().expect("a step that does work is fitted");
    if let Some(seen) = censored {
        comment(
            t,
            &format!(
                "CENSORED: no completed attempt was observed; it ran at least {} before the export.",
                SimDuration(*seen).hms()
            ),
        );
    }
    t.push_str("duration = ");
    duration(t, fitted);
    t.push('\n');
    if let Some(k) = p.scale_by[i] {
        t.push_str("scale_by = [");
        quoted(t, &p.driver_ids[k]);
        t.push_str("]\n");
    }
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
fn faults(t: &mut String, base: &Run, sh: &Shape, row_ids: &[String], observed: &[&Observed]) {
    let mut fault_ids = Ids::new(|_| String::new());
    let mut any = false;
    for i in 0..base.rows.len() {
        let o = observed[i];
        if o.failed == 0 || sh.is_parent[i] {
            continue;
        }
        any = true;
        let fid = fault_ids.claim(format!("observed-{}", row_ids[i].replace('.', "-")), i);
        t.push('\n');
        comment(t, &format!("Observed: {} failure(s) in {} attempt(s).", o.failed, o.attempts()));
        t.push_str("[[fault]]\n");
        plain(t, "id", &fid);
        plain(t, "catalog", "runbook-step-failed");
        let _ = writeln!(t, "steps = [\"{}\"]", row_ids[i]);
        kv(t, "probability", o.failure_rate());
        plain(t, "recovery", "rerunstep");
    }
    if any {
        t.push('\n');
        comment(t, "ASSUMPTION: how long it takes to notice, read the logs and rerun the step.");
        t.push_str("[recovery.rerunstep]\n");
        plain(t, "action", "resume");
        t.push_str("reaction = { triangular = [\"10m\", \"30m\", \"2h\"] }\nmax_attempts = 3\n");
    }
}

/// The duration value for a sub-step's observations (`None`: nothing
/// completed to learn from), as `toml_edit` holds it.
///
/// # Errors
/// An observation scaled beyond what a step may last.
pub(super) fn duration_expr(obs: &[u64], factor: f64) -> Result<Option<Value>, TooLong> {
    Ok(fit(obs, factor)?.map(|f| {
        let mut t = String::new();
        duration(&mut t, &f);
        t.parse::<Value>().expect("a duration is a TOML value")
    }))
}

/// A fitted duration as a TOML value.
fn duration(t: &mut String, fitted: &Fitted) {
    match fitted {
        Fitted::Instant => t.push_str("\"instant\""),
        Fitted::Fixed(v) => quoted(t, &dur(*v)),
        Fitted::Lognormal { median_ms, p90_ms } => {
            let _ = write!(t, "{{ lognormal = {{ median = \"{}\", p90 = \"{}\" }} }}", dur(*median_ms), dur(*p90_ms));
        }
        Fitted::Empirical(sorted) => {
            t.push_str("{ empirical = [");
            for (k, v) in sorted.iter().enumerate() {
                if k > 0 {
                    t.push_str(", ");
                }
                quoted(t, &dur(*v));
            }
            t.push_str("] }");
        }
    }
}

/// `key = value`, the value (text from the user) written by `toml_edit`.
fn kv(t: &mut String, key: &str, value: impl Into<Value>) {
    let _ = writeln!(t, "{key} = {}", value.into());
}

/// `key = "value"` for a value made here: an id, a duration, a name of
/// this module's. Nothing in it needs escaping (checked in debug builds).
fn plain(t: &mut String, key: &str, value: &str) {
    t.push_str(key);
    t.push_str(" = ");
    quoted(t, value);
    t.push('\n');
}

fn quoted(t: &mut String, value: &str) {
    debug_assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{value:?}");
    t.push('"');
    t.push_str(value);
    t.push('"');
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
/// recorded in `renamed`. Names are asked for (`name_of`) only then.
pub(super) struct Ids<F> {
    /// Each id taken, and the owner (a number `name_of` knows) that took it.
    taken: BTreeMap<String, usize>,
    /// Per wanted id, the next suffix to try (so that many names cleaning
    /// to one id are not each tried against all the others).
    next: BTreeMap<String, u64>,
    name_of: F,
    pub(super) renamed: Vec<Renamed>,
}

impl<F: Fn(usize) -> String> Ids<F> {
    pub(super) fn new(name_of: F) -> Self {
        Ids { taken: BTreeMap::new(), next: BTreeMap::new(), name_of, renamed: Vec::new() }
    }

    pub(super) fn claim(&mut self, wanted: String, owner: usize) -> String {
        let taken_by = match self.taken.entry(wanted) {
            std::collections::btree_map::Entry::Vacant(v) => {
                let got = v.key().clone();
                v.insert(owner);
                return got;
            }
            std::collections::btree_map::Entry::Occupied(o) => (o.key().clone(), *o.get()),
        };
        let (wanted, first) = taken_by;
        let mut k = self.next.get(&wanted).copied().unwrap_or(2);
        let got = loop {
            let candidate = format!("{wanted}-{k}");
            k += 1;
            if !self.taken.contains_key(&candidate) {
                break candidate;
            }
        };
        self.next.insert(wanted.clone(), k);
        self.taken.insert(got.clone(), owner);
        let name = (self.name_of)(owner);
        self.renamed.push(Renamed { name, wanted, id: got.clone(), taken_by: (self.name_of)(first) });
        got
    }
}

/// A name's id: the characters an id can hold, others `-`.
fn id(steps: &str, substeps: &str) -> String {
    let clean = |c: char| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '-' };
    let mut out = String::with_capacity(steps.len() + substeps.len() + 1);
    out.extend(steps.chars().map(clean));
    out.push('.');
    out.extend(substeps.chars().map(clean));
    out
}

fn dur(ms: u64) -> String {
    SimDuration(ms).to_string()
}

/// One dependency: a plain id, or an inline table with its lag.
fn dep(t: &mut String, id: &str, start_to_start: bool, lag: u64) {
    if !start_to_start && lag == 0 {
        quoted(t, id);
        return;
    }
    t.push_str("{ step = ");
    quoted(t, id);
    if start_to_start {
        t.push_str(", from = \"start\"");
    }
    t.push_str(", lag = ");
    quoted(t, &dur(lag));
    t.push_str(" }");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_clean_to_one_id_get_their_own() {
        let names = ["the runbook", "Post-Sync", "Post Sync", "Post-Sync/phase", "x"];
        let mut ids = Ids::new(|o| names[o].to_string());
        assert_eq!(ids.claim("runbook".into(), 0), "runbook");
        assert_eq!(ids.claim(id("Post-Sync", "phase"), 1), "Post-Sync.phase");
        assert_eq!(ids.claim(id("Post Sync", "phase"), 2), "Post-Sync.phase-2");
        // A sub-step named `phase` would be its phase's id.
        assert_eq!(ids.claim(id("Post-Sync", "phase"), 3), "Post-Sync.phase-3");
        // A natural id that a suffix took is suffixed in turn.
        assert_eq!(ids.claim("Post-Sync.phase-2".into(), 4), "Post-Sync.phase-2-2");
        let r = &ids.renamed[0];
        assert_eq!(
            (r.name.as_str(), r.wanted.as_str(), r.id.as_str()),
            ("Post Sync", "Post-Sync.phase", "Post-Sync.phase-2")
        );
        assert_eq!(r.taken_by, "Post-Sync");
        assert_eq!(ids.renamed[2].taken_by, "Post Sync");
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
