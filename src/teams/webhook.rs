//! Notification-only Teams (`[teams] webhook_url` without a bot): the feed and break-glass
//! alarms are posted as Adaptive Cards to a Teams Workflows webhook ("When a Teams webhook
//! request is received"). Nothing can be clicked there (no bot answers), so approval cards,
//! direct messages, card updates and thread replies are skipped, and alarms carry no
//! acknowledge form: acknowledge them on another platform.
//!
//! An open alarm cannot page the on-call tag here: Microsoft documents tag mentions for bots
//! only, and user mentions (not tags) for webhook cards, while the Workflows trigger answers
//! `202` before it posts, so a refused mention would lose the alarm silently. The card instead
//! says in bold that it must be acknowledged and names the on-call tag (`[teams] alert_tag`) in
//! plain text, without a mention entity.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::client::retry_after;
use super::render;
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutboxItem, PostedRef, Target};
use crate::core::ports::ChatSender;
use crate::core::view::MessageBody;

/// The feed's channel name in notification-only mode.
pub const WEBHOOK_FEED: &str = "webhook:feed";
/// The alert channel's name in notification-only mode.
pub const WEBHOOK_ALERT: &str = "webhook:alert";
/// The approver channel's name in notification-only mode (nothing is posted there).
pub const WEBHOOK_APPROVER: &str = "webhook:approver";

/// Posts feed lines and alarms to a Workflows webhook.
pub struct WebhookSender {
    http: reqwest::Client,
    url: SecretString,
    on_call: Option<render::Tag>,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSender")
    }
}

/// The Workflows envelope around one card.
pub fn envelope(card: Value) -> Value {
    json!({"type": "message", "attachments": [{
        "contentType": render::CARD_CONTENT_TYPE, "contentUrl": null, "content": card
    }]})
}

/// The card posted for `body`, or `None` for what a webhook cannot carry (approval cards). An
/// open alarm says that it must be acknowledged and, with `on_call`, names the on-call tag in
/// text (no mention entity: see the module's documentation).
pub fn webhook_card(body: &MessageBody, on_call: Option<&render::Tag>) -> Option<Value> {
    match body {
        MessageBody::Card(_) => None,
        MessageBody::Alarm(view) => {
            let mut card = render::alarm_card(view);
            if let Some(items) = card["body"].as_array_mut() {
                items.retain(|i| i["type"] != "ActionSet");
                if view.is_open() {
                    items.push(json!({"type": "TextBlock", "wrap": true, "weight": "Bolder",
                        "color": "Attention", "text": MUST_ACKNOWLEDGE}));
                    if let Some(tag) = on_call {
                        items.push(json!({"type": "TextBlock", "wrap": true, "text": format!(
                            "On call: {}. This post cannot @mention the tag; make sure they know.",
                            render::escape(&tag.name, 100)
                        )}));
                    }
                }
            }
            Some(card)
        }
        MessageBody::Notice(notice) => {
            let text = render::notice_activity(notice, &|id| id.to_owned())["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Some(json!({
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": render::CARD_VERSION,
                "body": [{"type": "TextBlock", "text": text, "wrap": true}],
            }))
        }
        // Reviews and renewals go to people and the approver channel, never to a webhook.
        MessageBody::Review(_) | MessageBody::Renewal(_) => None,
    }
}

/// What an open alarm's webhook card says about acknowledging it.
pub const MUST_ACKNOWLEDGE: &str = "This alarm must be acknowledged. Nothing can be clicked here: \
    acknowledge it with a reason in pimbot's alert channel on Slack or Discord. It pages again \
    until someone does.";

impl WebhookSender {
    /// A sender posting to `url`.
    pub fn new(url: SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("pimbot/", env!("CARGO_PKG_VERSION")))
            .timeout(super::client::CALL_TIMEOUT)
            .build()?;
        Ok(Self { http, url, on_call: None })
    }

    /// Names `tag` (`[teams] alert_tag`) as on call on open alarms.
    pub fn with_on_call(mut self, tag: Option<render::Tag>) -> Self {
        self.on_call = tag;
        self
    }
}

#[async_trait]
impl ChatSender for WebhookSender {
    fn platform(&self) -> Platform {
        Platform::Teams
    }

    async fn deliver(
        &self,
        item: &OutboxItem,
        _existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        let message = &item.message;
        let for_webhook = matches!(&message.target, Target::Channel { channel } if channel == WEBHOOK_FEED || channel == WEBHOOK_ALERT);
        let Some(card) = webhook_card(&message.body, self.on_call.as_ref()).filter(|_| for_webhook) else {
            return DeliveryOutcome::Sent(None);
        };
        let response = match self.http.post(self.url.expose_secret()).json(&envelope(card)).send().await {
            Ok(r) => r,
            Err(e) => {
                return DeliveryOutcome::RetryAt(
                    now + chrono::Duration::seconds(2),
                    format!("webhook: {}", e.without_url()),
                );
            }
        };
        let status = response.status();
        crate::metrics::chat_api_call(
            "teams",
            "webhook",
            &crate::metrics::http_status_label(status.as_u16()),
        );
        if status.is_success() {
            return DeliveryOutcome::Sent(None);
        }
        let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        match status.as_u16() {
            429 => {
                let wait = retry_after(retry.as_deref(), now).unwrap_or(std::time::Duration::from_secs(5));
                DeliveryOutcome::RetryAt(
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(5)),
                    "webhook rate limited".into(),
                )
            }
            s if s >= 500 => {
                DeliveryOutcome::RetryAt(now + chrono::Duration::seconds(2), format!("webhook HTTP {s}"))
            }
            s => DeliveryOutcome::Rejected(format!("webhook HTTP {s}")),
        }
    }
}
