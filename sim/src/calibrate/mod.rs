//! Calibration from measured runs: exports of the documented monitoring
//! query on `DBUPGRADE.DATAUPGRADESTATUS`, and weekend logs (`rehearse
//! track`), turned into scenario durations.
//!
//! Accepted exports: the documentation's column order (StartTime, EndTime,
//! Steps, SubSteps, Status), newest or oldest first, comma- or
//! tab-separated (as SQL Server Management Studio saves results), quoted
//! as RFC 4180 says, with or without a header, a byte-order mark or
//! milliseconds, `NULL` (or empty) end times for a step still running, and
//! statuses Completed, Failed (an observed failure) and InProgress (an
//! unfinished run). Anything else is an error naming the file and line;
//! nothing is guessed.
//!
//! The structure is rebuilt from the times: rows that span later rows of the
//! same phase become their parent (PreSync's ExecuteScripts), rows that
//! overlap without spanning start alongside (DbSync's EnableSafeMode and
//! SyncSchema), and every gap between rows becomes a lag, so that the
//! calibrated scenario's `--median` run reproduces a single measured run row
//! for row.
//!
//! The rooms: `export` (reading exports), `shape` (nesting and lags from
//! the times), `fit` (durations, failure rates and size scaling over the
//! runs), `emit` (the scenario's TOML), `report` (the text report), `log`
//! (weekend logs as measurements), `into` (measured durations written into
//! an existing scenario). This file holds the options, the error and the
//! entry [`calibrate`].

mod drivers;
mod emit;
mod export;
mod fit;
mod into;
mod log;
mod report;
mod shape;

use std::collections::BTreeMap;

use rehearse_core::scenario::{MAX_SIZE_GB, MAX_SPAN, ScenarioError};
use rehearse_core::time::SimDuration;

pub use drivers::FoundDriver;
pub use export::{ExportError, Row, RowStatus, Run, read_export, read_export_bytes};
pub use fit::{Observed, is_size_dependent};
pub use into::{Applied, Kept, Measured, apply_into};
pub use log::{LogRun, LogStep, log_report, read_log};

/// Why calibration could not be done. Every message names the place: the
/// export's file and line, the scenario and step, or the option.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(
        "the {which} size {} GB ({flag}) is not a database size; expected a number of GB above 0 and at most {MAX_SIZE_GB}",
        number(*value)
    )]
    Size { which: &'static str, flag: &'static str, value: f64 },
    #[error(
        "{place}: {what} scaled x{factor} would last {}, beyond the {} a step may last; check --size-gb and --target-size-gb",
        long(*ms),
        SimDuration(MAX_SPAN.as_ms())
    )]
    TooLong { place: String, what: String, factor: f64, ms: f64 },
    /// The scenario to calibrate does not validate as it is.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{origin}: not TOML: {why}")]
    Toml { origin: String, why: String },
    #[error("{origin}: no [[step]] to calibrate")]
    NoSteps { origin: String },
    #[error(
        "{origin}: no step matches the measurements (exports match the sub-steps of a runbook with records_status = true by Steps and SubSteps; weekend logs match steps by id)"
    )]
    NoMatch { origin: String },
    /// The scenario validated before its durations were replaced, and does
    /// not after: the measurements are at fault, named by step (not by a
    /// line of a text the user never saw).
    #[error(
        "{origin}: with the calibrated durations the scenario would not validate, so nothing was written: {}",
        problems.join("; ")
    )]
    Invalid { origin: String, problems: Vec<String> },
    #[error(transparent)]
    Log(#[from] crate::track::TrackError),
    #[error(
        "{export} is an export and {log} a weekend log: exports build a new runbook, weekend logs update a plan; to use both, give --into SCENARIO.toml (exports then match its runbook's sub-steps by name, logs its steps by id)"
    )]
    Mixed { export: String, log: String },
}

/// A number as a user would write it: `1e308`, not 309 digits.
fn number(v: f64) -> String {
    if v != 0.0 && !(1e-6..1e15).contains(&v.abs()) { format!("{v:e}") } else { format!("{v}") }
}

fn long(ms: f64) -> String {
    if ms < 1e15 { SimDuration(ms as u64).to_string() } else { format!("{:.3e} days", ms / 86_400_000.0) }
}

/// Options for calibration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// The measured database's size and the size to plan for, in GB
    /// (checked by [`Options::sized`]).
    pub size_gb: Option<(f64, f64)>,
}

impl Options {
    /// Options that scale size-dependent steps from a `measured_gb`
    /// database to a `planned_gb` one.
    ///
    /// # Errors
    /// [`CalibrateError::Size`]: a size that is not a number of GB above 0
    /// and at most [`MAX_SIZE_GB`], as `[database] size_gb` is held to.
    pub fn sized(measured_gb: f64, planned_gb: f64) -> Result<Options, CalibrateError> {
        let opts = Options { size_gb: Some((measured_gb, planned_gb)) };
        opts.check()?;
        Ok(opts)
    }

