//! `[[step]]`: ids, nesting (parents, children, depth), dependencies, the
//! per-step markers (downtime, replication role, records_status, data
//! effects), then the plan as a whole: no dependency cycle, and downtime
//! that ends as often as it begins.

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use super::names::StepNames;
use crate::replication::Role;
use crate::scenario::diagnostics::Diagnostic;
use crate::scenario::graph::{Graph, unmatched_downtime};
use crate::scenario::model::{Anchor, Database, Dep, DowntimeMark, Step, StepIdx, Work};
use crate::scenario::raw::{RawAfter, RawStep};
use crate::time::SimDuration;

/// A dependency before its target is resolved.
struct RawDep {
    id: String,
    span: Range<usize>,
    anchor: Anchor,
    lag: SimDuration,
    up_to: Option<SimDuration>,
}

/// Who holds whom, by step index.
struct Nesting {
    parent: Vec<Option<StepIdx>>,
    children: Vec<Vec<StepIdx>>,
    /// 0 for top-level steps.
    depth: Vec<u32>,
}

/// The steps a parent cycle goes through, said from `cycle[k]` round to
/// itself: "a is inside b is inside a". A long cycle is said by its first
/// and last links only, so that each of its steps' errors stays short.
fn parent_chain(cycle: &[usize], k: usize, ids: &StepNames<'_>) -> String {
    const SAID: usize = 10;
    let n = cycle.len();
    let id = |i: usize| ids.id(cycle[(k + i) % n]);
    if n <= 2 * SAID {
        return (0..=n).map(id).collect::<Vec<_>>().join(" is inside ");
    }
    let head: Vec<&str> = (0..SAID).map(id).collect();
    let tail: Vec<&str> = (n - SAID + 1..=n).map(id).collect();
    format!(
        "{} is inside ... ({} more) ... is inside {}",
        head.join(" is inside "),
        n - 2 * SAID + 1,
        tail.join(" is inside ")
    )
}

