//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Rehearse a Dynamics 365 finance and operations upgrade or cutover.
///
/// A scenario (TOML) describes the plan: steps, dependencies, durations and
/// where downtime begins and ends. `rehearse` replays it as a deterministic
/// event stream: the same scenario, seed and version always give the same
/// events, byte for byte.
#[derive(Debug, Parser)]
#[command(name = "rehearse", version, about, long_about, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 ok, 1 a check failed, 2 bad input.\nLogging: set RUST_LOG (e.g. RUST_LOG=debug)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario once and print its timeline and summary.
    Run(RunArgs),
    /// Check scenario files and print every error found.
    Validate(ValidateArgs),
    /// Test the plan's recovery logic over many seeds and fault mixes.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  rehearse run scenarios/ax2012-data-upgrade-dev.toml --seed 7\n  rehearse run scenarios/ax2012-data-upgrade-dev.toml --median --start 2022-05-20T06:00:00\n  rehearse run scenarios/ax2012-data-upgrade-dev.toml --seed 7 --events run.jsonl --json"
)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// Seed for the random draws; the same seed gives the same run.
    #[arg(long, default_value_t = 0, conflicts_with = "median")]
    pub seed: u64,

    /// Run every step at its median, with no randomness: the plan as written.
    #[arg(long)]
    pub median: bool,

    /// Write the event stream to FILE as JSON Lines (replaced only when the run succeeds).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// Show calendar times from this start (e.g. 2026-12-05T18:00:00)
    /// instead of the scenario's `start`.
    #[arg(long, value_name = "DATETIME")]
    pub start: Option<String>,

    /// Rehearse a failure on purpose: FAULT@STEP[#ATTEMPT] (repeatable).
    /// Only the listed faults strike (and persistent ones again until fixed).
    #[arg(long = "fault", value_name = "FAULT@STEP[#N]", conflicts_with = "no_faults")]
    pub faults: Vec<String>,

    /// No fault strikes: the plan when nothing goes wrong.
    #[arg(long)]
    pub no_faults: bool,

    /// Print the summary and timeline as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Stop with an error after this many events.
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    pub max_events: u64,

    /// Stop with an error past this much simulated time (e.g. 30d).
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    pub max_time: String,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,

    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Every run is checked against the invariants at every event: the run ends exactly once \
(committed, rolled back, cancelled or aborted); committed means every step done; rolled back means the original \
is back online and nothing went forward after the rollback began; no retry beyond its budget; no rollback after \
its deadline; no cancel after the swap; and the run ends within the time bound (liveness).\n\n\
On a failure: the seed, the invariant, the events around it, the fault schedule shrunk to the smallest that \
still fails, and the `rehearse run` command that reproduces it; exit code 1.\n\n\
Example:\n  rehearse check scenarios/self-service-upgrade.toml --swarm --runs 10000")]
pub struct CheckArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// How many runs (seeds) to try.
    #[arg(long, default_value_t = 1_000)]
    pub runs: u64,

    /// First seed: run k uses seed SEED + k.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Swarm testing: per run, switch each fault site on or off at random,
    /// so rare combinations of faults are reached often.
    #[arg(long)]
    pub swarm: bool,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Liveness bound: a run must end within this much simulated time.
    #[arg(long, value_name = "DURATION", default_value = "60d")]
    pub max_time: String,

    /// A run must end within this many events.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_events: u64,
}
