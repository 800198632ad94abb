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
const PINNED_AT: u32 = 4;

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
        ("ax2012-data-upgrade-dev.toml", "b8743b0eb622bac93140f689b62f0ab506c178d51a54bab55286e955bc8caec0"),
        ("ax2012-go-live.toml", "48f9ac7d4c55036bf1d66a3e9c9d8c4d1688e91105ca5b3591e4f1ad5d7432e2"),
        ("ax2012-mock-cutover.toml", "a33534f89c639dda828d208c13897cdd625aeb3091ac11003bace78a3656dce7"),
        ("code-upgrade.toml", "32d45de9ef2e542a09c0bd2692e85df90c6aced9162b225cce73febd931ded57"),
        ("dse-upgrade-2017.toml", "cad940e519beece61e28e86549452aa144f2103943d673b4e4305875f4853896"),
        ("hotfix.toml", "ca9e60247d6845f1a6641afa7b00c1b734385060e78822dda0a3e43a609780eb"),
        ("platform-update.toml", "e92f599c8fa39f672bf28288ec2b03a1769d49bb56b3068a04dcba12c8bd4d33"),
        ("self-service-upgrade.toml", "2c8dbcc965b100cd6bc5b44146cdaa282f19d53eb5850644380cdb45d636eeee"),
        // Added at version 3 with the scenario (pinned, not moved).
        ("go-live-weekend.toml", "b5641e6ffe5eba1fe9a2cca85a80557da40b873acad3de8d7201be1e6f248cc5"),
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
        ("ax2012-data-upgrade-dev.toml", 3, "bf012455802c6ebfbd1ff81aa3e513ac168310c7ee5e555a2379e5bbb95f13ba"),
        ("ax2012-data-upgrade-dev.toml", 8, "be35169cfd3b863f69c8b2ac43c1aca9fc79f34f4ff561523cda73fe8b52dab0"),
        ("ax2012-go-live.toml", 1, "f127cc38695f9e65a0f64d3b145b430ca63f67c8fb121e095caba846345e6d82"),
        ("ax2012-go-live.toml", 4, "ff8290a5b74d30496cb4f2bd550b40ef2367305f61c74b454681f6baa1f77f42"),
        ("ax2012-mock-cutover.toml", 2, "3c9718b92297c9186c918daa186903f9b4a06bc053c068828e5051120c252241"),
        ("self-service-upgrade.toml", 1, "295a96228190342278d8209d316b966a80c2faa7af69f68e88579c11b337285b"),
        ("dse-upgrade-2017.toml", 4, "16eb92168895dbf60e6e8091b3c795dbb19425f68d3dbee65f7c60d8202dceed"),
        ("dse-upgrade-2017.toml", 5, "cdff7a562d6876f293ba2ebeb97eb789c039979985f64ab978bfec723dae3d89"),
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
        ("ax2012-data-upgrade-dev.toml", "9bcb328ea73294be"),
        ("ax2012-go-live.toml", "5306d69ad5f39357"),
        ("ax2012-mock-cutover.toml", "904507f6e5b25134"),
        ("dse-upgrade-2017.toml", "6f3955b5776cbc59"),
        ("self-service-upgrade.toml", "047f360410269ee5"),
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
