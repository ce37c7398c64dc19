//! A `TestApp` whose directory is the real `GraphDirectory` against a fresh fake identity
//! platform + Graph + ARM, with a policy built for the grant-invariant tests, and the checks
//! those tests share: the fake's assignments against pimbot's active grants.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use pimbot::core::ports::{Directory, ManualClock, Store};
use pimbot::directory::graph::{GraphDirectory, GraphSettings, RetryPolicy};
use pimbot::testing::FakeGraph;

use super::app::TestApp;
use super::db::{TestDb, backends};

/// Entra role ids.
pub const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Global Reader.
pub const READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
/// Object ids.
pub const ALICE: &str = "071cc716-8147-4397-a5ba-b2105951cc0b";
/// bob.
pub const BOB: &str = "3cce9d87-3986-4f19-8335-7ed075408ca2";
/// carol.
pub const CAROL: &str = "c0000000-0000-0000-0000-00000000000c";
/// dave.
pub const DAVE: &str = "d0000000-0000-0000-0000-00000000000d";
/// erin (the revoker).
pub const ERIN: &str = "e0000000-0000-0000-0000-00000000000e";

/// What a test varies in the policy.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// `[directory] eligibility`.
    pub eligibility: &'static str,
    /// Extra lines in `[directory]`.
    pub directory: String,
    /// global-admin's `disjoint_approvers`.
    pub disjoint: bool,
    /// Extra tables at the end (`[[break_glass]]`).
    pub tail: String,
}

impl Default for Knobs {
    fn default() -> Self {
        Self { eligibility: "policy", directory: String::new(), disjoint: false, tail: String::new() }
    }
}

/// The policy: alice may request global-admin (1 approval by carol or dave) and reader (no
/// approval); bob reader only; erin is the only revoker.
pub fn policy(fake: &FakeGraph, knobs: &Knobs) -> String {
    format!(
        r#"
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
[security]
revokers = ["erin"]
{directory}{extra_directory}
[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "{ALICE}"
slack = "U0ALICE"
[[person]]
id = "bob"
upn = "bob@contoso.com"
object_id = "{BOB}"
slack = "U0BOB"
[[person]]
id = "carol"
upn = "carol@contoso.com"
object_id = "{CAROL}"
slack = "U0CAROL"
[[person]]
id = "dave"
upn = "dave@contoso.com"
object_id = "{DAVE}"
slack = "U0DAVE"
[[person]]
id = "erin"
upn = "erin@contoso.com"
object_id = "{ERIN}"
slack = "U0ERIN"

[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "{GA}"
tier = "critical"
require_mfa = false
approver_mfa = false
require_ticket = false
approvals_required = 1
approvers = ["carol", "dave"]
disjoint_approvers = {disjoint}
eligible = ["alice"]

[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "{READER}"
tier = "standard"
min_duration = "1m"
min_hold = "1s"
eligible = ["alice", "bob"]
{tail}"#,
        directory = fake.directory_toml(knobs.eligibility),
        extra_directory = knobs.directory,
        disjoint = knobs.disjoint,
        tail = knobs.tail,
    )
}

/// Starts pimbot on `db` with a `GraphDirectory` (short client backoff) as `toml` configures it.
pub async fn spawn(db: TestDb, toml: &str) -> TestApp {
    let config = pimbot::config::from_toml_str(toml).expect("policy parses");
    let mut settings = GraphSettings::from_config(&config.directory).expect("graph settings");
    settings.retry = RetryPolicy {
        min_delay: StdDuration::from_millis(20),
        max_delay: StdDuration::from_millis(100),
        ..RetryPolicy::default()
    };
    let make = Box::new(move |clock: Arc<ManualClock>| {
        Arc::new(GraphDirectory::new(settings, clock).expect("graph directory")) as Arc<dyn Directory>
    });
    TestApp::spawn_with_directory(db, toml, Some(make)).await
}

/// Runs `body` on every backend with a fresh fake and app built with `knobs`.
pub async fn on_every_backend<F, Fut>(knobs: Knobs, body: F)
where
    F: Fn(TestApp, FakeGraph) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let fake = FakeGraph::start().await;
        let app = spawn(db, &policy(&fake, &knobs)).await;
        tokio::time::timeout(StdDuration::from_secs(120), body(app, fake))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

/// `(principal, role definition)` of every assignment the fake holds, sorted.
pub fn fake_assignments(fake: &FakeGraph) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = fake
        .assignments()
        .into_iter()
        .map(|a| (a.principal_id.to_lowercase(), a.definition_id.to_lowercase()))
        .collect();
    all.sort();
    all
}

/// `(principal, role definition)` of every grant pimbot shows as active, sorted.
pub async fn active_grants(store: &Arc<dyn Store>) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = store
        .open_grants(1000)
        .await
        .expect("open grants")
        .into_iter()
        .filter(|g| g.is_active())
        .map(|g| {
            let t = g.target.expect("a grant made now records its target");
            (t.principal_id.unwrap_or_default().to_lowercase(), t.directory_id.to_lowercase())
        })
        .collect();
    all.sort();
    all
}

/// Polls until the directory and pimbot agree and nothing is being made or withdrawn (every
/// open grant confirmed), running sweeps and delivery meanwhile; panics after `within`.
pub async fn wait_for_agreement(app: &TestApp, fake: &FakeGraph, within: StdDuration) {
    let started = Instant::now();
    loop {
        let _ = app.running.settle(StdDuration::from_secs(10)).await;
        let settled = app.store().open_grants(1000).await.expect("grants").iter().all(|g| g.is_active());
        if settled && fake_assignments(fake) == active_grants(app.store()).await {
            return;
        }
        assert!(
            started.elapsed() < within,
            "the directory {:?} and pimbot's active grants {:?} never agreed",
            fake_assignments(fake),
            active_grants(app.store()).await
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// The audit kinds recorded so far, in order.
pub async fn audit_kinds(app: &TestApp) -> Vec<String> {
    app.store().audit_records(None).await.expect("audit").into_iter().map(|r| r.event.kind).collect()
}
