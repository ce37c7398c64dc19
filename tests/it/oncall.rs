//! On-call auto-approval against the local fake PagerDuty and Opsgenie, on SQLite and
//! PostgreSQL: an on-call requester's request is approved with an "on call per <schedule>"
//! record and a loud feed line; off call, an unknown e-mail, a provider answering 500 or not
//! answering in time all leave normal approval; Opsgenie may record part of a quorum; the
//! role's MFA step-up still comes first.

use std::time::Duration as StdDuration;

use pimbot::core::ids::RequestId;
use pimbot::core::state::RequestState;
use pimbot::directory::DirectoryCall;
use pimbot::testing::{FAKE_OPSGENIE_TOKEN, FAKE_PAGERDUTY_TOKEN, FakeOnCall, OnCallFault, Scenario};

use crate::support::app::{FEED, POLICY, TestApp};
use crate::support::db::backends;
use crate::support::identity::{ALICE_OID, audit_of, link_in, sign_in};

/// db-admin (high, 1 approval) asks PagerDuty; ops-admin (standard, 2 approvals) asks Opsgenie
/// and records one of them.
fn oncall_tables(fake: &FakeOnCall) -> String {
    format!(
        r#"
[oncall.pagerduty]
api_url = "{pd}"
token = "{FAKE_PAGERDUTY_TOKEN}"
timeout = "300ms"
[oncall.opsgenie]
api_url = "{og}"
token = "{FAKE_OPSGENIE_TOKEN}"
timeout = "300ms"

[[role]]
key = "db-admin"
name = "Database Administrator"
kind = "entra-role"
directory_id = "44367163-eba1-44c3-98af-f5787879f96a"
tier = "high"
require_mfa = false
approvals_required = 1
approvers = ["carol", "dave"]
eligible = ["alice", "bob"]
oncall = {{ provider = "pagerduty", schedules = ["P1ABCD", "P2EFGH"], approves = 1 }}

[[role]]
key = "ops-admin"
name = "Operations Administrator"
kind = "entra-role"
directory_id = "3a2c62db-5318-420d-8d74-23affee5d9d5"
tier = "standard"
approvals_required = 2
approvers = ["carol", "dave", "erin"]
eligible = ["alice"]
oncall = {{ provider = "opsgenie", schedules = ["ops-primary"], approves = 1 }}

[[role]]
key = "sec-admin"
name = "Security Administrator"
kind = "entra-role"
directory_id = "194ae4cb-b126-40b2-bd5b-6091b380977d"
tier = "critical"
require_mfa = false
approver_mfa = false
require_ticket = false
approvals_required = 1
approvers = ["carol", "dave"]
eligible = ["alice"]
oncall = {{ provider = "pagerduty", schedules = ["P9CRIT"], allow_critical = true }}
"#,
        pd = fake.pagerduty_url(),
        og = fake.opsgenie_url(),
    )
}

/// Sets the fake up for one case.
type Arrange = Box<dyn Fn(&FakeOnCall)>;

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp, FakeOnCall) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let fake = FakeOnCall::start().await;
        let app = TestApp::spawn_with(db, &format!("{POLICY}{}", oncall_tables(&fake))).await;
        tokio::time::timeout(StdDuration::from_secs(90), f(app, fake))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

/// Grant calls the static directory received for `role`.
fn grants_of(app: &TestApp, role: &str) -> usize {
    app.directory
        .calls()
        .iter()
        .filter(|c| matches!(c, DirectoryCall::Grant(spec) if spec.role.key.as_str() == role))
        .count()
}

fn feed(app: &TestApp) -> Vec<String> {
    app.channel(FEED).into_iter().map(|m| m.text).collect()
}