    fn check(&self) -> Result<(), CalibrateError> {
        let Some((from, to)) = self.size_gb else { return Ok(()) };
        for (which, flag, value) in [("measured", "--size-gb", from), ("planned", "--target-size-gb", to)] {
            if !(value.is_finite() && value > 0.0 && value <= MAX_SIZE_GB) {
                return Err(CalibrateError::Size { which, flag, value });
            }
        }
        Ok(())
    }
}

/// A name whose id is not what it cleans to, because another name (or the
/// runbook) has that id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renamed {
    /// `Steps` for a phase, `Steps/SubSteps` for a sub-step.
    pub name: String,
    /// The id it cleans to.
    pub wanted: String,
    /// The id it got.
    pub id: String,
    /// The name that has `wanted`.
    pub taken_by: String,
}

/// The result: a scenario text and a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub toml: String,
    pub report: String,
    pub observed: BTreeMap<(String, String), Observed>,
    /// (Steps, SubSteps, factor) of every scaled sub-step.
    pub scaled: Vec<(String, String, f64)>,
    /// Names whose id had to differ from what they clean to.
    pub renamed: Vec<Renamed>,
    /// Shared drivers found: sub-steps that move together over the runs.
    pub drivers: Vec<drivers::FoundDriver>,
}

/// Builds the calibrated scenario from one or more runs (at least one).
/// The structure and lags come from the first complete run (the first run
/// if none is). Linear in the rows (`n log n` where it sorts or searches).
///
/// # Errors
/// Options out of range, and a duration scaled beyond what a step may last
/// (its export's file and line). What the exports hold otherwise always
/// calibrates: [`read_export`] refused what cannot.
///
/// # Panics
/// With no run; in debug builds, when the scenario written does not
/// validate or does not model the medians reported (a bug: the text is
/// valid by construction).
pub fn calibrate(runs: &[Run], opts: &Options) -> Result<Calibration, CalibrateError> {
    opts.check()?;
    let base = runs.iter().find(|r| !r.unfinished()).unwrap_or(&runs[0]);
    let sh = shape::shape(base);
    tracing::debug!(
        runs = runs.len(),
        base = %base.file,
        rows = base.rows.len(),
        phases = sh.phases.len(),
        "calibrate: structure rebuilt from the base run"
    );
    let mut observed = fit::observe(runs);
    let (drivers, apart) = drivers::find(runs, base, &sh.is_parent, &mut observed);
    tracing::debug!(substeps = observed.len(), drivers = drivers.len(), "calibrate: observations gathered");
    let of_row: Vec<&Observed> = base.rows.iter().map(|r| &observed[&(r.steps.clone(), r.substeps.clone())]).collect();
    let prepared = emit::prepare(base, &sh, &of_row, opts, &drivers)?;
    // The text and the report, each linear and as long as the other, side
    // by side.
    let (toml, report) = std::thread::scope(|s| {
        let report = s.spawn(|| {
            report::report(&report::Inputs {
                runs,
                base,
                observed: &of_row,
                scaled: &prepared.scaled,
                modelled: &prepared.modelled,
                renamed: &prepared.renamed,
                failed_groups: &prepared.failed_groups,
                drivers: &drivers,
                driver_ids: &prepared.driver_ids,
                apart: &apart,
            })
        });
        let toml = emit::text(runs, base, &sh, &of_row, &prepared, opts);
        (toml, report.join().expect("the report does not panic"))
    });
    tracing::debug!(bytes = toml.len(), scaled = prepared.scaled.len(), "calibrate: scenario written");
    if cfg!(debug_assertions) {
        held_to_the_validator(&toml, base, &prepared.modelled);
    }
    Ok(Calibration { toml, report, observed, scaled: prepared.scaled, renamed: prepared.renamed, drivers })
}

/// The emitted scenario validates, and runs each sub-step at the median the
/// report gives: checked in debug builds (every test), not in release,
/// where validating a million-step scenario would cost more than the rest
/// of calibration together.
fn held_to_the_validator(toml: &str, base: &Run, modelled: &[Option<u64>]) {
    let sc = rehearse_core::Scenario::parse(toml, "calibrated scenario").unwrap_or_else(|e| {
        panic!("calibrate wrote a scenario that does not validate:\n{e}\n--- scenario ---\n{toml}")
    });
    let names = crate::store::projection::status_names(&sc);
    let medians: BTreeMap<(&str, &str), u64> = names
        .iter()
        .zip(&sc.steps)
        .filter_map(|(name, step)| match (&step.work, name) {
            (rehearse_core::scenario::Work::Leaf(d), Some((a, b))) => {
                Some(((a.as_str(), b.as_str()), d.median().as_ms()))
            }
            _ => None,
        })
        .collect();
    for (r, m) in base.rows.iter().zip(modelled) {
        assert_eq!(medians.get(&(r.steps.as_str(), r.substeps.as_str())).copied(), *m, "{}/{}", r.steps, r.substeps);
    }
}
