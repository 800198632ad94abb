//! `rehearse estimate`: downtime over many runs, for the people who plan
//! the weekend.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use rehearse_core::event::Outcome;
use rehearse_core::{Scenario, SimDuration};
use rehearse_sim::Plan;
use rehearse_sim::estimate::{self, Estimate, EstimateOptions, Gate, Measure, QUANTILES};
use rehearse_sim::report::Footer;
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
    if let Some(html) = &args.html {
        crate::output::refuse_clobbering(("--html", html), &[("the scenario this estimate reads", &args.scenario)])?;
    }
    let (scenario, text) = load::scenario(&args.scenario)?;
    if let Some(r) = &scenario.readiness
        && !r.go()
    {
        // Estimating a plan that is not ready is planning, not going live:
        // say so, do not refuse.
        let unmet: Vec<&str> = r.unmet().map(|g| g.def.id).collect();
        eprintln!("note: go-live readiness gates unmet: {} (see `rehearse readiness`)", unmet.join(", "));
    }
    let gates = gates(&args.fail_if)?;
    let window = match &args.window {
        Some(w) => Some(parse_window(w)?),
        None => scenario.meta.window,
    };
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let max_time = SimDuration::parse(&args.max_time).with_context(|| format!("--max-time {}", args.max_time))?;
    let threads = threads(args.threads);
    let opts = EstimateOptions {
        runs: args.runs,
        seed: args.seed,
        threads,
        limits: rehearse_sim::Limits { max_time, ..Default::default() },
        fault_costs: !args.no_fault_costs,
        ..Default::default()
    };
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    if let (Some(shard), Some(out)) = (&args.part.shard, &args.part.out) {
        if args.json || args.html.is_some() {
            bail!("--shard writes a part file; give --json and --html to `rehearse merge`");
        }
        crate::output::refuse_clobbering(("--out", out), &[("the scenario this estimate reads", &args.scenario)])?;
        let shard = crate::shard::parse(shard)?;
        let mut options = estimate::options_json(&opts, window);
        options["fail_if"] = json!(args.fail_if);
        let header = crate::shard::header("estimate", &args.scenario, &text, shard, opts.seed, opts.runs, options);
        let progress = AtomicU64::new(0);
        let range = shard.range(opts.runs);
        return with_progress("estimate", "shard runs", range.end - range.start, true, &progress, || {
            crate::shard::write_file(out, shard, range.end - range.start, |w| {
                estimate::write_part(&plan, &opts, shard, &header, w, &progress)
            })
        });
    }
    let progress = AtomicU64::new(0);
    let result = with_progress("estimate", "main runs", args.runs, !args.json, &progress, || {
        estimate::estimate(&plan, &opts, window, &progress)
    })?;
    tracing::info!(runs = args.runs, threads, "estimate done");
    let path = args.scenario.display().to_string();
    print(&plan, &path, &opts, &result, &gates, args.html.as_deref(), args.json, args.width)
}

