//! `rehearse validate`: check scenario files, report their errors (the
//! first hundred of each file listed, the rest counted).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use rehearse_core::Scenario;
use rehearse_core::scenario::{ScenarioError, n_errors};
use serde_json::{Value, json};

use crate::cli::ValidateArgs;
use crate::load;

enum Checked {
    Valid(Box<Scenario>),
    Unreadable(String),
    Invalid(ScenarioError),
}

pub fn validate(args: &ValidateArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut files = Vec::new();
    let mut n_bad = 0;
    for path in &args.scenarios {
        let checked = match load::read_text(path) {
            Err(e) => Checked::Unreadable(format!("{e:#}")),
            Ok(text) => match load::parse(path, &text) {
                Ok(s) => Checked::Valid(Box::new(s)),
                Err(e) => Checked::Invalid(e),
            },
        };
        let file = path.display().to_string();
        let entry: Value = match &checked {
            Checked::Valid(s) => {
                let n_groups = s.steps.iter().filter(|s| s.is_group()).count();
                if !args.json {
                    writeln!(
                        out,
                        "ok     {file}: {} steps ({n_groups} with sub-steps), {} top-level",
                        s.steps.len(),
                        s.roots.len()
                    )?;
                }
                json!({ "file": file, "ok": true, "steps": s.steps.len() })
            }
            Checked::Unreadable(message) => {
                n_bad += 1;
                if !args.json {
                    eprintln!("error: {message}");
                    eprintln!("FAILED {file}: unreadable");
                }
                json!({ "file": file, "ok": false, "errors": [ { "message": message } ], "more_errors": 0 })
            }
            Checked::Invalid(e) => {
                n_bad += 1;
                if !args.json {
                    for d in e.shown() {
                        eprintln!("error: {}", e.locate(d));
                    }
                    if let Some(more) = e.more() {
                        eprintln!("{more}");
                    }
                    eprintln!("FAILED {file}: {}", n_errors(e.diagnostics.len()));
                }
                // The first errors, as the text lists them, and how many more.
                let errors: Vec<Value> = e
                    .shown()
                    .iter()
                    .map(|d| json!({ "line": d.line, "col": d.col, "step": d.step, "message": d.message }))
                    .collect();
                json!({ "file": file, "ok": false, "errors": errors, "more_errors": e.n_more() })
            }
        };
        files.push(entry);
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "files": files }))?)?;
    }
    Ok(if n_bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
