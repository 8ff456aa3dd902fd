//! `cfsign`: sign Amazon CloudFront URLs and cookies. A thin binary over the
//! `cfsign` library: parse flags, validate them into a config, run.

mod cli;
mod commands;
#[cfg(unix)]
mod notify;
mod signing;

use std::process::ExitCode;

use clap::Parser as _;

use cli::{Cli, Command, EdgeCommand};

/// jemalloc on 64-bit Linux: musl's allocator costs `cfsign edge` about a fifth of its
/// requests/s against glibc's, and jemalloc is ahead of glibc's too (BENCHMARKS.md, "The
/// static binary" and issue 12), so both Linux builds use it; other platforms keep the
/// system allocator.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Url(a) => commands::url::run(a),
        Command::Cookies(a) => commands::cookies::run(a),
        Command::Policy(a) => commands::policy::run(a),
        Command::Keygen(a) => commands::keygen::run(a),
        Command::Quickstart(a) => commands::quickstart::run(a),
        Command::Verify(a) => match commands::verify::verify(a) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Explain(a) => match commands::verify::explain(a) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Inspect(a) => commands::verify::inspect(a),
        Command::Manifest(a) => commands::manifest::run(a),
        Command::Edge(a) => match &a.command {
            Some(EdgeCommand::Invalidate(i)) => match commands::invalidate::run(i) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            },
            None => commands::edge::run(a),
        },
        #[cfg(feature = "aws")]
        Command::Aws(a) => match commands::aws::run(a) {
            Ok(code) if code != 0 => return ExitCode::from(code),
            Ok(_) => Ok(()),
            Err(e) if commands::aws::is_aws_failure(&e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(commands::aws::AWS_FAILURE);
            }
            Err(e) => Err(e),
        },
        Command::Completions(a) => commands::docs::completions(a),
        Command::Manpages(a) => commands::docs::manpages(a),
        Command::Batch(a) => match commands::batch::run(a) {
            Ok(outcome) if outcome.failed > 0 => return ExitCode::from(1),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                // `cfsign batch ... | head`: the reader left; not an error.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
