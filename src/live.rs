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
Examples:\n  rehearse live weekend.sqlite\n  rehearse live weekend.sqlite --bind 0.0.0.0:8080")]
pub struct LiveArgs {
    /// The weekend log (made by `rehearse track LOG init SCENARIO`).
    pub log: PathBuf,

    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Forecast runs per refresh.
    #[arg(long, default_value_t = 20_000, value_parser = crate::cli::runs())]
    pub runs: u64,

    /// Seed of the forecast.
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
    let server = rehearse_live::open(&args.log, args.bind, args.revoke_tokens, opts)?;
    let mut out = std::io::stdout().lock();
    let reach = if server.loopback() {
        "loopback only: this machine; --bind 0.0.0.0:PORT to serve the network".to_string()
    } else {
        format!("NOT loopback: anyone who can reach {} and has a URL below", server.addr)
    };
    writeln!(out, "live     {} on http://{} ({reach})", args.log.display(), server.addr)?;
    writeln!(out, "bridge   {}  (may record)", server.bridge_url())?;
    writeln!(out, "sponsor  {}  (read-only)", server.sponsor_url())?;
    out.flush()?;
    drop(out);
    server.run()?;
    Ok(ExitCode::SUCCESS)
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
