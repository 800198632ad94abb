//! Fuzz target: any text as a JSON Lines event log of a bundled scenario
//! (`ax2012-go-live.toml`: replication, data effects, faults, so every kind
//! of event has names to resolve), read as `rehearse replay` reads it.
//!
//! A mutated line almost always breaks the hash chain, which would stop the
//! reader there and leave everything after it unfuzzed. So each input is
//! read twice: as it is, and with every line's `chain` link rewritten to
//! the right one, so that mutated events reach name resolution, the fold
//! (`RunState::apply`), the projections and the re-simulation. None of it
//! may panic, and the whole-log reader must agree with the prefix reader.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rehearse_core::{Calendar, Scenario, ScenarioDigest};
use rehearse_sim::replay;
use rehearse_sim::store::{self, Chain, GENESIS};

const TEXT: &str = include_str!("../../scenarios/ax2012-go-live.toml");

static SCENARIO: LazyLock<(Scenario, ScenarioDigest, Calendar)> = LazyLock::new(|| {
    let scenario = Scenario::parse(TEXT, "ax2012-go-live.toml").expect("the bundled scenario validates");
    let calendar = Calendar::parse("1970-01-01T00:00:00").expect("a valid date");
    (scenario, rehearse_sim::digest(TEXT), calendar)
});

const KEY: &str = ",\"chain\":\"";

/// The log with each line's link replaced by the one its bytes chain to.
fn rechain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut prev: Chain = GENESIS;
    for raw in log.split_inclusive('\n') {
        let body = raw.trim_end_matches('\n').trim_end_matches('\r');
        let end = &raw[body.len()..];
        match body.rfind(KEY) {
            Some(at) if body[at + KEY.len()..].ends_with("\"}") => {
                let canonical = format!("{}}}", &body[..at]);
                let link = store::chain_next(&prev, canonical.as_bytes());
                prev = link;
                out.push_str(&body[..at + KEY.len()]);
                for b in link {
                    out.push_str(&format!("{b:02x}"));
                }
                out.push_str("\"}");
            }
            _ => out.push_str(body),
        }
        out.push_str(end);
    }
    out
}

fn read(log: &str) {
    let (scenario, digest, calendar) = &*SCENARIO;
    let read = store::read_jsonl_prefix(log, scenario);
    match store::read_jsonl(log, scenario) {
        Ok(records) => {
            assert!(read.damage.is_none() && records == read.records, "read_jsonl disagrees with the prefix")
        }
        Err(e) => assert_eq!(Some(&e), read.damage.as_ref(), "read_jsonl's error is not the prefix's damage"),
    }
    if let Some(e) = &read.damage {
        let _ = e.to_string();
    }
    let report = replay::replay(scenario, *digest, &read.records, read.damage, *calendar, None);
    let _ = format!("{report:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(log) = std::str::from_utf8(data) else { return };
    read(log);
    let rechained = rechain(log);
    if rechained != log {
        read(&rechained);
    }
});
