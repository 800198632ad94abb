//! Structure-aware fuzzing of the scenario parser: scenarios generated from
//! a grammar of the format (steps with parents and `after` references that
//! may be unknown or cyclic, durations of every form and some that are not,
//! faults, recovery policies, database, replication and readiness tables,
//! keys that do not exist, values of the wrong type). Byte fuzzing
//! (`fuzz/`, target `scenario`) seldom gets past the TOML syntax to the
//! validator; this reaches it on every case. Parsing never panics and
//! either validates or reports errors located as `fuzz.toml:LINE:COL`; a
//! scenario that validates compiles and runs, bounded, without panicking.

use proptest::prelude::*;
use rehearse_core::{Mode, Scenario};
use rehearse_sim::engine::Limits;
use rehearse_sim::{NullSink, Plan, RunOptions, Simulator};

const IDS: [&str; 6] = ["a", "b", "c", "d", "e", "load"];

fn one_of(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(str::to_string)
}

/// A duration as written, mostly valid, sometimes not.
fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => one_of(&["\"5m\"", "\"1h30m\"", "\"250ms\"", "\"2h\"", "\"10:48:06.077\"", "\"1d\"", "\"45s\""]),
        1 => one_of(&["\"0s\"", "\"instant\"", "\"-5m\"", "\"31d\"", "\"\"", "\"5 minutes\"", "\"1h-\"", "\"99999999999h\""]),
        1 => one_of(&["0", "-1", "300", "1.5", "nan", "inf", "true", "[]", "{}", "9223372036854775807"]),
    ]
}

/// A duration: a time, or a distribution of times (with the right number
/// of them or not).
fn duration() -> impl Strategy<Value = String> {
    let list = |n| prop::collection::vec(time(), n).prop_map(|v| v.join(", "));
    prop_oneof![
        3 => time(),
        1 => list(1..3).prop_map(|l| format!("{{ uniform = [{l}] }}")),
        1 => list(2..4).prop_map(|l| format!("{{ triangular = [{l}] }}")),
        1 => list(2..4).prop_map(|l| format!("{{ pert = [{l}] }}")),
        1 => (time(), time()).prop_map(|(m, p)| format!("{{ lognormal = {{ median = {m}, p90 = {p} }} }}")),
        1 => list(0..5).prop_map(|l| format!("{{ empirical = [{l}] }}")),
        1 => (one_of(&["fixed", "normal", "uniform"]), time()).prop_map(|(k, t)| format!("{{ {k} = {t} }}")),
    ]
}

/// A reference to a step: usually one that exists.
fn step_ref() -> impl Strategy<Value = String> {
    prop_oneof![6 => one_of(&IDS), 1 => one_of(&["nope", "", "A", "a.b"])].prop_map(|s| format!("\"{s}\""))
}

fn after() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        3 => step_ref(),
        1 => (step_ref(), one_of(&["\"start\"", "\"finish\"", "\"start\"", "\"middle\""]), duration())
            .prop_map(|(s, f, l)| format!("{{ step = {s}, from = {f}, lag = {l} }}")),
        1 => (step_ref(), time()).prop_map(|(s, l)| format!("{{ step = {s}, lag = {l} }}")),
    ];
    prop::collection::vec(entry, 0..4).prop_map(|v| format!("after = [{}]", v.join(", ")))
}

/// A float (a probability, a share, a size): right type, mostly; the value
/// in range or not.
fn float() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => one_of(&["0.0", "0.1", "0.5", "0.95", "1.0", "2.5", "1000.0"]),
        2 => one_of(&["-0.5", "1.5", "-1.0", "1e300", "nan", "-inf", "inf", "5e-324"]),
        1 => one_of(&["\"0.5\"", "[0.1, 0.9]", "1"]),
    ]
}

