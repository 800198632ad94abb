//! A store that cannot be written mid-run: the run stops with an error
//! naming the store's path, exit 2, and what was committed before replays
//! as incomplete. Made for real where the machine lets a test: a small
//! file system (tmpfs in a private mount namespace) filled by the run, a
//! size-limited file (`ulimit -f`), the store's write-ahead log made
//! immutable under the running writer (`chattr +i`, the nearest a test
//! can come to a medium turned read-only under an open file), and a
//! directory made read-only mid-run (which does not stop SQLite, whose
//! files are open: the run finishes whole).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::{rehearse, root, stderr, stdout};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A chain of 30 000 one-minute steps (60 002 events, 15 batches).
pub(crate) fn long_plan(dir: &Path) -> PathBuf {
    let plan = dir.join("long.toml");
    let mut text = String::from("[scenario]\nname = \"long\"\n");
    for i in 0..30_000 {
        text.push_str(&format!("[[step]]\nid = \"s{i}\"\nduration = \"1m\"\n"));
        if i > 0 {
            text.push_str(&format!("after = [\"s{}\"]\n", i - 1));
        }
    }
    std::fs::write(&plan, text).unwrap();
    plan
}

/// What `replay` says of a store: exit code and the events of its valid
/// prefix, if it is incomplete.
fn incomplete_prefix(db: &Path) -> (Option<i32>, Option<u64>, String) {
    let out = rehearse(&["replay", s(db)]);
    let text = stdout(&out) + &stderr(&out);
    let n = text
        .split("incomplete: a valid prefix of ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok());
    (out.status.code(), n, text)
}

/// Asserts the run failed as a store that cannot be written must: exit 2,
/// one error naming the store, no panic; and that the store it leaves is
/// a valid prefix of whole batches.
fn failed_cleanly(out: &Output, named: &str, says: &str, store: &Path) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("error: writing events: {named}: {says}")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (code, n, text) = incomplete_prefix(store);
    assert_eq!(code, Some(1), "{text}");
    let n = n.unwrap_or_else(|| panic!("{text}"));
    assert!(n >= 4096 && n % 4096 == 0 && n < 60_002, "{n} events: {text}");
    assert!(text.contains("store status running"), "{text}");
}

/// A run of the long plan into `dir/run.sqlite` in a small file system (a
/// tmpfs of a few MiB in a private mount namespace): it fills up after a
/// few batches. Skipped, said so, where no mount namespace can be made.
#[test]
fn a_file_system_filled_mid_run_stops_the_run_with_the_store_named() {
    let dir = tempfile::tempdir().unwrap();
    let plan = long_plan(dir.path());
    let (small, kept) = (dir.path().join("small"), dir.path().join("kept"));
    std::fs::create_dir(&small).unwrap();
    std::fs::create_dir(&kept).unwrap();
    let db = small.join("run.sqlite");
    // The store is copied out of the tmpfs, which goes with the namespace.
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=4m tmpfs "$1" || exit 99; "$2" run "$3" --seed 3 --db "$1/run.sqlite"; code=$?; cp "$1"/run.sqlite* "$4"/; exit $code"#)
        .args(["sh", s(&small), env!("CARGO_BIN_EXE_rehearse"), s(&plan), s(&kept)])
        .stdout(Stdio::null())
        .output()
        .expect("unshare runs");
    if out.status.code() == Some(99) || stderr(&out).starts_with("unshare:") {
        eprintln!("no tmpfs here ({}); the size-limited file test takes the same path", stderr(&out));
        assert!(!db.exists());
        return;
    }
    failed_cleanly(&out, s(&db), "database or disk is full", &kept.join("run.sqlite"));
}

