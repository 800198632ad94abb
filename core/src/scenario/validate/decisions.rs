//! `[[decision]]`: the plan's own go/no-go rules ("if `transformation` is
//! not done by 30h into the downtime, roll back").

use toml::Spanned;

use super::Validator;
use super::names::StepNames;
use crate::fault::{Action, Policy, PolicyIdx};
use crate::scenario::model::{Decision, Step};
use crate::scenario::raw::RawDecision;
use crate::scenario::suggest::suggest;

impl Validator<'_> {
    /// Validates the rules; `None` if any error.
    pub(super) fn decisions(
        &mut self,
        raw: Vec<Spanned<RawDecision>>,
        steps: &[Step],
        step_names: &StepNames<'_>,
        policies: &[Policy],
    ) -> Option<Vec<Decision>> {
        let n_before = self.diags.len();
        let mut out = Vec::new();
        for d in raw {
            let line = self.line_col(d.span().start).0;
            let d = d.into_inner();
            let step = step_names.find(d.step.get_ref());
            if step.is_none() {
                let hint = step_names.hint(d.step.get_ref());
                self.error(&d.step.span(), None, format!("decision names unknown step `{}`{hint}", d.step.get_ref()));
            }
            let by = self.span_duration(&d.by.span(), None, d.by.get_ref(), "decision `by`");
            let policy = match policies.iter().position(|p| p.name == *d.otherwise.get_ref()) {
                Some(p) if policies[p].action == Action::Rollback => Some(PolicyIdx(p as u32)),
                Some(p) => {
                    self.error(
                        &d.otherwise.span(),
                        None,
                        format!(
                            "decision `else = \"{}\"`: that policy's action is {:?}; a go/no-go rule rolls back, so it names a policy with action = \"rollback\"",
                            d.otherwise.get_ref(),
                            policies[p].action
                        ),
                    );
                    None
                }
                None => {
                    let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
                    let hint = suggest(d.otherwise.get_ref(), &names)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    self.error(
                        &d.otherwise.span(),
                        None,
                        format!(
                            "decision `else` names unknown recovery policy `{}`{hint} (define it as [recovery.{}] with action = \"rollback\")",
                            d.otherwise.get_ref(),
                            d.otherwise.get_ref()
                        ),
                    );
                    None
                }
            };
            let (Some(step), Some(by), Some(policy)) = (step, by, policy) else { continue };
            if let Some(deadline) = policies[policy.index()].deadline
                && by > deadline
            {
                self.error(
                    &d.by.span(),
                    None,
                    format!(
                        "decision on `{}` rolls back at {by} into the downtime, past the deadline of [recovery.{}] ({deadline}): the plan would roll back later than it allows",
                        steps[step.index()].id,
                        policies[policy.index()].name
                    ),
                );
                continue;
            }
            out.push(Decision { step, by, policy, line });
        }
        (self.diags.len() == n_before).then_some(out)
    }
}
