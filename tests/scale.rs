//! Validation of plans large in the ways that once made it slow (issue
//! #19): what it says of each, errors placed and worded as for a small
//! plan. The plans are generated (`shapes.rs`); their timing is
//! `benches/validate.rs`'s business, not a test's.

use rehearse_core::Scenario;

use crate::shapes::{downtime_pairs, misspelt_ids, parent_chain};

/// The 1-based line on which `needle` first appears in `text`.
fn line_of(text: &str, needle: &str) -> u32 {
    text[..text.find(needle).unwrap()].matches('\n').count() as u32 + 1
}

#[test]
fn a_parent_chain_ten_thousand_deep_validates_with_each_step_one_deeper() {
    let text = parent_chain(10_000);
    let s = Scenario::parse(&text, "deep.toml").unwrap();
    assert_eq!(s.roots.len(), 1);
    for (i, step) in s.steps.iter().enumerate() {
        assert_eq!(step.depth as usize, i);
        assert_eq!(step.parent.map(|p| p.index()), i.checked_sub(1));
        assert_eq!(step.children.len(), usize::from(i + 1 < s.steps.len()));
    }
    // Closed into a cycle: each of its steps is wrong, and says so briefly.
    let cycle =
        text.replacen("id = \"s0\"\n", "id = \"s0\"\nparent = \"s9999\"\n", 1).replacen("duration = \"1m\"\n", "", 1);
    let e = Scenario::parse(&cycle, "deep.toml").unwrap_err();
    assert_eq!(e.diagnostics.len(), 10_000);
    assert!(e.diagnostics.iter().all(|d| d.message.starts_with("parent cycle: ")));
    let d = &e.diagnostics[5];
    assert_eq!((d.line, d.col, d.step.as_deref()), (line_of(&cycle, "id = \"s5\""), 6, Some("s5")));
    assert_eq!(
        d.message,
        "parent cycle: s5 is inside s4 is inside s3 is inside s2 is inside s1 is inside s0 is inside s9999 is inside s9998 is inside s9997 is inside s9996 is inside ... (9981 more) ... is inside s14 is inside s13 is inside s12 is inside s11 is inside s10 is inside s9 is inside s8 is inside s7 is inside s6 is inside s5"
    );
}

#[test]
fn a_thousand_downtime_pairs_validate_and_one_left_open_is_found() {
    let text = downtime_pairs(1_000);
    let s = Scenario::parse(&text, "pairs.toml").unwrap();
    assert_eq!(s.steps.len(), 2_000);
    // The first end no longer ends anything: one beginning too many,
    // and the beginnings pair in file order, so the last is left out.
    let open =
        text.replacen("id = \"e0\"\nduration = \"1m\"\ndowntime = \"ends\"\n", "id = \"e0\"\nduration = \"1m\"\n", 1);
    let e = Scenario::parse(&open, "pairs.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "pairs.toml:{}:1: step `b999`: downtime begins here and never ends: `e999` (line {}), the step after it with downtime = \"ends\", ends the downtime that `b998` begins; each `begins` pairs with one `ends`: mark where this one ends, or remove it",
            line_of(&open, "id = \"b999\""),
            line_of(&open, "id = \"e999\"")
        )
    );
    // The first beginning no longer begins: its end follows none.
    let early =
        text.replacen("id = \"b0\"\nduration = \"1m\"\ndowntime = \"begins\"\n", "id = \"b0\"\nduration = \"1m\"\n", 1);
    let e = Scenario::parse(&early, "pairs.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "pairs.toml:{}:1: step `e0`: downtime ends here but no step before it has downtime = \"begins\"",
            line_of(&early, "id = \"e0\"")
        )
    );
}

#[test]
fn five_thousand_misspelt_ids_each_get_their_error_and_suggestion() {
    let (text, typos) = misspelt_ids(5_000);
    let e = Scenario::parse(&text, "typos.toml").unwrap_err();
    assert_eq!(e.diagnostics.len(), 5_000);
    for (i, (d, typo)) in e.diagnostics.iter().zip(&typos).enumerate() {
        let step = format!("step-{:05}", i + 1);
        assert_eq!(d.step.as_deref(), Some(step.as_str()));
        assert_eq!((d.line, d.col), (line_of(&text, &format!("id = \"{step}\"")) + 2, 10));
        assert_eq!(d.message, format!("after names unknown step `{typo}`; did you mean `step-{i:05}`?"));
    }
    // Listed up to the hundredth, then counted.
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 101);
    assert_eq!(
        lines[0],
        "typos.toml:9:10: step `step-00001`: after names unknown step `step00000`; did you mean `step-00000`?"
    );
    assert_eq!(lines[100], "... and 4,900 more errors");
}
