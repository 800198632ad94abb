//! `engine`: one run of the data-upgrade scenario after another, single
//! thread, events kept in memory. Criterion reports events per second
//! (throughput in elements); goal: at least 10 million.
//!
//! Run: `cargo bench --bench engine`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::{Mode, Scenario};
use rehearse_sim::{MemorySink, Plan, RunOptions, Simulator};

fn engine(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ax2012-data-upgrade-dev.toml");
    let text = std::fs::read_to_string(path).expect("bundled scenario");
    let scenario = Scenario::parse(&text, path).expect("valid scenario");
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let mut sim = Simulator::new(&plan);
    let mut sink = MemorySink::new();
    let n_events = sim.run(&RunOptions::new(0, Mode::Random), &mut sink).expect("run").n_events;

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(n_events));
    for (name, mode) in [("data-upgrade/random", Mode::Random), ("data-upgrade/median", Mode::Median)] {
        let mut seed = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                sink.records.clear();
                let summary = sim.run(&RunOptions::new(seed, mode), &mut sink).expect("run");
                std::hint::black_box(summary.end)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