/// An integer (a count, an attempt budget, rows): right type, mostly.
fn int() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => one_of(&["0", "1", "2", "3", "8", "77", "1000", "5000000"]),
        2 => one_of(&["-1", "4294967296", "9223372036854775807", "-9223372036854775808", "10000000000000"]),
        1 => one_of(&["1.5", "\"3\"", "true"]),
    ]
}

/// `key = value` lines: each key with its chance of being there (a
/// required key nearly always, so that most cases pass the TOML model and
/// reach the validator), and now and then a key the section does not know.
fn fields(known: Vec<(&'static str, f64, BoxedStrategy<String>)>) -> impl Strategy<Value = String> {
    let picks: Vec<BoxedStrategy<Option<String>>> = known
        .into_iter()
        .map(|(k, p, v)| prop::option::weighted(p, v.prop_map(move |v| format!("{k} = {v}\n"))).boxed())
        .collect();
    (picks, prop::option::weighted(0.01, (one_of(&["colour", "step", "id2"]), int()))).prop_map(|(lines, extra)| {
        let mut text: String = lines.into_iter().flatten().collect();
        if let Some((k, v)) = extra {
            text.push_str(&format!("{k} = {v}\n"));
        }
        text
    })
}

fn step() -> impl Strategy<Value = String> {
    let id = prop_oneof![6 => one_of(&IDS), 1 => one_of(&["", "bad id", "a"])];
    let body = fields(vec![
        ("name", 0.35, one_of(&["\"Step\"", "\"\"", "\"é \\\" quoted\""]).boxed()),
        ("parent", 0.35, step_ref().boxed()),
        ("duration", 0.7, duration().boxed()),
        ("finish_lag", 0.35, time().boxed()),
        ("downtime", 0.35, one_of(&["\"begins\"", "\"ends\"", "\"begins\"", "\"ends\"", "\"both\""]).boxed()),
        ("per_gb", 0.35, duration().boxed()),
        ("per_million_rows", 0.35, duration().boxed()),
        ("rows_of", 0.35, one_of(&["[\"T\"]", "[\"nope\"]", "[]"]).boxed()),
        (
            "data",
            0.35,
            one_of(&[
                "\"copy\"",
                "\"attach\"",
                "\"upgrade\"",
                "\"restore-point\"",
                "\"validate\"",
                "[\"copy\", \"validate\"]",
                "\"bogus\"",
            ])
            .boxed(),
        ),
        ("replication", 0.35, one_of(&["\"snapshot\"", "\"no-pk-tables\"", "\"caught-up\"", "\"nope\""]).boxed()),
        ("records_status", 0.35, one_of(&["true", "false"]).boxed()),
    ]);
    (prop::option::weighted(0.99, id), body, prop::option::weighted(0.6, after())).prop_map(|(id, body, after)| {
        let mut text = String::from("\n[[step]]\n");
        if let Some(id) = id {
            text.push_str(&format!("id = \"{id}\"\n"));
        }
        text.push_str(&body);
        if let Some(after) = after {
            text.push_str(&after);
            text.push('\n');
        }
        text
    })
}

const POLICIES: [&str; 4] = ["resume", "again", "back", "stop"];

fn policy_ref() -> impl Strategy<Value = String> {
    prop_oneof![6 => one_of(&POLICIES), 1 => one_of(&["nope", "abort", ""])].prop_map(|s| format!("\"{s}\""))
}

fn fault() -> impl Strategy<Value = String> {
    let catalog = one_of(&[
        "\"dvt-mrprocessservice\"",
        "\"ttscommit\"",
        "\"package-deployment-failed\"",
        "\"runbook-step-failed\"",
        "\"snapshot-waiting\"",
        "\"record-counts-differ\"",
        "\"bogus\"",
    ]);
    let body = fields(vec![
        ("catalog", 0.8, catalog.boxed()),
        ("steps", 0.99, prop::collection::vec(step_ref(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))).boxed()),
        ("probability", 0.35, float().boxed()),
        ("at", 0.35, (float(), float()).prop_map(|(a, b)| format!("[{a}, {b}]")).boxed()),
        ("persistent", 0.35, one_of(&["true", "false"]).boxed()),
        ("outcome", 0.35, one_of(&["\"failed\"", "\"unknown\"", "\"maybe\""]).boxed()),
        ("recovery", 0.7, policy_ref().boxed()),
        ("message", 0.35, one_of(&["\"it broke\"", "\"\""]).boxed()),
    ]);
    (one_of(&["f1", "f2", "f1", ""]), body).prop_map(|(id, body)| format!("\n[[fault]]\nid = \"{id}\"\n{body}"))
}

