//! Lookup by Slack profile email (`[directory] lookup_by_email`): a Slack user not in the
//! policy whose email maps to an enabled Graph user may request roles PIM makes them eligible
//! for, never critical ones; disabled accounts are refused; with the key off nothing changes;
//! and such a person can never approve.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use pimbot::core::ports::Directory;
use pimbot::core::state::RequestState;
use pimbot::directory::graph::{GraphDirectory, GraphSettings, RetryPolicy};
use pimbot::testing::fake_graph::FakeUser;
use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind};

use crate::graph::{ALICE, GA, READER};
use crate::support::app::TestApp;
use crate::support::db::backends;

const DAVE: &str = "d0000000-0000-0000-0000-00000000000d";
const ERIN: &str = "e0000000-0000-0000-0000-00000000000e";

fn policy(fake: &FakeGraph, lookup: bool) -> String {
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
{directory}lookup_by_email = {lookup}
[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "{ALICE}"
slack = "U0ALICE"
[[person]]
id = "carol"
upn = "carol@contoso.com"
object_id = "c0000000-0000-0000-0000-00000000000c"
slack = "U0CAROL"

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
approvals_required = 1
approvers = ["carol"]
eligible = ["alice"]
"#,
        directory = fake.directory_toml("graph")
    )
}

/// Starts pimbot with a Graph directory; dave (enabled) and erin (disabled) exist in Graph,
/// both PIM-eligible for reader and global-admin, and have Slack profile emails.
async fn spawn(db: crate::support::db::TestDb, lookup: bool) -> (TestApp, FakeGraph) {
    let fake = FakeGraph::start().await;
    for (id, upn, enabled) in [(DAVE, "dave@contoso.com", true), (ERIN, "erin@contoso.com", false)] {
        fake.add_user(FakeUser { id: id.into(), upn: upn.into(), mail: upn.into(), enabled });
        for role in [READER, GA] {
            fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, id, role, "/"));
        }
    }
    fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, ALICE, READER, "/"));
    let toml = policy(&fake, lookup);
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
    app.fake.set_email("U0DAVE", "dave@contoso.com");
    app.fake.set_email("U0ERIN", "Erin@Contoso.com");
    app.fake.set_email("U0ALICE", "alice@contoso.com");
    (app, fake)
}

async fn on_every_backend<F, Fut>(lookup: bool, body: F)
where
    F: Fn(TestApp, FakeGraph) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let (app, fake) = spawn(db, lookup).await;
        tokio::time::timeout(StdDuration::from_secs(60), body(app, fake))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn a_stranger_matched_by_email_gets_a_graph_eligible_role_but_never_a_critical_one() {
    on_every_backend(true, |app: TestApp, fake: FakeGraph| async move {
        let roles = app.slack.command("U0DAVE", "roles").await.expect("roles").text();
        assert!(roles.contains("reader") && !roles.contains("global-admin"), "{roles}");

        let (_, id) = app.activate("U0DAVE", "reader 30m checking the audit logs").await;
        app.settle().await;
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Active);
        assert_eq!(request.requester.as_str(), "dave@contoso.com");
        assert_eq!(fake.assignments()[0].principal_id, DAVE);
        assert!(app.dms("U0DAVE").iter().any(|m| m.text.contains("You are now")), "{:?}", app.dms("U0DAVE"));

        // Graph says eligible, but a person found by email never gets a critical role.
        let refused = app
            .slack
            .command("U0DAVE", "activate global-admin 30m #INC-1 incident bridge")
            .await
            .expect("command");
        assert!(refused.text().contains("critical role"), "{}", refused.text());

        // Their status and early deactivation work like anyone's.
        let status = app.slack.command("U0DAVE", "status").await.expect("status").text();
        assert!(status.contains("reader"), "{status}");
        app.advance(chrono::Duration::minutes(6));
        let done = app.slack.command("U0DAVE", "deactivate reader").await.expect("deactivate");
        assert_eq!(done.status, 200, "{done:?}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Deactivated);
        app.stop().await;
        drop(fake);
    })
    .await;
}

#[tokio::test]
async fn disabled_accounts_and_unmatched_users_are_refused() {
    on_every_backend(true, |app: TestApp, fake: FakeGraph| async move {
        let disabled =
            app.slack.command("U0ERIN", "activate reader 30m checking logs").await.expect("command");
        assert!(disabled.text().contains("disabled"), "{}", disabled.text());
        // No email in the profile, or an email no directory user has.
        app.fake.set_email("U0FRANK", "frank@elsewhere.example");
        for user in ["U0NOEMAIL", "U0FRANK"] {
            let refused =
                app.slack.command(user, "activate reader 30m checking logs").await.expect("command");
            assert!(refused.text().contains("not known to pimbot"), "{user}: {}", refused.text());
        }
        app.stop().await;
        drop(fake);
    })
    .await;
}

#[tokio::test]
async fn without_the_key_a_stranger_is_refused_as_before() {
    on_every_backend(false, |app: TestApp, fake: FakeGraph| async move {
        let refused =
            app.slack.command("U0DAVE", "activate reader 30m checking logs").await.expect("command");
        assert!(refused.text().contains("not known to pimbot"), "{}", refused.text());
        assert!(app.fake.calls_to("users.info").is_empty());
        app.stop().await;
        drop(fake);
    })
    .await;
}

#[tokio::test]
async fn a_stranger_cannot_approve() {
    on_every_backend(true, |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0ALICE", "reader 30m checking the audit logs").await;
        app.settle().await;
        app.click("U0DAVE", "approve", &id).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Pending);
        assert!(app.request(&id).await.approvals.is_empty());
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        app.stop().await;
        drop(fake);
    })
    .await;
}

#[tokio::test]
async fn the_graph_directory_looks_users_up_by_upn() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser {
        id: DAVE.into(),
        upn: "dave@contoso.com".into(),
        mail: "d@x".into(),
        enabled: true,
    });
    let config = pimbot::config::from_toml_str(&policy(&fake, true)).expect("policy parses");
    let settings = GraphSettings::from_config(&config.directory).expect("graph settings");
    let clock = Arc::new(pimbot::core::ports::SystemClock);
    let directory = GraphDirectory::new(settings, clock).expect("graph directory");
    let found = directory.lookup_user("Dave@Contoso.com").await.expect("lookup").expect("found");
    assert_eq!(
        (found.object_id.as_str(), found.upn.as_str(), found.account_enabled),
        (DAVE, "dave@contoso.com", true)
    );
    assert_eq!(directory.lookup_user("nobody@contoso.com").await.expect("lookup"), None);
    assert_eq!(directory.lookup_user("not-an-email").await.expect("lookup"), None);
    let calls: Vec<_> = fake.calls().into_iter().filter(|c| c.path.contains("/users/")).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].method, "GET");
    assert!(calls[0].path.ends_with("/users/Dave@Contoso.com"), "{}", calls[0].path);
    assert_eq!(
        calls[0].query,
        vec![("$select".to_owned(), "id,userPrincipalName,accountEnabled".to_owned())]
    );
    assert_eq!(calls[1].status, 404);
}

#[tokio::test]
async fn a_stranger_is_told_when_their_request_times_out() {
    on_every_backend(true, |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0DAVE", "reader 30m checking the audit logs").await;
        app.settle().await;
        // Nobody decides: past the longest request lifetime the request times out.
        app.advance(chrono::Duration::hours(25));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::TimedOut);
        let dms = app.dms("U0DAVE");
        assert!(dms.iter().any(|m| m.text.contains("timed out")), "dave is told: {dms:?}");
        app.stop().await;
        drop(fake);
    })
    .await;
}
