//! `pimbot audit verify|export|pubkey`: check the keyed chain (against signed checkpoints),
//! stream the trail out, print the checkpoint public key. Keys come from the environment
//! (`config::audit`); the work is in `storage::audit_export`.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::exit;
use crate::config::Config;
use crate::config::audit::AuditConfig;
use crate::core::checkpoint::{Checkpoint, CheckpointTrail, SinkLine, public_key_from_hex};
use crate::storage::audit_export::{self, ExportFormat, ExportRequest, VerifyError};

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Check the keyed chain; exits 4 naming the first bad record if any record was edited,
    /// deleted or re-linked, or (with --checkpoints) if the chain was truncated, rolled back or
    /// rewritten after a signed checkpoint.
    Verify {
        /// JSON-lines file(s) with checkpoints as the audit sinks write them (other lines are
        /// skipped). Repeat for rotated files.
        #[arg(long)]
        checkpoints: Vec<PathBuf>,
        /// Trust checkpoints signed by this Ed25519 public key (hex) too, besides the ones
        /// derived from the configured keys. Repeatable.
        #[arg(long)]
        public_key: Vec<String>,
    },
    /// Stream the trail to standard output, page by page.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Only records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after_seq: i64,
        /// Only events newer than this (`7d`, `12h`).
        #[arg(long)]
        since: Option<String>,
        /// Keep running and write new records as they are appended (until SIGINT/SIGTERM).
        #[arg(long)]
        follow: bool,
    },
    /// Print the Ed25519 public key that verifies checkpoints (hex).
    Pubkey,
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
pub async fn run(audit: &AuditConfig, database_url: &str, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let keys = match audit.keys() {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::code(exit::INVALID_CONFIG));
        }
    };
    match cmd {
        AuditCmd::Pubkey => match &keys.signer {
            Some(signer) => {
                println!("{}", signer.public_key_hex());
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!(
                    "error: no checkpoint signing key: set {} or {}",
                    crate::config::audit::ENV_AUDIT_KEY,
                    crate::config::audit::ENV_AUDIT_SIGNING_KEY
                );
                Ok(exit::code(exit::INVALID_CONFIG))
            }
        },
        AuditCmd::Verify { checkpoints, public_key } => {
            let trail = if checkpoints.is_empty() {
                None
            } else {
                let mut trusted = keys.trusted.clone();
                for k in &public_key {
                    trusted.push(public_key_from_hex(k).map_err(anyhow::Error::msg).context("--public-key")?);
                }
                if trusted.is_empty() {
                    eprintln!(
                        "error: no key to check checkpoint signatures with: set {} or {}, or pass --public-key",
                        crate::config::audit::ENV_AUDIT_KEY,
                        crate::config::audit::ENV_AUDIT_SIGNING_KEY
                    );
                    return Ok(exit::code(exit::INVALID_CONFIG));
                }
                match read_checkpoints(&checkpoints, &trusted) {
                    Ok(trail) => Some(trail),
                    Err(e) => {
                        eprintln!("audit trail BROKEN: {e:#}");
                        return Ok(exit::code(exit::CHECK_FAILED));
                    }
                }
            };
            let store = crate::storage::connect(database_url).await?;
            match audit_export::verify(store.as_ref(), &keys.ring, trail).await {
                Ok(summary) => {
                    println!("{summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(VerifyError::Broken(b)) => {
                    eprintln!("audit trail BROKEN: first bad record {}: {b}", b.seq());
                    Ok(exit::code(exit::CHECK_FAILED))
                }
                Err(VerifyError::Failed(e)) => Err(e),
            }
        }
        AuditCmd::Export { format, after_seq, since, follow } => {
            let store = crate::storage::connect(database_url).await?;
            let follow = follow.then(|| {
                let stop = CancellationToken::new();
                tokio::spawn({
                    let stop = stop.clone();
                    async move {
                        super::serve::wait_for_signal().await;
                        stop.cancel();
                    }
                });
                stop
            });
            let request = ExportRequest {
                after_seq,
                since: since.map(|s| self::since(&s)).transpose()?,
                format: match format {
                    Format::Jsonl => ExportFormat::Jsonl,
                    Format::Csv => ExportFormat::Csv,
                },
                follow,
            };
            let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout());
            audit_export::export(store.as_ref(), request, &mut out).await?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads the checkpoint lines of `files`, each checked against `trusted`.
fn read_checkpoints(
    files: &[PathBuf],
    trusted: &[ed25519_dalek::VerifyingKey],
) -> anyhow::Result<CheckpointTrail> {
    let mut found: Vec<Checkpoint> = Vec::new();
    for path in files {
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            // Only checkpoint lines matter; event lines and anything else are skipped.
            if !line.contains("\"checkpoint\"") {
                continue;
            }
            let Ok(SinkLine::Checkpoint(cp)) = serde_json::from_str::<SinkLine>(&line) else { continue };
            cp.verify(trusted)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{} line {}", path.display(), n + 1))?;
            found.push(cp);
        }
    }
    if found.is_empty() {
        anyhow::bail!(
            "no checkpoint lines in {}",
            files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    CheckpointTrail::new(found).map_err(anyhow::Error::msg)
}

/// `now - duration` for `--since 7d`; a bad or absurd duration is a usage error, never a panic.
pub fn since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let usage = |why: String| super::exit::UsageError(format!("--since: {why}"));
    let back = crate::core::duration::parse_duration(text).map_err(usage)?;
    chrono::Utc::now()
        .checked_sub_signed(back)
        .ok_or_else(|| usage(format!("`{text}` reaches before the calendar")).into())
}

/// The store for a command that appends audit records (`reconcile`, `revoke`): linked with the
/// configured key like `serve`'s, so a CLI commit never writes an unkeyed record into a keyed
/// chain. Refused, like `serve`, without a key unless `[audit] unkeyed = true`.
pub(crate) async fn keyed_store(
    config: &Config,
) -> anyhow::Result<std::sync::Arc<dyn crate::core::ports::Store>> {
    config.audit.serve_allowed().map_err(anyhow::Error::msg)?;
    let keys = config.audit.keys().map_err(anyhow::Error::msg)?;
    crate::storage::connect_with(super::database_url(config)?, keys.linker).await
}