/// Prints an estimate (and writes its page): what `estimate` and `merge`
/// print alike. Exit 1 when a gate holds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn print(
    plan: &Plan<'_>,
    path: &str,
    opts: &EstimateOptions,
    result: &Estimate,
    gates: &[Gate],
    html: Option<&std::path::Path>,
    json: bool,
    width: Option<usize>,
) -> Result<ExitCode> {
    let scenario = plan.scenario();
    let failed = estimate::failed(gates, result).map_err(|e| anyhow::anyhow!("--fail-if {e}"))?;
    if let Some(html) = html {
        write_html(html, plan, opts, result, &footer(path, plan))?;
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &estimate::to_json(result, scenario, path, gates, &failed))?;
        writeln!(out)?;
    } else {
        let mut text = Vec::new();
        write_text(&mut text, result, scenario, path, &failed)?;
        out.write_all(crate::term::Term::stdout(width).fit(&String::from_utf8_lossy(&text)).as_bytes())?;
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

use rehearse_sim::report::when;

/// `--threads`, or every core.
pub(crate) fn threads(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// The `--fail-if` gates, parsed.
pub(crate) fn gates(texts: &[String]) -> Result<Vec<Gate>> {
    texts.iter().map(|g| Gate::parse(g).map_err(|e| anyhow::anyhow!("--fail-if {e}"))).collect()
}

/// Runs `work` on a thread of its own, with a progress bar of `runs` on
/// stderr when `bar` is asked for and stderr is a terminal.
pub(crate) fn with_progress<T: Send>(
    label: &'static str,
    phase: &str,
    runs: u64,
    bar: bool,
    progress: &AtomicU64,
    work: impl FnOnce() -> T + Send,
) -> T {
    std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        if bar && std::io::stderr().is_terminal() {
            let bar = crate::render::progress_bar(label, phase, runs);
            let mut pricing = false;
            while !worker.is_finished() {
                let done = progress.load(Ordering::Relaxed);
                // Past the main runs, the runs counted are the faults'
                // re-runs, whose number is not known ahead: a count, no bar.
                if done > runs && !pricing {
                    pricing = true;
                    crate::render::counting(&bar, label, "pricing faults");
                }
                bar.set_position(if pricing { done - runs } else { done });
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        }
        worker.join().expect("the worker thread panicked")
    })
}

pub(crate) fn write_text(
    out: &mut impl Write,
    e: &Estimate,
    sc: &Scenario,
    path: &str,
    failed: &[&Gate],
) -> std::io::Result<()> {
    write_header(out, "estimate", e, path)?;
    write_body(out, e, sc, failed)
}

pub(crate) fn write_header(out: &mut impl Write, what: &str, e: &Estimate, path: &str) -> std::io::Result<()> {
    writeln!(out, "{what:<12} {path}")?;
    writeln!(out, "             {} runs (seed {}, runs 0..{})", e.runs, e.seed, e.runs)
}

/// Everything after the header: what `estimate` and `forecast` share.
pub(crate) fn write_body(out: &mut impl Write, e: &Estimate, sc: &Scenario, failed: &[&Gate]) -> std::io::Result<()> {
    let d = |ms: u64| SimDuration(ms).hms();
    let m = e.measure;
    if let Some(a) = &sc.meta.anchor {
        let zone = a.zone_label();
        let zone = if zone.starts_with(['+', '-']) { String::new() } else { format!(" ({zone})") };
        writeln!(out, "dated        downtime begins {}{zone}", a.display(0))?;
        if let (Some(_), Some(w)) = (a.window_end(), e.window) {
            writeln!(out, "             window ends {}", a.display(w.as_ms() as i64))?;
        }
    }
    // The headline: did the go-live succeed?
    let target = sc.meta.window_confidence.map_or(String::new(), |c| {
        format!(" (needed {:.0}%: {})", 100.0 * c, if e.p_success >= c { "met" } else { "NOT MET" })
    });
    match e.window {
        Some(w) => {
            writeln!(out, "success      {} go live inside the {} window{target}", pct(e.p_success), d(w.as_ms()))?
        }
        None => writeln!(out, "success      {} go live (no window: give --window){target}", pct(e.p_success))?,
    }
    let late = e.share(Outcome::Committed) - e.p_success;
    let mut rest = vec![format!("rolled back {}", pct(e.share(Outcome::RolledBack)))];
    if late > 0.0 {
        rest.push(format!("committed late {}", pct(late)));
    }
    for (label, o) in [("aborted", Outcome::Aborted), ("cancelled", Outcome::Cancelled)] {
        if e.share(o) > 0.0 {
            rest.push(format!("{label} {}", pct(e.share(o))));
        }
    }
    writeln!(out, "             {}", rest.join(", "))?;
    match e.committed_quantile(0.5) {
        None => writeln!(out, "committed    no run committed")?,
        Some(_) => {
            let q: Vec<String> =
                QUANTILES.iter().map(|(n, q)| format!("{} {}", n.to_uppercase(), d(e.quantile(*q)))).collect();
            writeln!(out, "committed    {} of the go-live (committed runs):", m.label())?;
            writeln!(out, "             {}", q[..3].join("  "))?;
            writeln!(out, "             {}", q[3..].join("  "))?;
            writeln!(
                out,
                "             mean {}  max {}",
                d(e.mean_ms.unwrap_or(0.0).round() as u64),
                d(*e.committed_sorted.last().unwrap_or(&0))
            )?;
            if let Some((lo, hi)) = e.p90_ci {
                // Its own line each: together they pass 80 columns.
                writeln!(out, "             P90 95% CI {} .. {}", d(lo), d(hi))?;
                match e.converged_after {
                    Some(n) => writeln!(out, "             settled after {n} runs")?,
                    None => writeln!(out, "             not stable within 1% yet: run more")?,
                }
            }
        }
    }
    writeln!(out, "live by      (all runs; a rollback never goes live)")?;
    for (n, q) in [("P50", 0.5), ("P80", 0.8), ("P90", 0.9)] {
        writeln!(
            out,
            "             {n} {}",
            e.go_live(q).map_or("never: fewer runs go live".to_string(), |ms| when(sc, ms))
        )?;
    }
    if let (Some(p50), Some(p90)) = (e.outage_quantile(0.5), e.outage_quantile(0.9)) {
        let back = e.window.map_or(String::new(), |w| {
            let n = e.outage_sorted.partition_point(|o| *o <= w.as_ms());
            format!("; {} back inside the window", pct(n as f64 / e.outage_sorted.len() as f64))
        });
        writeln!(out, "rolled back  outage, until the old system is back:")?;
        writeln!(out, "             P50 {}  P90 {}  max {}", d(p50), d(p90), d(*e.outage_sorted.last().unwrap_or(&0)))?;
        if !back.is_empty() {
            writeln!(out, "             {}", back.trim_start_matches("; "))?;
        }
    }
    if m == Measure::Elapsed {
        writeln!(out, "             the plan has no downtime (no step marks where it begins or")?;
        writeln!(out, "             ends): this is the elapsed time of each run, start to end")?;
    }
    writeln!(out, "\nhistogram of {} (all runs: # committed, x not)", m.label())?;
    for line in histogram(e) {
        writeln!(out, "  {line}")?;
    }
    writeln!(out, "\nwhat drives it (committed runs: the mean {} when the step was long", m.label())?;
    writeln!(out, "minus when it was short; crit: share of runs on the critical path)")?;
    let shift = |i: usize| e.drivers[i].map_or(0, |x| x.mean_shift_ms.round() as i64);
    let mut steps: Vec<usize> = (0..sc.steps.len()).filter(|i| !sc.steps[*i].is_group()).collect();
    steps.sort_by(|a, b| {
        shift(*b).abs().cmp(&shift(*a).abs()).then(e.criticality[*b].total_cmp(&e.criticality[*a])).then(a.cmp(b))
    });
    let largest = steps.first().map_or(1, |i| shift(*i).unsigned_abs().max(1));
    for i in steps.into_iter().take(10) {
        let bar = "#".repeat((shift(i).unsigned_abs() * 20).div_ceil(largest) as usize);
        writeln!(
            out,
            "  {:<28} {:>8}  crit {:>5.1}%  {bar}",
            truncate(&sc.steps[i].id, 28),
            e.drivers[i].map_or("fixed".to_string(), |x| hours(x.mean_shift_ms.round() as i64)),
            100.0 * e.criticality[i],
        )?;
    }
    if !e.faults.is_empty() {
        writeln!(out, "\nfaults (each against the same runs without it; P50 and P90: the shift")?;
        writeln!(out, "of the runs that commit either way)")?;
        for f in &e.faults {
            let pts = f.p_success_shift.map_or("-".to_string(), rehearse_sim::report::points);
            let shift = |v: Option<i64>| v.map_or("-".to_string(), hours);
            let rescued = f.runs_rescued.filter(|n| *n > 0).map_or(String::new(), |n| format!(" *{n}"));
            writeln!(
                out,
                "  {:<20} struck {:>5.1}% success {pts:>9}  P50 {:>6} P90 {:>6}{rescued}",
                truncate(&sc.faults[f.fault.index()].id, 20),
                100.0 * f.runs_struck as f64 / e.runs as f64,
                shift(f.committed_p50_shift_ms),
                shift(f.committed_p90_shift_ms),
            )?;
        }
        if e.faults.iter().any(|f| f.runs_rescued.is_some_and(|n| n > 0)) {
            writeln!(out, "  *N: runs that succeed only with the fault (not set against its cost):")?;
            writeln!(out, "  its delay moved a later failure past a rollback's deadline, where the")?;
            writeln!(out, "  plan fixes forward - worth a look at that deadline")?;
        }
    }
    if !e.call_sheet.is_empty() {
        write_call_sheet(out, e, sc)?;
    }
    if let Some(p) = &e.point_of_no_return {
        writeln!(out, "\npoint of no return")?;
        let pol = &sc.policies[p.policy.index()].name;
        // The policy's name on a line with room for it.
        let takes = format!("  recovery.{pol} takes {} at its P90", d(p.rollback_p90_ms));
        if p.latest_start_ms == 0 {
            writeln!(out, "{takes}")?;
            writeln!(out, "  (reaction + restore): longer than the window, so no rollback can end inside it")?;
        } else {
            writeln!(out, "  {}", when(sc, p.latest_start_ms))?;
            writeln!(out, "{takes}")?;
            writeln!(out, "  (reaction + restore); decided later, a rollback ends past the window")?;
        }
        // A dated time is 45 characters: each on a line of its own.
        for dl in &p.deadlines {
            let name = &sc.policies[dl.policy.index()].name;
            if dl.too_late() {
                writeln!(out, "  DISAGREES: the plan's deadline for {name} is")?;
                writeln!(out, "    {}", when(sc, dl.deadline_ms))?;
                writeln!(out, "  but to end inside the window a rollback must begin by")?;
                writeln!(out, "    {}", when(sc, dl.safe_begin_ms))?;
            } else {
                writeln!(out, "  the plan's deadline for {name},")?;
                writeln!(out, "    {},", when(sc, dl.deadline_ms))?;
                writeln!(out, "  agrees: a rollback begun then ends inside the window")?;
            }
        }
    }
    if let Some(c) = &e.checkpoints {
        writeln!(out, "\ngo/no-go checkpoints: if STEP is not done by T, roll back")?;
        writeln!(
            out,
            "  ({} sampled runs; without a rule: success {}, window blown {})",
            c.runs,
            pct(c.p_success),
            pct(c.p_blown)
        )?;
        let row = |r: &rehearse_sim::estimate::Checkpoint, note: &str| {
            // The step's id gets what the time leaves of 80 columns.
            let by = when(sc, r.by_ms);
            let room = (80 - "   not done by ".len()).saturating_sub(by.chars().count()).clamp(12, 28);
            let figures = format!(
                "      rolls back {}, needless {}, saved {}; success {}",
                pct(r.rolls_back),
                pct(r.needless),
                pct(r.saved),
                pct(r.p_success)
            );
            // A note that would pass 80 columns goes on a line of its own.
            let sep = if note.starts_with('\n') || figures.len() + note.len() <= 80 { "" } else { "\n     " };
            format!("  {} not done by {by}\n{figures}{sep}{note}", truncate(&sc.step(r.step).id, room))
        };
        match &c.recommended {
            Some(r) => writeln!(out, "{}", row(r, "  <- recommended"))?,
            None => writeln!(out, "  no rule saves more runs than it rolls back needlessly")?,
        }
        // Rules that never fire say nothing.
        for r in c.rules.iter().filter(|r| Some(*r) != c.recommended.as_ref() && r.rolls_back > 0.0).take(3) {
            writeln!(out, "{}", row(r, ""))?;
        }
        if let Some(n) = &c.naive {
            writeln!(out, "{}", row(n, "\n      (naive: the last step typically done by the point of no return)"))?;
        }
    }
    for g in failed {
        writeln!(out, "\nGATE FAILED  {}", g.text)?;
    }
    Ok(())
}

/// Who is needed when: each resource's first start and last end of its
/// steps (P10 - P90 over the sampled runs that committed), and the time its
/// steps take (P50).
fn write_call_sheet(out: &mut impl Write, e: &Estimate, sc: &Scenario) -> std::io::Result<()> {
    let at = |ms: i64| rehearse_sim::report::at(sc, ms);
    writeln!(out, "\ncall sheet (who is needed when: P10 - P90 of the sampled runs)")?;
    for c in &e.call_sheet {
        let r = &sc.resources[c.resource];
        if c.runs == 0 {
            writeln!(out, "  {}: not needed in any sampled run", truncate(&r.name, 40))?;
            continue;
        }
        writeln!(out, "  {} (capacity {})", truncate(&r.name, 60), r.capacity)?;
        writeln!(out, "    from  {} - {}", at(c.from_ms[0]), at(c.from_ms[2]))?;
        writeln!(out, "    until {} - {}", at(c.until_ms[0]), at(c.until_ms[2]))?;
        writeln!(
            out,
            "    busy  {} P50 ({} - {})",
            SimDuration(c.busy_ms[1]).hms(),
            SimDuration(c.busy_ms[0]).hms(),
            SimDuration(c.busy_ms[2]).hms()
        )?;
    }
    Ok(())
}

/// A signed duration in hours, `+1.5h`.
fn hours(ms: i64) -> String {
    let h = ms as f64 / 3_600_000.0;
    if h.abs() < 0.05 { "0.0h".to_string() } else { format!("{h:+.1}h") }
}

fn signed(ms: i64) -> String {
    let s = SimDuration(ms.unsigned_abs()).hms();
    if ms < 0 { format!("-{s}") } else { format!("+{s}") }
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w { s.to_string() } else { format!("{}...", s.chars().take(w - 3).collect::<String>()) }
}

/// Twelve bins between the smallest and largest downtime of all runs, `#`
/// for committed runs and `x` for the others, `<- window` marking the
/// window's bin.
fn histogram(e: &Estimate) -> Vec<String> {
    let bins = e.histogram(12);
    let top = bins.iter().map(|(b, _)| b.count).max().unwrap_or(1).max(1);
    bins.iter()
        .map(|(b, committed)| {
            let mark = if e.window.is_some_and(|w| b.contains(w.as_ms())) { " <- window" } else { "" };
            let all = (b.count * 40).div_ceil(top) as usize;
            let c = ((committed * 40).div_ceil(top) as usize).min(all);
            format!(
                "{:>11} {:<40} {:>6.1}%{mark}",
                SimDuration(b.from_ms).hms(),
                format!("{}{}", "#".repeat(c), "x".repeat(all - c)),
                100.0 * b.count as f64 / e.downtime_sorted.len() as f64
            )
        })
        .collect()
}

/// The HTML report, with the runs at the P50 and the P90 re-run in full.
fn write_html(path: &std::path::Path, plan: &Plan<'_>, opts: &EstimateOptions, e: &Estimate, f: &Footer) -> Result<()> {
    let runs = estimate::gantt_runs(plan, opts, e)?;
    let gantts: Vec<_> = runs.iter().map(estimate::QuantileRun::gantt).collect();
    let page = rehearse_sim::report::html(plan.scenario(), e, &gantts, f);
    crate::output::write_atomically(path, &page)
}

/// What made a page: this binary's version, the scenario and its digest,
/// and the date, the one thing on the page that is not a function of the
/// inputs: `SOURCE_DATE_EPOCH` (seconds since 1970, the reproducible-builds
/// convention) when set, so that identical inputs give identical bytes,
/// else the wall clock.
fn footer(file: &str, plan: &Plan<'_>) -> Footer {
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    Footer {
        version: format!("rehearse {}", env!("CARGO_PKG_VERSION")),
        file: file.to_string(),
        digest: plan.digest().to_string(),
        generated: now.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

pub fn compare(args: &CompareArgs) -> Result<ExitCode> {
    if let Some(html) = &args.html {
        crate::output::refuse_clobbering(
            ("--html", html),
            &[("plan A of this comparison", &args.a), ("plan B of this comparison", &args.b)],
        )?;
    }
    let (sa, ta) = load::scenario(&args.a)?;
    let (sb, tb) = load::scenario(&args.b)?;
    let window = match &args.window {
        Some(w) => Some(parse_window(w)?),
        None => sa.meta.window,
    };
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let opts = EstimateOptions {
        runs: args.runs,
        seed: args.seed,
        threads: threads(args.threads),
        fault_costs: false,
        ..Default::default()
    };
    let (pa, pb) = (Plan::new(&sa, rehearse_sim::digest(&ta)), Plan::new(&sb, rehearse_sim::digest(&tb)));
    let progress = AtomicU64::new(0);
    let c = estimate::compare(&pa, &pb, &opts, window, &progress)?;
    if let Some(path) = &args.html {
        let page = rehearse_sim::report::compare::html(
            &sa,
            &sb,
            &c,
            &footer(&args.a.display().to_string(), &pa),
            &footer(&args.b.display().to_string(), &pb),
        );
        crate::output::write_atomically(path, &page)?;
    }
    let show = |name: &str, v: f64| {
        if name == "p_success" {
            pct(v)
        } else if v.is_finite() {
            SimDuration(v.max(0.0) as u64).hms()
        } else {
            "never".to_string()
        }
    };
    let signed = |name: &str, v: f64| {
        if !v.is_finite() {
            "n/a".to_string()
        } else if name == "p_success" {
            let pts = 100.0 * v;
            format!("{:+.1} pts", if pts.abs() < 0.05 { 0.0 } else { pts })
        } else {
            signed(v.round() as i64)
        }
    };
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut out = std::io::stdout().lock();
    if args.json {
        let diffs: Vec<Value> = c
            .diffs
            .iter()
            .map(|x| json!({ "metric": x.metric, "a": finite(x.a), "b": finite(x.b), "b_minus_a": finite(x.b_minus_a), "ci95": [finite(x.ci95.0), finite(x.ci95.1)] }))
            .collect();
        let drivers: Vec<Value> =
            c.drivers.iter().map(|(id, a, b)| json!({ "step": id, "mean_ms_a": a, "mean_ms_b": b })).collect();
        let v = json!({ "schema": 3, "a": args.a.display().to_string(), "b": args.b.display().to_string(), "runs": args.runs, "seed": args.seed,
            "window_ms": window.map(|w| w.as_ms()), "diffs": diffs, "drivers": drivers });
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    // The text is written whole, then fitted to the terminal.
    let mut stdout = out;
    let mut out: Vec<u8> = Vec::new();
    writeln!(out, "compare      A {}", args.a.display())?;
    writeln!(out, "             B {}", args.b.display())?;
    writeln!(out, "             {} runs each (seed {}); shared steps and faults on the", args.runs, args.seed)?;
    writeln!(out, "             same random numbers. Live by: the go-live's downtime over")?;
    writeln!(out, "             all runs (a rolled-back run never goes live)")?;
    writeln!(out, "\n{:<9}{:>13}{:>13}{:>14}  95% interval", "", "A", "B", "B - A")?;
    for x in &c.diffs {
        let label = match x.metric {
            "p50" => "live P50",
            "p90" => "live P90",
            _ => "success",
        };
        writeln!(
            out,
            "{:<9}{:>13}{:>13}{:>14}  {} .. {}",
            label,
            show(x.metric, x.a),
            show(x.metric, x.b),
            signed(x.metric, x.b_minus_a),
            signed(x.metric, x.ci95.0),
            signed(x.metric, x.ci95.1)
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
            writeln!(out, "  {:<28} {:>12} -> {:<12} {delta}", truncate(id, 28), f(a), f(b))?;
        }
    }
    stdout.write_all(crate::term::Term::stdout(args.width).fit(&String::from_utf8_lossy(&out)).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
