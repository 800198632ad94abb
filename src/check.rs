//! `rehearse check`: the recovery-logic testbed over many seeds.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use rehearse_core::{EventRecord, Scenario, SimDuration};
use rehearse_sim::check::{self, CheckOptions, CheckReport, Problem};
use rehearse_sim::{Limits, Plan, script};
use serde_json::{Value, json};

use crate::cli::CheckArgs;
use crate::load;

pub fn check(args: &CheckArgs) -> Result<ExitCode> {
    let (scenario, text) = load::scenario(&args.scenario)?;
    let max_time = SimDuration::parse(&args.max_time).with_context(|| format!("--max-time {}", args.max_time))?;
    let opts = CheckOptions {
        runs: args.runs,
        seed: args.seed,
        swarm: args.swarm,
        determinism_every: 10,
        limits: Limits { max_events: args.max_events, max_time },
    };
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let bar = if !args.json && std::io::stderr().is_terminal() {
        Some(crate::render::progress_bar("check", "runs", args.runs))
    } else {
        None
    };
    tracing::info!(scenario = %args.scenario.display(), runs = args.runs, swarm = args.swarm, "check");
    let report = check::check(&plan, &opts, &mut |done| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let path = args.scenario.display().to_string();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &to_json(&report, &scenario, &path, &opts))?;
        writeln!(out)?;
    } else {
        let mut text = Vec::new();
        write_text(&mut text, &report, &scenario, &path, &opts)?;
        out.write_all(crate::term::Term::stdout(args.width).fit(&String::from_utf8_lossy(&text)).as_bytes())?;
    }
    out.flush()?;
    Ok(if report.failure.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn path_name(sc: &Scenario, p: &(rehearse_core::FaultIdx, rehearse_core::StepIdx, rehearse_core::Action)) -> String {
    format!("{} x {} x {}", sc.faults[p.0.index()].id, sc.step(p.1).id, p.2.name())
}

fn coverage(report: &CheckReport) -> (usize, usize) {
    (report.reached.intersection(&report.possible).count(), report.possible.len())
}

fn write_text(
    out: &mut impl Write,
    r: &CheckReport,
    sc: &Scenario,
    path: &str,
    opts: &CheckOptions,
) -> std::io::Result<()> {
    let last = opts.seed.wrapping_add(r.runs.saturating_sub(1));
    writeln!(
        out,
        "check        {path}: {} runs (seeds {}..={last}){}",
        r.runs,
        opts.seed,
        if opts.swarm { ", swarm" } else { "" }
    )?;
    let mix: Vec<String> = r.outcomes.iter().map(|(o, n)| format!("{o} {n}")).collect();
    writeln!(out, "outcomes     {}", if mix.is_empty() { "-".to_string() } else { mix.join(", ") })?;
    if let Some(w) = sc.meta.window {
        let rolled = r.outcomes.get(&rehearse_core::Outcome::RolledBack).copied().unwrap_or(0);
        writeln!(out, "success      {} of {} runs committed inside the {} window", r.successes, r.runs, w.hms())?;
        if rolled > 0 {
            writeln!(out, "             {} of {rolled} rollbacks had the old system back inside it", r.back_in_window)?;
        }
    }
    writeln!(out, "faults       {} injected, in {} runs", r.faults_injected, r.runs_with_faults)?;
    let (reached, possible) = coverage(r);
    if possible == 0 {
        writeln!(out, "coverage     the scenario declares no faults: nothing to cover")?;
    } else {
        writeln!(
            out,
            "coverage     {reached} of {possible} fault x step x recovery paths reached ({:.0}%)",
            100.0 * reached as f64 / possible as f64
        )?;
        let missing: Vec<String> = r.possible.difference(&r.reached).take(8).map(|p| path_name(sc, p)).collect();
        if !missing.is_empty() {
            let more = possible - reached - missing.len();
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            writeln!(out, "             not reached: {}{tail}", missing.join("; "))?;
        }
    }
    writeln!(out, "determinism  {} runs executed twice", r.determinism_checked)?;
    match &r.failure {
        None => writeln!(out, "result       0 violations")?,
        Some(f) => {
            writeln!(out, "result       FAILED at seed {}", f.seed)?;
            writeln!(out, "problem      {}", f.problem)?;
            writeln!(out, "events around it:")?;
            for e in &f.events {
                writeln!(out, "  {}", describe(e, sc))?;
            }
            let all: Vec<String> = f.schedule.iter().map(|i| script::format_injection(i, sc)).collect();
            writeln!(
                out,
                "faults       {} injected: {}",
                all.len(),
                if all.is_empty() { "none".into() } else { all.join(" ") }
            )?;
            writeln!(out, "shrunk to    {} fault(s), which still fails: {}", f.shrunk.len(), f.shrunk_problem)?;
            writeln!(out, "reproduce    {}", check::repro_command(path, f.seed, &f.shrunk, sc, opts.limits))?;
        }
    }
    Ok(())
}

fn describe(e: &EventRecord, sc: &Scenario) -> String {
    let named = e
        .event
        .map_names(|s| Ok::<_, ()>(sc.step(*s).id.clone()), |f| Ok(sc.faults[f.index()].id.clone()))
        .expect("infallible");
    let body = serde_json::to_string(&named).unwrap_or_else(|_| format!("{:?}", e.event));
    format!("seq {:>5}  {}  {body}", e.seq, e.at)
}

fn to_json(r: &CheckReport, sc: &Scenario, path: &str, opts: &CheckOptions) -> Value {
    let (reached, possible) = coverage(r);
    let failure = r.failure.as_ref().map(|f| {
        json!({
            "seed": f.seed,
            "problem": f.problem.to_string(),
            "kind": match f.problem { Problem::Violation(_) => "violation", Problem::Liveness(_) => "liveness", Problem::Nondeterminism { .. } => "nondeterminism" },
            "events": f.events.iter().map(|e| describe(e, sc)).collect::<Vec<_>>(),
            "schedule": f.schedule.iter().map(|i| script::format_injection(i, sc)).collect::<Vec<_>>(),
            "shrunk": f.shrunk.iter().map(|i| script::format_injection(i, sc)).collect::<Vec<_>>(),
            "shrunk_problem": f.shrunk_problem.to_string(),
            "reproduce": check::repro_command(path, f.seed, &f.shrunk, sc, opts.limits),
        })
    });
    let outcomes: serde_json::Map<String, Value> = r
        .outcomes
        .iter()
        .map(|(o, n)| (serde_json::to_value(o).unwrap().as_str().unwrap().to_string(), json!(n)))
        .collect();
    json!({
        "scenario": path,
        "runs": r.runs,
        "first_seed": opts.seed,
        "swarm": opts.swarm,
        "outcomes": outcomes,
        "successes": r.successes,
        "rolled_back_inside_window": r.back_in_window,
        "faults_injected": r.faults_injected,
        "runs_with_faults": r.runs_with_faults,
        "coverage": { "reached": reached, "possible": possible,
            "not_reached": r.possible.difference(&r.reached).map(|p| path_name(sc, p)).collect::<Vec<_>>() },
        "determinism_checked": r.determinism_checked,
        "violations": u64::from(r.failure.is_some()),
        "failure": failure,
    })
}
