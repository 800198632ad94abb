//! Stage two: the raw model checked and resolved into a [`Scenario`], one
//! room per subject. Each reports every problem it finds rather than
//! stopping at the first; the driver below decides which later subjects
//! still run once an earlier one has failed.

use std::ops::Range;

use toml::Spanned;

use super::diagnostics::{Diagnostic, LineIndex};
use super::model::Scenario;
use super::raw::RawFile;
use names::StepNames;

mod decisions;
mod durations;
mod faults;
mod meta;
mod names;
mod readiness;
mod replication;
mod resources;
mod steps;

/// An id of a step, resource or driver: non-empty, letters, digits, '-',
/// '_' and '.'.
fn well_formed(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The diagnostics gathered so far, and how to place them.
pub(crate) struct Validator<'t> {
    pub(crate) diags: Vec<Diagnostic>,
    lines: LineIndex<'t>,
}

impl<'t> Validator<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Validator { diags: Vec::new(), lines: LineIndex::new(text) }
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        self.lines.line_col(offset)
    }

    pub(crate) fn error(&mut self, span: &Range<usize>, step: Option<&str>, message: impl Into<String>) {
        let (line, col) = self.line_col(span.start);
        self.diags.push(Diagnostic { line, col, step: step.map(str::to_string), message: message.into() });
    }

    /// A problem placed at a step's `id` line rather than at a value: the
    /// step as a whole is wrong (a cycle through it, an unmatched downtime).
    fn step_error(&mut self, step: &super::model::Step, message: impl Into<String>) {
        self.diags.push(Diagnostic { line: step.line, col: 1, step: Some(step.id.clone()), message: message.into() });
    }

    /// The whole scenario. Steps come first: without them nothing else can
    /// be resolved. Replication and the faults are both checked before
    /// either failure stops the rest, so a plan wrong in both hears of both.
    pub(super) fn scenario(&mut self, mut raw: RawFile) -> Option<Scenario> {
        let (meta, anchor_span) = self.meta(raw.scenario);
        let collation_span = raw.database.as_ref().and_then(|d| d.collation.as_ref()).map(Spanned::span);
        let database = self.database(raw.database);
        let resources = self.resources(&raw.resources, meta.anchor.as_ref());
        let drivers = self.drivers(&raw.drivers);
        let extras: Vec<resources::StepExtras> = raw.steps.iter_mut().map(resources::StepExtras::take).collect();
        let steps = self.steps(raw.steps, &database);
        let (mut steps, roots) = steps?;
        let n_before = self.diags.len();
        self.step_extras(&mut steps, &extras, &resources, &drivers, meta.anchor.as_ref());
        if self.diags.len() > n_before {
            return None;
        }
        if let Some(span) = anchor_span
            && !steps.iter().any(|s| s.downtime == Some(super::model::DowntimeMark::Begins))
        {
            self.error(
                &span,
                None,
                "downtime_begins_at anchors the plan where its downtime begins, but no step has downtime = \"begins\"; mark the step that takes users off (or use start to date the first step)",
            );
        }
        let names = StepNames::new(steps.iter().map(|s| s.id.as_str()).collect());
        let replication = self.replication(raw.replication, &steps, &names, &database);
        let (faults, policies) = self.faults(raw.recovery, raw.faults, &steps, &names)?;
        let replication = replication?;
        let readiness = self.readiness(raw.readiness, &database)?;
        let upgrade = self.upgrade(raw.upgrade)?;
        self.collation(&database, collation_span, &upgrade, readiness.as_ref())?;
        let decisions = self.decisions(raw.decisions, &steps, &names, &policies)?;
        Some(Scenario {
            meta,
            database,
            steps,
            roots,
            faults,
            policies,
            replication,
            readiness,
            upgrade,
            decisions,
            resources,
            drivers,
        })
    }
}
