//! The calibrated scenario as TOML text: a runbook of phases and
//! sub-steps, their lags, the fitted durations and the observed failures
//! as faults.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rehearse_core::time::SimDuration;

use super::Options;
use super::export::Run;
use super::fit::{Fitted, Observed, fit, size_factor};
use super::shape::Shape;

/// The scenario text for the runs, with `base`'s structure; and (Steps,
/// SubSteps, factor) of every scaled sub-step.
pub(super) fn scenario(
    runs: &[Run],
    base: &Run,
    sh: &Shape,
    observed: &BTreeMap<(String, String), Observed>,
    opts: &Options,
) -> (String, Vec<(String, String, f64)>) {
    let mut t = String::new();
    header(&mut t, runs, base, opts);
    let mut scaled = Vec::new();
    for k in 0..sh.phases.len() {
        phase(&mut t, k, base, sh, observed, opts, &mut scaled);
    }
    faults(&mut t, observed);
    (t, scaled)
}

/// Where the scenario came from, `[scenario]`, `[database]` and the runbook.
fn header(t: &mut String, runs: &[Run], base: &Run, opts: &Options) {
    let files: Vec<&str> = runs.iter().map(|r| r.file.as_str()).collect();
    let _ =
        writeln!(t, "# Calibrated by `rehearse calibrate` from {} measured run(s): {}.", runs.len(), files.join(", "));
    let _ = writeln!(t, "# Structure and lags from {}, which started {}.", base.file, base.first_start);
    if runs.len() == 1 {
        let _ = writeln!(t, "# One run: every duration is its measured value, so `--median` reproduces it.");
    } else {
        let _ = writeln!(
            t,
            "# Several runs: a lognormal where it fits the observations, else the observations themselves."
        );
    }
    if let Some((from, to)) = opts.size_gb {
        let _ = writeln!(
            t,
            "# Scaled from a {from} GB database to {to} GB: database synchronisation and upgrade scripts x{:.3}.",
            to / from
        );
    }
    let _ = writeln!(
        t,
        "\n[scenario]\nname = \"Calibrated data upgrade runbook\"\nsource = \"DBUPGRADE.DATAUPGRADESTATUS exports: {}\"",
        files.join(", ")
    );
    if let Some((_, to)) = opts.size_gb {
        let _ = writeln!(t, "\n[database]\nsize_gb = {to}");
    }
    let _ = writeln!(t, "\n[[step]]\nid = \"runbook\"\nname = \"Data upgrade runbook\"\nrecords_status = true");
}

