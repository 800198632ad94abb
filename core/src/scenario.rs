//! The scenario model: a cutover plan as written in TOML, parsed in two
//! stages — a raw serde model that rejects unknown keys, then a validated
//! [`Scenario`] in which every reference is resolved and checked.
//!
//! Validation does not stop at the first problem: it reports every error it
//! finds, each with the file, line and column, the step it concerns and what
//! was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::dist::{Dist, DistError};
use crate::fault::{Fault, Policy, RawFault, RawPolicy};
use crate::readiness::{GateState, Readiness, Status};
use crate::replication::{self, Replication, Role};
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
    /// The downtime the business signed off.
    pub window: Option<SimDuration>,
    /// The probability with which the plan must fit the window.
    pub window_confidence: Option<f64>,
    /// Calendar start, for display only.
    pub start: Option<Calendar>,
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
    /// What the step does to the data when it completes, in order.
    pub data: Vec<crate::data::Effect>,
    /// Its part in the replication, if any: its length then follows from
    /// the tables and the replication settings (plus `duration`, if given).
    pub replication: Option<Role>,
    /// 1-based line of the step's `id`, for messages.
    pub line: u32,
}

impl Step {
    pub fn is_group(&self) -> bool {
        matches!(self.work, Work::Group { .. })
    }
}

/// A dependency of a step: it may start `lag` after `step` reaches `anchor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dep {
    pub step: StepIdx,
    pub anchor: Anchor,
    pub lag: SimDuration,
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
    /// Parses and validates a scenario.
    ///
    /// `origin` names the text in messages (usually the file path).
    ///
    /// # Errors
    /// A [`ScenarioError`] listing every problem found, each located by line
    /// and column.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let mut message = e.message().trim().to_string();
            if message.starts_with("missing field") {
                message.push_str(" (required here)");
            }
            ScenarioError::single(origin, text, at, None, message)
        })?;
        let mut v = Validator::new(text);
        let scenario = v.scenario(raw);
        if v.diags.is_empty() {
            Ok(scenario.expect("a scenario is built whenever no error was reported"))
        } else {
            v.diags.sort_by_key(|d| (d.line, d.col));
            Err(ScenarioError { origin: origin.to_string(), diagnostics: v.diags })
        }
    }

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

/// Every problem found in one scenario text.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub origin: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// One located problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// 1-based line and column.
    pub line: u32,
    pub col: u32,
    /// The step it concerns, if any.
    pub step: Option<String>,
    pub message: String,
}

impl ScenarioError {
    fn single(origin: &str, text: &str, at: usize, step: Option<String>, message: String) -> ScenarioError {
        let (line, col) = line_col(text, at);
        ScenarioError { origin: origin.to_string(), diagnostics: vec![Diagnostic { line, col, step, message }] }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: ", self.origin, d.line, d.col)?;
            if let Some(step) = &d.step {
                write!(f, "step `{step}`: ")?;
            }
            f.write_str(&d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line as u32, col as u32)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---------------------------------------------------------------------------
// Stage one: the raw model, as serde reads it.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    scenario: RawMeta,
    #[serde(default)]
    database: Option<RawDatabase>,
    #[serde(default, rename = "step")]
    steps: Vec<RawStep>,
    #[serde(default, rename = "fault")]
    faults: Vec<RawFault>,
    #[serde(default)]
    recovery: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    replication: Option<Spanned<RawReplication>>,
    #[serde(default)]
    readiness: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    upgrade: Option<RawUpgrade>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpgrade {
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    #[serde(default)]
    platform_only: Option<bool>,
    #[serde(default)]
    customised_platform_models: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplication {
    #[serde(default)]
    max_bcp_threads: Option<Spanned<i64>>,
    #[serde(default)]
    publishers: Option<Spanned<i64>>,
    #[serde(default)]
    snapshot_delay: Option<Spanned<toml::Value>>,
    bcp_per_million_rows: Spanned<toml::Value>,
    apply_per_million_changes: Spanned<toml::Value>,
    #[serde(default)]
    resource_use: Option<Spanned<f64>>,
    #[serde(default)]
    busy_slowdown: Option<Spanned<f64>>,
    #[serde(default)]
    source_offline: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Spanned<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    window: Option<Spanned<toml::Value>>,
    #[serde(default)]
    window_confidence: Option<Spanned<f64>>,
    #[serde(default)]
    start: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    #[serde(default)]
    size_gb: Option<Spanned<f64>>,
    #[serde(default)]
    collation: Option<String>,
    #[serde(default)]
    tables: Vec<RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    name: Spanned<String>,
    rows: Spanned<i64>,
    #[serde(default)]
    changes_per_hour: Option<Spanned<i64>>,
    #[serde(default)]
    primary_key: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    parent: Option<Spanned<String>>,
    #[serde(default)]
    after: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    duration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    per_gb: Option<Spanned<toml::Value>>,
    #[serde(default)]
    per_million_rows: Option<Spanned<toml::Value>>,
    #[serde(default)]
    rows_of: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    finish_lag: Option<Spanned<toml::Value>>,
    #[serde(default)]
    downtime: Option<Spanned<String>>,
    #[serde(default)]
    records_status: Option<Spanned<bool>>,
    #[serde(default)]
    data: Option<Spanned<toml::Value>>,
    #[serde(default)]
    replication: Option<Spanned<String>>,
}

// ---------------------------------------------------------------------------
// Stage two: validation.

pub(crate) struct Validator<'t> {
    pub(crate) text: &'t str,
    pub(crate) diags: Vec<Diagnostic>,
    /// Where each line of `text` starts: line numbers by binary search, so
    /// a plan of thousands of steps is not scanned once per step.
    line_starts: Vec<usize>,
}

impl<'t> Validator<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Validator { text, diags: Vec::new(), line_starts }
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        (line as u32, self.text[start..offset].chars().count() as u32 + 1)
    }
}

