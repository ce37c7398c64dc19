//! The Bot Framework activity as pimbot reads it (a subset; real activities carry more fields,
//! which are ignored), and the command text of a message with the bot's @mention taken out
//! by its `mention` entity, never by guessing at the text.

use serde::Deserialize;
use serde_json::Value;

/// The channel id of Microsoft Teams.
pub const MSTEAMS: &str = "msteams";
/// The invoke name of an `Action.Execute` click.
pub const ADAPTIVE_CARD_ACTION: &str = "adaptiveCard/action";

/// An account (`from`, `recipient`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// `29:…` for users, `28:<app id>` for bots.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The user's Entra object id.
    #[serde(default)]
    pub aad_object_id: Option<String>,
}

/// `conversation`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// `a:…` (personal), `19:…@thread.tacv2;messageid=…` (channel thread), …
    #[serde(default)]
    pub id: String,
    /// `personal`, `groupChat` or `channel`.
    #[serde(default)]
    pub conversation_type: Option<String>,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// An `{ "id": … }` object of `channelData`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdOnly {
    /// The id.
    #[serde(default)]
    pub id: String,
}

/// `channelData` (Teams).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChannelData {
    /// The tenant the activity comes from.
    #[serde(default)]
    pub tenant: Option<IdOnly>,
    /// The channel, in channel conversations.
    #[serde(default)]
    pub channel: Option<IdOnly>,
}

/// One inbound activity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// `message`, `invoke`, `conversationUpdate`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Channel-assigned id (the de-duplication key: Teams resends slow turns).
    #[serde(default)]
    pub id: Option<String>,
    /// Where replies go.
    #[serde(default)]
    pub service_url: String,
    /// `msteams`.
    #[serde(default)]
    pub channel_id: String,
    /// The sender.
    #[serde(default)]
    pub from: Account,
    /// The bot.
    #[serde(default)]
    pub recipient: Account,
    /// The conversation.
    #[serde(default)]
    pub conversation: Conversation,
    /// Message text.
    #[serde(default)]
    pub text: Option<String>,
    /// Mentions and client info.
    #[serde(default)]
    pub entities: Vec<Value>,
    /// Teams' extras.
    #[serde(default)]
    pub channel_data: ChannelData,
    /// On a card action: the id of the message holding the card.
    #[serde(default)]
    pub reply_to_id: Option<String>,
    /// Invoke name.
    #[serde(default)]
    pub name: Option<String>,
    /// Invoke payload.
    #[serde(default)]
    pub value: Option<Value>,
}

impl Activity {
    /// The tenant, from `channelData.tenant.id` or `conversation.tenantId`.
    pub fn tenant(&self) -> Option<&str> {
        self.channel_data
            .tenant
            .as_ref()
            .map(|t| t.id.as_str())
            .or(self.conversation.tenant_id.as_deref())
            .filter(|t| !t.is_empty())
    }

    /// Whether this is a one-to-one chat with the bot.
    pub fn is_personal(&self) -> bool {
        self.conversation.conversation_type.as_deref() == Some("personal")
    }

    /// The message text with every @mention of the bot removed, trimmed; a leading `/pim` or
    /// `pim` is dropped too, so Slack habits work.
    pub fn command_text(&self) -> String {
        let mut text = self.text.clone().unwrap_or_default();
        for entity in &self.entities {
            let is_bot = entity.get("type").and_then(Value::as_str) == Some("mention")
                && entity.pointer("/mentioned/id").and_then(Value::as_str)
                    == Some(self.recipient.id.as_str());
            if let (true, Some(at)) = (is_bot, entity.get("text").and_then(Value::as_str)) {
                text = text.replace(at, " ");
            }
        }
        let text = text.replace("&nbsp;", " ");
        let text = text.trim();
        let text = text.strip_prefix("/pim").or_else(|| text.strip_prefix("pim ")).unwrap_or(text);
        text.trim().to_owned()
    }

    /// `value.action.verb` and `value.action.data` of an `adaptiveCard/action` invoke.
    pub fn action(&self) -> Option<(&str, &Value)> {
        let action = self.value.as_ref()?.get("action")?;
        Some((action.get("verb")?.as_str()?, action.get("data").unwrap_or(&Value::Null)))
    }

    /// The verb and data of an `Action.Submit` fallback: a message whose `value` holds the
    /// action's data with its `verb` and the card's inputs.
    pub fn submitted_action(&self) -> Option<(&str, &Value)> {
        let value = self.value.as_ref()?;
        Some((value.get("verb")?.as_str()?, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_bot_mention_is_removed_by_its_entity() {
        let activity: Activity = serde_json::from_value(json!({
            "type": "message",
            "text": "<at>pimbot</at> activate global-admin 1h #INC-4711 fix <at>Carol</at>",
            "recipient": {"id": "28:app", "name": "pimbot"},
            "entities": [
                {"type": "mention", "text": "<at>pimbot</at>", "mentioned": {"id": "28:app", "name": "pimbot"}},
                {"type": "mention", "text": "<at>Carol</at>", "mentioned": {"id": "29:carol", "name": "Carol"}},
                {"type": "clientInfo", "locale": "en-US"}
            ]
        }))
        .expect("activity");
        assert_eq!(activity.command_text(), "activate global-admin 1h #INC-4711 fix <at>Carol</at>");
        let plain: Activity =
            serde_json::from_value(json!({"type": "message", "text": " /pim status "})).expect("a");
        assert_eq!(plain.command_text(), "status");
    }
}
