//! Cheap rules kept by a test: every Rust file says what it is for, and no
//! code reaches for the wall clock or unseeded randomness (clippy.toml bans
//! the same; this also covers code clippy does not see).

use std::path::{Path, PathBuf};

use crate::support;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["src", "core/src", "sim/src", "live/src", "tests", "benches"] {
        rust_files(&support::root().join(dir), &mut files);
    }
    files.sort();
    files
}

#[test]
fn every_file_starts_with_a_doc_line() {
    let files = all_rust_files();
    assert!(files.len() > 10);
    let missing: Vec<_> = files.iter().filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!")).collect();
    assert!(missing.is_empty(), "files without a //! header: {missing:?}");
}

/// The wall clock is read at the edge only: the binary may time a user's
/// query (`sql --timeout`); nothing in `core` or `sim` may read it, and
/// nothing anywhere draws unseeded numbers or iterates in hash order.
#[test]
fn no_wall_clock_or_unseeded_randomness_in_the_simulator() {
    let clock = ["SystemTime::now", "Instant::now"];
    let banned = [
        "SystemTime::now",
        "Instant::now",
        "thread_rng",
        "from_entropy",
        "from_os_rng",
        "StdRng",
        "SmallRng",
        "HashMap",
        "HashSet",
    ];
    let mut found = Vec::new();
    for f in all_rust_files() {
        if f.ends_with("tidy.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // The edge: the binary; the live bridge (it stamps records and
        // makes boards as of now); the live tests, which time a server.
        let at_the_edge = f.starts_with(support::root().join("src"))
            || f.starts_with(support::root().join("live/src"))
            || f.ends_with("tests/live.rs");
        for b in banned {
            if at_the_edge && clock.contains(&b) {
                continue;
            }
            if text.contains(b) {
                found.push(format!("{}: {b}", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}
