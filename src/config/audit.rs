//! `[audit]` (DESIGN.md §4b): the chain's keys from the environment, checkpoint cadence and the
//! `[[audit.sink]]` list; their checks; and [`AuditKeys`], the key material resolved once for
//! `serve` and the `audit` commands.
//!
//! Secrets never come from the file: `PIMBOT_AUDIT_KEY` (HMAC key of new records, at least 32
//! bytes, used as written), `PIMBOT_AUDIT_KEYS_OLD` (rotated-out keys, separated by commas or
//! line breaks, still accepted when verifying), `PIMBOT_AUDIT_SIGNING_KEY` (Ed25519 seed of the
//! checkpoints, 32 bytes as hex; derived from the audit key with HKDF when unset).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Duration;
use ed25519_dalek::VerifyingKey;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::validate::Problems;
use crate::core::audit_chain::{AuditKey, KeyRing, Linker};
use crate::core::checkpoint::CheckpointSigner;

/// The HMAC key of new audit records.
pub const ENV_AUDIT_KEY: &str = "PIMBOT_AUDIT_KEY";
/// Rotated-out HMAC keys, still accepted when verifying.
pub const ENV_AUDIT_KEYS_OLD: &str = "PIMBOT_AUDIT_KEYS_OLD";
/// The Ed25519 seed (hex) that signs checkpoints.
pub const ENV_AUDIT_SIGNING_KEY: &str = "PIMBOT_AUDIT_SIGNING_KEY";
/// Default: a checkpoint at least every this many events.
pub const DEFAULT_CHECKPOINT_EVENTS: u64 = 1000;
/// Default: a checkpoint at least this often while events arrive.
pub const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::minutes(10);
/// Default size at which a file sink starts a new file.
pub const DEFAULT_FILE_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Default number of rotated files a file sink keeps.
pub const DEFAULT_FILE_KEEP: u32 = 10;
/// Default number of lines per webhook POST.
pub const DEFAULT_WEBHOOK_BATCH: usize = 100;

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Sign a checkpoint after this many new events (default 1000).
    #[serde(default = "default_checkpoint_events")]
    pub checkpoint_events: u64,
    /// Sign a checkpoint at least this often while events arrive (default `10m`).
    #[serde(default = "default_checkpoint_every", deserialize_with = "super::file::human_duration")]
    pub checkpoint_every: Duration,
    /// Run without `PIMBOT_AUDIT_KEY`: the chain then only detects accidents. Without a key
    /// and without this explicit opt-out, `serve` refuses to start.
    #[serde(default)]
    pub unkeyed: bool,
    /// `[[audit.sink]]`: where events and checkpoints are streamed.
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkConfig>,
    /// `PIMBOT_AUDIT_KEY` (never read from the file).
    #[serde(skip)]
    pub key: Option<SecretString>,
    /// `PIMBOT_AUDIT_KEYS_OLD` (never read from the file).
    #[serde(skip)]
    pub old_keys: Option<SecretString>,
    /// `PIMBOT_AUDIT_SIGNING_KEY` (never read from the file).
    #[serde(skip)]
    pub signing_key: Option<SecretString>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_events: DEFAULT_CHECKPOINT_EVENTS,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            unkeyed: false,
            sinks: Vec::new(),
            key: None,
            old_keys: None,
            signing_key: None,
        }
    }
}

/// Kinds of audit sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// One JSON object per line on standard output (logs go to standard error).
    Stdout,
    /// Append-only JSON lines at `path`, rotated by size.
    File,
    /// HTTPS POST of JSON batches to `url`.
    Webhook,
}

impl SinkKind {
    /// The name used in config and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::File => "file",
            SinkKind::Webhook => "webhook",
        }
    }
}

/// `[[audit.sink]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `stdout`, `file` or `webhook`.
    pub kind: SinkKind,
    /// Name of the sink's cursor in the database (default: the kind). Renaming a sink starts it
    /// over from the first record.
    #[serde(default)]
    pub name: Option<String>,
    /// `file`: the JSON-lines file to append to.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `file`: start a new file once this one reaches this size (default 100 MiB).
    #[serde(default = "default_file_max_bytes")]
    pub max_bytes: u64,
    /// `file`: rotated files kept beside it, `path.1` newest (default 10).
    #[serde(default = "default_file_keep")]
    pub keep: u32,
    /// `webhook`: where batches are POSTed (`https://…`; `http://` only for loopback).
    #[serde(default)]
    pub url: Option<String>,
    /// `webhook`: lines per POST (default 100).
    #[serde(default = "default_webhook_batch")]
    pub batch: usize,
    /// `webhook`: name of an environment variable holding the `Authorization` header value
    /// (`Splunk <token>`, `Bearer <token>`).
    #[serde(default)]
    pub authorization_env: Option<String>,
}

