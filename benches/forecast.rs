//! `forecast`: 100,000 runs of the AX 2012 go-live from mid-weekend (the
//! actuals of one run up to 40 % of its length: steps done, one running,
//! downtime begun), on two threads, with and without fault pricing. Issue
//! #15's goal: at most 1 s on 2 cores, fast enough to refresh on every
//! recorded step.
//!
//! Run: `cargo bench --bench forecast`

use std::sync::atomic::AtomicU64;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::{Mode, Scenario};
use rehearse_sim::actuals::Actuals;
use rehearse_sim::estimate::EstimateOptions;
use rehearse_sim::forecast::forecast;
use rehearse_sim::{NullSink, Plan, RunOptions, Simulator};

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ax2012-go-live.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let sc = Scenario::parse(&text, path).unwrap();
    let plan = Plan::new(&sc, rehearse_sim::digest(&text));
    let truth = Simulator::new(&plan).run(&RunOptions::new(3, Mode::Random), &mut NullSink).unwrap();
    let now = truth.end.as_ms() * 2 / 5;
    let mut a = Actuals::none(&sc, "2026-11-27T17:00:00Z".parse().unwrap());
    a.now_ms = now;
    for (i, t) in truth.steps.iter().enumerate() {
        if truth.attempts[i] > 0 && t.start.as_ms() <= now {
            a.started_ms[i] = Some(t.start.as_ms());
            a.done_ms[i] = (t.end.as_ms() <= now).then_some(t.end.as_ms());
        }
    }
    let runs = 100_000;
    let mut group = c.benchmark_group("forecast");
    group.sample_size(10);
    group.throughput(Throughput::Elements(runs));
    for (name, fault_costs) in
        [("ax2012-go-live/mid-weekend/2-threads", false), ("ax2012-go-live/mid-weekend/2-threads/fault-costs", true)]
    {
        let opts = EstimateOptions { runs, threads: 2, fault_costs, ..Default::default() };
        group.bench_function(name, |b| {
            b.iter(|| forecast(&sc, &text, a.clone(), &opts, sc.meta.window, &AtomicU64::new(0)).unwrap().estimate.runs)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
