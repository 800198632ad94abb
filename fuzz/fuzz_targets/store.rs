//! Fuzz target: any bytes as a SQLite run store, read as `rehearse replay`
//! reads one (`replay_store`: the file's integrity, its tables, the run's
//! identity, the events, the projections, re-simulation), then its parts:
//! `read_store`, the stored scenario (or a fallback), `verify_stored`, and
//! the verdict. Whatever the file holds, each must answer, never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rehearse_core::{Calendar, Scenario};
use rehearse_sim::replay;
use rehearse_sim::store::sqlite;

const FALLBACK_TEXT: &str = include_str!("../../scenarios/hotfix.toml");

/// The scenario to verify against when the store holds none that parses
/// (`replay` stops there; going on fuzzes the event checks further).
static FALLBACK: LazyLock<Scenario> =
    LazyLock::new(|| Scenario::parse(FALLBACK_TEXT, "hotfix.toml").expect("the bundled scenario validates"));

/// One file per process, rewritten for every input (SQLite reads a path).
static PATH: LazyLock<PathBuf> =
    LazyLock::new(|| std::env::temp_dir().join(format!("rehearse-fuzz-store-{}.sqlite", std::process::id())));

fuzz_target!(|data: &[u8]| {
    let path = &*PATH;
    // A WAL or journal left by the previous input would make this one's
    // answer depend on it.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    std::fs::write(path, data).expect("the temporary directory is writable");
    let _ = sqlite::is_store(path);
    let _ = format!("{:?}", replay::replay_store(path));
    let stored = match sqlite::read_store(path) {
        Ok(stored) => stored,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let text = stored.meta.get("scenario_text").map(String::as_str);
    let own = text.and_then(|text| Scenario::parse(text, "stored.toml").ok());
    let (scenario, text) = match &own {
        Some(s) => (s, text.unwrap_or_default()),
        None => (&*FALLBACK, FALLBACK_TEXT),
    };
    let (records, damage) = sqlite::verify_stored(scenario, &stored.genesis, &stored.events);
    if let Some(e) = &damage {
        let _ = e.to_string();
    }
    let calendar = stored
        .meta
        .get("calendar_start")
        .and_then(|s| Calendar::parse(s).ok())
        .unwrap_or_else(|| Calendar::parse("1970-01-01T00:00:00").expect("a valid date"));
    let projections = Some(&stored.projections);
    let report = replay::replay(scenario, rehearse_sim::digest(text), &records, damage, calendar, projections);
    let _ = format!("{report:?}");
});
