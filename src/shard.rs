//! `--shard I/N --out PART` for `estimate` and `check`, and `rehearse
//! merge`: the index read from the array job's environment, the part's
//! header, the part written atomically, the parts merged and printed as
//! the unsharded command prints. The splitting and merging are in
//! `rehearse_sim::shard` and the commands' own modules there.

use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rehearse_sim::Plan;
use rehearse_sim::shard::{FORMAT, Header, Parts, Shard};
use serde_json::Value;

use crate::cli::MergeArgs;

/// The environment variables an array job numbers its tasks with, read by
/// `--shard env/N`, in this order.
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// `--shard I/N`, or `env/N` with I from the array job's environment.
pub fn parse(text: &str) -> Result<Shard> {
    let text = match text.strip_prefix("env/") {
        Some(n) => {
            let Some((var, i)) = INDEX_VARIABLES.iter().find_map(|v| std::env::var(v).ok().map(|i| (*v, i))) else {
                bail!("--shard {text}: none of {} is set", INDEX_VARIABLES.join(", "));
            };
            tracing::info!(var, index = %i, "shard index from the environment");
            format!("{}/{n}", i.trim())
        }
        None => text.to_string(),
    };
    Shard::parse(&text).map_err(|e| anyhow::anyhow!("--shard {e}"))
}

/// This build, as a part records it: parts of another build may draw
/// other numbers, so they are not merged.
fn tool_version() -> String {
    format!("rehearse {} (event schema {})", env!("CARGO_PKG_VERSION"), rehearse_core::SCHEMA_VERSION)
}

/// A part's header.
pub fn header(kind: &str, path: &Path, text: &str, shard: Shard, seed: u64, runs: u64, options: Value) -> Value {
    Header {
        kind: kind.to_string(),
        format: FORMAT,
        tool_version: tool_version(),
        scenario_path: path.display().to_string(),
        scenario_text: text.to_string(),
        digest: rehearse_sim::sha256_hex(text.as_bytes()),
        seed,
        runs,
        shard,
        options,
    }
    .to_json()
}

/// Writes a part through a temporary file renamed over `out` when whole,
/// and says what was written.
pub fn write_file<E>(
    out: &Path,
    shard: Shard,
    runs: u64,
    write: impl FnOnce(BufWriter<std::fs::File>) -> Result<(BufWriter<std::fs::File>, u64), E>,
) -> Result<ExitCode>
where
    anyhow::Error: From<E>,
{
    let tmp = crate::output::temp_beside(out)?;
    let file = tmp.reopen().with_context(|| format!("cannot write {}", out.display()))?;
    let (w, bytes) = write(BufWriter::with_capacity(1 << 16, file))?;
    w.into_inner().map_err(|e| e.into_error()).with_context(|| format!("writing {}", out.display()))?;
    crate::output::persist(tmp, out)?;
    println!(
        "shard {shard}: {runs} runs, {} written ({bytes} bytes, {:.2} bytes per run)",
        out.display(),
        bytes as f64 / runs.max(1) as f64
    );
    Ok(ExitCode::SUCCESS)
}

pub fn merge(args: &MergeArgs) -> Result<ExitCode> {
    for (option, path) in [("--html", args.html.as_ref()), ("--save-failures", args.save_failures.as_ref())] {
        if let Some(path) = path {
            for part in &args.parts {
                crate::output::refuse_clobbering((option, path), &[("one of the parts this merge reads", part)])?;
            }
        }
    }
    let parts = Parts::open(&args.parts)?;
    let h = &parts.header;
    if h.tool_version != tool_version() {
        bail!(
            "{}: written by {}, this is {}: merge with the same build",
            args.parts[0].display(),
            h.tool_version,
            tool_version()
        );
    }
    let scenario = crate::load::parse(Path::new(&h.scenario_path), &h.scenario_text).map_err(crate::load::Invalid)?;
    let plan = Plan::new(&scenario, rehearse_sim::digest(&h.scenario_text));
    let options = |e: String| anyhow::anyhow!("{}: {e}", args.parts[0].display());
    match h.kind.as_str() {
        "estimate" => {
            if args.save_failures.is_some() {
                bail!("--save-failures: these are an estimate's parts; failures are a check's");
            }
            let threads = crate::estimate::threads(args.threads);
            let (opts, window) =
                rehearse_sim::estimate::options_from(&h.options, h.runs, h.seed, threads).map_err(options)?;
            let fail_if: Vec<String> =
                serde_json::from_value(h.options["fail_if"].clone()).map_err(|e| options(e.to_string()))?;
            let gates = crate::estimate::gates(&fail_if)?;
            let mut gathered = rehearse_sim::estimate::Gathered::new(&plan, &opts);
            parts.read_each(|shard, r| gathered.read(shard, r))?;
            let result = gathered.finish(&plan, &opts, window)?;
            crate::estimate::print(
                &plan,
                &h.scenario_path,
                &opts,
                &result,
                &gates,
                args.html.as_deref(),
                args.json,
                args.width,
            )
        }
        "check" => {
            if args.html.is_some() {
                bail!("--html: these are a check's parts; the HTML report is an estimate's");
            }
            let opts = rehearse_sim::check::options_from(&h.options, h.runs, h.seed).map_err(options)?;
            let report = rehearse_sim::check::merge(&plan, &opts, &parts)?;
            crate::check::print(
                &plan,
                &h.scenario_path,
                &h.scenario_text,
                &opts,
                &report,
                args.save_failures.as_deref(),
                args.json,
                args.width,
            )
        }
        other => bail!("{}: a part of `{other}`, which cannot be merged", args.parts[0].display()),
    }
}
