//! Scenario validation: every error, located, saying what was expected.

use rehearse_core::Scenario;

/// Parses `body` (after a standard header) and compares the full error text.
fn check(body: &str, expected: &[&str]) {
    let text = format!("[scenario]\nname = \"t\"\n{body}");
    match Scenario::parse(&text, "plan.toml") {
        Ok(_) => panic!("expected errors {expected:?}, the scenario was accepted"),
        Err(e) => {
            let got: Vec<String> = e.to_string().lines().map(str::to_string).collect();
            assert_eq!(got, expected, "\n{text}");
        }
    }
}

#[test]
fn unknown_keys_are_rejected() {
    check(
        "[[step]]\nid = \"a\"\nduraton = \"1h\"\n",
        &[
            "plan.toml:4:6: step `a`: no duration; expected `duration` (e.g. \"45m\", { pert = [\"1h\", \"2h\", \"4h\"] } or \"instant\"), `per_gb` or `per_million_rows`",
            "plan.toml:5:1: step `a`: unknown key `duraton`; did you mean `duration`? (expected one of: id, name, owner, workstream, parent, after, duration, per_gb, per_million_rows, rows_of, finish_lag, downtime, records_status, milestone, data, replication, needs, scale_by, not_before)",
        ],
    );
    check(
        "[databse]\nsize_gb = 1\n",
        &[
            "plan.toml:1:1: the scenario has no steps; add at least one [[step]]",
            "plan.toml:3:2: unknown key `databse`; did you mean `database`? (expected one of: scenario, database, step, fault, recovery, replication, readiness, upgrade, decision, resource, driver)",
        ],
    );
}

#[test]
fn references_cycles_and_duplicates() {
    check(
        "[[step]]\nid = \"a\"\nafter = [\"b\"]\nduration = \"1h\"\n[[step]]\nid = \"b\"\nafter = [\"a\"]\nduration = \"1h\"\n",
        &[
            "plan.toml:4:1: step `a`: dependency cycle: `a` -> `b` -> `a` (each waits for the next, through `after` and sub-steps)",
        ],
    );
    check(
        "[[step]]\nid = \"a\"\nduration = \"1h\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\n[[step]]\nid = \"c\"\nafter = [\"restore\"]\nparent = \"nope\"\nduration = \"1h\"\n",
        &[
            "plan.toml:7:6: step `a`: duplicate step id (first defined on line 4)",
            "plan.toml:11:10: step `c`: after names unknown step `restore`",
            "plan.toml:12:10: step `c`: parent names unknown step `nope`",
        ],
    );
    // A sub-step that waits for its own parent to finish can never start.
    check(
        "[[step]]\nid = \"g\"\n[[step]]\nid = \"s\"\nparent = \"g\"\nafter = [\"g\"]\nduration = \"1h\"\n",
        &[
            "plan.toml:4:1: step `g`: dependency cycle: `g` -> `s` -> `g` (each waits for the next, through `after` and sub-steps)",
        ],
    );
}

#[test]
fn parent_cycles_are_reported_on_each_step_of_the_cycle() {
    // a -> b -> c -> a, and d inside a: only the cycle's steps are wrong.
    check(
        "[[step]]\nid = \"a\"\nparent = \"c\"\n[[step]]\nid = \"b\"\nparent = \"a\"\n[[step]]\nid = \"c\"\nparent = \"b\"\n[[step]]\nid = \"d\"\nparent = \"a\"\nduration = \"1h\"\n",
        &[
            "plan.toml:4:6: step `a`: parent cycle: a is inside c is inside b is inside a",
            "plan.toml:7:6: step `b`: parent cycle: b is inside a is inside c is inside b",
            "plan.toml:10:6: step `c`: parent cycle: c is inside b is inside a is inside c",
        ],
    );
    // A long cycle is said by its first and last ten links.
    let body: String = (0..25).map(|i| format!("[[step]]\nid = \"s{i}\"\nparent = \"s{}\"\n", (i + 24) % 25)).collect();
    let text = format!("[scenario]\nname = \"t\"\n{body}");
    let e = Scenario::parse(&text, "plan.toml").unwrap_err();
    assert_eq!(e.diagnostics.len(), 25);
    assert_eq!(
        e.diagnostics[3].message,
        "parent cycle: s3 is inside s2 is inside s1 is inside s0 is inside s24 is inside s23 is inside s22 is inside s21 is inside s20 is inside s19 is inside ... (6 more) ... is inside s12 is inside s11 is inside s10 is inside s9 is inside s8 is inside s7 is inside s6 is inside s5 is inside s4 is inside s3"
    );
}

