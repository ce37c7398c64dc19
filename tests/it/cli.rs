//! The `pimbot` binary's commands: `check`, `demo`, `audit verify|export`, `report`, and the
//! HTTP health and reload endpoints of a running app.

use std::process::Command;

use pimbot::core::state::RequestState;

use crate::on_every_backend;
use crate::support::app::{POLICY, TestApp};

fn pimbot(args: &[&str]) -> (i32, String, String) {
    pimbot_with_env(args, &[])
}

/// Well-formed dummy values of the secrets `examples/pimbot.toml` reads from the environment.
pub const EXAMPLE_ENV: &[(&str, &str)] = &[
    ("PIMBOT_SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5"),
    ("PIMBOT_SLACK_BOT_TOKEN", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"),
    ("PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN", "b7c1a0d9e2f34b5c8d6e7f8091a2b3c4"),
];

/// Runs the binary with `env` set and every other `PIMBOT_…` variable removed, except the test
/// audit key (which `env` may override).
pub fn pimbot_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimbot"));
    cmd.args(args);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PIMBOT_")) {
        cmd.env_remove(key);
    }
    cmd.env("PIMBOT_AUDIT_KEY", pimbot::testing::audit::TEST_AUDIT_KEY);
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run pimbot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

fn with_json_logs<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    [&["--log-format", "json"][..], rest].concat()
}

#[test]
fn check_accepts_the_example_and_names_the_key_of_every_problem() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pimbot.toml");
    let (code, out, err) = pimbot_with_env(&["check", "--config", example], EXAMPLE_ENV);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("global-admin") && out.contains("OK"), "{out}");
    for (_, secret) in EXAMPLE_ENV {
        assert!(!out.contains(secret), "the summary never prints secrets: {out}");
    }
    // Without its secrets the example is refused, naming where each one goes.
    let (code, _, err) = pimbot(&["check", "--config", example]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("PIMBOT_SLACK_BOT_TOKEN") && err.contains("PIMBOT_SLACK_SIGNING_SECRET"), "{err}");

    let dir = tempfile::tempdir().expect("tmp");
    let unknown_key = write(&dir, "a.toml", &POLICY.replace("[server]\n", "[server]\nlisten_port = 1\n"));
    let (code, _, err) = pimbot(&["check", "--config", &unknown_key]);
    assert_eq!(code, 3, "a TOML error exits 3: {err}");
    assert!(err.contains("listen_port"), "{err}");

    let bad = POLICY
        .replace("approvers = [\"@ga-approvers\", \"alice\"]", "approvers = [\"zed\"]")
        .replace("max_duration = \"2h\"", "max_duration = \"1m\"");
    let bad = write(&dir, "b.toml", &bad);
    let (code, _, err) = pimbot(&["check", "--config", &bad]);
    assert_eq!(code, 3, "an invalid policy exits 3: {err}");
    assert!(err.contains("zed") && err.contains("min_duration"), "every problem is listed: {err}");

    let (code, _, err) = pimbot(&["check", "--config", "/nonexistent/pimbot.toml"]);
    assert_eq!(code, 3, "an unreadable config exits 3: {err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn the_demo_plays_the_whole_story() {
    let (code, out, err) = pimbot(&["demo"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "needs a fresh MFA sign-in",
        "(no card yet: 0 messages in the approver channel)",
        "MFA verified for request",
        "MFA verified: you approved",
        "cannot approve or deny your own request",
        "Approved by <@U0CAROL>",
        "too soon to deactivate",
        "is deactivated",
        "expired",
    ] {
        assert!(out.contains(line), "demo shows {line:?}:\n{out}");
    }
}

#[tokio::test]
async fn audit_verify_export_and_report_work_on_the_real_database() {
    on_every_backend!(|app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-7 audit me").await;
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        let dir = tempfile::tempdir().expect("tmp");
        let config = write(&dir, "c.toml", &POLICY.replace("sqlite://unused.db", &app.db.url));

        let (code, out, err) = pimbot(&with_json_logs(&["audit", "--config", &config, "verify"]));
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, _) = pimbot(&with_json_logs(&[
            "audit", "--config", &config, "export", "--format", "jsonl", "--since", "7d",
        ]));
        assert_eq!(code, 0);
        let lines: Vec<serde_json::Value> =
            out.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
        assert!(lines.iter().any(|l| l["kind"] == "request.approved"), "{out}");
        let (code, out, _) =
            pimbot(&with_json_logs(&["audit", "--config", &config, "export", "--format", "csv"]));
        assert_eq!(code, 0);
        assert!(out.lines().next().unwrap_or_default().contains("seq"), "{out}");
        let (code, out, _) = pimbot(&with_json_logs(&["report", "--config", &config]));
        assert_eq!(code, 0);
        assert!(out.contains("global-admin"), "{out}");

        app.db.exec("UPDATE audit_events SET detail = '{}' WHERE seq = 2").await;
        let (code, _, err) = pimbot(&with_json_logs(&["audit", "--config", &config, "verify"]));
        assert_eq!(code, 4, "an edited row is detected (a failed check exits 4): {err}");
        assert!(err.contains("2"), "{err}");
        app.stop().await;
    });
}

#[tokio::test]
async fn health_readiness_and_policy_reload() {
    on_every_backend!(|app: TestApp| async move {
        let http = reqwest::Client::new();
        let base = format!("http://{}", app.running.addr);
        assert_eq!(http.get(format!("{base}/healthz")).send().await.expect("healthz").status(), 200);
        assert_eq!(http.get(format!("{base}/readyz")).send().await.expect("readyz").status(), 200);
        let unauth =
            http.post(format!("{base}/admin/reload")).bearer_auth("wrong").send().await.expect("reload");
        assert_eq!(unauth.status(), 401);

        // A request in flight; then bob's eligibility and carol's approver right are removed.
        let (_, id) = app.activate("U0BOB", "global-admin 1h #INC-8 in flight").await;
        app.settle().await;
        let narrowed = POLICY.replace(
            "eligible = [\"alice\", \"bob\"]\n\n[[role]]\nkey = \"user-admin\"",
            "eligible = [\"alice\"]\n\n[[role]]\nkey = \"user-admin\"",
        );
        assert_ne!(narrowed, POLICY);
        assert_eq!(app.set_policy(&narrowed).await, 200);
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        assert_eq!(
            app.request(&id).await.state,
            RequestState::Pending,
            "approval of a no-longer-eligible requester refused"
        );
        assert!(app.ephemerals("U0CAROL").iter().any(|m| m.text.contains("no longer eligible")));
        let refused = app.slack.command("U0BOB", "activate global-admin 1h #INC-9 again").await.expect("cmd");
        assert!(refused.text().contains("not eligible"), "{}", refused.text());

        // A broken file is refused and the running policy stays.
        assert_eq!(app.set_policy("this is not toml").await, 422);
        let ok = app.slack.command("U0ALICE", "roles").await.expect("roles");
        assert!(ok.text().contains("global-admin"));
        app.stop().await;
    });
}
