//! Property tests: random valid plans never break an invariant; random,
//! truncated or mutated input never panics and always gives a located error.

use proptest::prelude::*;
use rehearse_core::{Mode, RunState, Scenario};
use rehearse_sim::{FaultMode, JsonlWriter, MemorySink, Plan, RunOptions, Simulator, Tee, read_jsonl};

use crate::support;

/// Random numbers from which a plan is built: (parent pick, dependency
/// bits, duration kind and size, lag).
pub(crate) type Genes = Vec<(u32, u32, u32, u32)>;

/// Builds a valid scenario from genes: parents are earlier steps, and a
/// step depends only on earlier siblings (so no cycle can form); downtime,
/// when there are two top-level steps or more, begins at the first and ends
/// at the last, which is made to wait for the first.
pub(crate) fn plan_from(genes: &Genes) -> String {
    let n = genes.len();
    let parent: Vec<Option<usize>> = genes
        .iter()
        .enumerate()
        .map(|(i, g)| if i > 0 && g.0 % 5 < 2 { Some(g.0 as usize % i) } else { None })
        .collect();
    let has_children: Vec<bool> = (0..n).map(|i| parent.contains(&Some(i))).collect();
    let roots: Vec<usize> = (0..n).filter(|i| parent[*i].is_none()).collect();
    // Two tables; a first step that takes a restore point and attaches the
    // source (every top-level step waits for it); one leaf converts the data.
    let mut text = String::from(
        "[scenario]\nname = \"generated\"\n[database]\ntables = [{ name = \"A\", rows = 1000 }, { name = \"B\", rows = 77 }]\n\n[[step]]\nid = \"load\"\nduration = \"5m\"\ndata = [\"restore-point\", \"attach\"]\n",
    );
    let upgrade_leaf = (0..n).filter(|i| !has_children[*i]).nth(genes[0].3 as usize % 3);
    for (i, g) in genes.iter().enumerate() {
        text.push_str(&format!("\n[[step]]\nid = \"s{i}\"\n"));
        if let Some(p) = parent[i] {
            text.push_str(&format!("parent = \"s{p}\"\n"));
        }
        let mut after: Vec<String> = (0..i)
            .filter(|j| parent[*j] == parent[i] && g.1 >> (j % 32) & 1 == 1)
            .map(|j| match (g.3 % 4, g.3 / 4 % 3) {
                (0, _) => format!("\"s{j}\""),
                (1, lag) => format!("{{ step = \"s{j}\", lag = \"{}s\" }}", lag * 7),
                (_, lag) => format!("{{ step = \"s{j}\", from = \"start\", lag = \"{}ms\" }}", lag * 250),
            })
            .collect();
        let downtime = roots.len() >= 2 && (i == roots[0] || i == *roots.last().unwrap());
        if downtime && i != roots[0] && !after.iter().any(|a| a.contains("\"s0\"")) {
            after.push("\"s0\"".into());
        }
        if parent[i].is_none() {
            after.push("\"load\"".into());
        }
        if !after.is_empty() {
            text.push_str(&format!("after = [{}]\n", after.join(", ")));
        }
        if downtime {
            text.push_str(if i == roots[0] { "downtime = \"begins\"\n" } else { "downtime = \"ends\"\n" });
        }
        if has_children[i] {
            if g.2 % 3 == 0 {
                text.push_str(&format!("finish_lag = \"{}s\"\n", g.2 % 50));
            }
            continue;
        }
        let m = 1 + g.2 / 8 % 120; // minutes
        let d = match g.2 % 8 {
            0 => "\"instant\"".to_string(),
            1 => format!("\"{m}m\""),
            2 => format!("{{ uniform = [\"{m}m\", \"{}m\"] }}", m * 2),
            3 => format!("{{ triangular = [\"{m}m\", \"{m}m\", \"{}m\"] }}", m * 3),
            4 => format!("{{ pert = [\"{m}m\", \"{}m\", \"{}m\"] }}", m + 1, m * 4),
            5 => format!("{{ lognormal = {{ median = \"{m}m\", p90 = \"{}m\" }} }}", m * 2),
            6 => format!("{{ empirical = [\"{m}m\", \"{}m\", \"{}m\"] }}", m + 5, m * 2),
            _ => format!("\"{}ms\"", 1 + g.2 % 999),
        };
        text.push_str(&format!("duration = {d}\n"));
        if upgrade_leaf == Some(i) {
            text.push_str("data = [\"upgrade\", \"validate\"]\n");
        }
    }
    // Faults: each strikes one to three leaf steps and has its own policy.
    let leaves: Vec<usize> = (0..n).filter(|i| !has_children[*i]).collect();
    text.push_str("\n[recovery.fallback]\naction = \"resume\"\nreaction = \"10m\"\nmax_attempts = 4\n");
    for (k, g) in genes.iter().take(3).enumerate() {
        let first = leaves[g.1 as usize % leaves.len()];
        let action = g.2 % 6;
        let targets: Vec<usize> = if action == 1 {
            vec![first] // rerun: from the step itself or the step holding it
        } else {
            leaves.iter().copied().filter(|l| *l == first || (l + g.0 as usize).is_multiple_of(4)).take(3).collect()
        };
        let steps: Vec<String> = targets.iter().map(|t| format!("\"s{t}\"")).collect();
        let persistent = g.3 % 3 == 0;
        let unknown = g.3 % 5 == 0;
        text.push_str(&format!(
            "\n[[fault]]\nid = \"f{k}\"\nmessage = \"fault {k}\"\nsteps = [{}]\nprobability = {}\npersistent = {persistent}\n{}recovery = \"p{k}\"\n",
            steps.join(", "),
            [0.05, 0.3, 0.7, 1.0][(g.0 % 4) as usize],
            if unknown { "outcome = \"unknown\"\n" } else { "" },
        ));
        let verify = if unknown { "verify = \"5m\"\n" } else { "" };
        let fix = if g.3 % 2 == 0 { "fix = { uniform = [\"5m\", \"1h\"] }\n" } else { "" };
        let policy = match action {
            0 => format!(
                "action = \"{}\"\nreaction = {{ triangular = [\"1m\", \"5m\", \"30m\"] }}\nmax_attempts = {}\n{fix}",
                if g.0 % 2 == 0 { "resume" } else { "retry" },
                1 + g.3 % 4
            ),
            1 => format!(
                "action = \"rerun\"\nfrom = \"s{}\"\nreaction = \"5m\"\nmax_attempts = 3\nthen = \"fallback\"\n{fix}",
                parent[first].unwrap_or(first)
            ),
            2 => format!("action = \"rollback-package\"\nreaction = \"5m\"\nduration = \"20m\"\nmax_attempts = 2\n{fix}"),
            3 => "action = \"rollback\"\nreaction = \"5m\"\nduration = { uniform = [\"30m\", \"2h\"] }\n".to_string(),
            4 => "action = \"rollback\"\nreaction = \"5m\"\nduration = \"1h\"\ndeadline = \"1h\"\npast_deadline = \"fallback\"\n".to_string(),
            _ => "action = \"abort\"\n".to_string(),
        };
        text.push_str(&format!("[recovery.p{k}]\n{policy}{verify}"));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_valid_plans_with_faults_never_violate_an_invariant(genes in prop::collection::vec(any::<(u32, u32, u32, u32)>(), 1..30), seed in any::<u64>()) {
        let text = plan_from(&genes);
        let s = Scenario::parse(&text, "generated.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let mut sim = Simulator::new(&plan);
        for (mode, faults) in [(Mode::Random, FaultMode::Swarm), (Mode::Random, FaultMode::Probabilistic), (Mode::Median, FaultMode::Off)] {
            let mut memory = MemorySink::new();
            let mut log = JsonlWriter::new(Vec::new(), &s);
            let opts = RunOptions::new(seed, mode).with_faults(faults);
            let summary = sim.run(&opts, &mut Tee(&mut memory, &mut log)).unwrap();
            let state = RunState::replay(&s, &memory.records);
            prop_assert!(state.violations().is_empty(), "{:?}\n{text}", state.violations());
            prop_assert!(state.finished.is_some());
            if summary.outcome == rehearse_core::Outcome::Committed {
                prop_assert!(state.steps.iter().all(|st| st.status == rehearse_core::state::StepStatus::Completed));
            }
            // The recorded fault schedule, scripted, replays the run exactly.
            if mode == Mode::Random {
                let mut again = JsonlWriter::new(Vec::new(), &s);
                let scripted = RunOptions::new(seed, mode).with_faults(FaultMode::Scripted(summary.injected.clone()));
                sim.run(&scripted, &mut again).unwrap();
                prop_assert_eq!(again.hash(), log.hash());
            }
            prop_assert_eq!(state.downtime(), summary.downtime);
            prop_assert_eq!(state.clock, summary.end);
            let bytes = log.into_inner();
            let read = read_jsonl(std::str::from_utf8(&bytes).unwrap(), &s).unwrap();
            prop_assert_eq!(RunState::replay(&s, &read), state);
            // Every group spans its sub-steps (in a committed run).
            for (i, st) in s.steps.iter().enumerate().filter(|_| summary.outcome == rehearse_core::Outcome::Committed) {
                for c in &st.children {
                    prop_assert!(summary.steps[i].start <= summary.steps[c.index()].start);
                    prop_assert!(summary.steps[i].end >= summary.steps[c.index()].end);
                }
            }
        }
    }

    /// Every recovery a run chooses is one `check` calls possible, over
    /// plans whose policies hand over along `then` and `past_deadline`
    /// chains (spent budgets, late rollbacks, rollbacks handed over to).
    #[test]
    fn reached_recoveries_are_possible(genes in prop::collection::vec(any::<(u32, u32, u32, u32)>(), 1..20), seed in any::<u64>(), chain in 0u32..27) {
        let text = chained(&plan_from(&genes), chain);
        let s = Scenario::parse(&text, "generated.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let possible = rehearse_sim::check::possible_paths(&s);
        let mut sim = Simulator::new(&plan);
        for (run, faults) in [FaultMode::Swarm, FaultMode::Probabilistic].into_iter().enumerate() {
            for sink_events in [true, false] {
                let opts = RunOptions { run: run as u64, ..RunOptions::new(seed, Mode::Random).with_faults(faults.clone()) };
                let summary = if sink_events {
                    sim.run(&opts, &mut MemorySink::new()).unwrap()
                } else {
                    sim.run(&opts, &mut rehearse_sim::NullSink).unwrap()
                };
                for r in &summary.recoveries {
                    prop_assert!(possible.contains(r), "{r:?} reached, not possible: {possible:?}\n{text}");
                }
            }
        }
    }

    /// Straight runs are the engine's: over random plans with no data
    /// effects (so the shortcut is open to them), a run with a silent sink
    /// (straight when it can be, and in debug builds shadowed by the engine)
    /// has the summary of the same run through the agenda.
    #[test]
    fn straight_runs_are_the_engines_on_random_plans(genes in prop::collection::vec(any::<(u32, u32, u32, u32)>(), 1..30), seed in any::<u64>(), chain in 0u32..27) {
        let text: String = chained(&plan_from(&genes), chain).lines().filter(|l| !l.starts_with("data = ")).map(|l| format!("{l}\n")).collect();
        let s = Scenario::parse(&text, "generated.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let (mut engine, mut silent) = (Simulator::new(&plan), Simulator::new(&plan));
        for run in 0..8 {
            let mode = if run == 0 { Mode::Median } else { Mode::Random };
            let faults = if run % 3 == 2 { FaultMode::Off } else { FaultMode::Probabilistic };
            let opts = RunOptions { run, ..RunOptions::new(seed, mode).with_faults(faults) };
            let want = engine.run(&opts, &mut MemorySink::new()).unwrap();
            let got = silent.run(&opts, &mut rehearse_sim::NullSink).unwrap();
            prop_assert_eq!(got, want, "run {}\n{}", run, text);
        }
    }

    #[test]
    fn garbage_never_panics_and_errors_are_located(text in "\\PC{0,400}") {
        located_or_valid(&text);
    }

    #[test]
    fn toml_like_garbage_never_panics(text in "(\\[\\[?step\\]\\]?|\\[scenario\\]|name|id|after|duration|parent|=|\"[a-z0-9 ]{0,6}\"|[0-9]{1,4}|[a-z_]{1,8}|\\{|\\}|\\[|\\]|,|\n| ){0,80}") {
        located_or_valid(&text);
    }

    #[test]
    fn truncated_or_mutated_scenarios_never_panic(cut in 0usize..20_000, at in 0usize..20_000, len in 0usize..40, byte in any::<u8>(), kind in 0u8..4) {
        let (text, _) = support::load(support::DATA_UPGRADE);
        located_or_valid(&mutate(&text, kind, cut, at, len, byte));
    }
}

/// `text` (from `plan_from`) with its fallback policy handing over along a
/// chain picked by `chain`: a spent budget to a rollback with a deadline,
/// past it to a resume with a small budget, then to another rollback or an
/// abort; the resumes and retries of the faults' own policies hand over to
/// the fallback.
fn chained(text: &str, chain: u32) -> String {
    let budget = 1 + chain % 3;
    let deadline = ["10m", "1h", "6h"][(chain / 3 % 3) as usize];
    let last = if (chain / 9).is_multiple_of(3) { "stop" } else { "rollback-anyway" };
    let mut out = text.replace(
        "[recovery.fallback]\naction = \"resume\"\nreaction = \"10m\"\nmax_attempts = 4\n",
        &format!(
            "[recovery.fallback]\naction = \"resume\"\nreaction = \"10m\"\nmax_attempts = {budget}\nthen = \"late-rollback\"\n\
             [recovery.late-rollback]\naction = \"rollback\"\nreaction = \"5m\"\nduration = \"1h\"\ndeadline = \"{deadline}\"\npast_deadline = \"last-resume\"\n\
             [recovery.last-resume]\naction = \"resume\"\nmax_attempts = {}\nthen = \"{last}\"\n\
             [recovery.rollback-anyway]\naction = \"rollback\"\nduration = \"2h\"\n\
             [recovery.stop]\naction = \"abort\"\n",
            1 + chain / 9 % 2
        ),
    );
    for k in 0..3 {
        for action in ["resume", "retry"] {
            let from = format!("[recovery.p{k}]\naction = \"{action}\"\n");
            out = out.replace(&from, &format!("{from}then = \"fallback\"\n"));
        }
    }
    out
}

/// Builds a toolkit cutover from genes: three tables (one without a primary
/// key), the toolkit's settings, the snapshot, the AOS going off some time
/// after the snapshot started (or before it), the no-PK copy, the wait for
/// the drain, the data upgrade and the users let back in; faults on the
/// replication steps and the upgrade with resume, retry, rerun, rollback or
/// abort.
fn replication_plan_from(g: &[(u32, u32, u32, u32); 4]) -> String {
    let rows = |x: u32| 1 + u64::from(x % 5_000_000);
    let mut text = format!(
        "[scenario]\nname = \"toolkit\"\n[database]\ntables = [\n  {{ name = \"A\", rows = {}, changes_per_hour = {} }},\n  {{ name = \"B\", rows = {}, changes_per_hour = {}, primary_key = false }},\n  {{ name = \"C\", rows = {}, changes_per_hour = {} }},\n]\n",
        rows(g[0].0),
        g[0].1 % 300_000,
        rows(g[0].2),
        g[0].3 % 1_000,
        rows(g[1].0),
        g[1].1 % 50_000,
    );
    let busy = g[1].2.is_multiple_of(3);
    text.push_str(&format!(
        "[replication]\nmax_bcp_threads = {}\npublishers = {}\nbcp_per_million_rows = {{ uniform = [\"1m\", \"{}m\"] }}\napply_per_million_changes = {{ triangular = [\"5m\", \"20m\", \"{}m\"] }}\nresource_use = {}\n{}",
        1 + g[1].2 % 8,
        1 + g[1].3 % 3,
        2 + g[2].0 % 30,
        21 + g[2].1 % 120,
        if busy { "0.95" } else { "0.5" },
        if busy { "busy_slowdown = 1.5\n" } else { "" },
    ));
    // The AOS goes off from the snapshot's start: at once (replication at
    // cutover) up to a week later (the weekend before).
    let lag_h = [0, 1, 3, 24, 168][(g[2].2 % 5) as usize];
    text.push_str(&format!(
        "[[step]]\nid = \"snapshot\"\nreplication = \"snapshot\"\n\
         [[step]]\nid = \"off\"\nafter = [{{ step = \"snapshot\", from = \"start\", lag = \"{lag_h}h\" }}]\ndowntime = \"begins\"\nduration = \"instant\"\n\
         [[step]]\nid = \"no-pk\"\nafter = [\"off\"]\nreplication = \"no-pk-tables\"\n\
         [[step]]\nid = \"drain\"\nafter = [\"no-pk\", \"snapshot\"]\nreplication = \"caught-up\"\ndata = \"validate\"\nduration = {{ uniform = [\"1m\", \"10m\"] }}\n\
         [[step]]\nid = \"upgrade\"\nafter = [\"drain\"]\ndata = \"upgrade\"\nduration = {{ lognormal = {{ median = \"2h\", p90 = \"5h\" }} }}\n\
         [[step]]\nid = \"users-in\"\nafter = [\"upgrade\"]\ndata = \"validate\"\ndowntime = \"ends\"\nduration = \"10m\"\n",
    ));
    let steps = ["snapshot", "no-pk", "drain", "upgrade"];
    for (k, (a, b, c, d)) in g.iter().enumerate().take(3) {
        let on = steps[(a % 4) as usize];
        let policy = match c % 6 {
            0 => "action = \"resume\"\nreaction = \"10m\"\nmax_attempts = 3\n".to_string(),
            1 => "action = \"retry\"\nreaction = { uniform = [\"5m\", \"30m\"] }\nmax_attempts = 3\n".to_string(),
            2 => {
                format!("action = \"rerun\"\nfrom = \"{on}\"\nreaction = \"5m\"\nmax_attempts = 2\nthen = \"p{k}r\"\n")
            }
            3 => "action = \"rollback\"\nreaction = \"5m\"\nduration = \"1h\"\n".to_string(),
            4 => format!("action = \"retry\"\nreaction = \"5m\"\nmax_attempts = {}\nthen = \"p{k}r\"\n", 1 + d % 2),
            _ => "action = \"abort\"\n".to_string(),
        };
        text.push_str(&format!(
            "[[fault]]\nid = \"f{k}\"\nmessage = \"fault {k}\"\nsteps = [\"{on}\"]\nprobability = {}\nrecovery = \"p{k}\"\n[recovery.p{k}]\n{policy}[recovery.p{k}r]\naction = \"rollback\"\nreaction = \"5m\"\nduration = \"30m\"\n",
            [0.1, 0.5, 1.0][(b % 3) as usize],
        ));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Over random toolkit cutovers and seeds: no invariant breaks (a
    /// committed run's target holds every row the users wrote; a rollback
    /// keeps them in the source), the fault schedule replays exactly, and
    /// the SQLite model gives the memory model's stream byte for byte.
    #[test]
    fn random_toolkit_cutovers_keep_the_users_changes(g in any::<[(u32, u32, u32, u32); 4]>(), seed in any::<u64>()) {
        let text = replication_plan_from(&g);
        let s = Scenario::parse(&text, "toolkit.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let mut sim = Simulator::new(&plan);
        let mut sqlite = Simulator::with_backend(&plan, Box::new(rehearse_sim::backend::SqliteBackend::new().unwrap()));
        for faults in [FaultMode::Swarm, FaultMode::Probabilistic] {
            let mut memory = MemorySink::new();
            let mut log = JsonlWriter::new(Vec::new(), &s);
            let opts = RunOptions::new(seed, Mode::Random).with_faults(faults);
            let summary = sim.run(&opts, &mut Tee(&mut memory, &mut log)).unwrap();
            let state = RunState::replay(&s, &memory.records);
            prop_assert!(state.violations().is_empty(), "{:?}\n{text}", state.violations());
            if summary.outcome == rehearse_core::Outcome::Committed {
                prop_assert!(state.backlog.iter().all(|b| *b == 0), "{:?}\n{text}", state.backlog);
            }
            let mut again = JsonlWriter::new(Vec::new(), &s);
            let scripted = RunOptions::new(seed, Mode::Random).with_faults(FaultMode::Scripted(summary.injected.clone()));
            sim.run(&scripted, &mut again).unwrap();
            prop_assert_eq!(again.hash(), log.hash());
            let mut other = JsonlWriter::new(Vec::new(), &s);
            sqlite.run(&opts, &mut other).unwrap();
            prop_assert_eq!(other.hash(), log.hash(), "the SQLite model differs\n{}", text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_binary_exits_2_with_a_located_error_on_bad_input(cut in 0usize..20_000, at in 0usize..20_000, len in 1usize..40, byte in any::<u8>(), kind in 0u8..4) {
        let (text, _) = support::load(support::DATA_UPGRADE);
        let mutated = mutate(&text, kind, cut, at, len, byte);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mut.toml");
        std::fs::write(&path, mutated.as_bytes()).unwrap();
        let out = support::rehearse(&["run", path.to_str().unwrap()]);
        let err = support::stderr(&out);
        match out.status.code() {
            Some(0) => {}
            Some(2) => prop_assert!(has_location(&err, "mut.toml"), "no file:line:col in {err}"),
            other => prop_assert!(false, "exit {other:?}: {err}"),
        }
    }
}

/// One of: truncate, delete a range, insert a byte, overwrite a byte.
fn mutate(text: &str, kind: u8, cut: usize, at: usize, len: usize, byte: u8) -> String {
    let mut b = text.as_bytes().to_vec();
    let at = at % b.len();
    match kind {
        0 => b.truncate(cut % b.len()),
        1 => {
            let end = (at + len).min(b.len());
            b.drain(at..end);
        }
        2 => b.insert(at, byte),
        _ => b[at] = byte,
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn located_or_valid(text: &str) {
    if let Err(e) = Scenario::parse(text, "in.toml") {
        assert!(!e.diagnostics.is_empty());
        let n_lines = text.lines().count() as u32 + 1;
        for d in &e.diagnostics {
            assert!(d.line >= 1 && d.line <= n_lines.max(1), "line {} of {n_lines}: {e}", d.line);
            assert!(d.col >= 1);
            assert!(!d.message.is_empty());
        }
        assert!(has_location(&e.to_string(), "in.toml"), "{e}");
    }
}

/// Whether `text` has `file:LINE:COL:`.
fn has_location(text: &str, file: &str) -> bool {
    text.match_indices(&format!("{file}:")).any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let col = parts.next().unwrap_or("");
        !line.is_empty()
            && line.bytes().all(|c| c.is_ascii_digit())
            && !col.is_empty()
            && col.bytes().all(|c| c.is_ascii_digit())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// A committed run's final data is the same whether or not transient
    /// faults struck (the upgrade's work is committed unit by unit and
    /// resumed, never lost or done twice).
    #[test]
    fn transient_faults_never_change_the_committed_data(seed in any::<u64>(), which in 0u8..4) {
        let (text, s) = support::load("self-service-upgrade.toml");
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let mut sim = Simulator::new(&plan);
        let specs: &[&str] = match which {
            0 => &["dvt@prod-data-upgrade"],
            1 => &["ttscommit@prod-data-upgrade"],
            2 => &["dvt@prod-data-upgrade#1", "ttscommit@prod-data-upgrade#2"],
            _ => &["ttscommit@sandbox-data-upgrade", "dvt@prod-data-upgrade"],
        };
        let script = specs.iter().map(|x| rehearse_sim::script::parse_injection(x, &s).unwrap()).collect();
        let mut final_state = |faults: FaultMode| {
            let mut memory = MemorySink::new();
            let summary = sim.run(&RunOptions::new(seed, Mode::Random).with_faults(faults), &mut memory).unwrap();
            (summary.outcome, RunState::replay(&s, &memory.records))
        };
        let (clean_outcome, clean) = final_state(FaultMode::Off);
        let (faulty_outcome, faulty) = final_state(FaultMode::Scripted(script));
        prop_assert_eq!(clean_outcome, rehearse_core::Outcome::Committed);
        prop_assert!(faulty.violations().is_empty(), "{:?}", faulty.violations());
        if faulty_outcome == rehearse_core::Outcome::Committed {
            prop_assert_eq!(&faulty.tables, &clean.tables);
        }
    }
}