#[test]
fn durations_are_checked() {
    check(
        concat!(
            "[[step]]\nid = \"zero\"\nduration = \"0m\"\n",
            "[[step]]\nid = \"neg\"\nduration = \"-10m\"\n",
            "[[step]]\nid = \"absurd\"\nduration = { pert = [\"1h\", \"2h\", \"400d\"] }\n",
            "[[step]]\nid = \"minmax\"\nduration = { uniform = [\"2h\", \"1h\"] }\n",
            "[[step]]\nid = \"mode\"\nduration = { triangular = [\"1h\", \"3h\", \"2h\"] }\n",
            "[[step]]\nid = \"bare\"\nduration = 45\n",
            "[[step]]\nid = \"none\"\n",
            "[[step]]\nid = \"lognormal\"\nduration = { lognormal = { median = \"2h\", p90 = \"1h\" } }\n",
            "[[step]]\nid = \"kind\"\nduration = { beta = [\"1h\"] }\n",
        ),
        &[
            "plan.toml:5:12: step `zero`: duration 0m is zero; write \"instant\" for a step that takes no time",
            "plan.toml:8:12: step `neg`: duration: negative duration \"-10m\"; durations are lengths of time and cannot be negative",
            "plan.toml:11:12: step `absurd`: duration 400d is beyond the 30-day limit; check the units",
            "plan.toml:14:12: step `minmax`: duration: uniform: min 2h is greater than max 1h",
            "plan.toml:17:12: step `mode`: duration: triangular: most likely 3h lies outside [min 1h, max 2h]",
            "plan.toml:20:12: step `bare`: duration is a bare number; durations need a unit, like \"45m\" or \"90s\"",
            "plan.toml:22:6: step `none`: no duration; expected `duration` (e.g. \"45m\", { pert = [\"1h\", \"2h\", \"4h\"] } or \"instant\"), `per_gb` or `per_million_rows`",
            "plan.toml:25:12: step `lognormal`: duration: lognormal: lognormal p90 1h must be greater than the median 2h",
            "plan.toml:28:12: step `kind`: duration: unknown distribution `beta`; expected \"45m\", { uniform = [min, max] }, { triangular = [min, mode, max] }, { pert = [min, most_likely, max] }, { lognormal = { median = \"1h\", p90 = \"2h\" } } or { empirical = [observed, ...] }",
        ],
    );
}

#[test]
fn scaling_needs_the_database() {
    check(
        "[[step]]\nid = \"restore\"\nper_gb = { pert = [\"5s\", \"10s\", \"30s\"] }\n",
        &["plan.toml:5:10: step `restore`: per_gb needs the database size: add size_gb under [database]"],
    );
    check(
        "[database]\nsize_gb = -3\n[[step]]\nid = \"a\"\nduration = \"1h\"\n",
        &["plan.toml:4:11: size_gb -3 is not a database size; expected a number of GB above 0 and at most 1000000"],
    );
    // Counts beyond any real database (and past exact arithmetic) or below zero.
    check(
        "[database]\nsize_gb = 1\ntables = [{ name = \"A\", rows = 20_000_000_000_000 }, { name = \"B\", rows = 5, changes_per_hour = 9_000_000_000_000_000_000 }, { name = \"C\", rows = -1 }]\n[[step]]\nid = \"a\"\nduration = \"1h\"\n",
        &[
            "plan.toml:5:32: rows is 20000000000000, beyond any real database (at most 10000000000000); check the number",
            "plan.toml:5:97: changes_per_hour is 9000000000000000000, beyond any real database (at most 10000000000); check the number",
            "plan.toml:5:147: rows is negative (-1); expected a count of 0 or more",
        ],
    );
    // 2 TB at up to 30 days per GB is absurd.
    check(
        "[database]\nsize_gb = 2000\n[[step]]\nid = \"copy\"\nper_gb = { uniform = [\"1h\", \"30d\"] }\n",
        &[
            "plan.toml:7:10: step `copy`: duration can reach 60000d (60000d 00:00:00), beyond the 30-day limit for one step; check the units",
        ],
    );
}

