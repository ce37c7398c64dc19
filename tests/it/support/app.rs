//! `TestApp`: the real pimbot (HTTP server, service, outbox, sweeps) on `127.0.0.1:0` with a
//! manual clock, a fresh database on the chosen backend and a fake Slack workspace. Tests drive
//! it over signed HTTP and assert what the fake received.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use pimbot::app::{self, DiscordParts, Parts, Running, SlackParts};
use pimbot::core::ids::{Platform, RequestId};
use pimbot::core::ports::{Clock, Directory, ManualClock, Store};
use pimbot::core::request::AccessRequest;
use pimbot::demo::driver::{Reply, SlackDriver};
use pimbot::directory::StaticDirectory;
use pimbot::testing::{FAKE_APP_TOKEN, FakeMessage, FakeSlack, FakeSlackSocket};

use super::db::TestDb;
use super::discord::{self as dc, DiscordDriver};
use pimbot::testing::{FakeDiscord, FakeOidc};

/// Signing secret of the test workspace.
pub const SECRET: &str = "test-signing-secret";
/// Approver channel.
pub const APPROVERS: &str = "C0APPROVERS";
/// Feed channel.
pub const FEED: &str = "C0FEED";
/// Alert channel.
pub const ALERTS: &str = "C0ALERTS";

/// The policy every end-to-end test runs with. alice requests; carol and dave approve
/// global-admin; alice is in global-admin's approver list too, to prove she still cannot
/// approve her own request. user-admin needs two approvals. reader needs none.
pub const POLICY: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[slack]
signing_secret = "test-signing-secret"
bot_token = "xoxb-fake-pimbot-token"
approver_channel = "C0APPROVERS"
feed_channel = "C0FEED"
alert_channel = "C0ALERTS"

