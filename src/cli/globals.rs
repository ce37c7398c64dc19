//! The flags every command shares (`--config`, `--database-url`), how commands load what they
//! need from them, and printing that treats a closed pipe as the end of the output.
//!
//! Commands that run the bot or need the policy load and validate the whole file
//! ([`Globals::load_valid`]); commands that only touch the database ([`Globals::database_url`])
//! need neither chat secrets nor a valid policy, and run with `--database-url` alone.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::exit::{InvalidConfig, Usage};
use crate::config::{self, Config};
use crate::core::policy::Policy;

/// The global flags, as parsed.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// `--config` / `PIMBOT_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--database-url` / `PIMBOT_DATABASE_URL`.
    pub database_url: Option<String>,
}

impl Globals {
    /// The config file path; a usage error when neither `--config` nor `PIMBOT_CONFIG` is given.
    pub fn config_path(&self) -> anyhow::Result<&Path> {
        self.config.as_deref().ok_or_else(|| {
            Usage("this command needs a config file: pass --config FILE or set PIMBOT_CONFIG".into()).into()
        })
    }

    /// Reads and parses the config file (no cross-field checks), with `--database-url` applied.
    /// An unreadable or unparsable file is an [`InvalidConfig`] error.
    pub fn load(&self) -> anyhow::Result<Config> {
        let path = self.config_path()?;
        let mut config = config::load(path).map_err(|e| InvalidConfig(format!("{e:#}")))?;
        if let Some(url) = self.database_url.as_ref().filter(|u| !u.trim().is_empty()) {
            config.database.url = Some(url.clone().into());
        }
        Ok(config)
    }

    /// The `[audit]` settings: the config file's when one is given, otherwise the defaults with
    /// the environment applied (`PIMBOT_AUDIT_KEY` …), so `audit` needs only the database.
    pub fn audit_config(&self) -> anyhow::Result<config::audit::AuditConfig> {
        if self.config.is_some() {
            return Ok(self.load()?.audit);
        }
        let mut audit = config::audit::AuditConfig::default();
        audit.apply_env(&|name| std::env::var(name).ok());
        Ok(audit)
    }

    /// [`Self::load`], then every startup check: the resolved policy, or an [`InvalidConfig`]
    /// error listing every problem.
    pub fn load_valid(&self) -> anyhow::Result<(Config, Policy)> {
        let config = self.load()?;
        let policy = config.validate(chrono::Utc::now()).map_err(|errors| {
            InvalidConfig(format!(
                "{} has problems:\n{errors}",
                self.config_path().map_or_else(|_| "the config".into(), |p| p.display().to_string())
            ))
        })?;
        Ok((config, policy))
    }

    /// [`Self::load`], then the policy checks alone (no chat secrets needed): for `posture`.
    pub fn load_policy(&self) -> anyhow::Result<(Config, Policy)> {
        let config = self.load()?;
        let policy = config.validate_policy(chrono::Utc::now()).map_err(|errors| {
            InvalidConfig(format!(
                "{} has problems:\n{errors}",
                self.config_path().map_or_else(|_| "the config".into(), |p| p.display().to_string())
            ))
        })?;
        Ok((config, policy))
    }

    /// The database URL for commands that only need the database: `--database-url` (or
    /// `PIMBOT_DATABASE_URL`) when given, otherwise `[database] url` of the config file, which
    /// is then only parsed (no chat secrets needed).
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = self.database_url.as_ref().filter(|u| !u.trim().is_empty()) {
            return Ok(url.clone());
        }
        if self.config.is_none() {
            return Err(Usage(
                "this command needs a database: pass --database-url URL, set PIMBOT_DATABASE_URL, or give --config FILE with [database] url".into(),
            )
            .into());
        }
        let config = self.load()?;
        let url = config.database_url().map(|s| s.expose_secret().to_owned());
        url.ok_or_else(|| {
            InvalidConfig("no database url: set [database] url, PIMBOT_DATABASE_URL or --database-url".into())
                .into()
        })
    }
}

/// Writes `text` and a newline to standard output. A closed pipe comes back as an
/// `io::Error` of kind `BrokenPipe`, which the command line treats as a quiet end (exit 0),
/// where `println!` would panic.
pub fn say(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}
