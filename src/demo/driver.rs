//! Plays Slack's side of the conversation against a running pimbot: signed slash commands,
//! button clicks and modal submissions over real HTTP. Used by `pimbot demo` and the tests.

use std::sync::Arc;

use anyhow::Context;

use crate::core::ports::Clock;
use crate::testing::signing::{
    block_action_form, signed_slack_headers, slash_command_form, trigger_id, view_submission_form,
};

/// What pimbot answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl Reply {
    /// The `text` field of a JSON reply, or the raw body.
    pub fn text(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_else(|| self.body.clone())
    }
}

/// Sends signed Slack requests to one pimbot.
pub struct SlackDriver {
    base: String,
    secret: String,
    clock: Arc<dyn Clock>,
    response_url: String,
    http: reqwest::Client,
}

impl SlackDriver {
    /// A driver for the pimbot at `base` (`http://127.0.0.1:PORT`), signing with `secret` at the
    /// time `clock` says.
    pub fn new(base: String, secret: &str, clock: Arc<dyn Clock>, response_url: String) -> Self {
        Self { base, secret: secret.to_owned(), clock, response_url, http: reqwest::Client::new() }
    }

    /// `/pim <text>` typed by `user`.
    pub async fn command(&self, user: &str, text: &str) -> anyhow::Result<Reply> {
        let body = slash_command_form(user, text, &self.response_url, &trigger_id());
        self.post("/slack/commands", body).await
    }

    /// `user` clicks button `action` with `value` on the message `ts` in `channel`.
    pub async fn click(
        &self,
        user: &str,
        action: &str,
        value: &str,
        channel: &str,
        ts: &str,
    ) -> anyhow::Result<Reply> {
        let body = block_action_form(user, action, value, channel, ts, &self.response_url);
        self.post("/slack/interactions", body).await
    }

    /// `user` submits the modal `callback` with `values` (`view.state.values`).
    pub async fn submit(
        &self,
        user: &str,
        callback: &str,
        metadata: &str,
        values: serde_json::Value,
    ) -> anyhow::Result<Reply> {
        let body = view_submission_form(user, callback, metadata, values);
        self.post("/slack/interactions", body).await
    }

    /// Posts a correctly signed body to `path`.
    pub async fn post(&self, path: &str, body: String) -> anyhow::Result<Reply> {
        let headers = signed_slack_headers(&self.secret, self.clock.now().timestamp(), &body);
        self.post_with(path, body, &headers).await
    }

    /// Posts `body` to `path` with exactly these headers (for refusal tests).
    pub async fn post_with(
        &self,
        path: &str,
        body: String,
        headers: &[(String, String)],
    ) -> anyhow::Result<Reply> {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.context("reading the reply")?;
        Ok(Reply { status, body })
    }
}