impl SinkConfig {
    /// The cursor name.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.kind.as_str().to_owned())
    }
}

fn default_checkpoint_events() -> u64 {
    DEFAULT_CHECKPOINT_EVENTS
}

fn default_checkpoint_every() -> Duration {
    DEFAULT_CHECKPOINT_EVERY
}

fn default_file_max_bytes() -> u64 {
    DEFAULT_FILE_MAX_BYTES
}

fn default_file_keep() -> u32 {
    DEFAULT_FILE_KEEP
}

fn default_webhook_batch() -> usize {
    DEFAULT_WEBHOOK_BATCH
}

/// The audit key material, resolved and checked.
#[derive(Debug, Clone)]
pub struct AuditKeys {
    /// How new records are linked.
    pub linker: Linker,
    /// Every key accepted when verifying (current and old).
    pub ring: KeyRing,
    /// Signs checkpoints; `None` when there is neither an audit key nor a signing key.
    pub signer: Option<CheckpointSigner>,
    /// Public keys whose checkpoints are trusted: the signer's, and those derived from old keys.
    pub trusted: Vec<VerifyingKey>,
}

impl AuditConfig {
    /// Reads the secrets from `env` (non-empty values only).
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty()).map(SecretString::from);
        self.key = get(ENV_AUDIT_KEY).or(self.key.take());
        self.old_keys = get(ENV_AUDIT_KEYS_OLD).or(self.old_keys.take());
        self.signing_key = get(ENV_AUDIT_SIGNING_KEY).or(self.signing_key.take());
    }

    /// Resolves the keys. An error names the variable to fix.
    pub fn keys(&self) -> Result<AuditKeys, String> {
        let current = match &self.key {
            Some(k) => Some(Arc::new(
                AuditKey::new(k.expose_secret().as_bytes()).map_err(|e| format!("{ENV_AUDIT_KEY}: {e}"))?,
            )),
            None => None,
        };
        let mut old = Vec::new();
        if let Some(list) = &self.old_keys {
            for (i, k) in
                list.expose_secret().split([',', '\n']).map(str::trim).filter(|k| !k.is_empty()).enumerate()
            {
                old.push(Arc::new(
                    AuditKey::new(k.as_bytes())
                        .map_err(|e| format!("{ENV_AUDIT_KEYS_OLD} (key {}): {e}", i + 1))?,
                ));
            }
        }
        let signer = match (&self.signing_key, &current) {
            (Some(seed), _) => Some(
                CheckpointSigner::from_hex_seed(seed.expose_secret())
                    .map_err(|e| format!("{ENV_AUDIT_SIGNING_KEY}: {e}"))?,
            ),
            (None, Some(key)) => Some(CheckpointSigner::derived_from(key)),
            (None, None) => None,
        };
        let mut trusted: Vec<VerifyingKey> = signer.iter().map(CheckpointSigner::verifying_key).collect();
        trusted.extend(old.iter().map(|k| CheckpointSigner::derived_from(k).verifying_key()));
        let linker = current.clone().map_or(Linker::Unkeyed, Linker::Keyed);
        Ok(AuditKeys { linker, ring: KeyRing::new(current.into_iter().chain(old)), signer, trusted })
    }

    /// Whether `serve` may start: a key, or the explicit `unkeyed = true`.
    pub fn serve_allowed(&self) -> Result<(), String> {
        if self.key.is_some() || self.unkeyed {
            Ok(())
        } else {
            Err(format!(
                "no audit key: set {ENV_AUDIT_KEY} (at least 32 bytes, e.g. `openssl rand -hex 32`), or opt out \
                 explicitly with [audit] unkeyed = true (the chain then cannot stop an insider)"
            ))
        }
    }

    /// The cross-field checks of `[audit]`.
    pub(super) fn check(&self, p: &mut Problems) {
        if let Err(e) = self.keys() {
            p.push("audit", e);
        }
        if self.checkpoint_events == 0 {
            p.push("audit.checkpoint_events", "must be at least 1");
        }
        if self.checkpoint_every < Duration::seconds(1) {
            p.push("audit.checkpoint_every", "must be at least 1s");
        }
        let mut names = std::collections::HashSet::new();
        for (i, sink) in self.sinks.iter().enumerate() {
            let key = format!("audit.sink[{i}] ({})", sink.name());
            if !names.insert(sink.name()) {
                p.push(&key, "two sinks share this name; give one a different `name`");
            }
            match sink.kind {
                SinkKind::Stdout => {}
                SinkKind::File => {
                    if sink.path.as_ref().is_none_or(|p| p.as_os_str().is_empty()) {
                        p.push(&key, "a file sink needs `path`");
                    }
                    if sink.max_bytes < 1024 {
                        p.push(&key, "max_bytes must be at least 1024");
                    }
                }
                SinkKind::Webhook => match sink.url.as_deref().map(reqwest::Url::parse) {
                    None => p.push(&key, "a webhook sink needs `url`"),
                    Some(Err(e)) => p.push(&key, format!("url is not a URL: {e}")),
                    Some(Ok(url)) if url.scheme() == "https" => {}
                    Some(Ok(url)) if url.scheme() == "http" && is_loopback(&url) => {}
                    Some(Ok(_)) => {
                        p.push(&key, "url must be https:// (http:// only for a loopback collector)")
                    }
                },
            }
            if sink.kind == SinkKind::Webhook && sink.batch == 0 {
                p.push(&key, "batch must be at least 1");
            }
            if sink.kind != SinkKind::File && sink.path.is_some() {
                p.push(&key, "`path` is for file sinks only");
            }
            if sink.kind != SinkKind::Webhook && (sink.url.is_some() || sink.authorization_env.is_some()) {
                p.push(&key, "`url` and `authorization_env` are for webhook sinks only");
            }
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str, env: &[(&str, &str)]) -> AuditConfig {
        let mut config: AuditConfig = toml::from_str(toml).expect("parses");
        config.apply_env(&|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()));
        config
    }

    fn problems(config: &AuditConfig) -> Vec<String> {
        let mut p = Problems::default();
        config.check(&mut p);
        p.into_messages()
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_follow_the_contract_and_keys_come_only_from_the_environment() {
        let config = parse("", &[]);
        assert_eq!((config.checkpoint_events, config.checkpoint_every), (1000, Duration::minutes(10)));
        assert!(config.serve_allowed().is_err(), "no key and no opt-out");
        assert!(parse("unkeyed = true", &[]).serve_allowed().is_ok());
        assert!(toml::from_str::<AuditConfig>("key = \"in-the-file\"").is_err(), "never from the file");
        let keyed = parse("", &[(ENV_AUDIT_KEY, KEY)]);
        assert!(keyed.serve_allowed().is_ok());
        let keys = keyed.keys().expect("keys");
        assert!(matches!(keys.linker, Linker::Keyed(_)) && keys.signer.is_some());
        assert!(!format!("{keyed:?}").contains(KEY), "Debug redacts the key");
    }

    #[test]
    fn old_keys_and_the_signing_seed_are_read_and_checked() {
        let old = "fedcba9876543210fedcba9876543210";
        let config = parse("", &[(ENV_AUDIT_KEY, KEY), (ENV_AUDIT_KEYS_OLD, &format!("{old},\n{old}x"))]);
        let keys = config.keys().expect("keys");
        assert_eq!(keys.ring.ids().len(), 3);
        assert_eq!(keys.trusted.len(), 3, "the signer and one derived key per old key");
        let seeded = parse("", &[(ENV_AUDIT_KEY, KEY), (ENV_AUDIT_SIGNING_KEY, &"ab".repeat(32))]);
        let expected = CheckpointSigner::from_hex_seed(&"ab".repeat(32)).expect("seed").public_key_hex();
        assert_eq!(seeded.keys().expect("keys").signer.map(|s| s.public_key_hex()), Some(expected));
        for (var, value, says) in [
            (ENV_AUDIT_KEY, "short", "at least 32 bytes"),
            (ENV_AUDIT_KEYS_OLD, "short", "key 1"),
            (ENV_AUDIT_SIGNING_KEY, "abcd", "32 bytes"),
        ] {
            let mut env = vec![(ENV_AUDIT_KEY, KEY)];
            env.retain(|(k, _)| *k != var);
            env.push((var, value));
            let err = parse("", &env).keys().expect_err("refused");
            assert!(err.contains(var) && err.contains(says), "{err}");
        }
    }

    #[test]
    fn sink_settings_are_checked() {
        let bad = parse(
            r#"
checkpoint_events = 0
[[sink]]
kind = "file"
[[sink]]
kind = "webhook"
url = "http://collector.example.com/x"
[[sink]]
kind = "webhook"
name = "b"
[[sink]]
kind = "stdout"
path = "x"
[[sink]]
kind = "stdout"
"#,
            &[],
        );
        let found = problems(&bad).join("\n");
        for expected in [
            "checkpoint_events",
            "needs `path`",
            "must be https://",
            "needs `url`",
            "for file sinks only",
            "share this name",
        ] {
            assert!(found.contains(expected), "{expected}: {found}");
        }
        let good = parse(
            "[[sink]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9000/c\"\n[[sink]]\nkind = \"file\"\npath = \"a.jsonl\"\n",
            &[],
        );
        assert!(problems(&good).is_empty(), "{:?}", problems(&good));
        assert!(toml::from_str::<AuditConfig>("[[sink]]\nkind = \"syslog\"").is_err());
    }
}
