//! `estimate`: runs per second of the data-upgrade scenario with its faults,
//! single-threaded, main pass only (no fault pricing). Issue #6's goal is
//! about 380,000 runs/s (30x a SimPy model of the same).
//!
//! Run: `cargo bench --bench estimate`

use std::sync::atomic::AtomicU64;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::Scenario;
use rehearse_sim::Plan;
use rehearse_sim::estimate::{EstimateOptions, estimate};

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ax2012-data-upgrade-dev.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let scenario = Scenario::parse(&text, path).unwrap();
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let runs = 20_000;
    let opts = EstimateOptions { runs, threads: 1, fault_costs: false, sample_runs: 2_000, ..Default::default() };
    let mut group = c.benchmark_group("estimate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(runs));
    group.bench_function("data-upgrade/single-thread", |b| {
        b.iter(|| estimate(&plan, &opts, scenario.meta.window, &AtomicU64::new(0)).unwrap().runs)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