[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"
[[person]]
id = "bob"
upn = "bob@contoso.com"
slack = "U0BOB"
[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"
[[person]]
id = "dave"
upn = "dave@contoso.com"
slack = "U0DAVE"
[[person]]
id = "erin"
upn = "erin@contoso.com"
slack = "U0ERIN"

[[group]]
name = "ga-approvers"
members = ["carol", "dave"]

[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
# Chat-only identity: these tests are not about MFA (tests/it/identity*.rs are).
require_mfa = false
approver_mfa = false
min_duration = "5m"
max_duration = "2h"
require_ticket = true
approvals_required = 1
approvers = ["@ga-approvers", "alice"]
disjoint_approvers = false
sla = "5m"
escalate_to = ["erin"]
request_ttl = "1h"
min_hold = "5m"
eligible = ["alice", "bob"]

[[role]]
key = "user-admin"
name = "User Administrator"
kind = "entra-role"
directory_id = "fe930be7-5e62-47db-91af-98c3a49a38b1"
tier = "high"
require_mfa = false
approvals_required = 2
approvers = ["carol", "dave", "erin"]
eligible = ["alice"]

[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
tier = "standard"
min_duration = "1s"
eligible = ["alice", "bob"]
"#;

/// Builds a custom directory from the app's clock (see [`TestApp::spawn_with_directory`]).
pub type MakeDirectory = Box<dyn FnOnce(Arc<ManualClock>) -> Arc<dyn Directory>>;

/// One running pimbot and everything around it.
pub struct TestApp {
    /// The running app.
    pub running: Running,
    /// The fake workspace.
    pub fake: FakeSlack,
    /// The app's clock.
    pub clock: Arc<ManualClock>,
    /// Sends signed requests.
    pub slack: SlackDriver,
    /// The static directory (records grant and revoke calls).
    pub directory: Arc<StaticDirectory>,
    /// The database.
    pub db: TestDb,
    /// The policy text `POST /admin/reload` re-reads (see [`TestApp::set_policy`]).
    pub policy_text: Arc<std::sync::Mutex<String>>,
    /// The fake Discord and the interaction driver, when started with Discord.
    pub discord: Option<(FakeDiscord, DiscordDriver)>,
    /// The fake Socket Mode endpoint, when started with Socket Mode.
    pub socket: Option<FakeSlackSocket>,
    /// The fake OpenID provider, when the policy has an `{oidc}` placeholder.
    pub oidc: Option<FakeOidc>,
    /// The fake Bot Framework, when started with Teams.
    pub teams: Option<pimbot::testing::FakeTeams>,
}

/// Bearer token of the test app's `POST /admin/reload`.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

impl TestApp {
    /// Starts pimbot on `db` with [`POLICY`].
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, POLICY).await
    }

    /// Starts pimbot on `db` with both Slack and Discord enabled (everyone has both ids).
    pub async fn spawn_with_discord(db: TestDb) -> Self {
        Self::spawn_with_discord_policy(db, &dc::policy()).await
    }

    /// [`TestApp::spawn_with_discord`] with a policy of the caller's (built on
    /// `support::discord::policy()`).
    pub async fn spawn_with_discord_policy(db: TestDb, policy: &str) -> Self {
        let fake = FakeDiscord::start().await;
        let parts = DiscordParts {
            application_id: pimbot::testing::discord_signing::APPLICATION_ID.into(),
            public_key: pimbot::testing::discord_signing::TEST_PUBLIC_KEY_HEX.to_owned().into(),
            bot_token: fake.token().into(),
            api_url: fake.api_url(),
            channels: pimbot::app::channels(
                Platform::Discord,
                &Some(dc::APPROVERS.into()),
                &Some(dc::FEED.into()),
                &Some(dc::ALERTS.into()),
            ),
        };
        let mut app =
            Self::spawn_inner(db, policy, Some(parts), None, false, super::teams::TeamsMode::Off).await;
        let driver = DiscordDriver::new(&format!("http://{}", app.running.addr), app.clock.clone());
        app.discord = Some((fake, driver));
        app
    }

    /// The fake Discord (panics unless started with [`TestApp::spawn_with_discord`]).
    pub fn fake_discord(&self) -> &FakeDiscord {
        &self.discord.as_ref().expect("started with Discord").0
    }

    /// Signs and posts a Discord interaction.
    pub async fn interact(&self, payload: &serde_json::Value) -> Reply {
        self.discord.as_ref().expect("started with Discord").1.send(payload).await
    }

    /// Starts pimbot on `db` with the given policy TOML.
    pub async fn spawn_with(db: TestDb, policy_toml: &str) -> Self {
        Self::spawn_inner(db, policy_toml, None, None, false, super::teams::TeamsMode::Off).await
    }

    /// Starts pimbot on `db` with [`POLICY`], Slack over Socket Mode (one connection) against
    /// a fake endpoint, and no Slack HTTP routes.
    pub async fn spawn_socket_mode(db: TestDb) -> Self {
        Self::spawn_inner(db, POLICY, None, None, true, super::teams::TeamsMode::Off).await
    }

    /// The fake Socket Mode endpoint (panics unless started with [`TestApp::spawn_socket_mode`]).
    pub fn socket(&self) -> &FakeSlackSocket {
        self.socket.as_ref().expect("started with Socket Mode")
    }

    /// Starts pimbot on `db` with the given policy TOML and, when given, a custom directory in
    /// place of the recording static one (`directory` then stays unused).
    pub async fn spawn_with_directory(db: TestDb, policy_toml: &str, make: Option<MakeDirectory>) -> Self {
        Self::spawn_inner(db, policy_toml, None, make, false, super::teams::TeamsMode::Off).await
    }

    /// Starts pimbot on `db` with Slack and a Teams bot against a fake Bot Framework
    /// (`support::teams`); the policy's people need `object_id`s.
    pub async fn spawn_with_teams(db: TestDb, policy_toml: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
        Self::spawn_inner(db, policy_toml, None, None, false, super::teams::TeamsMode::Bot).await
    }

    /// Starts pimbot on `db` with Slack and Teams in notification-only mode posting to `url`.
    pub async fn spawn_with_teams_webhook(db: TestDb, policy_toml: &str, url: &str) -> Self {
        Self::spawn_inner(
            db,
            policy_toml,
            None,
            None,
            false,
            super::teams::TeamsMode::Webhook(url.to_owned()),
        )
        .await
    }

    async fn spawn_inner(
        db: TestDb,
        policy_toml: &str,
        discord: Option<DiscordParts>,
        make: Option<MakeDirectory>,
        socket_mode: bool,
        teams: super::teams::TeamsMode,
    ) -> Self {
        let fake = FakeSlack::start().await;
        let socket = if socket_mode {
            let socket = FakeSlackSocket::start().await;
            fake.enable_socket_mode(FAKE_APP_TOKEN, &socket.url());
            Some(socket)
        } else {
            None
        };
        let inbound = match socket {
            Some(_) => app::SlackInbound::SocketMode(app::SocketModeParts {
                app_token: FAKE_APP_TOKEN.to_owned().into(),
                connections: 1,
            }),
            None => app::SlackInbound::Http { signing_secret: SECRET.to_owned().into() },
        };
        let clock = Arc::new(ManualClock::new(pimbot::core::audit::truncate_micros(Utc::now())));
        let listener = pimbot::http::serve::bind(([127, 0, 0, 1], 0).into()).expect("bind");
        let public_url = format!("http://{}", listener.local_addr().expect("address"));
        // `{oidc}` in the policy becomes an [oidc] section for a fake provider on this clock;
        // `{oidc_issuer}` and `{public_url}` let a test write its own section.
        let (policy_toml, oidc) = if policy_toml.contains("{oidc") {
            let fake = FakeOidc::start(clock.clone()).await;
            let text = policy_toml
                .replace("{oidc}", &fake.oidc_toml(&public_url))
                .replace("{oidc_issuer}", &fake.issuer())
                .replace("{public_url}", &public_url);
            (text, Some(fake))
        } else {
            (policy_toml.to_owned(), None)
        };
        let policy_toml = policy_toml.as_str();
        let (teams, teams_parts) = match teams {
            super::teams::TeamsMode::Bot => {
                let (fake, parts) = super::teams::start(clock.clone()).await;
                (Some(fake), Some(parts))
            }
            super::teams::TeamsMode::Webhook(url) => {
                let alert_tag = Some(pimbot::teams::render::Tag {
                    id: super::teams::ONCALL_TAG_ID.into(),
                    name: super::teams::ONCALL_TAG_NAME.into(),
                });
                (None, Some(app::TeamsParts::Webhook { url: url.into(), alert_tag }))
            }
            super::teams::TeamsMode::Off => (None, None),
        };
        let config = pimbot::config::from_toml_str(policy_toml).expect("test policy parses");
        let policy = config.validate(clock.now()).expect("test policy is valid");
        let directory = Arc::new(StaticDirectory::recording());
        let policy_text = Arc::new(std::sync::Mutex::new(policy_toml.to_owned()));
        let source_text = policy_text.clone();
        let source_clock = clock.clone();
        let source: pimbot::app::PolicySource = Arc::new(move || {
            let text = source_text.lock().map(|t| t.clone()).unwrap_or_default();
            let config = pimbot::config::from_toml_str(&text)?;
            config.validate(source_clock.now()).map_err(|e| anyhow::anyhow!("{e}"))
        });
        let chosen: Arc<dyn Directory> = match make {
            Some(make) => make(clock.clone()),
            None => directory.clone(),
        };
        let parts = Parts {
            store: db.store.clone(),
            directory: chosen,
            clock: clock.clone(),
            policy,
            slack: Some(SlackParts {
                inbound,
                bot_token: fake.token().into(),
                api_url: fake.api_url(),
                channels: pimbot::app::channels(
                    Platform::Slack,
                    &Some(APPROVERS.into()),
                    &Some(FEED.into()),
                    &Some(ALERTS.into()),
                ),
                lookup_by_email: config.lookup_by_email(),
            }),
            policy_source: Some(source),
            admin_token: Some(ADMIN_TOKEN.to_owned().into()),
            discord,
            teams: teams_parts,
            break_glass: app::BreakGlassParts::from_config(&config),
            oidc: app::OidcParts::from_config(&config).expect("oidc settings").map(with_test_audit_ring),
            oncall: pimbot::oncall::from_config(&config.oncall).expect("on-call settings"),
            sign_ins: None,
        };
        let running = app::start(parts, listener).await.expect("app starts");
        let slack = SlackDriver::new(
            format!("http://{}", running.addr),
            SECRET,
            clock.clone(),
            fake.response_url("C0CMD", "1"),
        );
        Self { running, fake, clock, slack, directory, db, policy_text, discord: None, socket, oidc, teams }
    }

    /// Replaces the policy text and asks the server to reload it over HTTP; returns the status.
    pub async fn set_policy(&self, toml: &str) -> u16 {
        *self.policy_text.lock().expect("policy lock") = toml.to_owned();
        reqwest::Client::new()
            .post(format!("http://{}/admin/reload", self.running.addr))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("reload request")
            .status()
            .as_u16()
    }

    /// Replaces the policy text and reloads it over HTTP; returns the status and the report.
    pub async fn reload(&self, toml: &str) -> (u16, String) {
        *self.policy_text.lock().expect("policy lock") = toml.to_owned();
        let resp = reqwest::Client::new()
            .post(format!("http://{}/admin/reload", self.running.addr))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("reload request");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.db.store
    }

    /// Moves the clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Runs sweeps and delivery until the outbox is empty and nothing moves.
    pub async fn settle(&self) {
        self.running.settle(StdDuration::from_secs(30)).await.expect("outbox drained and approvals granted");
    }

    /// `/pim activate …` by `user`; returns the reply and the id of the new request.
    pub async fn activate(&self, user: &str, text: &str) -> (Reply, RequestId) {
        let reply = self.slack.command(user, &format!("activate {text}")).await.expect("command");
        assert_eq!(reply.status, 200, "{reply:?}");
        let text = reply.text();
        let id = text.split('`').find(|w| w.starts_with("r-")).map(RequestId::from);
        let id = id.unwrap_or_else(|| panic!("no request id in reply: {text}"));
        (reply, id)
    }

    /// The approval card of a request as the fake workspace shows it now.
    pub fn card(&self, id: &RequestId) -> FakeMessage {
        self.fake
            .messages()
            .into_iter()
            .find(|m| {
                m.channel == APPROVERS && m.thread_ts.is_none() && m.blocks.to_string().contains(id.as_str())
            })
            .unwrap_or_else(|| panic!("no card for {id}"))
    }

    /// Clicks a button on a request's card.
    pub async fn click(&self, user: &str, action: &str, id: &RequestId) -> Reply {
        if !self.fake.messages().iter().any(|m| m.blocks.to_string().contains(id.as_str())) {
            self.settle().await;
        }
        let card = self.card(id);
        self.slack.click(user, action, id.as_str(), APPROVERS, &card.ts).await.expect("click")
    }

    /// The stored request.
    pub async fn request(&self, id: &RequestId) -> AccessRequest {
        self.store().request(id).await.expect("read").expect("request exists")
    }

    /// Messages posted to a channel (not threads), oldest first.
    pub fn channel(&self, channel: &str) -> Vec<FakeMessage> {
        self.fake.messages().into_iter().filter(|m| m.channel == channel && m.thread_ts.is_none()).collect()
    }

    /// Ephemeral messages shown to `user`.
    pub fn ephemerals(&self, user: &str) -> Vec<FakeMessage> {
        self.fake.messages().into_iter().filter(|m| m.ephemeral_for.as_deref() == Some(user)).collect()
    }

    /// Direct messages to `user`.
    pub fn dms(&self, user: &str) -> Vec<FakeMessage> {
        self.fake
            .messages()
            .into_iter()
            .filter(|m| m.channel == user || m.channel == format!("D{}", user.get(1..).unwrap_or_default()))
            .collect()
    }

    /// Stops the app.
    pub async fn stop(self) -> TestDb {
        self.running.stop().await;
        self.db
    }
}

/// Runs `f` on every backend, each with a fresh database and app, inside a timeout.
#[macro_export]
macro_rules! on_every_backend {
    ($body:expr) => {{
        for db in $crate::support::db::backends().await {
            let name = db.name;
            let app = $crate::support::app::TestApp::spawn(db).await;
            tokio::time::timeout(std::time::Duration::from_secs(60), $body(app))
                .await
                .unwrap_or_else(|_| panic!("timed out on {name}"));
        }
    }};
}

/// Unix seconds of a manual clock, for signing.
pub trait NowTs {
    /// The clock's current Unix time in seconds.
    fn now_ts(&self) -> i64;
}

impl NowTs for ManualClock {
    fn now_ts(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The web view verifies the chain with the key the test stores link with.
fn with_test_audit_ring(mut oidc: app::OidcParts) -> app::OidcParts {
    if let Some(ui) = &mut oidc.ui {
        ui.audit_ring = pimbot::testing::audit::test_ring();
    }
    oidc
}
