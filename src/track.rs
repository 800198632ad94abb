//! `rehearse track`: the weekend log. Reads the arguments and the clock
//! (the one place the wall clock enters a record: `--at` defaults to now),
//! hands each record to `rehearse_sim::track`, which checks and writes it,
//! and prints the log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rehearse_core::SimDuration;
use rehearse_core::scenario::Scenario;
use rehearse_sim::replay::Verdict;
use rehearse_sim::track::{self, Draft, Effective, Log, Record, Replacement, Stamp};
use serde_json::json;

use crate::load;

#[derive(Debug, Args)]
pub struct TrackArgs {
    /// The weekend log (a SQLite file, made by `init`).
    pub log: PathBuf,
    #[command(subcommand)]
    pub command: TrackCommand,
    /// For tests: the time it is now (RFC 3339 with an offset).
    #[arg(long, hide = true, global = true)]
    pub now: Option<String>,
}

/// When and by whom.
#[derive(Debug, Args)]
pub struct When {
    /// When it happened: RFC 3339 with an offset, or a date and time in the
    /// plan's time zone (default: now).
    #[arg(long, value_name = "DATETIME")]
    pub at: Option<String>,
    /// Who records it.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TrackCommand {
    /// Open a new weekend log for a scenario (never replaces a file).
    Init {
        scenario: PathBuf,
        #[command(flatten)]
        when: When,
    },
    /// A step started.
    Start {
        step: String,
        #[command(flatten)]
        when: When,
    },
    /// A step is done.
    Done {
        step: String,
        #[command(flatten)]
        when: When,
    },
    /// A fault struck a running step: FAULT@STEP.
    Fault {
        #[arg(value_name = "FAULT@STEP")]
        spec: String,
        #[command(flatten)]
        when: When,
    },
    /// A decision, who took it and why (resume, retry, rerun, rollback, go, no-go, ...).
    Decide {
        action: String,
        /// The step it is about.
        #[arg(long)]
        step: Option<String>,
        #[arg(long, value_name = "NAME")]
        by: String,
        #[arg(long, value_name = "TEXT")]
        why: String,
        #[arg(long, value_name = "DATETIME")]
        at: Option<String>,
    },
    /// A note.
    Note {
        text: String,
        #[command(flatten)]
        when: When,
    },
    /// Correct record SEQ with a new record (the past is never edited): its
    /// time (--at), its step (--step), or withdraw it (--withdraw).
    Correct {
        seq: u64,
        #[arg(long, value_name = "NAME")]
        by: String,
        #[arg(long, value_name = "TEXT")]
        why: String,
        /// The time it really happened.
        #[arg(long, value_name = "DATETIME")]
        at: Option<String>,
        /// The step it was really about.
        #[arg(long)]
        step: Option<String>,
        /// The record should not be there at all.
        #[arg(long, conflicts_with_all = ["at", "step"])]
        withdraw: bool,
    },
    /// Read a DATAUPGRADESTATUS export (partial is fine) as the runbook's
    /// actuals; importing a newer export adds only what is new.
    Import {
        export: PathBuf,
        /// The zone the export's times were taken in, when the plan has no
        /// time_zone.
        #[arg(long, value_name = "ZONE")]
        time_zone: Option<String>,
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// For crash tests: after N committed transactions, say so on
        /// stderr and stop for good, so a test can kill the import then.
        #[arg(long, value_name = "N", hide = true)]
        halt_after_batches: Option<u64>,
    },
    /// Print the log as a timeline, planned beside actual.
    Show {
        #[arg(long)]
        json: bool,
    },
}

/// The plan's zone, or UTC.
fn zone_of(sc: &Scenario) -> TimeZone {
    track::plan_zone(sc).unwrap_or(TimeZone::UTC)
}

/// `--at`, or now, as a stamp in the plan's zone (or the offset written).
fn stamp(at: Option<&str>, sc: &Scenario, now: Timestamp) -> Result<Stamp> {
    let zone = track::plan_zone(sc);
    match at {
        None => Ok(Stamp::new(now, &zone_of(sc))),
        Some(text) => {
            let z = rehearse_core::anchor::instant(text, zone.as_ref()).map_err(|e| {
                anyhow::anyhow!("--at {e}{}", if zone.is_none() { " (the plan has no time_zone)" } else { "" })
            })?;
            Ok(Stamp::new(z.timestamp(), z.time_zone()))
        }
    }
}

