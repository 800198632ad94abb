//! `[recovery.*]` and `[[fault]]`: each policy's action and what that
//! action needs, policies that hand over to one another without looping,
//! and faults that name steps, a catalogue entry and a policy that exist.

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::Validator;
use super::names::StepNames;
use crate::dist::Dist;
use crate::fault::{Action, CATALOG, CatalogEntry, Fault, Policy, PolicyIdx, catalog};
use crate::scenario::graph::Graph;
use crate::scenario::model::{Step, StepIdx};
use crate::scenario::raw::{RawFault, RawPolicy};
use crate::scenario::suggest::Suggester;

const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const MAX_ATTEMPTS_LIMIT: u32 = 1_000;

/// What faults and policies refer to by name: the policies (in the order
/// [`PolicyIdx`] counts them) and the steps.
struct Names<'p, 'n, 's> {
    /// Sorted: they are a map's keys.
    policies: Vec<&'p str>,
    policy_hints: OnceCell<Suggester<'p>>,
    steps: &'n [Step],
    step_names: &'n StepNames<'s>,
    graph: OnceCell<Graph>,
    /// The nodes after each step a policy reruns from, as asked for.
    after_from: RefCell<BTreeMap<StepIdx, Vec<bool>>>,
}

impl<'p, 'n, 's> Names<'p, 'n, 's> {
    fn new(raw_policies: &'p BTreeMap<String, RawPolicy>, steps: &'n [Step], step_names: &'n StepNames<'s>) -> Self {
        Names {
            policies: raw_policies.keys().map(String::as_str).collect(),
            policy_hints: OnceCell::new(),
            steps,
            step_names,
            graph: OnceCell::new(),
            after_from: RefCell::new(BTreeMap::new()),
        }
    }

