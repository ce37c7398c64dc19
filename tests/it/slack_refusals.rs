//! Bad input over Slack: unsigned, stale or oversized requests, malformed payloads, unknown
//! roles, users and actions. Each gets a clear refusal and changes nothing.

use pimbot::testing::signing::{signed_slack_headers, slack_signature, slash_command_form};

use crate::on_every_backend;
use crate::support::app::{NowTs, SECRET, TestApp};

/// Request headers as name/value pairs.
type Headers = Vec<(String, String)>;

async fn nothing_stored(app: &TestApp) {
    assert_eq!(app.store().outbox_depth().await.expect("depth"), 0);
    assert!(app.store().audit_records(None).await.expect("audit").is_empty(), "no audit event");
    assert!(app.fake.calls().is_empty(), "nothing sent to Slack");
}

#[tokio::test]
async fn unsigned_stale_and_oversized_requests_are_refused_and_change_nothing() {
    on_every_backend!(|app: TestApp| async move {
        let body =
            slash_command_form("U0ALICE", "activate global-admin 1h #INC-1 x", "http://127.0.0.1:9/h", "t");
        let now = app.clock.now_ts();
        let form = ("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned());

        let cases: Vec<(&str, Headers, String)> = vec![
            ("no headers", vec![form.clone()], body.clone()),
            ("wrong secret", signed_slack_headers("not-the-secret", now, &body), body.clone()),
            ("stale", signed_slack_headers(SECRET, now - 301, &body), body.clone()),
            ("future", signed_slack_headers(SECRET, now + 301, &body), body.clone()),
            (
                "body changed after signing",
                signed_slack_headers(SECRET, now, &body),
                body.replace("global-admin", "reader"),
            ),
            (
                "truncated signature",
                vec![
                    ("x-slack-signature".into(), slack_signature(SECRET, now, &body)[..20].to_owned()),
                    ("x-slack-request-timestamp".into(), now.to_string()),
                    form.clone(),
                ],
                body.clone(),
            ),
        ];
        for (name, headers, body) in cases {
            for path in ["/slack/commands", "/slack/interactions"] {
                let reply = app.slack.post_with(path, body.clone(), &headers).await.expect("post");
                assert_eq!(reply.status, 401, "{name} on {path}: {reply:?}");
            }
        }
        let huge = format!("{body}&pad={}", "x".repeat(2 * 1024 * 1024));
        let reply = app.slack.post("/slack/commands", huge).await.expect("post");
        assert_eq!(reply.status, 413, "oversized body");
        nothing_stored(&app).await;
        app.stop().await;
    });
}

#[tokio::test]
async fn malformed_payloads_and_unknown_things_get_clear_answers() {
    on_every_backend!(|app: TestApp| async move {
        let bad_json =
            app.slack.post("/slack/interactions", "payload=%7Bnot+json".into()).await.expect("post");
        assert_eq!(bad_json.status, 400, "{bad_json:?}");
        let no_payload = app.slack.post("/slack/interactions", "other=1".into()).await.expect("post");
        assert_eq!(no_payload.status, 400);
        let not_a_command = app.slack.post("/slack/commands", "user_id=U0ALICE".into()).await.expect("post");
        assert_eq!(not_a_command.status, 400);
        let unknown_action = app
            .slack
            .click("U0CAROL", "frobnicate", "r-00000000", "C0APPROVERS", "1.0")
            .await
            .expect("click");
        assert_eq!(unknown_action.status, 400);
        let ssl_check = app.slack.post("/slack/commands", "ssl_check=1&token=x".into()).await.expect("post");
        assert_eq!(ssl_check.status, 200);

        let cases = [
            ("U0ALICE", "activate no-such-role 1h #INC-1 x", "no role `no-such-role`"),
            ("U0NOBODY", "activate global-admin 1h #INC-1 x", "not known to pimbot"),
            ("U0ALICE", "activate global-admin forever x", "not a duration"),
            ("U0ALICE", "activate global-admin 3h #INC-1 x", "5m to 2h"),
            ("U0ALICE", "activate global-admin 1h no ticket", "needs a ticket"),
            ("U0ALICE", "activate user-admin 1h", "needs a justification"),
            ("U0CAROL", "activate global-admin 1h #INC-1 x", "not eligible"),
            ("U0ALICE", "frobnicate", "unknown command"),
            ("U0ALICE", "cancel r-00000000", "no request"),
            ("U0ALICE", "deactivate reader", "no active"),
        ];
        for (user, text, expected) in cases {
            let reply = app.slack.command(user, text).await.expect("command");
            assert_eq!(reply.status, 200, "{text}");
            assert!(reply.text().contains(expected), "{text}: {}", reply.text());
        }
        let approve_missing =
            app.slack.click("U0CAROL", "approve", "r-00000000", "C0APPROVERS", "1.0").await.expect("click");
        assert_eq!(approve_missing.status, 200);
        app.settle().await;
        // Refusals change nothing; a policy refusal of an activation is only recorded
        // (`request.refused`), for the refusal-burst alert.
        let audit = app.store().audit_records(None).await.expect("audit");
        assert!(
            audit.iter().all(|r| r.event.kind == "request.refused"),
            "refusals change nothing: {audit:?}"
        );
        assert!(app.ephemerals("U0CAROL").iter().any(|m| m.text.contains("no request")));

        let help = app.slack.command("U0ALICE", "help").await.expect("help");
        assert!(help.text().contains("/pim activate <role>"));
        let roles = app.slack.command("U0ALICE", "roles").await.expect("roles");
        for key in ["global-admin", "user-admin", "reader"] {
            assert!(roles.text().contains(key), "{}", roles.text());
        }
        app.stop().await;
    });
}

/// A form submission: its name, its inputs, and the input its refusal belongs under.
type FormCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// The activate form's refusal, as `(field, words)`.
fn form_error(body: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["response_action"], "errors", "{v}");
    let errors = v["errors"].as_object().expect("errors");
    assert_eq!(errors.len(), 1, "one field: {v}");
    let (field, words) = errors.iter().next().expect("one");
    (field.clone(), words.as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn the_activate_form_puts_each_refusal_under_the_input_it_names() {
    on_every_backend!(|app: TestApp| async move {
        let long = "y".repeat(600);
        let cases: [FormCase<'_>; 5] = [
            (
                "no ticket",
                &[("role", "global-admin"), ("duration", "1h"), ("justification", "patch")],
                "ticket",
            ),
            (
                "too long",
                &[
                    ("role", "global-admin"),
                    ("duration", "9h"),
                    ("ticket", "INC-9"),
                    ("justification", "patch"),
                ],
                "duration",
            ),
            (
                "long justification",
                &[
                    ("role", "global-admin"),
                    ("duration", "1h"),
                    ("ticket", "INC-9"),
                    ("justification", &long),
                ],
                "justification",
            ),
            (
                "start ahead",
                &[("role", "reader"), ("duration", "1h"), ("start", "in 90d"), ("justification", "later")],
                "start",
            ),
            ("not eligible", &[("role", "user-admin"), ("duration", "1h"), ("justification", "x")], "role"),
        ];
        for (name, inputs, field) in cases {
            let user = if name == "not eligible" { "U0CAROL" } else { "U0ALICE" };
            let reply = app
                .slack
                .submit(user, "activate", "", pimbot::testing::signing::text_inputs(inputs))
                .await
                .expect("submit");
            let (shown_under, words) = form_error(&reply.body);
            assert_eq!(shown_under, field, "{name}: {words}");
        }
        assert!(app.store().open_requests_for(&"alice".into()).await.expect("read").is_empty());
        app.stop().await;
    });
}
