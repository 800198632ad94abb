//! `rehearse live` and `rehearse status`: the weekend log served to a
//! browser, and the sponsors' status pack. Reads the arguments and the
//! clock (`status` is made as of now, or `--now`); the server and the pack
//! are `rehearse-live`'s.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use jiff::Timestamp;
use rehearse_live::{BoardOptions, ServeOptions, status};

#[derive(Debug, Args)]
#[command(after_help = "Prints two URLs, each with its token: the bridge's (may record) and the sponsors' \
(read-only). Tokens are random, shown once, stored only hashed in the log's file; each start issues a new pair \
(earlier ones stay valid unless --revoke-tokens). It listens on loopback unless --bind says otherwise.\n\n\
API: GET /api/forecast, POST /api/track (JSON), GET /api/events (server-sent events); see the README.\n\n\
A drill (--drill SCENARIO) plays the plan into a fresh log in compressed time: steps start and finish on their \
own, faults strike as the plan says (or only the --fault ones), and at each fault the drill stops until the bridge \
records a decision (the plan's recovery proposed, the choices priced on the page). The clock stops while the bridge \
decides, and jumps over stretches in which nothing runs. `rehearse replay LOG` re-plays a drill from its seed and \
the recorded decisions; `rehearse status LOG` of a finished drill is its debrief; `rehearse live LOG` again takes \
a stopped drill up where it stood.\n\n\
Examples:\n  rehearse live weekend.sqlite\n  rehearse live weekend.sqlite --bind 0.0.0.0:8080\n  \
rehearse live --drill scenarios/ax2012-go-live.toml --speed 3600 --fault dvt@transformation")]
pub struct LiveArgs {
    /// The weekend log (made by `rehearse track LOG init SCENARIO`). With
    /// --drill: the fresh log to play the drill into (default:
    /// SCENARIO-drill-seedS.sqlite here); it must not exist.
    #[arg(required_unless_present = "drill")]
    pub log: Option<PathBuf>,

    /// Play this scenario as a drill into a fresh log.
    #[arg(long, value_name = "SCENARIO")]
    pub drill: Option<PathBuf>,

    /// Drill speed: simulated time per wall-clock time (600: ten minutes
    /// a second).
    #[arg(long, default_value_t = 600, requires = "drill", value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub speed: u32,

    /// A drill with exactly these faults (FAULT@STEP[#ATTEMPT], repeatable)
    /// instead of the plan's.
    #[arg(long = "fault", value_name = "FAULT@STEP", requires = "drill")]
    pub faults: Vec<String>,

    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Forecast runs per refresh.
    #[arg(long, default_value_t = 20_000, value_parser = crate::cli::runs())]
    pub runs: u64,

    /// Seed of the forecast, and of the drill's run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Worker threads for the forecast (default: all cores).
    #[arg(long, value_parser = crate::cli::threads())]
    pub threads: Option<usize>,

    /// Revoke every token issued before this start.
    #[arg(long)]
    pub revoke_tokens: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "The verdict, the dated forecast, what changed since the last status pack, and the next \
milestones with their owners. Each pack is remembered in the log's file (table status_packs, outside the log's \
records and hash chain): the next one lists the records after the last seq this one covered, and how the verdict \
and figures moved.\n\n\
Examples:\n  rehearse status weekend.sqlite --markdown\n  rehearse status weekend.sqlite --html status.html")]
pub struct StatusArgs {
    /// The weekend log.
    pub log: PathBuf,

    /// Write the pack as one self-contained HTML page.
    #[arg(long, value_name = "FILE", conflicts_with = "markdown")]
    pub html: Option<PathBuf>,

    /// Print the pack as Markdown.
    #[arg(long)]
    pub markdown: bool,

    /// The time the pack is made at: RFC 3339 with an offset (default: now).
    #[arg(long, value_name = "DATETIME")]
    pub now: Option<String>,

    /// Forecast runs.
    #[arg(long, default_value_t = 20_000, value_parser = crate::cli::runs())]
    pub runs: u64,

