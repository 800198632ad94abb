//! Calibration from measured runs: exports of the documented monitoring
//! query on `DBUPGRADE.DATAUPGRADESTATUS` turned into scenario durations.
//!
//! Accepted: the documentation's column order (StartTime, EndTime, Steps,
//! SubSteps, Status), newest or oldest first, comma- or tab-separated (as
//! SQL Server Management Studio saves results), with or without a header,
//! with or without milliseconds, `NULL` (or empty) end times for a step
//! still running, and statuses Completed, Failed (an observed failure) and
//! InProgress (an unfinished run). Anything else is an error naming the
//! file and line; nothing is guessed.
//!
//! The structure is rebuilt from the times: rows that span later rows of the
//! same phase become their parent (PreSync's ExecuteScripts), rows that
//! overlap without spanning start alongside (DbSync's EnableSafeMode and
//! SyncSchema), and every gap between rows becomes a lag, so that the
//! calibrated scenario's `--median` run reproduces a single measured run row
//! for row.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::DateTime;
use rehearse_core::time::SimDuration;

/// Why an export could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ExportError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// How a row ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowStatus {
    Completed,
    Failed,
    InProgress,
}

/// One row of an export, times in milliseconds from the run's first start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub steps: String,
    pub substeps: String,
    pub start_ms: u64,
    /// `None` while the step is still running.
    pub end_ms: Option<u64>,
    pub status: RowStatus,
    /// Where the row came from (1-based line).
    pub line: usize,
}

impl Row {
    fn end_or_start(&self) -> u64 {
        self.end_ms.unwrap_or(self.start_ms)
    }
}

/// One measured run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub file: String,
    /// The first StartTime, as written.
    pub first_start: DateTime,
    /// Rows in chronological order (start, then the longer first).
    pub rows: Vec<Row>,
}

impl Run {
    pub fn span_ms(&self) -> u64 {
        self.rows.iter().map(Row::end_or_start).max().unwrap_or(0)
    }
    pub fn unfinished(&self) -> bool {
        self.rows.iter().any(|r| r.status != RowStatus::Completed)
    }
}

const HEADER: [&str; 5] = ["starttime", "endtime", "steps", "substeps", "status"];

fn parse_time(s: &str) -> Option<DateTime> {
    let t = s.trim().replacen(' ', "T", 1);
    t.parse::<DateTime>().ok()
}