/// Phase `k` and its sub-steps, in `base`'s order.
fn phase(
    t: &mut String,
    k: usize,
    base: &Run,
    sh: &Shape,
    observed: &BTreeMap<(String, String), Observed>,
    opts: &Options,
    scaled: &mut Vec<(String, String, f64)>,
) {
    let phase = &sh.phases[k];
    let _ = write!(t, "\n[[step]]\nid = \"{}\"\nname = \"{phase}\"\nparent = \"runbook\"\n", id(phase, "phase"));
    if let Some((prev, ss, lag)) = sh.phase_after[k] {
        let prev_id = id(&sh.phases[prev], "phase");
        let _ = writeln!(t, "after = [{}]", dep(&prev_id, ss, lag));
    }
    for (i, r) in base.rows.iter().enumerate().filter(|(_, r)| &r.steps == phase) {
        let sid = id(&r.steps, &r.substeps);
        let parent_id =
            sh.parent[i].map_or_else(|| id(phase, "phase"), |p| id(&base.rows[p].steps, &base.rows[p].substeps));
        let _ = write!(t, "\n[[step]]\nid = \"{sid}\"\nname = \"{}\"\nparent = \"{parent_id}\"\n", r.substeps);
        let mut deps: Vec<String> = Vec::new();
        if let (Some(lead), Some(p)) = (sh.lead[i], sh.parent[i])
            && lead > 0
        {
            deps.push(dep(&id(&base.rows[p].steps, &base.rows[p].substeps), true, lead));
        }
        if let (Some(lead), None) = (sh.lead[i], sh.parent[i])
            && lead > 0
        {
            deps.push(dep(&id(phase, "phase"), true, lead));
        }
        for (d, ss, lag) in &sh.after[i] {
            deps.push(dep(&id(&base.rows[*d].steps, &base.rows[*d].substeps), *ss, *lag));
        }
        if !deps.is_empty() {
            let _ = writeln!(t, "after = [{}]", deps.join(", "));
        }
        let is_parent = sh.parent.contains(&Some(i));
        if is_parent {
            if sh.finish_lag[i] > 0 {
                let _ = writeln!(t, "finish_lag = \"{}\"", dur(sh.finish_lag[i]));
            }
            continue;
        }
        let obs = &observed[&(r.steps.clone(), r.substeps.clone())];
        let factor = size_factor(opts, &r.substeps);
        if factor != 1.0 && obs.completed_ms.iter().any(|v| *v > 0) {
            scaled.push((r.steps.clone(), r.substeps.clone(), factor));
        }
        match duration_expr(&obs.completed_ms, factor) {
            Some(expr) => {
                let _ = writeln!(t, "duration = {expr}");
            }
            None => {
                // Only a failed or unfinished attempt was seen: at least this long.
                let seen = r.end_or_start().max(base.span_ms()) - r.start_ms;
                let _ = writeln!(
                    t,
                    "# CENSORED: no completed attempt was observed; it ran at least {} before the export.",
                    SimDuration(seen).hms()
                );
                let _ = writeln!(t, "duration = \"{}\"", dur(((seen.max(1)) as f64 * factor).round() as u64));
            }
        }
    }
}

/// Observed failures become faults, at their observed rate, with the
/// assumed recovery they share.
fn faults(t: &mut String, observed: &BTreeMap<(String, String), Observed>) {
    let failing: Vec<(&(String, String), &Observed)> = observed.iter().filter(|(_, o)| o.failed > 0).collect();
    for ((steps, substeps), o) in &failing {
        let attempts = o.attempts();
        let _ = write!(
            t,
            "\n# Observed: {} failure(s) in {attempts} attempt(s).\n[[fault]]\nid = \"observed-{}\"\ncatalog = \"runbook-step-failed\"\nsteps = [\"{}\"]\nprobability = {:.4}\nrecovery = \"rerunstep\"\n",
            o.failed,
            id(steps, substeps).replace('.', "-"),
            id(steps, substeps),
            o.failure_rate(),
        );
    }
    if !failing.is_empty() {
        let _ = writeln!(
            t,
            "\n# ASSUMPTION: how long it takes to notice, read the logs and rerun the step.\n[recovery.rerunstep]\naction = \"resume\"\nreaction = {{ triangular = [\"10m\", \"30m\", \"2h\"] }}\nmax_attempts = 3"
        );
    }
}

/// The duration expression for a sub-step's observations (`None`: nothing
/// completed to learn from).
pub(super) fn duration_expr(obs: &[u64], factor: f64) -> Option<String> {
    Some(match fit(obs, factor)? {
        Fitted::Instant => "\"instant\"".into(),
        Fitted::Fixed(v) => format!("\"{}\"", dur(v)),
        Fitted::Lognormal { median_ms, p90_ms } => {
            format!("{{ lognormal = {{ median = \"{}\", p90 = \"{}\" }} }}", dur(median_ms), dur(p90_ms))
        }
        Fitted::Empirical(sorted) => {
            let items: Vec<String> = sorted.iter().map(|v| format!("\"{}\"", dur(*v))).collect();
            format!("{{ empirical = [{}] }}", items.join(", "))
        }
    })
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

fn dep(id: &str, start_to_start: bool, lag: u64) -> String {
    match (start_to_start, lag) {
        (false, 0) => format!("\"{id}\""),
        (false, lag) => format!("{{ step = \"{id}\", lag = \"{}\" }}", dur(lag)),
        (true, lag) => format!("{{ step = \"{id}\", from = \"start\", lag = \"{}\" }}", dur(lag)),
    }
}
