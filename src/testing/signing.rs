//! What Slack sends the bot, built the way Slack builds it: v0 request signatures and the
//! form bodies of slash commands, button clicks and modal submissions (documented shapes), and
//! the same payloads as JSON for Socket Mode envelopes.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Team id used in generated payloads.
pub const TEAM_ID: &str = "T0001";
/// Channel a generated slash command is typed in.
pub const COMMAND_CHANNEL: &str = "C2147483705";

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret.
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Headers of a signed Slack form request: signature, timestamp and content type.
pub fn signed_slack_headers(secret: &str, timestamp: i64, body: &str) -> Vec<(String, String)> {
    vec![
        ("x-slack-signature".into(), slack_signature(secret, timestamp, body)),
        ("x-slack-request-timestamp".into(), timestamp.to_string()),
        ("content-type".into(), "application/x-www-form-urlencoded".into()),
    ]
}

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

fn slash_command_fields(
    user_id: &str,
    text: &str,
    response_url: &str,
    trigger_id: &str,
) -> Vec<(String, String)> {
    let user_name = user_id.to_lowercase();
    [
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", TEAM_ID),
        ("team_domain", "example"),
        ("channel_id", COMMAND_CHANNEL),
        ("channel_name", "test"),
        ("user_id", user_id),
        ("user_name", &user_name),
        ("command", "/pim"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
        ("api_app_id", "A123456"),
        ("is_enterprise_install", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// A `/pim` slash-command body, field for field like Slack's documented example.
pub fn slash_command_form(user_id: &str, text: &str, response_url: &str, trigger_id: &str) -> String {
    serde_urlencoded::to_string(slash_command_fields(user_id, text, response_url, trigger_id))
        .unwrap_or_default()
}

/// The same slash command as the JSON `payload` of a Socket Mode `slash_commands` envelope.
pub fn slash_command_payload(user_id: &str, text: &str, response_url: &str, trigger_id: &str) -> Value {
    let fields = slash_command_fields(user_id, text, response_url, trigger_id);
    Value::Object(fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

fn payload_form(payload: &Value) -> String {
    form(&[("payload", &payload.to_string())])
}

/// A fresh trigger id, as Slack gives every command and interaction its own.
pub fn trigger_id() -> String {
    format!("{}.{}.{:032x}", rand::random::<u32>(), rand::random::<u32>(), rand::random::<u128>())
}

fn user(user_id: &str) -> Value {
    json!({"id": user_id, "username": user_id.to_lowercase(), "team_id": TEAM_ID})
}

/// A button click on a message (`block_actions`, container type `message`), as a form body.
pub fn block_action_form(
    user_id: &str,
    action_id: &str,
    value: &str,
    channel_id: &str,
    message_ts: &str,
    response_url: &str,
) -> String {
    payload_form(&block_action_payload(user_id, action_id, value, channel_id, message_ts, response_url))
}

/// The JSON of a button click: the `payload` form field, or a Socket Mode `interactive` payload.
pub fn block_action_payload(
    user_id: &str,
    action_id: &str,
    value: &str,
    channel_id: &str,
    message_ts: &str,
    response_url: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "example"},
        "user": user(user_id),
        "api_app_id": "A123456",
        "token": "9s8d9as89d8as9d8as989",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": false
        },
        "trigger_id": trigger_id(),
        "channel": {"id": channel_id, "name": "approvers"},
        "message": {"type": "message", "text": "PIM request", "user": "U0BOT", "ts": message_ts},
        "response_url": response_url,
        "actions": [{
            "action_id": action_id,
            "block_id": "pim_card_actions",
            "text": {"type": "plain_text", "text": action_id, "emoji": true},
            "value": value,
            "type": "button",
            "action_ts": "1700000001.000001"
        }]
    })
}

/// A modal submission (`view_submission`) as a form body; `values` is the
/// `view.state.values` map (`{block_id: {action_id: {type, value}}}`, see [`text_inputs`]).
pub fn view_submission_form(
    user_id: &str,
    callback_id: &str,
    private_metadata: &str,
    values: Value,
) -> String {
    payload_form(&view_submission_payload(user_id, callback_id, private_metadata, values))
}

/// The JSON of a modal submission (see [`view_submission_form`]).
pub fn view_submission_payload(
    user_id: &str,
    callback_id: &str,
    private_metadata: &str,
    values: Value,
) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "example"},
        "user": user(user_id),
        "api_app_id": "A123456",
        "token": "9s8d9as89d8as9d8as989",
        "trigger_id": trigger_id(),
        "view": {
            "id": "VNHU13V36",
            "team_id": TEAM_ID,
            "type": "modal",
            "title": {"type": "plain_text", "text": "pimbot"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": "156663117.cd33ad1f"
        }
    })
}

