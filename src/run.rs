//! `rehearse run`: one run, its timeline and its summary.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rehearse_core::{Calendar, Mode, RunState, SimDuration};
use rehearse_sim::{FaultMode, JsonlWriter, MemorySink, NullSink, Plan, RunOptions, Simulator, Tee};

use crate::cli::RunArgs;
use crate::{load, render};

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let (scenario, text) = load::scenario(&args.scenario)?;
    let max_time = SimDuration::parse(&args.max_time).with_context(|| format!("--max-time {}", args.max_time))?;
    let calendar = match &args.start {
        Some(s) => Some(Calendar::parse(s).map_err(|e| anyhow::anyhow!("--start: {e}"))?),
        None => scenario.meta.start,
    };
    let mode = if args.median { Mode::Median } else { Mode::Random };
    let faults = if args.no_faults {
        FaultMode::Off
    } else if !args.faults.is_empty() {
        let script = args
            .faults
            .iter()
            .map(|spec| rehearse_sim::script::parse_injection(spec, &scenario))
            .collect::<Result<Vec<_>, String>>()
            .map_err(anyhow::Error::msg)?;
        FaultMode::Scripted(script)
    } else {
        FaultMode::Probabilistic
    };
    let mut opts = RunOptions::new(args.seed, mode).with_faults(faults);
    opts.limits.max_events = args.max_events;
    opts.limits.max_time = max_time;
    tracing::info!(scenario = %args.scenario.display(), seed = args.seed, ?mode, "run");

    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&plan);
    let mut memory = MemorySink::new();

    // Events go to a temporary file beside the target, renamed over it only
    // once the run has succeeded: a failed run never leaves half a log in
    // place of a good one.
    let (summary, stream_hash) = match &args.events {
        Some(path) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            let mut writer = JsonlWriter::new(BufWriter::new(tmp), &scenario);
            let summary = sim.run(&opts, &mut Tee(&mut memory, &mut writer))?;
            let hash = writer.hash();
            let tmp = writer
                .into_inner()
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing {}: {}", path.display(), e.error()))?;
            tmp.as_file().sync_all().with_context(|| format!("writing {}", path.display()))?;
            tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
            (summary, hash)
        }
        None => {
            let mut writer = JsonlWriter::new(std::io::sink(), &scenario);
            let summary = sim.run(&opts, &mut Tee(&mut memory, &mut writer))?;
            (summary, writer.hash())
        }
    };

    let state = RunState::replay(&scenario, &memory.records);
    if state.finished.is_none() {
        bail!("internal error: the run ended without RunFinished");
    }
    // What the faults cost: the same run (same random numbers) without them.
    let baseline = if summary.injected.is_empty() {
        None
    } else {
        let clean = sim.run(&opts.clone().with_faults(FaultMode::Off), &mut NullSink)?;
        Some(clean.downtime)
    };
    let report = render::RunReport {
        scenario: &scenario,
        path: &args.scenario,
        summary: &summary,
        stream_hash: &stream_hash,
        calendar: calendar.as_ref(),
        state: &state,
        records: &memory.records,
        baseline_downtime: baseline,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report.json())?;
        writeln!(out)?;
    } else {
        report.text(&mut out)?;
    }
    out.flush()?;
    Ok(if state.violations().is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
