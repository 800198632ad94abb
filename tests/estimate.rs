//! Downtime estimation: the same numbers for any thread count, gates for
//! CI pipelines, and quantiles that follow from the plan.

use serde_json::Value;

use crate::support::{rehearse, stderr, stdout};

fn estimate_json(args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["estimate"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = rehearse(&all);
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
    (o.status.code(), v, stderr(&o))
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let base = ["scenarios/self-service-upgrade.toml", "--runs", "3000", "--seed", "5"];
    let one = rehearse(&[&["estimate"][..], &base, &["--threads", "1", "--json"]].concat());
    let two = rehearse(&[&["estimate"][..], &base, &["--threads", "2", "--json"]].concat());
    let three = rehearse(&[&["estimate"][..], &base, &["--threads", "3", "--json"]].concat());
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(stdout(&one), stdout(&two));
    assert_eq!(stdout(&one), stdout(&three));
    let v: Value = serde_json::from_str(&stdout(&one)).unwrap();
    let q = &v["downtime"]["committed"]["quantiles"];
    let (p50, p90, p99) = (q["p50_ms"].as_u64().unwrap(), q["p90_ms"].as_u64().unwrap(), q["p99_ms"].as_u64().unwrap());
    assert!(p50 <= p90 && p90 <= p99, "{q}");
    let ci = v["downtime"]["committed"]["p90_ci95_ms"].as_array().unwrap();
    assert!(ci[0].as_u64().unwrap() <= p90 && p90 <= ci[1].as_u64().unwrap());
    let total: u64 = v["outcomes"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(total, 3000);
    // The data upgrade's SyncSchema drives its downtime most.
    let (_, v, _) = estimate_json(&["scenarios/ax2012-data-upgrade-dev.toml", "--runs", "2000", "--no-fault-costs"]);
    let steps = v["steps"].as_array().unwrap();
    let top = steps
        .iter()
        .max_by(|a, b| {
            let h = |s: &Value| s["mean_long_minus_short_ms"].as_f64().unwrap_or(0.0);
            h(a).total_cmp(&h(b))
        })
        .unwrap();
    assert_eq!(top["id"], "DbSync.SyncSchema", "{top}");
    // The same step leads by rank correlation too.
    let top_rho = steps
        .iter()
        .max_by(|a, b| a["sensitivity"].as_f64().unwrap_or(0.0).total_cmp(&b["sensitivity"].as_f64().unwrap_or(0.0)))
        .unwrap();
    assert_eq!(top_rho["id"], "DbSync.SyncSchema", "{top_rho}");
}

#[test]
fn gates_exit_1_when_they_hold_and_0_when_not() {
    let s = "scenarios/self-service-upgrade.toml";
    let (code, v, err) = estimate_json(&[s, "--runs", "1000", "--no-fault-costs", "--fail-if", "p90 > 1h"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(v["gates"][0]["failed"], true);
    let (code, v, _) = estimate_json(&[
        s,
        "--runs",
        "1000",
        "--no-fault-costs",
        "--fail-if",
        "p90 > 40h",
        "--fail-if",
        "p_success < 0.5",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["gates"][1]["failed"], false);
    // p_fit counted rolled-back go-lives as fitting: refused, with the way out.
    let o = rehearse(&["estimate", s, "--fail-if", "p_fit < 0.9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("use p_success"), "{}", stderr(&o));
    let o = rehearse(&["estimate", s, "--fail-if", "p42 > 1h"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown metric"), "{}", stderr(&o));
}

#[test]
fn a_plan_without_randomness_has_one_downtime() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("fixed.toml");
    std::fs::write(
        &plan,
        "[scenario]\nname = \"fixed\"\nwindow = \"3h\"\n[[step]]\nid = \"off\"\nduration = \"2h\"\ndowntime = \"begins\"\n[[step]]\nid = \"on\"\nafter = [\"off\"]\nduration = \"30m\"\ndowntime = \"ends\"\n",
    )
    .unwrap();
    let (code, v, err) = estimate_json(&[plan.to_str().unwrap(), "--runs", "500"]);
    assert_eq!(code, Some(0), "{err}");
    for q in ["p50_ms", "p90_ms", "p99_ms"] {
        assert_eq!(v["downtime"]["committed"]["quantiles"][q], 9_000_000, "{q}");
    }
    assert_eq!(v["p_success"], 1.0);
    assert_eq!(v["downtime"]["committed"]["p90_converged_after_runs"], 100);
    assert_eq!(v["downtime"]["rolled_back"]["runs"], 0);
    assert_eq!(v["go_live_ms"]["p90"], 9_000_000);
}

#[test]
fn compare_credits_the_change_to_the_step_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let a = crate::support::scenario_path("self-service-upgrade.toml");
    let text = std::fs::read_to_string(&a).unwrap();
    let faster = text.replace(
        "per_gb = { pert = [\"30s\", \"1m\", \"3m\"] }  # ASSUMPTION\n",
        "per_gb = { pert = [\"20s\", \"40s\", \"2m\"] }  # faster storage\n",
    );
    assert_ne!(faster, text);
    let b = dir.path().join("b.toml");
    std::fs::write(&b, &faster).unwrap();
    let same = dir.path().join("same.toml");
    std::fs::write(&same, &text).unwrap();
    let run = |other: &std::path::Path| {
        let o = rehearse(&["compare", a.to_str().unwrap(), other.to_str().unwrap(), "--runs", "2000", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()
    };
    // The same plan: no difference at all, nothing changed.
    let v = run(&same);
    for d in v["diffs"].as_array().unwrap() {
        assert_eq!(d["b_minus_a"].as_f64().unwrap(), 0.0, "{d}");
    }
    assert!(v["drivers"].as_array().unwrap().is_empty());
    // Faster data upgrades: a shorter P90, surely, and the data upgrade
    // steps are what changed.
    let v = run(&b);
    let p90 = v["diffs"].as_array().unwrap().iter().find(|d| d["metric"] == "p90").unwrap();
    assert_eq!(v["schema"], 3);
    assert!(p90["ci95"][1].as_f64().unwrap() < 0.0, "{p90}");
    let first = &v["drivers"][0]["step"];
    assert!(first == "prod-data-upgrade" || first == "sandbox-data-upgrade", "{v}");
}

#[test]
fn every_run_of_an_estimate_is_reproducible_with_run() {
    use rehearse_core::Mode;
    use rehearse_sim::estimate::{EstimateOptions, estimate};
    use rehearse_sim::{NullSink, Plan, RunOptions, Simulator};
    let (text, s) = crate::support::load("self-service-upgrade.toml");
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let opts = EstimateOptions { runs: 300, seed: 9, threads: 2, fault_costs: false, ..Default::default() };
    let e = estimate(&plan, &opts, s.meta.window, &std::sync::atomic::AtomicU64::new(0)).unwrap();
    let mut sim = Simulator::new(&plan);
    for k in [0u64, 1, 150, 299] {
        let run = sim.run(&RunOptions { run: k, ..RunOptions::new(9, Mode::Random) }, &mut NullSink).unwrap();
        assert_eq!(run.downtime.as_ms(), e.downtime_by_run[k as usize], "run {k}");
    }
    // And through the CLI.
    let o = rehearse(&["run", "scenarios/self-service-upgrade.toml", "--seed", "9", "--run", "150", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["downtime_ms"].as_u64().unwrap(), e.downtime_by_run[150]);
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let o = rehearse(&[
        "estimate",
        "scenarios/self-service-upgrade.toml",
        "--runs",
        "2000",
        "--no-fault-costs",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 6, "S-curve, histogram, drivers, two Gantt charts, convergence");
    for needed in [
        "Point of no return",
        "The P50 committed run (run ",
        "The P90 committed run (run ",
        "window 2d 00:00:00",
        "P(success): committed inside 2d 00:00:00",
        "rolled back",
        "Go/no-go checkpoints",
        "<table>",
        "dvt",
    ] {
        assert!(html.contains(needed), "missing {needed:?}");
    }
    for banned in ["<script", "http://", "https://", "<link", "<img"] {
        let hits: Vec<_> =
            html.match_indices(banned).filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg")).collect();
        assert!(hits.is_empty(), "external or scripted content: {banned}");
    }
}

/// `estimate --html` with the page's date fixed by `SOURCE_DATE_EPOCH`.
fn page(scenario: &str, extra: &[&str], out: &std::path::Path) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["estimate", scenario, "--runs", "2000", "--seed", "3", "--no-fault-costs", "--html"])
        .arg(out)
        .args(extra)
        .current_dir(crate::support::root())
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn the_page_opens_with_the_verdict_dated_with_the_rollback_share_and_says_what_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let html = page("scenarios/go-live-weekend.toml", &["--threads", "1"], &dir.path().join("a.html"));
    let o = rehearse(&[
        "estimate",
        "scenarios/go-live-weekend.toml",
        "--runs",
        "2000",
        "--seed",
        "3",
        "--no-fault-costs",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rollback = format!("Chance of rollback: {:.1} %.", 100.0 * v["p_rollback"].as_f64().unwrap());
    let success = format!("Chance of finishing by Monday 06:00: {:.1} %.", 100.0 * v["p_success"].as_f64().unwrap());
    // The banner comes first, before any chart.
    let banner = &html[html.find("<div class=\"verdict").expect("a verdict banner")..];
    let banner = &banner[..banner.find("</div>").unwrap()];
    assert!(html.find("class=\"verdict").unwrap() < html.find("<svg").unwrap());
    for needed in [
        "Go-live forecast Sunday ",
        " (P50), ",
        success.as_str(),
        rollback.as_str(),
        "Last safe rollback decision: Sunday ",
    ] {
        assert!(banner.contains(needed), "the banner does not say {needed:?}: {banner}");
    }
    // Dated forecasts, the same dates as the JSON's.
    for q in ["p50", "p80", "p90"] {
        let date = v["go_live"][q].as_str().unwrap();
        let shown = rehearse_core::anchor::instant(date, None).unwrap().strftime("%a %Y-%m-%d %H:%M").to_string();
        assert!(html.contains(&shown), "the {q} go-live date {shown} is not on the page");
    }
    let version = format!("Made by rehearse {}", env!("CARGO_PKG_VERSION"));
    for needed in [
        version.as_str(),
        "scenario digest <code>",
        "seed 3, 2000 runs",
        "generated 2027-01-15 08:00:00 UTC",
        "Fault register",
        "Data upgrade package",
        "<h2>Convergence</h2>",
        "@media print",
        "window ends Mon 06:00",
    ] {
        assert!(html.contains(needed), "the page does not show {needed:?}");
    }
    // Identical inputs and date: identical bytes, whatever the threads.
    let again = page("scenarios/go-live-weekend.toml", &["--threads", "3"], &dir.path().join("b.html"));
    assert!(html == again, "the page differs between two identical estimates");
}

#[test]
fn the_compare_page_shows_both_plans_and_what_changed_in_their_structure() {
    let dir = tempfile::tempdir().unwrap();
    let a = crate::support::scenario_path("go-live-weekend.toml");
    let text = std::fs::read_to_string(&a).unwrap();
    let changed = text
        .replace("after = [\"config\", \"batch-setup\", \"security\"]", "after = [\"config\", \"security\"]")
        + "\n[[step]]\nid = \"dry-run\"\nname = \"A dry run of the interfaces\"\nafter = [\"post-sync\"]\nduration = \"1h\"\n";
    assert_ne!(changed, text);
    let b = dir.path().join("b.toml");
    std::fs::write(&b, changed).unwrap();
    let out = dir.path().join("compare.html");
    let o = rehearse(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--runs",
        "300",
        "--html",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(&out).unwrap();
    for needed in [
        "<div class=\"pair\">",
        "<h2>A: Production go-live weekend (dated)</h2>",
        "<h2>B: Production go-live weekend (dated)</h2>",
        "Steps added</b> (1)",
        "<code>dry-run</code>",
        "Dependencies added</b> (1)",
        "<code>dry-run after post-sync</code>",
        "Dependencies removed</b> (1)",
        "<code>smoke-test after batch-setup</code>",
        "go-live P90 (into the downtime)",
        "Chance of rollback: ",
    ] {
        assert!(html.contains(needed), "the compare page does not show {needed:?}");
    }
    assert!(!html.contains("<script"), "no script");
}

#[test]
fn pricing_a_fault_on_the_runs_it_struck_equals_rerunning_every_run() {
    use rehearse_core::{Mode, Outcome};
    use rehearse_sim::estimate::{EstimateOptions, estimate};
    use rehearse_sim::{FaultMode, NullSink, Plan, RunOptions, Simulator};
    let (text, s) = crate::support::load("self-service-upgrade.toml");
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let runs = 400u64;
    let window = s.meta.window.unwrap().as_ms();
    let opts = EstimateOptions { runs, seed: 3, threads: 2, ..Default::default() };
    let e = estimate(&plan, &opts, s.meta.window, &std::sync::atomic::AtomicU64::new(0)).unwrap();
    let mut sim = Simulator::new(&plan);
    let nearest = |v: &mut Vec<u64>, q: f64| {
        v.sort_unstable();
        v[((q * v.len() as f64).ceil() as usize).max(1) - 1] as i64
    };
    for stat in &e.faults {
        let without: Vec<(Outcome, u64)> = (0..runs)
            .map(|k| {
                let o = RunOptions { run: k, ..RunOptions::new(3, Mode::Random) }
                    .with_faults(FaultMode::Without(stat.fault));
                let r = sim.run(&o, &mut NullSink).unwrap();
                (r.outcome, r.downtime.as_ms())
            })
            .collect();
        let success = |o: Outcome, d: u64| o == Outcome::Committed && d <= window;
        let with_n = (0..runs as usize).filter(|k| success(e.outcome_by_run[*k], e.downtime_by_run[*k])).count();
        let without_n = without.iter().filter(|(o, d)| success(*o, *d)).count();
        let shift = 100.0 * (with_n as f64 - without_n as f64) / runs as f64;
        assert!((stat.p_success_net_shift.unwrap() - shift).abs() < 1e-9, "fault {:?}", stat.fault);
        assert!(stat.p_success_shift.unwrap() <= 0.0, "a fault that only adds work never helps: {stat:?}");
        // Over the runs that commit both ways.
        let both: Vec<usize> = (0..runs as usize)
            .filter(|k| e.outcome_by_run[*k] == Outcome::Committed && without[*k].0 == Outcome::Committed)
            .collect();
        let mut a: Vec<u64> = both.iter().map(|k| e.downtime_by_run[*k]).collect();
        let mut b: Vec<u64> = both.iter().map(|k| without[*k].1).collect();
        let p90 = nearest(&mut a.clone(), 0.9) - nearest(&mut b.clone(), 0.9);
        assert_eq!(stat.committed_p90_shift_ms.unwrap(), p90, "fault {:?}", stat.fault);
        assert_eq!(stat.committed_p50_shift_ms.unwrap(), nearest(&mut a, 0.5) - nearest(&mut b, 0.5));
        assert!(p90 >= 0, "a fault adds downtime to the runs that commit either way: {stat:?}");
    }
}

#[test]
fn a_go_no_go_rule_of_the_plan_changes_the_estimate_as_computed_by_hand() {
    // tests/data/decision.toml: upgrade U ~ uniform(10h, 20h) after a 1 h
    // step; roll back (2 h, no reaction) unless it is done 15 h into the
    // downtime: P(rollback) = P(U > 14h) = 0.6, every outage exactly 17 h,
    // the committed runs 12 h to 16 h.
    let (code, v, err) = estimate_json(&["tests/data/decision.toml", "--runs", "4000", "--no-fault-costs"]);
    assert_eq!(code, Some(0), "{err}");
    let p_rollback = v["p_rollback"].as_f64().unwrap();
    // Binomial sd at n = 4000: 0.0077; four of them.
    assert!((p_rollback - 0.6).abs() < 0.031, "{p_rollback}");
    assert_eq!(v["p_commit"].as_f64().unwrap() + p_rollback, 1.0);
    assert_eq!(v["p_success"], v["p_commit"], "every committed run fits the 18 h window");
    let h = 3_600_000u64;
    let outage = &v["downtime"]["rolled_back"]["outage_quantiles"];
    for q in ["p50_ms", "p90_ms", "p99_ms"] {
        assert_eq!(outage[q], 17 * h, "{q}");
    }
    assert_eq!(v["downtime"]["rolled_back"]["back_within_window"], 1.0);
    let committed = &v["downtime"]["committed"];
    assert!(committed["max_ms"].as_u64().unwrap() <= 16 * h, "{committed}");
    assert!(committed["quantiles"]["p50_ms"].as_u64().unwrap() >= 12 * h, "{committed}");
    // Fewer than half the runs go live: the median go-live never comes.
    assert_eq!(v["go_live_ms"]["p50"], Value::Null);
    // The same plan without the rule: every run commits, 60 % inside the window.
    let text = std::fs::read_to_string("tests/data/decision.toml").unwrap();
    let cut = text.find("\n[[decision]]").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("no-rule.toml");
    std::fs::write(&plain, text[..cut].to_string() + "[recovery.rollback]\naction = \"rollback\"\nduration = \"2h\"\n")
        .unwrap();
    let (_, w, err) = estimate_json(&[plain.to_str().unwrap(), "--runs", "4000", "--no-fault-costs"]);
    assert_eq!(w["p_commit"], 1.0, "{err}");
    let p = w["p_success"].as_f64().unwrap();
    assert!((p - 0.6).abs() < 0.031, "{p}");
    // A run the rule rolls back says so, and never that it fits.
    let o = rehearse(&["run", "tests/data/decision.toml", "--seed", "3"]);
    let out = stdout(&o);
    assert!(out.contains("NO-GO") && out.contains("the go-live FAILED (rolled back)"), "{out}");
    assert!(!out.contains("fits") && !out.contains("to spare"), "{out}");
}

#[test]
fn a_plan_without_downtime_is_estimated_by_its_elapsed_time() {
    let (code, v, _) = estimate_json(&["scenarios/code-upgrade.toml", "--runs", "300"]);
    assert_eq!(code, Some(0));
    assert_eq!(v["schema"], 3);
    assert_eq!(v["measure"], "elapsed");
    assert!(v.get("downtime").is_none(), "{v}");
    // Days of developer work, not zero.
    assert!(v["elapsed"]["committed"]["quantiles"]["p50_ms"].as_u64().unwrap() > 86_400_000, "{v}");
    let (_, v, _) = estimate_json(&["scenarios/hotfix.toml", "--runs", "100"]);
    assert_eq!(v["measure"], "downtime");
    assert!(v["downtime"]["committed"]["quantiles"]["p50_ms"].as_u64().is_some());
}

/// The bundled dated go-live weekend, which rolls back in about 5 % of
/// runs: the numbers a steering committee decides on (issue #14).
#[test]
fn the_go_live_weekend_is_estimated_in_outcomes_and_dates() {
    let s = "scenarios/go-live-weekend.toml";
    let (code, v, err) = estimate_json(&[s, "--runs", "4000"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["schema"], 3);
    let (p_success, p_commit, p_rollback) =
        (v["p_success"].as_f64().unwrap(), v["p_commit"].as_f64().unwrap(), v["p_rollback"].as_f64().unwrap());
    assert!((0.02..0.10).contains(&p_rollback), "a plan that rolls back in about 5 % of runs: {p_rollback}");
    assert!(p_success <= p_commit, "{p_success} > {p_commit}");
    // No fault shows a negative cost from ending runs early: none shortens
    // the committed runs, and a fault raises P(success) only through the
    // runs it rescues (below), which are counted apart.
    for f in v["faults"].as_array().unwrap() {
        let (lost, rescued) = (f["runs_lost"].as_u64().unwrap(), f["runs_rescued"].as_u64().unwrap());
        let (shift, net) = (f["p_success_shift"].as_f64().unwrap(), f["p_success_net_shift"].as_f64().unwrap());
        assert!((shift + 100.0 * lost as f64 / 4000.0).abs() < 1e-9, "{f}");
        assert!((net - 100.0 * (rescued as f64 - lost as f64) / 4000.0).abs() < 1e-9, "{f}");
        assert!(shift <= 0.0, "no fault shows a negative cost: {f}");
        assert!(f["committed_p50_shift_ms"].as_i64().unwrap() >= 0, "{f}");
        assert!(f["committed_p90_shift_ms"].as_i64().unwrap() >= 0, "{f}");
    }
    // A rescued run is one whose failure came past the rollback's 40 h
    // deadline, where the plan fixes forward: with the fault, the run hands
    // its rollback over; without it, the same run rolls back.
    {
        use rehearse_core::{Action, Mode, Outcome};
        use rehearse_sim::{FaultMode, NullSink, Plan, RunOptions, Simulator};
        let (text, sc) = crate::support::load("go-live-weekend.toml");
        let plan = Plan::new(&sc, rehearse_sim::digest(&text));
        let mut sim = Simulator::new(&plan);
        let w = sc.meta.window.unwrap();
        let package = sc.faults.iter().position(|f| f.id == "package").unwrap();
        let rescued = v["faults"][package]["runs_rescued"].as_u64().unwrap();
        let mut seen = 0;
        for k in 0..4000 {
            let o = RunOptions { run: k, ..RunOptions::new(0, Mode::Random) };
            let with = sim.run(&o, &mut NullSink).unwrap();
            let without = sim
                .run(&o.clone().with_faults(FaultMode::Without(rehearse_core::FaultIdx(package as u32))), &mut NullSink)
                .unwrap();
            let ok = |r: &rehearse_sim::RunSummary| r.outcome == Outcome::Committed && r.downtime <= w;
            if ok(&with) && !ok(&without) {
                seen += 1;
                assert_eq!(without.outcome, Outcome::RolledBack, "run {k}");
                let handed_over = with.recoveries.windows(2).any(|p| {
                    p[0].2 == Action::Rollback && p[1].2 != Action::Rollback && (p[0].0, p[0].1) == (p[1].0, p[1].1)
                });
                assert!(handed_over, "run {k}: {:?}", with.recoveries);
            }
        }
        assert_eq!(seen, rescued);
    }
    let rollbacks: f64 = ["smoke-test-failed", "validation"]
        .iter()
        .map(|id| {
            v["faults"].as_array().unwrap().iter().find(|f| f["id"] == *id).unwrap()["p_success_shift"]
                .as_f64()
                .unwrap()
        })
        .sum();
    assert!(rollbacks < -2.0, "the faults that roll back cost points of success: {rollbacks}");
    // The fixed 30-minute go/no-go meeting drives nothing.
    let mut steps: Vec<&Value> = v["steps"].as_array().unwrap().iter().collect();
    let meeting = steps.iter().find(|s| s["id"] == "go-no-go").unwrap();
    assert_eq!(meeting["mean_long_minus_short_ms"], Value::Null, "{meeting}");
    steps.sort_by(|a, b| {
        let h = |s: &Value| s["mean_long_minus_short_ms"].as_f64().unwrap_or(0.0).abs();
        h(b).total_cmp(&h(a))
    });
    assert_eq!(steps[0]["id"], "data-upgrade");
    assert!(steps[..5].iter().all(|s| s["id"] != "go-no-go"));
    // Dated in the plan's +01:00, the go-live quantiles in order.
    assert_eq!(v["downtime_begins_at"], "2027-03-05T18:00:00+01:00");
    assert_eq!(v["window_end"], "2027-03-08T06:00:00+01:00");
    let live = &v["go_live"];
    let (p50, p90) = (live["p50"].as_str().unwrap(), live["p90"].as_str().unwrap());
    assert!(p50.starts_with("2027-03-0") && p50.ends_with("+01:00") && p50 < p90, "{live}");
    assert!(v["point_of_no_return"]["latest_rollback_start"].as_str().unwrap().ends_with("+01:00"));
    // The plan's own 40 h rollback deadline is stated beside the point of no return.
    let dl = &v["point_of_no_return"]["plan_deadlines"][0];
    assert_eq!(
        (dl["policy"].as_str(), dl["deadline_ms"].as_u64(), dl["agrees"].as_bool()),
        (Some("rollback"), Some(40 * 3_600_000), Some(true))
    );
    // The recommended checkpoint rolls back far fewer runs needlessly than
    // "the last step by the point of no return".
    let c = &v["checkpoints"];
    let (rec, naive) = (&c["recommended"], &c["naive"]);
    assert!(rec.is_object() && naive.is_object(), "{c}");
    let needless = |r: &Value| r["needless"].as_f64().unwrap();
    assert!(needless(rec) * 4.0 < needless(naive), "recommended {rec}, naive {naive}");
    assert!(rec["saved"].as_f64().unwrap() > needless(rec), "{rec}");
    assert!(rec["p_success"].as_f64().unwrap() > naive["p_success"].as_f64().unwrap(), "{c}");
    // The text says the same, dated.
    let o = rehearse(&["estimate", s, "--runs", "4000", "--no-fault-costs"]);
    let text = stdout(&o);
    for needed in [
        "go live inside the 2d 12:00:00 window",
        "live by",
        "+01:00",
        "<- recommended",
        "needless",
        "(naive: the last step typically done by the point of no return)",
        "agrees",
    ] {
        assert!(text.contains(needed), "missing {needed:?} in\n{text}");
    }
    assert!(!text.contains("fits in"), "{text}");
}

/// A plan that marks its milestones has its checkpoints priced there.
#[test]
fn checkpoints_are_priced_at_the_milestones_a_plan_marks() {
    let text = std::fs::read_to_string("scenarios/go-live-weekend.toml").unwrap();
    let marked = text
        .replace("id = \"data-upgrade\"\n", "id = \"data-upgrade\"\nmilestone = true\n")
        .replace("id = \"business-validation\"\n", "id = \"business-validation\"\nmilestone = true\n");
    assert_ne!(marked, text);
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("marked.toml");
    std::fs::write(&plan, marked).unwrap();
    let (code, v, err) = estimate_json(&[plan.to_str().unwrap(), "--runs", "2000", "--no-fault-costs"]);
    assert_eq!(code, Some(0), "{err}");
    let steps: Vec<&str> =
        v["checkpoints"]["rules"].as_array().unwrap().iter().map(|r| r["step"].as_str().unwrap()).collect();
    let mut sorted = steps.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["business-validation", "data-upgrade"], "{steps:?}");
    // Unmarked, every step on the critical path is a candidate.
    let (_, w, _) = estimate_json(&["scenarios/go-live-weekend.toml", "--runs", "2000", "--no-fault-costs"]);
    assert!(w["checkpoints"]["rules"].as_array().unwrap().len() > 5, "{}", w["checkpoints"]);
}

/// A run past its limits stops the estimate with one error naming the
/// run: the earliest failing run, whatever the thread count (each thread
/// stops at its own first failure; here the earliest falls in the second
/// block of runs, which a second thread runs).
#[test]
fn the_failing_run_reported_does_not_depend_on_the_thread_count() {
    use rehearse_core::SimDuration;
    use rehearse_sim::estimate::{EstimateError, EstimateOptions, estimate};
    use rehearse_sim::{Limits, NullSink, Plan, RunOptions, Simulator};

    let (text, s) = crate::support::load("self-service-upgrade.toml");
    let plan = Plan::new(&s, rehearse_sim::digest(&text));
    let (seed, runs) = (3, 2_000u64);
    let mut sim = Simulator::new(&plan);
    let ends: Vec<u64> = (0..runs)
        .map(|k| {
            let opts = RunOptions { run: k, ..RunOptions::new(seed, rehearse_core::Mode::Random) };
            sim.run(&opts, &mut NullSink).unwrap().end.as_ms()
        })
        .collect();
    // No run of the first 600 exceeds the limit; some later ones do.
    let limit = *ends[..600].iter().max().unwrap();
    let first_past = (0..runs).find(|k| ends[*k as usize] > limit).expect("a later run runs longer");
    assert!(first_past >= 600);
    for threads in [1, 2, 3] {
        let opts = EstimateOptions {
            runs,
            seed,
            threads,
            fault_costs: false,
            limits: Limits { max_time: SimDuration(limit), ..Limits::default() },
            ..Default::default()
        };
        match estimate(&plan, &opts, s.meta.window, &std::sync::atomic::AtomicU64::new(0)) {
            Err(EstimateError::Run { run, .. }) => assert_eq!(run, first_past, "{threads} threads"),
            other => panic!("{threads} threads: expected run {first_past} to fail, got {:?}", other.map(|e| e.runs)),
        }
    }
}

/// A run that only fails without a fault (pricing it) stops the estimate
/// as a pass of its own for that fault would: the first fault with a
/// failing run, at its earliest run, whatever the thread count; the main
/// pass prices as it goes, keeping each run's first draws.
#[test]
fn a_run_failing_without_a_fault_is_reported_as_its_pricing_would() {
    use rehearse_core::SimDuration;
    use rehearse_sim::estimate::{EstimateError, EstimateOptions, estimate};
    use rehearse_sim::{FaultMode, Limits, NullSink, Plan, RunOptions, Simulator};

    // Most runs roll back early; without the fault they would run on.
    let text = r#"
[scenario]
name = "early rollback"
[[step]]
id = "a"
duration = "1h"
downtime = "begins"
[[step]]
id = "b"
after = ["a"]
duration = { lognormal = { median = "10h", p90 = "20h" } }
downtime = "ends"
[[fault]]
id = "second"
message = "a check failed"
steps = ["b"]
probability = 0.2
recovery = "retry"
[[fault]]
id = "first"
message = "the package failed"
steps = ["a"]
probability = 0.95
recovery = "back"
[recovery.retry]
action = "retry"
max_attempts = 3
[recovery.back]
action = "rollback"
duration = "30m"
"#;
    let s = rehearse_core::Scenario::parse(text, "early.toml").unwrap();
    let plan = Plan::new(&s, rehearse_sim::digest(text));
    let (seed, runs) = (4, 3_000u64);
    let mut sim = Simulator::new(&plan);
    let mut main_max = 0;
    let mut without: Vec<Vec<(u64, u64)>> = vec![Vec::new(); s.faults.len()];
    for k in 0..runs {
        let opts = RunOptions { run: k, ..RunOptions::new(seed, rehearse_core::Mode::Random) };
        let summary = sim.run(&opts, &mut NullSink).unwrap();
        main_max = main_max.max(summary.end.as_ms());
        for inj in &summary.injected {
            let f = inj.fault.index();
            if without[f].last().is_none_or(|(run, _)| *run != k) {
                let opts = opts.clone().with_faults(FaultMode::Without(inj.fault));
                without[f].push((k, sim.run(&opts, &mut NullSink).unwrap().end.as_ms()));
            }
        }
    }
    // No run of the main pass exceeds the limit; some run without a fault does.
    let (fault, first_past) = (0..s.faults.len())
        .find_map(|f| without[f].iter().find(|(_, end)| *end > main_max).map(|(k, _)| (f, *k)))
        .expect("a run without a fault runs longer than every run with them");
    for threads in [1, 2, 3] {
        let opts = EstimateOptions {
            runs,
            seed,
            threads,
            limits: Limits { max_time: SimDuration(main_max), ..Limits::default() },
            ..Default::default()
        };
        match estimate(&plan, &opts, s.meta.window, &std::sync::atomic::AtomicU64::new(0)) {
            Err(EstimateError::Run { run, .. }) => {
                assert_eq!(run, first_past, "{threads} threads (fault {})", s.faults[fault].id)
            }
            other => panic!("{threads} threads: expected run {first_past} to fail, got {:?}", other.map(|e| e.runs)),
        }
        let priced_off = EstimateOptions { fault_costs: false, ..opts };
        assert!(estimate(&plan, &priced_off, s.meta.window, &std::sync::atomic::AtomicU64::new(0)).is_ok());
    }
}