fn policy(name: &'static str) -> impl Strategy<Value = String> {
    let action = one_of(&[
        "\"resume\"",
        "\"retry\"",
        "\"rerun\"",
        "\"rollback-package\"",
        "\"rollback\"",
        "\"cancel\"",
        "\"abort\"",
        "\"pray\"",
    ]);
    let body = fields(vec![
        ("action", 0.99, action.boxed()),
        ("reaction", 0.35, duration().boxed()),
        ("duration", 0.7, duration().boxed()),
        ("fix", 0.35, duration().boxed()),
        ("verify", 0.35, duration().boxed()),
        ("max_attempts", 0.35, int().boxed()),
        ("then", 0.35, policy_ref().boxed()),
        ("deadline", 0.35, time().boxed()),
        ("past_deadline", 0.35, one_of(&["\"fix-forward\"", "\"abort\"", "\"again\"", "\"x\""]).boxed()),
        ("from", 0.35, step_ref().boxed()),
    ]);
    body.prop_map(move |b| format!("\n[recovery.{name}]\n{b}"))
}

fn header() -> impl Strategy<Value = String> {
    let scenario = fields(vec![
        ("window", 0.35, time().boxed()),
        ("window_confidence", 0.35, float().boxed()),
        ("start", 0.35, one_of(&["\"2026-12-05T18:00:00\"", "\"yesterday\"", "\"2026-02-30T00:00:00\""]).boxed()),
        ("description", 0.35, one_of(&["\"d\"", "\"\"\"\nmulti\nline\"\"\""]).boxed()),
    ]);
    let table = (one_of(&["\"T\"", "\"U\"", "\"T\""]), int(), int(), one_of(&["true", "false"]))
        .prop_map(|(n, r, c, pk)| format!("{{ name = {n}, rows = {r}, changes_per_hour = {c}, primary_key = {pk} }}"));
    let database = fields(vec![
        ("size_gb", 0.35, float().boxed()),
        ("tables", 0.35, prop::collection::vec(table, 0..3).prop_map(|v| format!("[{}]", v.join(", "))).boxed()),
        (
            "collation",
            0.35,
            one_of(&["\"SQL_Latin1_General_CP1_CI_AS\"", "\"Danish_Norwegian_CI_AS\"", "\"\""]).boxed(),
        ),
    ]);
    let replication = fields(vec![
        ("max_bcp_threads", 0.35, int().boxed()),
        ("publishers", 0.35, int().boxed()),
        ("snapshot_delay", 0.35, time().boxed()),
        ("bcp_per_million_rows", 0.95, duration().boxed()),
        ("apply_per_million_changes", 0.95, duration().boxed()),
        ("resource_use", 0.35, float().boxed()),
        ("busy_slowdown", 0.35, float().boxed()),
        ("source_offline", 0.35, step_ref().boxed()),
    ]);
    let gate = || one_of(&["true", "false", "\"n/a\"", "{ done = true, owner = \"me\" }", "\"maybe\""]).boxed();
    let readiness = fields(vec![
        ("ax2012", 0.35, one_of(&["true", "false"]).boxed()),
        ("integration-tests", 0.35, gate()),
        ("cutover-plan", 0.35, gate()),
        ("mock-cutover", 0.35, gate()),
        ("licences", 0.35, gate()),
    ]);
    let upgrade = fields(vec![
        ("from", 0.35, one_of(&["\"ax2012\"", "\"7.0\"", "\"7.3\"", "\"8.x\"", "\"9\""]).boxed()),
        ("to", 0.35, one_of(&["\"8.x\"", "\"platform\"", "\"7.1\"", "\"ax2012\""]).boxed()),
        ("platform_only", 0.35, one_of(&["true", "false"]).boxed()),
        ("customised_platform_models", 0.35, one_of(&["true", "false"]).boxed()),
    ]);
    let section = |name: &'static str, body: BoxedStrategy<String>| {
        prop::option::weighted(0.3, body).prop_map(move |b| b.map(|b| format!("\n[{name}]\n{b}")).unwrap_or_default())
    };
    (
        scenario,
        section("database", database.boxed()),
        section("replication", replication.boxed()),
        section("readiness", readiness.boxed()),
        section("upgrade", upgrade.boxed()),
    )
        .prop_map(|(s, d, r, g, u)| format!("[scenario]\nname = \"fuzzed\"\n{s}{d}{r}{g}{u}"))
}

