//! Teams for the integration tests: the fake Bot Framework, the app's Teams settings pointing
//! at it, a policy whose people have Entra object ids, and helpers to find cards and replies.

use std::sync::Arc;

use pimbot::app::{TeamsBotParts, TeamsParts};
use pimbot::auth::credential::ClientCredential;
use pimbot::core::ids::Platform;
use pimbot::core::ports::Clock;
use pimbot::core::service::Channels;
use pimbot::teams::BotIdentity;
use pimbot::testing::{
    FAKE_TEAMS_APP_ID, FAKE_TEAMS_APP_PASSWORD, FAKE_TEAMS_TENANT, FakeTeams, TeamsMessage, TeamsUser,
};
use serde_json::Value;

use super::app::{POLICY, TestApp};

/// How a test app talks to Teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamsMode {
    /// Not at all.
    Off,
    /// A bot against the fake Bot Framework.
    Bot,
    /// Notification-only, to this Workflows webhook URL.
    Webhook(String),
}

/// Teams approver channel.
pub const APPROVERS: &str = "19:approvers@thread.tacv2";
/// Teams feed channel.
pub const FEED: &str = "19:feed@thread.tacv2";
/// Teams alert channel.
pub const ALERTS: &str = "19:alerts@thread.tacv2";

/// The alert channel's on-call tag id (`[teams] alert_tag`).
pub const ONCALL_TAG_ID: &str = "MjQzMmI1N2ItMGFiZC00M2RiLWFhN2ItMTZlYWRiMzg2YjMxIyNlYjJlZDg1Yy1mMDlmLTQ4OWUtOGY1Mi1iNjNmYTRlOTFkZjQjI3RhY29WU3Rh";
/// Its display name.
pub const ONCALL_TAG_NAME: &str = "SecOps on-call";

/// Entra object ids of the test people.
pub const OIDS: [(&str, &str); 5] = [
    ("alice", "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"),
    ("bob", "b130c271-d2eb-45f9-83ab-9eb3fe3788bc"),
    ("carol", "c4a7e2d1-0b3f-4c5e-9d6a-1f2e3d4c5b6a"),
    ("dave", "d5b8f3e2-1c4a-4d6f-8e7b-2a3f4e5d6c7b"),
    ("erin", "e6c9a4f3-2d5b-4e7a-9f8c-3b4a5f6e7d8c"),
];

/// The Teams user of a test person.
pub fn user(name: &str) -> TeamsUser {
    let oid = OIDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, o)| *o)
        .unwrap_or("00000000-0000-0000-0000-000000000000");
    TeamsUser::new(name, oid)
}

/// [`POLICY`] with every person's `object_id`.
pub fn policy() -> String {
    OIDS.iter().fold(POLICY.to_owned(), |p, (name, oid)| {
        p.replace(
            &format!("upn = \"{name}@contoso.com\"\n"),
            &format!("upn = \"{name}@contoso.com\"\nobject_id = \"{oid}\"\n"),
        )
    })
}

/// Starts the fake and the app's settings for it.
pub async fn start(clock: Arc<dyn Clock>) -> (FakeTeams, TeamsParts) {
    let fake = FakeTeams::start(clock).await;
    let parts = TeamsParts::Bot(Box::new(TeamsBotParts {
        bot: BotIdentity {
            app_id: FAKE_TEAMS_APP_ID.into(),
            tenant_id: FAKE_TEAMS_TENANT.into(),
            token_url: fake.token_url(),
            credential: ClientCredential::Secret(FAKE_TEAMS_APP_PASSWORD.to_owned().into()),
        },
        openid_metadata_url: fake.metadata_url(),
        service_url: fake.service_url(),
        channels: Channels {
            platform: Platform::Teams,
            approver: APPROVERS.into(),
            feed: FEED.into(),
            alert: ALERTS.into(),
        },
        alert_tag: Some(pimbot::teams::render::Tag {
            id: ONCALL_TAG_ID.into(),
            name: ONCALL_TAG_NAME.into(),
        }),
    }));
    (fake, parts)
}

impl TestApp {
    /// The fake Bot Framework (panics unless started with Teams).
    pub fn fake_teams(&self) -> &FakeTeams {
        self.teams.as_ref().expect("started with Teams")
    }

    /// Posts `activity` with a valid Bot Framework token.
    pub async fn teams_send(&self, activity: &Value) -> (u16, Value) {
        self.fake_teams().send(&format!("http://{}", self.running.addr), activity).await
    }

    /// Messages in a channel's threads (roots and replies), oldest first.
    pub fn teams_channel(&self, channel: &str) -> Vec<TeamsMessage> {
        let prefix = format!("{channel};messageid=");
        self.fake_teams().messages().into_iter().filter(|m| m.conversation.starts_with(&prefix)).collect()
    }

    /// Messages in a user's personal chat, oldest first.
    pub fn teams_dms(&self, name: &str) -> Vec<TeamsMessage> {
        let conversation = format!("a:personal-{}", user(name).mri);
        self.fake_teams().messages().into_iter().filter(|m| m.conversation == conversation).collect()
    }

    /// The Teams card of a request: the thread root in the approver channel naming it.
    pub fn teams_card(&self, id: &str) -> TeamsMessage {
        self.teams_channel(APPROVERS)
            .into_iter()
            .find(|m| {
                m.conversation.ends_with(&format!("messageid={}", m.id))
                    && m.activity.to_string().contains(id)
            })
            .unwrap_or_else(|| panic!("no Teams card for {id}"))
    }
}

/// The text of a message activity, or its card's JSON.
pub fn text_of(m: &TeamsMessage) -> String {
    m.activity["text"].as_str().map(str::to_owned).unwrap_or_else(|| m.activity["attachments"].to_string())
}