impl Validator<'_> {
    /// The steps and the top-level ones among them; `None` when an error
    /// was reported. Every step is checked before the plan as a whole, so
    /// a cycle is looked for only among steps that are each sound.
    #[allow(clippy::type_complexity)]
    pub(super) fn steps(&mut self, raw: Vec<RawStep>, db: &Database) -> Option<(Vec<Step>, Vec<StepIdx>)> {
        let n_errors_before = self.diags.len();
        if raw.is_empty() {
            self.diags.push(Diagnostic {
                line: 1,
                col: 1,
                step: None,
                message: "the scenario has no steps; add at least one [[step]]".into(),
            });
            return None;
        }
        let ids = self.step_ids(&raw);
        let mut nesting = self.nesting(&raw, &ids);
        let nested = self.diags.len() == n_errors_before;
        let mut steps = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            steps.push(self.step(i, s, &ids, &mut nesting, db));
        }
        // A cycle is reported beside the steps' own errors (a bad duration
        // does not hide it), once the ids and the nesting it runs through
        // are sound.
        let failed = self.diags.len() > n_errors_before;
        if failed && !nested {
            return None;
        }
        let graph = Graph::new(&steps);
        if let Some(cycle) = graph.find_cycle() {
            let names: Vec<String> = cycle.iter().map(|i| format!("`{}`", steps[i.index()].id)).collect();
            self.step_error(
                &steps[cycle[0].index()],
                format!(
                    "dependency cycle: {} (each waits for the next, through `after` and sub-steps)",
                    names.join(" -> ")
                ),
            );
            return None;
        }
        if failed {
            return None;
        }
        self.check_downtime(&steps, &graph);
        inherit_workstreams(&mut steps);
        let roots = (0..raw.len()).filter(|i| nesting.parent[*i].is_none()).map(|i| StepIdx(i as u32)).collect();
        Some((steps, roots))
    }

    /// The step `id` names, or an error (with a did-you-mean) against step
    /// `from`, whose `what` names it.
    fn resolve(
        &mut self,
        ids: &StepNames<'_>,
        id: &str,
        span: &Range<usize>,
        from: &str,
        what: &str,
    ) -> Option<StepIdx> {
        let found = ids.find(id);
        if found.is_none() {
            let hint = ids.hint(id);
            self.error(span, Some(from), format!("{what} names unknown step `{id}`{hint}"));
        }
        found
    }

    /// Every id well formed and used once.
    fn step_ids<'r>(&mut self, raw: &'r [RawStep]) -> StepNames<'r> {
        let names = StepNames::new(raw.iter().map(|s| s.id.get_ref().as_str()).collect());
        for (i, s) in raw.iter().enumerate() {
            let id = s.id.get_ref();
            if !super::well_formed(id) {
                self.error(
                    &s.id.span(),
                    None,
                    format!("step id {id:?} must be non-empty and use only letters, digits, '-', '_' and '.'"),
                );
            }
            let first = names.find(id).expect("every id is indexed").index();
            if first != i {
                let line = self.line_col(raw[first].id.span().start).0;
                self.error(&s.id.span(), Some(id), format!("duplicate step id (first defined on line {line})"));
            }
        }
        names
    }

    /// Parents resolved, children listed in file order, and depths, with
    /// cycles among parents reported.
    fn nesting(&mut self, raw: &[RawStep], ids: &StepNames<'_>) -> Nesting {
        let n = raw.len();
        let mut parent: Vec<Option<StepIdx>> = vec![None; n];
        let mut children: Vec<Vec<StepIdx>> = vec![Vec::new(); n];
        for (i, s) in raw.iter().enumerate() {
            if let Some(p) = &s.parent {
                let me = s.id.get_ref();
                if p.get_ref() == me {
                    self.error(&p.span(), Some(me), "a step cannot be its own parent");
                } else if let Some(pi) = self.resolve(ids, p.get_ref(), &p.span(), me, "parent") {
                    parent[i] = Some(pi);
                    children[pi.index()].push(StepIdx(i as u32));
                }
            }
        }
        let depth = self.depths(raw, &parent, ids);
        Nesting { parent, children, depth }
    }

    /// Each step's depth (0 for a top-level one), every step on a parent
    /// cycle reported (each with the cycle read from itself). One walk up
    /// from each step that stops at the first step already placed, so each
    /// step is climbed through once, however deep the nesting.
    fn depths(&mut self, raw: &[RawStep], parent: &[Option<StepIdx>], ids: &StepNames<'_>) -> Vec<u32> {
        const UNPLACED: u32 = u32::MAX;
        const CLIMBING: u32 = u32::MAX - 1;
        let mut depth = vec![UNPLACED; parent.len()];
        let mut path: Vec<usize> = Vec::new();
        for i in 0..parent.len() {
            // Up from `i` to a step already placed, a top-level step, or a
            // step on this very climb: a cycle.
            let mut cur = i;
            loop {
                match depth[cur] {
                    UNPLACED => {
                        depth[cur] = CLIMBING;
                        path.push(cur);
                        match parent[cur] {
                            Some(p) => cur = p.index(),
                            None => break,
                        }
                    }
                    CLIMBING => {
                        let from = path.iter().position(|j| *j == cur).expect("on the climb");
                        let cycle = &path[from..];
                        for (k, &j) in cycle.iter().enumerate() {
                            let chain = parent_chain(cycle, k, ids);
                            self.error(&raw[j].id.span(), Some(ids.id(j)), format!("parent cycle: {chain}"));
                        }
                        // The steps of a cycle, and those in it, have no
                        // depth; the plan is refused anyway.
                        for &j in &path {
                            depth[j] = 0;
                        }
                        path.clear();
                        break;
                    }
                    _ => break,
                }
            }
            // Down the climb: each step one deeper than its parent.
            while let Some(j) = path.pop() {
                depth[j] = parent[j].map_or(0, |p| depth[p.index()] + 1);
            }
        }
        depth
    }

    /// Step `i`, its references resolved. Where something is wrong the
    /// step is still built, with a placeholder, so that the other steps
    /// are checked too; the caller drops the lot if any error was reported.
    fn step(&mut self, i: usize, s: &RawStep, ids: &StepNames<'_>, nesting: &mut Nesting, db: &Database) -> Step {
        let id = s.id.get_ref().clone();
        let is_group = !nesting.children[i].is_empty();
        let after = self.after(s, &id, ids);
        let role = s.replication.as_ref().and_then(|r| match Role::parse(r.get_ref()) {
            Some(_) if is_group => {
                self.error(&r.span(), Some(&id), "`replication` applies to a step that does the work, not to one with sub-steps");
                None
            }
            Some(role) => Some(role),
            None => {
                self.error(&r.span(), Some(&id), format!("replication = {:?}; expected \"snapshot\" (the initial snapshot of the tables with a primary key), \"no-pk-tables\" (the toolkit's cutover: tables without a primary key) or \"caught-up\" (wait until the backlog has drained)", r.get_ref()));
                None
            }
        });
        // An unknown role is reported once, not again as a missing duration.
        let work = self.work(s, &id, is_group, s.replication.is_some(), db);
        if let Some(r) = &s.records_status
            && *r.get_ref()
            && !is_group
        {
            self.error(
                &r.span(),
                Some(&id),
                "records_status applies to a runbook step with sub-steps (it records them)",
            );
        }
        let downtime = s.downtime.as_ref().and_then(|d| match d.get_ref().as_str() {
            "begins" => Some(DowntimeMark::Begins),
            "ends" => Some(DowntimeMark::Ends),
            other => {
                self.error(&d.span(), Some(&id), format!("downtime = {other:?}; expected \"begins\" (downtime starts when this step starts) or \"ends\" (it ends when this step ends)"));
                None
            }
        });
        let line = self.line_col(s.id.span().start).0;
        let data = self.effects(s.data.as_ref(), &id, is_group);
        Step {
            name: s.name.clone().unwrap_or_else(|| id.clone()),
            id,
            owner: s.owner.clone(),
            workstream: s.workstream.clone(),
            parent: nesting.parent[i],
            children: std::mem::take(&mut nesting.children[i]),
            depth: nesting.depth[i],
            after,
            work: work.unwrap_or(Work::Group { finish_lag: SimDuration::ZERO }),
            downtime,
            records_status: s.records_status.as_ref().is_some_and(|r| *r.get_ref()),
            milestone: s.milestone.unwrap_or(false),
            data,
            replication: role,
            needs: Vec::new(),
            scale_by: Vec::new(),
            not_before: None,
            line,
        }
    }

    /// The step's `after` entries, each resolved and listed once.
    fn after(&mut self, s: &RawStep, id: &str, ids: &StepNames<'_>) -> Vec<Dep> {
        let mut after = Vec::new();
        let entries = match s.after.as_ref().map(|a| (a.span(), a.get_ref())) {
            None => &[][..],
            Some((_, RawAfter::List(entries))) => &entries[..],
            Some((span, RawAfter::Other(other))) => {
                let example = match other {
                    toml::Value::String(one) => format!("after = [{one:?}]"),
                    toml::Value::Table(_) => format!("after = [{other}]"),
                    _ => "after = [\"<step id>\"]".to_string(),
                };
                self.error(
                    &span,
                    Some(id),
                    format!("after = {other}; expected a list of the steps it waits for, e.g. {example}"),
                );
                &[][..]
            }
        };
        for entry in entries {
            if let Some(d) = self.dep(entry, id) {
                if d.id == id {
                    self.error(&d.span, Some(id), "a step cannot come after itself");
                    continue;
                }
                if let Some(target) = self.resolve(ids, &d.id, &d.span, id, "after") {
                    if after.iter().any(|x: &Dep| x.step == target && x.anchor == d.anchor) {
                        self.error(&d.span, Some(id), format!("`{}` is listed twice in after", d.id));
                    }
                    after.push(Dep { step: target, anchor: d.anchor, lag: d.lag, up_to: d.up_to });
                }
            }
        }
        after
    }

    /// Downtime that begins and ends in pairs the graph guarantees: see
    /// [`unmatched_downtime`]. A mark left out may have a partner of the
    /// other kind beside it that is taken by another mark: the message
    /// then names both, rather than saying there is none.
    fn check_downtime(&mut self, steps: &[Step], graph: &Graph) {
        let unmatched = unmatched_downtime(steps, graph);
        if unmatched.begins.is_empty() && unmatched.ends.is_empty() {
            return;
        }
        let marks = |mark: DowntimeMark, node: fn(usize) -> usize, except: &[StepIdx]| {
            let mut at = vec![None; 2 * steps.len()];
            for (i, s) in steps.iter().enumerate() {
                if s.downtime == Some(mark) && !except.contains(&StepIdx(i as u32)) {
                    at[node(i)] = Some(i);
                }
            }
            at
        };
        let (begins, ends) = (DowntimeMark::Begins, DowntimeMark::Ends);
        let end_after = graph.nearest_marked(&marks(ends, Graph::end, &[]), false);
        let paired_begin_before = graph.nearest_marked(&marks(begins, Graph::start, &unmatched.begins), true);
        for b in unmatched.begins {
            let end = end_after[Graph::start(b.index())];
            let taken = end.and_then(|e| paired_begin_before[Graph::end(e)].map(|y| (e, y)));
            let message = match taken {
                Some((e, y)) => format!(
                    "downtime begins here and never ends: `{}` (line {}), the step after it with downtime = \"ends\", ends the downtime that `{}` begins; each `begins` pairs with one `ends`: mark where this one ends, or remove it",
                    steps[e].id, steps[e].line, steps[y].id
                ),
                None => "downtime begins here and never ends: no step after it has downtime = \"ends\"".to_string(),
            };
            self.step_error(&steps[b.index()], message);
        }
        let begin_before = graph.nearest_marked(&marks(begins, Graph::start, &[]), true);
        let paired_end_after = graph.nearest_marked(&marks(ends, Graph::end, &unmatched.ends), false);
        for e in unmatched.ends {
            let begin = begin_before[Graph::end(e.index())];
            let taken = begin.and_then(|b| paired_end_after[Graph::start(b)].map(|x| (b, x)));
            let message = match taken {
                Some((b, x)) => format!(
                    "downtime ends here, but the downtime that `{}` begins already has its `ends`: `{}` (line {}); each `begins` pairs with one `ends`: remove this one, or mark where downtime begins again before it",
                    steps[b].id, steps[x].id, steps[x].line
                ),
                None => "downtime ends here but no step before it has downtime = \"begins\"".to_string(),
            };
            self.step_error(&steps[e.index()], message);
        }
    }

    fn dep(&mut self, entry: &Spanned<toml::Value>, me: &str) -> Option<RawDep> {
        let span = entry.span();
        match entry.get_ref() {
            toml::Value::String(id) => {
                Some(RawDep { id: id.clone(), span, anchor: Anchor::Finish, lag: SimDuration::ZERO, up_to: None })
            }
            toml::Value::Table(t) => {
                let mut ok = true;
                for key in t.keys() {
                    if !["step", "from", "lag"].contains(&key.as_str()) {
                        self.error(
                            &span,
                            Some(me),
                            format!("unknown key `{key}` in an after entry; expected `step`, `from` or `lag`"),
                        );
                        ok = false;
                    }
                }
                let id = match t.get("step") {
                    Some(toml::Value::String(s)) => s.clone(),
                    _ => {
                        self.error(&span, Some(me), "an after entry written as a table needs `step = \"<id>\"`");
                        return None;
                    }
                };
                let anchor = match t.get("from") {
                    None => Anchor::Finish,
                    Some(toml::Value::String(s)) if s == "finish" => Anchor::Finish,
                    Some(toml::Value::String(s)) if s == "start" => Anchor::Start,
                    Some(other) => {
                        self.error(
                            &span,
                            Some(me),
                            format!(
                                "from = {other}; expected \"finish\" (after it ends) or \"start\" (after it starts)"
                            ),
                        );
                        return None;
                    }
                };
                let (lag, up_to) = match t.get("lag") {
                    None => (SimDuration::ZERO, None),
                    Some(toml::Value::Table(range)) => self.at_least(&span, me, range)?,
                    Some(v) => (self.span_duration(&span, Some(me), v, "lag")?, None),
                };
                ok.then_some(RawDep { id, span, anchor, lag, up_to })
            }
            other => {
                self.error(&span, Some(me), format!("after entries are step ids or tables like {{ step = \"id\", from = \"start\", lag = \"5m\" }}, found {}", other.type_str()));
                None
            }
        }
    }

    /// `lag = { at_least = "48h" }` or `{ at_least = "48h", up_to = "72h" }`:
    /// where a document says "at least".
    fn at_least(
        &mut self,
        span: &Range<usize>,
        me: &str,
        range: &toml::Table,
    ) -> Option<(SimDuration, Option<SimDuration>)> {
        let shape = "a lag written as a table is { at_least = \"48h\" } or { at_least = \"48h\", up_to = \"72h\" }";
        if let Some(key) = range.keys().find(|k| !["at_least", "up_to"].contains(&k.as_str())) {
            self.error(span, Some(me), format!("unknown key `{key}` in a lag; {shape}"));
            return None;
        }
        let Some(min) = range.get("at_least") else {
            self.error(span, Some(me), format!("a lag range needs `at_least`; {shape}"));
            return None;
        };
        let min = self.span_duration(span, Some(me), min, "lag at_least")?;
        let max = match range.get("up_to") {
            None => return Some((min, None)),
            Some(v) => self.span_duration(span, Some(me), v, "lag up_to")?,
        };
        if max < min {
            self.error(span, Some(me), format!("lag up_to ({max}) is shorter than at_least ({min})"));
            return None;
        }
        Some((min, Some(max)))
    }

    /// `data = "copy"` or `data = ["restore-point", "attach"]`.
    fn effects(&mut self, v: Option<&Spanned<toml::Value>>, id: &str, is_group: bool) -> Vec<crate::data::Effect> {
        let Some(v) = v else { return Vec::new() };
        let expected =
            "expected \"restore-point\", \"copy\", \"attach\", \"upgrade\" or \"validate\", or a list of them";
        let names: Vec<&toml::Value> = match v.get_ref() {
            toml::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        if is_group {
            self.error(&v.span(), Some(id), "`data` applies to a step that does the work, not to one with sub-steps");
            return Vec::new();
        }
        let mut out = Vec::new();
        for n in names {
            match n.as_str().and_then(crate::data::Effect::parse) {
                Some(e) if out.contains(&e) => {
                    self.error(&v.span(), Some(id), format!("data effect `{}` is listed twice", e.name()))
                }
                Some(e) => out.push(e),
                None => self.error(&v.span(), Some(id), format!("data = {n}: {expected}")),
            }
        }
        out
    }
}

/// A sub-step without a `workstream` of its own takes its parent's
/// (parents first: by depth).
fn inherit_workstreams(steps: &mut [Step]) {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by_key(|i| steps[*i].depth);
    for i in order {
        if steps[i].workstream.is_none()
            && let Some(p) = steps[i].parent
        {
            steps[i].workstream = steps[p.index()].workstream.clone();
        }
    }
}