/// `state.values` for plain text inputs whose block id equals their action id.
pub fn text_inputs(fields: &[(&str, &str)]) -> Value {
    let map = fields
        .iter()
        .map(|(id, value)| ((*id).to_owned(), json!({ *id: {"type": "plain_text_input", "value": value} })))
        .collect();
    Value::Object(map)
}

/// One `state.values` entry for a static select (block id = action id = `id`).
pub fn static_select(id: &str, value: &str) -> (String, Value) {
    let option = json!({"text": {"type": "plain_text", "text": value}, "value": value});
    (id.to_owned(), json!({ id: {"type": "static_select", "selected_option": option} }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_morphism::prelude::*;

    const VECTOR_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    #[test]
    fn signature_matches_slacks_documented_vector() {
        assert_eq!(
            slack_signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, VECTOR_BODY),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
        let headers = signed_slack_headers("s", 1, "b");
        assert_eq!(headers[1], ("x-slack-request-timestamp".to_owned(), "1".to_owned()));
    }

    #[test]
    fn slash_command_form_parses_as_a_command_event() {
        let body = slash_command_form(
            "U0ALICE",
            "activate ga 1h #INC-1 fix & go",
            "http://127.0.0.1:9/hooks/c",
            "t.1",
        );
        let ev: SlackCommandEvent = serde_urlencoded::from_str(&body).expect("parses");
        assert_eq!(ev.user_id.0, "U0ALICE");
        assert_eq!(ev.command.0, "/pim");
        assert_eq!(ev.text.as_deref(), Some("activate ga 1h #INC-1 fix & go"));
        assert_eq!(ev.response_url.0.as_str(), "http://127.0.0.1:9/hooks/c");
        assert_eq!(ev.trigger_id.0, "t.1");
    }

    fn payload(body: &str) -> SlackInteractionEvent {
        let form: Vec<(String, String)> = serde_urlencoded::from_str(body).expect("form");
        assert_eq!(form.len(), 1);
        assert_eq!(form[0].0, "payload");
        serde_json::from_str(&form[0].1).expect("interaction parses")
    }

    #[test]
    fn block_action_form_parses_as_a_button_click() {
        let body =
            block_action_form("U0CAROL", "approve", "r-1", "C0APPROVERS", "1700000000.000100", "http://h/x");
        let SlackInteractionEvent::BlockActions(ev) = payload(&body) else { panic!("not block_actions") };
        assert_eq!(ev.user.map(|u| u.id.0).as_deref(), Some("U0CAROL"));
        let action = &ev.actions.expect("actions")[0];
        assert_eq!(action.action_id.0, "approve");
        assert_eq!(action.value.as_deref(), Some("r-1"));
        let SlackInteractionActionContainer::Message(c) = ev.container else {
            panic!("not a message container")
        };
        assert_eq!(c.message_ts.0, "1700000000.000100");
        assert_eq!(c.channel_id.map(|c| c.0).as_deref(), Some("C0APPROVERS"));
        assert_eq!(ev.response_url.map(|u| u.0.to_string()).as_deref(), Some("http://h/x"));
    }

    #[test]
    fn view_submission_form_parses_with_its_values() {
        let mut values = text_inputs(&[("duration", "1h"), ("justification", "fix <it>")]);
        let (k, v) = static_select("role", "global-admin");
        values[k] = v;
        let body = view_submission_form("U0ALICE", "activate", "r-9", values);
        let SlackInteractionEvent::ViewSubmission(ev) = payload(&body) else { panic!("not view_submission") };
        assert_eq!(ev.user.id.0, "U0ALICE");
        let SlackView::Modal(modal) = &ev.view.view else { panic!("not a modal") };
        assert_eq!(modal.callback_id.as_ref().map(|c| c.0.as_str()), Some("activate"));
        assert_eq!(modal.private_metadata.as_deref(), Some("r-9"));
        let state = ev.view.state_params.state.expect("state");
        let get = |id: &str| state.values[&id.into()][&id.into()].clone();
        assert_eq!(get("duration").value.as_deref(), Some("1h"));
        assert_eq!(get("justification").value.as_deref(), Some("fix <it>"));
        assert_eq!(get("role").selected_option.map(|o| o.value).as_deref(), Some("global-admin"));
    }
}
