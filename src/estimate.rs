//! `rehearse estimate`: downtime over many runs, for the people who plan
//! the weekend.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use rehearse_core::{Scenario, SimDuration};
use rehearse_sim::Plan;
use rehearse_sim::estimate::{self, Estimate, EstimateOptions, Gate, Measure, Metric, QUANTILES};
use serde_json::{Value, json};

use crate::cli::{CompareArgs, EstimateArgs};
use crate::load;

/// `--window`: a positive duration.
fn parse_window(w: &str) -> Result<SimDuration> {
    let d = SimDuration::parse(w).with_context(|| format!("--window {w}"))?;
    if d == SimDuration::ZERO {
        bail!("--window {w}: the window is the downtime the business signed off; it cannot be zero");
    }
    Ok(d)
}

pub fn estimate(args: &EstimateArgs) -> Result<ExitCode> {
    let (scenario, text) = load::scenario(&args.scenario)?;
    if let Some(r) = &scenario.readiness
        && !r.go()
    {
        // Estimating a plan that is not ready is planning, not going live:
        // say so, do not refuse.
        let unmet: Vec<&str> = r.unmet().map(|g| g.def.id).collect();
        eprintln!("note: go-live readiness gates unmet: {} (see `rehearse readiness`)", unmet.join(", "));
    }
    let gates = args
        .fail_if
        .iter()
        .map(|g| Gate::parse(g).map_err(|e| anyhow::anyhow!("--fail-if {e}")))
        .collect::<Result<Vec<_>>>()?;
    let window = match &args.window {
        Some(w) => Some(parse_window(w)?),
        None => scenario.meta.window,
    };
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let max_time = SimDuration::parse(&args.max_time).with_context(|| format!("--max-time {}", args.max_time))?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let opts = EstimateOptions {
        runs: args.runs,
        seed: args.seed,
        threads,
        limits: rehearse_sim::Limits { max_time, ..Default::default() },
        fault_costs: !args.no_fault_costs,
        ..Default::default()
    };
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let progress = AtomicU64::new(0);
    let show = !args.json && std::io::stderr().is_terminal();
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| estimate::estimate(&plan, &opts, window, &progress));
        if show {
            let bar = crate::render::progress_bar("estimate", args.runs);
            while !worker.is_finished() {
                bar.set_position(progress.load(Ordering::Relaxed));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        }
        worker.join().expect("the estimate thread panicked")
    })?;
    tracing::info!(runs = args.runs, threads, "estimate done");
    let failed = estimate::failed(&gates, &result).map_err(|e| anyhow::anyhow!("--fail-if {e}"))?;
    if let Some(path) = &args.html {
        write_html(path, &plan, &opts, &result)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &to_json(&result, &scenario, &args.scenario.display().to_string(), &gates, &failed),
        )?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &result, &scenario, &args.scenario.display().to_string(), &failed)?;
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn write_text(out: &mut impl Write, e: &Estimate, sc: &Scenario, path: &str, failed: &[&Gate]) -> std::io::Result<()> {
    let d = |ms: u64| SimDuration(ms).hms();
    writeln!(out, "estimate     {path}: {} runs (seed {}, runs 0..{})", e.runs, e.seed, e.runs)?;
    let q: Vec<String> = QUANTILES.iter().map(|(n, q)| format!("{} {}", n.to_uppercase(), d(e.quantile(*q)))).collect();
    let m = e.measure;
    writeln!(out, "{:<12} {}", m.key(), q.join("  "))?;
    writeln!(
        out,
        "             mean {}  max {}",
        d(e.mean_ms.round() as u64),
        d(*e.downtime_sorted.last().unwrap_or(&0))
    )?;
    writeln!(
        out,
        "             P90 95% CI {} .. {}; {}",
        d(e.p90_ci.0),
        d(e.p90_ci.1),
        match e.converged_after {
            Some(n) => format!("stable within 1% after {n} runs"),
            None => "not stable within 1% yet: run more".to_string(),
        }
    )?;
    let mix: Vec<String> =
        e.outcomes.iter().map(|(o, n)| format!("{o} {:.1}%", 100.0 * *n as f64 / e.runs as f64)).collect();
    writeln!(out, "outcomes     {}", mix.join(", "))?;
    let none = e.downtime_sorted.iter().take_while(|d| **d == 0).count();
    if m == Measure::Elapsed {
        writeln!(
            out,
            "             the plan has no downtime (no step marks where it begins or ends): this is the elapsed time of each run, start to end"
        )?;
    } else if none > 0 {
        writeln!(
            out,
            "             {:.1}% of runs ended before downtime began (cancelled or rolled back early): counted as no downtime",
            100.0 * none as f64 / e.runs as f64
        )?;
    }
    if let (Some(w), Some(p)) = (e.window, e.p_fit) {
        let target = sc.meta.window_confidence.map_or(String::new(), |c| {
            format!(" (needed {:.0}%: {})", 100.0 * c, if p >= c { "met" } else { "NOT MET" })
        });
        writeln!(out, "window       {}: fits in {:.1}% of runs{target}", d(w.as_ms()), 100.0 * p)?;
    }
    writeln!(out, "\nhistogram of {}", m.label())?;
    for line in histogram(e) {
        writeln!(out, "  {line}")?;
    }
    writeln!(
        out,
        "\nwhat drives it (criticality: share of committed runs on the critical path; sensitivity: rank correlation with {})",
        m.label()
    )?;
    let mut steps: Vec<usize> = (0..sc.steps.len()).filter(|i| !sc.steps[*i].is_group()).collect();
    steps.sort_by(|a, b| {
        let key = |i: &usize| e.sensitivity[*i].unwrap_or(0.0).abs();
        key(b).total_cmp(&key(a)).then(e.criticality[*b].total_cmp(&e.criticality[*a])).then(a.cmp(b))
    });
    for i in steps.into_iter().take(10) {
        let rho = e.sensitivity[i];
        let bar = "#".repeat((rho.unwrap_or(0.0).abs() * 30.0).round() as usize);
        writeln!(
            out,
            "  {:<36} crit {:>5.1}%  rho {:>6}  {bar}",
            truncate(&sc.steps[i].id, 36),
            100.0 * e.criticality[i],
            rho.map_or("-".to_string(), |r| format!("{r:+.2}"))
        )?;
    }
    if !e.faults.is_empty() {
        writeln!(
            out,
            "\nfaults (with the fault minus without it, same random numbers; negative when it ends runs early)"
        )?;
        for f in &e.faults {
            let added = f.added_mean_ms.map_or("-".to_string(), |m| signed(m.round() as i64));
            let shift = f.p90_shift_ms.map_or("-".to_string(), signed);
            writeln!(
                out,
                "  {:<24} struck in {:>5.1}% of runs  mean {} {added:>10}  P90 {shift:>10}",
                sc.faults[f.fault.index()].id,
                100.0 * f.runs_struck as f64 / e.runs as f64,
                m.key()
            )?;
        }
    }
    if let Some(p) = &e.point_of_no_return {
        writeln!(out, "\npoint of no return")?;
        if p.latest_start_ms == 0 {
            writeln!(
                out,
                "  a rollback takes up to {} (P90): longer than the window, so no rollback can end inside it",
                d(p.rollback_p90_ms)
            )?;
        } else {
            writeln!(
                out,
                "  a rollback takes up to {} (P90); to end inside the window it must begin by T+{} into the downtime",
                d(p.rollback_p90_ms),
                d(p.latest_start_ms)
            )?;
        }
        if let Some((step, p90)) = p.checkpoint {
            writeln!(
                out,
                "  go/no-go: if `{}` is not done by T+{} (half the runs have it done by T+{}), roll back",
                sc.step(step).id,
                d(p.latest_start_ms),
                d(p90)
            )?;
        }
    }
    for g in failed {
        writeln!(out, "\nGATE FAILED  {}", g.text)?;
    }
    Ok(())
}

