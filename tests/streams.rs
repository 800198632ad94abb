//! The random streams, pinned. Every other determinism test compares a
//! build with itself; these hold today's streams to the values they had
//! when pinned, so a change to how durations, faults or recoveries are
//! sampled (or to the order the engine draws them in) cannot pass unseen.
//!
//! The pins belong to [`SCHEMA_VERSION`]: a change that moves any of them
//! changes every stored run's re-simulation, so it must bump the version,
//! say why in its commit, and re-pin here.

use rehearse_core::dist::Dist;
use rehearse_core::{Mode, SCHEMA_VERSION, SimDuration};
use rehearse_sim::rng::{Purpose, key_of, stream};
use rehearse_sim::{JsonlWriter, NullSink, Plan, RunOptions, Simulator, Tee};
use sha2::{Digest, Sha256};

use crate::support::load;

/// The schema version these pins were taken at.
const PINNED_AT: u32 = 3;

fn schema_is_pinned() {
    assert_eq!(
        SCHEMA_VERSION, PINNED_AT,
        "SCHEMA_VERSION moved: re-pin the streams in tests/streams.rs and say in the commit what changed them"
    );
}

/// The stream hash `rehearse run <scenario> --seed 7 --run <run>` prints
/// (probabilistic faults, random durations).
fn stream_hash(name: &str, run: u64) -> String {
    let (text, scenario) = load(name);
    let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
    let mut writer = JsonlWriter::new(std::io::sink(), &scenario);
    let mut opts = RunOptions::new(7, Mode::Random);
    opts.run = run;
    let mut memory = rehearse_sim::MemorySink::new();
    Simulator::new(&plan).run(&opts, &mut Tee(&mut memory, &mut writer)).expect("run");
    writer.hash()
}

/// Asserts every `(what, got, pinned)`, listing all that differ at once.
fn assert_pins(pins: &[(String, String, &str)]) {
    let moved: Vec<String> = pins
        .iter()
        .filter(|(_, got, pinned)| got != pinned)
        .map(|(what, got, pinned)| format!("{what}: pinned {pinned}, now {got}"))
        .collect();
    assert!(moved.is_empty(), "random streams moved (bump SCHEMA_VERSION and say why):\n{}", moved.join("\n"));
}

/// `rehearse run <each bundled scenario> --seed 7`: random draws and
/// probabilistic faults, every event hashed.
#[test]
fn seed_7_of_every_bundled_scenario_is_pinned() {
    schema_is_pinned();
    let pins = [
        ("ax2012-data-upgrade-dev.toml", "e239f1ae997f9371cf326090cf5f7f3c8057279bb446335ec180915270641bfa"),
        ("ax2012-go-live.toml", "feb534440563a349e40092eccaabdcaed28ec573089468f01333c3924faa3e35"),
        ("ax2012-mock-cutover.toml", "e70f3d15e14a3f1559bbf38a4b0825c62328cd145789ecf78ef99cc59e84dc15"),
        ("code-upgrade.toml", "078a1bf0cf573a7f200ca6beb42adaadaaa9eb2598f262934c322feeaf529327"),
        ("dse-upgrade-2017.toml", "0d4d792bf4df2db334584efb77720b3f8e3900a0b7c2ca53d94bf57c74a0f68d"),
        ("hotfix.toml", "9fc3b4744b55d76f5133b35d6bc8710941dce1788a7b09e383306d0a5ae8f767"),
        ("platform-update.toml", "72450243de10bab3dfce69dbe6ca23025081bae14502cb2b94a3c38cbc9af205"),
        ("self-service-upgrade.toml", "c1bf2040700709c389df6a73bac606e837bb59739c3cdd85b315e7b9624f328f"),
        // Added at version 3 with the scenario (pinned, not moved).
        ("go-live-weekend.toml", "6690b79d0c93ce05af72e416942a71a1867e3efcaea46e93b409228ee59576b9"),
    ];
    let got: Vec<_> = pins.iter().map(|&(name, pin)| (format!("{name} --seed 7"), stream_hash(name, 0), pin)).collect();
    assert_pins(&got);
}

