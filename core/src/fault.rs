//! Faults and recovery policies: what can go wrong in a plan, and what the
//! plan says to do about it. Also the catalogue of the faults the upgrade
//! documentation names, with its wording, that scenarios include by id.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::dist::Dist;
use crate::scenario::{Graph, Step, StepIdx, Validator, suggest};
use crate::time::SimDuration;

/// Index of a fault in [`crate::Scenario::faults`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultIdx(pub u32);

impl FaultIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a recovery policy in [`crate::Scenario::policies`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyIdx(pub u32);

impl PolicyIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A fault that may strike some steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub id: String,
    /// The catalogue entry it was taken from, if any.
    pub catalog: Option<&'static str>,
    /// The error as the documentation words it.
    pub message: String,
    /// The leaf steps it can strike.
    pub steps: Vec<StepIdx>,
    /// Chance of striking, per attempt of a step.
    pub probability: f64,
    /// Share of the attempt's work done when it strikes: drawn uniformly in
    /// this range. The work done is lost.
    pub at: (f64, f64),
    /// Transient faults clear on retry; persistent ones strike every attempt
    /// until a recovery with a `fix` has run.
    pub persistent: bool,
    /// The step ends with its outcome unknown (the connection dropped during
    /// the commit): recovery must verify before it goes on.
    pub unknown_outcome: bool,
    pub recovery: PolicyIdx,
    pub line: u32,
}

/// What a recovery does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Continue the failed step where it stopped ("Resume" in LCS and in
    /// the toolkit: "the process will pick up at this step and move
    /// forward"): the next attempt does what was left of the interrupted one.
    Resume,
    /// Start the failed step again from its beginning: the next attempt is
    /// the whole step (a rebuild, a reinitialised snapshot, a revalidation,
    /// `-rerunstep` of the failed runbook step).
    Retry,
    /// Run again from an earlier step (`AXUpdateInstaller execute -rerunstep=N`).
    Rerun,
    /// Reverse the failed package deployment, then apply it again.
    RollbackPackage,
    /// Roll back the whole upgrade: point-in-time restore, swap back to the
    /// original environment, online again as before.
    Rollback,
    /// Cancel the upgrade from the original environment (before the swap).
    Cancel,
    /// Stop: the run ends without committing or rolling back.
    Abort,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Resume => "resume",
            Action::Retry => "retry",
            Action::Rerun => "rerun",
            Action::RollbackPackage => "rollback-package",
            Action::Rollback => "rollback",
            Action::Cancel => "cancel",
            Action::Abort => "abort",
        }
    }

    /// Whether the action tries the step again.
    pub fn retries(self) -> bool {
        matches!(self, Action::Resume | Action::Retry | Action::Rerun | Action::RollbackPackage)
    }
}

/// A recovery policy: `[recovery.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: String,
    pub action: Action,
    /// Time for someone to notice and act (it is 3 a.m.).
    pub reaction: Option<Dist>,
    /// Attempts of the step in all, the first included (retrying actions).
    pub max_attempts: u32,
    /// What to do when the budget is spent (retrying actions).
    pub then: Option<PolicyIdx>,
    /// Time to fix the cause; clears persistent faults on the step.
    pub fix: Option<Dist>,
    /// How long the undo takes (rollback, rollback-package, cancel).
    pub duration: Option<Dist>,
    /// Rollback: the latest time, after downtime began, to begin it.
    pub deadline: Option<SimDuration>,
    /// Rollback: what to do instead once the deadline has passed.
    pub past_deadline: Option<PolicyIdx>,
    /// Rerun: the step to run again from.
    pub from: Option<StepIdx>,
    /// Time to find out a step's real outcome when it is unknown.
    pub verify: Option<Dist>,
}

/// A documented fault: its wording, where it comes from, and its
/// documented recovery.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CatalogEntry {
    pub id: &'static str,
    pub message: &'static str,
    pub source: &'static str,
    /// The documented recovery, as an action name (and so the default
    /// policy name).
    pub recovery: &'static str,
    pub persistent: bool,
}

