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
    /// Estimate the go-live over many runs: P(success) inside the window,
    /// the committed runs' downtime, what drives it, and priced go/no-go
    /// checkpoints.
    Estimate(EstimateArgs),
    /// Compare two plans on the same seeds and random numbers.
    Compare(CompareArgs),
    /// Join the part files of a sharded `estimate` or `check` (--shard)
    /// and print what the unsharded command prints.
    Merge(MergeArgs),
    /// Verify a stored run (SQLite or JSON Lines): hash chain, fold,
    /// projections, and re-simulation from its scenario and seed.
    Replay(ReplayArgs),
    /// Turn measured DATAUPGRADESTATUS exports into scenario durations.
    Calibrate(CalibrateArgs),
    /// The weekend log: record what actually happens (steps started and
    /// done, faults, decisions, notes, corrections), each checked against
    /// the plan.
    Track(crate::track::TrackArgs),
    /// Forecast the rest of the weekend from its log: the estimate's
    /// figures, dated, from what has actually happened.
    Forecast(ForecastArgs),
    /// Serve the weekend log to a browser: the bridge records through its
    /// page, sponsors follow the forecast live.
    Live(crate::live::LiveArgs),
    /// The sponsors' status pack: verdict, dated forecast, what changed
    /// since the last pack, the next milestones.
    Status(crate::live::StatusArgs),
    /// Run a read-only SQL query on a stored run (e.g. the documented
    /// DATAUPGRADESTATUS monitoring query).
    Sql(SqlArgs),
    /// Print a scenario's go-live readiness checklist and the go/no-go
    /// decision (exit 1 on no-go).
    Readiness(ReadinessArgs),
    /// List the bundled scenarios, one line each (`--show NAME`: print one).
    Scenarios(ScenariosArgs),
    /// Start a plan of your own: write a bundled scenario to FILE.
    Init(InitArgs),
    /// Whether moving between two releases needs the LCS code upgrade
    /// service, as the documented source/target tables say.
    CodeUpgrade(CodeUpgradeArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "The gates are those of \"Prepare your production environment to go live\" (2024) and, with \
`ax2012 = true` under [readiness], the AX 2012 requirements and the go-live prerequisites of \"Upgrade from AX 2012 - \
Go live (Cutover)\". A gate the scenario does not state is NOT ASSESSED and blocks, like one NOT MET.\n\n\
Exit codes: 0 go, 1 no-go, 2 bad input.\n\n\
Example:\n  rehearse readiness scenarios/ax2012-go-live.toml")]
pub struct ReadinessArgs {
    /// The scenario file (TOML) with a [readiness] section.
    pub scenario: PathBuf,

    /// Print the checklist as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,

    /// Print the bundled scenario NAME (`ax2012-go-live`, with or without
    /// `.toml`), as written, instead of the list.
    #[arg(long, value_name = "NAME", conflicts_with = "json")]
    pub show: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  rehearse init mine.toml --from ax2012-go-live\n  rehearse validate mine.toml")]
pub struct InitArgs {
    /// The file to write.
    pub file: PathBuf,

