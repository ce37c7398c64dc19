//! `pimbot check --online`: connects to everything a config names before traffic arrives and
//! says, for each thing, either what it found or one plain sentence with the fix.
//!
//! - `database`: reachable, and its migration level against this binary's migrations.
//! - `slack`: `auth.test` with the bot token, `apps.connections.open` with the app token in
//!   Socket Mode, and `conversations.info` of the three channels (the bot must be a member).
//! - `discord`: `GET /users/@me` with the bot token and `GET /channels/{id}` of the channels.
//! - `graph`: a token for Graph (and ARM when a role is an Azure role), then one read per
//!   permission the configured roles and features need.
//!
//! Read-only: nothing is created, migrated, posted or granted. Every call has a short timeout.

mod chat;
mod database;
mod graph;

use std::time::Duration;

/// How long any one online check may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

use crate::config::Config;
use crate::core::policy::Policy;

/// The outcome of one online check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`database`, `slack bot token`, `slack channel C0FEED`).
    pub subject: String,
    /// `Ok(what was found)` or `Err(one sentence: what is wrong and how to fix it)`.
    pub outcome: Result<String, String>,
}

impl Check {
    /// A passed check.
    pub fn ok(subject: impl Into<String>, found: impl Into<String>) -> Self {
        Self { subject: subject.into(), outcome: Ok(found.into()) }
    }

    /// A failed check.
    pub fn fail(subject: impl Into<String>, sentence: impl Into<String>) -> Self {
        Self { subject: subject.into(), outcome: Err(sentence.into()) }
    }
}

/// Every online check, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report(pub Vec<Check>);

impl Report {
    /// One line per check: `ok    subject: found` or `FAIL  subject: sentence`.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|c| match &c.outcome {
                Ok(found) => format!("ok    {}: {found}", c.subject),
                Err(sentence) => format!("FAIL  {}: {sentence}", c.subject),
            })
            .collect()
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.failures() > 0
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.0.iter().filter(|c| c.outcome.is_err()).count()
    }

    /// How many checks ran.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no check ran.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The failure sentence of the check about `subject`, if it failed.
    pub fn failure(&self, subject: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|c| c.subject == subject)
            .and_then(|c| c.outcome.as_ref().err())
            .map(String::as_str)
    }
}

/// Runs every online check the config calls for. Never fails as a whole: each problem is one
/// failed [`Check`].
pub async fn run(config: &Config, policy: &Policy) -> Report {
    let mut report = Report::default();
    report.0.push(database::check(config).await);
    if let Some(slack) = config.slack() {
        report.0.extend(chat::slack(slack).await);
    }
    if let Some(discord) = config.discord() {
        report.0.extend(chat::discord(discord).await);
    }
    report.0.extend(graph::check(config, policy).await);
    report
}
