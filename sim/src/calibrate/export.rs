//! Reading exports of the documented monitoring query on
//! `DBUPGRADE.DATAUPGRADESTATUS`: any row order, comma or tab, with or
//! without a header or milliseconds; anything else is an error with the
//! file and line.

use std::collections::BTreeMap;

use jiff::civil::DateTime;

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
    pub(super) fn end_or_start(&self) -> u64 {
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
    tracing::debug!(file, rows = rows.len(), %first_start, "calibrate: export read");
    Ok(Run { file: file.to_string(), first_start, rows })
}
