//! The validated scenario: the types a plan is made of once every
//! reference is resolved and checked, and the limits they are held to.

use serde::{Deserialize, Serialize};

use crate::anchor::CalendarAnchor;
use crate::dist::Dist;
use crate::fault::{Fault, Policy};
use crate::readiness::Readiness;
use crate::replication::{Replication, Role};
use crate::time::{Calendar, SimDuration};

/// Most rows a table may declare (ten trillion: far beyond the largest
/// AX 2012 databases), so that counts, with a month of changes added,
/// stay exact in every computation.
pub const MAX_ROWS: u64 = 10_000_000_000_000;
/// Most changes per hour a table may declare (ten billion).
pub const MAX_CHANGES_PER_HOUR: u64 = 10_000_000_000;
/// The longest a single step, lag or downtime window may be. Anything longer
/// is almost certainly a typo (`300d` for `300m`); the self-service upgrade
/// keeps its rollback point at most 30 days.
pub const MAX_SPAN: SimDuration = SimDuration(30 * crate::time::MS_PER_D);
/// The largest database the model accepts, in GB (1 PB).
pub const MAX_SIZE_GB: f64 = 1_000_000.0;

/// Index of a step in [`Scenario::steps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepIdx(pub u32);

impl StepIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub meta: Meta,
    pub database: Database,
    /// Steps in file order; [`StepIdx`] indexes this.
    pub steps: Vec<Step>,
    /// Top-level steps, in file order.
    pub roots: Vec<StepIdx>,
    /// Faults that may strike, in file order; [`crate::FaultIdx`] indexes this.
    pub faults: Vec<Fault>,
    /// Recovery policies, by name; [`crate::PolicyIdx`] indexes this.
    pub policies: Vec<Policy>,
    /// Replication with the AX 2012 Database Upgrade Toolkit, if the plan
    /// replicates.
    pub replication: Option<Replication>,
    /// The go-live readiness gates, if the plan states them.
    pub readiness: Option<Readiness>,
    /// The versions the plan moves between, if it says.
    pub upgrade: Upgrade,
    /// The plan's own go/no-go rules, in file order.
    pub decisions: Vec<Decision>,
    /// People or things steps need (`[[resource]]`), in file order; a
    /// step's `needs` indexes this.
    pub resources: Vec<Resource>,
    /// Shared drivers (`[[driver]]`), in file order; a step's `scale_by`
    /// indexes this.
    pub drivers: Vec<Driver>,
}

/// A person or thing steps need (`[[resource]]`): at most `capacity`
/// steps that need it run at once; a step that finds it busy waits.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub id: String,
    /// Display name (defaults to the id).
    pub name: String,
    pub capacity: u32,
    /// Working hours on the plan's calendar (`available`): a step that
    /// needs it starts only within them (and then runs to its end).
    pub available: Option<crate::anchor::Hours>,
    pub line: u32,
}

/// A shared driver (`[[driver]]`): a factor drawn once per run that
/// multiplies the durations of the steps that say `scale_by` it, so that
/// they are slow or fast together (one SQL Server, one network).
#[derive(Clone, Debug, PartialEq)]
pub struct Driver {
    pub id: String,
    pub name: String,
    /// The factor's distribution, in millionths (a factor of 1.0 is
    /// 1 000 000 "ms"), so that every distribution form serves.
    pub factor: Dist,
    pub line: u32,
}

/// The unit of [`Driver::factor`]: the factor is its value over this.
pub const FACTOR_UNIT: f64 = 1_000_000.0;

impl Driver {
    /// The factor at its median.
    pub fn median(&self) -> f64 {
        self.factor.median().as_ms() as f64 / FACTOR_UNIT
    }
}

/// A go/no-go rule of the plan's own (`[[decision]]`): if `step` is not
/// done `by` into the downtime, roll back with `policy` (its reaction, then
/// its restore and swap). The engine applies it, so an estimate includes
/// what the team will do.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub step: StepIdx,
    pub by: SimDuration,
    /// A recovery policy whose action is `rollback`.
    pub policy: crate::fault::PolicyIdx,
    pub line: u32,
}

