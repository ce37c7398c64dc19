//! Grants outlive policy edits, and the kill switch: a role removed by a reload strands nothing
//! (its grant ends on time, its pending request is cancelled with a notice, `/pim deactivate`
//! still works, the reload and `pimbot check` say so beforehand); a person removed from a
//! role's eligibility loses the open grant at the next sweep; `/pim revoke` (Slack, Discord)
//! and `pimbot revoke` end a grant now, for revokers only. On SQLite and PostgreSQL.

use std::process::Command;

use chrono::Duration;
use pimbot::core::state::RequestState;
use pimbot::directory::DirectoryCall;

use crate::on_every_backend;
use crate::support::app::{APPROVERS, FEED, POLICY, TestApp};
use crate::support::db::backends;
use crate::support::discord::{self as dc, ephemeral_text};

/// `policy` without the `[[role]]` table of `key`.
pub fn without_role(policy: &str, key: &str) -> String {
    let start = policy.find(&format!("[[role]]\nkey = \"{key}\"")).expect("role present");
    let end = policy[start + 8..].find("[[role]]").map_or(policy.len(), |i| start + 8 + i);
    format!("{}{}", &policy[..start], &policy[end..])
}

/// [`POLICY`] with erin as the only revoker.
fn with_revokers(policy: &str) -> String {
    policy.replacen("[[person]]", "[security]\nrevokers = [\"erin\"]\n\n[[person]]", 1)
}

/// Runs the binary beside the app. It runs on a blocking thread, so the app's tasks on this
/// test's runtime keep going meanwhile: a task frozen inside a write transaction would hold
/// SQLite's write lock and make the command wait out its busy timeout.
async fn pimbot(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || run(&args)).await.expect("the command's thread")
}

fn run(args: &[String]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(args)
        .env_remove("PIMBOT_CONFIG")
        .env("USER", "oncall-sre")
        .env("PIMBOT_AUDIT_KEY", pimbot::testing::audit::TEST_AUDIT_KEY)
        .output()
        .expect("run pimbot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The distinct assignments the directory was asked to end (a sweep racing another may ask
/// twice: ending is safe to repeat).
fn revokes(app: &TestApp) -> Vec<String> {
    let mut all: Vec<String> = app
        .directory
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            DirectoryCall::Revoke(spec) => {
                Some(format!("{}:{}:{}", spec.grant_id, spec.role.key, spec.role.directory_id))
            }
            DirectoryCall::Grant(_) => None,
        })
        .collect();
    all.dedup();
    all
}

#[tokio::test]
async fn a_role_removed_by_reload_strands_nothing() {
    on_every_backend!(|app: TestApp| async move {
        let (_, held) = app.activate("U0ALICE", "reader 30m look around").await;
        let (_, waiting) = app.activate("U0BOB", "global-admin 1h #INC-1 incident bridge").await;
        app.settle().await;
        let edited = without_role(&without_role(POLICY, "global-admin"), "reader");
        let (status, report) = app.reload(&edited).await;
        assert_eq!(status, 200, "{report}");
        assert!(report.contains(&format!("request {waiting}")) && report.contains("cancelled"), "{report}");
        assert!(report.contains("holds reader") && report.contains("ends on time"), "{report}");
        app.settle().await;

        let request = app.request(&waiting).await;
        assert_eq!(request.state, RequestState::Cancelled);
        assert!(app.card(&waiting).blocks.to_string().contains("its role was removed from the policy"));
        assert!(app.dms("U0BOB").iter().any(|m| m.text.contains("was cancelled: its role was removed")));
        // Nothing keeps failing on it: every sweep runs clean.
        let service = &app.running.service;
        assert_eq!(service.nudge_due(10).await.expect("ladder"), 0);
        assert_eq!(service.activate_approved(10).await.expect("activation"), 0);
        app.advance(Duration::minutes(10));
        assert_eq!(service.nudge_due(10).await.expect("ladder"), 0, "the ladder has nothing left to do");

        app.advance(Duration::minutes(21));
        app.settle().await;
        assert_eq!(app.request(&held).await.state, RequestState::Expired, "the grant ended on time");
        let grant = format!("g-{}", &held.as_str()[2..]);
        assert_eq!(
            revokes(&app),
            [format!("{grant}:reader:f2ef992c-3afb-46b9-b7cf-a126ee74c451")],
            "ended through its target"
        );
        assert!(app.channel(FEED).iter().any(|m| m.text.contains("alice's *reader* expired")));
        app.stop().await;
    });
}

