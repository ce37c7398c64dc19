//! The `pimbot` binary: parses the command line, starts telemetry and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = pimbot::cli::Cli::parse();
    pimbot::telemetry::init(cli.log_format);
    pimbot::cli::run(cli).await
}