#[test]
fn downtime_must_begin_and_end() {
    check(
        "[[step]]\nid = \"off\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"other\"\nduration = \"1h\"\ndowntime = \"ends\"\n",
        &[
            "plan.toml:4:1: step `off`: downtime begins here and never ends: no step after it has downtime = \"ends\"",
            "plan.toml:8:1: step `other`: downtime ends here but no step before it has downtime = \"begins\"",
        ],
    );
    check(
        "[[step]]\nid = \"a\"\nduration = \"1h\"\ndowntime = \"start\"\n",
        &[
            "plan.toml:6:12: step `a`: downtime = \"start\"; expected \"begins\" (downtime starts when this step starts) or \"ends\" (it ends when this step ends)",
        ],
    );
}

#[test]
fn probabilities_and_window() {
    check(
        "window = \"-2h\"\nwindow_confidence = 1.2\n[[step]]\nid = \"a\"\nduration = \"1h\"\n",
        &[
            "plan.toml:3:10: window: negative duration \"-2h\"; durations are lengths of time and cannot be negative",
            "plan.toml:4:21: window_confidence 1.2 is not a probability; expected a number in [0, 1]",
        ],
    );
}

#[test]
fn a_good_scenario_is_accepted_with_everything_resolved() {
    let s = Scenario::parse(
        "[scenario]\nname = \"t\"\nwindow = \"48h\"\nstart = 2026-12-05T18:00:00\n[database]\nsize_gb = 10\ntables = [{ name = \"INVENTTRANS\", rows = 2_000_000, changes_per_hour = 900 }]\n[[step]]\nid = \"a\"\nper_million_rows = \"1m\"\nper_gb = \"1s\"\n",
        "plan.toml",
    )
    .unwrap();
    assert_eq!(s.meta.window.unwrap().as_ms(), 48 * 3_600_000);
    let rehearse_core::scenario::Work::Leaf(d) = &s.steps[0].work else { panic!() };
    assert_eq!(d.median().as_ms(), 2 * 60_000 + 10_000);
    assert_eq!(s.meta.start.unwrap().format(rehearse_core::SimTime(0)), "2026-12-05 18:00:00.000");
}

const STEPS: &str = "[[step]]\nid = \"a\"\nduration = \"1h\"\n[[step]]\nid = \"g\"\n[[step]]\nid = \"g1\"\nparent = \"g\"\nduration = \"1h\"\n";