#[tokio::test]
async fn deactivate_still_works_on_a_removed_role() {
    on_every_backend!(|app: TestApp| async move {
        let (_, held) = app.activate("U0ALICE", "reader 30m look around").await;
        app.settle().await;
        assert_eq!(app.set_policy(&without_role(POLICY, "reader")).await, 200);
        let reply = app.slack.command("U0ALICE", "deactivate reader").await.expect("deactivate");
        assert!(reply.text().contains("deactivated"), "{}", reply.text());
        assert_eq!(app.request(&held).await.state, RequestState::Deactivated);
        assert_eq!(revokes(&app).len(), 1);
        app.stop().await;
    });
}

#[tokio::test]
async fn check_reports_what_a_new_policy_would_orphan() {
    on_every_backend!(|app: TestApp| async move {
        let (_, held) = app.activate("U0ALICE", "reader 30m look around").await;
        let (_, waiting) = app.activate("U0BOB", "global-admin 1h #INC-1 incident bridge").await;
        app.settle().await;
        let dir = tempfile::tempdir().expect("tmp");
        let edited = without_role(POLICY, "global-admin")
            .replace("eligible = [\"alice\", \"bob\"]", "eligible = [\"bob\"]")
            .replace("sqlite://unused.db", &app.db.url);
        let path = dir.path().join("edited.toml");
        std::fs::write(&path, edited).expect("write");
        let (code, out, err) = pimbot(&["check", "--config", &path.display().to_string()]).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("request {waiting}")), "{out}");
        assert!(out.contains("alice is not eligible under the new policy"), "{out}");
        assert!(out.contains("orphans 2"), "{out}");
        assert_eq!(app.request(&held).await.state, RequestState::Active, "check changes nothing");
        assert_eq!(app.request(&waiting).await.state, RequestState::Pending);
        app.stop().await;
    });
}

#[tokio::test]
async fn losing_eligibility_ends_the_open_grant_at_the_next_sweep() {
    on_every_backend!(|app: TestApp| async move {
        let (_, held) = app.activate("U0ALICE", "reader 30m look around").await;
        app.settle().await;
        // reader is the last role: its list is the last `eligible` line.
        let list = "eligible = [\"alice\", \"bob\"]";
        let at = POLICY.rfind(list).expect("reader's list");
        let edited = format!("{}eligible = [\"bob\"]{}", &POLICY[..at], &POLICY[at + list.len()..]);
        let (status, report) = app.reload(&edited).await;
        assert_eq!(status, 200);
        assert!(report.contains("alice is not eligible"), "{report}");
        app.settle().await;
        let request = app.request(&held).await;
        assert_eq!(
            (request.state, request.reason.as_deref()),
            (RequestState::Revoked, Some("no longer eligible"))
        );
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("revoked: no longer eligible")));
        assert_eq!(revokes(&app).len(), 1, "ended in the directory");
        let audit = app.store().audit_records(None).await.expect("audit");
        let revoked = audit.iter().find(|r| r.event.kind == "grant.revoked").expect("audited");
        assert_eq!(revoked.event.detail["reason"], "no longer eligible");
        app.stop().await;
    });
}

