//! `rehearse`: the command line. Parses arguments, reads files, prints, and
//! picks the exit code — the simulation itself lives in `rehearse-sim`.
//!
//! Exit codes: 0 success, 1 a check failed (an invariant was violated),
//! 2 bad input (unreadable or invalid files, bad arguments, a run that
//! cannot finish within its limits), 141 the reader of the output went
//! away before it was all written (`| head`), as for a program stopped by
//! SIGPIPE.

mod calibrate;
mod check;
mod cli;
mod estimate;
mod forecast;
mod library;
mod live;
mod load;
mod output;
mod render;
mod replay;
mod run;
mod shard;
mod sql;
mod table;
mod term;
mod track;
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
        // Colour only on a terminal, and never under NO_COLOR: a log piped to
        // a file or grep must not be full of escape codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && term::colour_allowed())
        .init();
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Run(a) => run::run(&a),
        cli::Command::Validate(a) => validate::validate(&a),
        cli::Command::Check(a) => check::check(&a),
        cli::Command::Estimate(a) => estimate::estimate(&a),
        cli::Command::Compare(a) => estimate::compare(&a),
        cli::Command::Merge(a) => shard::merge(&a),
        cli::Command::Replay(a) => replay::replay(&a),
        cli::Command::Calibrate(a) => calibrate::calibrate(&a),
        cli::Command::Sql(a) => sql::sql(&a),
        cli::Command::Track(a) => track::track(&a),
        cli::Command::Forecast(a) => forecast::forecast(&a),
        cli::Command::Live(a) => live::live(&a),
        cli::Command::Status(a) => live::status(&a),
        cli::Command::Readiness(a) => library::readiness(&a),
        cli::Command::Scenarios(a) => library::scenarios(&a),
        cli::Command::Init(a) => library::init(&a),
        cli::Command::CodeUpgrade(a) => library::code_upgrade(&a),
    };
    exit_code(result)
}

/// Exit status of a reader that went away: 128 + SIGPIPE, as a shell
/// reports for a program the signal stopped.
const BROKEN_PIPE: u8 = 141;

/// The exit code of a command's result. A reader that went away (`| head`)
/// is not worth a word, but it is not success either: the command's own
/// verdict (a corrupted store, a failed gate) was not all written, and
/// reporting 0 would pass it off as good in a pipeline.
fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if broken_pipe(&e) => ExitCode::from(BROKEN_PIPE),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    /// Output cut off by its reader is neither success nor bad input, even
    /// deep in an error's chain; other errors are bad input.
    #[test]
    fn a_reader_gone_away_is_not_success() {
        let gone = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(broken_pipe(&anyhow::Error::new(gone())));
        assert!(broken_pipe(&Err::<(), _>(gone()).context("writing the verdict").unwrap_err()));
        assert!(!broken_pipe(&anyhow::anyhow!("no such file")));
        assert_eq!(exit_code(Err(anyhow::Error::new(gone()))), ExitCode::from(BROKEN_PIPE));
        assert_eq!(exit_code(Err(anyhow::anyhow!("no such file"))), ExitCode::from(2));
        assert_eq!(exit_code(Ok(ExitCode::from(1))), ExitCode::from(1));
    }
}
