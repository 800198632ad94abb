//! `validate`: parsing and validating plans of the three shapes that once
//! made validation cubic or quadratic (issue #19): a parent chain 10,000
//! deep, 1,000 downtime pairs in a chain, and 5,001 steps whose every
//! `after` is misspelt (5,000 errors, each with its did-you-mean). The
//! plans come from the generators the tests use (`tests/shapes.rs`).
//!
//! Run: `cargo bench --bench validate`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rehearse_core::Scenario;

#[path = "../tests/shapes.rs"]
mod shapes;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    let plans = [
        ("parent-chain-10000", shapes::parent_chain(10_000), 10_000, true),
        ("downtime-pairs-1000", shapes::downtime_pairs(1_000), 2_000, true),
        ("misspelt-ids-5000", shapes::misspelt_ids(5_000).0, 5_001, false),
    ];
    for (name, text, n_steps, valid) in plans {
        assert_eq!(Scenario::parse(&text, name).is_ok(), valid, "{name}");
        group.throughput(Throughput::Elements(n_steps));
        group.bench_function(name, |b| {
            b.iter(|| Scenario::parse(&text, name).map_or_else(|e| e.diagnostics.len(), |s| s.steps.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
