//! `rehearse`: the command line. Parses arguments, reads files, prints, and
//! picks the exit code — the simulation itself lives in `rehearse-sim`.
//!
//! Exit codes: 0 success, 1 a check failed (an invariant was violated),
//! 2 bad input (unreadable or invalid files, bad arguments, a run that
//! cannot finish within its limits).

mod calibrate;
mod check;
mod cli;
mod estimate;
mod library;
mod load;
mod output;
mod render;
mod replay;
mod run;
mod sql;
mod validate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Run(a) => run::run(&a),
        cli::Command::Validate(a) => validate::validate(&a),
        cli::Command::Check(a) => check::check(&a),
        cli::Command::Estimate(a) => estimate::estimate(&a),
        cli::Command::Compare(a) => estimate::compare(&a),
        cli::Command::Replay(a) => replay::replay(&a),
        cli::Command::Calibrate(a) => calibrate::calibrate(&a),
        cli::Command::Sql(a) => sql::sql(&a),
        cli::Command::Readiness(a) => library::readiness(&a),
        cli::Command::Scenarios(a) => library::scenarios(&a),
        cli::Command::CodeUpgrade(a) => library::code_upgrade(&a),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`| head`) is not an error worth a word.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
