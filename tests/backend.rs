//! The two data models in lock-step: the same scenario and seed give the
//! byte-identical event stream, final counts and checksums included, with
//! the memory model and with the SQLite model, for every bundled scenario.

use rehearse_core::Mode;
use rehearse_sim::backend::SqliteBackend;
use rehearse_sim::{FaultMode, JsonlWriter, Plan, RunOptions, Simulator};

use crate::support;

#[test]
fn memory_and_sqlite_models_give_the_same_streams() {
    let names = support::bundled();
    assert!(names.len() >= 8, "{names:?}");
    for name in &names {
        let name = name.as_str();
        // The plans that touch data most get the most seeds.
        let runs = if name.starts_with("self-service") { 60u64 } else { 15 };
        let (text, s) = support::load(name);
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let mut memory = Simulator::new(&plan);
        let mut sqlite = Simulator::with_backend(&plan, Box::new(SqliteBackend::new().unwrap()));
        let mut with_data = 0;
        for seed in 0..runs {
            let opts = RunOptions::new(seed, Mode::Random).with_faults(FaultMode::Swarm);
            let (mut a, mut b) = (JsonlWriter::new(Vec::new(), &s), JsonlWriter::new(Vec::new(), &s));
            let ra = memory.run(&opts, &mut a).unwrap();
            let rb = sqlite.run(&opts, &mut b).unwrap();
            assert_eq!(ra, rb, "{name} seed {seed}");
            let (la, lb) = (a.into_inner(), b.into_inner());
            assert_eq!(la, lb, "{name} seed {seed}: the streams differ");
            with_data += usize::from(String::from_utf8_lossy(&la).contains("TableChanged"));
        }
        if name.starts_with("self-service") {
            assert!(with_data > runs as usize / 2, "{with_data} runs touched data");
        }
    }
}

/// A small table written to all day (a number sequence) during a long
/// replication: the models stay in lock-step, and the SQLite model's units
/// are sized for the changes, not one per row (millions of stored blocks).
#[test]
fn a_small_busy_table_stays_in_lock_step() {
    let (text, _) = support::load("ax2012-mock-cutover.toml");
    let busy = r#"{ name = "DOCUVALUE", rows = 1_000, changes_per_hour = 5_000_000 }"#;
    let text = text.replace(r#"{ name = "DOCUVALUE", rows = 6_000_000, changes_per_hour = 500 }"#, busy);
    assert!(text.contains(busy));
    let s = rehearse_core::Scenario::parse(&text, "busy.toml").unwrap();
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let mut memory = Simulator::new(&plan);
    let mut sqlite = Simulator::with_backend(&plan, Box::new(SqliteBackend::new().unwrap()));
    for seed in 0..4 {
        let opts = RunOptions::new(seed, Mode::Random).with_faults(FaultMode::Swarm);
        let (mut a, mut b) = (JsonlWriter::new(Vec::new(), &s), JsonlWriter::new(Vec::new(), &s));
        assert_eq!(memory.run(&opts, &mut a).unwrap(), sqlite.run(&opts, &mut b).unwrap(), "seed {seed}");
        let (la, lb) = (a.into_inner(), b.into_inner());
        assert!(String::from_utf8_lossy(&la).contains("ChangesReplicated"));
        assert_eq!(la, lb, "seed {seed}: the streams differ");
    }
}