    /// The bundled scenario to start from (see `rehearse scenarios`).
    #[arg(long, value_name = "NAME")]
    pub from: String,

    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Releases: ax2012, 7.0 (feb-2016), 7.0.1 (may-2016), 7.0.1-pu2 (august-2016), 7.1 (1611), \
7.2 (july-2017), 7.3, 8.x (8.0), 8.1, and `platform` for a newer platform only.\n\n\
The 2018 table (001) answers first, then the 2017 one (000); a pair neither lists follows the rule 001 states: a \
new application release needs a code upgrade, a platform update does not. 8.0 -> 8.1 is an update (001's \
definition: a binary package, no data upgrade): no code upgrade. Without arguments: both tables.\n\n\
Examples:\n  rehearse code-upgrade 7.1 8.x\n  rehearse code-upgrade may-2016 august-2016 --json")]
pub struct CodeUpgradeArgs {
    /// The release you run now.
    #[arg(requires = "to")]
    pub from: Option<String>,

    /// The release you move to.
    pub to: Option<String>,

    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
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

    /// Which run of a batch (`rehearse estimate` run k is `--seed S --run k`).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub run: u64,

    /// Run every step at its median, with no randomness: the plan as written.
    #[arg(long)]
    pub median: bool,

    /// Write the event stream to FILE as JSON Lines (replaced only when the run succeeds).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// The data model: `memory` (counts and checksums) or `sqlite` (real
    /// tables, X++ transactions, point-in-time restore). Both give the same
    /// events.
    #[arg(long, value_name = "MODEL", default_value = "memory", value_parser = ["memory", "sqlite"])]
    pub backend: String,

    /// Also store the run in a SQLite file: events with a hash chain, the
    /// scenario, seed and version, and the DATAUPGRADESTATUS projection.
    /// An earlier run's store there is replaced; any other file is refused.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Let --db replace an existing file that is not a rehearse run store.
    #[arg(long, requires = "db")]
    pub force: bool,

    /// For crash and I/O error tests: the store's writer halts after N
    /// committed batches and says so on stderr, until a line comes on stdin
    /// (for good if none does), so a test can kill the run then, or change
    /// the store's place and let it go on.
    #[arg(long, value_name = "N", requires = "db", hide = true)]
    pub halt_store_after_batches: Option<u64>,

    /// Show calendar times from this start of the run's first step (e.g.
    /// 2026-12-05T18:00:00, no offset) instead of the scenario's `start` or
    /// `downtime_begins_at`.
    #[arg(long, value_name = "DATETIME")]
    pub start: Option<String>,

    /// Rehearse a failure on purpose: FAULT@STEP[#ATTEMPT] (repeatable).
    /// Only the listed faults strike (and persistent ones again until fixed).
    #[arg(long = "fault", value_name = "FAULT@STEP[#N]", conflicts_with = "no_faults")]
    pub faults: Vec<String>,

    /// No fault strikes: the plan when nothing goes wrong.
    #[arg(long)]
    pub no_faults: bool,

    /// Run even though go-live readiness gates are unmet (they are named
    /// on stderr).
    #[arg(long)]
    pub ignore_readiness: bool,

    /// Print the summary and timeline as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// The table's rows: `time` (in the order steps started) or
    /// `workstream` (grouped by each step's `workstream`, then by time).
    #[arg(long, value_name = "ORDER", default_value = "time", value_parser = ["time", "workstream"])]
    pub by: String,

    /// Only the steps that ran while the system was down.
    #[arg(long)]
    pub downtime_only: bool,

    /// Lines at most N characters wide (0: no limit). Default: the
    /// terminal's width, else COLUMNS, else 80.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

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
Every failing run is shrunk (its fault schedule, by delta debugging) and fingerprinted by the invariant, the \
step and the recovery path (not the seed): each distinct failure is reported once with its count, the first \
with its seed, the events around it and the `rehearse run` command that reproduces it; exit code 1.\n\n\
--liveness: one fault site per run persists (every later attempt of its step fails) while faults elsewhere stop; \
every run must still end within the limits.\n\n\
Examples:\n  rehearse check scenarios/self-service-upgrade.toml --swarm --runs 10000\n  \
rehearse check plan.toml --swarm --save-failures failures/   (then, after a fix: --corpus failures/)\n  \
rehearse check plan.toml --swarm --runs 1000000 --shard 3/8 --out part-3   (then: rehearse merge part-*)")]
pub struct CheckArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// How many runs (seeds) to try, 1 to 10,000,000.
    #[arg(long, default_value_t = 1_000, value_parser = runs())]
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

    /// Lines at most N characters wide (0: no limit). Default: the
    /// terminal's width, else COLUMNS, else 80.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// Liveness bound: a run must end within this much simulated time.
    #[arg(long, value_name = "DURATION", default_value = "60d")]
    pub max_time: String,

    /// A run must end within this many events.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_events: u64,

    /// Liveness mode: from a point of each run, a fault persists on one
    /// step (every later attempt fails, past every budget) and stops
    /// elsewhere; every run must still end, as its recovery policies say,
    /// within --max-time and --max-events, and no step start more often
    /// than the recovery budgets allow.
    #[arg(long)]
    pub liveness: bool,

    /// Write each distinct failure as a capsule file in DIR (its shrunk
    /// fault schedule, the scenario's digest, the command that reproduces
    /// it).
    #[arg(long, value_name = "DIR")]
    pub save_failures: Option<PathBuf>,

    /// Replay the capsules saved in DIR first (--save-failures): a
    /// failure once fixed must stay fixed.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,

    #[command(flatten)]
    pub part: ShardArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "Says one of: OK; incomplete (a valid prefix of N events); corrupted at seq N; \
diverged at seq N (with both events).\nExit codes: 0 OK, 1 incomplete or diverged, 2 corrupted or unreadable.\n\n\
Examples:\n  rehearse replay run.sqlite\n  rehearse replay events.jsonl --scenario scenarios/ax2012-data-upgrade-dev.toml")]
pub struct ReplayArgs {
    /// A run store (`run --db`) or an event log (`run --events`).
    pub file: PathBuf,

