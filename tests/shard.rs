//! Sharded `estimate` and `check` (`--shard I/N --out PART`) and `merge`:
//! the merged output is the unsharded output, byte for byte, whatever the
//! order of the parts; parts that do not make a whole are refused with
//! exit 2, naming the shard or the place.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{rehearse, root, stderr, stdout};

const PLAN: &str = "scenarios/go-live-weekend.toml";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `args` with `--shard i/n --out DIR/part-i` for each shard; the
/// parts' paths.
pub(crate) fn shards(dir: &Path, args: &[&str], n: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let part = dir.join(format!("part-{i}"));
            let shard = format!("{i}/{n}");
            let mut all = args.to_vec();
            all.extend(["--shard", &shard, "--out", s(&part)]);
            let out = rehearse(&all);
            assert_eq!(out.status.code(), Some(0), "{all:?}: {}", stderr(&out));
            assert!(stdout(&out).contains("bytes per run"), "{}", stdout(&out));
            part
        })
        .collect()
}

pub(crate) fn merge(parts: &[&PathBuf], extra: &[&str]) -> std::process::Output {
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| s(p)));
    args.extend(extra);
    rehearse(&args)
}

#[test]
fn a_merged_estimate_is_the_unsharded_one_byte_for_byte_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let common = ["estimate", PLAN, "--runs", "1200", "--seed", "11", "--fail-if", "p90 > 1000h"];
    let whole = rehearse(&[&common[..], &["--json"]].concat());
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let parts = shards(dir.path(), &common, 4);
    let merged = merge(&[&parts[2], &parts[0], &parts[3], &parts[1]], &["--json", "--threads", "2"]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&whole), "merged in a shuffled order");
    // Fault pricing, sampled runs and gates are all in it.
    let v: Value = serde_json::from_str(&stdout(&whole)).unwrap();
    assert!(v["faults"].as_array().unwrap().iter().any(|f| f["runs_lost"].as_u64().is_some()), "{v}");
    assert!(v["checkpoints"].is_object() && v["gates"][0]["expr"] == "p90 > 1000h", "{v}");
    // The text too.
    let text = rehearse(&[&common[..], &["--width", "80"]].concat());
    let merged_text = merge(&[&parts[1], &parts[3], &parts[0], &parts[2]], &["--width", "80"]);
    assert_eq!(stdout(&merged_text), stdout(&text));

    // The HTML page too, dated alike.
    let html = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
            .args(args)
            .current_dir(root())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    let (whole_page, merged_page) = (dir.path().join("whole.html"), dir.path().join("merged.html"));
    html(&[&common[..], &["--html", s(&whole_page)]].concat());
    html(&["merge", s(&parts[3]), s(&parts[2]), s(&parts[1]), s(&parts[0]), "--html", s(&merged_page)]);
    assert!(std::fs::read(&whole_page).unwrap() == std::fs::read(&merged_page).unwrap(), "the pages differ");

    // Uneven shards (runs not a multiple of the count): still the same.
    let dir3 = tempfile::tempdir().unwrap();
    let odd = ["estimate", PLAN, "--runs", "301", "--seed", "2", "--no-fault-costs"];
    let parts3 = shards(dir3.path(), &odd, 3);
    let whole3 = rehearse(&[&odd[..], &["--json"]].concat());
    assert_eq!(stdout(&merge(&[&parts3[1], &parts3[2], &parts3[0]], &["--json"])), stdout(&whole3));

    // A missing shard, a duplicated one, a part of another seed or plan.
    let out = merge(&[&parts[0], &parts[1], &parts[3]], &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("shard 2/4 missing"), "{}", stderr(&out));
    let out = merge(&[&parts[0], &parts[1], &parts[2], &parts[3], &parts[1]], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("shard 1/4 is given twice"), "{}", stderr(&out));
    let other = dir.path().join("other-seed");
    let out = rehearse(&[
        "estimate",
        PLAN,
        "--runs",
        "1200",
        "--seed",
        "12",
        "--fail-if",
        "p90 > 1000h",
        "--shard",
        "2/4",
        "--out",
        s(&other),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = merge(&[&parts[0], &parts[1], &other, &parts[3]], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("its seed is 12, the first part's is 11"), "{}", stderr(&out));
    let out = merge(&[&parts[0], &parts3[1]], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot be merged with"), "{}", stderr(&out));
}

#[test]
fn damaged_parts_are_refused_saying_where() {
    let dir = tempfile::tempdir().unwrap();
    let parts = shards(dir.path(), &["estimate", PLAN, "--runs", "400", "--no-fault-costs"], 2);
    let bytes = std::fs::read(&parts[1]).unwrap();
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = merge(&[&parts[0], &cut], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cut: truncated: the file ends inside block"), "{}", stderr(&out));
    let flipped = dir.path().join("flipped");
    let mut bad = bytes.clone();
    bad[bytes.len() - 100] ^= 1;
    std::fs::write(&flipped, &bad).unwrap();
    let out = merge(&[&flipped, &parts[0]], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("flipped: corrupted: block"), "{}", stderr(&out));
    let out = merge(&[&PathBuf::from(PLAN)], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a rehearse part file"), "{}", stderr(&out));
}

#[test]
fn no_output_replaces_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("plan.toml");
    std::fs::copy(root().join(PLAN), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let out = rehearse(&["estimate", s(&copy), "--runs", "10", "--shard", "0/1", "--out", s(&copy)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("refusing to overwrite"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    let parts = shards(dir.path(), &["estimate", s(&copy), "--runs", "10"], 2);
    let part = std::fs::read(&parts[0]).unwrap();
    let out = merge(&[&parts[0], &parts[1]], &["--html", s(&parts[0])]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("refusing to overwrite"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&parts[0]).unwrap(), part);
    // --shard needs --out, and I below N.
    assert_eq!(rehearse(&["estimate", PLAN, "--shard", "0/2"]).status.code(), Some(2));
    let out = rehearse(&["estimate", PLAN, "--shard", "2/2", "--out", s(&dir.path().join("x"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not below the shard count"), "{}", stderr(&out));
}

#[test]
fn a_merged_swarm_has_the_unsharded_counts_coverage_and_failures() {
    for plan in ["scenarios/ax2012-go-live.toml", "tests/data/wrong-recovery.toml"] {
        let dir = tempfile::tempdir().unwrap();
        let common = ["check", plan, "--swarm", "--runs", "800", "--seed", "5"];
        let whole = rehearse(&[&common[..], &["--json"]].concat());
        let parts = shards(dir.path(), &common, 4);
        let merged = merge(&[&parts[3], &parts[1], &parts[0], &parts[2]], &["--json"]);
        assert_eq!(merged.status.code(), whole.status.code(), "{plan}: {}", stderr(&merged));
        assert_eq!(stdout(&merged), stdout(&whole), "{plan}");
        let v: Value = serde_json::from_str(&stdout(&merged)).unwrap();
        assert_eq!(v["runs"], 800);
        assert!(v["coverage"]["reached"].as_u64().unwrap() > 0, "{v}");
    }
}

/// What the deploy recipes do, here: N shard processes at once, each
/// told its index by the array job's variable, then the merge.
#[test]
fn shard_processes_told_their_index_by_the_array_job_merge_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let common = ["check", "tests/data/wrong-recovery.toml", "--swarm", "--runs", "600", "--seed", "9"];
    let children: Vec<_> = (0..4)
        .map(|i| {
            let var = if i % 2 == 0 { "JOB_COMPLETION_INDEX" } else { "SLURM_ARRAY_TASK_ID" };
            let part = dir.path().join(format!("part-{i}"));
            let child = Command::new(env!("CARGO_BIN_EXE_rehearse"))
                .args(common)
                .args(["--shard", "env/4", "--out", s(&part)])
                .current_dir(root())
                .env_remove("JOB_COMPLETION_INDEX")
                .env_remove("SLURM_ARRAY_TASK_ID")
                .env(var, i.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (child, part)
        })
        .collect();
    let mut parts = Vec::new();
    for (child, part) in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        parts.push(part);
    }
    let merged = merge(&parts.iter().rev().collect::<Vec<_>>(), &["--json"]);
    let whole = rehearse(&[&common[..], &["--json"]].concat());
    assert_eq!(merged.status.code(), Some(1), "the plan's bug is found: {}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&whole));
    // Without the variable, env/N says what it looked for.
    let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(common)
        .args(["--shard", "env/4", "--out", s(&dir.path().join("none"))])
        .current_dir(root())
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID"), "{}", stderr(&out));
}

/// The Slurm recipe as written, with a stand-in for `sbatch` that runs
/// each job at once (the array's tasks one by one, then the merge): no
/// cluster here, but the scripts, their variables and their commands are
/// the ones a cluster runs.
#[test]
fn the_slurm_recipe_runs_its_shards_and_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let sbatch = bin.join("sbatch");
    std::fs::write(
        &sbatch,
        r#"#!/usr/bin/env bash
# A stand-in for Slurm's sbatch: runs the job at once.
array=; vars=; script=
for a in "$@"; do
  case $a in
    --array=*) array=${a#--array=} ;;
    --export=*) vars=${a#--export=} ;;
    --*) ;;
    *) script=$a ;;
  esac
done
IFS=, read -ra kv <<< "$vars"
for x in "${kv[@]}"; do [ "$x" = ALL ] || export "$x"; done
if [ -n "$array" ]; then
  for i in $(seq "${array%-*}" "${array#*-}"); do SLURM_ARRAY_TASK_ID=$i bash "$script" > /dev/null || exit 1; done
else
  bash "$script" || echo "exit $?" > "$OUT/merge.status"
fi
echo "$$"
"#,
    )
    .unwrap();
    std::process::Command::new("chmod").args(["+x", s(&sbatch)]).status().unwrap();
    let rehearse_dir = Path::new(env!("CARGO_BIN_EXE_rehearse")).parent().unwrap();
    let path = format!("{}:{}:{}", bin.display(), rehearse_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out_dir = dir.path().join("run");
    let plan = "tests/data/wrong-recovery.toml";
    let out = Command::new("bash")
        .args(["deploy/slurm/submit.sh", plan, "800", "4", s(&out_dir)])
        .current_dir(root())
        .env("PATH", path)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("report.json"), "{}", stdout(&out));
    for i in 0..4 {
        assert!(out_dir.join(format!("part-{i}")).is_file(), "part {i}");
    }
    assert_eq!(std::fs::read_to_string(out_dir.join("merge.status")).unwrap().trim(), "exit 1", "the bug is found");
    let mut merged: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    let whole = rehearse(&["check", plan, "--swarm", "--runs", "800", "--json"]);
    let mut whole: Value = serde_json::from_str(&stdout(&whole)).unwrap();
    assert_eq!(merged["saved"].as_array().unwrap().len(), 1, "{merged}");
    merged["saved"] = Value::Null;
    whole["saved"] = Value::Null;
    assert_eq!(merged, whole);
}

/// A plan with people (`[[resource]]`): the call sheet of the sampled runs
/// travels in the parts, so the merged estimate is still the unsharded one.
#[test]
fn a_merged_estimate_keeps_the_call_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("people.toml");
    std::fs::write(
        &plan,
        r#"[scenario]
name = "people"
downtime_begins_at = "2027-03-05T18:00:00"
time_zone = "Europe/Paris"
[[resource]]
id = "dba"
capacity = 1
[[step]]
id = "off"
duration = "10m"
downtime = "begins"
[[step]]
id = "backup"
after = ["off"]
duration = { lognormal = { median = "1h", p90 = "2h" } }
needs = ["dba"]
[[step]]
id = "toolkit"
after = ["off"]
duration = { lognormal = { median = "1h", p90 = "90m" } }
needs = ["dba"]
[[step]]
id = "on"
after = ["backup", "toolkit"]
duration = "5m"
downtime = "ends"
"#,
    )
    .unwrap();
    let common = ["estimate", s(&plan), "--runs", "500", "--seed", "3"];
    let whole = rehearse(&[&common[..], &["--json"]].concat());
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let v: Value = serde_json::from_str(&stdout(&whole)).unwrap();
    assert!(v["resources"].as_array().is_some_and(|r| !r.is_empty()), "{v}");
    let parts = shards(dir.path(), &common, 3);
    let merged = merge(&[&parts[1], &parts[2], &parts[0]], &["--json"]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&whole));
}
