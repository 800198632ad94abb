//! `backend`: the cost of one self-service upgrade run (swarm faults) with
//! each data model: memory (counts and checksums in closed form) and SQLite
//! (real tables, transactions, point-in-time restore).
//!
//! Run: `cargo bench --bench backend`

use criterion::{Criterion, criterion_group, criterion_main};
use rehearse_core::{Mode, Scenario};
use rehearse_sim::backend::SqliteBackend;
use rehearse_sim::{FaultMode, NullSink, Plan, RunOptions, Simulator};

fn backend(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/self-service-upgrade.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let scenario = Scenario::parse(&text, path).unwrap();
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let mut group = c.benchmark_group("backend");
    for (name, mut sim) in [
        ("memory", Simulator::new(&plan)),
        ("sqlite", Simulator::with_backend(&plan, Box::new(SqliteBackend::new().unwrap()))),
    ] {
        let mut seed = 0u64;
        group.bench_function(format!("self-service-run/{name}"), |b| {
            b.iter(|| {
                seed += 1;
                let opts = RunOptions::new(seed, Mode::Random).with_faults(FaultMode::Swarm);
                std::hint::black_box(sim.run(&opts, &mut NullSink).unwrap().end)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, backend);
criterion_main!(benches);
