//! `pimbot check --online` against the fakes: everything reachable passes (exit 0); each broken
//! piece fails with its own sentence naming the fix (exit 4), on SQLite and PostgreSQL.

use pimbot::testing::{FAKE_DISCORD_TOKEN, FakeDiscord, FakeGraph, FakeSlack};

use crate::cli::pimbot_with_env;
use crate::support::db;

/// A config naming every kind of thing the online check probes.
fn config(db_url: &str, slack: &FakeSlack, discord: &FakeDiscord, graph: &FakeGraph) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "{db_url}"
[slack]
signing_secret = "8f742231b10e8888abcd99yyyzzz85a5"
api_url = "{slack_url}"
approver_channel = "C0APPROVERS"
feed_channel = "C0FEED"
alert_channel = "C0ALERTS"
[discord]
application_id = "290926444748734465"
public_key = "{key}"
api_url = "{discord_url}"
approver_channel = "900000000000000001"
{directory}lookup_by_email = true
[break_glass_monitor]
webhook_token = "b7c1a0d9e2f34b5c8d6e7f8091a2b3c4"
[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "11111111-1111-1111-1111-111111111111"
slack = "U0ALICE"
[[person]]
id = "carol"
upn = "carol@contoso.com"
object_id = "33333333-3333-3333-3333-333333333333"
slack = "U0CAROL"
[[role]]
key = "global-admin"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
require_mfa = false
approver_mfa = false
approvers = ["carol"]
eligible = ["alice"]
[[role]]
key = "ops-group"
kind = "group"
directory_id = "aaaaaaaa-0000-0000-0000-000000000001"
tier = "standard"
eligible = ["alice"]
[[role]]
key = "sub-owner"
kind = "azure-role"
directory_id = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
scope = "/subscriptions/00000000-0000-0000-0000-000000000001"
tier = "high"
require_mfa = false
approvers = ["carol"]
eligible = ["alice"]
"#,
        slack_url = slack.api_url(),
        key = "0f".repeat(32),
        discord_url = discord.api_url(),
        directory = graph.directory_toml("graph"),
    )
}

struct Fakes {
    slack: FakeSlack,
    discord: FakeDiscord,
    graph: FakeGraph,
}

async fn healthy_fakes() -> Fakes {
    let slack = FakeSlack::start().await;
    for (id, name) in [("C0APPROVERS", "pim-approvers"), ("C0FEED", "pim-feed"), ("C0ALERTS", "pim-alerts")] {
        slack.add_channel(id, name, true);
    }
    let discord = FakeDiscord::start().await;
    discord.add_channel("900000000000000001", "pim-approvers", true);
    Fakes { slack, discord, graph: FakeGraph::start().await }
}

async fn check_online(config_text: String, slack_token: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("pimbot.toml");
    std::fs::write(&path, config_text).expect("write");
    let slack_token = slack_token.to_owned();
    tokio::task::spawn_blocking(move || {
        let path = path.display().to_string();
        let env = [
            ("PIMBOT_SLACK_BOT_TOKEN", slack_token.as_str()),
            ("PIMBOT_DISCORD_BOT_TOKEN", FAKE_DISCORD_TOKEN),
        ];
        pimbot_with_env(&["check", "--online", "--config", &path], &env)
    })
    .await
    .expect("join")
}

fn line<'a>(out: &'a str, subject: &str) -> &'a str {
    out.lines()
        .find(|l| l[6.min(l.len())..].starts_with(subject))
        .unwrap_or_else(|| panic!("no line for {subject}:\n{out}"))
}

#[tokio::test]
async fn everything_reachable_passes_on_every_backend() {
    for test_db in db::backends().await {
        let f = healthy_fakes().await;
        let (code, out, err) =
            check_online(config(&test_db.url, &f.slack, &f.discord, &f.graph), &f.slack.token()).await;
        assert_eq!(code, 0, "{}: {out}{err}", test_db.name);
        for subject in [
            "database",
            "slack bot token",
            "slack approver channel C0APPROVERS",
            "slack feed channel C0FEED",
            "slack alert channel C0ALERTS",
            "discord bot token",
            "discord approver channel 900000000000000001",
            "graph token",
            "graph permission RoleAssignmentSchedule.ReadWrite.Directory",
            "graph permission RoleEligibilitySchedule.Read.Directory",
            "graph permission PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
            "graph permission PrivilegedEligibilitySchedule.Read.AzureADGroup",
            "graph permission User.Read.All",
            "graph permission AuditLog.Read.All",
            "arm token",
            "arm scope /subscriptions/00000000-0000-0000-0000-000000000001",
        ] {
            assert!(line(&out, subject).starts_with("ok "), "{subject}: {out}");
        }
        assert!(
            line(&out, "database").contains("all") && line(&out, "database").contains(test_db.name),
            "{out}"
        );
        assert!(out.contains("OK: all 16 online checks passed"), "{out}");
        assert!(!out.contains(FAKE_DISCORD_TOKEN) && !out.contains(&f.slack.token()), "no secret printed");
        // Read-only: nothing was posted, registered or granted.
        assert!(f.slack.calls_to("chat.postMessage").is_empty() && f.graph.accepted_requests().is_empty());
    }
}

