//! The server's shared state and its two background loops.
//!
//! - **sync**: the log as last read. Woken by every write the server makes,
//!   and every `poll` (1 s) it asks the file for its last seq, so a
//!   `rehearse track` in another process is read within a second or so; a
//!   change reads the log again (chain and checks, as `Log::open` does) and
//!   bumps `records`.
//! - **board**: a new board (forecast, verdict, steps, call sheet) each
//!   time the records change, and every `refresh` anyway, since time moves
//!   on while nothing is recorded. Changes that arrive while a board is
//!   being made, or within `board_gap` of the last one, are folded into
//!   the next one.
//!
//! Pages follow both through `watch` channels: a page that falls behind
//! reads what it missed from the log held here, so it never drops a
//! record, whatever the load.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use rehearse_core::scenario::Scenario;
use rehearse_sim::track::Log;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::json;
use tokio::sync::{Mutex, Notify, watch};

use crate::access::Access;
use crate::board::{BoardOptions, board};
use crate::drill::LiveDrill;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub board: BoardOptions,
    /// How often the file is asked for records written by others.
    pub poll: Duration,
    /// How often the board is made again when nothing is recorded.
    pub refresh: Duration,
    /// The least time between two boards: records still reach the pages
    /// at once, but a burst of them makes one forecast, not one each,
    /// leaving the cores to the writes.
    pub board_gap: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            board: BoardOptions::default(),
            poll: Duration::from_secs(1),
            refresh: Duration::from_secs(60),
            board_gap: Duration::from_millis(500),
        }
    }
}

/// A board as pages get it: its number and its JSON text.
#[derive(Debug)]
pub struct BoardText {
    pub version: u64,
    pub json: String,
}

pub struct Hub {
    pub path: PathBuf,
    pub name: String,
    pub scenario: Scenario,
    pub access: Access,
    pub opts: ServeOptions,
    /// Serialises this server's writes (SQLite serialises them with other
    /// processes' too; this keeps ours from waiting on its busy handler).
    pub write_lock: Mutex<()>,
    log: RwLock<Arc<Log>>,
    /// The number of records read so far.
    pub records: watch::Sender<u64>,
    pub board: watch::Sender<Option<Arc<BoardText>>>,
    wake: Notify,
    /// Wakes the board loop: the drill stopped or was paused.
    board_wake: Notify,
    /// The drill played into this log, if it is one.
    pub drill: Option<Arc<LiveDrill>>,
}

impl Hub {
    pub fn new(
        path: PathBuf,
        log: Log,
        scenario: Scenario,
        access: Access,
        opts: ServeOptions,
        drill: Option<LiveDrill>,
    ) -> Arc<Hub> {
        let n = log.entries().len() as u64;
        Arc::new(Hub {
            name: path.display().to_string(),
            path,
            scenario,
            access,
            opts,
            write_lock: Mutex::new(()),
            log: RwLock::new(Arc::new(log)),
            records: watch::Sender::new(n),
            board: watch::Sender::new(None),
            wake: Notify::new(),
            board_wake: Notify::new(),
            drill: drill.map(Arc::new),
        })
    }

    /// "Now": the drill's clock in a drill, else the wall clock (the edge).
    pub fn now(&self) -> Timestamp {
        self.drill.as_ref().map_or_else(Timestamp::now, |d| d.now())
    }

    /// Makes a new board now.
    pub fn refresh_board(&self) {
        self.board_wake.notify_one();
    }

    /// The log as last read.
    pub fn log(&self) -> Arc<Log> {
        self.log.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Something was written: read the log now.
    pub fn written(&self) {
        self.wake.notify_one();
    }

    /// Starts the loops on the current runtime.
    pub fn spawn(self: &Arc<Self>) {
        tokio::spawn(sync_loop(self.clone()));
        tokio::spawn(board_loop(self.clone()));
        if let Some(d) = &self.drill {
            tokio::spawn(crate::drill::drive(self.clone(), d.clone()));
        }
    }

    /// Reads the log again if it grew; whether it did.
    pub(crate) async fn sync(self: &Arc<Self>) -> bool {
        let known = self.log().entries().len() as u64;
        let path = self.path.clone();
        let hub = self.clone();
        let read = tokio::task::spawn_blocking(move || {
            if last_seq(&path).is_some_and(|last| last + 1 == known) {
                return None;
            }
            Some(Log::open(&path))
        })
        .await;
        match read {
            Ok(Some(Ok(log))) if log.entries().len() as u64 > known => {
                let n = log.entries().len() as u64;
                *hub.log.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(log);
                hub.records.send_replace(n);
                true
            }
            Ok(Some(Err(e))) => {
                tracing::warn!("{}: {e}", hub.name);
                false
            }
            _ => false,
        }
    }
}

/// The last seq the file holds, cheaply (`None` when it cannot be read).
fn last_seq(path: &std::path::Path) -> Option<u64> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok()?;
    conn.busy_timeout(Duration::from_secs(2)).ok()?;
    conn.query_row("SELECT max(seq) FROM events", [], |r| r.get::<_, Option<i64>>(0))
        .optional()
        .ok()
        .flatten()
        .flatten()
        .and_then(|s| u64::try_from(s).ok())
}

async fn sync_loop(hub: Arc<Hub>) {
    let mut tick = tokio::time::interval(hub.opts.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = hub.wake.notified() => {}
        }
        hub.sync().await;
    }
}

async fn board_loop(hub: Arc<Hub>) {
    let mut records = hub.records.subscribe();
    // A drill's clock runs fast: its board is made again more often.
    let every = if hub.drill.is_some() { hub.opts.refresh.min(Duration::from_secs(2)) } else { hub.opts.refresh };
    let mut refresh = tokio::time::interval(every);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.reset();
    let mut version = 0;
    // The last board made, and of what (records, now): a board is a
    // function of both, so while a drill's clock stands and nothing is
    // recorded it is not made again.
    let mut last: Option<((usize, Timestamp), serde_json::Value)> = None;
    loop {
        records.borrow_and_update();
        let log = hub.log();
        // The edge: the board is made as of now (the drill's clock in a
        // drill).
        let now = hub.now();
        let key = (log.entries().len(), now);
        let made = match &last {
            Some((k, v)) if *k == key => Ok(v.clone()),
            _ => {
                let (name, opts) = (hub.name.clone(), hub.opts.board.clone());
                match tokio::task::spawn_blocking(move || board(&log, &name, now, &opts)).await {
                    Ok(Ok(b)) => Ok(b.json),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("the forecast stopped: {e}")),
                }
            }
        };
        let json = match made {
            Ok(mut v) => {
                last = Some((key, v.clone()));
                if let Some(d) = &hub.drill {
                    v["board"]["drill"] = d.to_json();
                }
                v.to_string()
            }
            Err(e) => json!({ "error": e, "board": null }).to_string(),
        };
        version += 1;
        hub.board.send_replace(Some(Arc::new(BoardText { version, json })));
        tokio::time::sleep(hub.opts.board_gap).await;
        tokio::select! {
            r = records.changed() => if r.is_err() { return },
            _ = refresh.tick() => {}
            () = hub.board_wake.notified() => {}
        }
    }
}
