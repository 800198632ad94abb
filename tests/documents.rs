//! The bundled scenarios follow the source documents point by point
//! (`docs/document-points.md`): what a document states is what the plans
//! do, and what they assume instead is refused where the documents forbid
//! it.

use rehearse_core::{Mode, Scenario, SimDuration};

use rehearse_sim::{FaultMode, NullSink, Plan, RunOptions, Simulator};

use crate::support::{load, simulate};

const SELF_SERVICE: &str = "self-service-upgrade.toml";

/// 001: "you will be required to use the Sign Off button on that package
/// before you can move forward or apply another package". Every package's
/// sign-off ends before the next package starts, in the plan as written and
/// in random runs (faults included: a rolled-back package is signed off
/// once it is through).
#[test]
fn self_service_signs_off_each_package_before_the_next() {
    let (text, s) = load(SELF_SERVICE);
    let idx = |id: &str| s.find(id).unwrap_or_else(|| panic!("{id}"));
    for env in ["sandbox", "prod"] {
        let order = [
            format!("{env}-pkg-platform"),
            format!("{env}-sign-off-platform"),
            format!("{env}-pkg-isv"),
            format!("{env}-sign-off-isv"),
            format!("{env}-pkg-custom"),
            format!("{env}-sign-off"),
        ];
        for (seed, mode) in [(0, Mode::Median), (1, Mode::Random), (2, Mode::Random), (3, Mode::Random)] {
            let (summary, _) = simulate(&text, &s, seed, mode);
            for w in order.windows(2) {
                let (a, b) = (summary.timing(idx(&w[0])), summary.timing(idx(&w[1])));
                assert!(
                    a.end <= b.start,
                    "{env} seed {seed}: {} ends at {} after {} starts at {}",
                    w[0],
                    a.end,
                    w[1],
                    b.start
                );
            }
        }
    }
}

/// 001: "The preparation phase can take upwards of 8 hours": no draw of
/// Prepare is shorter (so its P10 is above 8 h), in the self-service plan
/// and in the 2017 DSE plan that borrows its figure. (`rehearse run
/// scenarios/self-service-upgrade.toml --no-faults --run k`, k < 300: P10
/// 8.46 h, the shortest 8.06 h; the lognormal of before had half its draws
/// under 8 h.)
#[test]
fn prepare_draws_respect_upwards_of_eight_hours() {
    let eight = SimDuration::from_hours(8);
    for (name, steps) in [
        (SELF_SERVICE, ["sandbox-prepare", "prod-prepare"]),
        ("dse-upgrade-2017.toml", ["sandbox-deploy", "prod-deploy"]),
    ] {
        let (text, s) = load(name);
        let plan = Plan::new(&s, rehearse_sim::digest(&text));
        let mut sim = Simulator::new(&plan);
        let mut shortest = SimDuration::from_days(365);
        for run in 0..100 {
            let mut opts = RunOptions::new(0, Mode::Random).with_faults(FaultMode::Off);
            opts.run = run;
            let summary = sim.run(&opts, &mut NullSink).expect("run");
            for id in steps {
                let t = summary.timing(s.find(id).expect(id));
                shortest = shortest.min(t.end.since(t.start));
            }
        }
        assert!(shortest >= eight, "{name}: a Prepare of {shortest}");
    }
}

fn with(name: &str, from: &str, to: &str) -> Result<Scenario, String> {
    let (text, _) = load(name);
    assert!(text.contains(from), "{name}: {from}");
    Scenario::parse(&text.replacen(from, to, 1), name).map_err(|e| e.to_string())
}

const RIGHT: &str = r#"collation = "SQL_Latin1_General_CP1_CI_AS""#;
const FINNISH: &str = r#"collation = "Finnish_Swedish_CI_AS""#;

