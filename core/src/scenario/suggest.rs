//! The did-you-mean hint for a misspelt name: the closest name by edit
//! distance, if it is close enough to be a typo.
//!
//! The names go into a trie once ([`Suggester`]); a query walks it with one
//! row of the edit-distance table per node, pruning a branch as soon as
//! every entry of its row is over the distance sought, and looks for a
//! name at distance 0, then 1, then 2, and so on up to the limit. A name
//! within one or two edits is found after a few rows, whatever the number
//! of names: a plan of thousands of steps in which every reference is
//! misspelt costs thousands of short walks, not thousands of passes over
//! every id. Each query is bounded ([`BUDGET_CELLS`]); a query that spends
//! it before finding a name gets no hint (this only happens far beyond two
//! edits, among many names alike).

/// Queries longer than this (in bytes) get no hint: nobody misspells an
/// id that long, and the table's rows grow with the query.
const MAX_QUERY: usize = 256;

/// The most table entries one query may compute: about a millisecond.
pub(crate) const BUDGET_CELLS: usize = 1 << 20;

/// How far a name may be from `wanted` to be offered: two edits, or a
/// quarter of its length for a long one.
fn limit(wanted: &str) -> usize {
    2.max(wanted.len() / 4)
}

/// Names indexed for [`Suggester::suggest`].
pub struct Suggester<'a> {
    names: Vec<&'a str>,
    /// Node 0 is the root (the empty prefix).
    nodes: Vec<Node>,
}

#[derive(Default)]
struct Node {
    /// Sorted by character, so a walk meets names in byte order.
    children: Vec<(char, u32)>,
    /// The name that ends here (the first, if names repeat).
    name: Option<u32>,
}

impl<'a> Suggester<'a> {
    pub fn new(names: &[&'a str]) -> Self {
        let mut nodes = vec![Node::default()];
        // A longer name can never be within the limit of a query short
        // enough to get an answer.
        let longest = MAX_QUERY + MAX_QUERY / 4;
        for (i, name) in names.iter().enumerate() {
            if name.chars().count() > longest {
                continue;
            }
            let mut node = 0usize;
            for c in name.chars() {
                node = match nodes[node].children.binary_search_by_key(&c, |(k, _)| *k) {
                    Ok(at) => nodes[node].children[at].1 as usize,
                    Err(at) => {
                        let next = nodes.len();
                        nodes.push(Node::default());
                        nodes[node].children.insert(at, (c, next as u32));
                        next
                    }
                };
            }
            nodes[node].name.get_or_insert(i as u32);
        }
        Suggester { names: names.to_vec(), nodes }
    }

    /// The closest name to `wanted` by edit distance (in characters; the
    /// smallest in byte order among equals), if it is within the limit:
    /// two edits, or a quarter of `wanted`'s length when that is more.
    pub fn suggest(&self, wanted: &str) -> Option<&'a str> {
        self.search(wanted).0
    }

    /// The suggestion, and how many table entries finding it took.
    fn search(&self, wanted: &str) -> (Option<&'a str>, usize) {
        if wanted.len() > MAX_QUERY {
            return (None, 0);
        }
        let query: Vec<char> = wanted.chars().collect();
        let mut walk = Walk { query: &query, rows: Vec::new(), stack: Vec::new(), budget: BUDGET_CELLS };
        let found = (0..=limit(wanted)).find_map(|k| walk.within(self, k).ok()?);
        (found.map(|i| self.names[i as usize]), BUDGET_CELLS - walk.budget)
    }
}

/// One query's walk of the trie and what it has left to spend.
struct Walk<'q> {
    query: &'q [char],
    /// Row `d` of the table for the node at depth `d` on the stack.
    rows: Vec<usize>,
    /// The nodes from the root down, each with its next child to visit.
    stack: Vec<(u32, usize)>,
    budget: usize,
}

/// The budget ran out.
struct Spent;

impl Walk<'_> {
    /// The first name in byte order within `k` edits of the query, if any.
    fn within(&mut self, trie: &Suggester<'_>, k: usize) -> Result<Option<u32>, Spent> {
        let m = self.query.len();
        let width = m + 1;
        if let Some(name) = trie.nodes[0].name
            && m <= k
        {
            return Ok(Some(name));
        }
        self.rows.clear();
        self.rows.extend(0..width);
        self.stack.clear();
        self.stack.push((0, 0));
        while let Some(&mut (node, ref mut next)) = self.stack.last_mut() {
            let Some(&(c, child)) = trie.nodes[node as usize].children.get(*next) else {
                self.stack.pop();
                continue;
            };
            *next += 1;
            if self.budget < width {
                return Err(Spent);
            }
            self.budget -= width;
            let depth = self.stack.len() - 1;
            let end = (depth + 2) * width;
            if self.rows.len() < end {
                self.rows.resize(end, 0);
            }
            let (before, after) = self.rows.split_at_mut((depth + 1) * width);
            let (prev, cur) = (&before[depth * width..], &mut after[..width]);
            cur[0] = prev[0] + 1;
            let mut least = cur[0];
            for j in 1..width {
                let replace = prev[j - 1] + usize::from(self.query[j - 1] != c);
                cur[j] = replace.min(prev[j] + 1).min(cur[j - 1] + 1);
                least = least.min(cur[j]);
            }
            if let Some(name) = trie.nodes[child as usize].name
                && cur[m] <= k
            {
                return Ok(Some(name));
            }
            if least <= k {
                self.stack.push((child, 0));
            }
        }
        Ok(None)
    }
}