    /// The scenario the log was run from (needed for a JSON Lines log; a
    /// SQLite store holds its own).
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,

    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "The store is attached as DBUPGRADE too, so the documented query runs verbatim:\n  \
rehearse sql run.sqlite \"SELECT StartTime, EndTime, Steps, SubSteps, Status FROM [DBUPGRADE].[DATAUPGRADESTATUS] ORDER BY EndTime DESC\"\n\n\
Tables: DATAUPGRADESTATUS, RELEASEUPDATESCRIPTSERRORLOG, events (seq, at_ms, kind, payload, chain), run_meta (key, value).")]
pub struct SqlArgs {
    /// A run store written by `rehearse run --db`.
    pub file: PathBuf,

    /// The query (read-only).
    pub query: String,

    /// Print the rows as JSON.
    #[arg(long)]
    pub json: bool,

    /// Stop a query still running after this long (exit 2).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,

    /// Refuse a query that returns more rows than this (exit 2).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_rows: usize,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Input: exports of the documented query\n  SELECT StartTime, EndTime, Steps, SubSteps, Status FROM [DBUPGRADE].[DATAUPGRADESTATUS] ORDER BY EndTime DESC\n\
in either order, comma- or tab-separated (quoted as RFC 4180 says; UTF-8, or UTF-16 with its byte-order mark), \
with or without a header, with or without milliseconds, NULL end times for a step still running, Completed / Failed / \
InProgress statuses.\n\n\
A weekend log (made by `rehearse track LOG init`) gives each finished step's actual duration (its last \
attempt), matched by step id: the plan the log holds, or --into's, gets them (one log: the measured values; \
several: fitted distributions). Exports and logs together need --into.\n\n\
Examples:\n  rehearse calibrate mock1.csv -o calibrated.toml\n  rehearse calibrate mock1.sqlite mock2.sqlite -o next-plan.toml\n  rehearse calibrate mock1.csv mock2.csv mock3.csv --into scenarios/ax2012-data-upgrade-dev.toml -o updated.toml\n  \
rehearse calibrate mock1.csv --size-gb 120 --target-size-gb 850 -o production.toml"
)]
pub struct CalibrateArgs {
    /// Exports of DATAUPGRADESTATUS, one measured run each, or weekend logs
    /// (`rehearse track`), whose steps' actual durations update their plan.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Write the calibrated scenario here (replaced only when complete).
    #[arg(short = 'o', long = "output", value_name = "OUT.toml")]
    pub output: Option<PathBuf>,

