//! Reading exports of the documented monitoring query on
//! `DBUPGRADE.DATAUPGRADESTATUS`, through the `csv` crate: RFC 4180 quoting
//! (a name may hold the separator, a quote or a line break), comma or tab,
//! LF or CRLF, a UTF-8 byte-order mark (as Windows tools write one), any row
//! order, with or without a header or milliseconds; anything else is an
//! error with the file and line.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use rehearse_core::scenario::MAX_SPAN;
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
    /// Where the row came from (1-based line where it starts).
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
    /// Rows in chronological order (start, then the longer first). Every
    /// time lies within [`MAX_SPAN`] of the first start.
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

/// `2022-05-20 06:28:01.020`, `2022-05-20T06:28:01` (`jiff` takes a
/// space for the `T`).
fn parse_time(s: &str) -> Option<DateTime> {
    s.trim().parse::<DateTime>().ok()
}

/// A row as read, before its times are made relative to the first start.
struct RawRow {
    line: usize,
    start: DateTime,
    end: Option<DateTime>,
    steps: String,
    substeps: String,
    status: RowStatus,
}

/// Reads one export.
///
/// # Errors
/// The first malformed line, located; a run longer than [`MAX_SPAN`]
/// (more than one run in the export, or a wrong date), at the row that
/// makes it so.
pub fn read_export(file: &str, text: &str) -> Result<Run, ExportError> {
    let err = |line: usize, message: String| ExportError { file: file.to_string(), line, message };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Err(err(1, "empty file; expected rows of StartTime, EndTime, Steps, SubSteps, Status".into()));
    };
    // SQL Server Management Studio saves results with tabs, most tools with
    // commas; the first line says which.
    let sep = if first.contains('\t') { b'\t' } else { b',' };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(sep).from_reader(text.as_bytes());
    let mut raw = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut first_line = None;
    let mut lines = Lines { text: text.as_bytes(), offset: 0, line: 1 };
    loop {
        let line = lines.of_record_after(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(err(line, format!("not a CSV row: {e}"))),
        }
        let f: Vec<&str> = record.iter().map(str::trim).collect();
        if f.iter().all(|x| x.is_empty()) {
            continue;
        }
        let is_first = first_line.is_none();
        first_line.get_or_insert(line);
        if is_first && f.iter().map(|x| x.to_ascii_lowercase()).eq(HEADER.iter().map(|h| h.to_string())) {
            continue; // the header
        }
        raw.push(row(&f, line).map_err(|m| err(line, m))?);
    }
    let Some(first_line) = first_line else {
        return Err(err(1, "empty file; expected rows of StartTime, EndTime, Steps, SubSteps, Status".into()));
    };
    if raw.is_empty() {
        return Err(err(first_line, "no rows after the header".into()));
    }
    let first_start = raw.iter().map(|r| r.start).min().expect("rows");
    check_span(&raw, first_start).map_err(|(line, m)| err(line, m))?;
    let ms = |t: DateTime| ms_between(first_start, t);
    let mut rows: Vec<Row> = raw
        .into_iter()
        .map(|r| Row {
            steps: r.steps,
            substeps: r.substeps,
            start_ms: ms(r.start),
            end_ms: r.end.map(ms),
            status: r.status,
            line: r.line,
        })
        .collect();
    let mut seen = BTreeMap::new();
    for r in &rows {
        if let Some(prev) = seen.insert((r.steps.as_str(), r.substeps.as_str()), r.line) {
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

/// Line numbers of records. The `csv` reader's own count goes wrong on
/// the empty lines it skips and on CRLF; its byte offsets are right, and
/// say where the previous record ended, so a record starts after the
/// line breaks that follow that offset.
struct Lines<'t> {
    text: &'t [u8],
    /// Where `line` was counted to.
    offset: usize,
    line: usize,
}

impl Lines<'_> {
    /// The 1-based line of the record that follows byte `after`.
    fn of_record_after(&mut self, after: u64) -> usize {
        let mut start = usize::try_from(after).unwrap_or(self.text.len()).min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.offset {
            self.line += self.text[self.offset..start].iter().filter(|b| **b == b'\n').count();
            self.offset = start;
        }
        self.line
    }
}

