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

/// Exports whose calibrated scenario does not validate yet (found by the
/// `export` target; calibrate's emission is being reworked), with the
/// validator's words. Calibrating them must still not panic.
const UNFIXED_EXPORTS: [(&str, &str); 4] = [
    // Names are written into TOML strings unescaped.
    ("known-bug-quote-backslash.csv", ""),
    // A run over 30 days calibrates to lengths the validator refuses.
    ("span-over-30-days.csv", "beyond the 30-day limit"),
    // A failed row holding another row of its phase becomes a group, and
    // the fault observed on it then strikes a step with sub-steps.
    ("failed-step-holding-another.csv", "a fault strikes a step that does work"),
    // `Post-Sync` and `Post Sync` both become the id `Post-Sync.phase`.
    ("phase-names-equal-once-cleaned.csv", "duplicate step id"),
];

#[test]
fn export_inputs_calibrate_to_scenarios_that_validate() {
    each("export", |path, data| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let Ok(run) = calibrate::read_export("fuzz.csv", text) else { return };
        let cal = calibrate::calibrate(std::slice::from_ref(&run), &Options::default());
        let name = path.file_name().unwrap().to_string_lossy();
        match Scenario::parse(&cal.toml, "calibrated.toml") {
            Ok(_) => {}
            Err(e) => {
                let known = UNFIXED_EXPORTS.iter().find(|(file, _)| *file == name);
                assert!(known.is_some_and(|(_, words)| e.to_string().contains(words)), "{e}\n{}", cal.toml);
            }
        }
    });
}