    /// Seed of the forecast.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Do not remember this pack (the next one then reports changes since
    /// the one before).
    #[arg(long)]
    pub no_record: bool,
}

pub fn live(args: &LiveArgs) -> Result<ExitCode> {
    let opts = ServeOptions {
        board: BoardOptions {
            runs: args.runs,
            seed: args.seed,
            threads: crate::estimate::threads(args.threads),
            ..Default::default()
        },
        ..Default::default()
    };
    let log = match &args.drill {
        Some(scenario) => start_drill(args, scenario)?,
        None => args.log.clone().expect("clap requires LOG without --drill"),
    };
    let server = rehearse_live::open(&log, args.bind, args.revoke_tokens, opts)?;
    let mut out = std::io::stdout().lock();
    let reach = if server.loopback() {
        "loopback only: this machine; --bind 0.0.0.0:PORT to serve the network".to_string()
    } else {
        format!("NOT loopback: anyone who can reach {} and has a URL below", server.addr)
    };
    writeln!(out, "live     {} on http://{} ({reach})", log.display(), server.addr)?;
    if let Some(d) = &server.drill {
        let faults = d.spec.faults.as_ref().map_or_else(|| "the plan's faults".to_string(), |f| f.join(", "));
        writeln!(
            out,
            "drill    seed {}, x{} ({faults}); it stops at each fault for a decision",
            d.spec.seed, d.spec.speed
        )?;
    }
    writeln!(out, "bridge   {}  (may record)", server.bridge_url())?;
    writeln!(out, "sponsor  {}  (read-only)", server.sponsor_url())?;
    out.flush()?;
    drop(out);
    server.run()?;
    Ok(ExitCode::SUCCESS)
}

/// Opens the fresh log of a drill of `scenario`: the path.
fn start_drill(args: &LiveArgs, scenario: &std::path::Path) -> Result<PathBuf> {
    let (sc, text) = crate::load::scenario(scenario)?;
    let spec = rehearse_sim::drill::DrillSpec {
        seed: args.seed,
        speed: args.speed,
        faults: (!args.faults.is_empty()).then(|| args.faults.clone()),
    };
    let path = args.log.clone().unwrap_or_else(|| {
        let stem = scenario.file_stem().map_or_else(|| "drill".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-drill-seed{}.sqlite", args.seed))
    });
    // The wall clock, at the edge: a plan without a calendar is drilled
    // from now.
    rehearse_sim::drill::create_log(&path, &scenario.display().to_string(), &text, &sc, &spec, Timestamp::now())
        .map_err(|e| match e {
            rehearse_sim::drill::DrillError::Track(t) => anyhow::Error::new(t),
            e => anyhow::anyhow!("{}: {e}", path.display()),
        })?;
    Ok(path)
}

pub fn status(args: &StatusArgs) -> Result<ExitCode> {
    if let Some(html) = &args.html {
        crate::output::refuse_clobbering(("--html", html), &[("the weekend log", &args.log)])?;
    }
    // The wall clock, at the edge: the pack is made as of now.
    let now = match &args.now {
        Some(t) => rehearse_core::anchor::instant(t, None).map_err(|e| anyhow::anyhow!("--now {e}"))?.timestamp(),
        None => Timestamp::now(),
    };
    let opts = BoardOptions {
        runs: args.runs,
        seed: args.seed,
        threads: crate::estimate::threads(None),
        ..Default::default()
    };
    let pack = status::pack(&args.log, now, &opts)?;
    let mut out = std::io::stdout().lock();
    match &args.html {
        Some(path) => {
            crate::output::write_atomically(path, &pack.html())?;
            writeln!(out, "{}: status pack, {} ({} changes)", path.display(), pack.verdict, pack.changes.len())?;
        }
        None if args.markdown => write!(out, "{}", pack.markdown())?,
        None => write!(out, "{}", pack.text())?,
    }
    if !args.no_record {
        status::remember(&args.log, &pack)?;
    }
    Ok(ExitCode::SUCCESS)
}
