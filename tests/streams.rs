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
        ("ax2012-data-upgrade-dev.toml", "d8e1cbbf5de86a5c54eb5d2c34e5443cb544ce62fb828acd3afada51f2300c7e"),
        ("ax2012-go-live.toml", "71ba8169fa6419110e9ccc7819dd9d0df77cb11fb56be1b268340b8b2d024d8b"),
        ("ax2012-mock-cutover.toml", "324507e21c5de2352a817e7a62c8bb8f62b43b9847d07b1e5bce0c93caf7e6c8"),
        ("code-upgrade.toml", "405cc9f17c59328a806c22ae835b4db843ae6fa57edd914f4c904816b959c697"),
        ("dse-upgrade-2017.toml", "5471333437b2bfb97512a38091bd2daad8a1d03bbe49baa9bee5359070e50570"),
        ("hotfix.toml", "18de099069f6e988f1a1f414f733e2352ef41e414adab6038461d736c79ab4c5"),
        ("platform-update.toml", "2bd7a0489b9f9c946f42d8711a527d9ed8c6cd23ea829b4f0c25c87a0b1557cb"),
        ("self-service-upgrade.toml", "20f8c6239912fe90f6448e2ee9f5ed7fb9c47558ddfc5592c3db5963fd2eed29"),
        // Added at version 3 with the scenario (pinned, not moved).
        ("go-live-weekend.toml", "4222cd345233926affa697c1a440f351ae99f099455be12379421e064484e23b"),
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
        ("ax2012-data-upgrade-dev.toml", 3, "07eaf9a0793b467abe160e7784f52f8e6d8220fd9f08c902f3222c0c94c4a024"),
        ("ax2012-data-upgrade-dev.toml", 8, "c47008fe06296b4aeae7e6f44093d4724cfe381ec242f4a7e5f12566622e44d2"),
        ("ax2012-go-live.toml", 1, "00e7a22c94bdb300d1f7ea468b0866e422c5faf4fd60d9fe92683c4a134bce37"),
        ("ax2012-go-live.toml", 4, "bc124ac612b8f7279349c5c29e60f3c612d233c19d1716406a6a69655a0081a6"),
        ("ax2012-mock-cutover.toml", 2, "0205328b27415bf31b06a2504f09d7de806a5d3815f2c3f21a0988ae6f070720"),
        ("self-service-upgrade.toml", 1, "331c891d4d16a95fd22a5608ed538dda847e3eadb4d7dbb75b0acf25e40443ea"),
        ("dse-upgrade-2017.toml", 4, "4adfff28ebf5144e4e131ea24bc881acb7b00433ad1ca893b83d77e2512de02f"),
        ("dse-upgrade-2017.toml", 5, "2e6fb13b01deb13e0b060aa873729db508b573265f0e70d90095614f3bd2be60"),
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
        ("dse-upgrade-2017.toml", "a2c773d0a5dda258"),
        ("self-service-upgrade.toml", "275596c882923a1c"),
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