fn scenario_text() -> impl Strategy<Value = String> {
    let policies = (policy("resume"), policy("again"), policy("back"), policy("stop"), any::<u8>()).prop_map(
        |(a, b, c, d, keep)| {
            [a, b, c, d].into_iter().enumerate().filter(|(i, _)| keep >> i & 1 == 1).map(|(_, p)| p).collect::<String>()
        },
    );
    (header(), prop::collection::vec(step(), 1..8), prop::collection::vec(fault(), 0..3), policies)
        .prop_map(|(h, steps, faults, policies)| format!("{h}{}{}{policies}", steps.concat(), faults.concat()))
}

/// Numbers from which a sound plan is built: per step (parent pick,
/// dependency bits, duration kind, lag kind); per fault (step pick,
/// probability pick, flags, policy pick); per policy (action, budget,
/// successor, flags).
type Genes = (Vec<(u8, u8, u8, u8)>, Vec<(u8, u8, u8, u8)>, Vec<(u8, u8, u8, u8)>);

/// A plan that validates, built from genes: parents are earlier steps, a
/// step waits only for earlier siblings (so no cycle), a group has no
/// duration of its own, downtime begins at the first top-level step and
/// ends at the last, which waits for it.
fn sound_plan(genes: &Genes) -> String {
    let (steps, faults, policies) = genes;
    let n = steps.len();
    let parent: Vec<Option<usize>> =
        steps.iter().enumerate().map(|(i, g)| (i > 0 && g.0 % 4 == 0).then(|| g.0 as usize % i)).collect();
    let group: Vec<bool> = (0..n).map(|i| parent.contains(&Some(i))).collect();
    let roots: Vec<usize> = (0..n).filter(|i| parent[*i].is_none()).collect();
    let leaves: Vec<usize> = (0..n).filter(|i| !group[*i]).collect();
    let mut t = String::from("[scenario]\nname = \"sound\"\nwindow = \"8h\"\nwindow_confidence = 0.9\n");
    for (i, g) in steps.iter().enumerate() {
        t.push_str(&format!("\n[[step]]\nid = \"s{i}\"\n"));
        if let Some(p) = parent[i] {
            t.push_str(&format!("parent = \"s{p}\"\n"));
        }
        let mut after: Vec<String> = (0..i)
            .filter(|j| parent[*j] == parent[i] && g.1 >> (j % 8) & 1 == 1)
            .map(|j| match g.3 % 3 {
                0 => format!("\"s{j}\""),
                1 => format!("{{ step = \"s{j}\", lag = \"{}m\" }}", g.3 % 7),
                _ => format!("{{ step = \"s{j}\", from = \"start\", lag = \"{}s\" }}", g.3 % 50),
            })
            .collect();
        let downtime = roots.len() >= 2 && (i == roots[0] || i == roots[roots.len() - 1]);
        if downtime && i != roots[0] && !after.iter().any(|a| a.contains(&format!("\"s{}\"", roots[0]))) {
            after.push(format!("\"s{}\"", roots[0]));
        }
        if !after.is_empty() {
            t.push_str(&format!("after = [{}]\n", after.join(", ")));
        }
        if downtime {
            t.push_str(if i == roots[0] { "downtime = \"begins\"\n" } else { "downtime = \"ends\"\n" });
        }
        let m = 1 + u32::from(g.2 / 8);
        if group[i] {
            if g.2 % 2 == 0 {
                t.push_str(&format!("finish_lag = \"{m}m\"\n"));
            }
        } else {
            t.push_str(&match g.2 % 6 {
                0 => format!("duration = \"{m}m\"\n"),
                1 => format!("duration = {{ uniform = [\"{m}m\", \"{}m\"] }}\n", m + 5),
                2 => format!("duration = {{ triangular = [\"{m}m\", \"{}m\", \"{}h\"] }}\n", m + 1, m),
                3 => format!("duration = {{ pert = [\"{m}s\", \"{m}m\", \"{m}h\"] }}\n"),
                4 => format!("duration = {{ lognormal = {{ median = \"{m}m\", p90 = \"{}m\" }} }}\n", 2 * m),
                _ => format!("duration = {{ empirical = [\"{m}m\", \"{}m\", \"1h\"] }}\n", m + 3),
            });
        }
    }
    let catalog = ["dvt-mrprocessservice", "ttscommit", "package-deployment-failed", "runbook-step-failed"];
    for (k, f) in faults.iter().enumerate() {
        if policies.is_empty() {
            break;
        }
        let step = leaves[f.0 as usize % leaves.len()];
        t.push_str(&format!(
            "\n[[fault]]\nid = \"f{k}\"\ncatalog = \"{}\"\nsteps = [\"s{step}\"]\nprobability = {}\nat = [0.1, 0.9]\npersistent = {}\noutcome = \"{}\"\nrecovery = \"p{}\"\n",
            catalog[f.2 as usize % catalog.len()],
            [0.0, 0.1, 0.5, 1.0][f.1 as usize % 4],
            f.2 & 4 != 0,
            if f.2 & 8 != 0 { "unknown" } else { "failed" },
            f.3 as usize % policies.len(),
        ));
    }
    for (k, p) in policies.iter().enumerate() {
        let action = ["resume", "retry", "rollback", "cancel", "abort"][p.0 as usize % 5];
        let retries = matches!(action, "resume" | "retry");
        t.push_str(&format!("\n[recovery.p{k}]\naction = \"{action}\"\n"));
        if action != "abort" {
            t.push_str("reaction = { triangular = [\"1m\", \"5m\", \"20m\"] }\n");
            // A fix is waited for only before the step is tried again.
            if p.3 & 1 != 0 && retries {
                t.push_str("fix = \"30m\"\n");
            }
        }
        // A fault whose outcome may be unknown needs its policy to verify.
        t.push_str("verify = \"10m\"\n");
        if matches!(action, "rollback" | "cancel") {
            t.push_str("duration = { pert = [\"1h\", \"2h\", \"4h\"] }\n");
        }
        if action == "rollback" {
            t.push_str("deadline = \"36h\"\npast_deadline = \"fix-forward\"\n");
        }
        if retries {
            t.push_str(&format!("max_attempts = {}\n", 1 + p.1 % 4));
            if p.2 % 3 == 0 && k + 1 < policies.len() {
                t.push_str(&format!("then = \"p{}\"\n", k + 1));
            }
        }
    }
    if t.contains("past_deadline = \"fix-forward\"") {
        t.push_str("\n[recovery.fix-forward]\naction = \"resume\"\nreaction = \"30m\"\nverify = \"10m\"\n");
    }
    t
}

