//! The real binary as operators run it: graceful exit on SIGTERM and SIGINT, secrets that never
//! reach the logs (even at debug level, even when calls fail), and a request id on the log
//! lines of a request's work.

use std::sync::Arc;
use std::time::Duration;

use pimbot::core::ports::{Clock, SystemClock};
use pimbot::demo::driver::SlackDriver;
use pimbot::testing::FakeSlack;

use crate::support::binary::{Binary, wait_until_ok};

const CANARY_SIGNING: &str = "canary-signing-5f0c1e";
const CANARY_BOT_TOKEN: &str = "xoxb-canary-bot-7a21d9";
const CANARY_DB_PASSWORD: &str = "canary-dbpw-93be44";
const CANARY_WEBHOOK: &str = "canary-webhook-2d8f61";

/// A minimal valid config; `{api_url}` and `{signing}` are filled in per test.
const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://{dir}/pimbot.db"
[slack]
signing_secret = "{signing}"
api_url = "{api_url}"
approver_channel = "C0APPROVERS"
feed_channel = "C0FEED"
alert_channel = "C0ALERTS"
[break_glass_monitor]
repage_every = "2m"
[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"
[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"
[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
require_mfa = false
approver_mfa = false
approvers = ["carol"]
eligible = ["alice"]
"#;

fn config(api_url: &str, signing: &str) -> String {
    CONFIG.replace("{api_url}", api_url).replace("{signing}", signing)
}

/// An address nothing listens on (bound, then released).
fn unused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    format!("http://127.0.0.1:{port}/api/")
}

async fn exits_cleanly_on(signal: &str) {
    let env = [("PIMBOT_SLACK_BOT_TOKEN", "xoxb-unused"), ("PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN", "unused")];
    let mut bin = Binary::serve(&config(&unused_url(), "unused-secret"), &env);
    wait_until_ok(&format!("{}/healthz", bin.url()), Duration::from_secs(10)).await;
    wait_until_ok(&format!("{}/readyz", bin.url()), Duration::from_secs(10)).await;
    bin.signal(signal);
    let status = tokio::task::spawn_blocking(move || {
        let status = bin.wait(Duration::from_secs(15));
        (status, bin.log())
    })
    .await
    .expect("wait task");
    let (status, log) = status;
    assert!(status.success(), "SIG{signal} should exit 0, got {status}; log: {log:#?}");
    assert!(log.iter().any(|l| l.contains("shutting down")), "shutdown is logged: {log:#?}");
}

#[tokio::test]
async fn sigterm_stops_the_binary_with_exit_code_zero() {
    exits_cleanly_on("TERM").await;
}

#[tokio::test]
async fn sigint_stops_the_binary_with_exit_code_zero() {
    exits_cleanly_on("INT").await;
}

/// `postgres://user@host/db` with a password added, on a fresh test database, when PostgreSQL
/// is configured (trust auth ignores the password, but pimbot still holds and could log it).
/// The guard drops the database at the end of the test.
async fn database_url_with_password() -> Option<(String, crate::support::db::DropDatabase)> {
    let url = crate::support::db::pg_url_for_new_db().await?;
    let guard = crate::support::db::DropDatabase(url.clone());
    let (scheme, rest) = url.split_once("://")?;
    let (user, host) = rest.split_once('@')?;
    Some((format!("{scheme}://{user}:{CANARY_DB_PASSWORD}@{host}"), guard))
}

#[tokio::test]
async fn secrets_never_reach_the_logs_and_request_logs_carry_the_request_id() {
    let fake = FakeSlack::start_with_token(CANARY_BOT_TOKEN).await;
    let (db_url, _drop_database) = database_url_with_password().await.unzip();
    let mut env = vec![
        ("PIMBOT_SLACK_BOT_TOKEN", CANARY_BOT_TOKEN),
        ("PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN", CANARY_WEBHOOK),
    ];
    if let Some(url) = &db_url {
        env.push(("PIMBOT_DATABASE_URL", url));
    }
    // The signing secret comes from the file, the others from the environment: both paths.
    let bin = Binary::serve(&config(&fake.api_url(), CANARY_SIGNING), &env);
    let base = bin.url();
    wait_until_ok(&format!("{base}/readyz"), Duration::from_secs(10)).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let slack =
        SlackDriver::new(base.clone(), CANARY_SIGNING, clock.clone(), fake.response_url("C0CMD", "1"));
    let forger = SlackDriver::new(base.clone(), "wrong-secret", clock, fake.response_url("C0CMD", "1"));

    assert_eq!(slack.command("U0ALICE", "help").await.expect("help").status, 200);
    assert_eq!(forger.command("U0ALICE", "help").await.expect("forged").status, 401);
    assert_eq!(slack.command("U0NOBODY", "roles").await.expect("stranger").status, 200);
    assert_eq!(slack.post("/slack/commands", "garbage=%%%".into()).await.expect("garbage").status, 400);
    // The card fails once for good-looking reasons (an auth error, then a 500), then goes out.
    fake.fail_with_error_next(1, "invalid_auth");
    let reply =
        slack.command("U0ALICE", "activate global-admin 1h #INC-1 canary run").await.expect("activate");
    assert_eq!(reply.status, 200, "{reply:?}");
    fake.fail_next(1, 500);
    slack.command("U0ALICE", "activate global-admin 2h #INC-2 second").await.expect("again");
    fake.wait_for("chat.postMessage", 1, Duration::from_secs(10)).await.expect("a post got through");
    let metrics = reqwest::get(format!("{base}/metrics")).await.expect("metrics").text().await.expect("body");

    bin.signal("TERM");
    let log = tokio::task::spawn_blocking(move || {
        let mut bin = bin;
        assert!(bin.wait(Duration::from_secs(15)).success());
        bin.log()
    })
    .await
    .expect("wait task");

    assert!(log.len() >= 10, "the run logged something: {log:#?}");
    assert!(log.iter().any(|l| l.contains("Slack")), "Slack failures were logged: {log:#?}");
    let mut secrets = vec![CANARY_SIGNING, CANARY_BOT_TOKEN, CANARY_WEBHOOK];
    if db_url.is_some() {
        secrets.push(CANARY_DB_PASSWORD);
    }
    for secret in &secrets {
        let leaked: Vec<&String> = log.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaked.is_empty(), "secret {secret} leaked into the log: {leaked:#?}");
        assert!(!metrics.contains(secret), "secret {secret} in /metrics");
    }

    // One access-log line per request at info, flat: method, route, status, latency, request id.
    let access: Vec<serde_json::Value> = log
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "pimbot::access")
        .collect();
    let forged = access
        .iter()
        .find(|v| v["route"] == "/slack/commands" && v["status"] == 401)
        .unwrap_or_else(|| panic!("the forged command has an access line: {access:#?}"));
    assert_eq!(forged["level"], "INFO");
    assert_eq!(forged["method"], "POST");
    assert!(forged["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{forged}");
    assert!(forged["request_id"].as_str().is_some_and(|id| id.len() >= 32), "{forged}");
    assert!(access.iter().any(|v| v["route"] == "/metrics" && v["status"] == 200), "{access:#?}");
    assert!(access.iter().any(|v| v["route"] == "/slack/commands" && v["status"] == 400), "{access:#?}");
    let ids: std::collections::HashSet<&str> =
        access.iter().filter_map(|v| v["request_id"].as_str()).collect();
    assert_eq!(ids.len(), access.len(), "one line per request, each with its own id");

    // A refusal logged while handling a request carries that request's id.
    let refusal = log
        .iter()
        .find(|l| l.contains("refused unsigned Slack request"))
        .unwrap_or_else(|| panic!("the forged request was logged: {log:#?}"));
    assert!(refusal.contains("\"request_id\":\""), "{refusal}");
}