/// Reads one export from its bytes: UTF-8 (with or without a byte-order
/// mark), or UTF-16 with its byte-order mark (SQL Server Management
/// Studio's "Unicode"); see [`read_export`].
///
/// # Errors
/// Bytes that are neither, at the line and column where they stop being
/// text; then as [`read_export`].
pub fn read_export_bytes(file: &str, bytes: &[u8]) -> Result<Run, ExportError> {
    let utf16 = |bytes: &[u8], word: fn([u8; 2]) -> u16| {
        let words: Vec<u16> = bytes.chunks(2).map(|c| word([c[0], *c.get(1).unwrap_or(&0)])).collect();
        String::from_utf16(&words).map_err(|_| ExportError {
            file: file.to_string(),
            line: 1,
            message: "not UTF-16 text, though it starts with UTF-16's byte-order mark".into(),
        })
    };
    let text = match bytes {
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes)?,
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes)?,
        _ => match std::str::from_utf8(bytes) {
            Ok(text) => return read_export(file, text),
            Err(e) => {
                let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let (line, col) = rehearse_core::scenario::line_col(good, good.len());
                return Err(ExportError {
                    file: file.to_string(),
                    line: line as usize,
                    message: format!(
                        "column {col}: not UTF-8 text; expected a CSV export (UTF-8, or UTF-16 with its byte-order mark)"
                    ),
                });
            }
        },
    };
    read_export(file, &text)
}

/// One row's five fields, checked.
fn row(f: &[&str], line: usize) -> Result<RawRow, String> {
    if f.len() != 5 {
        return Err(format!("{} fields; expected 5: StartTime, EndTime, Steps, SubSteps, Status", f.len()));
    }
    let start = parse_time(f[0])
        .ok_or_else(|| format!("StartTime {:?} is not a date and time like 2022-05-20 06:28:01.020", f[0]))?;
    let end = match f[1] {
        "" | "NULL" | "null" => None,
        e => Some(parse_time(e).ok_or_else(|| {
            format!("EndTime {e:?} is not a date and time like 2022-05-20 06:28:01.020 (or NULL while running)")
        })?),
    };
    if f[2].is_empty() || f[3].is_empty() {
        return Err("Steps and SubSteps must not be empty".into());
    }
    let status = match f[4].to_ascii_lowercase().as_str() {
        "completed" => RowStatus::Completed,
        "failed" => RowStatus::Failed,
        "inprogress" | "in progress" | "running" => RowStatus::InProgress,
        other => return Err(format!("Status {other:?}; expected Completed, Failed or InProgress")),
    };
    if status == RowStatus::Completed && end.is_none() {
        return Err("a Completed row needs an EndTime".into());
    }
    if let Some(e) = end
        && e < start
    {
        return Err("EndTime is before StartTime".into());
    }
    Ok(RawRow { line, start, end, steps: f[2].to_string(), substeps: f[3].to_string(), status })
}

/// Milliseconds from `a` to `b` (`b` not before `a`; civil times are at
/// most 20,000 years apart, well within `u64`).
fn ms_between(a: DateTime, b: DateTime) -> u64 {
    u64::try_from(a.duration_until(b).as_millis()).unwrap_or(0)
}