/// One targeted mistake in a sound plan (or none), so that a single
/// validator check is met in a file that is otherwise right.
fn spoil(text: String, how: Option<u8>) -> String {
    let Some(how) = how else { return text };
    match how % 9 {
        0 => text.replacen("after = [\"s0\"", "after = [\"s99\"", 1),
        1 => text.replacen("id = \"s1\"", "id = \"s0\"", 1),
        2 => {
            text + "\n[[step]]\nid = \"x\"\nafter = [\"y\"]\nduration = \"1m\"\n\n[[step]]\nid = \"y\"\nafter = [{ step = \"x\", from = \"start\" }]\nduration = \"1m\"\n"
        }
        3 => text.replacen("m\"\n", "\"\n", 1),
        4 => text.replacen("probability = ", "probability = 1", 1),
        5 => text.replacen("downtime = \"ends\"\n", "", 1),
        6 => text.replacen("recovery = \"p", "recovery = \"q", 1),
        7 => text.replacen("parent = \"s", "parent = \"s1", 1),
        _ => text.replacen("uniform = [\"", "uniform = [\"9", 1),
    }
}

fn sound_or_spoilt() -> impl Strategy<Value = String> {
    let g = (
        prop::collection::vec(any::<(u8, u8, u8, u8)>(), 1..10),
        prop::collection::vec(any::<(u8, u8, u8, u8)>(), 0..4),
        prop::collection::vec(any::<(u8, u8, u8, u8)>(), 0..4),
    );
    (g, prop::option::of(any::<u8>())).prop_map(|(g, how)| spoil(sound_plan(&g), how))
}

