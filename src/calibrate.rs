//! `rehearse calibrate`: measured DATAUPGRADESTATUS exports to durations.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use rehearse_sim::calibrate::{self, Options};

use crate::cli::CalibrateArgs;
use crate::load;

pub fn calibrate(args: &CalibrateArgs) -> Result<ExitCode> {
    // -o may name the --into scenario (that is an update in place), never
    // an export; --into never names an export either.
    let exports: Vec<(&str, &std::path::Path)> =
        args.files.iter().map(|f| ("an export this reads", f.as_path())).collect();
    if let Some(out) = &args.output {
        crate::output::refuse_clobbering(("-o", out), &exports)?;
    }
    if let Some(into) = &args.into {
        crate::output::refuse_clobbering(("--into", into), &exports)?;
    }
    let size_gb = match (args.size_gb, args.target_size_gb) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() => Some((a, b)),
        (Some(_), Some(_)) => bail!("--size-gb and --target-size-gb must be positive sizes in GB"),
        _ => None,
    };
    let opts = Options { size_gb };
    let mut runs = Vec::new();
    for f in &args.files {
        let text = load::read_text(f)?;
        runs.push(calibrate::read_export(&f.display().to_string(), &text)?);
    }
    let cal = calibrate::calibrate(&runs, &opts);
    let (text, note) = match &args.into {
        Some(into) => {
            let original = load::read_text(into)?;
            let (updated, replaced) = calibrate::apply_into(&original, &into.display().to_string(), &cal, &opts)
                .map_err(anyhow::Error::msg)?;
            (updated, format!("replaced the durations of {} step(s) of {}", replaced.len(), into.display()))
        }
        None => (cal.toml.clone(), String::new()),
    };
    // Never write a scenario that does not validate.
    rehearse_core::Scenario::parse(&text, "calibrated scenario")
        .map_err(|e| anyhow::anyhow!("internal error: the calibrated scenario does not validate:\n{e}"))?;
    let target = args.output.as_deref().or(args.into.as_deref());
    let mut out = std::io::stdout().lock();
    match target {
        Some(path) => {
            crate::output::write_atomically(path, &text)?;
            write!(out, "{}", cal.report)?;
            if !note.is_empty() {
                writeln!(out, "\n{note}")?;
            }
            writeln!(out, "wrote {}", path.display())?;
        }
        None => {
            write!(out, "{text}")?;
            eprint!("{}", cal.report);
        }
    }
    Ok(ExitCode::SUCCESS)
}