fn signed(ms: i64) -> String {
    let s = SimDuration(ms.unsigned_abs()).hms();
    if ms < 0 { format!("-{s}") } else { format!("+{s}") }
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w { s.to_string() } else { format!("{}...", s.chars().take(w - 3).collect::<String>()) }
}

/// Twelve bins between the smallest and largest downtime, `|` marking the
/// window's bin.
fn histogram(e: &Estimate) -> Vec<String> {
    let bins = e.histogram(12);
    let top = bins.iter().map(|b| b.count).max().unwrap_or(1);
    bins.iter()
        .map(|b| {
            let mark = if e.window.is_some_and(|w| b.contains(w.as_ms())) { " <- window" } else { "" };
            format!(
                "{:>11} {:<40} {:>6.1}%{mark}",
                SimDuration(b.from_ms).hms(),
                "#".repeat(((b.count * 40).div_ceil(top.max(1))) as usize),
                100.0 * b.count as f64 / e.downtime_sorted.len() as f64
            )
        })
        .collect()
}

fn to_json(e: &Estimate, sc: &Scenario, path: &str, gates: &[Gate], failed: &[&Gate]) -> Value {
    let quantiles: serde_json::Map<String, Value> =
        QUANTILES.iter().map(|(n, q)| (format!("{n}_ms"), json!(e.quantile(*q)))).collect();
    let outcomes: serde_json::Map<String, Value> = e
        .outcomes
        .iter()
        .map(|(o, n)| (serde_json::to_value(o).unwrap().as_str().unwrap().to_string(), json!(n)))
        .collect();
    let steps: Vec<Value> = (0..sc.steps.len())
        .filter(|i| !sc.steps[*i].is_group())
        .map(|i| json!({ "id": sc.steps[i].id, "criticality": e.criticality[i], "sensitivity": e.sensitivity[i] }))
        .collect();
    let faults: Vec<Value> = e
        .faults
        .iter()
        .map(|f| {
            json!({
                "id": sc.faults[f.fault.index()].id,
                "runs_struck": f.runs_struck,
                "strikes": f.strikes,
                "added_mean_downtime_ms": f.added_mean_ms,
                "p90_shift_ms": f.p90_shift_ms,
            })
        })
        .collect();
    json!({
        "schema": 2,
        "scenario": { "file": path, "name": sc.meta.name },
        "runs": e.runs,
        "seed": e.seed,
        "measure": e.measure,
        e.measure.key(): {
            "quantiles": quantiles,
            "mean_ms": e.mean_ms,
            "max_ms": e.downtime_sorted.last(),
            "p90_ci95_ms": [e.p90_ci.0, e.p90_ci.1],
            "p90_converged_after_runs": e.converged_after,
        },
        "outcomes": outcomes,
        "window_ms": e.window.map(|w| w.as_ms()),
        "p_fit": e.p_fit,
        "window_confidence": sc.meta.window_confidence,
        "steps": steps,
        "faults": faults,
        "point_of_no_return": e.point_of_no_return.as_ref().map(|p| json!({
            "rollback_p90_ms": p.rollback_p90_ms,
            "latest_rollback_start_ms": p.latest_start_ms,
            "checkpoint": p.checkpoint.map(|(s, t)| json!({ "step": sc.step(s).id, "median_done_ms": t })),
        })),
        "gates": gates.iter().map(|g| json!({ "expr": g.text, "failed": failed.iter().any(|f| f.text == g.text) })).collect::<Vec<_>>(),
    })
}