#[test]
fn faults_are_checked() {
    check(
        &format!(
            "{STEPS}{}",
            concat!(
                "[[fault]]\nid = \"f1\"\nsteps = [\"a\", \"g\", \"zz\"]\nprobability = 1.5\nrecovery = \"resume\"\n",
                "[[fault]]\nid = \"f2\"\ncatalog = \"dvt\"\nsteps = [\"a\"]\nprobability = 0.1\n",
                "[[fault]]\nid = \"f3\"\nsteps = [\"a\"]\nprobability = 0.1\nrecovery = \"resume\"\n",
                "[recovery.resume]\naction = \"resume\"\n",
            )
        ),
        &[
            "plan.toml:13:6: fault `f1`: needs `message` (the error as users see it) or `catalog = \"<id>\"` to take a documented one",
            "plan.toml:14:15: fault `f1`: step `g` has sub-steps; a fault strikes a step that does work (one of its sub-steps)",
            "plan.toml:14:20: fault `f1`: steps names unknown step `zz`; did you mean `a`?",
            "plan.toml:15:15: fault `f1`: probability 1.5 is not a probability; expected a number in [0, 1]",
            "plan.toml:19:11: fault `f2`: catalog = \"dvt\" is not in the catalogue; known: dvt-mrprocessservice, ttscommit, package-deployment-failed, prepare-could-not-start, staging-deployment-failed, runbook-step-failed, upgrade-script-error, services-left-running, wrong-collation, record-counts-differ, snapshot-waiting, validation-failed",
            "plan.toml:23:6: fault `f3`: needs `message` (the error as users see it) or `catalog = \"<id>\"` to take a documented one",
        ],
    );
}

#[test]
fn recovery_policies_are_checked() {
    check(
        &format!(
            "{STEPS}{}",
            concat!(
                "[[fault]]\nid = \"f\"\ncatalog = \"ttscommit\"\nsteps = [\"a\"]\nprobability = 0.1\n",
                "[recovery.resume]\naction = \"resum\"\n",
            )
        ),
        &[
            "plan.toml:18:10: recovery.resume: action = \"resum\"; expected \"resume\", \"retry\", \"rerun\", \"rollback-package\", \"rollback\", \"cancel\" or \"abort\"",
        ],
    );
    check(
        &format!(
            "{STEPS}{}",
            concat!(
                "[recovery.a]\naction = \"rollback\"\nmax_attempts = 2\n",
                "[recovery.b]\naction = \"resume\"\nmax_attempts = 0\nthen = \"c\"\n",
                "[recovery.c]\naction = \"resume\"\nthen = \"b\"\n",
            )
        ),
        &[
            "plan.toml:13:10: recovery.a (rollback): needs `duration`, how long the undo takes",
            "plan.toml:14:16: recovery.a (rollback): max_attempts applies only to actions that try the step again (resume, retry, rerun, rollback-package)",
            "plan.toml:17:16: recovery.b: max_attempts 0 must be between 1 and 1000",
        ],
    );
    check(
        &format!(
            "{STEPS}{}",
            "[recovery.b]\naction = \"resume\"\nthen = \"c\"\n[recovery.c]\naction = \"resume\"\nthen = \"b\"\n"
        ),
        &["plan.toml:13:10: recovery policies loop: b -> c -> b"],
    );
    // Rerun must start from the failed step, a step holding it, or an
    // earlier step beside it.
    check(
        &format!(
            "{STEPS}{}",
            "[[fault]]\nid = \"f\"\nmessage = \"m\"\nsteps = [\"a\"]\nprobability = 0.1\nrecovery = \"r\"\n[recovery.r]\naction = \"rerun\"\nfrom = \"g1\"\n"
        ),
        &[
            "plan.toml:13:6: fault `f`: recovery.r reruns from `g1`, which is neither step `a`, a step holding it, nor an earlier step beside it that it waits for",
        ],
    );
    check(
        &format!(
            "{STEPS}{}",
            "[[fault]]\nid = \"f\"\nmessage = \"m\"\nsteps = [\"a\"]\nprobability = 0.1\noutcome = \"unknown\"\nrecovery = \"r\"\n[recovery.r]\naction = \"resume\"\n"
        ),
        &[
            "plan.toml:13:6: fault `f`: its outcome can be unknown, so recovery.r needs `verify`, the time to find out whether the step completed",
        ],
    );
}