#[tokio::test]
async fn each_failure_is_one_sentence_with_its_fix() {
    let f = healthy_fakes().await;
    f.slack.add_channel("C0FEED", "pim-feed", false);
    f.slack.add_channel("C0ALERTS", "pim-alerts", true);
    f.discord.add_channel("900000000000000001", "pim-approvers", false);
    f.graph.deny("roleManagement/directory/roleEligibilityScheduleInstances");
    f.graph.deny("subscriptions/");
    let dir = tempfile::tempdir().expect("tmp");
    // A database file that exists but was never migrated.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").expect("create empty file");
    let text = config(&format!("sqlite://{}", empty.display()), &f.slack, &f.discord, &f.graph)
        .replace("approver_channel = \"C0APPROVERS\"", "approver_channel = \"C0GONE\"");
    let (code, out, err) = check_online(text, &f.slack.token()).await;
    assert_eq!(code, 4, "a failed online check exits 4: {out}{err}");
    let expect = [
        ("database", "has no pimbot tables yet: run `pimbot migrate`"),
        ("slack approver channel C0GONE", "Slack knows no channel C0GONE that the bot can see"),
        ("slack feed channel C0FEED", "the bot is not a member of #pim-feed: type `/invite @pimbot`"),
        ("discord approver channel 900000000000000001", "Missing Access): add the bot to that server"),
        (
            "graph permission RoleEligibilitySchedule.Read.Directory",
            "refused (403 Authorization_RequestDenied): add RoleEligibilitySchedule.Read.Directory",
        ),
        (
            "arm scope /subscriptions/00000000-0000-0000-0000-000000000001",
            "refused (403 AuthorizationFailed): assign the app's service principal",
        ),
    ];
    for (subject, sentence) in expect {
        let l = line(&out, subject);
        assert!(l.starts_with("FAIL ") && l.contains(sentence), "{subject}: want {sentence:?}, got {l:?}");
    }
    assert!(line(&out, "slack alert channel C0ALERTS").starts_with("ok "), "{out}");
    assert!(err.contains("6 of 16 online checks failed"), "{err}");

    // Bad credentials: the token lines say so and the reads behind them are not attempted.
    let text = config(
        &format!("sqlite://{}", dir.path().join("missing.db").display()),
        &f.slack,
        &f.discord,
        &f.graph,
    )
    .replace("client_secret = \"pimbot-secret\"", "client_secret = \"an-old-secret\"");
    let (code, out, _) = check_online(text, "xoxb-revoked-token").await;
    assert_eq!(code, 4);
    for (subject, sentence) in [
        ("database", "does not exist: run `pimbot migrate`"),
        ("slack bot token", "Slack refused the bot token (invalid_auth): copy the Bot User OAuth Token"),
        ("graph token", "Entra refused the client secret (AADSTS7000215)"),
        ("arm token", "Entra refused the client secret (AADSTS7000215)"),
    ] {
        let l = line(&out, subject);
        assert!(l.starts_with("FAIL ") && l.contains(sentence), "{subject}: want {sentence:?}, got {l:?}");
    }
    assert!(!out.contains("slack approver channel") && !out.contains("graph permission"), "{out}");
}

#[tokio::test]
async fn a_database_behind_this_binary_or_ahead_of_it_is_named() {
    for test_db in db::backends().await {
        let fakes = healthy_fakes().await;
        test_db
            .exec("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
            .await;
        let text = config(&test_db.url, &fakes.slack, &fakes.discord, &fakes.graph);
        let (code, out, _) = check_online(text.clone(), &fakes.slack.token()).await;
        assert_eq!(code, 4, "{out}");
        assert!(
            line(&out, "database").contains("lacks migrations")
                && line(&out, "database").contains("run `pimbot migrate`"),
            "{out}"
        );
        let bytes = if test_db.name == "postgres" { "'\\x00'::bytea" } else { "X'00'" };
        test_db
        .exec(&format!("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', TRUE, {bytes}, 0)"))
        .await;
        let (code, out, _) = check_online(text, &fakes.slack.token()).await;
        assert_eq!(code, 4);
        assert!(
            line(&out, "database").contains("[9999] that this pimbot does not know"),
            "{}: {out}",
            test_db.name
        );
    }
}

#[tokio::test]
async fn socket_mode_checks_the_app_token() {
    let f = healthy_fakes().await;
    f.slack.enable_socket_mode(pimbot::testing::FAKE_APP_TOKEN, "ws://127.0.0.1:9/unused");
    let dir = tempfile::tempdir().expect("tmp");
    let db = format!("sqlite://{}", dir.path().join("missing.db").display());
    let socket = |token: &str| {
        config(&db, &f.slack, &f.discord, &f.graph).replace(
            "signing_secret = \"8f742231b10e8888abcd99yyyzzz85a5\"",
            &format!("socket_mode = true\napp_token = \"{token}\""),
        )
    };
    let (_, out, _) = check_online(socket(pimbot::testing::FAKE_APP_TOKEN), &f.slack.token()).await;
    assert!(line(&out, "slack app token").starts_with("ok "), "{out}");
    let (code, out, _) = check_online(socket("xapp-1-A0OTHER-1-revoked"), &f.slack.token()).await;
    assert_eq!(code, 4);
    let l = line(&out, "slack app token");
    assert!(
        l.starts_with("FAIL ") && l.contains("Slack refused apps.connections.open (invalid_auth)"),
        "{l}"
    );
    assert!(l.contains("connections:write") && l.contains("PIMBOT_SLACK_APP_TOKEN"), "{l}");
}