/// The `request.oncall_checked` results recorded for `id`.
async fn checks(app: &TestApp, id: &RequestId) -> Vec<String> {
    app.store()
        .audit_records(None)
        .await
        .expect("audit")
        .into_iter()
        .filter(|r| r.event.kind == "request.oncall_checked" && r.event.request_id.as_ref() == Some(id))
        .map(|r| r.event.detail["result"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_on_call_requester_is_approved_automatically_with_the_record_and_a_loud_feed_line() {
    each_backend(|app, fake| async move {
        fake.set_on_call("P1ABCD", "bob@contoso.com");
        fake.set_on_call("P2EFGH", "Alice@Contoso.com");
        let (reply, id) = app.activate("U0ALICE", "db-admin 1h INC-99 database down").await;
        assert!(reply.text().contains("approved automatically"), "{}", reply.text());
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Active, "approved and granted");
        let approvers: Vec<String> = request.approvals.iter().map(|a| a.approver.to_string()).collect();
        assert_eq!(approvers, ["on call per PagerDuty P2EFGH"]);
        assert_eq!(grants_of(&app, "db-admin"), 1, "the grant was made");

        let recorded = audit_of(&app, "approval.recorded").await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0]["evidence"]["mode"], "on_call");
        assert_eq!(recorded[0]["evidence"]["schedule"], "P2EFGH");
        let approved = audit_of(&app, "request.approved").await;
        assert_eq!(
            (approved[0]["auto"].as_bool(), approved[0]["via"].as_str()),
            (Some(true), Some("on_call"))
        );
        let lines = feed(&app);
        assert!(
            lines.iter().any(|t| t.contains("ON-CALL AUTO-APPROVED")
                && t.contains("P2EFGH")
                && t.contains(id.as_str())),
            "{lines:?}"
        );
        let card = app.card(&id).blocks.to_string();
        assert!(card.contains("on call per PagerDuty P2EFGH"), "{card}");
        assert!(!card.contains("\"action_id\":\"approve\""), "no buttons on a decided card: {card}");

        // One documented PagerDuty question: both schedules, a time window, the users' e-mails.
        let calls = fake.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let call = &calls[0];
        assert_eq!((call.provider, call.path.as_str()), ("pagerduty", "/oncalls"));
        assert_eq!(call.authorization, format!("Token token={FAKE_PAGERDUTY_TOKEN}"));
        for part in [
            "schedule_ids%5B%5D=P1ABCD",
            "schedule_ids%5B%5D=P2EFGH",
            "since=",
            "until=",
            "include%5B%5D=users",
        ] {
            assert!(call.query.contains(part), "{part} in {}", call.query);
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn off_call_unknown_email_outage_and_timeout_fall_back_to_normal_approval() {
    each_backend(|app, fake| async move {
        let cases: [(&str, Arrange, &str); 4] = [
            (
                "off call",
                Box::new(|f: &FakeOnCall| f.set_on_call("P1ABCD", "bob@contoso.com")),
                "not_on_call",
            ),
            (
                "unknown e-mail",
                Box::new(|f: &FakeOnCall| f.set_on_call("P2EFGH", "stranger@elsewhere.example")),
                "not_on_call",
            ),
            (
                "500",
                Box::new(|f: &FakeOnCall| {
                    f.set_on_call("P2EFGH", "alice@contoso.com");
                    f.set_fault(OnCallFault::ServerError)
                }),
                "unavailable",
            ),
            (
                "timeout",
                Box::new(|f: &FakeOnCall| f.set_fault(OnCallFault::Hang(StdDuration::from_secs(3)))),
                "unavailable",
            ),
        ];
        let mut last = None;
        for (what, arrange, result) in cases {
            arrange(&fake);
            let (reply, id) = app.activate("U0ALICE", "db-admin 1h INC-99 database down").await;
            assert!(reply.text().contains("waiting for approval"), "{what}: {}", reply.text());
            app.settle().await;
            let request = app.request(&id).await;
            assert_eq!(request.state, RequestState::Pending, "{what}");
            assert!(request.approvals.is_empty(), "{what}");
            assert_eq!(checks(&app, &id).await, [result], "{what}");
            assert!(!feed(&app).iter().any(|t| t.contains("ON-CALL")), "{what}: nothing announced");
            if what != "timeout" {
                let cancelled = app.slack.command("U0ALICE", &format!("cancel {id}")).await.expect("cancel");
                assert_eq!(cancelled.status, 200);
            }
            last = Some(id);
        }
        let metrics = reqwest::get(format!("http://{}/metrics", app.running.addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics");
        for result in ["not_on_call", "error"] {
            let series = format!("pimbot_oncall_checks_total{{provider=\"pagerduty\",result=\"{result}\"}}");
            assert!(metrics.contains(&series), "{series} in\n{metrics}");
        }
        // The provider's outage changed nothing about the human path.
        fake.set_fault(OnCallFault::None);
        let id = last.expect("a request");
        let clicked = app.click("U0CAROL", "approve", &id).await;
        assert_eq!(clicked.status, 200);
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert_eq!(grants_of(&app, "db-admin"), 1, "one grant, after the human approval");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn opsgenie_on_call_records_part_of_a_quorum_and_a_human_completes_it() {
    each_backend(|app, fake| async move {
        fake.set_on_call("ops-primary", "alice@contoso.com");
        let (reply, id) = app.activate("U0ALICE", "ops-admin 1h restart the fleet").await;
        assert!(reply.text().contains("waiting for approval"), "{}", reply.text());
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Pending);
        let approvers: Vec<String> = request.approvals.iter().map(|a| a.approver.to_string()).collect();
        assert_eq!(approvers, ["on call per Opsgenie ops-primary"]);
        assert!(
            feed(&app).iter().any(|t| t.contains("1/2 approvals recorded automatically")),
            "{:?}",
            feed(&app)
        );

        let calls = fake.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(
            (calls[0].provider, calls[0].path.as_str()),
            ("opsgenie", "/v2/schedules/ops-primary/on-calls")
        );
        assert_eq!(calls[0].authorization, format!("GenieKey {FAKE_OPSGENIE_TOKEN}"));
        assert!(
            calls[0].query.contains("flat=true") && calls[0].query.contains("date="),
            "{}",
            calls[0].query
        );

        assert_eq!(app.click("U0CAROL", "approve", &id).await.status, 200);
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Active);
        assert_eq!(request.approvals.len(), 2);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_roles_mfa_step_up_comes_before_any_on_call_approval() {
    for db in backends().await {
        let name = db.name;
        let fake = FakeOnCall::start().await;
        fake.set_on_call("P1ABCD", "alice@contoso.com");
        // user-admin (high) requires the requester's MFA; give it the PagerDuty rule.
        let policy = crate::support::identity::POLICY
            .replace(
                "approvers = [\"carol\", \"dave\"]\neligible = [\"alice\"]",
                "approvers = [\"carol\", \"dave\"]\neligible = [\"alice\"]\n\
                 oncall = { provider = \"pagerduty\", schedules = [\"P1ABCD\"] }",
            )
            .replace("{oidc}", "{oidc}\n");
        let tables = oncall_tables(&fake);
        let tables = tables.split("[[role]]").next().unwrap_or_default();
        let app = TestApp::spawn_with(db, &format!("{policy}{tables}")).await;
        let run = async {
            let (reply, id) = app.activate("U0ALICE", "user-admin 1h reset a password").await;
            let link = link_in(&reply.text());
            app.settle().await;
            assert_eq!(app.request(&id).await.state, RequestState::AwaitingMfa);
            assert!(app.request(&id).await.approvals.is_empty(), "nothing approved before the step-up");
            assert!(fake.calls().is_empty(), "the provider is asked when the request reaches the approvers");

            let mfa = Scenario {
                amr: Some(vec!["pwd".into(), "mfa".into()]),
                ..Scenario::person(ALICE_OID, "alice@contoso.com")
            };
            let page = sign_in(&app, &link, mfa).await;
            assert_eq!(page.status, 200, "{page:?}");
            app.settle().await;
            let request = app.request(&id).await;
            assert_eq!(request.state, RequestState::Active, "approved on call after the step-up");
            assert_eq!(request.approvals[0].approver.to_string(), "on call per PagerDuty P1ABCD");
            assert_eq!(fake.calls().len(), 1);
            app.stop().await;
        };
        tokio::time::timeout(StdDuration::from_secs(90), run)
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn a_critical_role_is_auto_approved_only_when_its_rule_says_allow_critical() {
    each_backend(|app, fake| async move {
        // The rule of a critical role without allow_critical is refused by `pimbot check`
        // (config::tests::oncall); this one opts in, and the feed names the tier.
        fake.set_on_call("P9CRIT", "alice@contoso.com");
        let (reply, id) = app.activate("U0ALICE", "sec-admin 30m contain the breach").await;
        assert!(reply.text().contains("approved automatically"), "{}", reply.text());
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert!(
            feed(&app).iter().any(|t| t.contains("ON-CALL AUTO-APPROVED") && t.contains("(critical)")),
            "{:?}",
            feed(&app)
        );
        app.stop().await;
    })
    .await;
}
