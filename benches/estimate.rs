//! `estimate`: runs per second, single-threaded, of the data-upgrade
//! scenario with its faults (main pass only, no fault pricing; issue #6's
//! goal was about 380,000 runs/s, 30x a SimPy model of the same), and of
//! the mock cutover, whose replication and data effects the straight pass
//! follows (issue #21: twice the runs/s of a8e8977), without and with
//! fault pricing.
//!
//! Run: `cargo bench --bench estimate`

use std::sync::atomic::AtomicU64;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::Scenario;
use rehearse_sim::Plan;
use rehearse_sim::estimate::{EstimateOptions, estimate};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("estimate");
    group.sample_size(10);
    let runs = 20_000;
    group.throughput(Throughput::Elements(runs));
    for (name, file, fault_costs) in [
        ("data-upgrade/single-thread", "ax2012-data-upgrade-dev.toml", false),
        ("mock-cutover/single-thread", "ax2012-mock-cutover.toml", false),
        ("mock-cutover/single-thread-priced", "ax2012-mock-cutover.toml", true),
    ] {
        let path = format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario = Scenario::parse(&text, &path).unwrap();
        let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
        let opts = EstimateOptions { runs, threads: 1, fault_costs, sample_runs: 2_000, ..Default::default() };
        group.bench_function(name, |b| {
            b.iter(|| estimate(&plan, &opts, scenario.meta.window, &AtomicU64::new(0)).unwrap().runs)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
