//! `rehearse replay`: verify a stored run and re-simulate it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use rehearse_sim::replay::{self, ReplayReport, Verdict};
use rehearse_sim::store::{self, sqlite};
use serde_json::json;

use crate::cli::ReplayArgs;
use crate::load;

pub fn replay(args: &ReplayArgs) -> Result<ExitCode> {
    let path = &args.file;
    if !path.exists() {
        anyhow::bail!("cannot read {}: no such file", path.display());
    }
    if sqlite::is_sqlite(path) && rehearse_sim::track::is_log(path) {
        return crate::track::replay(path, args.json);
    }
    let (report, status, immutable) = if sqlite::is_sqlite(path) {
        let r = replay::replay_store(path)?;
        (r.report, r.status, r.immutable)
    } else {
        let Some(scenario_path) = &args.scenario else {
            if std::fs::read(path).is_ok_and(|bytes| bytes.contains(&0)) {
                anyhow::bail!(
                    "{}: neither a run store (it does not begin as a SQLite file: its first page is damaged, or it is another file) nor a JSON Lines log",
                    path.display()
                );
            }
            anyhow::bail!(
                "{}: a JSON Lines log does not hold its scenario; name it with --scenario FILE",
                path.display()
            );
        };
        let (scenario, text) = load::scenario(scenario_path)?;
        let log = load::read_text(path)?;
        let read = store::read_jsonl_prefix(&log, &scenario);
        let calendar = scenario.meta.start.unwrap_or_else(crate::run::store_epoch);
        let digest = rehearse_sim::digest(&text);
        (replay::replay(&scenario, digest, &read.records, read.damage, calendar, None), None, false)
    };
    print(args, &report, status.as_deref(), immutable)
}

/// Prints the verdict; the exit code it calls for.
fn print(args: &ReplayArgs, report: &ReplayReport, status: Option<&str>, immutable: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let path = &args.file;
    let violations = report.state.as_ref().map_or(&[][..], |s| s.violations());
    let n_violations = violations.len();
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
        Verdict::Corrupted { seq: Some(seq), why, .. } => (format!("corrupted at seq {seq}: {why}"), 2),
        Verdict::Corrupted { seq: None, table: Some(table), why } => (format!("corrupted: table `{table}`: {why}"), 2),
        Verdict::Corrupted { seq: None, table: None, why } => (format!("corrupted: {why}"), 2),
        Verdict::Diverged { seq, logged, simulated } => {
            (format!("diverged at seq {seq}:\n  logged:      {logged}\n  re-simulated: {simulated}"), 1)
        }
    };
    let outcome = report.state.as_ref().and_then(|s| s.finished).map(|(_, o)| o.to_string());
    if args.json {
        let (word, table) = match &report.verdict {
            Verdict::Ok if n_violations > 0 => ("violations", None),
            Verdict::Ok => ("ok", None),
            Verdict::Incomplete { .. } => ("incomplete", None),
            Verdict::Corrupted { table, .. } => ("corrupted", table.as_deref()),
            Verdict::Diverged { .. } => ("diverged", None),
        };
        let seq = match &report.verdict {
            Verdict::Corrupted { seq, .. } => *seq,
            Verdict::Diverged { seq, .. } => Some(*seq),
            _ => None,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": path.display().to_string(),
                "verdict": word,
                "message": verdict,
                "seq": seq,
                "table": table,
                "events": report.n_events,
                "outcome": outcome,
                "violations": violations.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                "status_rows": report.status_rows,
                "read_immutable": immutable,
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
        if immutable {
            writeln!(out, "read         immutable (the store's place cannot be written)")?;
        }
        if report.status_rows > 0 {
            writeln!(out, "projection   DATAUPGRADESTATUS: {} rows", report.status_rows)?;
        }
        for v in violations {
            writeln!(out, "violation    {v}")?;
        }
    }
    Ok(ExitCode::from(code))
}
