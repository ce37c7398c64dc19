//! The `pimbot` binary: parses the command line, starts telemetry and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = pimbot::cli::Cli::parse();
    // The demo prints a transcript; only warnings and errors should interrupt it.
    #[cfg(feature = "demo")]
    let default_level = if matches!(cli.command, pimbot::cli::Cmd::Demo { .. }) { "warn" } else { "info" };
    #[cfg(not(feature = "demo"))]
    let default_level = "info";
    pimbot::telemetry::init(cli.log_format, default_level);
    pimbot::cli::run(cli).await
}