/// The faults the upgrade documentation names. Messages are quoted as
/// published; none of the documents gives a rate, so probabilities are the
/// scenario's to state.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        id: "dvt-mrprocessservice",
        message: "Upgrade failed at step X: DVT script for service model: MRProcessService",
        source: "001 Known issues: intermittent, resolved by Resume",
        recovery: "resume",
        persistent: false,
    },
    CatalogEntry {
        id: "ttscommit",
        message: "Application configuration sync failed. Call to TTSCOMMIT without first calling TTSBEGIN.",
        source: "001 Known issues: intermittent, resolved by Resume",
        recovery: "resume",
        persistent: false,
    },
    CatalogEntry {
        id: "package-deployment-failed",
        message: "Package deployment failed",
        source: "001 Package Application: use the Rollback button to reverse that package deployment",
        recovery: "rollback-package",
        persistent: true,
    },
    CatalogEntry {
        id: "prepare-could-not-start",
        message: "Prepare operation could not start. Microsoft support has been notified. If the issue persists, please contact support with this ID",
        source: "001 Known issues: environment certificates; submit a support ticket",
        recovery: "support-ticket",
        persistent: true,
    },
    CatalogEntry {
        id: "staging-deployment-failed",
        message: "Staging Deployment has failed",
        source: "001 Preparation: no Azure capacity in the region; DSE resolves it and emails",
        recovery: "wait-for-dse",
        persistent: true,
    },
    CatalogEntry {
        id: "runbook-step-failed",
        message: "The runbook step failed: review the runbook logs, then AXUpdateInstaller.exe execute -rerunstep=N",
        source: "002 Troubleshooting: rerun the runbook after a failure",
        recovery: "rerun",
        persistent: false,
    },
    CatalogEntry {
        id: "upgrade-script-error",
        message: "PreSync/PostSync upgrade script failed: see RELEASEUPDATESCRIPTSERRORLOG",
        source: "002 Troubleshooting: view details about a PreSync or PostSync upgrade job",
        recovery: "fix-and-rerun",
        persistent: true,
    },
    CatalogEntry {
        id: "services-left-running",
        message: "Locking issues on the database: the stopped services are running again (a reboot starts them)",
        source: "002 Download and restore: ensure these services remained stopped",
        recovery: "stop-services-and-resume",
        persistent: true,
    },
    CatalogEntry {
        id: "wrong-collation",
        message: "The collation of the AX 2012 database must be SQL_Latin1_General_CP1_CI_AS. If you're using a different collation, contact Microsoft Support",
        source: "002 Back up your AX 2012 database",
        recovery: "abort",
        persistent: true,
    },
    CatalogEntry {
        id: "record-counts-differ",
        message: "Record counts differ between source and target: replication is not complete",
        source: "003 Cutover: compare record counts; wait for replication and validate again",
        recovery: "wait-and-revalidate",
        persistent: false,
    },
    CatalogEntry {
        id: "snapshot-waiting",
        message: "Snapshot is waiting for more than two hours: reinitialise the subscription",
        source: "Database Upgrade Toolkit troubleshooting",
        recovery: "reinitialise-subscription",
        persistent: true,
    },
    CatalogEntry {
        id: "validation-failed",
        message: "Validation failed after the data upgrade",
        source: "001 Commit or Rollback: if the validation fails, use the Rollback action",
        recovery: "rollback",
        persistent: true,
    },
];

/// The catalogue entry with this id.
pub fn catalog(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.id == id)
}

