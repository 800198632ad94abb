//! The scenario library's commands: `readiness`, `scenarios` and
//! `code-upgrade`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use rehearse_core::Scenario;
use rehearse_core::readiness::{Readiness, Status};
use rehearse_core::versions::{self, Basis, Version};
use serde_json::json;

use crate::cli::{CodeUpgradeArgs, InitArgs, ReadinessArgs, ScenariosArgs};
use crate::load;

/// The bundled scenarios, embedded so that `rehearse scenarios` works from
/// anywhere; a test checks this list against the `scenarios/` folder.
pub const BUNDLED: &[(&str, &str)] = &[
    ("hotfix.toml", include_str!("../scenarios/hotfix.toml")),
    ("code-upgrade.toml", include_str!("../scenarios/code-upgrade.toml")),
    ("dse-upgrade-2017.toml", include_str!("../scenarios/dse-upgrade-2017.toml")),
    ("self-service-upgrade.toml", include_str!("../scenarios/self-service-upgrade.toml")),
    ("platform-update.toml", include_str!("../scenarios/platform-update.toml")),
    ("ax2012-data-upgrade-dev.toml", include_str!("../scenarios/ax2012-data-upgrade-dev.toml")),
    ("ax2012-mock-cutover.toml", include_str!("../scenarios/ax2012-mock-cutover.toml")),
    ("ax2012-go-live.toml", include_str!("../scenarios/ax2012-go-live.toml")),
    ("go-live-weekend.toml", include_str!("../scenarios/go-live-weekend.toml")),
];

/// The bundled scenario `name` names (`ax2012-go-live` or
/// `ax2012-go-live.toml`, a `scenarios/` before it allowed), or an error
/// that lists them.
fn bundled(name: &str) -> Result<&'static str> {
    let file = name.trim_start_matches("scenarios/");
    let file = file.strip_suffix(".toml").unwrap_or(file);
    match BUNDLED.iter().find(|(f, _)| f.strip_suffix(".toml") == Some(file)) {
        Some((_, text)) => Ok(text),
        None => {
            let names: Vec<&str> = BUNDLED.iter().map(|(f, _)| f.trim_end_matches(".toml")).collect();
            bail!("no bundled scenario is called `{name}`; there are: {}", names.join(", "))
        }
    }
}