    /// The policy `name` names, or an error saying `what` names an unknown one.
    fn policy(&self, v: &mut Validator<'_>, name: &Spanned<String>, what: &str) -> Option<PolicyIdx> {
        match self.policies.binary_search(&name.get_ref().as_str()) {
            Ok(i) => Some(PolicyIdx(i as u32)),
            Err(_) => {
                let hint = self
                    .policy_hints
                    .get_or_init(|| Suggester::new(&self.policies))
                    .suggest(name.get_ref())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                v.error(
                    &name.span(),
                    None,
                    format!(
                        "{what} names unknown recovery policy `{}`{hint} (define it as [recovery.{}])",
                        name.get_ref(),
                        name.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// Whether rerunning from `from` covers `failed`: the step itself, a
    /// step holding it, or an earlier step beside (a holder of) it that it
    /// waits for.
    fn rerun_reaches(&self, from: StepIdx, failed: StepIdx) -> bool {
        let steps = self.steps;
        // Climb to the ancestor-or-self of `failed` that is `from` or beside it.
        let mut cur = failed;
        loop {
            if cur == from {
                return true;
            }
            if steps[cur.index()].parent == steps[from.index()].parent {
                break;
            }
            match steps[cur.index()].parent {
                Some(p) => cur = p,
                None => return false,
            }
        }
        let graph = self.graph.get_or_init(|| Graph::new(steps));
        let mut after_from = self.after_from.borrow_mut();
        let after = after_from.entry(from).or_insert_with(|| {
            let mut seen = Vec::new();
            graph.reachable_into(Graph::start(from.index()), &mut seen, &mut Vec::new());
            seen
        });
        after[Graph::start(cur.index())]
    }
}

impl Validator<'_> {
    /// Validates `[recovery.*]` and `[[fault]]`; returns `None` if any error.
    pub(super) fn faults(
        &mut self,
        raw_policies: BTreeMap<String, RawPolicy>,
        raw_faults: Vec<RawFault>,
        steps: &[Step],
        step_names: &StepNames<'_>,
    ) -> Option<(Vec<Fault>, Vec<Policy>)> {
        let n_before = self.diags.len();
        let names = Names::new(&raw_policies, steps, step_names);
        let mut policies = Vec::new();
        for (name, raw) in &raw_policies {
            if let Some(p) = self.policy(name, raw, &names) {
                policies.push(p);
            }
        }
        // On any error above nothing is used: a policy left out would
        // shift the indexes of those after it.
        if self.diags.len() > n_before {
            return None;
        }
        self.check_policy_loops(&policies, &raw_policies)?;
        let mut faults = Vec::new();
        let mut seen_ids: BTreeMap<String, u32> = BTreeMap::new();
        for raw in raw_faults {
            if let Some(f) = self.fault(raw, &mut seen_ids, &policies, &names) {
                faults.push(f);
            }
        }
        if self.diags.len() > n_before {
            return None;
        }
        Some((faults, policies))
    }

    /// `[recovery.NAME]`; `None` if its action is unknown. Any other error
    /// is reported and the policy still built, with defaults.
    fn policy(&mut self, name: &str, raw: &RawPolicy, names: &Names<'_, '_, '_>) -> Option<Policy> {
        let span = raw.action.span();
        let action = match raw.action.get_ref().as_str() {
            "resume" => Action::Resume,
            "retry" => Action::Retry,
            "rerun" => Action::Rerun,
            "rollback-package" => Action::RollbackPackage,
            "rollback" => Action::Rollback,
            "cancel" => Action::Cancel,
            "abort" => Action::Abort,
            other => {
                self.error(&span, None, format!("recovery.{name}: action = {other:?}; expected \"resume\", \"retry\", \"rerun\", \"rollback-package\", \"rollback\", \"cancel\" or \"abort\""));
                return None;
            }
        };
        let ctx = format!("recovery.{name}");
        let opt_dist = |v: &mut Self, value: &Option<Spanned<toml::Value>>, what: &str| -> Option<Option<Dist>> {
            match value {
                None => Some(None),
                Some(d) => v.dist(d, None, &format!("{ctx}: {what}"), false).map(Some),
            }
        };
        let reaction = opt_dist(self, &raw.reaction, "reaction");
        let fix = opt_dist(self, &raw.fix, "fix");
        let duration = opt_dist(self, &raw.duration, "duration");
        let verify = opt_dist(self, &raw.verify, "verify");
        let max_attempts = match &raw.max_attempts {
            None => Some(DEFAULT_MAX_ATTEMPTS),
            Some(m) if (1..=i64::from(MAX_ATTEMPTS_LIMIT)).contains(m.get_ref()) => Some(*m.get_ref() as u32),
            Some(m) => {
                self.error(
                    &m.span(),
                    None,
                    format!("recovery.{name}: max_attempts {} must be between 1 and {MAX_ATTEMPTS_LIMIT}", m.get_ref()),
                );
                None
            }
        };
        let deadline = match &raw.deadline {
            None => Some(None),
            Some(d) => {
                self.span_duration(&d.span(), None, d.get_ref(), &format!("recovery.{name}: deadline")).map(Some)
            }
        };
        let then = raw.then.as_ref().map(|t| names.policy(self, t, &format!("recovery.{name}: then")));
        let past_deadline =
            raw.past_deadline.as_ref().map(|t| names.policy(self, t, &format!("recovery.{name}: past_deadline")));
        let from = raw.from.as_ref().map(|f| {
            let found = names.step_names.find(f.get_ref());
            if found.is_none() {
                let hint = names.step_names.hint(f.get_ref());
                self.error(
                    &f.span(),
                    None,
                    format!("recovery.{name}: from names unknown step `{}`{hint}", f.get_ref()),
                );
            }
            found
        });
        self.check_policy_fields(name, action, raw, &span);
        Some(Policy {
            name: name.to_string(),
            action,
            reaction: reaction.flatten(),
            max_attempts: max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
            then: then.flatten(),
            fix: fix.flatten(),
            duration: duration.flatten(),
            deadline: deadline.flatten(),
            past_deadline: past_deadline.flatten(),
            from: from.flatten(),
            verify: verify.flatten(),
        })
    }

    /// What each action needs, and what it cannot use.
    fn check_policy_fields(&mut self, name: &str, action: Action, raw: &RawPolicy, span: &Range<usize>) {
        // Each problem is placed at the key that is wrong where there is
        // one, else at the action.
        let needs_at = |v: &mut Self, ok: bool, at: Option<Range<usize>>, message: &str| {
            if !ok {
                let at = at.unwrap_or_else(|| span.clone());
                v.error(&at, None, format!("recovery.{name} ({}): {message}", action.name()));
            }
        };
        let needs = |v: &mut Self, ok: bool, message: &str| needs_at(v, ok, None, message);
        // Said from the one list, so that no retrying action is left out.
        let retrying: Vec<&str> = Action::ALL.iter().filter(|a| a.retries()).map(|a| a.name()).collect();
        let retrying = retrying.join(", ");
        needs(self, action == Action::Rerun || raw.from.is_none(), "`from` applies only to action = \"rerun\"");
        needs(
            self,
            action != Action::Rerun || raw.from.is_some(),
            "needs `from = \"<step id>\"`, the step to run again from",
        );
        needs_at(
            self,
            action.retries() || raw.max_attempts.is_none(),
            raw.max_attempts.as_ref().map(Spanned::span),
            &format!("max_attempts applies only to actions that try the step again ({retrying})"),
        );
        needs_at(
            self,
            action.retries() || raw.then.is_none(),
            raw.then.as_ref().map(Spanned::span),
            &format!("`then` applies only to actions that try the step again ({retrying})"),
        );
        // The engine waits for a fix only before the step is tried again;
        // after a rollback or a cancel nothing is, so a fix there would be
        // printed and never waited for.
        needs_at(
            self,
            action.retries() || action == Action::Abort || raw.fix.is_none(),
            raw.fix.as_ref().map(Spanned::span),
            &format!(
                "`fix` applies only to actions that try the step again ({retrying}): after a {} nothing is tried again, so the fix would never be waited for; put the time in `duration`, or fix forward with a policy that resumes",
                action.name()
            ),
        );
        needs(
            self,
            action == Action::Rollback || raw.deadline.is_none() && raw.past_deadline.is_none(),
            "deadline and past_deadline apply only to action = \"rollback\"",
        );
        needs(self, raw.past_deadline.is_none() || raw.deadline.is_some(), "past_deadline needs a deadline");
        needs_at(
            self,
            action != Action::Rollback || raw.deadline.is_none() || raw.past_deadline.is_some(),
            raw.deadline.as_ref().map(Spanned::span),
            "a deadline needs `past_deadline = \"<policy>\"`, what to do once it is too late to roll back (e.g. a policy with action = \"resume\" that fixes forward); without one a late rollback would begin anyway, past the deadline",
        );
        let undoes = matches!(action, Action::Rollback | Action::RollbackPackage | Action::Cancel);
        needs(
            self,
            undoes == raw.duration.is_some(),
            if undoes {
                "needs `duration`, how long the undo takes"
            } else {
                "`duration` applies only to rollback, rollback-package and cancel"
            },
        );
        needs(
            self,
            action != Action::Abort || raw.reaction.is_none() && raw.fix.is_none(),
            "abort takes no reaction or fix",
        );
    }

    /// `then` and `past_deadline` must not loop; `None` at the first loop.
    fn check_policy_loops(&mut self, policies: &[Policy], raw_policies: &BTreeMap<String, RawPolicy>) -> Option<()> {
        for (i, p) in policies.iter().enumerate() {
            let mut seen = vec![i];
            let mut cur = p.then.or(p.past_deadline);
            while let Some(next) = cur {
                if seen.contains(&next.index()) {
                    let chain: Vec<&str> = seen
                        .iter()
                        .map(|j| policies[*j].name.as_str())
                        .chain([policies[next.index()].name.as_str()])
                        .collect();
                    let span = raw_policies[&p.name].action.span();
                    self.error(&span, None, format!("recovery policies loop: {}", chain.join(" -> ")));
                    return None;
                }
                seen.push(next.index());
                let q = &policies[next.index()];
                cur = q.then.or(q.past_deadline);
            }
        }
        Some(())
    }

    /// `[[fault]]`; `None` if anything in it is wrong (the error is
    /// reported). `seen_ids` holds the line of each fault id met so far.
    fn fault(
        &mut self,
        raw: RawFault,
        seen_ids: &mut BTreeMap<String, u32>,
        policies: &[Policy],
        names: &Names<'_, '_, '_>,
    ) -> Option<Fault> {
        let id = raw.id.get_ref().clone();
        let line = self.line_col(raw.id.span().start).0;
        if let Some(first) = seen_ids.get(&id) {
            self.error(
                &raw.id.span(),
                None,
                format!("fault `{id}`: duplicate fault id (first defined on line {first})"),
            );
            return None;
        }
        seen_ids.insert(id.clone(), line);
        let ctx = format!("fault `{id}`");
        let entry = self.fault_catalog_entry(&raw, &ctx)?;
        let message = match (&raw.message, entry) {
            (Some(m), _) => m.clone(),
            (None, Some(e)) => e.message.to_string(),
            (None, None) => {
                self.error(&raw.id.span(), None, format!("{ctx}: needs `message` (the error as users see it) or `catalog = \"<id>\"` to take a documented one"));
                String::new()
            }
        };
        let targets = self.fault_targets(&raw, &ctx, names);
        let probability = self.fault_probability(&raw, &ctx);
        let at = match &raw.at {
            None => Some((0.0, 1.0)),
            Some(v) => self.fraction_range(v, &ctx),
        };
        let unknown_outcome = match &raw.outcome {
            None => Some(false),
            Some(o) if o.get_ref() == "failed" => Some(false),
            Some(o) if o.get_ref() == "unknown" => Some(true),
            Some(o) => {
                self.error(&o.span(), None, format!("{ctx}: outcome = {:?}; expected \"failed\" (the default) or \"unknown\" (it may have completed: recovery must verify)", o.get_ref()));
                None
            }
        };
        let recovery_name = match (&raw.recovery, entry) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(e)) => Some(Spanned::new(raw.id.span(), e.recovery.to_string())),
            (None, None) => {
                self.error(&raw.id.span(), None, format!("{ctx}: needs `recovery = \"<policy>\"`"));
                None
            }
        };
        let recovery = recovery_name.and_then(|r| names.policy(self, &r, &format!("{ctx}: recovery")));
        let (Some(at), Some(unknown_outcome), Some(recovery)) = (at, unknown_outcome, recovery) else {
            return None;
        };
        self.check_fault_recovery(&raw, &ctx, unknown_outcome, &policies[recovery.index()], &targets, names);
        Some(Fault {
            id,
            catalog: entry.map(|e| e.id),
            message,
            steps: targets,
            probability,
            at,
            persistent: raw.persistent.unwrap_or(entry.is_some_and(|e| e.persistent)),
            unknown_outcome,
            recovery,
            line,
        })
    }

    /// The catalogue entry `catalog` names: `Some(None)` without one,
    /// `None` if it names none (the error is reported).
    fn fault_catalog_entry(&mut self, raw: &RawFault, ctx: &str) -> Option<Option<&'static CatalogEntry>> {
        let Some(c) = &raw.catalog else { return Some(None) };
        match catalog(c.get_ref()) {
            Some(e) => Some(Some(e)),
            None => {
                let ids: Vec<&str> = CATALOG.iter().map(|e| e.id).collect();
                self.error(
                    &c.span(),
                    None,
                    format!("{ctx}: catalog = {:?} is not in the catalogue; known: {}", c.get_ref(), ids.join(", ")),
                );
                None
            }
        }
    }

    /// The leaf steps a fault can strike.
    fn fault_targets(&mut self, raw: &RawFault, ctx: &str, names: &Names<'_, '_, '_>) -> Vec<StepIdx> {
        let mut targets = Vec::new();
        if raw.steps.get_ref().is_empty() {
            self.error(&raw.steps.span(), None, format!("{ctx}: `steps` is empty; name the steps it can strike"));
        }
        for s in raw.steps.get_ref() {
            match names.step_names.find(s.get_ref()) {
                Some(idx) if names.steps[idx.index()].is_group() => self.error(
                    &s.span(),
                    None,
                    format!(
                        "{ctx}: step `{}` has sub-steps; a fault strikes a step that does work (one of its sub-steps)",
                        s.get_ref()
                    ),
                ),
                Some(idx) => targets.push(idx),
                None => {
                    let hint = names.step_names.hint(s.get_ref());
                    self.error(&s.span(), None, format!("{ctx}: steps names unknown step `{}`{hint}", s.get_ref()));
                }
            }
        }
        targets
    }

    /// The chance a fault strikes each attempt: 0 where it is missing or
    /// out of range (the error is reported).
    fn fault_probability(&mut self, raw: &RawFault, ctx: &str) -> f64 {
        match &raw.probability {
            None => {
                self.error(&raw.id.span(), None, format!("{ctx}: needs `probability`, the chance it strikes each attempt (the documents give no rate: state your own)"));
                0.0
            }
            Some(p) if !(0.0..=1.0).contains(p.get_ref()) => {
                self.error(
                    &p.span(),
                    None,
                    format!("{ctx}: probability {} is not a probability; expected a number in [0, 1]", p.get_ref()),
                );
                0.0
            }
            Some(p) => *p.get_ref(),
        }
    }

    /// What the fault's policy must be able to do for it: verify an
    /// unknown outcome, and rerun from a step that covers each target.
    fn check_fault_recovery(
        &mut self,
        raw: &RawFault,
        ctx: &str,
        unknown_outcome: bool,
        policy: &Policy,
        targets: &[StepIdx],
        names: &Names<'_, '_, '_>,
    ) {
        if unknown_outcome && policy.verify.is_none() {
            self.error(&raw.id.span(), None, format!("{ctx}: its outcome can be unknown, so recovery.{} needs `verify`, the time to find out whether the step completed", policy.name));
        }
        if let Some(from) = policy.from {
            for t in targets {
                if !names.rerun_reaches(from, *t) {
                    self.error(&raw.id.span(), None, format!("{ctx}: recovery.{} reruns from `{}`, which is neither step `{}`, a step holding it, nor an earlier step beside it that it waits for", policy.name, names.steps[from.index()].id, names.steps[t.index()].id));
                }
            }
        }
    }

    /// `at = 0.5` or `at = [0.2, 0.9]`: fractions of the work.
    fn fraction_range(&mut self, v: &Spanned<toml::Value>, ctx: &str) -> Option<(f64, f64)> {
        let span: Range<usize> = v.span();
        let num = |x: &toml::Value| match x {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        let range = match v.get_ref() {
            toml::Value::Array(a) if a.len() == 2 => num(&a[0]).zip(num(&a[1])),
            other => num(other).map(|x| (x, x)),
        };
        match range {
            Some((a, b)) if (0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b) && a <= b => Some((a, b)),
            _ => {
                self.error(&span, None, format!("{ctx}: at = {}; expected the share of the work done when it strikes, a number or [min, max] within [0, 1]", v.get_ref()));
                None
            }
        }
    }
}