/// The `[upgrade]` section: what the plan upgrades from and to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Upgrade {
    pub from: Option<crate::versions::Version>,
    pub to: Option<crate::versions::Version>,
    /// An in-place platform-only update (scenario 4).
    pub platform_only: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub name: String,
    /// The document the plan follows.
    pub source: Option<String>,
    pub description: Option<String>,
    /// The downtime the business signed off: `window`, or the time from
    /// `downtime_begins_at` to `window_end` (the two agree when both are
    /// given).
    pub window: Option<SimDuration>,
    /// The probability with which the plan must fit the window.
    pub window_confidence: Option<f64>,
    /// Calendar start of the run's first step, for display only (`start`).
    pub start: Option<Calendar>,
    /// Where the plan sits in calendar time: the instant its downtime
    /// begins, in a zone, and the deadline (`downtime_begins_at`,
    /// `time_zone`, `window_end`). Each run is placed so that its own
    /// downtime begins then. Never both this and `start`.
    pub anchor: Option<CalendarAnchor>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Database {
    pub size_gb: Option<f64>,
    pub collation: Option<String>,
    pub tables: Vec<Table>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub rows: u64,
    pub changes_per_hour: u64,
    /// Whether the table has a primary key: replicated by snapshot and
    /// transactions if so, copied whole at the toolkit's cutover if not.
    pub primary_key: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub id: String,
    /// Display name (defaults to the id).
    pub name: String,
    /// Who does it, for manual tasks.
    pub owner: Option<String>,
    /// The workstream it belongs to (`workstream = "functional"`), free
    /// text, inherited from its parent unless set: display only (the
    /// terminal's `--by workstream`), never read by the engine.
    pub workstream: Option<String>,
    pub parent: Option<StepIdx>,
    /// Sub-steps, in file order.
    pub children: Vec<StepIdx>,
    /// Nesting depth: 0 for top-level steps.
    pub depth: u32,
    pub after: Vec<Dep>,
    pub work: Work,
    pub downtime: Option<DowntimeMark>,
    /// A data upgrade runbook that records its progress in
    /// `DBUPGRADE.DATAUPGRADESTATUS`: one row per step two levels below it,
    /// `Steps` being the name of the step one level below.
    pub records_status: bool,
    /// A decision point the plan marks (`milestone = true`): where the
    /// estimate prices go/no-go checkpoints, when the plan marks any.
    pub milestone: bool,
    /// What the step does to the data when it completes, in order.
    pub data: Vec<crate::data::Effect>,
    /// Its part in the replication, if any: its length then follows from
    /// the tables and the replication settings (plus `duration`, if given).
    pub replication: Option<Role>,
    /// The resources each attempt holds while it runs (`needs`), as
    /// indexes into [`Scenario::resources`], in the order written.
    pub needs: Vec<u32>,
    /// The drivers that multiply its duration (`scale_by`), as indexes
    /// into [`Scenario::drivers`].
    pub scale_by: Vec<u32>,
    /// A fixed slot (`not_before`): it starts no earlier than this long
    /// after the plan's downtime begins (negative: before), however early
    /// its dependencies are done.
    pub not_before: Option<i64>,
    /// 1-based line of the step's `id`, for messages.
    pub line: u32,
}

impl Step {
    pub fn is_group(&self) -> bool {
        matches!(self.work, Work::Group { .. })
    }
}

/// A dependency of a step: it may start `lag` after `step` reaches `anchor`
/// (with `up_to`, a lag of at least `lag`, drawn per run up to `up_to`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dep {
    pub step: StepIdx,
    pub anchor: Anchor,
    pub lag: SimDuration,
    /// `lag = { at_least = "48h", up_to = "72h" }`: the lag is drawn
    /// uniformly between the two in each run (at their middle as planned).
    pub up_to: Option<SimDuration>,
}

/// Which end of a predecessor a dependency waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// Finish-to-start: the usual "after".
    Finish,
    /// Start-to-start: runs alongside, starting `lag` after the other starts.
    Start,
}

/// Where downtime begins (at the step's start) or ends (at its end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DowntimeMark {
    Begins,
    Ends,
}

/// What a step does with time.
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    /// A step with its own duration.
    Leaf(StepDuration),
    /// A step made of sub-steps: it ends `finish_lag` after its last
    /// sub-step ends.
    Group { finish_lag: SimDuration },
}

/// A leaf step's duration: a base plus parts that scale with data volume.
#[derive(Clone, Debug, PartialEq)]
pub struct StepDuration {
    pub base: Option<Dist>,
    /// Per GB of database, times `Database::size_gb`.
    pub per_gb: Option<Scaled>,
    /// Per million rows, times the rows of the named tables (all by default).
    pub per_million_rows: Option<Scaled>,
}

