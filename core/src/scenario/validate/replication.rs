//! `[replication]`: the toolkit's settings and throughputs, and the steps
//! that play a part in it (one snapshot, at most one copy of the tables
//! without a primary key, one wait for the backlog), in an order that
//! makes sense.

use toml::Spanned;

use super::Validator;
use super::names::StepNames;
use crate::dist::Dist;
use crate::replication::{self, Replication, Role};
use crate::scenario::graph::Graph;
use crate::scenario::model::{Database, DowntimeMark, MAX_SPAN, Step, StepIdx};
use crate::scenario::raw::RawReplication;
use crate::time::SimDuration;

/// The steps with each replication role, in file order.
struct Roles {
    snapshots: Vec<usize>,
    no_pks: Vec<usize>,
    caught_ups: Vec<usize>,
}

/// The section's values, each defaulted where it was wrong (the error is
/// reported) so that the rest can still be checked.
struct Settings {
    max_bcp_threads: u32,
    publishers: u32,
    snapshot_delay: SimDuration,
    bcp: Option<Dist>,
    apply: Option<Dist>,
    resource_use: f64,
    busy_slowdown: f64,
    /// The step at whose start the source goes offline.
    source_offline: Option<usize>,
}

impl Validator<'_> {
    /// The `[replication]` section and the steps that play a part in it.
    /// `None` when an error was reported.
    pub(super) fn replication(
        &mut self,
        raw: Option<Spanned<RawReplication>>,
        steps: &[Step],
        step_names: &StepNames<'_>,
        db: &Database,
    ) -> Option<Option<Replication>> {
        let n_errors = self.diags.len();
        let with =
            |role: Role| -> Vec<usize> { (0..steps.len()).filter(|i| steps[*i].replication == Some(role)).collect() };
        let roles =
            Roles { snapshots: with(Role::Snapshot), no_pks: with(Role::NoPkTables), caught_ups: with(Role::CaughtUp) };
        let Some(raw) = raw else {
            if let Some(&i) = roles.snapshots.iter().chain(&roles.no_pks).chain(&roles.caught_ups).next() {
                self.step_error(
                    &steps[i],
                    "a replication step needs a [replication] section with the toolkit's settings and throughputs",
                );
                return None;
            }
            return Some(None);
        };
        let span = raw.span();
        let raw = raw.into_inner();
        let settings = self.replication_settings(&raw, &span, steps, step_names);
        self.replication_roles(&roles, &span, steps, db);
        if self.diags.len() > n_errors {
            return None;
        }
        let (snapshot, off) = (roles.snapshots[0], settings.source_offline?);
        self.replication_order(&roles, off, steps);
        if self.diags.len() > n_errors {
            return None;
        }
        let model = Replication {
            max_bcp_threads: settings.max_bcp_threads,
            publishers: settings.publishers,
            snapshot_delay: settings.snapshot_delay,
            bcp_per_million_rows: settings.bcp?,
            apply_per_million_changes: settings.apply?,
            resource_use: settings.resource_use,
            busy_slowdown: settings.busy_slowdown,
            source_offline: StepIdx(off as u32),
            publication_rows: replication::publications(&db.tables, settings.publishers),
            no_pk_rows: db.tables.iter().filter(|t| !t.primary_key).map(|t| t.rows).sum(),
            changes_per_hour: db.tables.iter().filter(|t| t.primary_key).map(|t| t.changes_per_hour).sum(),
        };
        let worst = model.snapshot_ms(model.bcp_per_million_rows.practical_max().as_ms() as f64);
        if worst > MAX_SPAN.as_ms() as f64 {
            self.step_error(
                &steps[snapshot],
                format!(
                    "the snapshot can take {} at the slowest copy rate, beyond the {}-day limit for one step; check bcp_per_million_rows and the table sizes",
                    SimDuration(worst as u64).hms(),
                    MAX_SPAN.as_ms() / crate::time::MS_PER_D
                ),
            );
            return None;
        }
        Some(Some(model))
    }

    /// The section's own values, each checked against its range.
    fn replication_settings(
        &mut self,
        raw: &RawReplication,
        span: &std::ops::Range<usize>,
        steps: &[Step],
        step_names: &StepNames<'_>,
    ) -> Settings {
        let int = |v: &mut Self, x: &Option<Spanned<i64>>, default: u32, max: u32, what: &str, why: &str| -> u32 {
            match x {
                None => default,
                Some(x) => match u32::try_from(*x.get_ref()) {
                    Ok(n) if (1..=max).contains(&n) => n,
                    _ => {
                        v.error(&x.span(), None, format!("{what} = {}; expected 1 to {max} ({why})", x.get_ref()));
                        default
                    }
                },
            }
        };
        let max_bcp_threads = int(
            self,
            &raw.max_bcp_threads,
            replication::DEFAULT_BCP_THREADS,
            replication::MAX_BCP_THREADS,
            "max_bcp_threads",
            "the toolkit's MaxBcpThreads: default 6, at most 8",
        );
        let publishers = int(
            self,
            &raw.publishers,
            replication::DEFAULT_PUBLISHERS,
            64,
            "publishers",
            "the toolkit's NumberOfPublishers: default 2",
        );
        let snapshot_delay = match &raw.snapshot_delay {
            None => replication::DEFAULT_SNAPSHOT_DELAY,
            Some(v) => self.span_duration(&v.span(), None, v.get_ref(), "snapshot_delay").unwrap_or_default(),
        };
        let bcp = self.dist(&raw.bcp_per_million_rows, None, "bcp_per_million_rows", false);
        let apply = self.dist(&raw.apply_per_million_changes, None, "apply_per_million_changes", false);
        let resource_use = raw.resource_use.as_ref().map_or(0.0, |r| {
            let v = *r.get_ref();
            if (0.0..=1.0).contains(&v) {
                v
            } else {
                self.error(&r.span(), None, format!("resource_use {v} is not a share; expected a number in [0, 1]"));
                0.0
            }
        });
        let busy_slowdown = match &raw.busy_slowdown {
            Some(b) if !(1.0..=100.0).contains(b.get_ref()) => {
                self.error(
                    &b.span(),
                    None,
                    format!("busy_slowdown {} is not a slowdown; expected a factor from 1 to 100", b.get_ref()),
                );
                1.0
            }
            Some(b) => *b.get_ref(),
            None if resource_use > replication::BUSY_THRESHOLD => {
                self.error(span, None, format!("resource_use {resource_use} is above 90 %, where replication slows down: say by how much with busy_slowdown (e.g. 2.0)"));
                1.0
            }
            None => 1.0,
        };
        let source_offline = self.source_offline(raw, span, steps, step_names);
        Settings {
            max_bcp_threads,
            publishers,
            snapshot_delay,
            bcp,
            apply,
            resource_use,
            busy_slowdown,
            source_offline,
        }
    }

    /// The step at whose start the source goes offline: the one
    /// `source_offline` names, or the first where downtime begins.
    fn source_offline(
        &mut self,
        raw: &RawReplication,
        span: &std::ops::Range<usize>,
        steps: &[Step],
        step_names: &StepNames<'_>,
    ) -> Option<usize> {
        match &raw.source_offline {
            Some(id) => match step_names.find(id.get_ref()) {
                Some(i) => Some(i.index()),
                None => {
                    let hint = step_names.hint(id.get_ref());
                    self.error(&id.span(), None, format!("source_offline names unknown step `{}`{hint}", id.get_ref()));
                    None
                }
            },
            None => match steps.iter().position(|s| s.downtime == Some(DowntimeMark::Begins)) {
                Some(i) => Some(i),
                None => {
                    self.error(span, None, "replication needs to know when the source goes offline: set source_offline = \"<step id>\" (the step that turns the AX 2012 AOS off), or mark that step downtime = \"begins\"");
                    None
                }
            },
        }
    }

    /// One step of each role the toolkit runs once, and tables for it to
    /// copy.
    fn replication_roles(&mut self, roles: &Roles, span: &std::ops::Range<usize>, steps: &[Step], db: &Database) {
        if roles.snapshots.len() != 1 {
            match roles.snapshots.get(1) {
                Some(&i) => self.step_error(&steps[i], format!("a second replication = \"snapshot\" step (the first is `{}`); the toolkit takes one initial snapshot", steps[roles.snapshots[0]].id)),
                None => self.error(span, None, "[replication] needs a step with replication = \"snapshot\" (the initial snapshot starts replication)"),
            }
        }
        if roles.caught_ups.len() != 1 {
            match roles.caught_ups.get(1) {
                Some(&i) => self.step_error(&steps[i], format!("a second replication = \"caught-up\" step (the first is `{}`)", steps[roles.caught_ups[0]].id)),
                None => self.error(span, None, "[replication] needs a step with replication = \"caught-up\": the cutover waits there until the backlog has drained"),
            }
        }
        if roles.no_pks.len() > 1 {
            self.step_error(
                &steps[roles.no_pks[1]],
                format!("a second replication = \"no-pk-tables\" step (the first is `{}`)", steps[roles.no_pks[0]].id),
            );
        }
        if roles.no_pks.is_empty() && db.tables.iter().any(|t| !t.primary_key) {
            self.error(span, None, "tables without a primary key are copied by the toolkit's cutover step: add a step with replication = \"no-pk-tables\"");
        }
        if db.tables.iter().all(|t| !t.primary_key) {
            self.error(
                span,
                None,
                "replication needs tables with rows under [database] (their rows and changes_per_hour)",
            );
        }
    }

    /// The roles in the toolkit's order: the wait for the backlog after
    /// the snapshot and after the source is offline, the tables without a
    /// primary key copied while it is offline and before the wait ends.
    fn replication_order(&mut self, roles: &Roles, off: usize, steps: &[Step]) {
        let caught_up = roles.caught_ups[0];
        let snapshot = roles.snapshots[0];
        let graph = Graph::new(steps);
        if !graph.reaches(Graph::end(snapshot), Graph::start(caught_up)) {
            self.step_error(
                &steps[caught_up],
                format!(
                    "waits for replication to catch up but does not come after the snapshot `{}`; add it to `after` (directly or through other steps)",
                    steps[snapshot].id
                ),
            );
        }
        if !graph.reaches(Graph::start(off), Graph::start(caught_up)) {
            self.step_error(
                &steps[caught_up],
                format!(
                    "waits for replication to catch up but may start before the source goes offline at `{}`: changes would still be coming",
                    steps[off].id
                ),
            );
        }
        if let Some(i) = steps.iter().position(|s| s.data.contains(&crate::data::Effect::Attach)) {
            self.step_error(
                &steps[i],
                "data = \"attach\" (the self-service swap onto the source database) cannot be combined with the toolkit's replication, which copies the source into a separate target",
            );
        }
        if let Some(&np) = roles.no_pks.first() {
            if !graph.reaches(Graph::start(off), Graph::start(np)) {
                self.step_error(
                    &steps[np],
                    format!(
                        "copies the tables without a primary key, which needs the source offline: make it come after `{}`",
                        steps[off].id
                    ),
                );
            }
            if !graph.reaches(Graph::end(np), Graph::start(caught_up)) {
                self.step_error(
                    &steps[caught_up],
                    format!(
                        "replication is complete only once the tables without a primary key are copied: make it come after `{}`",
                        steps[np].id
                    ),
                );
            }
        }
    }
}