/// 002: "The collation of the AX 2012 database must be
/// SQL_Latin1_General_CP1_CI_AS. If you're using a different collation,
/// contact Microsoft Support for assistance." Every plan from AX 2012 is
/// refused with another collation, at the line that states it, in the
/// `wrong-collation` fault's words; a plan not from AX 2012 is not.
#[test]
fn a_wrong_collation_is_refused_in_every_plan_from_ax_2012() {
    let wording = rehearse_core::fault::catalog("wrong-collation").unwrap().message;
    for (name, line) in
        [("ax2012-data-upgrade-dev.toml", 58), ("ax2012-mock-cutover.toml", 58), ("ax2012-go-live.toml", 103)]
    {
        let e = with(name, RIGHT, FINNISH).unwrap_err();
        assert!(e.contains(&format!("{name}:{line}:13: [database] collation = \"Finnish_Swedish_CI_AS\"")), "{e}");
        assert!(e.contains(wording), "{e}");
        assert!(e.contains("fault `wrong-collation`"), "{e}");
        // Case does not matter to SQL Server's collation names.
        with(name, RIGHT, r#"collation = "sql_latin1_general_cp1_ci_as""#).expect(name);
    }
    // Not from AX 2012: the rule is 002's, for AX 2012 databases only.
    with(SELF_SERVICE, RIGHT, FINNISH).expect("a 7.3 -> 8.x plan");
    // Without `[upgrade] from = "ax2012"` the development plan is not known
    // to be from AX 2012.
    let (text, _) = load("ax2012-data-upgrade-dev.toml");
    let unknown = text.replacen("from = \"ax2012\"", "from = \"7.3\"", 1).replacen(RIGHT, FINNISH, 1);
    assert!(Scenario::parse(&unknown, "dev.toml").is_ok());
}

/// The wrong collation through the binary: one clear error, exit 2.
#[test]
fn a_dev_data_upgrade_with_a_wrong_collation_is_refused_with_exit_2() {
    let (text, _) = load("ax2012-data-upgrade-dev.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.toml");
    std::fs::write(&path, text.replacen(RIGHT, FINNISH, 1)).unwrap();
    let o = crate::support::rehearse(&["run", path.to_str().unwrap(), "--median"]);
    assert_eq!(o.status.code(), Some(2));
    let err = crate::support::stderr(&o);
    assert!(err.contains("dev.toml:58:13:"), "{err}");
    assert!(err.contains("contact Microsoft Support for assistance"), "{err}");
    assert!(crate::support::stdout(&o).is_empty());
}

/// 001, scenario 4: "If you're upgrading from Platform update 1 or
/// Platform update 2, your developers must refactor the overlayering as
/// extensions before you can upgrade." A plan from either says it has.
#[test]
fn upgrades_from_platform_update_1_or_2_state_the_overlayering_refactored() {
    const STATED: &str = "customised_platform_models = false";
    let name = "dse-upgrade-2017.toml";
    load(name);
    for to in ["", "customised_platform_models = true"] {
        let e = with(name, STATED, to).unwrap_err();
        assert!(e.contains("must refactor the overlayering as extensions before you can upgrade"), "{e}");
        assert!(e.contains(&format!("{name}:58:8:")), "{e}");
    }
    // Platform update 2 (August 2016) alike.
    let (text, _) = load(name);
    let pu2 = text.replacen("from = \"may-2016\"", "from = \"pu2\"", 1).replacen(STATED, "", 1);
    let e = Scenario::parse(&pu2, name).unwrap_err().to_string();
    assert!(e.contains("upgrade.from = August 2016 release (Platform update 2"), "{e}");
    // The caveat names Platform update 1 and 2 only.
    let later = text.replacen("from = \"may-2016\"", "from = \"7.0\"", 1).replacen(STATED, "", 1);
    let e = Scenario::parse(&later, name).map(|_| ()).map_err(|e| e.to_string());
    assert!(e.is_ok(), "{e:?}");
}

/// The development plan with 001's two known data upgrade errors able to
/// strike recorded sub-steps, resumed once at most.
const KNOWN_ERRORS: &str = r#"
[[fault]]
id = "dvt"
catalog = "dvt-mrprocessservice"
steps = ["PostSync.WaitForBatch"]
probability = 0.1
at = [0.1, 0.95]
recovery = "resume"

[[fault]]
id = "ttscommit"
catalog = "ttscommit"
steps = ["DbSync.SyncSchema"]
probability = 0.1
at = [0.05, 0.9]
recovery = "resume"

[recovery.resume]
action = "resume"
reaction = "20m"
max_attempts = 2
"#;

/// DVT and TTSCOMMIT failures are upgrade scripts failing: logged in
/// RELEASEUPDATESCRIPTSERRORLOG with the catalogue's words, where
/// `rehearse sql` finds them after the run; a sub-step that failed for good
/// is a `Failed` row of DATAUPGRADESTATUS (one resumed to its end is
/// `Completed`, as a status table keeps it).
#[test]
fn script_failures_reach_the_error_log_and_the_status_table() {
    use crate::support::{rehearse, stdout};
    let (text, _) = load("ax2012-data-upgrade-dev.toml");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("dev.toml");
    std::fs::write(&plan, format!("{text}{KNOWN_ERRORS}")).unwrap();
    let plan = plan.to_str().unwrap();
    let db = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let sql = |db: &str, q: &str| {
        let o = rehearse(&["sql", db, q]);
        assert_eq!(o.status.code(), Some(0), "{}", crate::support::stderr(&o));
        stdout(&o)
    };
    let log = "SELECT STEPS, SUBSTEPS, MESSAGE FROM RELEASEUPDATESCRIPTSERRORLOG";
    let not_completed = "SELECT Steps, SubSteps, Status FROM DATAUPGRADESTATUS WHERE Status <> 'Completed'";

    // DVT, resumed: one error row; every status row completed.
    let a = db("dvt.sqlite");
    let o = rehearse(&["run", plan, "--median", "--fault", "dvt@PostSync.WaitForBatch", "--db", &a]);
    assert!(stdout(&o).contains("outcome        committed"), "{}", stdout(&o));
    let rows = sql(&a, log);
    assert!(
        rows.contains(
            "PostSync | WaitForBatch | Upgrade failed at step X: DVT script for service model: MRProcessService"
        ),
        "{rows}"
    );
    assert_eq!(rows.lines().count(), 3, "a header, a rule and one row:\n{rows}");
    assert_eq!(sql(&a, not_completed).lines().count(), 2, "no row but a header and a rule");

    // TTSCOMMIT twice: the budget is spent and the run stops with the
    // sub-step failed; both strikes are logged.
    let b = db("ttscommit.sqlite");
    let o = rehearse(&[
        "run",
        plan,
        "--median",
        "--fault",
        "ttscommit@DbSync.SyncSchema#1",
        "--fault",
        "ttscommit@DbSync.SyncSchema#2",
        "--db",
        &b,
    ]);
    assert!(stdout(&o).contains("outcome        aborted"), "{}", stdout(&o));
    let rows = sql(&b, log);
    assert_eq!(rows.matches("DbSync | SyncSchema | Application configuration sync failed. Call to TTSCOMMIT without first calling TTSBEGIN.").count(), 2, "{rows}");
    let rows = sql(&b, not_completed);
    // The columns are as wide as their longest value: compared unpadded.
    let unpadded = rows.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(unpadded.contains("DbSync | SyncSchema | Failed"), "{rows}");
}
