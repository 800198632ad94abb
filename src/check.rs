//! `rehearse check`: the recovery-logic testbed over many seeds.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use std::path::Path;

use anyhow::{Context, Result, bail};
use rehearse_core::{EventRecord, Scenario, SimDuration};
use rehearse_sim::check::{self, CheckOptions, CheckReport, Problem, Replayed};
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
        liveness: args.liveness,
        determinism_every: 10,
        limits: Limits { max_events: args.max_events, max_time },
    };
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let path = args.scenario.display().to_string();
    if let Some(dir) = &args.save_failures {
        crate::output::refuse_clobbering(
            ("--save-failures", dir),
            &[("the scenario this check reads", &args.scenario)],
        )?;
    }
    if let (Some(shard), Some(out)) = (&args.part.shard, &args.part.out) {
        if args.json || args.save_failures.is_some() || args.corpus.is_some() {
            bail!(
                "--shard writes a part file; give --json and --save-failures to `rehearse merge`, --corpus to an unsharded check"
            );
        }
        crate::output::refuse_clobbering(("--out", out), &[("the scenario this check reads", &args.scenario)])?;
        let shard = crate::shard::parse(shard)?;
        let header = crate::shard::header(
            "check",
            &args.scenario,
            &text,
            shard,
            opts.seed,
            opts.runs,
            check::options_json(&opts),
        );
        let range = shard.range(opts.runs);
        let bar = progress(false, range.end - range.start);
        // A part with failures is a part well written: the merge reports
        // them (exit 1 here would make an array job retry the shard).
        return crate::shard::write_file(out, shard, range.end - range.start, |w| {
            let (_, w, bytes) = check::write_part(&plan, &opts, shard, &header, w, &mut |done| {
                if let Some(b) = &bar {
                    b.set_position(done);
                }
            })?;
            Ok::<_, std::io::Error>((w, bytes))
        });
    }
    let corpus = match &args.corpus {
        Some(dir) => Some(replay_corpus(&plan, dir)?),
        None => None,
    };
    let bar = progress(args.json, args.runs);
    tracing::info!(scenario = %args.scenario.display(), runs = args.runs, swarm = args.swarm, "check");
    let report = check::check(&plan, &opts, &mut |done| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let code = print_all(
        &plan,
        &path,
        &text,
        &opts,
        &report,
        corpus.as_deref(),
        args.save_failures.as_deref(),
        args.json,
        args.width,
    )?;
    let corpus_failed = corpus.is_some_and(|c| c.iter().any(|(_, r)| matches!(r, Replayed::Fails { .. })));
    Ok(if corpus_failed { ExitCode::from(1) } else { code })
}

fn progress(json: bool, runs: u64) -> Option<indicatif::ProgressBar> {
    (!json && std::io::stderr().is_terminal()).then(|| crate::render::progress_bar("check", "runs", runs))
}

/// Every capsule (`*.json`) in `dir`, by file name, replayed on the plan.
fn replay_corpus(plan: &Plan<'_>, dir: &Path) -> Result<Vec<(String, Replayed)>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("--corpus {}: cannot read it", dir.display()))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("--corpus {}", dir.display()))?;
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}:{}:{}: not a capsule: {e}", f.display(), e.line(), e.column()))?;
            let replayed =
                check::replay_capsule(plan, &v).map_err(|e| anyhow::anyhow!("{}: not a capsule: {e}", f.display()))?;
            Ok((f.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()), replayed))
        })
        .collect()
}

/// Prints a check's report (and saves its failures): what `check` and
/// `merge` print alike. Exit 1 on a failure.
#[allow(clippy::too_many_arguments)]
pub(crate) fn print(
    plan: &Plan<'_>,
    path: &str,
    text: &str,
    opts: &CheckOptions,
    report: &CheckReport,
    save: Option<&Path>,
    json: bool,
    width: Option<usize>,
) -> Result<ExitCode> {
    print_all(plan, path, text, opts, report, None, save, json, width)
}

