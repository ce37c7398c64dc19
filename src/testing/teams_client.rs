//! The "Teams client" side of the fake Bot Framework: Bot Framework tokens as the Connector
//! signs them (with knobs for every refusal: wrong issuer or audience, expired, unknown key,
//! `alg: none`, another `serviceurl`), and the activities Teams posts to `/teams/messages`
//! (personal and channel messages with the bot's @mention, `adaptiveCard/action` invokes),
//! built from the documented payloads.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::fake_teams::{FAKE_TEAMS_APP_ID, FAKE_TEAMS_TENANT, FakeTeams, lock};
use super::keys::KUBE_ISSUER_KEY;

/// Which key signs an inbound token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignWith {
    /// The key the fake currently signs with (published).
    Current,
    /// The published key endorsed only for `webchat`.
    Webchat,
    /// A key the fake never publishes.
    Unknown,
    /// No signature at all (`alg: none`).
    None,
}

/// The claims and key of one inbound token.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Key.
    pub sign: SignWith,
    /// `iss`.
    pub iss: String,
    /// `aud`.
    pub aud: String,
    /// `serviceurl` (`None`: left out).
    pub serviceurl: Option<String>,
    /// `nbf` relative to the clock, seconds.
    pub nbf: i64,
    /// `exp` relative to the clock, seconds.
    pub exp: i64,
}

/// A Teams user.
#[derive(Debug, Clone)]
pub struct TeamsUser {
    /// `from.aadObjectId` (the policy's `object_id`).
    pub oid: String,
    /// `from.id` (`29:…`).
    pub mri: String,
    /// Display name.
    pub name: String,
}

impl TeamsUser {
    /// A user named `name` with Entra object id `oid`.
    pub fn new(name: &str, oid: &str) -> Self {
        Self { oid: oid.into(), mri: format!("29:1{name}-mri"), name: name.into() }
    }
}

impl FakeTeams {
    /// A valid token for activities from this fake's Connector.
    pub fn token_spec(&self) -> TokenSpec {
        TokenSpec {
            sign: SignWith::Current,
            iss: "https://api.botframework.com".into(),
            aud: FAKE_TEAMS_APP_ID.into(),
            serviceurl: Some(self.service_url()),
            nbf: -10,
            exp: 3590,
        }
    }

    /// Signs `spec` as a Bot Framework token.
    pub fn token(&self, spec: &TokenSpec) -> String {
        let now = self.clock.now().timestamp();
        let mut claims =
            json!({"iss": spec.iss, "aud": spec.aud, "nbf": now + spec.nbf, "exp": now + spec.exp});
        if let Some(url) = &spec.serviceurl {
            claims["serviceurl"] = json!(url);
        }
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let (kid, key) = {
            let s = lock(&self.inner);
            match spec.sign {
                SignWith::Current => (s.keys[s.signing].0.clone(), s.keys[s.signing].1.clone()),
                SignWith::Webchat => (s.keys[2].0.clone(), s.keys[2].1.clone()),
                SignWith::Unknown => (
                    "bf-key-unknown".to_owned(),
                    EncodingKey::from_rsa_pem(KUBE_ISSUER_KEY.as_bytes())
                        .unwrap_or_else(|e| panic!("key: {e}")),
                ),
                SignWith::None => {
                    return format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims));
                }
            }
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.clone());
        header.x5t = Some(kid);
        jsonwebtoken::encode(&header, &claims, &key).unwrap_or_default()
    }

    /// A message in the user's personal chat with the bot.
    pub fn personal_message(&self, user: &TeamsUser, id: &str, text: &str) -> Value {
        json!({
            "type": "message", "id": id, "timestamp": "2026-01-01T00:00:00.000Z",
            "serviceUrl": self.service_url(), "channelId": "msteams",
            "from": {"id": user.mri, "name": user.name, "aadObjectId": user.oid},
            "conversation": {"conversationType": "personal", "tenantId": FAKE_TEAMS_TENANT,
                             "id": format!("a:personal-{}", user.mri)},
            "recipient": {"id": format!("28:{FAKE_TEAMS_APP_ID}"), "name": "pimbot"},
            "textFormat": "plain", "text": text,
            "entities": [{"type": "clientInfo", "locale": "en-US", "platform": "Web"}],
            "channelData": {"tenant": {"id": FAKE_TEAMS_TENANT}}, "locale": "en-US"
        })
    }

    /// A message in a channel that @mentions the bot.
    pub fn channel_message(&self, user: &TeamsUser, channel: &str, id: &str, text: &str) -> Value {
        json!({
            "type": "message", "id": id, "serviceUrl": self.service_url(), "channelId": "msteams",
            "from": {"id": user.mri, "name": user.name, "aadObjectId": user.oid},
            "conversation": {"isGroup": true, "conversationType": "channel", "tenantId": FAKE_TEAMS_TENANT,
                             "id": format!("{channel};messageid={id}")},
            "recipient": {"id": format!("28:{FAKE_TEAMS_APP_ID}"), "name": "pimbot"},
            "text": format!("<at>pimbot</at> {text}"),
            "entities": [{"type": "mention", "text": "<at>pimbot</at>",
                          "mentioned": {"id": format!("28:{FAKE_TEAMS_APP_ID}"), "name": "pimbot"}}],
            "channelData": {"channel": {"id": channel}, "team": {"id": "19:team@thread.tacv2"},
                            "tenant": {"id": FAKE_TEAMS_TENANT}}
        })
    }

    /// An `Action.Execute` click by `user` on the card `message`.
    pub fn invoke(
        &self,
        user: &TeamsUser,
        id: &str,
        conversation: &str,
        reply_to: &str,
        verb: &str,
        data: Value,
    ) -> Value {
        let channel = conversation.split_once(";messageid=").map_or(conversation, |(c, _)| c);
        json!({
            "type": "invoke", "name": "adaptiveCard/action", "id": id,
            "serviceUrl": self.service_url(), "channelId": "msteams",
            "from": {"id": user.mri, "name": user.name, "aadObjectId": user.oid},
            "recipient": {"id": format!("28:{FAKE_TEAMS_APP_ID}"), "name": "pimbot"},
            "conversation": {"isGroup": true, "conversationType": "channel", "tenantId": FAKE_TEAMS_TENANT,
                             "id": conversation},
            "replyToId": reply_to,
            "channelData": {"channel": {"id": channel}, "tenant": {"id": FAKE_TEAMS_TENANT}},
            "value": {"action": {"type": "Action.Execute", "id": "", "verb": verb, "data": data}, "trigger": "manual"},
            "locale": "en-US"
        })
    }

    /// Posts `activity` to pimbot at `base` (`http://addr`) with `token`; returns the status
    /// and the JSON body (`Null` when empty).
    pub async fn deliver(&self, base: &str, activity: &Value, token: Option<&str>) -> (u16, Value) {
        let mut request = reqwest::Client::new().post(format!("{base}/teams/messages")).json(activity);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => panic!("posting to pimbot failed: {e}"),
        }
    }

    /// Posts `activity` with a valid token.
    pub async fn send(&self, base: &str, activity: &Value) -> (u16, Value) {
        let token = self.token(&self.token_spec());
        self.deliver(base, activity, Some(&token)).await
    }
}
