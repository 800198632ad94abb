//! The scenario library: the go-live cutover and its replication, and the
//! replication model's validation.

use rehearse_core::{Event, Mode, Scenario};
use rehearse_sim::Plan;
use rehearse_sim::estimate::{EstimateOptions, estimate};

use crate::support::{load, parse, simulate};

const GO_LIVE: &str = "ax2012-go-live.toml";
/// The go-live scenario's snapshot, started the weekend before.
const WEEKEND_BEFORE: &str = r#"after = ["rep-distributor"]   # at cutover"#;

/// The go-live scenario with replication started at cutover: the snapshot
/// waits for the AOS to go off.
fn at_cutover() -> (String, Scenario) {
    let (text, _) = load(GO_LIVE);
    assert!(text.contains(WEEKEND_BEFORE), "the go-live scenario starts the snapshot after the distributor");
    let text = text.replace(WEEKEND_BEFORE, r#"after = ["rep-distributor", "aos-off"]   # at cutover"#);
    let s = Scenario::parse(&text, "at-cutover.toml").unwrap_or_else(|e| panic!("{e}"));
    (text, s)
}

#[test]
fn go_live_downtime_runs_from_aos_off_to_users_let_back_in() {
    let (text, s) = load(GO_LIVE);
    let (summary, sink) = simulate(&text, &s, 0, Mode::Median);
    let began: Vec<_> = sink
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::DowntimeBegan { step } => Some((r.at, s.step(step).id.as_str())),
            _ => None,
        })
        .collect();
    let ended: Vec<_> = sink
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::DowntimeEnded { step } => Some((r.at, s.step(step).id.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(began.len(), 1);
    assert_eq!(ended.len(), 1);
    assert_eq!(began[0].1, "aos-off");
    assert_eq!(ended[0].1, "users-in");
    let aos_off = s.find("aos-off").unwrap().index();
    let users_in = s.find("users-in").unwrap().index();
    assert_eq!(began[0].0, summary.steps[aos_off].start);
    assert_eq!(ended[0].0, summary.steps[users_in].end);
    assert_eq!(summary.downtime, summary.steps[users_in].end.since(summary.steps[aos_off].start));
}

#[test]
fn replication_started_the_weekend_before_shortens_the_downtime() {
    let (text, s) = load(GO_LIVE);
    let (cut_text, cut) = at_cutover();

    // The plan as written (medians): the snapshot is outside the downtime
    // the weekend before, inside it at cutover.
    let (before, _) = simulate(&text, &s, 0, Mode::Median);
    let (at, _) = simulate(&cut_text, &cut, 0, Mode::Median);
    let snapshot = s.find("rep-snapshot").unwrap().index();
    let aos_off = s.find("aos-off").unwrap().index();
    assert!(before.steps[snapshot].end < before.steps[aos_off].start);
    assert!(at.steps[snapshot].end > at.steps[aos_off].start);
    let snapshot_len = at.steps[snapshot].end.since(at.steps[snapshot].start);
    assert!(before.downtime.as_ms() + snapshot_len.as_ms() / 2 < at.downtime.as_ms(), "{before:?} vs {at:?}");

    // Over many runs, on the same seeds: the median downtime is shorter.
    let opts = EstimateOptions { runs: 400, seed: 1, threads: 2, fault_costs: false, ..Default::default() };
    let p50 = |text: &str, s: &Scenario| {
        let plan = Plan::new(s, rehearse_sim::digest(text));
        estimate(&plan, &opts, s.meta.window, &std::sync::atomic::AtomicU64::new(0)).unwrap().quantile(0.5)
    };
    let (weekend_before, at_cutover) = (p50(&text, &s), p50(&cut_text, &cut));
    assert!(weekend_before < at_cutover, "P50 {weekend_before} ms the weekend before, {at_cutover} ms at cutover");
}

/// A plan whose source changes faster than the distribution agent applies:
/// the backlog grows while the source is online and the cutover waits.
const BUSY: &str = r#"
[scenario]
name = "busy"
[database]
tables = [
  { name = "A", rows = 6_000_000, changes_per_hour = 2_000_000 },
  { name = "B", rows = 1_000_000, changes_per_hour = 0, primary_key = false },
]
[replication]
max_bcp_threads = 6
publishers = 1
bcp_per_million_rows = "6m"
apply_per_million_changes = "1h"
resource_use = 0.5
busy_slowdown = 2.0
[[step]]
id = "snapshot"
replication = "snapshot"
[[step]]
id = "off"
after = [{ step = "snapshot", from = "start", lag = "2h" }]
downtime = "begins"
duration = "instant"
[[step]]
id = "no-pk"
after = ["off"]
replication = "no-pk-tables"
[[step]]
id = "drain"
after = ["no-pk", "snapshot"]
replication = "caught-up"
[[step]]
id = "users-in"
after = ["drain"]
downtime = "ends"
duration = "instant"
"#;

#[test]
fn the_cutover_waits_for_the_backlog_written_while_the_source_was_online() {
    let s = parse(BUSY);
    let (summary, sink) = simulate(BUSY, &s, 0, Mode::Median);
    let h = 3_600_000;
    let at = |id: &str| summary.steps[s.find(id).unwrap().index()];
    // Snapshot: 6 M rows at 6 min per million per thread, 6 threads: 6 min.
    assert_eq!(at("snapshot").end.as_ms(), 6 * 60_000);
    // No primary key: 1 M rows, 1 min; the source went offline at 2 h.
    assert_eq!(at("no-pk").start.as_ms(), 2 * h);
    assert_eq!(at("no-pk").end.as_ms(), 2 * h + 60_000);
    // 2 h online at 2 M changes/h = 4 M changes, applied from the snapshot's
    // end at 1 M/h: drained 4 h after the snapshot ended.
    assert_eq!(at("drain").end.as_ms(), 6 * 60_000 + 4 * h);
    let backlog = sink.records.iter().find_map(|r| match r.event {
        Event::ReplicationBacklog { changes, .. } => Some(changes),
        _ => None,
    });
    // Applied by the drain's start (2 h 1 min - 6 min at 1 M/h): 1 916 667.
    assert_eq!(backlog, Some(4_000_000 - 1_916_667));

    // The data model holds the same replication: table A's source grows by
    // the 4 M rows the users wrote; the agent's backlog, as the drain
    // starts and once it has drained; the target then holds every row.
    let replicated: Vec<(u64, u64, u64)> = sink
        .records
        .iter()
        .filter_map(|r| match r.event {
            Event::ChangesReplicated { table: 0, written, backlog, .. } => Some((r.at.as_ms(), written, backlog)),
            _ => None,
        })
        .collect();
    let drain_start = at("drain").start.as_ms();
    assert_eq!(
        replicated,
        vec![
            (6 * 60_000, 200_000, 200_000),
            (drain_start, 4_000_000, 4_000_000 - 1_916_666),
            (6 * 60_000 + 4 * h, 4_000_000, 0)
        ]
    );
    let last = |table: u32| {
        sink.records
            .iter()
            .rev()
            .find_map(|r| match r.event {
                Event::TableChanged { table: t, source_rows, target_rows, .. } if t == table => {
                    Some((source_rows, target_rows))
                }
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(last(0), (10_000_000, 10_000_000));
    assert_eq!(last(1), (1_000_000, 1_000_000));

    // Above 90 % resource use every copy and apply takes twice as long.
    let busy = BUSY.replace("resource_use = 0.5", "resource_use = 0.95");
    let s2 = parse(&busy);
    let (slow, _) = simulate(&busy, &s2, 0, Mode::Median);
    assert_eq!(slow.steps[0].end.as_ms(), 12 * 60_000);
    assert_eq!(slow.steps[s2.find("drain").unwrap().index()].end.as_ms(), 12 * 60_000 + 8 * h);
}

/// The data model holds the replication: a transformation that does not
/// wait for the backlog to drain stops the agent (the replication is torn
/// down for the upgrade) and the changes still queued never reach the
/// target. The run's invariants catch the lost rows; waiting for the drain
/// loses none.
#[test]
fn a_cutover_that_does_not_wait_for_the_drain_loses_the_users_changes() {
    let hasty = BUSY.replace(
        "[[step]]\nid = \"users-in\"\nafter = [\"drain\"]",
        "[[step]]\nid = \"upgrade\"\nafter = [\"no-pk\"]\ndata = \"upgrade\"\nduration = \"10m\"\n[[step]]\nid = \"users-in\"\nafter = [\"drain\", \"upgrade\"]",
    );
    assert_ne!(hasty, BUSY);
    let s = parse(&hasty);
    let (summary, sink) = simulate(&hasty, &s, 0, Mode::Median);
    assert_eq!(summary.outcome, rehearse_core::Outcome::Committed);
    let state = rehearse_core::RunState::replay(&s, &sink.records);
    let lost: Vec<String> = state.violations().iter().map(|v| v.to_string()).collect();
    // Upgraded at 2 h 11 min: the agent, applying 1 M/h from the snapshot's
    // end (6 min), had applied 2 083 333 of the 4 M changes written.
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(
        lost[0].contains(
            "the run committed with table `A` holding 8083333 rows in the target against 10000000 in the source"
        ),
        "{lost:?}"
    );

    // The run's summary says so.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hasty.toml");
    std::fs::write(&file, &hasty).unwrap();
    let o = crate::support::rehearse(&["run", file.to_str().unwrap(), "--median", "--width", "0"]);
    let text = crate::support::stdout(&o);
    assert!(
        text.contains("4 000 000 rows written by users while online, 1 916 667 never applied to the target"),
        "{text}"
    );
    let o = crate::support::rehearse(&["run", file.to_str().unwrap(), "--median", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&crate::support::stdout(&o)).unwrap();
    let a = &json["tables"][0];
    assert_eq!(
        (&a["name"], &a["source_rows"], &a["target_rows"], &a["written_by_users"], &a["replication_backlog"]),
        (&"A".into(), &10_000_000.into(), &8_083_333.into(), &4_000_000.into(), &1_916_667.into())
    );

    // The same plan with the upgrade after the drain loses nothing.
    let patient = hasty.replace("id = \"upgrade\"\nafter = [\"no-pk\"]", "id = \"upgrade\"\nafter = [\"drain\"]");
    let s = parse(&patient);
    let (_, sink) = simulate(&patient, &s, 0, Mode::Median);
    assert!(rehearse_core::RunState::replay(&s, &sink.records).violations().is_empty());
}

#[test]
fn replication_settings_and_order_are_validated() {
    let check = |from: &str, to: &str, expected: &[&str]| {
        let text = BUSY.replace(from, to);
        match Scenario::parse(&text, "plan.toml") {
            Ok(_) => panic!("accepted with {to:?}"),
            Err(e) => {
                let got: Vec<String> = e.to_string().lines().map(str::to_string).collect();
                assert_eq!(got, expected);
            }
        }
    };
    check(
        "id = \"no-pk\"\nafter = [\"off\"]",
        "id = \"no-pk\"\nafter = [\"off\"]\ndata = \"attach\"",
        &[
            "plan.toml:25:1: step `no-pk`: data = \"attach\" (the self-service swap onto the source database) cannot be combined with the toolkit's replication, which copies the source into a separate target",
        ],
    );
    check(
        "max_bcp_threads = 6",
        "max_bcp_threads = 9",
        &["plan.toml:10:19: max_bcp_threads = 9; expected 1 to 8 (the toolkit's MaxBcpThreads: default 6, at most 8)"],
    );
    check(
        "resource_use = 0.5\nbusy_slowdown = 2.0",
        "resource_use = 0.95",
        &[
            "plan.toml:9:1: resource_use 0.95 is above 90 %, where replication slows down: say by how much with busy_slowdown (e.g. 2.0)",
        ],
    );
    check(
        "after = [\"no-pk\", \"snapshot\"]",
        "after = [\"off\", \"snapshot\"]",
        &[
            "plan.toml:29:1: step `drain`: replication is complete only once the tables without a primary key are copied: make it come after `no-pk`",
        ],
    );
    check(
        "after = [\"no-pk\", \"snapshot\"]\nreplication = \"caught-up\"\n[[step]]\nid = \"users-in\"\nafter = [\"drain\"]",
        "after = [\"snapshot\"]\nreplication = \"caught-up\"\n[[step]]\nid = \"users-in\"\nafter = [\"drain\", \"no-pk\"]",
        &[
            "plan.toml:29:1: step `drain`: waits for replication to catch up but may start before the source goes offline at `off`: changes would still be coming",
            "plan.toml:29:1: step `drain`: replication is complete only once the tables without a primary key are copied: make it come after `no-pk`",
        ],
    );
    check(
        "replication = \"no-pk-tables\"",
        "duration = \"1m\"",
        &[
            "plan.toml:9:1: tables without a primary key are copied by the toolkit's cutover step: add a step with replication = \"no-pk-tables\"",
        ],
    );
    check(
        "replication = \"caught-up\"",
        "replication = \"caught_up\"",
        &[
            "plan.toml:31:15: step `drain`: replication = \"caught_up\"; expected \"snapshot\" (the initial snapshot of the tables with a primary key), \"no-pk-tables\" (the toolkit's cutover: tables without a primary key) or \"caught-up\" (wait until the backlog has drained)",
        ],
    );
}

/// The source/target table of 001 (scenario 2), copied from the document:
/// source, expected AX7.version content, target, answer.
const TABLE_001: &str = "\
| Application 7.3                               | 7.3.11971.56116 | Application release 8.x | Yes |
| July 2017 release (Application 7.2)                               | 7.2.11792.56024 | Application release 8.x or 7.3 | Yes |
| Release 1611 (Application 7.1)                               | 7.1.1541.3036 | Application release 8.x, 7.3, or July 2017 (7.2) | Yes |
| August 2016 release (Application 7.0.1 with Platform update 2) | 7.0.1265.27075 | Application release 8.x, 7.3, July 2017 (7.2) or 1611 (7.1) | Yes |
| May 2016 release (Application 7.0.1)                           | 7.0.1265.23014 | Application release 8.x, 7.3, July 2017 (7.2) or 1611 (7.1) | Yes |
| February 2016 release (Application 7.0)                      | 7.0.1265.3015 |  Application release 8.x, 7.3, July 2017 (7.2) or 1611 (7.1) | Yes |
| Microsoft Dynamics AX 2012                                     | Not applicable | Application release 7.3 or July 2017 (7.2)  | Yes |
| Application release 7.3         | Not applicable | Newer version of the platform | No |
| July 2017 release (Application 7.2)         | Not applicable | Newer version of the platform | No |
| Release 1611 (application 7.1)            | Not applicable | Newer version of the platform | No |
| May 2016 release (Platform update 1, application 7.0.1)        | Not applicable | August 2016 release (Platform update 2, application 7.0.1) | No |
";

/// How a user names the releases a cell of the table lists.
fn releases_in(cell: &str) -> Vec<&'static str> {
    let cell = cell.to_ascii_lowercase();
    let mut out = Vec::new();
    let checks: &[(&str, &str)] = &[
        ("dynamics ax 2012", "ax2012"),
        ("august 2016", "august-2016"),
        ("may 2016", "may-2016"),
        ("february 2016", "feb-2016"),
        ("1611", "7.1"),
        ("7.2", "7.2"),
        ("7.3", "7.3"),
        ("8.x", "8.x"),
        ("newer version of the platform", "platform"),
    ];
    for (needle, id) in checks {
        if cell.contains(needle) {
            out.push(*id);
        }
    }
    out
}

#[test]
fn the_code_upgrade_answer_follows_the_documented_table() {
    let mut pairs = 0;
    for line in TABLE_001.lines() {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (source, target, answer) = (cells[0], cells[2], cells[3]);
        let from = releases_in(source);
        assert_eq!(from.len(), 1, "one source release in {source:?}: {from:?}");
        let targets = releases_in(target);
        assert!(!targets.is_empty(), "{target:?}");
        for to in targets {
            let o = crate::support::rehearse(&["code-upgrade", from[0], to, "--json"]);
            assert_eq!(o.status.code(), Some(0), "{}", crate::support::stderr(&o));
            let v: serde_json::Value = serde_json::from_str(&crate::support::stdout(&o)).unwrap();
            assert_eq!(v["required"], answer == "Yes", "{} -> {to}: {v}", from[0]);
            // The row that answered is the document's row, word for word.
            assert_eq!(v["basis"]["kind"], "row", "{} -> {to}: {v}", from[0]);
            assert_eq!(v["basis"]["document"], "001");
            assert_eq!(v["basis"]["source"], source);
            assert_eq!(v["basis"]["target"], target);
            pairs += 1;
        }
    }
    assert_eq!(pairs, 24);
    // A pair neither table lists follows 001's rule, and says so.
    let o = crate::support::rehearse(&["code-upgrade", "ax2012", "8.1"]);
    assert!(crate::support::stdout(&o).contains("neither table lists this pair"));
    // 8.0 -> 8.1 can be stated: an update in 001's definition.
    let o = crate::support::rehearse(&["code-upgrade", "8.0", "8.1"]);
    assert!(crate::support::stdout(&o).contains("code upgrade service needed: no"), "{}", crate::support::stdout(&o));
    assert!(crate::support::stdout(&o).contains("an update, not an upgrade"));
    let o = crate::support::rehearse(&["code-upgrade", "7.3", "7.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::support::stderr(&o).contains("is not newer than"));
}

/// The go-live scenario with one line changed, written to a temporary file.
fn go_live_with(from: &str, to: &str) -> tempfile::NamedTempFile {
    let (text, _) = load(GO_LIVE);
    assert!(text.contains(from), "{from}");
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::io::Write::write_all(&mut f, text.replace(from, to).as_bytes()).unwrap();
    f
}

#[test]
fn unmet_readiness_gates_block_the_run_unless_ignored() {
    use crate::support::{rehearse, stderr, stdout};
    let path = crate::support::scenario_path(GO_LIVE);
    let o = rehearse(&["readiness", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("decision: GO"));

    let f = go_live_with(
        r#"performance-tests = { done = true, owner = "Test lead" }"#,
        r#"performance-tests = { done = false, owner = "Test lead", note = "load test on 12/01" }"#,
    );
    let g = go_live_with(r#"licences = { done = true, owner = "Project manager" }"#, "");
    for (file, gate, status) in [(&f, "performance-tests", "NOT MET"), (&g, "licences", "NOT ASSESSED")] {
        let p = file.path().to_str().unwrap();
        let o = rehearse(&["readiness", p]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stdout(&o).contains(&format!("decision: NO-GO -- 1 of 16 gates block: {gate}")), "{}", stdout(&o));
        assert!(stdout(&o).contains(status));
        let o = rehearse(&["run", p, "--median"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stdout(&o).is_empty());
        assert!(
            stderr(&o).contains(&format!("not ready to go live: 1 gate unmet: {gate} ({status})")),
            "{}",
            stderr(&o)
        );
        let o = rehearse(&["run", p, "--median", "--ignore-readiness"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("warning: rehearsing with go-live readiness gates unmet: {gate}")));
        assert!(stdout(&o).contains("outcome        committed"));
        // Estimating is planning: it runs, and says what is not ready.
        let o = rehearse(&["estimate", p, "--runs", "50", "--no-fault-costs"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("note: go-live readiness gates unmet: {gate}")), "{}", stderr(&o));
    }
    let o = rehearse(&["readiness", g.path().to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["decision"], "no-go");
    assert_eq!(v["unmet"], serde_json::json!(["licences"]));

    // A wrong collation is refused outright in a plan from AX 2012 (002),
    // at its line, before any gate is read (tests/documents.rs: every such
    // plan alike).
    let c = go_live_with(
        r#"collation = "SQL_Latin1_General_CP1_CI_AS"   # the collation"#,
        r#"collation = "Latin1_General_CI_AS"   # the collation"#,
    );
    let o = rehearse(&["readiness", c.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(".toml:103:13:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("contact Microsoft Support for assistance"), "{}", stderr(&o));

    // A typo in a gate is located.
    let t = go_live_with("licences = {", "licenses = {");
    let o = rehearse(&["readiness", t.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown readiness gate `licenses`; did you mean `licences`?"), "{}", stderr(&o));
    assert!(stderr(&o).contains(".toml:92:12:"), "{}", stderr(&o));
}

#[test]
fn a_platform_only_update_is_refused_on_customised_platform_models() {
    let (text, _) = load("platform-update.toml");
    let bad = text.replace("customised_platform_models = false", "customised_platform_models = true");
    let e = Scenario::parse(&bad, "p.toml").unwrap_err().to_string();
    assert!(e.contains("a platform-only update is done in place only when the platform models"), "{e}");
    assert!(e.starts_with("p.toml:"), "{e}");
}

#[test]
fn every_bundled_scenario_is_listed_once() {
    let o = crate::support::rehearse(&["scenarios", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&crate::support::stdout(&o)).unwrap();
    let mut listed: Vec<String> =
        v["scenarios"].as_array().unwrap().iter().map(|s| s["file"].as_str().unwrap().to_string()).collect();
    listed.sort();
    let mut files: Vec<String> = std::fs::read_dir(crate::support::root().join("scenarios"))
        .unwrap()
        .map(|e| format!("scenarios/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".toml"))
        .collect();
    files.sort();
    assert_eq!(listed, files);
    assert_eq!(files.len(), 9);
}

/// Each bundled scenario's plan as written (`--median`): its timeline and
/// summary, against a reviewed snapshot in tests/snapshots/.
#[test]
fn median_timelines_match_their_snapshots() {
    for file in std::fs::read_dir(crate::support::root().join("scenarios")).unwrap() {
        let name = file.unwrap().file_name().to_string_lossy().into_owned();
        let path = format!("scenarios/{name}");
        let o = crate::support::rehearse(&["run", &path, "--median"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", crate::support::stderr(&o));
        insta::assert_snapshot!(name.trim_end_matches(".toml"), crate::support::stdout(&o));
    }
}

/// A stored cutover holds the toolkit's `rs` and `dv` reports as tables
/// (`ReplicationStatus`, `PostValidationInfo`), rebuilt and checked by
/// `replay`.
#[test]
fn a_stored_cutover_holds_the_replication_and_record_count_reports() {
    use crate::support::{rehearse, stderr, stdout};
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("busy.toml");
    let text = BUSY.replace("replication = \"caught-up\"", "replication = \"caught-up\"\ndata = \"validate\"");
    std::fs::write(&plan, &text).unwrap();
    let db = dir.path().join("run.sqlite");
    let (plan_s, db_s) = (plan.to_str().unwrap(), db.to_str().unwrap());
    let o = rehearse(&["run", plan_s, "--median", "--db", db_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sql = |q: &str| -> serde_json::Value {
        let o = rehearse(&["sql", db_s, q, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let rs = sql("SELECT Publication, Tables, Rows, State, BacklogChanges FROM ReplicationStatus ORDER BY Publication");
    assert_eq!(
        rs,
        serde_json::json!([
            { "Publication": "AX_PUB_NoPKTable", "Tables": "B", "Rows": "1000000", "State": "Copied", "BacklogChanges": null },
            // The backlog left when the cutover began waiting (see the
            // backlog test above): 4 000 000 - 1 916 667.
            { "Publication": "AX_PUB_PkTable_1", "Tables": "A", "Rows": "6000000", "State": "Caught up", "BacklogChanges": "2083333" },
        ])
    );
    let dv = sql(
        "SELECT TableName, SourceRecordCount, TargetRecordCount, Result, Step FROM PostValidationInfo ORDER BY TableName",
    );
    assert_eq!(
        dv,
        serde_json::json!([
            // 6 M rows and the 4 M the users wrote while the source was online.
            { "TableName": "A", "SourceRecordCount": "10000000", "TargetRecordCount": "10000000", "Result": "Matched", "Step": "drain" },
            { "TableName": "B", "SourceRecordCount": "1000000", "TargetRecordCount": "1000000", "Result": "Matched", "Step": "drain" },
        ])
    );
    let o = rehearse(&["replay", db_s]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // A stored report that disagrees with the events is caught.
    for tamper in [
        "UPDATE ReplicationStatus SET BacklogChanges = 1 WHERE Publication = 'AX_PUB_PkTable_1'",
        "UPDATE PostValidationInfo SET TargetRecordCount = 9999999 WHERE TableName = 'A'",
    ] {
        let copy = dir.path().join("tampered.sqlite");
        std::fs::copy(&db, &copy).unwrap();
        rusqlite::Connection::open(&copy).unwrap().execute(tamper, []).unwrap();
        let o = rehearse(&["replay", copy.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{tamper}");
        let table = if tamper.contains("Replication") { "ReplicationStatus" } else { "PostValidationInfo" };
        assert!((stdout(&o) + &stderr(&o)).contains(&format!("corrupted: table `{table}`: row ")), "{}", stdout(&o));
    }
}