    /// Replace the durations of this scenario's matching steps instead,
    /// keeping everything else (comments too); written to -o, else in place.
    #[arg(long, value_name = "SCENARIO.toml")]
    pub into: Option<PathBuf>,

    /// Size of the measured database, in GB (with --target-size-gb).
    #[arg(long, value_name = "N", requires = "target_size_gb")]
    pub size_gb: Option<f64>,

    /// Size to plan for, in GB: size-dependent steps are scaled by
    /// target/measured.
    #[arg(long, value_name = "M", requires = "size_gb")]
    pub target_size_gb: Option<f64>,
}

#[derive(Debug, Args)]
#[command(after_help = "Run k uses (seed, run k): `rehearse run --seed S` is run 0. The numbers are the same for \
any --threads.\n\nP(success) is the share of runs that commit inside the window; a rolled-back go-live is a failure, never a fit.\n\n\
--fail-if takes METRIC OP VALUE with METRIC one of p50 p80 p90 p95 p99 mean max (the committed runs' \
downtime, e.g. 40h) or p_success p_rollback p_commit (shares, e.g. 0.9), OP one of > >= < <=; exit 1 when any \
holds.\n\n\
Examples:\n  rehearse estimate scenarios/go-live-weekend.toml\n  \
rehearse estimate scenarios/self-service-upgrade.toml --runs 100000\n  \
rehearse estimate scenarios/self-service-upgrade.toml --fail-if \"p90 > 40h\" --fail-if \"p_success < 0.9\" --json")]
pub struct EstimateArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// How many runs, 1 to 10,000,000.
    #[arg(long, default_value_t = 10_000, value_parser = runs())]
    pub runs: u64,

    /// The seed; run k is (seed, k).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Worker threads, 1 to 256 (default: all cores). Never changes the results.
    #[arg(long, value_parser = threads())]
    pub threads: Option<usize>,

    /// The downtime window to fit (default: the scenario's `window`).
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,

    /// A gate for CI pipelines, e.g. "p90 > 40h" (repeatable): exit 1 if it holds.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,

    /// Skip pricing each fault (the runs it struck, run again without it).
    #[arg(long)]
    pub no_fault_costs: bool,

    /// Also write a self-contained HTML report (charts as inline SVG).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Print the estimate as JSON.
    #[arg(long)]
    pub json: bool,

    /// Lines at most N characters wide (0: no limit). Default: the
    /// terminal's width, else COLUMNS, else 80.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// A run must end within this much simulated time.
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    pub max_time: String,

    #[command(flatten)]
    pub part: ShardArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "Every shard of the same command (plan, seed, runs, options, tool version) must be given \
once, in any order; the output is byte for byte what the unsharded command prints. A part that is truncated, \
altered or of another command is refused with where it stops making sense. Exit codes: as the command's; 2 for \
parts that do not make a whole.\n\n\
Example:\n  for i in 0 1 2 3; do rehearse estimate plan.toml --shard $i/4 --out part-$i; done\n  \
rehearse merge part-* --json")]
pub struct MergeArgs {
    /// The part files (`estimate`/`check` --shard I/N --out PART).
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,

    /// Print as JSON.
    #[arg(long)]
    pub json: bool,

    /// An estimate's parts: also write the HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Worker threads for what the merge simulates again (the report's
    /// runs), 1 to 256. Never changes the results.
    #[arg(long, value_parser = threads())]
    pub threads: Option<usize>,