/// Reads one export.
///
/// # Errors
/// The first malformed line, located.
pub fn read_export(file: &str, text: &str) -> Result<Run, ExportError> {
    let err = |line: usize, message: String| ExportError { file: file.to_string(), line, message };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let Some(&(_, first)) = lines.first() else {
        return Err(err(1, "empty file; expected rows of StartTime, EndTime, Steps, SubSteps, Status".into()));
    };
    let sep = if first.contains('\t') { '\t' } else { ',' };
    let fields = |l: &str| -> Vec<String> { l.split(sep).map(|f| f.trim().trim_matches('"').to_string()).collect() };
    let mut raw = Vec::new();
    for (k, (line, l)) in lines.iter().enumerate() {
        let f = fields(l);
        if k == 0 && f.iter().map(|x| x.to_ascii_lowercase()).eq(HEADER.iter().map(|h| h.to_string())) {
            continue; // the header
        }
        if f.len() != 5 {
            return Err(err(
                *line,
                format!("{} fields; expected 5: StartTime, EndTime, Steps, SubSteps, Status", f.len()),
            ));
        }
        let start = parse_time(&f[0]).ok_or_else(|| {
            err(*line, format!("StartTime {:?} is not a date and time like 2022-05-20 06:28:01.020", f[0]))
        })?;
        let end = match f[1].as_str() {
            "" | "NULL" | "null" => None,
            e => Some(parse_time(e).ok_or_else(|| {
                err(
                    *line,
                    format!(
                        "EndTime {e:?} is not a date and time like 2022-05-20 06:28:01.020 (or NULL while running)"
                    ),
                )
            })?),
        };
        if f[2].is_empty() || f[3].is_empty() {
            return Err(err(*line, "Steps and SubSteps must not be empty".into()));
        }
        let status = match f[4].to_ascii_lowercase().as_str() {
            "completed" => RowStatus::Completed,
            "failed" => RowStatus::Failed,
            "inprogress" | "in progress" | "running" => RowStatus::InProgress,
            other => return Err(err(*line, format!("Status {other:?}; expected Completed, Failed or InProgress"))),
        };
        if status == RowStatus::Completed && end.is_none() {
            return Err(err(*line, "a Completed row needs an EndTime".into()));
        }
        if let Some(e) = end
            && e < start
        {
            return Err(err(*line, "EndTime is before StartTime".into()));
        }
        raw.push((*line, start, end, f[2].clone(), f[3].clone(), status));
    }
    if raw.is_empty() {
        return Err(err(lines[0].0, "no rows after the header".into()));
    }
    let first_start = raw.iter().map(|r| r.1).min().expect("rows");
    let ms = |t: DateTime| first_start.duration_until(t).as_millis() as u64;
    let mut rows: Vec<Row> = raw
        .into_iter()
        .map(|(line, start, end, steps, substeps, status)| Row {
            steps,
            substeps,
            start_ms: ms(start),
            end_ms: end.map(ms),
            status,
            line,
        })
        .collect();
    let mut seen = BTreeMap::new();
    for r in &rows {
        if let Some(prev) = seen.insert((r.steps.clone(), r.substeps.clone()), r.line) {
            return Err(err(
                r.line,
                format!("{}/{} appears twice (also line {prev}); one export holds one run", r.steps, r.substeps),
            ));
        }
    }
    rows.sort_by(|a, b| {
        a.start_ms.cmp(&b.start_ms).then(b.end_or_start().cmp(&a.end_or_start())).then(a.line.cmp(&b.line).reverse())
    });
    Ok(Run { file: file.to_string(), first_start, rows })
}

/// The rebuilt structure of a run: per row, its parent row (if a row
/// spans it) and its dependencies on earlier rows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shape {
    /// Phases (Steps values) in order of first start.
    phases: Vec<String>,
    parent: Vec<Option<usize>>,
    /// (row, start-to-start?, lag ms)
    after: Vec<Vec<(usize, bool, u64)>>,
    /// Lead from the parent's (or phase's) start, when first in it.
    lead: Vec<Option<u64>>,
    /// Parent rows: time from the last child's end to their own end.
    finish_lag: Vec<u64>,
    /// Phase dependencies: (previous phase, start-to-start?, lag).
    phase_after: Vec<Option<(usize, bool, u64)>>,
}