/// The HTML report, with the runs at the P50 and the P90 re-run in full.
fn write_html(path: &std::path::Path, plan: &Plan<'_>, opts: &EstimateOptions, e: &Estimate) -> Result<()> {
    let runs = estimate::gantt_runs(plan, opts, e)?;
    let gantts: Vec<_> = runs.iter().map(estimate::QuantileRun::gantt).collect();
    let page = rehearse_sim::report::html(plan.scenario(), e, &gantts);
    crate::output::write_atomically(path, &page)
}

pub fn compare(args: &CompareArgs) -> Result<ExitCode> {
    let (sa, ta) = load::scenario(&args.a)?;
    let (sb, tb) = load::scenario(&args.b)?;
    let window = match &args.window {
        Some(w) => Some(parse_window(w)?),
        None => sa.meta.window,
    };
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let opts = EstimateOptions { runs: args.runs, seed: args.seed, threads, fault_costs: false, ..Default::default() };
    let (pa, pb) = (Plan::new(&sa, rehearse_sim::digest(&ta)), Plan::new(&sb, rehearse_sim::digest(&tb)));
    let progress = AtomicU64::new(0);
    let c = estimate::compare(&pa, &pb, &opts, window, &progress)?;
    let show = |name: &str, v: f64| {
        if name == "p_fit" { format!("{:.1}%", 100.0 * v) } else { SimDuration(v.max(0.0) as u64).hms() }
    };
    let signed = |name: &str, v: f64| {
        if name == "p_fit" {
            let pts = 100.0 * v;
            format!("{:+.1} pts", if pts.abs() < 0.05 { 0.0 } else { pts })
        } else {
            signed(v.round() as i64)
        }
    };
    let value = |e: &Estimate, name: &str| Metric::parse(name).and_then(|m| m.of(e)).unwrap_or(f64::NAN);
    let mut out = std::io::stdout().lock();
    if args.json {
        let diffs: Vec<Value> = c
            .diffs
            .iter()
            .map(|(n, d, (lo, hi))| json!({ "metric": n, "a": value(&c.a, n), "b": value(&c.b, n), "b_minus_a": d, "ci95": [lo, hi] }))
            .collect();
        let drivers: Vec<Value> =
            c.drivers.iter().map(|(id, a, b)| json!({ "step": id, "mean_ms_a": a, "mean_ms_b": b })).collect();
        let v = json!({ "a": args.a.display().to_string(), "b": args.b.display().to_string(), "runs": args.runs, "seed": args.seed,
            "window_ms": window.map(|w| w.as_ms()), "diffs": diffs, "drivers": drivers });
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "compare      A {}  B {}", args.a.display(), args.b.display())?;
    writeln!(
        out,
        "             {} runs each (seed {}); shared steps and faults on the same random numbers",
        args.runs, args.seed
    )?;
    writeln!(out, "\n{:<8} {:>14} {:>14} {:>14}   95% interval", "", "A", "B", "B - A")?;
    for (n, d, (lo, hi)) in &c.diffs {
        writeln!(
            out,
            "{:<8} {:>14} {:>14} {:>14}   {} .. {}",
            n.to_uppercase(),
            show(n, value(&c.a, n)),
            show(n, value(&c.b, n)),
            signed(n, *d),
            signed(n, *lo),
            signed(n, *hi)
        )?;
    }
    if !c.drivers.is_empty() {
        writeln!(out, "\nwhat changed (mean duration of a step per run, where it ran)")?;
        for (id, a, b) in c.drivers.iter().take(12) {
            let f = |v: &Option<f64>| v.map_or("(absent)".to_string(), |m| SimDuration(m.round() as u64).hms());
            let delta = match (a, b) {
                (Some(x), Some(y)) => signed("", y - x),
                _ => String::new(),
            };
            writeln!(out, "  {:<36} {:>12} -> {:<12} {delta}", truncate(id, 36), f(a), f(b))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