/// `rehearse init FILE --from NAME`: a bundled scenario written to FILE, to
/// be made one's own. An existing file is kept unless `--force`.
pub fn init(args: &InitArgs) -> Result<ExitCode> {
    let text = bundled(&args.from)?;
    if args.file.is_dir() {
        bail!("{}: that is a directory", args.file.display());
    }
    if !args.force && std::fs::symlink_metadata(&args.file).is_ok() {
        bail!("{}: the file exists; refusing to replace it (pass --force to replace it)", args.file.display());
    }
    crate::output::write_atomically(&args.file, text)?;
    eprintln!(
        "wrote {} from the bundled {}; next: `rehearse validate {}`",
        args.file.display(),
        args.from,
        args.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn scenarios(args: &ScenariosArgs) -> Result<ExitCode> {
    if let Some(name) = &args.show {
        let mut out = std::io::stdout().lock();
        out.write_all(bundled(name)?.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for (file, text) in BUNDLED {
        let s = Scenario::parse(text, file).map_err(|e| anyhow::anyhow!("bundled scenario is invalid: {e}"))?;
        let mut traits = vec![format!("{} steps", s.steps.len())];
        match s.meta.window {
            Some(w) => traits.push(format!("window {}", w.hms())),
            None if s.steps.iter().any(|st| st.downtime.is_some()) => traits.push("downtime, no window".into()),
            None => traits.push("no downtime".into()),
        }
        if !s.faults.is_empty() {
            traits.push(format!("{} faults", s.faults.len()));
        }
        if s.replication.is_some() {
            traits.push("replication".into());
        }
        if s.readiness.is_some() {
            traits.push("readiness gates".into());
        }
        rows.push((format!("scenarios/{file}"), s.meta.name.clone(), s.meta.source.clone(), traits.join(", ")));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(file, name, source, traits)| json!({ "file": file, "name": name, "source": source, "summary": traits }))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "scenarios": list }))?)?;
    } else {
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        for (file, name, _, traits) in &rows {
            writeln!(out, "{file:<w$}  {name} ({traits})")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn readiness(args: &ReadinessArgs) -> Result<ExitCode> {
    let (scenario, _) = load::scenario(&args.scenario)?;
    let Some(r) = &scenario.readiness else {
        bail!(
            "{}: no [readiness] section; add one with the gates (e.g. `cutover-plan = true`, `ax2012 = true` for an upgrade from AX 2012); see `rehearse readiness --help`",
            args.scenario.display()
        );
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let gates: Vec<_> = r
            .gates
            .iter()
            .map(|g| {
                json!({
                    "gate": g.def.id,
                    "title": g.def.title,
                    "source": g.def.source,
                    "status": g.status,
                    "owner": g.owner,
                    "note": g.note,
                })
            })
            .collect();
        let unmet: Vec<&str> = r.unmet().map(|g| g.def.id).collect();
        let v = json!({
            "scenario": args.scenario.display().to_string(),
            "ax2012": r.ax2012,
            "decision": if r.go() { "go" } else { "no-go" },
            "unmet": unmet,
            "gates": gates,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{}", checklist(&scenario, r))?;
    }
    Ok(if r.go() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The go/no-go checklist as text.
pub fn checklist(scenario: &Scenario, r: &Readiness) -> String {
    let mut s = format!("go-live readiness: {}\n", scenario.meta.name);
    let w = r.gates.iter().map(|g| g.def.id.len()).max().unwrap_or(0);
    for g in &r.gates {
        let mark = match g.status {
            Status::Met => "[x]",
            Status::NotApplicable => "[-]",
            Status::NotMet | Status::NotAssessed => "[ ]",
        };
        let mut line = format!("  {mark} {:<w$}  {}", g.def.id, g.def.title);
        if g.status.blocks() {
            line.push_str(&format!(" -- {}", g.status.label()));
        } else if g.status == Status::NotApplicable {
            line.push_str(" -- n/a");
        }
        let who: Vec<String> =
            [g.owner.as_deref().map(|o| format!("owner: {o}")), g.note.clone()].into_iter().flatten().collect();
        if !who.is_empty() {
            line.push_str(&format!(" ({})", who.join("; ")));
        }
        s.push_str(&line);
        s.push('\n');
    }
    let unmet: Vec<&str> = r.unmet().map(|g| g.def.id).collect();
    if unmet.is_empty() {
        s.push_str(&format!("decision: GO -- all {} gates met or not applicable\n", r.gates.len()));
    } else {
        s.push_str(&format!(
            "decision: NO-GO -- {} of {} gates block: {}\n",
            unmet.len(),
            r.gates.len(),
            unmet.join(", ")
        ));
    }
    s.push_str(
        "sources: 004 \"Prepare your production environment to go live\"; 003 \"Go live (Cutover)\" prerequisites\n",
    );
    s
}

pub fn code_upgrade(args: &CodeUpgradeArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let (Some(from), Some(to)) = (&args.from, &args.to) else {
        let rows: Vec<_> = versions::TABLE_001.iter().chain(versions::TABLE_000).collect();
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "rows": rows }))?)?;
        } else {
            for doc in ["001", "000"] {
                writeln!(out, "{} table:", if doc == "001" { "2018 (001)" } else { "2017 (000)" })?;
                for r in rows.iter().filter(|r| r.document == doc) {
                    let answer = if r.required { "Yes" } else { "No" };
                    writeln!(out, "  {:<3}  {} -> {}", answer, r.source, r.target)?;
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let parse = |what: &str, v: &str| Version::parse(v).map_err(|e| anyhow::anyhow!("{what}: {e}"));
    let (from, to) = (parse("FROM", from)?, parse("TO", to)?);
    let answer = versions::code_upgrade(from, to)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
    } else {
        let verdict = if answer.required { "yes" } else { "no" };
        writeln!(out, "code upgrade service needed: {verdict}")?;
        writeln!(out, "  from {}", from.title())?;
        writeln!(out, "  to   {}", to.title())?;
        match answer.basis {
            Basis::Row(r) => writeln!(
                out,
                "  as the {} table of {} says: \"{}\" -> \"{}\": {}",
                if r.document == "001" { "2018" } else { "2017" },
                r.document,
                r.source,
                r.target,
                if r.required { "Yes" } else { "No" }
            )?,
            Basis::Update => writeln!(
                out,
                "  an update, not an upgrade; 001: \"Update - This is the process of applying a binary package to your environment to advance it from one official release of Finance and Operations to the next, starting with version 8.0. This involves drastically lower downtime requirements, and involves no Data Upgrade.\""
            )?,
            Basis::Rule => writeln!(
                out,
                "  neither table lists this pair; 001's rule: \"A code upgrade is required when you deploy new environments as part of the process of upgrading your application to a new major or cumulative release. A code upgrade isn't required for platform updates.\""
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
