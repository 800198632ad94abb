//! Stores verify where nothing can be written: `replay` and `sql` open a
//! store read-only, immutable where SQLite cannot make its `-shm` file,
//! in a read-only directory (the binary run as an unprivileged user when
//! the tests run as root, for whom permissions do not bite) and on a
//! read-only bind mount (in a private mount namespace, where `unshare`
//! may make one).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{rehearse, root, stderr, stdout};

const SCENARIO: &str = "scenarios/ax2012-data-upgrade-dev.toml";
const DOC_QUERY: &str =
    "SELECT StartTime, EndTime, Steps, SubSteps, Status FROM [DBUPGRADE].[DATAUPGRADESTATUS] ORDER BY EndTime DESC";
/// The unprivileged user root runs the binary as.
const NOBODY: u32 = 65_534;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn text(o: &Output) -> String {
    stdout(o) + &stderr(o)
}

/// Runs the binary as a user who cannot write `ro` (set `a-w`): as
/// `nobody` when the tests run as root.
fn as_reader(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    cmd.args(args).current_dir(root()).env_remove("RUST_LOG");
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.output().expect("the rehearse binary runs")
}

/// The files in `dir`, with their bytes.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    files.sort();
    files
}

/// A finished store, the store of a run killed before its first batch
/// (its transactions in its `-wal`, with the `-shm`), that store without
/// its `-shm`, and a weekend log, in `dir/ro`.
fn stores(dir: &Path) -> PathBuf {
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    let out = rehearse(&["run", SCENARIO, "--seed", "3", "--db", s(&ro.join("pct%41 a?b#c.sqlite"))]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let killed = dir.join("killed.sqlite");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["run", SCENARIO, "--seed", "3", "--db", s(&killed), "--halt-store-after-batches", "0"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = std::io::BufReader::new(child.stderr.take().unwrap());
    let halted = std::io::BufRead::lines(said).map_while(Result::ok).any(|l| l == "store halted after 0 batches");
    assert!(halted, "the run said its store halted");
    child.kill().unwrap();
    child.wait().unwrap();
    for (name, suffixes) in [("killed", &["", "-wal", "-shm"][..]), ("no-shm", &["", "-wal"][..])] {
        for suffix in suffixes {
            std::fs::copy(format!("{}{suffix}", s(&killed)), ro.join(format!("{name}.sqlite{suffix}"))).unwrap();
        }
    }
    let plan = dir.join("plan.toml");
    std::fs::copy(root().join(SCENARIO), &plan).unwrap();
    let log = ro.join("weekend.sqlite");
    let out = rehearse(&["track", s(&log), "init", s(&plan), "--at", "2022-05-20T04:00:00+00:00", "--by", "ana"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    ro
}

/// What the binary says of the stores in `ro`, run by `run`: the finished
/// store and the log verify (OK, exit 0) and answer `sql`; the killed one
/// is incomplete (its `-wal` read through its `-shm`); without its `-shm`
/// it is a clear error naming the `-wal`.
fn verified_where_nothing_can_be_written(ro: &Path, run: impl Fn(&[&str]) -> Output) {
    let finished = ro.join("pct%41 a?b#c.sqlite");
    let o = run(&["replay", s(&finished)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains(": OK") && stdout(&o).contains("read         immutable"), "{}", text(&o));
    let o = run(&["sql", s(&finished), DOC_QUERY, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(42));
    let o = run(&["replay", s(&ro.join("weekend.sqlite"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains(": OK"), "{}", text(&o));
    let o = run(&["replay", s(&ro.join("killed.sqlite"))]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).contains("incomplete: a valid prefix of 0 events"), "{}", text(&o));
    let o = run(&["sql", s(&ro.join("killed.sqlite")), "SELECT value FROM run_meta WHERE key = 'seed'", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("\"3\""), "{}", text(&o));
    let o = run(&["replay", s(&ro.join("no-shm.sqlite"))]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no-shm.sqlite-wal cannot be read where it is"), "{}", text(&o));
}

#[test]
fn stores_verify_in_a_read_only_directory() {
    let dir = tempfile::tempdir().unwrap();
    let ro = stores(dir.path());
    let before = contents(&ro);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // The reader cannot make a file there (as root, `a-w` would not stop it).
    let o = as_reader(&["run", SCENARIO, "--db", s(&ro.join("new.sqlite"))]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains(&format!("{}: Permission denied", s(&ro.join("new.sqlite")))), "{}", text(&o));
    verified_where_nothing_can_be_written(&ro, as_reader);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(contents(&ro), before, "nothing written, nothing made");
}

/// On a read-only bind mount, when this machine lets the test make one
/// in a private mount namespace (`unshare -m`; nothing is mounted outside
/// it). Where it cannot, the read-only directory above takes the same
/// code path (SQLite cannot make the `-shm`), and this test checks only
/// that a store reads as usual.
#[test]
fn stores_verify_on_a_read_only_mount() {
    let dir = tempfile::tempdir().unwrap();
    let ro = stores(dir.path());
    let before = contents(&ro);
    let mount = dir.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let on_mount = |args: &[&str]| -> Output {
        let args: Vec<String> = args.iter().map(|a| a.replace(s(&ro), s(&mount))).collect();
        Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                r#"mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@""#,
            ])
            .args(["sh", s(&ro), s(&mount), env!("CARGO_BIN_EXE_rehearse")])
            .args(&args)
            .current_dir(root())
            .env_remove("RUST_LOG")
            .output()
            .expect("unshare runs")
    };
    let probe = on_mount(&["scenarios"]);
    if stderr(&probe).contains("unshare") || stderr(&probe).contains("mount") {
        eprintln!("no read-only mount here ({}); the read-only directory test covers the code path", stderr(&probe));
        let o = rehearse(&["replay", s(&ro.join("pct%41 a?b#c.sqlite"))]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        return;
    }
    let o = on_mount(&["run", SCENARIO, "--db", s(&ro.join("new.sqlite"))]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("Read-only file system"), "{}", text(&o));
    verified_where_nothing_can_be_written(&ro, on_mount);
    assert_eq!(contents(&ro), before, "nothing written, nothing made");
}
