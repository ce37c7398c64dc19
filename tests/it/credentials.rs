//! Passwordless credentials end to end, on every backend: Graph and ARM tokens obtained with a
//! certificate client assertion (RS256, `x5t`) and with a federated token (workload identity,
//! the file AKS projects), each verified by the fake token endpoint, and grants still made;
//! the sign-in's code exchange with a certificate instead of a secret.

use std::sync::Arc;

use chrono::Duration;
use pimbot::core::ports::Directory;
use pimbot::core::state::RequestState;
use pimbot::directory::graph::{GraphDirectory, GraphSettings};
use pimbot::testing::fake_client_auth::{ClientAuth, federated_token};
use pimbot::testing::{FakeGraph, FakeOidc, Scenario};

use crate::support::app::TestApp;
use crate::support::db::backends;

const READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const ALICE: &str = "071cc716-8147-4397-a5ba-b2105951cc0b";

fn policy(directory: &str, oidc: &str) -> String {
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
{directory}
{oidc}
[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "{ALICE}"
slack = "U0ALICE"
[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "{READER}"
tier = "standard"
min_duration = "1s"
eligible = ["alice"]
"#
    )
}

async fn grant_with(credential: &str, want: ClientAuth) {
    for db in backends().await {
        let fake = FakeGraph::start().await;
        let toml = policy(&fake.directory_toml_with("policy", credential), "");
        let config = pimbot::config::from_toml_str(&toml).expect("parses");
        config.validate(chrono::Utc::now()).expect("valid");
        let settings = GraphSettings::from_config(&config.directory).expect("settings");
        let make = Box::new(move |clock: Arc<pimbot::core::ports::ManualClock>| {
            Arc::new(GraphDirectory::new(settings, clock).expect("directory")) as Arc<dyn Directory>
        });
        let app = TestApp::spawn_with_directory(db, &toml, Some(make)).await;
        let (_, id) = app.activate("U0ALICE", "reader 30m check the sign-in logs").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active, "{credential}");
        let auths = fake.token_auths();
        assert!(!auths.is_empty() && auths.iter().all(|a| *a == want), "{credential}: {auths:?}");
        let granted = fake.accepted_requests();
        assert_eq!(granted.len(), 1, "{granted:?}");
        assert_eq!(granted[0].body["principalId"], ALICE);
        app.stop().await;
    }
}

#[tokio::test]
async fn graph_tokens_with_a_certificate_assertion() {
    let dir = tempfile::tempdir().expect("dir");
    let pem = dir.path().join("graph.pem");
    std::fs::write(&pem, pimbot::testing::keys::CLIENT_CERTIFICATE_PEM).expect("write pem");
    let lines = format!("credential = \"certificate\"\ncertificate_path = \"{}\"", pem.display());
    tokio::time::timeout(std::time::Duration::from_secs(90), grant_with(&lines, ClientAuth::Certificate))
        .await
        .expect("in time");
}

#[tokio::test]
async fn graph_tokens_with_a_federated_token_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, federated_token(chrono::Utc::now(), Duration::hours(1))).expect("write token");
    let lines = format!("credential = \"federated\"\nfederated_token_file = \"{}\"", file.display());
    tokio::time::timeout(std::time::Duration::from_secs(90), grant_with(&lines, ClientAuth::Federated))
        .await
        .expect("in time");
}

#[tokio::test]
async fn an_expired_federated_token_is_refused_by_the_token_endpoint() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, federated_token(chrono::Utc::now() - Duration::hours(3), Duration::hours(1)))
        .expect("write token");
    let fake = FakeGraph::start().await;
    let toml = policy(
        &fake.directory_toml_with(
            "policy",
            &format!("credential = \"federated\"\nfederated_token_file = \"{}\"", file.display()),
        ),
        "",
    );
    let config = pimbot::config::from_toml_str(&toml).expect("parses");
    let settings = GraphSettings::from_config(&config.directory).expect("settings");
    let clock = Arc::new(pimbot::core::ports::ManualClock::new(chrono::Utc::now()));
    let directory = GraphDirectory::new(settings, clock).expect("directory");
    let tokens = directory.client().tokens();
    let refused = tokens.token(pimbot::directory::graph::Audience::Graph).await;
    assert!(refused.is_err(), "an expired projected token must not buy a Graph token");
    // The kubelet writes a fresh one; the next request reads it.
    std::fs::write(&file, federated_token(chrono::Utc::now(), Duration::hours(1))).expect("write token");
    assert!(tokens.token(pimbot::directory::graph::Audience::Graph).await.is_ok());
    assert_eq!(fake.token_auths(), vec![ClientAuth::Federated]);
}

#[tokio::test]
async fn the_sign_in_exchanges_its_code_with_a_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let pem = dir.path().join("signin.pem");
    std::fs::write(&pem, pimbot::testing::keys::CLIENT_CERTIFICATE_PEM).expect("write pem");
    for db in backends().await {
        let oidc = format!(
            "[oidc]\nissuer = \"{{oidc_issuer}}\"\nclient_id = \"{}\"\ncertificate_path = \"{}\"\npublic_url = \"{{public_url}}\"\n",
            pimbot::testing::fake_oidc::FAKE_OIDC_CLIENT_ID,
            pem.display()
        );
        let app = TestApp::spawn_with(db, &policy("", &oidc)).await;
        let reply = app.slack.command("U0ALICE", "link").await.expect("link").text();
        let link = crate::support::identity::link_in(&reply);
        app.oidc.as_ref().expect("fake").push(Scenario::person(ALICE, "alice@contoso.com"));
        let page = FakeOidc::sign_in(&link).await.expect("browser");
        assert_eq!(page.status, 200, "{page:?}");
        assert!(crate::support::identity::stored_link(&app, "U0ALICE").await.is_some());
        app.stop().await;
    }
}
