//! Plans generated in the shapes that once made validation slow (issue
//! #19): a deep parent chain, many downtime pairs, an `after` misspelt on
//! every step. Written here rather than committed, and shared with
//! `benches/validate.rs`, which times their validation; `tests/scale.rs`
//! holds what validation says of them (no timing in tests).

/// Steps `s0` .. `s{depth - 1}`, each inside the one before; the last does
/// the work.
pub fn parent_chain(depth: usize) -> String {
    let mut text = String::from("[scenario]\nname = \"deep\"\n");
    for i in 0..depth {
        text.push_str(&format!("[[step]]\nid = \"s{i}\"\n"));
        if i > 0 {
            text.push_str(&format!("parent = \"s{}\"\n", i - 1));
        }
        if i + 1 == depth {
            text.push_str("duration = \"1m\"\n");
        }
    }
    text
}

/// `n` downtimes one after another: `b{i}` begins one, `e{i}` after it
/// ends it, and `b{i + 1}` comes after `e{i}`.
pub fn downtime_pairs(n: usize) -> String {
    let mut text = String::from("[scenario]\nname = \"pairs\"\n");
    for i in 0..n {
        text.push_str(&format!("[[step]]\nid = \"b{i}\"\nduration = \"1m\"\ndowntime = \"begins\"\n"));
        if i > 0 {
            text.push_str(&format!("after = [\"e{}\"]\n", i - 1));
        }
        text.push_str(&format!(
            "[[step]]\nid = \"e{i}\"\nduration = \"1m\"\ndowntime = \"ends\"\nafter = [\"b{i}\"]\n"
        ));
    }
    text
}

/// `step-00000` .. `step-{n}`, each after the one before, misspelt: every
/// fourth with two letters swapped, a letter dropped, one changed, or one
/// doubled. Returns the text and, for each step after the first, the id
/// its `after` names.
pub fn misspelt_ids(n: usize) -> (String, Vec<String>) {
    let mut text = String::from("[scenario]\nname = \"typos\"\n");
    let mut typos = Vec::with_capacity(n);
    for i in 0..=n {
        text.push_str(&format!("[[step]]\nid = \"step-{i:05}\"\nduration = \"1m\"\n"));
        if i > 0 {
            let before = format!("{:05}", i - 1);
            let typo = match i % 4 {
                0 => format!("stpe-{before}"),
                1 => format!("step{before}"),
                2 => format!("step_{before}"),
                _ => format!("sstep-{before}"),
            };
            text.push_str(&format!("after = [\"{typo}\"]\n"));
            typos.push(typo);
        }
    }
    (text, typos)
}
