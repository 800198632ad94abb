//! `rehearse calibrate`: measured DATAUPGRADESTATUS exports and weekend
//! logs to durations.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rehearse_sim::calibrate::{self, CalibrateError, LogRun, Measured, Options};
use rehearse_sim::store::sqlite;
use rehearse_sim::track;

use crate::cli::CalibrateArgs;
use crate::load;

pub fn calibrate(args: &CalibrateArgs) -> Result<ExitCode> {
    // -o may name the --into scenario (that is an update in place), never
    // an input; --into never names an input either.
    let inputs: Vec<(&str, &Path)> = args.files.iter().map(|f| ("an input this reads", f.as_path())).collect();
    if let Some(out) = &args.output {
        crate::output::refuse_clobbering(("-o", out), &inputs)?;
    }
    if let Some(into) = &args.into {
        crate::output::refuse_clobbering(("--into", into), &inputs)?;
    }
    let opts = match (args.size_gb, args.target_size_gb) {
        (Some(a), Some(b)) => Options::sized(a, b)?,
        _ => Options::default(),
    };
    let mut runs = Vec::new();
    let mut logs: Vec<LogRun> = Vec::new();
    for f in &args.files {
        let name = f.display().to_string();
        if track::is_log(f) {
            logs.push(calibrate::read_log(f)?);
        } else if sqlite::is_sqlite(f) {
            bail!(
                "{name}: a SQLite file that is not a weekend log; calibrate reads DATAUPGRADESTATUS exports and weekend logs (`rehearse track LOG init`)"
            );
        } else {
            let bytes = std::fs::read(f).with_context(|| format!("cannot read {name}"))?;
            runs.push(calibrate::read_export_bytes(&name, &bytes)?);
        }
    }
    if let (Some(run), Some(log), None) = (runs.first(), logs.first(), &args.into) {
        return Err(CalibrateError::Mixed { export: run.file.clone(), log: log.file.clone() }.into());
    }
    let mut cal = if runs.is_empty() { None } else { Some(calibrate::calibrate(&runs, &opts)?) };
    let mut report = cal.as_mut().map(|c| std::mem::take(&mut c.report)).unwrap_or_default();
    let target: Option<(String, String)> = match (&args.into, logs.first()) {
        (Some(into), _) => Some((load::read_text(into)?, into.display().to_string())),
        (None, Some(log)) => {
            Some((log.scenario_text.clone(), format!("{} (the plan stored in {})", log.scenario_file, log.file)))
        }
        (None, None) => None,
    };
    let text = match (target, cal.as_mut()) {
        (Some((original, origin)), cal) => {
            let by_name = cal.map(|c| std::mem::take(&mut c.observed)).unwrap_or_default();
            let measured = Measured { by_name, by_id: LogRun::by_id(&logs) };
            let applied = calibrate::apply_into(&original, &origin, &measured, &opts)?;
            if !logs.is_empty() {
                if !report.is_empty() {
                    report.push('\n');
                }
                report.push_str(&calibrate::log_report(&logs, &applied));
            }
            report.push_str(&format!("\nreplaced the durations of {} step(s) of {origin}\n", applied.replaced.len()));
            applied.text
        }
        (None, Some(cal)) => std::mem::take(&mut cal.toml),
        (None, None) => unreachable!("FILES is required"),
    };
    // A million rows are a million small allocations: freeing them one by
    // one, as the process ends anyway, took longer than writing the text.
    std::mem::forget((runs, cal));
    let mut out = std::io::stdout().lock();
    match args.output.as_deref().or(args.into.as_deref()) {
        Some(path) => {
            crate::output::write_atomically(path, &text)?;
            write!(out, "{report}")?;
            writeln!(out, "wrote {}", path.display())?;
        }
        None => {
            write!(out, "{text}")?;
            eprint!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