fn shape(run: &Run) -> Shape {
    let rows = &run.rows;
    let n = rows.len();
    let mut phases: Vec<String> = Vec::new();
    for r in rows {
        if !phases.contains(&r.steps) {
            phases.push(r.steps.clone());
        }
    }
    let mut parent = vec![None; n];
    // A row's parent: the innermost earlier row of the same phase that spans it.
    for i in 0..n {
        let r = &rows[i];
        let mut best: Option<usize> = None;
        for j in 0..i {
            let c = &rows[j];
            let spans = c.steps == r.steps
                && c.end_ms.is_some()
                && c.start_ms <= r.start_ms
                && r.end_or_start() <= c.end_or_start()
                && c.end_or_start() > c.start_ms
                && (c.start_ms < r.start_ms || c.end_or_start() > r.end_or_start());
            if spans && best.is_none_or(|b| rows[b].end_or_start() - rows[b].start_ms > c.end_or_start() - c.start_ms) {
                best = Some(j);
            }
        }
        parent[i] = best;
    }
    let mut after = vec![Vec::new(); n];
    let mut lead = vec![None; n];
    let mut finish_lag = vec![0; n];
    let mut last_child: BTreeMap<(String, Option<usize>), usize> = BTreeMap::new();
    let mut siblings: BTreeMap<(String, Option<usize>), Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = &rows[i];
        let key = (r.steps.clone(), parent[i]);
        let sibs = siblings.entry(key.clone()).or_default();
        match sibs.last().copied() {
            None => {
                let from = parent[i].map_or_else(|| phase_start(rows, &r.steps), |p| rows[p].start_ms);
                lead[i] = Some(r.start_ms - from);
            }
            Some(prev) => {
                let p = &rows[prev];
                if r.start_ms >= p.end_or_start() {
                    after[i].push((prev, false, r.start_ms - p.end_or_start()));
                } else {
                    after[i].push((prev, true, r.start_ms - p.start_ms));
                }
                // Earlier siblings still running when the previous one
                // started, and done by now: wait for them too.
                for &s in sibs.iter().rev().skip(1) {
                    let e = rows[s].end_or_start();
                    if e > p.start_ms && e <= r.start_ms {
                        after[i].push((s, false, r.start_ms - e));
                    }
                }
            }
        }
        sibs.push(i);
        last_child.insert(key, i);
    }
    for i in 0..n {
        let children: Vec<usize> = (0..n).filter(|c| parent[*c] == Some(i)).collect();
        if let Some(last_end) = children.iter().map(|c| rows[*c].end_or_start()).max() {
            finish_lag[i] = rows[i].end_or_start().saturating_sub(last_end);
        }
    }
    let phase_end = |p: &str| rows.iter().filter(|r| r.steps == p).map(Row::end_or_start).max().unwrap_or(0);
    let phase_after = (0..phases.len())
        .map(|k| {
            if k == 0 {
                return None;
            }
            let (prev, this) = (&phases[k - 1], &phases[k]);
            let start = phase_start(rows, this);
            let prev_end = phase_end(prev);
            Some(if start >= prev_end {
                (k - 1, false, start - prev_end)
            } else {
                (k - 1, true, start - phase_start(rows, prev))
            })
        })
        .collect();
    Shape { phases, parent, after, lead, finish_lag, phase_after }
}

fn phase_start(rows: &[Row], phase: &str) -> u64 {
    rows.iter().filter(|r| r.steps == phase).map(|r| r.start_ms).min().unwrap_or(0)
}

/// What was observed of one sub-step over all runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub completed_ms: Vec<u64>,
    pub failed: u32,
    pub unfinished: u32,
}

/// Options for calibration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// The measured database's size and the size to plan for, in GB.
    pub size_gb: Option<(f64, f64)>,
}

/// Sub-steps whose time follows the data volume ("Times vary, based on data
/// volumes"): database synchronisation and the upgrade scripts.
pub fn is_size_dependent(substeps: &str) -> bool {
    matches!(substeps, "AdditiveDbSync" | "PartialDbSync" | "SyncSchema" | "WaitForBatch" | "EnableSafeMode")
}

/// The result: a scenario text and a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub toml: String,
    pub report: String,
    pub observed: BTreeMap<(String, String), Observed>,
    /// (Steps, SubSteps, factor) of every scaled sub-step.
    pub scaled: Vec<(String, String, f64)>,
}

fn id(steps: &str, substeps: &str) -> String {
    let clean = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '-' }).collect::<String>()
    };
    format!("{}.{}", clean(steps), clean(substeps))
}

fn dur(ms: u64) -> String {
    SimDuration(ms).to_string()
}

/// The duration expression for a sub-step's observations (`None`: nothing
/// completed to learn from).
fn duration_expr(obs: &[u64], factor: f64) -> Option<String> {
    let scaled: Vec<u64> = obs.iter().map(|v| (*v as f64 * factor).round() as u64).collect();
    match scaled.as_slice() {
        [] => None,
        [0] => Some("\"instant\"".into()),
        [v] => Some(format!("\"{}\"", dur(*v))),
        many => {
            let mut sorted = many.to_vec();
            sorted.sort_unstable();
            if sorted.iter().all(|v| *v == 0) {
                return Some("\"instant\"".into());
            }
            if let Some((median, p90)) = lognormal_fit(&sorted) {
                return Some(format!("{{ lognormal = {{ median = \"{}\", p90 = \"{}\" }} }}", dur(median), dur(p90)));
            }
            let items: Vec<String> = sorted.iter().map(|v| format!("\"{}\"", dur(*v))).collect();
            Some(format!("{{ empirical = [{}] }}", items.join(", ")))
        }
    }
}

