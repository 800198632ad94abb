//! `rehearse forecast`: the rest of the weekend from its log, with the
//! figures of `estimate`, dated from what actually happened.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;

use anyhow::Result;
use jiff::Timestamp;
use rehearse_core::SimDuration;
use rehearse_core::anchor::CalendarAnchor;
use rehearse_sim::estimate::{self, EstimateOptions};
use rehearse_sim::forecast::{Alarm, Forecast, document, forecast as run_forecast};
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
    let f = crate::estimate::with_progress("forecast", args.runs, !args.json, &progress, || {
        run_forecast(&sc, text, actuals, &opts, sc.meta.window, &progress)
    })?;
    let failed = estimate::failed(&gates, &f.estimate).map_err(|e| anyhow::anyhow!("--fail-if {e}"))?;
    let path = args.log.display().to_string();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &document(&f, &path, &gates, &failed, now))?;
        writeln!(out)?;
    } else {
        crate::estimate::write_header(&mut out, "forecast", &f.estimate, &path)?;
        write_now(&mut out, &f)?;
        crate::estimate::write_body(&mut out, &f.estimate, &f.scenario, &failed)?;
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The instant `ms` after the log's origin, shown as every date is
/// (`CalendarAnchor::display`), in the plan's zone (or UTC).
fn at(f: &Forecast, ms: u64) -> String {
    let zone =
        f.scenario.meta.anchor.as_ref().map_or(jiff::tz::TimeZone::UTC, |a| a.downtime_begins().time_zone().clone());
    CalendarAnchor::new(f.actuals.origin.to_zoned(zone), None)
        .map_or_else(|_| f.actuals.origin.to_string(), |origin| origin.display(ms as i64))
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