/// The closest id by edit distance, if it is close enough to be a typo:
/// [`Suggester::suggest`] over `ids`, for a single question (index the
/// names once with [`Suggester::new`] to ask many).
///
/// # Examples
/// ```
/// use rehearse_core::scenario::suggest;
/// assert_eq!(suggest("bakup", &["backup", "restore"]), Some("backup"));
/// assert_eq!(suggest("upload", &["backup"]), None);
/// ```
pub fn suggest<'a>(wanted: &str, ids: &[&'a str]) -> Option<&'a str> {
    Suggester::new(ids).suggest(wanted)
}

#[cfg(test)]
mod tests {
    use rand_core::{Rng, SeedableRng};

    use super::*;

    /// The hint as first written: every name's full edit distance.
    fn every_name<'a>(wanted: &str, ids: &[&'a str]) -> Option<&'a str> {
        fn edit_distance(a: &str, b: &str) -> usize {
            let b: Vec<char> = b.chars().collect();
            let mut row: Vec<usize> = (0..=b.len()).collect();
            for (i, ca) in a.chars().enumerate() {
                let mut prev = row[0];
                row[0] = i + 1;
                for (j, cb) in b.iter().enumerate() {
                    let cur = row[j + 1];
                    row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                    prev = cur;
                }
            }
            row[b.len()]
        }
        let best = ids.iter().map(|id| (edit_distance(wanted, id), *id)).min()?;
        (best.0 <= limit(wanted)).then_some(best.1)
    }

    fn check(wanted: &str, ids: &[&str], expected: Option<&str>) {
        assert_eq!(suggest(wanted, ids), expected, "{wanted:?} among {ids:?}");
        assert_eq!(every_name(wanted, ids), expected, "{wanted:?} among {ids:?}");
    }

    #[test]
    fn typos_find_their_name() {
        let ids = ["backup", "restore", "upgrade", "data-upgrade", "ÜberStep", "a"];
        check("bakup", &ids, Some("backup"));
        check("restroe", &ids, Some("restore"));
        check("data-upgarde", &ids, Some("data-upgrade"));
        check("uberstep", &ids, Some("ÜberStep"));
        check("nothing-like-it", &ids, None);
        check("ÜberStepp", &ids, Some("ÜberStep"));
        check("b", &ids, Some("a"));
        check("upload", &["backup"], None);
        check("", &["", "ab"], Some(""));
        check("anything", &[], None);
        // Equally close: the first in byte order.
        check("ab", &["ax", "aa", "ay"], Some("aa"));
        // Past the longest query, no hint (where the full scan gave one).
        assert_eq!(suggest(&"x".repeat(MAX_QUERY + 1), &[&"x".repeat(MAX_QUERY)]), None);
        assert_eq!(suggest(&"x".repeat(MAX_QUERY), &[&"x".repeat(MAX_QUERY + 1)]), Some(&*"x".repeat(MAX_QUERY + 1)));
    }

    /// Random names over a small alphabet, so that many are close to one
    /// another, against the full scan.
    #[test]
    fn the_trie_finds_what_every_name_finds() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(19);
        let alphabet: Vec<char> = "ab-1é".chars().collect();
        let word = |rng: &mut rand_xoshiro::Xoshiro256PlusPlus| -> String {
            let n = (rng.next_u64() % 14) as usize;
            (0..n).map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize]).collect()
        };
        let mut n_found = 0;
        for _ in 0..2_000 {
            let names: Vec<String> = (0..1 + rng.next_u64() % 30).map(|_| word(&mut rng)).collect();
            let ids: Vec<&str> = names.iter().map(String::as_str).collect();
            let index = Suggester::new(&ids);
            for _ in 0..5 {
                let wanted = word(&mut rng);
                let got = index.suggest(&wanted);
                assert_eq!(got, every_name(&wanted, &ids), "{wanted:?} among {ids:?}");
                n_found += usize::from(got.is_some());
            }
        }
        assert!(n_found > 2_000, "{n_found}");
    }

    /// A typo costs a walk of a few branches, not of every name.
    #[test]
    fn a_typo_among_many_names_alike_costs_a_few_rows() {
        let names: Vec<String> = (0..20_000).map(|i| format!("step-{i:05}")).collect();
        let ids: Vec<&str> = names.iter().map(String::as_str).collect();
        let index = Suggester::new(&ids);
        for (wanted, expected) in
            [("stpe-12345", "step-12345"), ("step-1234", "step-01234"), ("step_19999", "step-19999")]
        {
            let (got, cells) = index.search(wanted);
            assert_eq!(got, Some(expected));
            assert!(cells < 5_000, "{wanted}: {cells} cells");
        }
        // Nothing near: still bounded.
        let (got, cells) = index.search(&"q".repeat(200));
        assert_eq!(got, None);
        assert!(cells <= BUDGET_CELLS, "{cells}");
    }
}
