//! `rehearse replay`: verify a stored run and re-simulate it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use rehearse_core::{Calendar, Scenario};
use rehearse_sim::replay::{self, Verdict};
use rehearse_sim::store::{self, sqlite};
use serde_json::json;

use crate::cli::ReplayArgs;
use crate::load;

pub fn replay(args: &ReplayArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let path = &args.file;
    if !path.exists() {
        anyhow::bail!("cannot read {}: no such file", path.display());
    }
    if sqlite::is_sqlite(path) && rehearse_sim::track::is_log(path) {
        return crate::track::replay(path, args.json);
    }
    let (scenario, text, records, damage, calendar, stored_rows, status) = if sqlite::is_sqlite(path) {
        let stored = sqlite::read_store(path)?;
        let text = stored
            .meta
            .get("scenario_text")
            .with_context(|| format!("{}: the store holds no scenario", path.display()))?
            .clone();
        let origin = format!("{} (stored scenario)", path.display());
        let scenario = Scenario::parse(&text, &origin).map_err(crate::load::Invalid)?;
        let calendar = stored
            .meta
            .get("calendar_start")
            .and_then(|s| Calendar::parse(s).ok())
            .unwrap_or_else(crate::run::store_epoch);
        let (records, damage) = sqlite::verify_stored(&scenario, &stored.events);
        let status = stored.meta.get("status").cloned();
        (scenario, text, records, damage, calendar, Some(stored), status)
    } else {
        let Some(scenario_path) = &args.scenario else {
            anyhow::bail!(
                "{}: a JSON Lines log does not hold its scenario; name it with --scenario FILE",
                path.display()
            );
        };
        let (scenario, text) = load::scenario(scenario_path)?;
        let log = load::read_text(path)?;
        let read = store::read_jsonl_prefix(&log, &scenario);
        let calendar = scenario.meta.start.unwrap_or_else(crate::run::store_epoch);
        (scenario, text, read.records, read.damage, calendar, None, None)
    };
    let digest = rehearse_sim::digest(&text);
    let projections = stored_rows.as_ref().map_or_else(Default::default, |s| replay::StoredProjections {
        status: Some(&s.status_rows),
        validation: s.validation_rows.as_deref(),
        replication: s.replication_rows.as_deref(),
    });
    let report = replay::replay(&scenario, digest, &records, damage, calendar, projections);
    let n_violations = report.state.violations().len();
    let (verdict, code) = match &report.verdict {
        // The store is sound and re-simulates, but the run it holds broke
        // invariants: as `run` on the same run, that is a failed check.
        Verdict::Ok if n_violations > 0 => (
            format!(
                "violations: the store is intact and re-simulates, but the run broke {n_violations} invariant{}",
                if n_violations == 1 { "" } else { "s" }
            ),
            1,
        ),
        Verdict::Ok => ("OK".to_string(), 0),
        Verdict::Incomplete { n_valid } => (format!("incomplete: a valid prefix of {n_valid} events"), 1),
        Verdict::Corrupted { seq: Some(seq), why } => (format!("corrupted at seq {seq}: {why}"), 2),
        Verdict::Corrupted { seq: None, why } => (format!("corrupted: {why}"), 2),
        Verdict::Diverged { seq, logged, simulated } => {
            (format!("diverged at seq {seq}:\n  logged:      {logged}\n  re-simulated: {simulated}"), 1)
        }
    };
    let outcome = report.state.finished.map(|(_, o)| o.to_string());
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": path.display().to_string(),
                "verdict": match report.verdict { Verdict::Ok if n_violations > 0 => "violations", Verdict::Ok => "ok", Verdict::Incomplete { .. } => "incomplete", Verdict::Corrupted { .. } => "corrupted", Verdict::Diverged { .. } => "diverged" },
                "message": verdict,
                "events": report.n_events,
                "outcome": outcome,
                "violations": report.state.violations().iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                "status_rows": report.status_rows,
            }))?
        )?;
    } else {
        writeln!(out, "{}: {verdict}", path.display())?;
        writeln!(out, "events       {} verified", report.n_events)?;
        if let Some(o) = outcome {
            writeln!(out, "outcome      {o}")?;
        }
        if let Some(s) = status {
            writeln!(out, "store status {s}")?;
        }
        if report.status_rows > 0 {
            writeln!(out, "projection   DATAUPGRADESTATUS: {} rows", report.status_rows)?;
        }
        for v in report.state.violations() {
            writeln!(out, "violation    {v}")?;
        }
    }
    Ok(ExitCode::from(code))
}