/// A per-unit distribution and the number of units.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaled {
    pub dist: Dist,
    pub units: f64,
}

impl StepDuration {
    /// The duration when nothing in it is random (an `instant` or a fixed
    /// length, with no scaled parts).
    pub fn fixed(&self) -> Option<SimDuration> {
        match (&self.base, &self.per_gb, &self.per_million_rows) {
            (Some(crate::Dist::Fixed(d)), None, None) => Some((*d).min(MAX_SPAN)),
            (None, None, None) => Some(SimDuration::ZERO),
            _ => None,
        }
    }

    /// The duration as planned: every part at its median.
    pub fn median(&self) -> SimDuration {
        let mut ms = self.base.as_ref().map_or(0, |d| d.median().as_ms());
        for s in [&self.per_gb, &self.per_million_rows].into_iter().flatten() {
            ms = ms.saturating_add(round(s.dist.median().as_ms() as f64 * s.units));
        }
        SimDuration(ms)
    }

    /// A bound used to reject absurd durations (lognormal parts at their
    /// 0.999 quantile).
    pub fn practical_max(&self) -> SimDuration {
        let mut ms = self.base.as_ref().map_or(0, |d| d.practical_max().as_ms());
        for s in [&self.per_gb, &self.per_million_rows].into_iter().flatten() {
            ms = ms.saturating_add(round(s.dist.practical_max().as_ms() as f64 * s.units));
        }
        SimDuration(ms)
    }

    /// One draw: base, then per GB, then per million rows, in that order
    /// from the same generator; at most [`MAX_SPAN`].
    pub fn sample<R: rand_core::Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        if let (Some(d), None, None) = (&self.base, &self.per_gb, &self.per_million_rows) {
            // The same value as below (a whole number of ms rounds to
            // itself), without the round trip through f64.
            return d.sample(rng, MAX_SPAN).min(MAX_SPAN);
        }
        let mut ms = match &self.base {
            Some(d) => d.sample(rng, MAX_SPAN).as_ms() as f64,
            None => 0.0,
        };
        for s in [&self.per_gb, &self.per_million_rows].into_iter().flatten() {
            ms += s.dist.sample_ms(rng).max(0.0) * s.units;
        }
        SimDuration(round(ms).min(MAX_SPAN.as_ms()))
    }
}

fn round(v: f64) -> u64 {
    crate::dist::round_ms(v)
}

impl Scenario {
    pub fn step(&self, idx: StepIdx) -> &Step {
        &self.steps[idx.index()]
    }

    /// Finds a step by id.
    pub fn find(&self, id: &str) -> Option<StepIdx> {
        self.steps.iter().position(|s| s.id == id).map(|i| StepIdx(i as u32))
    }

    /// Steps in tree order: each step followed by its sub-steps, in file
    /// order. This is the order timelines are printed in.
    pub fn tree_order(&self) -> Vec<StepIdx> {
        let mut out = Vec::with_capacity(self.steps.len());
        let mut stack: Vec<StepIdx> = self.roots.iter().rev().copied().collect();
        while let Some(i) = stack.pop() {
            out.push(i);
            stack.extend(self.step(i).children.iter().rev().copied());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A duration with only a base draws the base's value: the same as
    /// adding nothing to it and rounding, the general way.
    #[test]
    fn a_base_alone_draws_what_the_general_sum_does() {
        use rand_core::SeedableRng;
        let ms = |s: &str| SimDuration::parse(s).unwrap();
        let dists = [
            Dist::lognormal(ms("27m17s"), ms("40m56s")).unwrap(),
            Dist::pert(ms("30m"), ms("2h"), ms("8h")).unwrap(),
            Dist::triangular(ms("10m"), ms("30m"), ms("2h")).unwrap(),
            Dist::uniform(ms("1s"), ms("29d")).unwrap(),
        ];
        for d in dists {
            let step = StepDuration { base: Some(d.clone()), per_gb: None, per_million_rows: None };
            for seed in 0..2_000u64 {
                let mut a = rand_xoshiro::SplitMix64::seed_from_u64(seed);
                let mut b = a.clone();
                let general = SimDuration(round(d.sample(&mut b, MAX_SPAN).as_ms() as f64).min(MAX_SPAN.as_ms()));
                assert_eq!(step.sample(&mut a), general, "{d:?} seed {seed}");
            }
        }
    }
}
