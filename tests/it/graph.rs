//! End-to-end over Slack with the Graph directory against the fake identity platform, Graph and
//! ARM: grants are PIM schedule requests with the documented bodies, expiry removes them,
//! throttling, outages and expired tokens are retried without duplicate assignments, a grant
//! that keeps failing fails loudly, eligibility can come from PIM, and reconciliation reports
//! standing access.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use pimbot::core::ports::Directory;
use pimbot::core::state::RequestState;
use pimbot::directory::graph::{GraphDirectory, GraphSettings, RetryPolicy};
use pimbot::testing::fake_graph::body_str;
use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind, GraphFault};

use crate::support::app::{ALERTS, TestApp};
use crate::support::db::backends;

pub const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
pub const GROUP: &str = "68e55cce-cf7e-4a2d-9046-3e4e75c4bfa7";
pub const SUB: &str = "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub const ALICE: &str = "071cc716-8147-4397-a5ba-b2105951cc0b";
pub const BOB: &str = "3cce9d87-3986-4f19-8335-7ed075408ca2";

pub const GLASS: &str = "bb000000-0000-0000-0000-0000000000bb";

fn policy(fake: &FakeGraph, eligibility: &str) -> String {
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
{directory}
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
object_id = "c0000000-0000-0000-0000-00000000000c"
slack = "U0CAROL"

[[break_glass]]
upn = "bg1@contoso.onmicrosoft.com"
object_id = "{GLASS}"

[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "{GA}"
tier = "critical"
require_mfa = false
approver_mfa = false
max_duration = "2h"
approvals_required = 1
approvers = ["carol"]
disjoint_approvers = false
eligible = ["alice"]

[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "{READER}"
tier = "standard"
eligible = ["alice", "bob"]

[[role]]
key = "ops-group"
name = "Ops on-call group"
kind = "group"
directory_id = "{GROUP}"
tier = "standard"
eligible = ["alice"]

[[role]]
key = "contributor"
name = "Contributor on prod"
kind = "azure-role"
directory_id = "{CONTRIBUTOR}"
scope = "{SUB}"
tier = "standard"
eligible = ["alice"]
"#,
        directory = fake.directory_toml(eligibility.trim_end_matches("+remove"))
            + if eligibility.ends_with("+remove") { "remove_unmanaged = true\n" } else { "" }
    )
}

/// Starts pimbot with a `GraphDirectory` (short backoff) pointed at a fresh fake.
async fn spawn(db: crate::support::db::TestDb, eligibility: &str) -> (TestApp, FakeGraph) {
    let fake = FakeGraph::start().await;
    let toml = policy(&fake, eligibility);
    let config = pimbot::config::from_toml_str(&toml).expect("policy parses");
    let mut settings = GraphSettings::from_config(&config.directory).expect("graph settings");
    settings.retry = RetryPolicy {
        min_delay: StdDuration::from_millis(20),
        max_delay: StdDuration::from_millis(100),
        ..RetryPolicy::default()
    };
    let make = Box::new(move |clock: Arc<pimbot::core::ports::ManualClock>| {
        Arc::new(GraphDirectory::new(settings, clock).expect("graph directory")) as Arc<dyn Directory>
    });
    let app = TestApp::spawn_with_directory(db, &toml, Some(make)).await;
    (app, fake)
}

/// Runs `body` on every backend with a fresh app and fake. `eligibility` is `policy` or
/// `graph`; a `+remove` suffix sets `remove_unmanaged = true`.
pub async fn on_every_backend_graph<F, Fut>(eligibility: &str, body: F)
where
    F: Fn(TestApp, FakeGraph) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let (app, fake) = spawn(db, eligibility).await;
        tokio::time::timeout(StdDuration::from_secs(60), body(app, fake))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

fn actions(fake: &FakeGraph) -> Vec<String> {
    fake.accepted_requests()
        .iter()
        .map(|c| {
            let a = body_str(&c.body, "action");
            if a.is_empty() { body_str(&c.body, "requestType").to_owned() } else { a.to_owned() }
        })
        .collect()
}

#[tokio::test]
async fn approval_assigns_through_pim_and_expiry_removes() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 30m #INC-4711 rotate leaked secret").await;
        app.settle().await;
        assert!(fake.accepted_requests().is_empty(), "nothing granted before approval");
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);

        let requests = fake.accepted_requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        let call = &requests[0];
        assert_eq!(call.path, "/graph/v1.0/roleManagement/directory/roleAssignmentScheduleRequests");
        let body = &call.body;
        assert_eq!(body["action"], "adminAssign");
        assert_eq!(body["principalId"], ALICE);
        assert_eq!(body["roleDefinitionId"], GA);
        assert_eq!(body["directoryScopeId"], "/");
        assert_eq!(body["justification"], "rotate leaked secret");
        assert_eq!(
            body["ticketInfo"],
            serde_json::json!({"ticketNumber": "INC-4711", "ticketSystem": "pimbot"})
        );
        assert_eq!(
            body["scheduleInfo"]["expiration"],
            serde_json::json!({"type": "afterDuration", "duration": "PT30M"})
        );
        assert!(body["scheduleInfo"]["startDateTime"].as_str().is_some_and(|s| s.ends_with('Z')));
        assert_eq!(fake.assignments().len(), 1);

        app.advance(Duration::minutes(31));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Expired);
        assert_eq!(actions(&fake), ["adminAssign", "adminRemove"]);
        let remove = &fake.accepted_requests()[1].body;
        assert_eq!(
            (remove["principalId"].as_str(), remove["roleDefinitionId"].as_str()),
            (Some(ALICE), Some(GA))
        );
        assert!(remove.get("scheduleInfo").is_none());
        assert!(fake.assignments().is_empty(), "assignment gone");
        assert_eq!(fake.tokens_issued(), 1, "one cached Graph token");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn groups_and_azure_roles_use_their_endpoints() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        let (_, group) = app.activate("U0ALICE", "ops-group 1h paging duty").await;
        let (_, azure) = app.activate("U0ALICE", "contributor 1h deploy hotfix").await;
        app.settle().await;
        assert_eq!(app.request(&group).await.state, RequestState::Active);
        assert_eq!(app.request(&azure).await.state, RequestState::Active);
        let calls = fake.accepted_requests();
        let g = calls.iter().find(|c| c.path.contains("privilegedAccess/group")).expect("group request");
        assert_eq!((g.body["accessId"].as_str(), g.body["groupId"].as_str()), (Some("member"), Some(GROUP)));
        assert_eq!(g.body["action"], "adminAssign");
        let arm = calls.iter().find(|c| c.method == "PUT").expect("ARM request");
        assert!(arm.path.starts_with(&format!(
            "/arm{SUB}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/"
        )));
        assert!(arm.query.contains(&("api-version".into(), "2020-10-01".into())));
        let props = &arm.body["properties"];
        assert_eq!(props["requestType"], "AdminAssign");
        assert_eq!(
            props["roleDefinitionId"],
            format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}")
        );
        assert_eq!(
            props["scheduleInfo"]["expiration"],
            serde_json::json!({"type": "AfterDuration", "duration": "PT1H"})
        );
        assert_eq!(fake.assignments().len(), 2);
        assert_eq!(fake.tokens_issued(), 2, "one token per audience");

        app.advance(Duration::minutes(61));
        app.settle().await;
        assert!(fake.assignments().is_empty(), "both removed: {:?}", fake.assignments());
        assert_eq!(app.request(&azure).await.state, RequestState::Expired);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn throttling_outages_and_expired_tokens_are_retried_once_each() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        fake.fail_next(1, GraphFault::Throttle(1));
        fake.fail_next(1, GraphFault::Unavailable);
        fake.fail_next(1, GraphFault::TokenExpired);
        let started = std::time::Instant::now();
        let (_, id) = app.activate("U0ALICE", "reader 30m audit review").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert!(started.elapsed() >= StdDuration::from_secs(1), "Retry-After honoured");
        let statuses: Vec<u16> = fake
            .calls()
            .iter()
            .filter(|c| c.method == "POST" && !c.path.starts_with("/login/"))
            .map(|c| c.status)
            .collect();
        assert_eq!(statuses, [429, 503, 401, 201]);
        assert_eq!(actions(&fake), ["adminAssign"], "exactly one assignment request accepted");
        assert_eq!(fake.assignments().len(), 1);
        assert_eq!(fake.tokens_issued(), 2, "the expired token was replaced once");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_repeated_or_extended_grant_extends_the_assignment() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        let (_, first) = app.activate("U0ALICE", "reader 30m audit review").await;
        app.settle().await;
        let end = fake.assignments()[0].end.expect("time-bound");
        app.advance(Duration::minutes(10));
        let (_, second) = app.activate("U0ALICE", "reader 1h audit takes longer").await;
        app.settle().await;
        assert_eq!(app.request(&second).await.state, RequestState::Active);
        assert_eq!(app.request(&first).await.state, RequestState::Superseded, "the extension took over");
        assert_eq!(actions(&fake), ["adminAssign", "adminExtend"]);
        let assignments = fake.assignments();
        assert_eq!(assignments.len(), 1, "extended, not stacked");
        assert_eq!(assignments[0].end.expect("end") - end, Duration::minutes(40));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_grant_that_keeps_failing_fails_the_request_loudly() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        fake.fail_next(usize::MAX, GraphFault::Unavailable);
        let (_, id) = app.activate("U0ALICE", "reader 30m audit review").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Approved, "transient: retried later");
        // Past `grant_retry_for` (15m by default), the next try is the last.
        app.advance(Duration::minutes(16));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Failed);
        let alerts = app.channel(ALERTS);
        assert!(
            alerts.iter().any(|m| m.text.contains("Grant FAILED") && m.text.contains(id.as_str())),
            "{alerts:?}"
        );
        let tries = fake
            .calls()
            .iter()
            .filter(|c| c.status == 503 && body_str(&c.body, "action") == "adminAssign")
            .count();
        assert_eq!(tries, 2 * RetryPolicy::default().max_tries, "two bounded tries, then it failed");
        assert!(fake.assignments().is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn eligibility_can_come_from_pim() {
    on_every_backend_graph("graph", |app: TestApp, fake: FakeGraph| async move {
        // bob is eligible for global-admin only in PIM; alice only in the policy file.
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, BOB, GA, "/"));
        let reply = app.slack.command("U0BOB", "roles").await.expect("roles");
        assert!(
            reply.text().contains("global-admin") && !reply.text().contains("reader"),
            "{}",
            reply.text()
        );
        let (_, id) = app.activate("U0BOB", "global-admin 30m #INC-1 incident bridge").await;
        app.settle().await;
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert_eq!(fake.assignments()[0].principal_id, BOB);

        let refused =
            app.slack.command("U0ALICE", "activate reader 30m policy says yes").await.expect("command");
        assert!(refused.text().contains("not eligible"), "{}", refused.text());

        // Removed from PIM: refused once the short cache has run out.
        fake.remove_eligibilities(BOB);
        app.advance(Duration::seconds(61));
        let refused =
            app.slack.command("U0BOB", "activate global-admin 30m #INC-2 again").await.expect("command");
        assert!(refused.text().contains("not eligible"), "{}", refused.text());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_callers_share_one_token_per_audience() {
    use pimbot::directory::graph::{Audience, TokenProvider};
    use pimbot::testing::fake_graph::{FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_TENANT};
    let fake = FakeGraph::start().await;
    let tokens = TokenProvider::new(
        reqwest::Client::new(),
        &fake.login_url(),
        FAKE_TENANT,
        FAKE_CLIENT_ID,
        pimbot::auth::credential::ClientCredential::Secret(FAKE_CLIENT_SECRET.to_owned().into()),
    );
    let graph = futures::future::join_all((0..8).map(|_| tokens.token(Audience::Graph))).await;
    let arm = futures::future::join_all((0..8).map(|_| tokens.token(Audience::Arm))).await;
    assert!(graph.iter().chain(arm.iter()).all(Result::is_ok));
    assert_eq!(fake.tokens_issued(), 2, "one refresh per audience");
    assert!(!format!("{tokens:?}").contains(FAKE_CLIENT_SECRET), "secret never in Debug output");

    let wrong = TokenProvider::new(
        reqwest::Client::new(),
        &fake.login_url(),
        FAKE_TENANT,
        FAKE_CLIENT_ID,
        pimbot::auth::credential::ClientCredential::Secret("nope".to_owned().into()),
    );
    let refused = wrong.token(Audience::Graph).await.expect_err("bad secret refused");
    assert!(refused.to_string().contains("invalid_client") && !refused.is_retryable(), "{refused}");
}