/// A dependency before its target is resolved.
struct RawDep {
    id: String,
    span: Range<usize>,
    anchor: Anchor,
    lag: SimDuration,
}

impl Validator<'_> {
    pub(crate) fn error(&mut self, span: &Range<usize>, step: Option<&str>, message: impl Into<String>) {
        let (line, col) = self.line_col(span.start);
        self.diags.push(Diagnostic { line, col, step: step.map(str::to_string), message: message.into() });
    }

    fn scenario(&mut self, raw: RawFile) -> Option<Scenario> {
        let meta = self.meta(raw.scenario);
        let database = self.database(raw.database);
        let steps = self.steps(raw.steps, &database);
        let (steps, roots) = steps?;
        let replication = self.replication(raw.replication, &steps, &database);
        let (faults, policies) = self.faults(raw.recovery, raw.faults, &steps)?;
        let replication = replication?;
        let readiness = self.readiness(raw.readiness, &database)?;
        let upgrade = self.upgrade(raw.upgrade)?;
        Some(Scenario { meta, database, steps, roots, faults, policies, replication, readiness, upgrade })
    }

    fn meta(&mut self, raw: RawMeta) -> Meta {
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        if name.trim().is_empty() {
            self.error(&name_span, None, "scenario name is empty; give the plan a name");
        }
        let window = raw.window.and_then(|w| {
            let span = w.span();
            let d = self.span_duration(&span, None, w.get_ref(), "window")?;
            if d == SimDuration::ZERO {
                self.error(&span, None, "window is zero; it is the downtime the business signed off, e.g. \"48h\"");
                return None;
            }
            Some(d)
        });
        let window_confidence = raw.window_confidence.and_then(|p| {
            let v = *p.get_ref();
            if (0.0..=1.0).contains(&v) {
                Some(v)
            } else {
                self.error(
                    &p.span(),
                    None,
                    format!("window_confidence {v} is not a probability; expected a number in [0, 1]"),
                );
                None
            }
        });
        let start = raw.start.and_then(|s| {
            let text = match s.get_ref() {
                toml::Value::String(t) => t.clone(),
                toml::Value::Datetime(dt) => dt.to_string(),
                other => {
                    self.error(
                        &s.span(),
                        None,
                        format!(
                            "start must be a date and time like \"2026-12-05T18:00:00\", found {}",
                            other.type_str()
                        ),
                    );
                    return None;
                }
            };
            match Calendar::parse(&text) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.error(&s.span(), None, format!("start: {e}"));
                    None
                }
            }
        });
        Meta { name, source: raw.source, description: raw.description, window, window_confidence, start }
    }

    fn database(&mut self, raw: Option<RawDatabase>) -> Database {
        let Some(raw) = raw else {
            return Database::default();
        };
        let size_gb = raw.size_gb.and_then(|s| {
            let v = *s.get_ref();
            if v.is_finite() && v > 0.0 && v <= MAX_SIZE_GB {
                Some(v)
            } else {
                self.error(
                    &s.span(),
                    None,
                    format!(
                        "size_gb {v} is not a database size; expected a number of GB above 0 and at most {MAX_SIZE_GB}"
                    ),
                );
                None
            }
        });
        let mut tables = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for t in raw.tables {
            let name = t.name.get_ref().clone();
            if let Some(first) = seen.get(&name.to_ascii_uppercase()) {
                let line = self.line_col(*first).0;
                self.error(&t.name.span(), None, format!("table {name} is listed twice (first on line {line})"));
                continue;
            }
            seen.insert(name.to_ascii_uppercase(), t.name.span().start);
            let rows = self.count(&t.rows, "rows", MAX_ROWS);
            let changes = t
                .changes_per_hour
                .as_ref()
                .map_or(Some(0), |c| self.count(c, "changes_per_hour", MAX_CHANGES_PER_HOUR));
            if let (Some(rows), Some(changes_per_hour)) = (rows, changes) {
                tables.push(Table { name, rows, changes_per_hour, primary_key: t.primary_key.unwrap_or(true) });
            }
        }
        Database { size_gb, collation: raw.collation, tables }
    }

    fn count(&mut self, v: &Spanned<i64>, what: &str, max: u64) -> Option<u64> {
        match u64::try_from(*v.get_ref()) {
            Ok(n) if n <= max => Some(n),
            Ok(n) => {
                self.error(
                    &v.span(),
                    None,
                    format!("{what} is {n}, beyond any real database (at most {max}); check the number"),
                );
                None
            }
            Err(_) => {
                self.error(
                    &v.span(),
                    None,
                    format!("{what} is negative ({}); expected a count of 0 or more", v.get_ref()),
                );
                None
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn steps(&mut self, raw: Vec<RawStep>, db: &Database) -> Option<(Vec<Step>, Vec<StepIdx>)> {
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
        // Ids first, so that references can be resolved in any order.
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for (i, s) in raw.iter().enumerate() {
            let id = s.id.get_ref();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                self.error(
                    &s.id.span(),
                    None,
                    format!("step id {id:?} must be non-empty and use only letters, digits, '-', '_' and '.'"),
                );
            }
            match index.get(id) {
                Some(first) => {
                    let line = self.line_col(raw[*first].id.span().start).0;
                    self.error(&s.id.span(), Some(id), format!("duplicate step id (first defined on line {line})"));
                }
                None => {
                    index.insert(id.clone(), i);
                }
            }
        }
        let ids: Vec<&str> = raw.iter().map(|s| s.id.get_ref().as_str()).collect();
        let resolve = |v: &mut Self, id: &str, span: &Range<usize>, from: &str, what: &str| -> Option<StepIdx> {
            match index.get(id) {
                Some(i) => Some(StepIdx(*i as u32)),
                None => {
                    let hint = suggest(id, &ids).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    v.error(span, Some(from), format!("{what} names unknown step `{id}`{hint}"));
                    None
                }
            }
        };

        // Parents and children.
        let n = raw.len();
        let mut parent: Vec<Option<StepIdx>> = vec![None; n];
        let mut children: Vec<Vec<StepIdx>> = vec![Vec::new(); n];
        for (i, s) in raw.iter().enumerate() {
            if let Some(p) = &s.parent {
                let me = s.id.get_ref();
                if p.get_ref() == me {
                    self.error(&p.span(), Some(me), "a step cannot be its own parent");
                } else if let Some(pi) = resolve(self, p.get_ref(), &p.span(), me, "parent") {
                    parent[i] = Some(pi);
                    children[pi.index()].push(StepIdx(i as u32));
                }
            }
        }
        // Depths, and cycles among parents.
        let mut depth = vec![0u32; n];
        for i in 0..n {
            let mut seen = vec![i];
            let mut cur = parent[i];
            while let Some(p) = cur {
                if seen.contains(&p.index()) {
                    if p.index() == i {
                        let chain: Vec<&str> = seen.iter().chain([&i]).map(|j| ids[*j]).collect();
                        self.error(
                            &raw[i].id.span(),
                            Some(ids[i]),
                            format!("parent cycle: {}", chain.join(" is inside ")),
                        );
                    }
                    break;
                }
                seen.push(p.index());
                depth[i] += 1;
                cur = parent[p.index()];
            }
        }

        let mut steps = Vec::with_capacity(n);
        for (i, s) in raw.iter().enumerate() {
            let id = s.id.get_ref().clone();
            let is_group = !children[i].is_empty();
            let mut after = Vec::new();
            for entry in &s.after {
                if let Some(d) = self.dep(entry, &id) {
                    if d.id == id {
                        self.error(&d.span, Some(&id), "a step cannot come after itself");
                        continue;
                    }
                    if let Some(target) = resolve(self, &d.id, &d.span, &id, "after") {
                        if after.iter().any(|x: &Dep| x.step == target && x.anchor == d.anchor) {
                            self.error(&d.span, Some(&id), format!("`{}` is listed twice in after", d.id));
                        }
                        after.push(Dep { step: target, anchor: d.anchor, lag: d.lag });
                    }
                }
            }
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
            steps.push(Step {
                name: s.name.clone().unwrap_or_else(|| id.clone()),
                id,
                owner: s.owner.clone(),
                parent: parent[i],
                children: std::mem::take(&mut children[i]),
                depth: depth[i],
                after,
                work: work.unwrap_or(Work::Group { finish_lag: SimDuration::ZERO }),
                downtime,
                records_status: s.records_status.as_ref().is_some_and(|r| *r.get_ref()),
                data,
                replication: role,
                line,
            });
        }
        if self.diags.len() > n_errors_before {
            return None;
        }
        let graph = Graph::new(&steps);
        if let Some(cycle) = graph.find_cycle() {
            let names: Vec<String> = cycle.iter().map(|i| format!("`{}`", steps[i.index()].id)).collect();
            let first = &steps[cycle[0].index()];
            self.diags.push(Diagnostic {
                line: first.line,
                col: 1,
                step: Some(first.id.clone()),
                message: format!(
                    "dependency cycle: {} (each waits for the next, through `after` and sub-steps)",
                    names.join(" -> ")
                ),
            });
            return None;
        }
        self.check_downtime(&steps, &graph);
        let roots = (0..n).filter(|i| parent[*i].is_none()).map(|i| StepIdx(i as u32)).collect();
        Some((steps, roots))
    }

    fn dep(&mut self, entry: &Spanned<toml::Value>, me: &str) -> Option<RawDep> {
        let span = entry.span();
        match entry.get_ref() {
            toml::Value::String(id) => {
                Some(RawDep { id: id.clone(), span, anchor: Anchor::Finish, lag: SimDuration::ZERO })
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
                let lag = match t.get("lag") {
                    None => SimDuration::ZERO,
                    Some(v) => self.span_duration(&span, Some(me), v, "lag")?,
                };
                ok.then_some(RawDep { id, span, anchor, lag })
            }
            other => {
                self.error(&span, Some(me), format!("after entries are step ids or tables like {{ step = \"id\", from = \"start\", lag = \"5m\" }}, found {}", other.type_str()));
                None
            }
        }
    }

    fn work(&mut self, s: &RawStep, id: &str, is_group: bool, dynamic: bool, db: &Database) -> Option<Work> {
        if is_group {
            for (field, value) in
                [("duration", &s.duration), ("per_gb", &s.per_gb), ("per_million_rows", &s.per_million_rows)]
            {
                if let Some(v) = value {
                    self.error(&v.span(), Some(id), format!("`{field}` on a step with sub-steps: its length follows from them (use finish_lag for time after the last one)"));
                }
            }
            let finish_lag = match &s.finish_lag {
                Some(v) => self.span_duration(&v.span(), Some(id), v.get_ref(), "finish_lag")?,
                None => SimDuration::ZERO,
            };
            return Some(Work::Group { finish_lag });
        }
        if let Some(v) = &s.finish_lag {
            self.error(
                &v.span(),
                Some(id),
                "finish_lag applies only to a step with sub-steps; put the time in `duration`",
            );
        }
        if s.duration.is_none() && s.per_gb.is_none() && s.per_million_rows.is_none() && !dynamic {
            self.error(&s.id.span(), Some(id), "no duration; expected `duration` (e.g. \"45m\", { pert = [\"1h\", \"2h\", \"4h\"] } or \"instant\"), `per_gb` or `per_million_rows`");
            return None;
        }
        let base = match &s.duration {
            Some(v) => Some(self.dist(v, Some(id), "duration", true)?),
            None => None,
        };
        let per_gb = match &s.per_gb {
            Some(v) => {
                let dist = self.dist(v, Some(id), "per_gb", false)?;
                let Some(units) = db.size_gb else {
                    self.error(&v.span(), Some(id), "per_gb needs the database size: add size_gb under [database]");
                    return None;
                };
                Some(Scaled { dist, units })
            }
            None => None,
        };
        let per_million_rows = match &s.per_million_rows {
            Some(v) => {
                let dist = self.dist(v, Some(id), "per_million_rows", false)?;
                let rows: u64 = match &s.rows_of {
                    None => db.tables.iter().map(|t| t.rows).sum(),
                    Some(names) => {
                        let mut sum = 0u64;
                        for name in names {
                            match db.tables.iter().find(|t| t.name.eq_ignore_ascii_case(name.get_ref())) {
                                Some(t) => sum += t.rows,
                                None => self.error(
                                    &name.span(),
                                    Some(id),
                                    format!("rows_of names table {} that [database] does not list", name.get_ref()),
                                ),
                            }
                        }
                        sum
                    }
                };
                if db.tables.is_empty() {
                    self.error(&v.span(), Some(id), "per_million_rows needs tables with rows under [database]");
                    return None;
                }
                Some(Scaled { dist, units: rows as f64 / 1e6 })
            }
            None => {
                if let Some(names) = &s.rows_of
                    && let Some(first) = names.first()
                {
                    self.error(&first.span(), Some(id), "rows_of applies only with per_million_rows");
                }
                None
            }
        };
        let d = StepDuration { base, per_gb, per_million_rows };
        let max = d.practical_max();
        if max > MAX_SPAN {
            let span = s
                .duration
                .as_ref()
                .or(s.per_gb.as_ref())
                .or(s.per_million_rows.as_ref())
                .map_or(s.id.span(), |v| v.span());
            self.error(
                &span,
                Some(id),
                format!(
                    "duration can reach {} ({}), beyond the {}-day limit for one step; check the units",
                    max,
                    max.hms(),
                    MAX_SPAN.as_ms() / crate::time::MS_PER_D
                ),
            );
            return None;
        }
        Some(Work::Leaf(d))
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

    /// A duration written as a string (`"45m"`), for windows and lags.
    pub(crate) fn span_duration(
        &mut self,
        span: &Range<usize>,
        step: Option<&str>,
        v: &toml::Value,
        what: &str,
    ) -> Option<SimDuration> {
        let toml::Value::String(s) = v else {
            self.error(
                span,
                step,
                format!(
                    "{what} must be a duration string with a unit, like \"45m\" or \"1h30m\"; found {}",
                    v.type_str()
                ),
            );
            return None;
        };
        match SimDuration::parse(s) {
            Ok(d) if d > MAX_SPAN => {
                self.error(
                    span,
                    step,
                    format!(
                        "{what} {s} is beyond the {}-day limit; check the units",
                        MAX_SPAN.as_ms() / crate::time::MS_PER_D
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(span, step, format!("{what}: {e}"));
                None
            }
        }
    }

    /// A distribution: `"45m"`, `"instant"`, or a one-key table.
    pub(crate) fn dist(
        &mut self,
        v: &Spanned<toml::Value>,
        id: Option<&str>,
        what: &str,
        allow_instant: bool,
    ) -> Option<Dist> {
        let span = v.span();
        const EXPECTED: &str = "expected \"45m\", { uniform = [min, max] }, { triangular = [min, mode, max] }, { pert = [min, most_likely, max] }, { lognormal = { median = \"1h\", p90 = \"2h\" } } or { empirical = [observed, ...] }";
        match v.get_ref() {
            toml::Value::String(s) if s == "instant" && allow_instant => Some(Dist::fixed(SimDuration::ZERO)),
            toml::Value::String(s) => {
                let d = self.span_duration(&span, id, v.get_ref(), what)?;
                if d == SimDuration::ZERO {
                    let hint = if allow_instant { "; write \"instant\" for a step that takes no time" } else { "" };
                    self.error(&span, id, format!("{what} {s} is zero{hint}"));
                    return None;
                }
                Some(Dist::fixed(d))
            }
            toml::Value::Table(t) if t.len() == 1 => {
                let (kind, params) = t.iter().next().expect("one entry");
                let mut list = |n: Option<usize>| -> Option<Vec<SimDuration>> {
                    let toml::Value::Array(items) = params else {
                        self.error(&span, id, format!("{what}: {kind} takes a list of durations"));
                        return None;
                    };
                    if n.is_some_and(|n| items.len() != n) || items.is_empty() {
                        let want = n.map_or("at least one".to_string(), |n| n.to_string());
                        self.error(&span, id, format!("{what}: {kind} takes {want} durations, found {}", items.len()));
                        return None;
                    }
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.span_duration(&span, id, item, what)?);
                    }
                    Some(out)
                };
                let built: Result<Dist, DistError> = match kind.as_str() {
                    "uniform" => {
                        let p = list(Some(2))?;
                        Dist::uniform(p[0], p[1])
                    }
                    "triangular" => {
                        let p = list(Some(3))?;
                        Dist::triangular(p[0], p[1], p[2])
                    }
                    "pert" => {
                        let p = list(Some(3))?;
                        Dist::pert(p[0], p[1], p[2])
                    }
                    "empirical" => {
                        let p = list(None)?;
                        Dist::empirical(&p)
                    }
                    "lognormal" => {
                        let toml::Value::Table(lt) = params else {
                            self.error(
                                &span,
                                id,
                                format!("{what}: lognormal takes {{ median = \"1h\", p90 = \"2h\" }}"),
                            );
                            return None;
                        };
                        for key in lt.keys() {
                            if key != "median" && key != "p90" {
                                self.error(
                                    &span,
                                    id,
                                    format!("{what}: unknown key `{key}` in lognormal; expected `median` and `p90`"),
                                );
                                return None;
                            }
                        }
                        let (Some(m), Some(p)) = (lt.get("median"), lt.get("p90")) else {
                            self.error(&span, id, format!("{what}: lognormal needs both `median` and `p90`"));
                            return None;
                        };
                        let m = self.span_duration(&span, id, m, what)?;
                        let p = self.span_duration(&span, id, p, what)?;
                        Dist::lognormal(m, p)
                    }
                    other => {
                        self.error(&span, id, format!("{what}: unknown distribution `{other}`; {EXPECTED}"));
                        return None;
                    }
                };
                match built {
                    Ok(d) if d.max().is_some_and(|m| m == SimDuration::ZERO) => {
                        self.error(
                            &span,
                            id,
                            format!("{what}: every value is zero; write \"instant\" for a step that takes no time"),
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(e) => {
                        self.error(&span, id, format!("{what}: {kind}: {e}"));
                        None
                    }
                }
            }
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                self.error(
                    &span,
                    id,
                    format!("{what} is a bare number; durations need a unit, like \"45m\" or \"90s\""),
                );
                None
            }
            _ => {
                self.error(&span, id, format!("{what}: {EXPECTED}"));
                None
            }
        }
    }

    /// The `[replication]` section and the steps that play a part in it.
    /// `None` when an error was reported.
    fn replication(
        &mut self,
        raw: Option<Spanned<RawReplication>>,
        steps: &[Step],
        db: &Database,
    ) -> Option<Option<Replication>> {
        let n_errors = self.diags.len();
        let with =
            |role: Role| -> Vec<usize> { (0..steps.len()).filter(|i| steps[*i].replication == Some(role)).collect() };
        let (snapshots, no_pks, caught_ups) = (with(Role::Snapshot), with(Role::NoPkTables), with(Role::CaughtUp));
        let here = |i: usize| {
            let s = &steps[i];
            (s.line, s.id.clone())
        };
        let step_error = |v: &mut Self, i: usize, message: String| {
            let (line, id) = here(i);
            v.diags.push(Diagnostic { line, col: 1, step: Some(id), message });
        };
        let Some(raw) = raw else {
            if let Some(&i) = snapshots.iter().chain(&no_pks).chain(&caught_ups).next() {
                step_error(
                    self,
                    i,
                    "a replication step needs a [replication] section with the toolkit's settings and throughputs"
                        .into(),
                );
                return None;
            }
            return Some(None);
        };
        let span = raw.span();
        let raw = raw.into_inner();
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
                self.error(&span, None, format!("resource_use {resource_use} is above 90 %, where replication slows down: say by how much with busy_slowdown (e.g. 2.0)"));
                1.0
            }
            None => 1.0,
        };
        let source_offline = match &raw.source_offline {
            Some(id) => match steps.iter().position(|s| &s.id == id.get_ref()) {
                Some(i) => Some(i),
                None => {
                    let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
                    let hint =
                        suggest(id.get_ref(), &ids).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    self.error(&id.span(), None, format!("source_offline names unknown step `{}`{hint}", id.get_ref()));
                    None
                }
            },
            None => match steps.iter().position(|s| s.downtime == Some(DowntimeMark::Begins)) {
                Some(i) => Some(i),
                None => {
                    self.error(&span, None, "replication needs to know when the source goes offline: set source_offline = \"<step id>\" (the step that turns the AX 2012 AOS off), or mark that step downtime = \"begins\"");
                    None
                }
            },
        };
        if snapshots.len() != 1 {
            match snapshots.get(1) {
                Some(&i) => step_error(self, i, format!("a second replication = \"snapshot\" step (the first is `{}`); the toolkit takes one initial snapshot", steps[snapshots[0]].id)),
                None => self.error(&span, None, "[replication] needs a step with replication = \"snapshot\" (the initial snapshot starts replication)"),
            }
        }
        if caught_ups.len() != 1 {
            match caught_ups.get(1) {
                Some(&i) => step_error(self, i, format!("a second replication = \"caught-up\" step (the first is `{}`)", steps[caught_ups[0]].id)),
                None => self.error(&span, None, "[replication] needs a step with replication = \"caught-up\": the cutover waits there until the backlog has drained"),
            }
        }
        let no_pk_rows: u64 = db.tables.iter().filter(|t| !t.primary_key).map(|t| t.rows).sum();
        if no_pks.len() > 1 {
            step_error(
                self,
                no_pks[1],
                format!("a second replication = \"no-pk-tables\" step (the first is `{}`)", steps[no_pks[0]].id),
            );
        }
        if no_pks.is_empty() && db.tables.iter().any(|t| !t.primary_key) {
            self.error(&span, None, "tables without a primary key are copied by the toolkit's cutover step: add a step with replication = \"no-pk-tables\"");
        }
        if db.tables.iter().all(|t| !t.primary_key) {
            self.error(
                &span,
                None,
                "replication needs tables with rows under [database] (their rows and changes_per_hour)",
            );
        }
        if self.diags.len() > n_errors {
            return None;
        }
        let (snapshot, caught_up, off) = (snapshots[0], caught_ups[0], source_offline?);
        let graph = Graph::new(steps);
        if !graph.reaches(Graph::end(snapshot), Graph::start(caught_up)) {
            step_error(
                self,
                caught_up,
                format!(
                    "waits for replication to catch up but does not come after the snapshot `{}`; add it to `after` (directly or through other steps)",
                    steps[snapshot].id
                ),
            );
        }
        if !graph.reaches(Graph::start(off), Graph::start(caught_up)) {
            step_error(
                self,
                caught_up,
                format!(
                    "waits for replication to catch up but may start before the source goes offline at `{}`: changes would still be coming",
                    steps[off].id
                ),
            );
        }
        if let Some(i) = steps.iter().position(|s| s.data.contains(&crate::data::Effect::Attach)) {
            step_error(
                self,
                i,
                "data = \"attach\" (the self-service swap onto the source database) cannot be combined with the toolkit's replication, which copies the source into a separate target".to_string(),
            );
        }
        if let Some(&np) = no_pks.first() {
            if !graph.reaches(Graph::start(off), Graph::start(np)) {
                step_error(
                    self,
                    np,
                    format!(
                        "copies the tables without a primary key, which needs the source offline: make it come after `{}`",
                        steps[off].id
                    ),
                );
            }
            if !graph.reaches(Graph::end(np), Graph::start(caught_up)) {
                step_error(
                    self,
                    caught_up,
                    format!(
                        "replication is complete only once the tables without a primary key are copied: make it come after `{}`",
                        steps[np].id
                    ),
                );
            }
        }
        if self.diags.len() > n_errors {
            return None;
        }
        let model = Replication {
            max_bcp_threads,
            publishers,
            snapshot_delay,
            bcp_per_million_rows: bcp?,
            apply_per_million_changes: apply?,
            resource_use,
            busy_slowdown,
            source_offline: StepIdx(off as u32),
            publication_rows: replication::publications(&db.tables, publishers),
            no_pk_rows,
            changes_per_hour: db.tables.iter().filter(|t| t.primary_key).map(|t| t.changes_per_hour).sum(),
        };
        let worst = model.snapshot_ms(model.bcp_per_million_rows.practical_max().as_ms() as f64);
        if worst > MAX_SPAN.as_ms() as f64 {
            step_error(
                self,
                snapshot,
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

    /// The `[readiness]` section: `ax2012 = true` to require the AX 2012
    /// gates, and each gate as `true`, `false`, `"n/a"` or a table
    /// `{ done = ..., owner = "...", note = "..." }`.
    fn readiness(
        &mut self,
        raw: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
        db: &Database,
    ) -> Option<Option<Readiness>> {
        let Some(raw) = raw else { return Some(None) };
        let n_errors = self.diags.len();
        let raw = raw.into_inner();
        let ax2012 = match raw.get("ax2012") {
            None => false,
            Some(v) => match v.get_ref() {
                toml::Value::Boolean(b) => *b,
                other => {
                    self.error(
                        &v.span(),
                        None,
                        format!("readiness.ax2012 must be true or false, found {}", other.type_str()),
                    );
                    false
                }
            },
        };
        let mut given: BTreeMap<&str, GateState> = BTreeMap::new();
        let ids: Vec<&str> = crate::readiness::GATES.iter().map(|g| g.id).collect();
        for (key, v) in &raw {
            if key == "ax2012" {
                continue;
            }
            let Some(def) = crate::readiness::find(key) else {
                let hint = suggest(key, &ids).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                self.error(
                    &v.span(),
                    None,
                    format!("unknown readiness gate `{key}`; {hint}the gates are: ax2012, {}", ids.join(", ")),
                );
                continue;
            };
            if def.id == "collation" && db.collation.is_some() {
                self.error(&v.span(), None, "the collation gate is checked from [database] collation; remove it here");
                continue;
            }
            let status = |v: &toml::Value| match v {
                toml::Value::Boolean(true) => Some(Status::Met),
                toml::Value::Boolean(false) => Some(Status::NotMet),
                toml::Value::String(s) if s == "n/a" => Some(Status::NotApplicable),
                _ => None,
            };
            const EXPECTED: &str = "expected true (met), false (not met), \"n/a\" (does not apply) or { done = true, owner = \"...\", note = \"...\" }";
            let state = match v.get_ref() {
                toml::Value::Table(t) => {
                    let mut ok = true;
                    for k in t.keys() {
                        if !["done", "owner", "note"].contains(&k.as_str()) {
                            self.error(&v.span(), None, format!("readiness.{key}: unknown key `{k}`; {EXPECTED}"));
                            ok = false;
                        }
                    }
                    let done = t.get("done").and_then(status);
                    let text = |k: &str| t.get(k).and_then(|x| x.as_str()).map(str::to_string);
                    match done {
                        Some(st) if ok => GateState { def, status: st, owner: text("owner"), note: text("note") },
                        _ => {
                            if ok {
                                self.error(
                                    &v.span(),
                                    None,
                                    format!("readiness.{key}: `done` is missing or not a status; {EXPECTED}"),
                                );
                            }
                            continue;
                        }
                    }
                }
                other => match status(other) {
                    Some(st) => GateState { def, status: st, owner: None, note: None },
                    None => {
                        self.error(&v.span(), None, format!("readiness.{key} = {other}; {EXPECTED}"));
                        continue;
                    }
                },
            };
            given.insert(def.id, state);
        }
        if self.diags.len() > n_errors {
            return None;
        }
        let mut gates = Vec::new();
        for def in crate::readiness::GATES.iter().filter(|g| ax2012 || !g.ax2012) {
            let state = match given.remove(def.id) {
                Some(g) => g,
                None if def.id == "collation" => match &db.collation {
                    Some(c) if c.eq_ignore_ascii_case(crate::readiness::SUPPORTED_COLLATION) => GateState {
                        def,
                        status: Status::Met,
                        owner: None,
                        note: Some(format!("[database] collation = {c}")),
                    },
                    Some(c) => GateState {
                        def,
                        status: Status::NotMet,
                        owner: None,
                        note: Some(format!("[database] collation = {c}: contact Microsoft Support (002)")),
                    },
                    None => GateState { def, status: Status::NotAssessed, owner: None, note: None },
                },
                None => GateState { def, status: Status::NotAssessed, owner: None, note: None },
            };
            gates.push(state);
        }
        // AX 2012 gates given without `ax2012 = true` still count.
        gates.extend(given.into_values());
        Some(Some(Readiness { ax2012, gates }))
    }

    /// The `[upgrade]` section.
    fn upgrade(&mut self, raw: Option<RawUpgrade>) -> Option<Upgrade> {
        let Some(raw) = raw else { return Some(Upgrade::default()) };
        let n_errors = self.diags.len();
        let mut version = |v: &Option<Spanned<String>>, what: &str| {
            v.as_ref().and_then(|v| match crate::versions::Version::parse(v.get_ref()) {
                Ok(x) => Some(x),
                Err(e) => {
                    self.error(&v.span(), None, format!("upgrade.{what}: {e}"));
                    None
                }
            })
        };
        let from = version(&raw.from, "from");
        let to = version(&raw.to, "to");
        let platform_only = raw.platform_only.unwrap_or(false);
        if let Some(c) = &raw.customised_platform_models
            && *c.get_ref()
            && platform_only
        {
            self.error(
                &c.span(),
                None,
                "a platform-only update is done in place only when the platform models (Application Platform, Application Foundation, Directory, Test Essentials) are not customised (000 and 001, scenario 4): refactor the overlayering or plan a full upgrade",
            );
        }
        if self.diags.len() > n_errors {
            return None;
        }
        Some(Upgrade { from, to, platform_only })
    }

    /// Every downtime that begins must end later, and every end must follow
    /// a beginning: a matching of each `ends` to a distinct `begins` that it
    /// is guaranteed to follow. With such a matching, downtime can never
    /// end more often than it began, and it is closed when the run ends.
    fn check_downtime(&mut self, steps: &[Step], graph: &Graph) {
        let begins: Vec<usize> =
            (0..steps.len()).filter(|i| steps[*i].downtime == Some(DowntimeMark::Begins)).collect();
        let ends: Vec<usize> = (0..steps.len()).filter(|i| steps[*i].downtime == Some(DowntimeMark::Ends)).collect();
        // can[e][b]: the end of step ends[e] always comes after the start of begins[b].
        let can: Vec<Vec<bool>> = ends
            .iter()
            .map(|e| begins.iter().map(|b| graph.reaches(Graph::start(*b), Graph::end(*e))).collect())
            .collect();
        let mut matched_begin: Vec<Option<usize>> = vec![None; begins.len()];
        let mut matched_end: Vec<bool> = vec![false; ends.len()];
        for (e, matched) in matched_end.iter_mut().enumerate() {
            let mut visited = vec![false; begins.len()];
            *matched = augment(e, &can, &mut matched_begin, &mut visited);
        }
        for (b, m) in matched_begin.iter().enumerate() {
            if m.is_none() {
                let s = &steps[begins[b]];
                self.diags.push(Diagnostic {
                    line: s.line,
                    col: 1,
                    step: Some(s.id.clone()),
                    message: "downtime begins here and never ends: no step after it has downtime = \"ends\"".into(),
                });
            }
        }
        for (e, m) in matched_end.iter().enumerate() {
            if !m {
                let s = &steps[ends[e]];
                self.diags.push(Diagnostic {
                    line: s.line,
                    col: 1,
                    step: Some(s.id.clone()),
                    message: "downtime ends here but no step before it has downtime = \"begins\"".into(),
                });
            }
        }
    }
}

/// Kuhn's augmenting path for bipartite matching (ends -> begins).
fn augment(e: usize, can: &[Vec<bool>], matched_begin: &mut [Option<usize>], visited: &mut [bool]) -> bool {
    for b in 0..matched_begin.len() {
        if can[e][b] && !visited[b] {
            visited[b] = true;
            if matched_begin[b].is_none_or(|other| augment(other, can, matched_begin, visited)) {
                matched_begin[b] = Some(e);
                return true;
            }
        }
    }
    false
}

/// The precedence graph: node `2i` is the start of step `i`, `2i + 1` its
/// end. Edges point from what must happen first.
#[derive(Clone, Debug)]
pub struct Graph {
    out: Vec<Vec<usize>>,
}

impl Graph {
    pub fn start(i: usize) -> usize {
        2 * i
    }
    pub fn end(i: usize) -> usize {
        2 * i + 1
    }

    pub fn new(steps: &[Step]) -> Graph {
        let mut out = vec![Vec::new(); 2 * steps.len()];
        for (i, s) in steps.iter().enumerate() {
            out[Self::start(i)].push(Self::end(i));
            if let Some(p) = s.parent {
                out[Self::start(p.index())].push(Self::start(i));
                out[Self::end(i)].push(Self::end(p.index()));
            }
            for d in &s.after {
                let from = match d.anchor {
                    Anchor::Finish => Self::end(d.step.index()),
                    Anchor::Start => Self::start(d.step.index()),
                };
                out[from].push(Self::start(i));
            }
        }
        Graph { out }
    }

    /// A cycle, as the steps on it in order, if there is one.
    pub fn find_cycle(&self) -> Option<Vec<StepIdx>> {
        let n = self.out.len();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut color = vec![0u8; n];
        let mut path: Vec<(usize, usize)> = Vec::new(); // (node, next edge)
        for root in 0..n {
            if color[root] != 0 {
                continue;
            }
            path.push((root, 0));
            color[root] = 1;
            while let Some(&mut (node, ref mut edge)) = path.last_mut() {
                if let Some(&next) = self.out[node].get(*edge) {
                    *edge += 1;
                    match color[next] {
                        0 => {
                            color[next] = 1;
                            path.push((next, 0));
                        }
                        1 => {
                            let from = path.iter().position(|(n, _)| *n == next).expect("on stack");
                            let mut steps: Vec<StepIdx> = Vec::new();
                            for (node, _) in &path[from..] {
                                let s = StepIdx((node / 2) as u32);
                                if steps.last() != Some(&s) {
                                    steps.push(s);
                                }
                            }
                            if steps.len() > 1 && steps.first() == steps.last() {
                                steps.pop();
                            }
                            let first = steps[0];
                            steps.push(first);
                            return Some(steps);
                        }
                        _ => {}
                    }
                } else {
                    color[node] = 2;
                    path.pop();
                }
            }
        }
        None
    }

    fn reaches_from(&self, from: usize) -> Vec<bool> {
        let mut seen = Vec::new();
        self.reachable_into(from, &mut seen, &mut Vec::new());
        seen
    }

    /// Every node that always happens after node `from` (and `from`
    /// itself), into `seen`; `stack` is scratch space. Reuses both buffers.
    pub fn reachable_into(&self, from: usize, seen: &mut Vec<bool>, stack: &mut Vec<usize>) {
        seen.clear();
        seen.resize(self.out.len(), false);
        stack.clear();
        stack.push(from);
        seen[from] = true;
        while let Some(n) = stack.pop() {
            for &m in &self.out[n] {
                if !seen[m] {
                    seen[m] = true;
                    stack.push(m);
                }
            }
        }
    }

    /// Whether node `to` always happens after node `from`.
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        self.reaches_from(from)[to]
    }
}

/// The closest id by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(wanted: &str, ids: &[&'a str]) -> Option<&'a str> {
    let best = ids.iter().map(|id| (edit_distance(wanted, id), *id)).min()?;
    (best.0 <= 2.max(wanted.len() / 4)).then_some(best.1)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_index_agrees_with_scanning_the_text() {
        let text = "a = 1\n\nname = \"Ümlaut ✓\"\r\nx = [\n  \"é\" ]\nlast";
        let v = Validator::new(text);
        for offset in 0..=text.len() + 3 {
            assert_eq!(v.line_col(offset), line_col(text, offset), "offset {offset}");
        }
        assert_eq!(v.line_col(text.find("x =").unwrap()), (4, 1));
        assert_eq!(v.line_col(text.find('✓').unwrap()), (3, 16));
    }

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