/// The same run with every file it writes limited in size (`ulimit -f`,
/// SIGXFSZ ignored so that the write fails instead of killing the run):
/// no privilege needed.
#[test]
fn a_size_limited_file_stops_the_run_with_the_store_named() {
    let dir = tempfile::tempdir().unwrap();
    let plan = long_plan(dir.path());
    let db = dir.path().join("run.sqlite");
    let out = Command::new("sh")
        .args(["-c", r#"trap "" XFSZ; ulimit -f 6000 && exec "$@""#, "sh", env!("CARGO_BIN_EXE_rehearse")])
        .args(["run", s(&plan), "--seed", "3", "--db", s(&db)])
        .stdout(Stdio::null())
        .output()
        .expect("sh runs");
    failed_cleanly(&out, s(&db), "disk I/O error", &db);
}

/// Starts the long plan's run into `db`, halted after its first batch; the
/// child, its stdin (a line lets it go on), once it said so.
fn halted_run(plan: &Path, db: &Path, as_user: Option<u32>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    cmd.args(["run", s(plan), "--seed", "3", "--db", s(db), "--halt-store-after-batches", "1"])
        .current_dir(root())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(uid) = as_user {
        cmd.uid(uid).gid(uid);
    }
    let mut child = cmd.spawn().unwrap();
    let mut said = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), "store halted after 1 batches");
    child.stderr = Some(said.into_inner());
    child
}

/// Lets a halted run go on and waits for it.
fn resume(mut child: Child) -> Output {
    child.stdin.take().unwrap().write_all(b"go on\n").unwrap();
    child.wait_with_output().unwrap()
}

/// The store's write-ahead log made immutable while the writer holds it:
/// its next batch is refused (EPERM), as a medium turned read-only would
/// refuse it. Needs root and a file system with the immutable attribute;
/// elsewhere, said so.
#[test]
fn a_store_refusing_writes_mid_run_stops_the_run_with_the_store_named() {
    let dir = tempfile::tempdir().unwrap();
    let plan = long_plan(dir.path());
    let db = dir.path().join("run.sqlite");
    let wal = dir.path().join("run.sqlite-wal");
    let child = halted_run(&plan, &db, None);
    let chattr = Command::new("chattr").arg("+i").arg(&wal).output();
    if !chattr.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("cannot make a file immutable here ({chattr:?}); the size-limited file test takes the same path");
        let out = resume(child);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        return;
    }
    let out = resume(child);
    let released = Command::new("chattr").arg("-i").arg(&wal).status().unwrap();
    assert!(released.success());
    failed_cleanly(&out, s(&db), "disk I/O error", &db);
}

/// A directory made read-only mid-run does not stop the store: SQLite
/// needs no new file once its files are open, so the run ends whole and
/// replays OK. (Run as `nobody` when the tests run as root, for whom
/// permissions do not bite.)
#[test]
fn a_directory_made_read_only_mid_run_does_not_stop_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let plan = long_plan(dir.path());
    let place = dir.path().join("place");
    std::fs::create_dir(&place).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root_user = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let nobody = 65_534;
    if root_user {
        std::os::unix::fs::chown(&place, Some(nobody), Some(nobody)).unwrap();
    }
    let db = place.join("run.sqlite");
    let child = halted_run(&plan, &db, root_user.then_some(nobody));
    std::fs::set_permissions(&place, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = resume(child);
    std::fs::set_permissions(&place, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let replayed = rehearse(&["replay", s(&db)]);
    assert_eq!(replayed.status.code(), Some(0), "{}", stdout(&replayed));
    assert!(stdout(&replayed).contains("events       60002 verified"), "{}", stdout(&replayed));
}

/// A store that cannot even be made (its scenario text alone is past the
/// size limit) is not left half-made: no file, exit 2, the store named.
#[test]
fn a_store_that_cannot_be_made_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = long_plan(dir.path());
    let db = dir.path().join("run.sqlite");
    let out = Command::new("sh")
        .args(["-c", r#"trap "" XFSZ; ulimit -f 200 && exec "$@""#, "sh", env!("CARGO_BIN_EXE_rehearse")])
        .args(["run", s(&plan), "--db", s(&db)])
        .stdout(Stdio::null())
        .output()
        .expect("sh runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("error: {}: disk I/O error", s(&db))), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["long.toml"], "nothing but the plan");
}
