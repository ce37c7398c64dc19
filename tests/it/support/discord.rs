//! The Discord side of a `TestApp`: ids of the test people and channels, the fake Discord, and a
//! driver sending signed interactions to the running pimbot.

use std::sync::Arc;

use pimbot::core::ports::Clock;
use pimbot::demo::driver::Reply;
use pimbot::testing::discord_signing::signed_discord_headers;
use pimbot::testing::{DiscordMessage, FakeDiscord};
use serde_json::Value;

/// alice's Discord id.
pub const ALICE: &str = "100000000000000001";
/// bob's Discord id.
pub const BOB: &str = "100000000000000002";
/// carol's Discord id.
pub const CAROL: &str = "100000000000000003";
/// dave's Discord id.
pub const DAVE: &str = "100000000000000004";
/// erin's Discord id.
pub const ERIN: &str = "100000000000000005";
/// Discord approver channel.
pub const APPROVERS: &str = "200000000000000001";
/// Discord feed channel.
pub const FEED: &str = "200000000000000002";
/// Discord alert channel.
pub const ALERTS: &str = "200000000000000003";

/// [`super::app::POLICY`] with Discord ids for everyone and a `[discord]` section.
pub fn policy() -> String {
    let mut policy = super::app::POLICY.to_owned();
    for (slack, discord) in
        [("U0ALICE", ALICE), ("U0BOB", BOB), ("U0CAROL", CAROL), ("U0DAVE", DAVE), ("U0ERIN", ERIN)]
    {
        policy = policy.replace(
            &format!("slack = \"{slack}\"\n"),
            &format!("slack = \"{slack}\"\ndiscord = \"{discord}\"\n"),
        );
    }
    policy.replacen(
        "[[person]]",
        &format!(
            "[discord]\napplication_id = \"290926444748734465\"\npublic_key = \"{}\"\nbot_token = \"a.b.c\"\napprover_channel = \"{APPROVERS}\"\n\n[[person]]",
            pimbot::testing::discord_signing::TEST_PUBLIC_KEY_HEX
        ),
        1,
    )
}

/// Sends signed interactions to one pimbot.
pub struct DiscordDriver {
    url: String,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

impl DiscordDriver {
    /// A driver for the pimbot at `base`.
    pub fn new(base: &str, clock: Arc<dyn Clock>) -> Self {
        Self { url: format!("{base}/discord/interactions"), clock, http: reqwest::Client::new() }
    }

    /// Posts `body` with the given headers.
    pub async fn post_raw(&self, body: String, headers: Vec<(String, String)>) -> Reply {
        let mut req = self.http.post(&self.url).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.expect("pimbot answers");
        Reply { status: resp.status().as_u16(), body: resp.text().await.expect("body") }
    }

    /// Signs `payload` at the app clock's time and posts it.
    pub async fn send(&self, payload: &Value) -> Reply {
        let body = payload.to_string();
        let headers = signed_discord_headers(self.clock.now().timestamp(), &body);
        self.post_raw(body, headers).await
    }
}

/// The JSON of an interaction response.
pub fn response(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("not JSON: {reply:?}"))
}

/// The `data.content` of an ephemeral message response (asserting type 4 and flag 64).
pub fn ephemeral_text(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    let v = response(reply);
    assert_eq!(v["type"], 4, "a message response: {v}");
    assert_eq!(v["data"]["flags"], 64, "ephemeral: {v}");
    v["data"]["content"].as_str().unwrap_or_default().to_owned()
}

/// The approval card of `request` in the Discord approver channel.
pub fn card(fake: &FakeDiscord, request: &str) -> DiscordMessage {
    fake.channel(APPROVERS)
        .into_iter()
        .find(|m| m.reply_to.is_none() && m.embeds.to_string().contains(request))
        .unwrap_or_else(|| panic!("no Discord card for {request}: {:#?}", fake.messages()))
}
