//! `rehearse forecast`: the rest of the weekend from its log, with the
//! figures of `estimate`, dated from what actually happened.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;

use anyhow::Result;
use jiff::Timestamp;
use rehearse_core::SimDuration;
use rehearse_sim::estimate::{self, EstimateOptions};
use rehearse_sim::forecast::{Alarm, Forecast, Options, document, forecast as run_forecast, open_choices, options};
use rehearse_sim::track::{self, Log};

use crate::cli::ForecastArgs;

pub fn forecast(args: &ForecastArgs) -> Result<ExitCode> {
    if args.log.is_file() && !track::is_log(&args.log) {
        anyhow::bail!(
            "{}: not a weekend log (start one with `rehearse track LOG init SCENARIO`; `estimate` takes a scenario)",
            args.log.display()
        );
    }
    let log = Log::open(&args.log)?;
    let sc = log.scenario()?;
    let zone = track::plan_zone(&sc);
    let now = match &args.now {
        Some(t) => rehearse_core::anchor::instant(t, zone.as_ref())
            .map_err(|e| {
                anyhow::anyhow!("--now {e}{}", if zone.is_none() { " (the plan has no time_zone)" } else { "" })
            })?
            .timestamp(),
        None => Timestamp::now(),
    };
    let actuals = log.actuals(&sc, now);
    if let Some(last) = log.effective().iter().map(|e| e.at.timestamp()).max()
        && last > now
    {
        anyhow::bail!(
            "--now {now} is before the log's last record ({last}): a forecast is made from all that happened"
        );
    }
    let gates = crate::estimate::gates(&args.fail_if)?;
    let opts = EstimateOptions {
        runs: args.runs,
        seed: args.seed,
        threads: crate::estimate::threads(args.threads),
        fault_costs: !args.no_fault_costs,
        ..Default::default()
    };
    let progress = AtomicU64::new(0);
    let text = log.scenario_text();
    let f = crate::estimate::with_progress("forecast", "runs from now", args.runs, !args.json, &progress, || {
        run_forecast(&sc, text, actuals, &opts, sc.meta.window, &progress)
    })?;
    let choices = match args.options {
        false => None,
        true => {
            let n = open_choices(&f).2.len() as u64;
            let progress = AtomicU64::new(0);
            Some(crate::estimate::with_progress(
                "forecast",
                "pricing the options",
                args.runs * n,
                !args.json,
                &progress,
                || options(&f, text, &opts, &progress),
            )?)
        }
    };
    let failed = estimate::failed(&gates, &f.estimate).map_err(|e| anyhow::anyhow!("--fail-if {e}"))?;
    let path = args.log.display().to_string();
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut v = document(&f, &path, &gates, &failed, now);
        if let Some(o) = &choices {
            v["forecast"]["options"] = o.to_json(&f);
        }
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        crate::estimate::write_header(&mut out, "forecast", &f.estimate, &path)?;
        write_now(&mut out, &f)?;
        crate::estimate::write_body(&mut out, &f.estimate, &f.scenario, &failed)?;
        if let Some(o) = &choices {
            write_options(&mut out, &f, o)?;
        }
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The instant `ms` after the log's origin, shown as every date is
/// (`CalendarAnchor::display`), in the plan's zone (or UTC).
fn at(f: &Forecast, ms: u64) -> String {
    f.log_clock().map_or_else(|| f.actuals.origin.to_string(), |c| c.display(ms as i64))
}

/// A date as the options table shows it: weekday and time ("Sun 08:20").
fn short(full: &str) -> String {
    let parts: Vec<&str> = full.split(' ').collect();
    match parts.as_slice() {
        [day, _, time, ..] => format!("{day} {time}"),
        _ => full.to_string(),
    }
}

fn write_now(out: &mut impl Write, f: &Forecast) -> std::io::Result<()> {
    let sc = &f.scenario;
    let a = &f.actuals;
    let d = |ms: u64| SimDuration(ms).hms();
    let leaves: Vec<usize> = (0..sc.steps.len()).filter(|i| !sc.steps[*i].is_group()).collect();
    let done = leaves.iter().filter(|i| a.done_ms[**i].is_some()).count();
    let running: Vec<usize> =
        leaves.iter().copied().filter(|i| a.started_ms[*i].is_some() && a.done_ms[*i].is_none()).collect();
    writeln!(out, "as of        {}", at(f, a.now_ms))?;
    writeln!(out, "done         {done} of {} steps; {} running", leaves.len(), running.len())?;
    for i in &running {
        let since = a.now_ms - a.started_ms[*i].unwrap_or(a.now_ms);
        writeln!(out, "             {} for {}", sc.steps[*i].id, d(since))?;
    }
    match f.downtime_began_ms {
        Some(b) => writeln!(out, "downtime     began {}, {} ago", at(f, b), d(a.now_ms - b))?,
        None => writeln!(out, "downtime     not begun yet")?,
    }
    if let Some(left) = f.to_point_of_no_return_ms() {
        if left >= 0 {
            writeln!(out, "point of no return in {}", d(left as u64))?;
        } else {
            writeln!(
                out,
                "point of no return PASSED {} ago: a rollback now ends past the window",
                d(left.unsigned_abs())
            )?;
        }
    }
    for s in &a.struck {
        let decided = match s.decided {
            Some(d) => format!("; decided {} at {}", d.action.name(), short(&at(f, d.at_ms))),
            None => String::new(),
        };
        writeln!(
            out,
            "struck       {}@{} at {}{decided}",
            sc.faults[s.fault.index()].id,
            sc.step(s.step).id,
            short(&at(f, s.at_ms))
        )?;
    }
    if let Some(d) = a.ending {
        writeln!(out, "decided      {} at {}: the weekend is ending", d.action.name(), at(f, d.at_ms))?;
    }
    let critical = f.critical_now();
    if !critical.is_empty() {
        let ids: Vec<String> = critical.iter().map(|(i, c)| format!("{} {:.0}%", sc.step(*i).id, 100.0 * c)).collect();
        let mut line = String::from("critical now");
        for (k, id) in ids.iter().enumerate() {
            let sep = if k == 0 { " " } else { ", " };
            if line.len() + sep.len() + id.len() > 78 {
                writeln!(out, "{line},")?;
                line = format!("             {id}");
            } else {
                line.push_str(sep);
                line.push_str(id);
            }
        }
        writeln!(out, "{line}")?;
    }
    for alarm in &f.alarms {
        match alarm {
            Alarm::PastP90 { step, elapsed_ms, p90_ms } => writeln!(
                out,
                "ALARM        {} has run {}, past its P90 of {}",
                sc.step(*step).id,
                d(*elapsed_ms),
                d(*p90_ms)
            )?,
            Alarm::BelowConfidence { p_success, needed } => writeln!(
                out,
                "ALARM        P(success) {:.1}% is below the plan's {:.0}%",
                100.0 * p_success,
                100.0 * needed
            )?,
            Alarm::BeganAfterDeadline => {
                writeln!(out, "ALARM        downtime began after the plan's window_end: no go-live can be in time")?
            }
        }
    }
    writeln!(out)
}

/// The options table: one line per choice, the same runs for each.
fn write_options(out: &mut impl Write, f: &Forecast, o: &Options) -> std::io::Result<()> {
    let sc = &f.scenario;
    writeln!(out)?;
    match o.at {
        Some(s) => writeln!(
            out,
            "options at {}@{}, struck {} (each on the same {} runs):",
            sc.faults[s.fault.index()].id,
            sc.step(s.step).id,
            short(&at(f, s.at_ms)),
            f.estimate.runs
        )?,
        None => writeln!(out, "options now, no fault open (each on the same {} runs):", f.estimate.runs)?,
    }
    writeln!(
        out,
        "  {:<20} {:>8} {:>9}  {:<21} {:>12}",
        "choice", "success", "rollback", "go-live P50 / P90", "outage P90"
    )?;
    let date = |ms: Option<u64>| match (&sc.meta.anchor, ms) {
        (Some(a), Some(ms)) => short(&a.display(ms as i64)),
        (None, Some(ms)) => SimDuration(ms).hms(),
        (_, None) => "-".to_string(),
    };
    for c in &o.choices {
        let e = &c.estimate;
        let name = match (c.action, o.plan_action) {
            (Some(a), _) => format!("{} now", a.name()),
            (None, Some(p)) => format!("the plan ({})", p.name()),
            (None, None) => "carry on".to_string(),
        };
        let outage = e.outage_quantile(0.9).map_or_else(|| "-".to_string(), |ms| SimDuration(ms).hms());
        writeln!(
            out,
            "  {:<20} {:>7.1}% {:>8.1}%  {:<21} {:>12}",
            name,
            100.0 * e.p_success,
            100.0 * e.share(rehearse_core::event::Outcome::RolledBack),
            format!("{} / {}", date(e.go_live(0.5)), date(e.go_live(0.9))),
            outage
        )?;
    }
    writeln!(out, "It shows what each choice leads to; the bridge decides.")
}