#[allow(clippy::too_many_arguments)]
fn print_all(
    plan: &Plan<'_>,
    path: &str,
    text: &str,
    opts: &CheckOptions,
    report: &CheckReport,
    corpus: Option<&[(String, Replayed)]>,
    save: Option<&Path>,
    json: bool,
    width: Option<usize>,
) -> Result<ExitCode> {
    let scenario = plan.scenario();
    let digest = rehearse_sim::sha256_hex(text.as_bytes());
    let mut saved = Vec::new();
    if let Some(dir) = save {
        std::fs::create_dir_all(dir).with_context(|| format!("--save-failures {}: cannot make it", dir.display()))?;
        for d in &report.failures {
            let file = dir.join(check::capsule_name(&d.fingerprint));
            let capsule = check::capsule(plan, opts, path, &digest, d);
            crate::output::write_atomically(&file, &(serde_json::to_string_pretty(&capsule)? + "\n"))?;
            saved.push(file.display().to_string());
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = to_json(report, scenario, path, opts);
        v["corpus"] = corpus.map_or(Value::Null, |c| {
            c.iter()
                .map(|(file, r)| match r {
                    Replayed::Fails { fingerprint, problem } => {
                        json!({ "file": file, "verdict": "fails", "fingerprint": fingerprint, "problem": problem.to_string() })
                    }
                    Replayed::Passes => json!({ "file": file, "verdict": "passes" }),
                    Replayed::Stale(why) => json!({ "file": file, "verdict": "stale", "why": why }),
                })
                .collect()
        });
        v["saved"] = json!(saved);
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        let mut text = Vec::new();
        if let Some(c) = corpus {
            write_corpus(&mut text, c)?;
        }
        write_text(&mut text, report, scenario, path, opts)?;
        for file in &saved {
            writeln!(text, "saved        {file}")?;
        }
        out.write_all(crate::term::Term::stdout(width).fit(&String::from_utf8_lossy(&text)).as_bytes())?;
    }
    out.flush()?;
    Ok(if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn write_corpus(out: &mut impl Write, corpus: &[(String, Replayed)]) -> std::io::Result<()> {
    let count = |f: fn(&Replayed) -> bool| corpus.iter().filter(|(_, r)| f(r)).count();
    writeln!(
        out,
        "corpus       {} capsules replayed: {} still fail, {} pass, {} stale",
        corpus.len(),
        count(|r| matches!(r, Replayed::Fails { .. })),
        count(|r| matches!(r, Replayed::Passes)),
        count(|r| matches!(r, Replayed::Stale(_)))
    )?;
    for (file, r) in corpus {
        match r {
            Replayed::Fails { fingerprint, .. } => writeln!(out, "  FAILS      {file}: {fingerprint}")?,
            Replayed::Stale(why) => writeln!(out, "  stale      {file}: {why}")?,
            Replayed::Passes => writeln!(out, "  passes     {file}")?,
        }
    }
    Ok(())
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
    match r.failure() {
        None => writeln!(out, "result       0 violations")?,
        Some(f) => {
            writeln!(
                out,
                "result       FAILED: {} of {} runs, {} distinct failure{} (invariant, step, recovery path)",
                r.failing_runs,
                r.runs,
                r.failures.len(),
                if r.failures.len() == 1 { "" } else { "s" }
            )?;
            writeln!(out, "first        at seed {}", f.seed)?;
            writeln!(out, "problem      {}", f.problem)?;
            writeln!(out, "events around it:")?;
            for e in &f.events {
                writeln!(out, "  {}", describe(e, sc))?;
            }
            let all: Vec<String> = script::format_schedule(&f.schedule, sc);
            writeln!(
                out,
                "faults       {} injected: {}",
                f.schedule.len(),
                if all.is_empty() { "none".into() } else { all.join(" ") }
            )?;
            writeln!(out, "shrunk to    {} fault(s), which still fails: {}", f.shrunk.len(), f.shrunk_problem)?;
            writeln!(out, "reproduce    {}", check::repro_command(path, f.seed, &f.shrunk, sc, opts.limits))?;
            for (k, d) in r.failures.iter().enumerate() {
                let f = &d.failure;
                writeln!(
                    out,
                    "failure {:<4} {} run{}: {}",
                    k + 1,
                    d.runs,
                    if d.runs == 1 { "" } else { "s" },
                    d.fingerprint
                )?;
                let shrunk: Vec<String> = script::format_schedule(&f.shrunk, sc);
                writeln!(
                    out,
                    "             first at seed {}, shrunk to: {}",
                    f.seed,
                    if shrunk.is_empty() { "no fault".into() } else { shrunk.join(" ") }
                )?;
                writeln!(out, "             {}", check::repro_command(path, f.seed, &f.shrunk, sc, opts.limits))?;
            }
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
    let failure = r.failure().map(|f| {
        json!({
            "seed": f.seed,
            "problem": f.problem.to_string(),
            "kind": match f.problem { Problem::Violation(_) => "violation", Problem::Liveness(_) => "liveness", Problem::Nondeterminism { .. } => "nondeterminism" },
            "events": f.events.iter().map(|e| describe(e, sc)).collect::<Vec<_>>(),
            "schedule": script::format_schedule(&f.schedule, sc),
            "shrunk": script::format_schedule(&f.shrunk, sc),
            "shrunk_problem": f.shrunk_problem.to_string(),
            "reproduce": check::repro_command(path, f.seed, &f.shrunk, sc, opts.limits),
        })
    });
    let failures: Vec<Value> = r
        .failures
        .iter()
        .map(|d| {
            let f = &d.failure;
            json!({
                "fingerprint": d.fingerprint,
                "runs": d.runs,
                "first_seed": f.seed,
                "problem": f.shrunk_problem.to_string(),
                "shrunk": script::format_schedule(&f.shrunk, sc),
                "reproduce": check::repro_command(path, f.seed, &f.shrunk, sc, opts.limits),
            })
        })
        .collect();
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
        "liveness": opts.liveness,
        "outcomes": outcomes,
        "successes": r.successes,
        "rolled_back_inside_window": r.back_in_window,
        "faults_injected": r.faults_injected,
        "runs_with_faults": r.runs_with_faults,
        "coverage": { "reached": reached, "possible": possible,
            "not_reached": r.possible.difference(&r.reached).map(|p| path_name(sc, p)).collect::<Vec<_>>() },
        "determinism_checked": r.determinism_checked,
        "violations": r.failing_runs,
        "failure": failure,
        "failures": failures,
    })
}