/// Scenarios from the grammar: half wild (every key, any value), half
/// sound plans with at most one mistake.
fn scenarios() -> impl Strategy<Value = String> {
    prop_oneof![scenario_text(), sound_or_spoilt()]
}

/// Whether `text` has `fuzz.toml:LINE:COL:`.
fn located(text: &str) -> bool {
    text.match_indices("fuzz.toml:").any(|(i, m)| {
        let mut parts = text[i + m.len()..].splitn(3, ':');
        let (line, col) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        [line, col].iter().all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    })
}

fn parses_or_locates(text: &str) -> Option<Scenario> {
    match Scenario::parse(text, "fuzz.toml") {
        Ok(scenario) => Some(scenario),
        Err(e) => {
            let n_lines = text.lines().count() as u32 + 1;
            assert!(!e.diagnostics.is_empty(), "an error with no diagnostic for:\n{text}");
            for d in &e.diagnostics {
                assert!(d.line >= 1 && d.line <= n_lines && d.col >= 1, "{}:{} out of the file: {e}", d.line, d.col);
                assert!(!d.message.is_empty(), "{e}");
            }
            assert!(located(&e.to_string()), "not located: {e}");
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_scenarios_validate_or_give_located_errors(text in scenarios(), seed in any::<u64>()) {
        let Some(scenario) = parses_or_locates(&text) else { return Ok(()) };
        // What validates runs: bounded, to an outcome or a limit error.
        let plan = Plan::new(&scenario, rehearse_sim::digest(&text));
        let limits = Limits { max_events: 20_000, ..Limits::default() };
        for mode in [Mode::Median, Mode::Random] {
            let opts = RunOptions { limits, ..RunOptions::new(seed, mode) };
            let _ = Simulator::new(&plan).run(&opts, &mut NullSink);
        }
    }
}

#[test]
fn the_grammar_reaches_valid_scenarios_and_the_validator() {
    // A generator that only ever produced TOML errors would test nothing
    // past the syntax: over a fixed sample, some cases validate and some
    // fail validation proper (errors on steps, not on the TOML).
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..200 {
        let text = scenarios().new_tree(&mut runner).expect("a case").current();
        match Scenario::parse(&text, "fuzz.toml") {
            Ok(_) => valid += 1,
            Err(e) if e.diagnostics.iter().any(|d| d.step.is_some()) => invalid += 1,
            Err(_) => {}
        }
    }
    assert!(valid >= 20 && invalid >= 50, "{valid} valid, {invalid} with step errors out of 200");
}