/// A run, and so each of its steps and lags, fits within [`MAX_SPAN`], the
/// longest a scenario's step or lag may be: a longer run is no single data
/// upgrade (two runs in one export, or a mistyped date), and calibrating
/// within the limit would mean inventing times. Refused at the row that
/// makes it too long: the row that lasts too long, else the row after the
/// longest gap, else the row that ends last.
fn check_span(raw: &[RawRow], first_start: DateTime) -> Result<(), (usize, String)> {
    let limit = MAX_SPAN.as_ms();
    let long = |ms: u64| SimDuration(ms).to_string();
    for r in raw {
        if let Some(e) = r.end {
            let d = ms_between(r.start, e);
            if d > limit {
                return Err((
                    r.line,
                    format!(
                        "{}/{} lasts {}, beyond the {} a step may last; is its EndTime right?",
                        r.steps,
                        r.substeps,
                        long(d),
                        long(limit)
                    ),
                ));
            }
        }
    }
    let end = |r: &RawRow| r.end.unwrap_or(r.start);
    let last = raw.iter().max_by_key(|r| (end(r), std::cmp::Reverse(r.line))).expect("rows");
    let span = ms_between(first_start, end(last));
    if span <= limit {
        return Ok(());
    }
    let mut by_start: Vec<&RawRow> = raw.iter().collect();
    by_start.sort_by_key(|r| (r.start, r.line));
    let mut covered = first_start;
    let mut gap: Option<(u64, &RawRow)> = None;
    for r in by_start {
        if r.start > covered {
            let g = ms_between(covered, r.start);
            if gap.is_none_or(|(best, _)| g > best) {
                gap = Some((g, r));
            }
        }
        covered = covered.max(end(r));
    }
    let (line, why) = match gap {
        Some((g, r)) if g > 0 => (r.line, format!("; this row starts {} after every row before it had ended", long(g))),
        _ => (last.line, "; this row ends last".to_string()),
    };
    Err((
        line,
        format!(
            "the rows span {}, beyond the {} a run may last{why}; an export holds one run: is it two runs, or a wrong date?",
            long(span),
            long(limit)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "StartTime,EndTime,Steps,SubSteps,Status\n";

    fn names(text: &str) -> Vec<(String, String)> {
        let run = read_export("t.csv", text).unwrap_or_else(|e| panic!("{e}"));
        run.rows.into_iter().map(|r| (r.steps, r.substeps)).collect()
    }

    fn check_err(text: &str, expected: &str) {
        let e = read_export("t.csv", text).unwrap_err().to_string();
        assert!(e.contains(expected), "{e}\nexpected: {expected}");
    }

    #[test]
    fn quoting_bom_crlf_and_tabs_are_read_as_csv() {
        let quoted =
            format!("{HEAD}2022-05-20 06:00:00,2022-05-20 06:00:01,\"Pre, Sync\",\"say \"\"hi\"\" \\o/\",Completed\n");
        assert_eq!(names(&quoted), [("Pre, Sync".to_string(), "say \"hi\" \\o/".to_string())]);
        let bom = format!("\u{feff}{HEAD}2022-05-20 06:00:00,2022-05-20 06:00:01,A,B,Completed\r\n");
        assert_eq!(names(&bom), [("A".to_string(), "B".to_string())]);
        let tabs =
            "\u{feff}StartTime\tEndTime\tSteps\tSubSteps\tStatus\r\n2022-05-20 06:00:00\tNULL\tA, x\tB\tInProgress\r\n";
        assert_eq!(names(tabs), [("A, x".to_string(), "B".to_string())]);
        // A quoted line break is part of the name; the row after it keeps
        // its own line number.
        let multi = format!(
            "{HEAD}2022-05-20 06:00:00,2022-05-20 06:00:01,A,\"two\nlines\",Completed\n2022-05-20 06:00:00,2022-05-20 06:00:01,A,B,Done\n"
        );
        check_err(&multi, "t.csv:4: Status \"done\"");
        let blank = "\r\nStartTime,EndTime,Steps,SubSteps,Status\r\n\r\n\r\n2022-05-20 06:00:00,2022-05-20 06:00:01,A,B,Completed\r\n\n\r\nx,y\r\n";
        check_err(blank, "t.csv:8: 2 fields");
    }

    #[test]
    fn utf16_with_its_mark_is_read_and_other_bytes_located() {
        let text = format!("{HEAD}2022-05-20 06:00:00,2022-05-20 06:00:01,Fénix,B,Completed\r\n");
        let le: Vec<u8> = [0xff, 0xfe].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let be: Vec<u8> = [0xfe, 0xff].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect();
        for bytes in [le, be, text.clone().into_bytes()] {
            let run = read_export_bytes("t.csv", &bytes).unwrap();
            assert_eq!(run.rows[0].steps, "Fénix");
        }
        let mut bad = text.into_bytes();
        bad[50] = 0xff;
        let e = read_export_bytes("t.csv", &bad).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:2: column 11: not UTF-8 text"), "{e}");
    }

    #[test]
    fn malformed_rows_are_located() {
        check_err("", "t.csv:1: empty file");
        check_err(HEAD, "t.csv:1: no rows after the header");
        check_err(&format!("{HEAD}\n2022-05-20 06:00:00,x,A,B,Completed\n"), "t.csv:3: EndTime \"x\"");
        check_err(&format!("{HEAD}2022-05-20 06:00:00,2022-05-20 06:00:01,A,B,Completed,9\n"), "t.csv:2: 6 fields");
    }

    #[test]
    fn a_run_longer_than_a_scenario_holds_is_refused_where_it_grows_too_long() {
        check_err(
            &format!("{HEAD}2022-05-20 06:00:00,2029-05-20 06:00:00,DbSync,SyncSchema,Completed\n"),
            "t.csv:2: DbSync/SyncSchema lasts 2557d, beyond the 30d a step may last",
        );
        let gap = format!(
            "{HEAD}2022-05-20 06:00:00,2022-05-20 07:00:00,A,B,Completed\n2032-05-20 06:00:00,2032-05-20 07:00:00,A,C,Completed\n"
        );
        check_err(
            &gap,
            "t.csv:3: the rows span 3653d1h, beyond the 30d a run may last; this row starts 3652d23h after",
        );
        // Exactly 30 days is within the limit.
        names(&format!("{HEAD}2022-05-01 00:00:00,2022-05-31 00:00:00,A,B,Completed\n"));
    }
}