/// Runs of an estimate in which faults strike, some recovered by resuming,
/// some rolled back: the fault, recovery and retry streams.
#[test]
fn runs_with_faults_striking_are_pinned() {
    schema_is_pinned();
    let pins = [
        ("ax2012-data-upgrade-dev.toml", 3, "598e13e276fd7dd1383d9e2cb8cd4d3d4abf0daa69c35d297feb4b805f2776b4"),
        ("ax2012-data-upgrade-dev.toml", 8, "b23391bb5fdd59f80b2cea4f57c8c7aa9957779d680756182d25a5d9b553ff86"),
        ("ax2012-go-live.toml", 1, "020287f3a488ab8648ea1a5c7abe6d6c6353b3fa81134c041ad27af9a7c5183f"),
        ("ax2012-go-live.toml", 4, "17b9c3f5b43d7efc4c2fc02ea95d533a399f1b0955f10ada7f742a253d0f6a56"),
        ("ax2012-mock-cutover.toml", 2, "aecd293b7a027778f98cd6203188256685f384174dbebdc78f7a19b79a8f051b"),
        ("self-service-upgrade.toml", 1, "e9087505a71689fbd1b55d92c3784aba5a81ae53d9eb4c5b002e6ac26e2bec9c"),
        ("dse-upgrade-2017.toml", 4, "fcde9f4e5a76843c03846b24f9adf785ec7fa861889e466d023e1e05bfc60f0d"),
        ("dse-upgrade-2017.toml", 5, "375b541fbf686329247df907c942c1cbe3d1768cf9421a591f9e4236d986768b"),
    ];
    let got: Vec<_> = pins
        .iter()
        .map(|&(name, run, pin)| (format!("{name} --seed 7 --run {run}"), stream_hash(name, run), pin))
        .collect();
    assert_pins(&got);
}

/// What Monte Carlo sees: 300 runs of each bundled scenario into a silent
/// sink (the path `estimate` takes, straight runs included), each run's
/// outcome, end and downtime hashed in run order.
#[test]
fn monte_carlo_runs_are_pinned() {
    schema_is_pinned();
    let pins = [
        ("ax2012-data-upgrade-dev.toml", "1b26f1f928689469"),
        ("ax2012-go-live.toml", "a506f3776d47f365"),
        ("ax2012-mock-cutover.toml", "7071814f1e435b02"),
        ("dse-upgrade-2017.toml", "ab88f9bd89eeba15"),
        ("self-service-upgrade.toml", "f1cd6c5691bdfa95"),
    ];
    let got: Vec<_> = pins
        .iter()
        .map(|&(name, pin)| {
            let (text, scenario) = load(name);
            let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
            let mut sim = Simulator::new(&plan);
            let mut h = Sha256::new();
            for run in 0..300 {
                let mut opts = RunOptions::new(7, Mode::Random);
                opts.run = run;
                let s = sim.run(&opts, &mut NullSink).expect("run");
                h.update(format!("{run} {:?} {} {}\n", s.outcome, s.end.as_ms(), s.downtime.as_ms()));
            }
            let hex: String = h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
            (format!("{name}: 300 silent runs"), hex, pin)
        })
        .collect();
    assert_pins(&got);
}

/// Each distribution kind, five draws from one named stream.
#[test]
fn sampled_values_per_distribution_are_pinned() {
    schema_is_pinned();
    let d = |s: &str| SimDuration::parse(s).expect("duration");
    let kinds: [(&str, Dist, [u64; 5]); 5] = [
        ("uniform", Dist::uniform(d("1h"), d("3h")).expect("dist"), [7847696, 6407772, 10216491, 8672995, 8384484]),
        (
            "triangular",
            Dist::triangular(d("1h"), d("90m"), d("4h")).expect("dist"),
            [5706123, 5206233, 7412617, 5739474, 6226351],
        ),
        ("pert", Dist::pert(d("1h"), d("90m"), d("4h")).expect("dist"), [8680307, 6842321, 4176778, 4442947, 4920544]),
        ("lognormal", Dist::lognormal(d("2h"), d("3h")).expect("dist"), [4329108, 9850734, 11661063, 5899810, 4492447]),
        (
            "empirical",
            Dist::empirical(&[d("50m"), d("1h"), d("70m"), d("2h")]).expect("dist"),
            [3302317, 3234368, 6615188, 3010249, 3767603],
        ),
    ];
    let got: Vec<_> = kinds
        .iter()
        .map(|(name, dist, pinned)| {
            let mut rng = stream(7, 0, Purpose::StepDuration, key_of(name), 1);
            let draws: Vec<u64> = (0..5).map(|_| dist.sample(&mut rng, d("365d")).as_ms()).collect();
            (name.to_string(), format!("{draws:?}"), format!("{pinned:?}"))
        })
        .collect();
    let got: Vec<(String, String, &str)> = got.iter().map(|(a, b, c)| (a.clone(), b.clone(), c.as_str())).collect();
    assert_pins(&got);
}
