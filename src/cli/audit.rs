//! `pimbot audit verify` and `pimbot audit export`.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::core::ports::Store;

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Check the hash chain; exits non-zero if any record was edited or deleted.
    Verify,
    /// Write the trail to standard output.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Only events newer than this (`7d`, `12h`).
        #[arg(long)]
        since: Option<String>,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header.
    Csv,
}

/// Runs one audit subcommand.
pub async fn run(store: &dyn Store, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCmd::Verify => match crate::storage::audit_export::verify(store).await {
            Ok(summary) => {
                println!("{summary}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("audit trail BROKEN: {e:#}");
                Ok(super::exit::code(super::exit::CHECK_FAILED))
            }
        },
        AuditCmd::Export { format, since } => {
            let since = since.as_deref().map(self::since).transpose()?;
            let records = store.audit_records(since).await?;
            let format = match format {
                Format::Jsonl => crate::storage::audit_export::ExportFormat::Jsonl,
                Format::Csv => crate::storage::audit_export::ExportFormat::Csv,
            };
            let mut out = std::io::stdout().lock();
            crate::storage::audit_export::export(&records, format, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `now - duration` for `--since 7d`; a bad or absurd duration is a usage error, never a panic.
pub fn since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let usage = |why: String| super::exit::UsageError(format!("--since: {why}"));
    let back = crate::core::duration::parse_duration(text).map_err(usage)?;
    chrono::Utc::now()
        .checked_sub_signed(back)
        .ok_or_else(|| usage(format!("`{text}` reaches before the calendar")).into())
}