/// #17: `fix` is waited for only before the step is tried again; on a
/// rollback or a cancel it was printed and never waited for.
#[test]
fn a_fix_is_refused_where_nothing_is_tried_again() {
    for action in ["rollback", "cancel"] {
        check(
            &format!("{STEPS}[recovery.back]\naction = \"{action}\"\nduration = \"1h\"\nfix = \"2h\"\n"),
            &[&format!(
                "plan.toml:15:7: recovery.back ({action}): `fix` applies only to actions that try the step again (resume, retry, rerun, rollback-package): after a {action} nothing is tried again, so the fix would never be waited for; put the time in `duration`, or fix forward with a policy that resumes"
            )],
        );
    }
    // Where the step is tried again, the fix is waited for: accepted.
    for action in ["\"resume\"", "\"retry\"", "\"rollback-package\"\nduration = \"1h\""] {
        let text = format!("[scenario]\nname = \"t\"\n{STEPS}[recovery.r]\naction = {action}\nfix = \"2h\"\n");
        Scenario::parse(&text, "plan.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

/// #17: a rollback deadline with nothing to do past it began late in every
/// late run, and `check` then failed each: the plan must say what to do.
#[test]
fn a_rollback_deadline_needs_what_to_do_past_it() {
    check(
        &format!("{STEPS}[recovery.back]\naction = \"rollback\"\nduration = \"1h\"\ndeadline = \"36h\"\n"),
        &[
            "plan.toml:15:12: recovery.back (rollback): a deadline needs `past_deadline = \"<policy>\"`, what to do once it is too late to roll back (e.g. a policy with action = \"resume\" that fixes forward); without one a late rollback would begin anyway, past the deadline",
        ],
    );
    let text = format!(
        "[scenario]\nname = \"t\"\n{STEPS}[recovery.back]\naction = \"rollback\"\nduration = \"1h\"\ndeadline = \"36h\"\npast_deadline = \"fix-forward\"\n[recovery.fix-forward]\naction = \"resume\"\n"
    );
    Scenario::parse(&text, "plan.toml").unwrap_or_else(|e| panic!("{e}"));
}

/// #17: `after = "stop-aos"` said "invalid type: string" and named no step
/// (and, a serde error, stopped every other check).
#[test]
fn after_written_as_one_id_names_the_step_and_the_list_expected() {
    check(
        "[[step]]\nid = \"stop-aos\"\nduration = \"1h\"\n[[step]]\nid = \"b\"\nafter = \"stop-aos\"\nduration = \"5 minutes\"\n[[step]]\nid = \"c\"\nafter = { step = \"b\" }\nduration = \"1h\"\n",
        &[
            "plan.toml:8:9: step `b`: after = \"stop-aos\"; expected a list of the steps it waits for, e.g. after = [\"stop-aos\"]",
            "plan.toml:9:12: step `b`: duration: malformed duration \"5 minutes\"; expected numbers with units d, h, m, s, ms, largest first (\"1h30m\", \"250ms\", \"2d\") or a clock \"H:MM:SS[.mmm]\"",
            "plan.toml:12:9: step `c`: after = { step = \"b\" }; expected a list of the steps it waits for, e.g. after = [{ step = \"b\" }]",
        ],
    );
}

/// #17: a value of the wrong type said "invalid type: ..., expected i64"
/// and named neither the step, fault or policy nor the key: now it names
/// all it can, in the README's words, and the list to write for a lone
/// value.
#[test]
fn a_value_of_the_wrong_type_names_where_it_is() {
    let cases: [(&str, &str); 6] = [
        (
            "[[step]]\nid = \"a\"\nowner = 5\nduration = \"1h\"\n",
            "plan.toml:5:9: step `a`: owner: invalid type: integer `5`, expected a string",
        ),
        ("[[step]]\nduration = \"1h\"\n", "plan.toml:3:1: step #1 (it has no id): missing field `id` (required here)"),
        (
            "[[step]]\nid = \"a\"\nduration = \"1h\"\n[[fault]]\nid = \"f\"\nmessage = \"m\"\nsteps = \"a\"\nprobability = 0.1\n",
            "plan.toml:9:9: fault `f`: steps: invalid type: string \"a\", expected a list; write steps = [\"a\"]",
        ),
        (
            "[[step]]\nid = \"a\"\nduration = \"1h\"\n[recovery.r]\naction = \"resume\"\nmax_attempts = \"3\"\n",
            "plan.toml:8:16: recovery.r: max_attempts: invalid type: string \"3\", expected a whole number",
        ),
        (
            "window_confidence = \"high\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\n",
            "plan.toml:3:21: scenario.window_confidence: invalid type: string \"high\", expected a number",
        ),
        (
            "[database]\ntables = [{ name = \"X\", rows = 1 }]\n[[step]]\nid = \"a\"\nduration = \"1h\"\nmilestone = \"yes\"\n",
            "plan.toml:8:13: step `a`: milestone: invalid type: string \"yes\", expected true or false",
        ),
    ];
    for (body, expected) in cases {
        check(body, &[expected]);
    }
}

/// #17: a second `ends` was reported as "no step before it has downtime =
/// begins", which was untrue: one has, and its downtime already ends.
#[test]
fn a_second_end_or_beginning_names_the_pair_it_would_join() {
    let pair = "[[step]]\nid = \"stop-aos\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"live\"\nafter = [\"stop-aos\"]\nduration = \"1h\"\ndowntime = \"ends\"\n";
    check(
        &format!("{pair}[[step]]\nid = \"again\"\nafter = [\"live\"]\nduration = \"1h\"\ndowntime = \"ends\"\n"),
        &[
            "plan.toml:13:1: step `again`: downtime ends here, but the downtime that `stop-aos` begins already has its `ends`: `live` (line 8); each `begins` pairs with one `ends`: remove this one, or mark where downtime begins again before it",
        ],
    );
    // Two beginnings before one end: the second never ends, and the
    // message names the end that the first one took.
    check(
        "[[step]]\nid = \"early\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"stop-aos\"\nduration = \"1h\"\ndowntime = \"begins\"\n[[step]]\nid = \"live\"\nafter = [\"early\", \"stop-aos\"]\nduration = \"1h\"\ndowntime = \"ends\"\n",
        &[
            "plan.toml:8:1: step `stop-aos`: downtime begins here and never ends: `live` (line 12), the step after it with downtime = \"ends\", ends the downtime that `early` begins; each `begins` pairs with one `ends`: mark where this one ends, or remove it",
        ],
    );
}

/// #17: a first plan with three unknown keys, a cycle and a bad duration
/// hears of all five at once, in file order (serde alone stops at the first
/// unknown key).
#[test]
fn unknown_keys_come_with_every_other_error_in_file_order() {
    check(
        "colour = \"red\"\n\
         [[step]]\nid = \"a\"\nduration = \"1h\"\nafter = [\"b\"]\nownr = \"me\"\n\
         [[step]]\nid = \"b\"\nduration = \"5 minutes\"\nafter = [\"a\"]\nworkstrem = \"tech\"\n",
        &[
            "plan.toml:3:1: scenario: unknown key `colour` (expected one of: name, source, description, window, window_confidence, start, downtime_begins_at, window_end, time_zone)",
            "plan.toml:5:1: step `a`: dependency cycle: `a` -> `b` -> `a` (each waits for the next, through `after` and sub-steps)",
            "plan.toml:8:1: step `a`: unknown key `ownr`; did you mean `owner`? (expected one of: id, name, owner, workstream, parent, after, duration, per_gb, per_million_rows, rows_of, finish_lag, downtime, records_status, milestone, data, replication, needs, scale_by, not_before)",
            "plan.toml:11:12: step `b`: duration: malformed duration \"5 minutes\"; expected numbers with units d, h, m, s, ms, largest first (\"1h30m\", \"250ms\", \"2d\") or a clock \"H:MM:SS[.mmm]\"",
            "plan.toml:13:1: step `b`: unknown key `workstrem`; did you mean `workstream`? (expected one of: id, name, owner, workstream, parent, after, duration, per_gb, per_million_rows, rows_of, finish_lag, downtime, records_status, milestone, data, replication, needs, scale_by, not_before)",
        ],
    );
}

/// The same through the binary: one `validate`, five errors, exit 2.
#[test]
fn validate_prints_all_five_errors_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("first.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"t\"\ncolour = \"red\"\n[[step]]\nid = \"a\"\nduration = \"1h\"\nafter = [\"b\"]\nownr = \"me\"\n\
         [[step]]\nid = \"b\"\nduration = \"5 minutes\"\nafter = [\"a\"]\nworkstrem = \"tech\"\n",
    )
    .unwrap();
    let o = crate::support::rehearse(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = crate::support::stderr(&o);
    let lines: Vec<u32> = err
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("error: {}:", file.display())))
        .map(|l| l.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [3, 5, 8, 11, 13], "{err}");
}

/// `--fault` names the fault or step it was likely meant to.
#[test]
fn a_mistyped_fault_on_the_command_line_gets_a_suggestion() {
    let o = crate::support::rehearse(&[
        "run",
        "scenarios/ax2012-data-upgrade-dev.toml",
        "--fault",
        "presync-scrip-error@PreSync.WaitForBatch",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        crate::support::stderr(&o).contains("did you mean `presync-script-error`?"),
        "{}",
        crate::support::stderr(&o)
    );
    let o = crate::support::rehearse(&[
        "run",
        "scenarios/ax2012-data-upgrade-dev.toml",
        "--fault",
        "presync-script-error@PreSync.WaitForBach",
    ]);
    assert!(
        crate::support::stderr(&o).contains("did you mean `PreSync.WaitForBatch`?"),
        "{}",
        crate::support::stderr(&o)
    );
}

/// #17: the point of no return called a P90 "up to" (a P90 is exceeded in
/// one run in ten): the text and the page say what it is.
#[test]
fn the_point_of_no_return_says_p90_not_up_to() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("pnr.toml");
    std::fs::write(
        &plan,
        "[scenario]\nname = \"pnr\"\nwindow = \"12h\"\n\
         [[step]]\nid = \"off\"\nduration = \"10m\"\ndowntime = \"begins\"\n\
         [[step]]\nid = \"upgrade\"\nafter = [\"off\"]\nduration = { triangular = [\"2h\", \"3h\", \"6h\"] }\n\
         [[step]]\nid = \"on\"\nafter = [\"upgrade\"]\nduration = \"10m\"\ndowntime = \"ends\"\n\
         [[fault]]\nid = \"f\"\nmessage = \"it failed\"\nsteps = [\"upgrade\"]\nprobability = 0.3\nrecovery = \"back\"\n\
         [recovery.back]\naction = \"rollback\"\nreaction = { triangular = [\"10m\", \"20m\", \"1h\"] }\nduration = { pert = [\"1h\", \"2h\", \"4h\"] }\n",
    )
    .unwrap();
    let page = dir.path().join("pnr.html");
    let o = crate::support::rehearse(&[
        "estimate",
        plan.to_str().unwrap(),
        "--runs",
        "100",
        "--no-fault-costs",
        "--width",
        "0",
        "--html",
        page.to_str().unwrap(),
    ]);
    let text = crate::support::stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", crate::support::stderr(&o));
    let pnr = &text[text.find("point of no return").expect("a point of no return")..];
    assert!(pnr.contains("recovery.back takes "), "{pnr}");
    assert!(pnr.contains(" at its P90\n  (reaction + restore)"), "{pnr}");
    let html = std::fs::read_to_string(&page).unwrap();
    let section = &html[html.find("<h2>Point of no return</h2>").unwrap()..];
    let section = &section[..section.find("</p>").unwrap()];
    assert!(section.contains("at its P90"), "{section}");
    for said in [pnr, section] {
        assert!(!said.contains("up to"), "{said}");
    }
}