pub fn track(args: &TrackArgs) -> Result<ExitCode> {
    // The wall clock, read here and only here: the default of `--at`.
    let now = match &args.now {
        Some(t) => rehearse_core::anchor::instant(t, None).map_err(|e| anyhow::anyhow!("--now {e}"))?.timestamp(),
        None => Timestamp::now(),
    };
    let path = &args.log;
    let mut out = std::io::stdout().lock();
    // Writes a draft, checked against the log as it stands, and says so.
    let write = |draft: Draft| -> Result<ExitCode> {
        let e = track::append(path, draft, now)?;
        writeln!(std::io::stdout(), "seq {}  {}  {}", e.seq, e.at, e.record)?;
        Ok(ExitCode::SUCCESS)
    };
    // A record at `--at` (read in the plan's zone, so the log's scenario
    // is read first) by `by`; never into a drill's log.
    let record = |at: Option<&str>, by: Option<String>, record: Result<Record>| -> Result<ExitCode> {
        let log = Log::open(path)?;
        refuse_drill(path, &log)?;
        let sc = log.scenario()?;
        let record = record?;
        write(Draft { at: stamp(at, &sc, now)?, by, record, key: None })
    };
    match &args.command {
        TrackCommand::Init { scenario, when } => {
            let (sc, text) = load::scenario(scenario)?;
            let at = stamp(when.at.as_deref(), &sc, now)?;
            track::init(path, &scenario.display().to_string(), &text, at, when.by.clone())?;
            writeln!(out, "{}: weekend log opened for {} ({} steps)", path.display(), sc.meta.name, sc.steps.len())?;
            Ok(ExitCode::SUCCESS)
        }
        TrackCommand::Start { step, when } => {
            record(when.at.as_deref(), when.by.clone(), Ok(Record::Started { step: step.clone() }))
        }
        TrackCommand::Done { step, when } => {
            record(when.at.as_deref(), when.by.clone(), Ok(Record::Done { step: step.clone() }))
        }
        TrackCommand::Fault { spec, when } => {
            let fault = match spec.split_once('@') {
                Some((fault, step)) => Ok(Record::Fault { fault: fault.to_string(), step: step.to_string() }),
                None => Err(anyhow::anyhow!("fault {spec:?}: expected FAULT@STEP")),
            };
            record(when.at.as_deref(), when.by.clone(), fault)
        }
        TrackCommand::Decide { action, step, by: who, why, at } => {
            let decision = Record::Decision { action: action.clone(), step: step.clone(), why: why.clone() };
            record(at.as_deref(), Some(who.clone()), Ok(decision))
        }
        TrackCommand::Note { text, when } => {
            record(when.at.as_deref(), when.by.clone(), Ok(Record::Note { text: text.clone() }))
        }
        TrackCommand::Correct { seq, by: who, why, at, step, withdraw } => {
            // The log read once for both the record corrected and the
            // plan's zone (`append` reads it again, under its lock).
            let log = Log::open(path)?;
            refuse_drill(path, &log)?;
            let sc = log.scenario()?;
            write(correction(&log, &sc, *seq, who, why, at.as_deref(), step.as_deref(), *withdraw, now)?)
        }
        TrackCommand::Import { export, time_zone, by: who, halt_after_batches } => {
            if path.exists() {
                refuse_drill(path, &Log::open(path)?)?;
            }
            let text = load::read_text(export)?;
            let zone = match time_zone {
                Some(z) => Some(rehearse_core::anchor::time_zone(z).map_err(|e| anyhow::anyhow!("--time-zone {e}"))?),
                None => None,
            };
            let mut after_batch = |n: u64| {
                if halt_after_batches.is_some_and(|h| n >= h) {
                    eprintln!("track halted after {n} batches");
                    loop {
                        std::thread::park();
                    }
                }
            };
            let file = export.display().to_string();
            let done = track::import(path, &file, &text, zone.as_ref(), who.clone(), now, &mut after_batch)?;
            writeln!(
                out,
                "{}: {} rows read, {} new records{}",
                file,
                done.rows,
                done.added.len(),
                if done.failed > 0 {
                    format!(", {} failed rows (recorded as started)", done.failed)
                } else {
                    String::new()
                }
            )?;
            Ok(ExitCode::SUCCESS)
        }
        TrackCommand::Show { json } => show(path, *json, now, &mut out),
    }
}