#[tokio::test]
async fn revoke_is_for_revokers_and_ends_the_grant_now() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, &with_revokers(POLICY)).await;
        let (_, held) = app.activate("U0ALICE", "reader 30m look around").await;
        app.settle().await;
        let refused = app.slack.command("U0CAROL", "revoke alice reader looks odd").await.expect("cmd");
        assert!(refused.text().contains("may not revoke"), "{name}: {}", refused.text());
        assert_eq!(app.request(&held).await.state, RequestState::Active);

        let done = app.slack.command("U0ERIN", "revoke <@U0ALICE> reader laptop stolen").await.expect("cmd");
        assert!(done.text().contains("is revoked"), "{name}: {}", done.text());
        let request = app.request(&held).await;
        assert_eq!(
            (request.state, request.reason.as_deref()),
            (RequestState::Revoked, Some("laptop stolen"))
        );
        assert_eq!(revokes(&app).len(), 1, "{name}: the directory was told");
        app.settle().await;
        assert!(
            app.channel(FEED)
                .iter()
                .any(|m| m.text.contains("revoked by erin") && m.text.contains("laptop stolen"))
        );
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("revoked by erin")));
        let audit = app.store().audit_records(None).await.expect("audit");
        let revoked = audit.iter().find(|r| r.event.kind == "grant.revoked").expect("audited");
        assert_eq!(revoked.event.actor.label(), "erin");
        assert_eq!(revoked.event.detail["reason"], "laptop stolen");
        let again = app.slack.command("U0ERIN", "revoke alice reader twice").await.expect("cmd");
        assert!(again.text().contains("holds no active"), "{name}: {}", again.text());
        assert!(app.channel(APPROVERS).is_empty());
        app.stop().await;
    }
}

#[tokio::test]
async fn revoke_on_discord_and_at_the_command_line() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord_policy(db, &with_revokers(&dc::policy())).await;
        let (_, first) = app.activate("U0ALICE", "reader 30m look around").await;
        app.settle().await;
        let refused = ephemeral_text(
            &app.interact(&pimbot::testing::discord_signing::command(
                dc::CAROL,
                "revoke",
                &[("person", "alice"), ("role", "reader"), ("reason", "x")],
            ))
            .await,
        );
        assert!(refused.contains("may not revoke"), "{name}: {refused}");
        let mention = format!("<@{}>", dc::ALICE);
        let done = ephemeral_text(
            &app.interact(&pimbot::testing::discord_signing::command(
                dc::ERIN,
                "revoke",
                &[("person", mention.as_str()), ("role", "reader"), ("reason", "offboarding")],
            ))
            .await,
        );
        assert!(done.contains("is revoked"), "{name}: {done}");
        assert_eq!(app.request(&first).await.state, RequestState::Revoked);

        // The command line: anyone holding the config and the database; the OS user is recorded.
        let (_, second) = app.activate("U0BOB", "reader 30m look around").await;
        app.settle().await;
        let dir = tempfile::tempdir().expect("tmp");
        let config = dir.path().join("c.toml");
        std::fs::write(&config, with_revokers(&dc::policy()).replace("sqlite://unused.db", &app.db.url))
            .expect("write");
        let config = config.display().to_string();
        let args = [
            "revoke",
            "--config",
            &config,
            "--person",
            "bob@contoso.com",
            "--role",
            "reader",
            "--reason",
            "incident 7",
        ];
        let (code, out, err) = pimbot(&args).await;
        assert_eq!(code, 0, "{name}: {out}{err}");
        assert!(out.contains("is revoked"), "{out}");
        assert_eq!(app.request(&second).await.state, RequestState::Revoked);
        let audit = app.store().audit_records(None).await.expect("audit");
        let by_cli = audit.iter().rfind(|r| r.event.kind == "grant.revoked").expect("audited");
        assert_eq!(
            (by_cli.event.detail["via"].as_str(), by_cli.event.detail["os_user"].as_str()),
            (Some("cli"), Some("oncall-sre"))
        );
        let chain = pimbot::storage::audit_export::verify(
            app.store().as_ref(),
            &pimbot::testing::audit::test_ring(),
            None,
        )
        .await;
        assert!(chain.is_ok(), "{name}: the command line appends keyed records too: {chain:?}");
        let (code, _, err) = pimbot(&args).await;
        assert_eq!(code, 1, "{name}: nothing left to revoke is a failure: {err}");
        assert!(err.contains("holds no active"), "{err}");
        let (code, _, _) = pimbot(&["revoke", "--config", &config, "--person", "bob"]).await;
        assert_eq!(code, 2, "a usage error");
        app.stop().await;
    }
}