/// A lognormal fitted to the observations, when there are enough of them
/// (at least 8, all positive) and it fits (Kolmogorov–Smirnov distance under
/// the 5 % critical value). Returns (median, p90) in ms.
fn lognormal_fit(sorted: &[u64]) -> Option<(u64, u64)> {
    let n = sorted.len();
    if n < 8 || sorted[0] == 0 {
        return None;
    }
    let logs: Vec<f64> = sorted.iter().map(|v| libm::log(*v as f64)).collect();
    let mu = logs.iter().sum::<f64>() / n as f64;
    let var = logs.iter().map(|l| (l - mu) * (l - mu)).sum::<f64>() / (n as f64 - 1.0);
    let sigma = libm::sqrt(var);
    if sigma <= 0.0 {
        return None;
    }
    let cdf = |x: f64| 0.5 * libm::erfc(-(x - mu) / (sigma * std::f64::consts::SQRT_2));
    let d = logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = cdf(*l);
            (f - i as f64 / n as f64).abs().max(((i + 1) as f64 / n as f64 - f).abs())
        })
        .fold(0.0, f64::max);
    if d >= 1.36 / libm::sqrt(n as f64) {
        return None;
    }
    let median = libm::exp(mu);
    let p90 = libm::exp(mu + rehearse_core::dist::Z_90 * sigma);
    let (m, p) = (median.round() as u64, p90.round() as u64);
    (p > m && m > 0).then_some((m, p))
}

