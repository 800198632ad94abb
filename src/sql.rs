//! `rehearse sql`: read-only queries on a stored run, printed as a table.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::cli::SqlArgs;

pub fn sql(args: &SqlArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if !args.file.exists() {
        anyhow::bail!("cannot read {}: no such file", args.file.display());
    }
    if !rehearse_sim::store::sqlite::is_sqlite(&args.file) {
        anyhow::bail!("{}: not a SQLite run store (write one with `rehearse run ... --db FILE`)", args.file.display());
    }
    let timeout = rehearse_core::SimDuration::parse(&args.timeout)
        .map_err(|e| anyhow::anyhow!("--timeout {}: {e}", args.timeout))?;
    let timeout = std::time::Duration::from_millis(timeout.as_ms());
    // The wall clock enters here, at the edge, for the user's time limit:
    // nothing simulated depends on it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let stop = move || started.elapsed() > timeout;
    let result = rehearse_sim::store::sqlite::query(&args.file, &args.query, args.max_rows, stop);
    let rehearse_sim::store::sqlite::QueryResult { columns, rows } = match result {
        Err(e @ rehearse_sim::store::sqlite::StoreError::QueryStopped { .. }) => {
            anyhow::bail!("{e}: it ran past --timeout {}; narrow it, or give a longer --timeout", args.timeout)
        }
        Err(e @ rehearse_sim::store::sqlite::StoreError::TooManyRows { .. }) => {
            anyhow::bail!("{e} (--max-rows {}); narrow it with WHERE or LIMIT, or raise --max-rows", args.max_rows)
        }
        other => other?,
    };
    if args.json {
        let json_rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (c, v) in columns.iter().zip(r) {
                    m.insert(c.clone(), v.clone().map_or(Value::Null, Value::String));
                }
                Value::Object(m)
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&json_rows)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".to_string());
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter().map(|r| cell(&r[i]).chars().count()).chain([columns[i].chars().count()]).max().unwrap_or(0)
        })
        .collect();
    let line = |vals: Vec<String>| {
        vals.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join(" | ").trim_end().to_string()
    };
    writeln!(out, "{}", line(columns.clone()))?;
    writeln!(out, "{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(cell).collect()))?;
    }
    eprintln!("({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}
