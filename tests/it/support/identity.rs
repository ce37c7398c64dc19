//! Shared by the identity tests: a policy with `[oidc]` against the fake Entra provider, and
//! helpers to pull links out of replies and check what the store holds.

use pimbot::core::identity::IdentityLink;
use pimbot::core::ids::ChatUser;
use pimbot::testing::{BrowserResult, FakeOidc, Scenario};

use super::app::TestApp;
use super::db::TestDb;

/// alice, carol and dave have object ids in the policy; bob has none (he must link); erin has
/// no chat id (her Slack account is found through her link). global-admin asks for the
/// authentication context `c1`; user-admin has none, so `amr` must say `mfa`.
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

{oidc}

[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "0a11ce00-0000-4000-8000-000000000001"
slack = "U0ALICE"
[[person]]
id = "bob"
upn = "bob@contoso.com"
slack = "U0BOB"
[[person]]
id = "carol"
upn = "carol@contoso.com"
object_id = "0ca20100-0000-4000-8000-000000000003"
slack = "U0CAROL"
[[person]]
id = "dave"
upn = "dave@contoso.com"
object_id = "0da7e000-0000-4000-8000-000000000004"
slack = "U0DAVE"
[[person]]
id = "erin"
upn = "erin@contoso.com"
object_id = "0e214000-0000-4000-8000-000000000005"

[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
require_ticket = false
approvals_required = 1
approvers = ["carol", "dave", "alice"]
disjoint_approvers = false
auth_context = "c1"
eligible = ["alice", "bob", "erin"]

[[role]]
key = "user-admin"
name = "User Administrator"
kind = "entra-role"
directory_id = "fe930be7-5e62-47db-91af-98c3a49a38b1"
tier = "high"
approvals_required = 1
approvers = ["carol", "dave"]
eligible = ["alice"]

[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
tier = "standard"
min_duration = "1s"
eligible = ["alice", "bob", "erin"]
"#;

/// Object ids of the policy's people.
pub const ALICE_OID: &str = "0a11ce00-0000-4000-8000-000000000001";
/// bob's directory account (not in the policy).
pub const BOB_OID: &str = "0b0b0000-0000-4000-8000-000000000002";
/// carol's.
pub const CAROL_OID: &str = "0ca20100-0000-4000-8000-000000000003";
/// erin's.
pub const ERIN_OID: &str = "0e214000-0000-4000-8000-000000000005";

/// Starts pimbot with [`POLICY`]; `extra` lines go into `[oidc]` (like `require_link = true`).
pub async fn spawn(db: TestDb, extra: &str) -> TestApp {
    TestApp::spawn_with(db, &POLICY.replace("{oidc}", &format!("{{oidc}}{extra}\n"))).await
}

/// The fake provider of an app started by [`spawn`].
pub fn idp(app: &TestApp) -> &FakeOidc {
    app.oidc.as_ref().expect("started with {oidc}")
}

/// The one-time link in a reply or message text.
pub fn link_in(text: &str) -> String {
    let start = text.find("http://").unwrap_or_else(|| panic!("no link in {text:?}"));
    let rest = &text[start..];
    let end = rest.find(['>', ' ', '\n', '|']).unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// `user` runs `/pim link`; returns the link.
pub async fn link_of(app: &TestApp, user: &str) -> String {
    let reply = app.slack.command(user, "link").await.expect("command");
    assert_eq!(reply.status, 200, "{reply:?}");
    link_in(&reply.text())
}

/// Opens `link` in the browser while `scenario` signs in at the provider.
pub async fn sign_in(app: &TestApp, link: &str, scenario: Scenario) -> BrowserResult {
    idp(app).push(scenario);
    FakeOidc::sign_in(link).await.expect("browser")
}

/// The stored link of a Slack user.
pub async fn stored_link(app: &TestApp, user: &str) -> Option<IdentityLink> {
    app.store().identity_link(&ChatUser::slack(user)).await.expect("read link")
}

/// Audit records of one kind, oldest first.
pub async fn audit_of(app: &TestApp, kind: &str) -> Vec<serde_json::Value> {
    app.store()
        .audit_records(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|r| r.event.kind == kind)
        .map(|r| r.event.detail)
        .collect()
}

/// Asserts that no audit detail holds anything shaped like a JWT.
pub async fn assert_no_token_in_audit(app: &TestApp) {
    for r in app.store().audit_records(None).await.expect("audit") {
        let text = r.event.detail.to_string();
        assert!(!text.contains("eyJ"), "audit {} holds a token: {text}", r.event.kind);
    }
}

/// Links `user` to `oid` through a full sign-in.
pub async fn linked(app: &TestApp, user: &str, oid: &str, name: &str) {
    let link = link_of(app, user).await;
    let page = sign_in(app, &link, Scenario::person(oid, name)).await;
    assert_eq!(page.status, 200, "{page:?}");
}