    /// Lines at most N characters wide (0: no limit). Default: the
    /// terminal's width, else COLUMNS, else 80.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// A check's parts: write each distinct failure as a capsule in DIR.
    #[arg(long, value_name = "DIR")]
    pub save_failures: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Both plans run the same runs (seed, k); a step or fault both plans have draws the same random \
numbers in both, so the differences come from what changed, not from luck. Intervals are 95% paired bootstrap \
intervals.\n\nExample:\n  rehearse compare plan-a.toml plan-b.toml --runs 20000"
)]
pub struct CompareArgs {
    /// Plan A (TOML).
    pub a: PathBuf,
    /// Plan B (TOML).
    pub b: PathBuf,
    /// Runs per plan, 1 to 10,000,000.
    #[arg(long, default_value_t = 10_000, value_parser = runs())]
    pub runs: u64,
    /// The seed; run k is (seed, k) for both plans.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads, 1 to 256 (default: all cores). Never changes the results.
    #[arg(long, value_parser = threads())]
    pub threads: Option<usize>,
    /// The downtime window (default: plan A's `window`).
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML page: both plans side by side and
    /// what changed, structure included.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Lines at most N characters wide (0: no limit). Default: the
    /// terminal's width, else COLUMNS, else 80.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,
}

/// The most runs a command takes. An estimate's percentiles have long
/// settled by then (its P90's interval narrows as one over the square root
/// of the runs), and what is kept per run stays within a gigabyte; `check`
/// and `compare` are bounded alike so that no request runs for hours.
pub const MAX_RUNS: u64 = 10_000_000;

/// The most worker threads: more than any machine this runs on has cores
/// (a thread per core is the default); each one is a real OS thread.
pub const MAX_THREADS: u64 = 256;

pub(crate) fn runs() -> clap::builder::RangedU64ValueParser<u64> {
    clap::builder::RangedU64ValueParser::new().range(1..=MAX_RUNS)
}

pub(crate) fn threads() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..=MAX_THREADS)
}

#[derive(Debug, Args)]
#[command(after_help = "The plan runs from the log: steps done at their recorded times, running steps for at least \
the time they have run (drawn from their distribution restricted to that), nothing else starting before now, faults \
and recoveries as in `estimate` from here on. Once downtime has begun, times are dated from when it did, and a plan \
with a window_end keeps its deadline. The same log, --now, --runs and --seed give the same output.\n\n\
Exit codes: 0, 1 when a --fail-if gate holds, 2 bad input.\n\n\
Examples:\n  rehearse forecast weekend.sqlite\n  \
rehearse forecast weekend.sqlite --now 2027-03-06T02:00:00+01:00 --runs 100000 --json")]
pub struct ForecastArgs {
    /// The weekend log (made by `rehearse track LOG init SCENARIO`).
    pub log: PathBuf,

    /// The time the forecast is made at: RFC 3339 with an offset, or a civil
    /// time in the plan's zone (default: now).
    #[arg(long, value_name = "DATETIME")]
    pub now: Option<String>,

    /// Number of runs.
    #[arg(long, default_value_t = 10_000, value_parser = runs())]
    pub runs: u64,

    /// Seed: run k uses (seed, k).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Worker threads (default: all cores); the result does not depend on it.
    #[arg(long, value_parser = threads())]
    pub threads: Option<usize>,

    /// Exit 1 when a gate holds, as in `estimate` (e.g. "p_success < 0.9").
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,

    /// Skip pricing each fault (faster, for a refresh on every record).
    #[arg(long)]
    pub no_fault_costs: bool,

    /// Also price the recovery choices open now (at a fault not yet
    /// decided: the plan's, resume, retry, rerun, roll back; else carry on
    /// or roll back), each on the same runs. It shows; it does not decide.
    #[arg(long)]
    pub options: bool,

    /// Print JSON (the names of `estimate --json`, schema 3, plus the forecast's own).
    #[arg(long)]
    pub json: bool,
}

/// A run of one shard, for `estimate` and `check`.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Run only shard I of N (0 <= I < N; `env/N`: I from
    /// JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID) and write its part to
    /// --out; `rehearse merge` joins the parts.
    #[arg(long, value_name = "I/N", requires = "out")]
    pub shard: Option<String>,

    /// The part file a --shard run writes.
    #[arg(long, value_name = "PART", requires = "shard")]
    pub out: Option<PathBuf>,
}
