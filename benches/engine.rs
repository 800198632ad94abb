//! `engine`: one run of the data-upgrade scenario after another, single
//! thread, events kept in memory. Criterion reports events per second
//! (throughput in elements); goal: at least 10 million.
//!
//! Its twins, `silent/...`, time what a Monte Carlo run costs: the same runs
//! into a sink that keeps nothing, once through the engine (a sink that
//! counts the events, so the engine must emit them) and once as the
//! straight pass takes them (`NullSink`): a change that slows the engine
//! shows in the first even when straight runs hide it from `estimate`.
//!
//! Run: `cargo bench --bench engine`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::EventRecord;
use rehearse_core::{Mode, Scenario};
use rehearse_sim::{EventSink, MemorySink, NullSink, Plan, RunOptions, Simulator};

/// Counts events and keeps none: a sink the engine must emit into.
struct Counting(u64);

impl EventSink for Counting {
    fn record(&mut self, _: &EventRecord) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

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

    let mut group = c.benchmark_group("silent");
    let mut seed = 0u64;
    group.bench_function("data-upgrade/engine", |b| {
        let mut counting = Counting(0);
        b.iter(|| {
            seed += 1;
            let summary = sim.run(&RunOptions::new(seed, Mode::Random), &mut counting).expect("run");
            std::hint::black_box(summary.end)
        })
    });
    group.bench_function("data-upgrade/straight", |b| {
        b.iter(|| {
            seed += 1;
            let summary = sim.run(&RunOptions::new(seed, Mode::Random), &mut NullSink).expect("run");
            std::hint::black_box(summary.end)
        })
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
