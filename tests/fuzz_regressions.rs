//! The fuzzers' inputs as tests: every file under `fuzz/regressions/TARGET/`
//! (what a fuzz target once failed on) and under `fuzz/corpus/TARGET/` (the
//! seeds) goes through the same API as in the target (`fuzz/fuzz_targets/`),
//! so a crash found once stays found without the fuzzer's toolchain.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rehearse_core::{Calendar, Scenario};
use rehearse_sim::calibrate::{self, Options};
use rehearse_sim::replay::{self, Verdict};
use rehearse_sim::store::{self, sqlite};

use crate::support;

/// The inputs of one target, regressions first, by name.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["regressions", "corpus"] {
        let Ok(entries) = std::fs::read_dir(support::root().join("fuzz").join(dir).join(target)) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// Runs `check` on every input of `target`; a panic names its file.
fn each(target: &str, check: impl Fn(&Path, &[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for {target}");
    for path in files {
        let data = std::fs::read(&path).unwrap();
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| check(&path, &data))) {
            let why = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{}: {}", path.display(), why.unwrap_or_default());
        }
    }
}

fn epoch() -> Calendar {
    Calendar::parse("1970-01-01T00:00:00").unwrap()
}

#[test]
fn scenario_inputs_validate_or_give_located_errors() {
    each("scenario", |_, data| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        if let Err(e) = Scenario::parse(text, "fuzz.toml") {
            assert!(e.to_string().starts_with("fuzz.toml:"), "{e}");
        }
    });
}

#[test]
fn jsonl_inputs_read_as_far_as_they_are_valid() {
    let (text, scenario) = support::load("ax2012-go-live.toml");
    each("jsonl", |path, data| {
        let Ok(log) = std::str::from_utf8(data) else { return };
        let read = store::read_jsonl_prefix(log, &scenario);
        assert_eq!(store::read_jsonl(log, &scenario).err(), read.damage.clone());
        // The committed logs are whole runs of the scenario, or cut short.
        if path.starts_with(support::root().join("fuzz/corpus")) && !path.to_string_lossy().contains("truncated") {
            assert_eq!(read.damage, None, "{}", path.display());
        }
        let digest = rehearse_sim::digest(&text);
        replay::replay(&scenario, digest, &read.records, read.damage, epoch(), None);
    });
}

#[test]
fn store_inputs_read_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, fallback) = support::load("hotfix.toml");
    each("store", |path, data| {
        let file = dir.path().join(path.file_name().unwrap());
        std::fs::write(&file, data).unwrap();
        // As `rehearse replay` reads a store.
        let whole = replay::replay_store(&file);
        // The committed seeds are sound stores of whole runs.
        if path.starts_with(support::root().join("fuzz/corpus")) {
            let verdict = whole.as_ref().map(|r| &r.report.verdict);
            assert!(matches!(verdict, Ok(Verdict::Ok)), "{}: {verdict:?}", path.display());
        }
        // And its parts, the events verified against a scenario that
        // parses, so that a mutated store reaches the fold and the replay.
        let Ok(stored) = sqlite::read_store(&file) else { return };
        let text = stored.meta.get("scenario_text").cloned().unwrap_or_default();
        let own = Scenario::parse(&text, "stored.toml").ok();
        let scenario = own.as_ref().unwrap_or(&fallback);
        let (records, damage) = sqlite::verify_stored(scenario, &stored.genesis, &stored.events);
        let projections = Some(&stored.projections);
        replay::replay(scenario, rehearse_sim::digest(&text), &records, damage, epoch(), projections);
    });
}

/// Every export either is refused with a located error (a run longer than
/// a scenario may hold, `span-over-30-days.csv`) or calibrates to a
/// scenario that validates: names holding `"` or `\`, names that clean to
/// one id, a failed row holding another row, all of which once gave
/// scenarios the validator refused (`fuzz/regressions/export/`).
#[test]
fn export_inputs_calibrate_to_scenarios_that_validate() {
    each("export", |_, data| {
        let run = match calibrate::read_export_bytes("fuzz.csv", data) {
            Ok(run) => run,
            Err(e) => {
                assert!(e.to_string().starts_with("fuzz.csv:"), "{e}");
                return;
            }
        };
        let cal = calibrate::calibrate(std::slice::from_ref(&run), &Options::default()).unwrap();
        let sc = Scenario::parse(&cal.toml, "calibrated.toml").unwrap_or_else(|e| panic!("{e}\n{}", cal.toml));
        // Every name round-trips: the scenario's DATAUPGRADESTATUS names
        // are the export's.
        let mut names: Vec<(String, String)> =
            rehearse_sim::store::projection::status_names(&sc).into_iter().flatten().collect();
        let mut rows: Vec<(String, String)> = run.rows.iter().map(|r| (r.steps.clone(), r.substeps.clone())).collect();
        names.sort();
        rows.sort();
        assert_eq!(names, rows);
    });
}

#[test]
fn the_known_export_bugs_are_fixed() {
    let read = |name: &str| {
        let path = support::root().join("fuzz/regressions/export").join(name);
        calibrate::read_export_bytes(name, &std::fs::read(path).unwrap())
    };
    let e = read("span-over-30-days.csv").unwrap_err().to_string();
    assert!(e.starts_with("span-over-30-days.csv:3: DbSync/SyncSchema lasts 2557d"), "{e}");
    let cal = |name: &str| calibrate::calibrate(&[read(name).unwrap()], &Options::default()).unwrap();
    let c = cal("phase-names-equal-once-cleaned.csv");
    assert!(c.toml.contains("id = \"Post-Sync.phase-2\"") && c.toml.contains("name = \"Post Sync\""), "{}", c.toml);
    assert!(c.report.contains("Post Sync") && c.report.contains("id Post-Sync.phase-2"), "{}", c.report);
    let c = cal("failed-step-holding-another.csv");
    assert!(c.toml.contains("steps = [\"PostSync.WaitForBatch\"]"), "the fault strikes the failed step: {}", c.toml);
    let c = calibrate::calibrate(
        &[calibrate::read_export_bytes(
            "q.csv",
            &std::fs::read(support::root().join("fuzz/corpus/export/known-bug-quote-backslash.csv")).unwrap(),
        )
        .unwrap()],
        &Options::default(),
    )
    .unwrap();
    let sc = Scenario::parse(&c.toml, "calibrated.toml").unwrap();
    assert!(sc.steps.iter().any(|s| s.name == "Final \"Db\" Sync\\x"), "{}", c.toml);
}
