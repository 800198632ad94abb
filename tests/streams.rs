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
        ("ax2012-data-upgrade-dev.toml", "1cd5f4a0a8ea6fd87b133d2cf1590c6d2ac02bf743cd9a5caa9f64ee83e67fb8"),
        ("ax2012-go-live.toml", "1ec9f2798f511a5979b4ef6a41f5a1502eec1559b99a88436a778b5282523467"),
        ("ax2012-mock-cutover.toml", "03da2032cb49b433fea1f7e2aced7f032144c24bbfb6c73aadb095882ca6b1a8"),
        ("code-upgrade.toml", "9628b112d0903ff8cf8b414a28825c0418a5c6fc5c97a4c747992ca0693f408c"),
        ("dse-upgrade-2017.toml", "3b7bb57a6984c665bcfe2ebf386b0794dbc07507f0078ec24e9c202adbaf876e"),
        ("hotfix.toml", "e945c509027028148470a0ea2039995d0c14b89be6f441c2a703ee88ed17d14f"),
        ("platform-update.toml", "4242d001f266e43c6729ad1c0f0b1cdcec75d44bffd2809c5d9cee1227f34ea0"),
        ("self-service-upgrade.toml", "c77b1d1646de35efe3f4ae79960f1bf58a8c76d7a900c8a79dd3eeff26b18021"),
        // Added at version 3 with the scenario (pinned, not moved).
        ("go-live-weekend.toml", "c4e9ea7a3327e55981fdcd267fd6d2bbdba1b77de7f57d4387759957733727cd"),
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
        ("ax2012-data-upgrade-dev.toml", 3, "8addec21a7fa29f27f4bba52ebc76076deb6ac2d3aca6fac3a5da6512a8c1681"),
        ("ax2012-data-upgrade-dev.toml", 8, "7e634b4e96d7620dc66fc93a69adabf8fa352edccce4c4d3829c0add6fcf06fa"),
        ("ax2012-go-live.toml", 1, "8e30e1c4b425ce5cdef57158da55e079010a44e0a163966115373f6dedb0395b"),
        ("ax2012-go-live.toml", 4, "fbb562a3d179e288c4f6bf30b3a798e9f89c54b5d301f393ea9771e4b4d0f0ab"),
        ("ax2012-mock-cutover.toml", 2, "66af67150f5e92e924e28d6e7534d2b84448d75ab2004dbea16bb15ebeb177fb"),
        ("self-service-upgrade.toml", 1, "c2a3027c25ced3d0234ea538cc0ea414ba902c9ea3e8812b31887a0c81fb9d21"),
        ("dse-upgrade-2017.toml", 4, "7c7d8ea719bf00f8abc5243cf0580b2ec868675288275f6b7cb1972a44b9b728"),
        ("dse-upgrade-2017.toml", 5, "6c39143ec2f4ceb9c556dbc5649f50c6a18dea116eec169010a63ebea24807ed"),
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
        ("dse-upgrade-2017.toml", "7a833687e8e6b5a4"),
        ("self-service-upgrade.toml", "fe09d6d2b49c5cfb"),
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
