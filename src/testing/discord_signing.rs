//! What Discord sends the bot, built the way Discord builds it: Ed25519 request signatures with
//! a fixed test key, and interaction payloads (PING, the `/pim` command, autocomplete, a button
//! click, a modal submission) in the documented shapes, including the `entitlements` and
//! `attachment_size_limit` fields serenity requires.

use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

/// Secret seed of the test key (RFC 8032 §7.1 TEST 1).
pub const TEST_SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The matching public key, as configured in `[discord] public_key`.
pub const TEST_PUBLIC_KEY_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/// Application id used in generated payloads.
pub const APPLICATION_ID: &str = "290926444748734465";
/// Guild id used in generated payloads.
pub const GUILD_ID: &str = "290926798626357999";
/// Channel a generated command is typed in.
pub const COMMAND_CHANNEL: &str = "645027906669510667";

static NEXT_ID: AtomicU64 = AtomicU64::new(846_462_639_134_605_312);

fn next_id() -> String {
    NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string()
}

fn key() -> SigningKey {
    let mut seed = [0u8; 32];
    if let Ok(bytes) = hex::decode(TEST_SEED_HEX) {
        seed.copy_from_slice(&bytes);
    }
    SigningKey::from_bytes(&seed)
}

/// Hex Ed25519 signature of `timestamp ‖ body` with the test key.
pub fn discord_signature(timestamp: &str, body: &str) -> String {
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body.as_bytes());
    hex::encode(key().sign(&message).to_bytes())
}

/// Headers of a signed interaction request: signature, timestamp and content type.
pub fn signed_discord_headers(timestamp: i64, body: &str) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    vec![
        ("x-signature-ed25519".into(), discord_signature(&ts, body)),
        ("x-signature-timestamp".into(), ts),
        ("content-type".into(), "application/json".into()),
    ]
}

/// A Discord user object.
pub fn user(id: &str) -> Value {
    json!({"id": id, "username": format!("user{id}"), "discriminator": "0", "global_name": null,
           "avatar": null, "public_flags": 0})
}

fn member(id: &str) -> Value {
    json!({"user": user(id), "roles": [], "premium_since": null, "permissions": "2147483647",
           "pending": false, "nick": null, "mute": false, "deaf": false, "flags": 0,
           "joined_at": "2017-03-13T19:19:14.040000+00:00"})
}

/// The fields every guild interaction of `kind` carries, as clicked by `user_id` in `channel`.
fn envelope(kind: u8, user_id: &str, channel: &str, data: Value) -> Value {
    json!({
        "id": next_id(), "application_id": APPLICATION_ID, "type": kind, "token": format!("itoken-{}", next_id()),
        "version": 1, "guild_id": GUILD_ID, "channel_id": channel,
        "channel": {"id": channel, "type": 0, "guild_id": GUILD_ID, "name": "pim"},
        "member": member(user_id), "locale": "en-US", "guild_locale": "en-US", "app_permissions": "442368",
        "entitlements": [], "attachment_size_limit": 26_214_400,
        "authorizing_integration_owners": {"0": GUILD_ID}, "context": 0, "data": data
    })
}

/// PING (type 1), as Discord sends it to validate the endpoint.
pub fn ping() -> Value {
    json!({"id": next_id(), "application_id": APPLICATION_ID, "type": 1,
           "token": "unique_interaction_token", "version": 1})
}

fn command_data(sub: &str, options: &[(&str, &str)], focused: Option<&str>) -> Value {
    let options: Vec<Value> = options
        .iter()
        .map(|(name, value)| {
            let mut o = json!({"type": 3, "name": name, "value": value});
            if focused == Some(*name) {
                o["focused"] = json!(true);
            }
            o
        })
        .collect();
    json!({"id": "771825006014889984", "name": "pim", "type": 1,
           "options": [{"type": 1, "name": sub, "options": options}]})
}

/// `/pim <sub>` with string options (type 2).
pub fn command(user_id: &str, sub: &str, options: &[(&str, &str)]) -> Value {
    envelope(2, user_id, COMMAND_CHANNEL, command_data(sub, options, None))
}

/// Autocomplete (type 4) while `focused` is being typed.
pub fn autocomplete(user_id: &str, sub: &str, options: &[(&str, &str)], focused: &str) -> Value {
    envelope(4, user_id, COMMAND_CHANNEL, command_data(sub, options, Some(focused)))
}

/// A button click (type 3) on `message_id` in `channel` with `custom_id`.
pub fn click(user_id: &str, custom_id: &str, channel: &str, message_id: &str) -> Value {
    let message = json!({
        "id": message_id, "channel_id": channel, "type": 0, "tts": false, "pinned": false,
        "timestamp": "2021-05-19T02:12:51.710000+00:00", "edited_timestamp": null,
        "mentions": [], "mention_roles": [], "mention_everyone": false, "flags": 0,
        "embeds": [], "attachments": [], "content": "card", "components": [],
        "author": user("1100000000000000001")
    });
    let mut v = envelope(3, user_id, channel, json!({"custom_id": custom_id, "component_type": 2}));
    v["message"] = message;
    v
}

/// A modal submission (type 5) of `custom_id` with text inputs `(custom_id, value)`.
pub fn modal_submit(user_id: &str, custom_id: &str, inputs: &[(&str, &str)]) -> Value {
    let rows: Vec<Value> = inputs
        .iter()
        .map(|(id, value)| json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]}))
        .collect();
    envelope(5, user_id, COMMAND_CHANNEL, json!({"custom_id": custom_id, "components": rows}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serenity::all::Interaction;

    #[test]
    fn the_test_key_matches_its_public_half_and_the_published_vector() {
        assert_eq!(hex::encode(key().verifying_key().to_bytes()), TEST_PUBLIC_KEY_HEX);
        assert!(discord_signature("1700000000", r#"{"type":1}"#).starts_with("1695961a47c91a1e"));
    }

    #[test]
    fn every_builder_parses_as_a_serenity_interaction() {
        let parse = |v: Value| serde_json::from_value::<Interaction>(v).expect("serenity parses it");
        assert!(matches!(parse(ping()), Interaction::Ping(_)));
        match parse(command("111", "activate", &[("role", "reader"), ("duration", "1h")])) {
            Interaction::Command(c) => assert_eq!(c.user.id.get(), 111),
            other => panic!("not a command: {other:?}"),
        }
        assert!(matches!(
            parse(autocomplete("111", "activate", &[("role", "re")], "role")),
            Interaction::Autocomplete(_)
        ));
        match parse(click("333", "approve:r-1", "9", "1200000000000000001")) {
            Interaction::Component(c) => {
                assert_eq!(c.data.custom_id, "approve:r-1");
                assert_eq!(c.user.id.get(), 333);
            }
            other => panic!("not a click: {other:?}"),
        }
        assert!(matches!(
            parse(modal_submit("333", "deny_reason:r-1", &[("reason", "no")])),
            Interaction::Modal(_)
        ));
    }
}