/// Builds the calibrated scenario from one or more runs. The structure and
/// lags come from the first complete run (the first run if none is).
pub fn calibrate(runs: &[Run], opts: &Options) -> Calibration {
    let base = runs.iter().find(|r| !r.unfinished()).unwrap_or(&runs[0]);
    let sh = shape(base);
    let mut observed: BTreeMap<(String, String), Observed> = BTreeMap::new();
    for run in runs {
        for r in &run.rows {
            let o = observed.entry((r.steps.clone(), r.substeps.clone())).or_default();
            match (r.status, r.end_ms) {
                (RowStatus::Completed, Some(e)) => o.completed_ms.push(e - r.start_ms),
                (RowStatus::Failed, _) => o.failed += 1,
                _ => o.unfinished += 1,
            }
        }
    }
    let factor_for = |sub: &str| match opts.size_gb {
        Some((from, to)) if is_size_dependent(sub) && from > 0.0 => to / from,
        _ => 1.0,
    };
    let mut scaled = Vec::new();
    let mut t = String::new();
    let files: Vec<&str> = runs.iter().map(|r| r.file.as_str()).collect();
    let _ =
        writeln!(t, "# Calibrated by `rehearse calibrate` from {} measured run(s): {}.", runs.len(), files.join(", "));
    let _ = writeln!(t, "# Structure and lags from {}, which started {}.", base.file, base.first_start);
    if runs.len() == 1 {
        let _ = writeln!(t, "# One run: every duration is its measured value, so `--median` reproduces it.");
    } else {
        let _ = writeln!(
            t,
            "# Several runs: a lognormal where it fits the observations, else the observations themselves."
        );
    }
    if let Some((from, to)) = opts.size_gb {
        let _ = writeln!(
            t,
            "# Scaled from a {from} GB database to {to} GB: database synchronisation and upgrade scripts x{:.3}.",
            to / from
        );
    }
    let _ = writeln!(
        t,
        "\n[scenario]\nname = \"Calibrated data upgrade runbook\"\nsource = \"DBUPGRADE.DATAUPGRADESTATUS exports: {}\"",
        files.join(", ")
    );
    if let Some((_, to)) = opts.size_gb {
        let _ = writeln!(t, "\n[database]\nsize_gb = {to}");
    }
    let _ = writeln!(t, "\n[[step]]\nid = \"runbook\"\nname = \"Data upgrade runbook\"\nrecords_status = true");
    for (k, phase) in sh.phases.iter().enumerate() {
        let _ = write!(t, "\n[[step]]\nid = \"{}\"\nname = \"{phase}\"\nparent = \"runbook\"\n", id(phase, "phase"));
        if let Some((prev, ss, lag)) = sh.phase_after[k] {
            let prev_id = id(&sh.phases[prev], "phase");
            let _ = writeln!(t, "after = [{}]", dep(&prev_id, ss, lag));
        }
        for (i, r) in base.rows.iter().enumerate().filter(|(_, r)| &r.steps == phase) {
            let sid = id(&r.steps, &r.substeps);
            let parent_id =
                sh.parent[i].map_or_else(|| id(phase, "phase"), |p| id(&base.rows[p].steps, &base.rows[p].substeps));
            let _ = write!(t, "\n[[step]]\nid = \"{sid}\"\nname = \"{}\"\nparent = \"{parent_id}\"\n", r.substeps);
            let mut deps: Vec<String> = Vec::new();
            if let (Some(lead), Some(p)) = (sh.lead[i], sh.parent[i])
                && lead > 0
            {
                deps.push(dep(&id(&base.rows[p].steps, &base.rows[p].substeps), true, lead));
            }
            if let (Some(lead), None) = (sh.lead[i], sh.parent[i])
                && lead > 0
            {
                deps.push(dep(&id(phase, "phase"), true, lead));
            }
            for (d, ss, lag) in &sh.after[i] {
                deps.push(dep(&id(&base.rows[*d].steps, &base.rows[*d].substeps), *ss, *lag));
            }
            if !deps.is_empty() {
                let _ = writeln!(t, "after = [{}]", deps.join(", "));
            }
            let is_parent = sh.parent.contains(&Some(i));
            if is_parent {
                if sh.finish_lag[i] > 0 {
                    let _ = writeln!(t, "finish_lag = \"{}\"", dur(sh.finish_lag[i]));
                }
                continue;
            }
            let obs = &observed[&(r.steps.clone(), r.substeps.clone())];
            let factor = factor_for(&r.substeps);
            if factor != 1.0 && obs.completed_ms.iter().any(|v| *v > 0) {
                scaled.push((r.steps.clone(), r.substeps.clone(), factor));
            }
            match duration_expr(&obs.completed_ms, factor) {
                Some(expr) => {
                    let _ = writeln!(t, "duration = {expr}");
                }
                None => {
                    // Only a failed or unfinished attempt was seen: at least this long.
                    let seen = r.end_or_start().max(base.span_ms()) - r.start_ms;
                    let _ = writeln!(
                        t,
                        "# CENSORED: no completed attempt was observed; it ran at least {} before the export.",
                        SimDuration(seen).hms()
                    );
                    let _ = writeln!(t, "duration = \"{}\"", dur(((seen.max(1)) as f64 * factor).round() as u64));
                }
            }
        }
    }
    // Observed failures become faults, at their observed rate.
    let failing: Vec<(&(String, String), &Observed)> = observed.iter().filter(|(_, o)| o.failed > 0).collect();
    for ((steps, substeps), o) in &failing {
        let attempts = o.failed as usize + o.completed_ms.len();
        let _ = write!(
            t,
            "\n# Observed: {} failure(s) in {attempts} attempt(s).\n[[fault]]\nid = \"observed-{}\"\ncatalog = \"runbook-step-failed\"\nsteps = [\"{}\"]\nprobability = {:.4}\nrecovery = \"rerunstep\"\n",
            o.failed,
            id(steps, substeps).replace('.', "-"),
            id(steps, substeps),
            f64::from(o.failed) / attempts as f64,
        );
    }
    if !failing.is_empty() {
        let _ = writeln!(
            t,
            "\n# ASSUMPTION: how long it takes to notice, read the logs and rerun the step.\n[recovery.rerunstep]\naction = \"resume\"\nreaction = {{ triangular = [\"10m\", \"30m\", \"2h\"] }}\nmax_attempts = 3"
        );
    }
    // The modelled median of each sub-step, as the scenario will run it.
    let modelled: BTreeMap<(String, String), u64> = match rehearse_core::Scenario::parse(&t, "calibrated") {
        Ok(sc) => crate::store::projection::status_names(&sc)
            .into_iter()
            .zip(&sc.steps)
            .filter_map(|(name, step)| match (&step.work, name) {
                (rehearse_core::scenario::Work::Leaf(d), Some(n)) => Some((n, d.median().as_ms())),
                _ => None,
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    let report = report(runs, base, &observed, &scaled, &modelled);
    Calibration { toml: t, report, observed, scaled }
}

fn dep(id: &str, start_to_start: bool, lag: u64) -> String {
    match (start_to_start, lag) {
        (false, 0) => format!("\"{id}\""),
        (false, lag) => format!("{{ step = \"{id}\", lag = \"{}\" }}", dur(lag)),
        (true, lag) => format!("{{ step = \"{id}\", from = \"start\", lag = \"{}\" }}", dur(lag)),
    }
}

/// Per sub-step: measured against modelled, and what dominates the total.
fn report(
    runs: &[Run],
    base: &Run,
    observed: &BTreeMap<(String, String), Observed>,
    scaled: &[(String, String, f64)],
    modelled: &BTreeMap<(String, String), u64>,
) -> String {
    let mut out = String::new();
    for run in runs {
        let state = if run.rows.iter().any(|r| r.status == RowStatus::Failed) {
            "FAILED"
        } else if run.unfinished() {
            "UNFINISHED"
        } else {
            "complete"
        };
        let _ = writeln!(
            out,
            "run          {}: {} rows, {} from {}, {state}",
            run.file,
            run.rows.len(),
            SimDuration(run.span_ms()).hms_ms(),
            run.first_start
        );
        for r in run.rows.iter().filter(|r| r.status != RowStatus::Completed) {
            let what = if r.status == RowStatus::Failed { "failed" } else { "still running" };
            let _ = writeln!(out, "             {}/{} {what} (line {})", r.steps, r.substeps, r.line);
        }
    }
    let _ = writeln!(
        out,
        "\n{:<14} {:<30} {:>4} {:>13} {:>13} {:>13} {:>15}",
        "Steps", "SubSteps", "n", "min", "median", "max", "modelled median"
    );
    let total = base.span_ms().max(1);
    let mut shares: Vec<(u64, String)> = Vec::new();
    for r in &base.rows {
        let Some(o) = observed.get(&(r.steps.clone(), r.substeps.clone())) else { continue };
        let mut v = o.completed_ms.clone();
        v.sort_unstable();
        let (min, med, max) = match v.as_slice() {
            [] => ("-".to_string(), "-".to_string(), "-".to_string()),
            s => {
                (SimDuration(s[0]).hms_ms(), SimDuration(s[s.len() / 2]).hms_ms(), SimDuration(s[s.len() - 1]).hms_ms())
            }
        };
        let mut note = String::new();
        if o.failed > 0 {
            note.push_str(&format!("  {} failed", o.failed));
        }
        if let Some((_, _, f)) = scaled.iter().find(|(a, b, _)| a == &r.steps && b == &r.substeps) {
            note.push_str(&format!("  scaled x{f:.3}"));
        }
        let model = modelled
            .get(&(r.steps.clone(), r.substeps.clone()))
            .map_or_else(|| "(spans others)".to_string(), |m| SimDuration(*m).hms_ms());
        let _ = writeln!(
            out,
            "{:<14} {:<30} {:>4} {:>13} {:>13} {:>13} {:>15}{note}",
            r.steps,
            r.substeps,
            v.len(),
            min,
            med,
            max,
            model
        );
        if let Some(m) = v.get(v.len() / 2) {
            shares.push((*m, format!("{}/{}", r.steps, r.substeps)));
        }
    }
    shares.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let _ = writeln!(out, "\ndominating steps (median, share of the measured span {}):", SimDuration(total).hms_ms());
    for (m, name) in shares.iter().take(5) {
        let _ =
            writeln!(out, "  {name:<44} {:>13}  {:>5.1}%", SimDuration(*m).hms_ms(), 100.0 * *m as f64 / total as f64);
    }
    if !scaled.is_empty() {
        let _ = writeln!(out, "\nscaled with the database size: {} sub-step(s)", scaled.len());
    }
    out
}

/// Replaces the durations of `scenario_text`'s matching steps (the sub-steps
/// of its `records_status` runbook, matched by Steps and SubSteps) with the
/// calibrated ones, leaving everything else — comments included — as it is.
/// Returns the new text and the ids of the steps replaced.
///
/// # Errors
/// A scenario that does not parse, or has no step to match.
pub fn apply_into(
    scenario_text: &str,
    origin: &str,
    cal: &Calibration,
    opts: &Options,
) -> Result<(String, Vec<String>), String> {
    let scenario = rehearse_core::Scenario::parse(scenario_text, origin).map_err(|e| e.to_string())?;
    let names = crate::store::projection::status_names(&scenario);
    let mut doc: toml_edit::DocumentMut = scenario_text.parse().map_err(|e| format!("{origin}: {e}"))?;
    let Some(steps) = doc.get_mut("step").and_then(|s| s.as_array_of_tables_mut()) else {
        return Err(format!("{origin}: no [[step]] to calibrate"));
    };
    let mut replaced = Vec::new();
    for table in steps.iter_mut() {
        let Some(id) = table.get("id").and_then(|v| v.as_str()).map(str::to_string) else { continue };
        let Some(idx) = scenario.find(&id) else { continue };
        let Some((phase, sub)) = &names[idx.index()] else { continue };
        if scenario.step(idx).is_group() {
            continue;
        }
        let Some(obs) = cal.observed.get(&(phase.clone(), sub.clone())) else { continue };
        let factor = match opts.size_gb {
            Some((from, to)) if is_size_dependent(sub) && from > 0.0 => to / from,
            _ => 1.0,
        };
        let Some(expr) = duration_expr(&obs.completed_ms, factor) else { continue };
        let parsed: toml_edit::DocumentMut =
            format!("duration = {expr}\n").parse().map_err(|e| format!("internal: {e}"))?;
        let mut value = parsed["duration"].as_value().cloned().ok_or("internal: no value")?;
        if let Some(old) = table.get("duration").and_then(|v| v.as_value()) {
            *value.decor_mut() = old.decor().clone();
        } else {
            value.decor_mut().set_prefix(" ");
        }
        table.insert("duration", toml_edit::Item::Value(value));
        replaced.push(id);
    }
    if replaced.is_empty() {
        return Err(format!(
            "{origin}: no step matches the measured rows (steps under a runbook with records_status = true, by Steps and SubSteps)"
        ));
    }
    Ok((doc.to_string(), replaced))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lognormal_is_fitted_only_when_it_fits() {
        // Observations at the quantiles of a lognormal (median 1h, sigma 0.3).
        let z = [-1.64, -1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28, 1.64];
        let obs: Vec<u64> = z.iter().map(|z| (3_600_000.0 * libm::exp(0.3 * z)) as u64).collect();
        let (median, p90) = lognormal_fit(&obs).expect("fits");
        assert!(median.abs_diff(3_600_000) < 36_000, "{median}");
        assert!(p90 > median);
        // Two clusters far apart: no lognormal, the observations are kept.
        let mut bimodal: Vec<u64> =
            (0..15).map(|k| 600_000 + k * 1_000).chain((0..15).map(|k| 36_000_000 + k * 1_000)).collect();
        bimodal.sort_unstable();
        assert_eq!(lognormal_fit(&bimodal), None);
        assert!(duration_expr(&bimodal, 1.0).unwrap().starts_with("{ empirical"));
        // Too few observations: empirical.
        assert_eq!(lognormal_fit(&obs[..5]), None);
    }
}
