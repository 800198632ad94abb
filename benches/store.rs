//! `store`: the event store's speed. Append (events per second into SQLite:
//! encoding, hash chain, batched inserts; goal at least 1.5 million/s) and
//! replay (events per second read back and checked as `rehearse replay`
//! checks a store before it re-simulates: SQLite's integrity check, the
//! tables, the identity, the chain verified and parsed on all cores, the
//! projections rebuilt and compared; goal at least 2 million/s). Beside
//! them, what SQLite's `integrity_check` and `quick_check` cost alone.
//!
//! Run: `cargo bench --bench store`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::{Calendar, EventRecord, Mode, Scenario};
use rehearse_sim::store::projection::{DataProjection, StatusProjection, Tables};
use rehearse_sim::store::sqlite::{SqliteWriter, read_store, verify_stored};
use rehearse_sim::{EventSink, MemorySink, Plan, RunOptions, Simulator};

const N_EVENTS: usize = 200_000;

/// A long stream: data-upgrade runs one after the other, renumbered.
fn stream(scenario: &Scenario, text: &str) -> Vec<EventRecord> {
    let plan = Plan::new(scenario, rehearse_sim::digest(text));
    let mut sim = Simulator::new(&plan);
    let mut out = Vec::with_capacity(N_EVENTS);
    let mut seed = 0;
    while out.len() < N_EVENTS {
        let mut m = MemorySink::new();
        sim.run(&RunOptions::new(seed, Mode::Random), &mut m).unwrap();
        seed += 1;
        for r in m.records {
            if out.len() < N_EVENTS {
                out.push(EventRecord { seq: out.len() as u64, ..r });
            }
        }
    }
    out
}

fn store(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ax2012-data-upgrade-dev.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let scenario = Scenario::parse(&text, path).unwrap();
    let records = stream(&scenario, &text);
    let cal = Calendar::parse("2022-05-20T04:16:24.460").unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N_EVENTS as u64));
    let db = dir.path().join("bench.sqlite");
    let append = || {
        let mut w = SqliteWriter::create(&db, &scenario, cal, &[("bench", "1".into())]).unwrap();
        for r in &records {
            w.record(r).unwrap();
        }
        w.close("finished").unwrap();
    };
    group.bench_function("append-sqlite", |b| b.iter_batched(|| (), |()| append(), BatchSize::PerIteration));
    group.bench_function("encode-and-chain", |b| {
        b.iter(|| {
            let mut enc = rehearse_sim::store::Encoder::new(&scenario);
            for r in &records {
                std::hint::black_box(enc.encode(r).unwrap().1);
            }
        })
    });
    // Replay reads a store as the append writes it (written here too, so
    // that `cargo bench --bench store -- replay` runs alone), on every core
    // as `rehearse replay` does.
    append();
    group.bench_function("replay-sqlite", |b| {
        b.iter(|| {
            let stored = read_store(&db).unwrap();
            assert!(stored.damage.is_none());
            let (records, damage) = verify_stored(&scenario, &stored.genesis, &stored.events);
            assert!(damage.is_none());
            assert_eq!(records.len(), N_EVENTS);
            let (mut status, mut data) = (StatusProjection::new(&scenario, cal), DataProjection::new(&scenario, cal));
            for r in &records {
                status.apply(r);
                data.apply(r);
            }
            assert_eq!(stored.projections.first_difference(&Tables::rebuilt(&status, &data)), None);
        })
    });
    for pragma in ["integrity_check", "quick_check"] {
        group.bench_function(pragma.replace('_', "-"), |b| {
            b.iter(|| {
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
                let conn = rusqlite::Connection::open_with_flags(&db, flags).unwrap();
                let ok: String = conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0)).unwrap();
                assert_eq!(ok, "ok");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
