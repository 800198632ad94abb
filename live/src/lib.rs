//! `rehearse live`: the weekend log served to a browser. A thin tokio
//! layer over what `rehearse-sim` already does: the log is written by
//! `track::record` (the checks of `rehearse track`, one transaction a
//! record, once per idempotency key) and forecast by `forecast`; this crate
//! adds the tokens, the page, the API, the push channel and the status
//! pack.
//!
//! The rooms: `access` (the two tokens, stored hashed beside the log),
//! `hub` (the shared state and the loops that follow the file and make the
//! board), `board` (what the page shows, made from the log and "now"),
//! `verdict` (on track, at risk, no-go), `write` (a JSON body as a record),
//! `api` (the routes), `status` (the sponsor's status pack).
//!
//! The wall clock is read here, at the edge, and only to stamp a record
//! sent without `at`, as the instant a board or a status is made, and to
//! date the tokens; the simulator never reads it.

pub mod access;
pub mod api;
pub mod board;
pub mod drill;
pub mod hub;
pub mod status;
pub mod verdict;
pub mod write;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use rehearse_sim::track::{self, Log};

pub use access::{Role, Tokens};
pub use board::BoardOptions;
pub use hub::ServeOptions;

/// Why the bridge could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{path}: not a weekend log (start one with `rehearse track {path} init SCENARIO.toml`)")]
    NotALog { path: String },
    #[error(transparent)]
    Track(#[from] track::TrackError),
    #[error("{path}: {cause}")]
    Sqlite { path: String, cause: rusqlite::Error },
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: SocketAddr, cause: std::io::Error },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("no randomness for the tokens: {0}")]
    Random(String),
    #[error(transparent)]
    Board(#[from] board::BoardError),
    #[error("{path}: {cause}")]
    Drill { path: String, cause: rehearse_sim::drill::DrillError },
}

/// A bridge ready to serve: the log checked, tokens issued, the address
/// bound.
pub struct Server {
    pub addr: SocketAddr,
    pub tokens: Tokens,
    listener: std::net::TcpListener,
    hub_parts: (PathBuf, Log),
    opts: ServeOptions,
    /// The drill the log holds, if it is one.
    pub drill: Option<drill::LiveDrill>,
}

/// Opens the weekend log at `path` for serving on `bind`: the log is read
/// and verified, a new pair of tokens issued (with `revoke`, every earlier
/// one revoked), the address bound.
///
/// # Errors
/// A file that is no weekend log, a damaged log, an address that cannot
/// be bound, SQLite errors.
pub fn open(path: &Path, bind: SocketAddr, revoke: bool, opts: ServeOptions) -> Result<Server, LiveError> {
    if path.is_file() && !track::is_log(path) {
        return Err(LiveError::NotALog { path: path.display().to_string() });
    }
    let log = Log::open(path)?;
    let sc = log.scenario()?;
    let drill = match rehearse_sim::drill::DrillSpec::of(&log) {
        None => None,
        Some(spec) => {
            let spec = spec.map_err(|cause| LiveError::Drill { path: path.display().to_string(), cause })?;
            let origin = log.entries().first().map_or_else(Timestamp::now, |e| e.at.timestamp());
            // The drill must hold as far as it went before it is served.
            rehearse_sim::drill::verify(&sc, log.scenario_text(), spec.clone(), log.entries())
                .map_err(|cause| LiveError::Drill { path: path.display().to_string(), cause })?;
            Some(drill::LiveDrill::new(spec, origin))
        }
    };
    let listener = std::net::TcpListener::bind(bind).map_err(|cause| LiveError::Bind { addr: bind, cause })?;
    listener.set_nonblocking(true).map_err(|cause| LiveError::Bind { addr: bind, cause })?;
    let addr = listener.local_addr().map_err(|cause| LiveError::Bind { addr: bind, cause })?;
    let tokens = access::issue(path, &Timestamp::now().to_string(), revoke)?;
    Ok(Server { addr, tokens, listener, hub_parts: (path.to_path_buf(), log), opts, drill })
}

impl Server {
    fn url(&self, token: &str) -> String {
        format!("http://{}/?token={token}", self.addr)
    }

    /// The bridge's URL: may record.
    pub fn bridge_url(&self) -> String {
        self.url(&self.tokens.bridge)
    }

    /// The sponsors' URL: read-only.
    pub fn sponsor_url(&self) -> String {
        self.url(&self.tokens.sponsor)
    }

    /// Whether it listens on loopback only.
    pub fn loopback(&self) -> bool {
        self.addr.ip().is_loopback()
    }

    /// Serves until the runtime stops.
    ///
    /// # Errors
    /// The listener failing.
    pub async fn serve(self) -> Result<(), LiveError> {
        let (path, log) = self.hub_parts;
        let access = access::Access::load(&path)?;
        let scenario = log.scenario()?;
        let hub = hub::Hub::new(path, log, scenario, access, self.opts, self.drill);
        hub.spawn();
        let listener = tokio::net::TcpListener::from_std(self.listener).map_err(LiveError::Serve)?;
        axum::serve(listener, api::router(Arc::clone(&hub))).await.map_err(LiveError::Serve)
    }

    /// Serves on a runtime of its own, until the process ends.
    ///
    /// # Errors
    /// As [`Server::serve`].
    pub fn run(self) -> Result<(), LiveError> {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(LiveError::Serve)?;
        rt.block_on(self.serve())
    }
}