/// A drill's log is written by the drill and its bridge page: its time is
/// the drill's, which this command does not know.
fn refuse_drill(path: &std::path::Path, log: &Log) -> Result<()> {
    if rehearse_sim::drill::is_drill(log) {
        anyhow::bail!(
            "{}: this log is a drill: its steps start and finish on their own and its clock is the drill's; \
             record decisions and notes on its bridge page (`rehearse live {}`)",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// The correction of record `seq`: the record as it now stands, with the
/// time or step changed, or withdrawn.
#[allow(clippy::too_many_arguments)]
fn correction(
    log: &Log,
    sc: &Scenario,
    seq: u64,
    by: &str,
    why: &str,
    at: Option<&str>,
    step: Option<&str>,
    withdraw: bool,
    now: Timestamp,
) -> Result<Draft> {
    let record = |replacement| Record::Correction { of_seq: seq, why: why.to_string(), replacement };
    let draft = |replacement| {
        Ok(Draft {
            at: Stamp::new(now, &zone_of(sc)),
            by: Some(by.to_string()),
            record: record(replacement),
            key: None,
        })
    };
    if withdraw {
        return draft(None);
    }
    if at.is_none() && step.is_none() {
        anyhow::bail!("correct {seq}: say what was wrong: --at, --step, or --withdraw");
    }
    // What the record says now: its latest correction, or itself.
    let current = log.effective().into_iter().find(|e| e.seq == seq);
    let (was_at, was) = match (current, log.entries().get(seq as usize)) {
        (Some(e), _) => (e.at, e.record),
        (None, Some(e)) => (e.at, e.record.clone()),
        (None, None) => (Stamp::new(now, &zone_of(sc)), Record::Note { text: String::new() }),
    };
    let new_at = match at {
        Some(t) => stamp(Some(t), sc, now)?,
        None => was_at,
    };
    let new = match (was, step.map(str::to_string)) {
        (r, None) => r,
        (Record::Started { .. }, Some(step)) => Record::Started { step },
        (Record::Done { .. }, Some(step)) => Record::Done { step },
        (Record::Fault { fault, .. }, Some(step)) => Record::Fault { fault, step },
        (Record::Decision { action, why, .. }, Some(step)) => Record::Decision { action, step: Some(step), why },
        (r, Some(_)) => anyhow::bail!("correct {seq}: a `{}` record has no step to change", r.kind()),
    };
    draft(Some(Replacement { at: new_at, record: Box::new(new) }))
}

/// A time in the plan's zone (or the offset it was recorded with).
fn shown(s: Stamp, zone: Option<&TimeZone>) -> String {
    match zone {
        Some(z) => s.timestamp().to_zoned(z.clone()).strftime("%a %Y-%m-%d %H:%M:%S %:z").to_string(),
        None => s.to_string(),
    }
}

fn hms(ms: u64) -> String {
    SimDuration(ms).hms()
}

fn show(path: &Path, json: bool, now: Timestamp, out: &mut impl Write) -> Result<ExitCode> {
    let log = Log::open(path)?;
    let sc = log.scenario()?;
    let zone = track::plan_zone(&sc);
    let fold = track::check_all(&sc, log.entries())
        .map_err(|(seq, why)| anyhow::anyhow!("{}: seq {seq}: {why}", path.display()))?;
    let planned = track::planned_ms(&sc, log.scenario_text());
    let eff = log.effective();
    let by_of = |seq: Option<u64>| -> Option<&Effective> { seq.and_then(|s| eff.iter().find(|e| e.seq == s)) };
    let mut rows = Vec::new();
    for i in sc.tree_order() {
        let s = sc.step(i);
        let started = fold.started[i.index()];
        let done = fold.done[i.index()];
        let took = match (started, done) {
            (Some((a, _)), Some((b, _))) => Some((b.unix_ms() - a.unix_ms()).max(0) as u64),
            (Some((a, _)), None) => Some((now.as_millisecond() - a.unix_ms()).max(0) as u64),
            _ => None,
        };
        let seqs = [started.map(|x| x.1), done.map(|x| x.1)];
        let who: Vec<String> =
            seqs.into_iter().filter_map(|q| by_of(q).and_then(|e| e.by.clone())).fold(Vec::new(), |mut v, b| {
                if !v.contains(&b) {
                    v.push(b);
                }
                v
            });
        let corrected = seqs.into_iter().any(|q| by_of(q).is_some_and(|e| e.corrected_by.is_some()));
        rows.push((i, s, started, done, took, who, corrected));
    }
    let others: Vec<&Effective> =
        eff.iter().filter(|e| !matches!(e.record, Record::Started { .. } | Record::Done { .. })).collect();
    let corrections: Vec<_> = log.entries().iter().filter(|e| matches!(e.record, Record::Correction { .. })).collect();
    if json {
        let steps: Vec<_> = rows
            .iter()
            .map(|(i, s, started, done, took, who, corrected)| {
                json!({
                    "step": s.id, "depth": s.depth,
                    "started": started.map(|x| x.0.to_string()), "done": done.map(|x| x.0.to_string()),
                    "running": started.is_some() && done.is_none(),
                    "took_ms": took, "planned_ms": planned.as_ref().map(|p| p[i.index()]),
                    "by": who, "corrected": corrected,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&json!({
            "file": path.display().to_string(),
            "scenario": log.scenario_file(),
            "importing": log.importing(),
            "records": log.entries(),
            "steps": steps,
            "events": others.iter().map(|e| json!({"seq": e.seq, "at": e.at.to_string(), "by": e.by, "record": e.record, "corrected_by": e.corrected_by})).collect::<Vec<_>>(),
        }))?;
        writeln!(out, "{text}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "weekend log  {}  ({}, {} records{})",
        path.display(),
        log.scenario_file(),
        log.entries().len(),
        log.importing().map(|f| format!(", import of {f} cut short")).unwrap_or_default()
    )?;
    let w = rows.iter().map(|r| 2 * r.1.depth as usize + r.1.id.len()).max().unwrap_or(4).clamp(4, 40);
    let tw = if zone.is_some() { 30 } else { 29 };
    writeln!(out, "  {:w$}  {:tw$}  {:tw$}  {:>12}  {:>12}  by", "step", "started", "done", "took", "planned")?;
    for (i, s, started, done, took, who, corrected) in &rows {
        let id: String = format!("{}{}", "  ".repeat(s.depth as usize), s.id).chars().take(w).collect();
        let t = |x: Option<(Stamp, u64)>| x.map_or("-".to_string(), |x| shown(x.0, zone.as_ref()));
        let took = match (took, done) {
            (Some(ms), Some(_)) => hms(*ms),
            (Some(ms), None) => format!("{} so far", hms(*ms)),
            _ => "-".into(),
        };
        let planned = planned.as_ref().map_or("-".into(), |p| hms(p[i.index()]));
        let mark = if *corrected { "  (corrected)" } else { "" };
        writeln!(
            out,
            "{} {id:w$}  {:tw$}  {:tw$}  {took:>12}  {planned:>12}  {}{mark}",
            if started.is_some() && done.is_none() { ">" } else { " " },
            t(*started),
            t(*done),
            who.join(", ")
        )?;
    }
    if !others.is_empty() {
        writeln!(out, "\nfaults, decisions and notes")?;
        for e in &others {
            let extra = match &e.record {
                Record::Decision { why, .. } => format!(": {why}"),
                _ => String::new(),
            };
            let by = e.by.as_deref().map(|b| format!(" ({b})")).unwrap_or_default();
            writeln!(out, "  seq {:<4} {}  {}{extra}{by}", e.seq, shown(e.at, zone.as_ref()), e.record)?;
        }
    }
    if !corrections.is_empty() {
        writeln!(out, "\ncorrections")?;
        for e in corrections {
            if let Record::Correction { why, .. } = &e.record {
                let by = e.by.as_deref().unwrap_or("?");
                writeln!(out, "  seq {:<4} {}  {}: {why} ({by})", e.seq, shown(e.at, zone.as_ref()), e.record)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `replay` of a weekend log: the chain, each record's place and columns,
/// and every record against the plan and those before it.
pub fn replay(path: &Path, json: bool) -> Result<ExitCode> {
    let v = track::verify(path).with_context(|| format!("cannot replay {}", path.display()))?;
    let (word, message, code) = match &v.verdict {
        Verdict::Ok => ("ok", "OK".to_string(), 0),
        Verdict::Incomplete { n_valid } => (
            "incomplete",
            format!(
                "incomplete: an import was cut short; the {n_valid} records written are sound (import the export again to finish)"
            ),
            1,
        ),
        Verdict::Corrupted { seq: Some(seq), why, .. } => ("corrupted", format!("corrupted at seq {seq}: {why}"), 2),
        Verdict::Corrupted { seq: None, table: Some(table), why } => {
            ("corrupted", format!("corrupted: table `{table}`: {why}"), 2)
        }
        Verdict::Corrupted { seq: None, table: None, why } => ("corrupted", format!("corrupted: {why}"), 2),
        Verdict::Diverged { seq, .. } => ("diverged", format!("diverged at seq {seq}"), 1),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&json!({
            "file": path.display().to_string(), "kind": track::KIND, "verdict": word, "message": message, "records": v.n_records,
        }))?;
        writeln!(out, "{text}")?;
    } else {
        writeln!(out, "{}: {message}", path.display())?;
        writeln!(out, "weekend log  {} records verified", v.n_records)?;
    }
    Ok(ExitCode::from(code))
}