// ---------------------------------------------------------------------------
// Raw model and validation (called from `Scenario::parse`).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    id: Spanned<String>,
    #[serde(default)]
    catalog: Option<Spanned<String>>,
    #[serde(default)]
    message: Option<String>,
    steps: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    probability: Option<Spanned<f64>>,
    #[serde(default)]
    at: Option<Spanned<toml::Value>>,
    #[serde(default)]
    persistent: Option<bool>,
    #[serde(default)]
    outcome: Option<Spanned<String>>,
    #[serde(default)]
    recovery: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    action: Spanned<String>,
    #[serde(default)]
    reaction: Option<Spanned<toml::Value>>,
    #[serde(default)]
    max_attempts: Option<Spanned<i64>>,
    #[serde(default)]
    then: Option<Spanned<String>>,
    #[serde(default)]
    fix: Option<Spanned<toml::Value>>,
    #[serde(default)]
    duration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    deadline: Option<Spanned<toml::Value>>,
    #[serde(default)]
    past_deadline: Option<Spanned<String>>,
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    verify: Option<Spanned<toml::Value>>,
}

const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const MAX_ATTEMPTS_LIMIT: u32 = 1_000;

impl Validator<'_> {
    /// Validates `[recovery.*]` and `[[fault]]`; returns `None` if any error.
    pub(crate) fn faults(
        &mut self,
        raw_policies: BTreeMap<String, RawPolicy>,
        raw_faults: Vec<RawFault>,
        steps: &[Step],
    ) -> Option<(Vec<Fault>, Vec<Policy>)> {
        let n_before = self.diags.len();
        let names: Vec<String> = raw_policies.keys().cloned().collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let find_step = |id: &str| steps.iter().position(|s| s.id == id).map(|i| StepIdx(i as u32));
        let step_ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        let resolve_policy = |v: &mut Self, name: &Spanned<String>, what: &str| -> Option<PolicyIdx> {
            match names.iter().position(|n| n == name.get_ref()) {
                Some(i) => Some(PolicyIdx(i as u32)),
                None => {
                    let hint = suggest(name.get_ref(), &name_refs)
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
        };

        let mut policies = Vec::new();
        for (name, raw) in &raw_policies {
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
                    continue;
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
                        format!(
                            "recovery.{name}: max_attempts {} must be between 1 and {MAX_ATTEMPTS_LIMIT}",
                            m.get_ref()
                        ),
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
            let then = raw.then.as_ref().map(|t| resolve_policy(self, t, &format!("recovery.{name}: then")));
            let past_deadline =
                raw.past_deadline.as_ref().map(|t| resolve_policy(self, t, &format!("recovery.{name}: past_deadline")));
            let from = raw.from.as_ref().map(|f| {
                let found = find_step(f.get_ref());
                if found.is_none() {
                    let hint =
                        suggest(f.get_ref(), &step_ids).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    self.error(
                        &f.span(),
                        None,
                        format!("recovery.{name}: from names unknown step `{}`{hint}", f.get_ref()),
                    );
                }
                found
            });
            // What each action needs, and what it cannot use.
            let needs = |v: &mut Self, ok: bool, message: &str| {
                if !ok {
                    v.error(&span, None, format!("recovery.{name} ({}): {message}", action.name()));
                }
            };
            needs(self, action == Action::Rerun || raw.from.is_none(), "`from` applies only to action = \"rerun\"");
            needs(
                self,
                action != Action::Rerun || raw.from.is_some(),
                "needs `from = \"<step id>\"`, the step to run again from",
            );
            needs(
                self,
                action.retries() || raw.max_attempts.is_none(),
                "max_attempts applies only to actions that retry (resume, rerun, rollback-package)",
            );
            needs(self, action.retries() || raw.then.is_none(), "`then` applies only to actions that retry");
            needs(
                self,
                action == Action::Rollback || raw.deadline.is_none() && raw.past_deadline.is_none(),
                "deadline and past_deadline apply only to action = \"rollback\"",
            );
            needs(self, raw.past_deadline.is_none() || raw.deadline.is_some(), "past_deadline needs a deadline");
            needs(
                self,
                matches!(action, Action::Rollback | Action::RollbackPackage | Action::Cancel) == raw.duration.is_some(),
                if matches!(action, Action::Rollback | Action::RollbackPackage | Action::Cancel) {
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
            // On any error above nothing is used: the caller returns before
            // the policies are read.
            policies.push(Policy {
                name: name.clone(),
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
            });
        }
        if self.diags.len() > n_before {
            return None;
        }
        // `then` and `past_deadline` must not loop.
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

        let mut faults = Vec::new();
        let mut seen_ids: BTreeMap<String, u32> = BTreeMap::new();
        for raw in raw_faults {
            let id = raw.id.get_ref().clone();
            let line = self.line_col(raw.id.span().start).0;
            if let Some(first) = seen_ids.get(&id) {
                self.error(
                    &raw.id.span(),
                    None,
                    format!("fault `{id}`: duplicate fault id (first defined on line {first})"),
                );
                continue;
            }
            seen_ids.insert(id.clone(), line);
            let ctx = format!("fault `{id}`");
            let entry = match &raw.catalog {
                Some(c) => match catalog(c.get_ref()) {
                    Some(e) => Some(e),
                    None => {
                        let ids: Vec<&str> = CATALOG.iter().map(|e| e.id).collect();
                        self.error(
                            &c.span(),
                            None,
                            format!(
                                "{ctx}: catalog = {:?} is not in the catalogue; known: {}",
                                c.get_ref(),
                                ids.join(", ")
                            ),
                        );
                        continue;
                    }
                },
                None => None,
            };
            let message = match (&raw.message, entry) {
                (Some(m), _) => m.clone(),
                (None, Some(e)) => e.message.to_string(),
                (None, None) => {
                    self.error(&raw.id.span(), None, format!("{ctx}: needs `message` (the error as users see it) or `catalog = \"<id>\"` to take a documented one"));
                    String::new()
                }
            };
            let mut targets = Vec::new();
            if raw.steps.get_ref().is_empty() {
                self.error(&raw.steps.span(), None, format!("{ctx}: `steps` is empty; name the steps it can strike"));
            }
            for s in raw.steps.get_ref() {
                match find_step(s.get_ref()) {
                    Some(idx) if steps[idx.index()].is_group() => self.error(&s.span(), None, format!("{ctx}: step `{}` has sub-steps; a fault strikes a step that does work (one of its sub-steps)", s.get_ref())),
                    Some(idx) => targets.push(idx),
                    None => {
                        let hint = suggest(s.get_ref(), &step_ids).map(|x| format!("; did you mean `{x}`?")).unwrap_or_default();
                        self.error(&s.span(), None, format!("{ctx}: steps names unknown step `{}`{hint}", s.get_ref()));
                    }
                }
            }
            let probability = match &raw.probability {
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
            };
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
            let recovery = recovery_name.and_then(|r| resolve_policy(self, &r, &format!("{ctx}: recovery")));
            if let (Some(at), Some(unknown_outcome), Some(recovery)) = (at, unknown_outcome, recovery) {
                if unknown_outcome && policies[recovery.index()].verify.is_none() {
                    self.error(&raw.id.span(), None, format!("{ctx}: its outcome can be unknown, so recovery.{} needs `verify`, the time to find out whether the step completed", policies[recovery.index()].name));
                }
                if let Some(from) = policies[recovery.index()].from {
                    for t in &targets {
                        if !rerun_reaches(steps, from, *t) {
                            self.error(&raw.id.span(), None, format!("{ctx}: recovery.{} reruns from `{}`, which is neither step `{}`, a step holding it, nor an earlier step beside it that it waits for", policies[recovery.index()].name, steps[from.index()].id, steps[t.index()].id));
                        }
                    }
                }
                faults.push(Fault {
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
                });
            }
        }
        if self.diags.len() > n_before {
            return None;
        }
        Some((faults, policies))
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

/// Whether rerunning from `from` covers `failed`: the step itself, a step
/// holding it, or an earlier step beside (a holder of) it that it waits for.
pub(crate) fn rerun_reaches(steps: &[Step], from: StepIdx, failed: StepIdx) -> bool {
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
    let graph = Graph::new(steps);
    graph.reaches(Graph::start(from.index()), Graph::start(cur.index()))
}
