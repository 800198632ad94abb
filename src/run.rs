//! `rehearse run`: one run, its timeline and its summary.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rehearse_core::{Calendar, Mode, RunState, SimDuration};
use rehearse_sim::backend::SqliteBackend;
use rehearse_sim::store::sqlite::SqliteWriter;
use rehearse_sim::{FaultMode, JsonlWriter, MemorySink, Plan, RunOptions, Simulator, Tee};

use crate::cli::RunArgs;
use crate::{load, output, render};

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    refuse_clobbering(args)?;
    let (scenario, text) = load::scenario(&args.scenario)?;
    if let Some(r) = &scenario.readiness
        && !r.go()
    {
        let unmet: Vec<String> = r.unmet().map(|g| format!("{} ({})", g.def.id, g.status.label())).collect();
        if !args.ignore_readiness {
            eprintln!(
                "not ready to go live: {} gate{} unmet: {}\nsee `rehearse readiness {}`; pass --ignore-readiness to rehearse anyway",
                unmet.len(),
                if unmet.len() == 1 { "" } else { "s" },
                unmet.join(", "),
                args.scenario.display()
            );
            return Ok(ExitCode::from(1));
        }
        eprintln!("warning: rehearsing with go-live readiness gates unmet: {}", unmet.join(", "));
    }
    let max_time = SimDuration::parse(&args.max_time).with_context(|| format!("--max-time {}", args.max_time))?;
    // `--start` (civil, no offset) replaces the plan's own calendar, be it
    // `start` or `downtime_begins_at`: it dates the run's first step.
    let calendar = match &args.start {
        Some(s) => Some(Calendar::parse(s).map_err(|e| anyhow::anyhow!("--start: {e}"))?),
        None => scenario.meta.start,
    };
    let anchor = if args.start.is_some() { None } else { scenario.meta.anchor.as_ref() };
    let mode = if args.median { Mode::Median } else { Mode::Random };
    let faults = if args.no_faults {
        FaultMode::Off
    } else if !args.faults.is_empty() {
        let script = args
            .faults
            .iter()
            .map(|spec| rehearse_sim::script::parse_injections(spec, &scenario))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        FaultMode::Scripted(script)
    } else {
        FaultMode::Probabilistic
    };
    let mut opts = RunOptions::new(args.seed, mode).with_faults(faults);
    opts.run = args.run;
    opts.limits.max_events = args.max_events;
    opts.limits.max_time = max_time;
    tracing::info!(scenario = %args.scenario.display(), seed = args.seed, ?mode, "run");

    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let mut sim = match args.backend.as_str() {
        "sqlite" => Simulator::with_backend(
            &plan,
            Box::new(SqliteBackend::new().context("cannot start the SQLite data model")?),
        ),
        _ => Simulator::new(&plan),
    };
    let mut memory = MemorySink::new();

    // The SQLite store is written as the run goes (a running simulation can
    // be queried, a killed one leaves a readable prefix); it is created only
    // now, after every input was checked.
    let mut db = match &args.db {
        Some(path) => {
            let faults_desc = match &opts.faults {
                FaultMode::Scripted(list) => {
                    let specs: Vec<String> =
                        list.iter().map(|i| rehearse_sim::script::format_injection(i, &scenario)).collect();
                    format!("scripted: {}", specs.join(" "))
                }
                other => format!("{other:?}").to_lowercase(),
            };
            let meta = [
                ("rehearse_version", env!("CARGO_PKG_VERSION").to_string()),
                ("event_schema", rehearse_core::SCHEMA_VERSION.to_string()),
                ("scenario_path", args.scenario.display().to_string()),
                ("scenario_text", text.clone()),
                ("scenario_digest", plan.digest().to_string()),
                ("seed", args.seed.to_string()),
                ("run", args.run.to_string()),
                ("mode", format!("{mode:?}").to_lowercase()),
                ("faults", faults_desc),
                ("backend", args.backend.clone()),
            ];
            let cal = calendar.unwrap_or_else(store_epoch);
            let writer = SqliteWriter::create(path, &scenario, cal, &meta)?;
            if let Some(n) = args.halt_store_after_batches {
                // A test's hook: it waits for this line, then kills the run
                // or changes the store's place and sends a line to go on.
                writer.halt_after_batches(n, move || {
                    eprintln!("store halted after {n} batches");
                    let mut line = String::new();
                    if matches!(std::io::stdin().read_line(&mut line), Ok(0) | Err(_)) {
                        loop {
                            std::thread::park();
                        }
                    }
                });
            }
            Some(writer)
        }
        None => None,
    };

    // Events go to a temporary file beside the target, renamed over it only
    // once the run has succeeded: a failed run never leaves half a log in
    // place of a good one.
    let (result, stream_hash) = match &args.events {
        Some(path) => {
            let tmp = Located { path, inner: output::temp_beside(path)? };
            let mut writer = JsonlWriter::new(BufWriter::new(tmp), &scenario);
            let result = sim.run(&opts, &mut Tee(&mut memory, &mut Tee(&mut writer, &mut db)));
            let hash = writer.hash();
            if result.is_ok() {
                let tmp = writer.into_inner().into_inner().map_err(|e| anyhow::anyhow!("{}", e.error()))?;
                crate::output::persist(tmp.inner, path)?;
            }
            (result, hash)
        }
        None => {
            let mut writer = JsonlWriter::new(std::io::sink(), &scenario);
            let result = sim.run(&opts, &mut Tee(&mut memory, &mut Tee(&mut writer, &mut db)));
            (result, writer.hash())
        }
    };
    let summary = match result {
        Ok(s) => {
            if let Some(db) = db {
                db.close("finished")?;
            }
            s
        }
        Err(e) => {
            // The run's error first (a failure of the store's is one, named
            // by its path); the store keeps what it committed, and a failure
            // of its own while closing, not said yet, is said after it.
            if let Some(db) = db
                && let Err(closing) = db.close(&format!("stopped: {e}"))
            {
                return Err(anyhow::Error::new(closing).context(e.to_string()));
            }
            return Err(e.into());
        }
    };

    let state = RunState::replay(&scenario, &memory.records);
    if state.finished.is_none() {
        bail!("internal error: the run ended without RunFinished");
    }
    // What the faults cost: the same run (same random numbers) without them.
    let baseline = rehearse_sim::estimate::baseline(&mut sim, &opts, &summary)?;
    let report = render::RunReport {
        scenario: &scenario,
        path: &args.scenario,
        summary: &summary,
        stream_hash: &stream_hash,
        dates: render::Dates::new(calendar.as_ref(), anchor, &summary),
        state: &state,
        records: &memory.records,
        baseline,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report.json())?;
        writeln!(out)?;
    } else {
        let view = crate::table::View { by_workstream: args.by == "workstream", downtime_only: args.downtime_only };
        report.text(&mut out, &crate::term::Term::stdout(args.width), &view)?;
    }
    out.flush()?;
    Ok(if state.violations().is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Refuses, before any work, outputs that would replace an input or each
/// other, and a `--db` that names a file which is not a run store (unless
/// `--force`): a run must never destroy the plan it reads, nor a file it did
/// not make.
fn refuse_clobbering(args: &RunArgs) -> Result<()> {
    let scenario = ("the scenario this run reads", args.scenario.as_path());
    if let Some(db) = &args.db {
        output::refuse_clobbering(("--db", db), &[scenario])?;
        if db.is_dir() {
            bail!("--db {}: that is a directory", db.display());
        }
        let occupied = std::fs::metadata(db).is_ok_and(|m| m.len() > 0);
        if occupied && !args.force && !rehearse_sim::store::sqlite::is_store(db) {
            bail!(
                "--db {}: the file exists and is not a rehearse run store; refusing to replace it (pass --force to replace it anyway)",
                db.display()
            );
        }
    }
    if let Some(events) = &args.events {
        let mut others = vec![scenario];
        if let Some(db) = &args.db {
            others.push(("the --db store", db.as_path()));
        }
        output::refuse_clobbering(("--events", events), &others)?;
    }
    Ok(())
}

/// The calendar a store uses when the run has none: the simulated epoch.
pub fn store_epoch() -> Calendar {
    Calendar::parse("1970-01-01T00:00:00").expect("a valid date")
}

/// A writer whose errors name the file it writes (`--events`: a temporary
/// file beside `path`, renamed over it once the run succeeded).
struct Located<'p, W> {
    path: &'p std::path::Path,
    inner: W,
}

impl<W: Write> Write for Located<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.locate(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.locate(e))
    }
}

impl<W> Located<'_, W> {
    fn locate(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}
