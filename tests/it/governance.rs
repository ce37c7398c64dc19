//! PIM governance end to end on SQLite and PostgreSQL with the manual clock: alerts from crafted
//! history fire once per period; review campaigns run from start to deadline with keep, remove
//! and no answer (default applied) on policy and Graph eligibility; `/pim renew` round-trips;
//! `pimbot posture` fails a one-approver critical role and passes the shipped example.

use chrono::{Duration, Utc};
use pimbot::core::ids::{ChatUser, PersonId, RoleKey};
use pimbot::core::reviews::ReviewDecision;
use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind};

use crate::graph::{ALICE, GA, on_every_backend_graph};
use crate::support::app::{ALERTS, APPROVERS, FEED, POLICY, TestApp};
use crate::support::db::backends;

async fn each_backend<F, Fut>(policy: &str, body: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, policy).await;
        tokio::time::timeout(std::time::Duration::from_secs(90), body(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

fn alert_lines(app: &TestApp, fragment: &str) -> usize {
    app.channel(ALERTS).iter().filter(|m| m.text.contains(fragment)).count()
}

#[tokio::test]
async fn alerts_fire_from_history_once_per_period() {
    // reader: at most one activation per 30 days, and working hours that exclude now.
    let policy = POLICY.replace(
        "tier = \"standard\"\nmin_duration = \"1s\"",
        "tier = \"standard\"\nmin_duration = \"1s\"\nmax_activations = 1\nworking_hours = \"Mon-Sun 00:00-00:01 UTC\"",
    );
    each_backend(&policy, |app: TestApp| async move {
        let service = app.running.service.clone();
        for _ in 0..2 {
            app.activate("U0ALICE", "reader 5m check the logs").await;
            app.settle().await;
        }
        let raised = service.raise_alerts().await.expect("alerts");
        app.settle().await;
        assert!(raised >= 3, "{raised}: {:?}", app.channel(ALERTS));
        assert_eq!(
            alert_lines(&app, "activated `reader` 2 times in 30 days"),
            1,
            "{:?}",
            app.channel(ALERTS)
        );
        assert!(alert_lines(&app, "outside working hours") >= 1);
        // global-admin: alice may approve and is eligible, without disjoint_approvers.
        assert_eq!(alert_lines(&app, "may both request and approve `global-admin`"), 1);
        assert!(app.channel(ALERTS).iter().all(|m| m.text.contains("What to do")));
        let before = app.channel(ALERTS).len();
        let metrics = reqwest::get(format!("http://{}/metrics", app.running.addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("body");
        assert!(metrics.contains("pimbot_alerts_total{kind=\"frequent_activation\"}"), "{metrics}");
        let audit = app.store().audit_records(None).await.expect("audit");
        assert_eq!(
            audit.iter().filter(|r| r.event.kind == "alert.raised").count(),
            raised,
            "each alert audited"
        );

        // Same period: nothing again, however often it is evaluated.
        assert_eq!(service.raise_alerts().await.expect("alerts"), 0);
        app.settle().await;
        assert_eq!(app.channel(ALERTS).len(), before);

        // Refused activations make a burst.
        for _ in 0..5 {
            let reply =
                app.slack.command("U0ERIN", "activate global-admin 1h #T-1 let me in").await.expect("cmd");
            assert!(reply.text().contains("not eligible"), "{}", reply.text());
        }
        service.raise_alerts().await.expect("alerts");
        app.settle().await;
        assert_eq!(alert_lines(&app, "refused or failed activations by erin"), 1);

        // A week later the policy findings repeat (a new period); activity ones do not.
        app.advance(Duration::days(8));
        service.raise_alerts().await.expect("alerts");
        app.settle().await;
        assert_eq!(alert_lines(&app, "may both request and approve `global-admin`"), 2);
        assert_eq!(alert_lines(&app, "activated `reader` 2 times in 30 days"), 1);
        app.stop().await;
    })
    .await;
}

fn with_review(policy: &str, roles: &str, reviewer: &str) -> String {
    format!(
        "{policy}\n[[review]]\nname = \"ga\"\nroles = [{roles}]\nreviewer = \"{reviewer}\"\ncadence = \"30d\"\nduration = \"2d\"\ndefault = \"remove\"\n"
    )
}

#[tokio::test]
async fn a_review_campaign_keeps_removes_and_defaults_on_policy_eligibility() {
    let policy = with_review(
        &POLICY.replace(
            "eligible = [\"alice\", \"bob\"]\n\n[[role]]\nkey = \"user-admin\"",
            "eligible = [\"alice\", \"bob\", \"dave\"]\n\n[[role]]\nkey = \"user-admin\"",
        ),
        "\"global-admin\"",
        "carol",
    );
    each_backend(&policy, |app: TestApp| async move {
        let service = app.running.service.clone();
        assert!(service.review_sweep().await.expect("sweep") >= 1, "campaign started");
        assert_eq!(service.review_sweep().await.expect("sweep"), 0, "one campaign per period");
        app.settle().await;
        let items = app.store().open_review_items(10).await.expect("items");
        assert_eq!(items.len(), 3);
        let item = |who: &str| items.iter().find(|i| i.person.as_str() == who).expect("item").id.clone();
        // Carol's cards arrive as DMs with Keep / Remove and the person's history.
        let card = |id: &str| {
            app.fake.messages().into_iter().find(|m| m.blocks.to_string().contains(id)).expect("card sent")
        };
        let alice_card = card(&item("alice"));
        assert!(alice_card.blocks.to_string().contains("review_keep"), "{}", alice_card.blocks);
        assert!(alice_card.blocks.to_string().contains("activation(s) since"));
        let listed = app.slack.command("U0CAROL", "reviews").await.expect("reviews");
        assert!(listed.text().contains(&item("bob")), "{}", listed.text());

        // Keep (a click), remove (a click); bob gets no answer.
        let reply =
            app.slack.click("U0CAROL", "review_keep", &item("alice"), &alice_card.channel, &alice_card.ts).await.expect("click");
        assert_eq!(reply.status, 200);
        let dave_card = card(&item("dave"));
        app.slack.click("U0CAROL", "review_remove", &item("dave"), &dave_card.channel, &dave_card.ts).await.expect("click");
        // Not a reviewer: refused, nothing changes.
        let refused = service.decide_review(&ChatUser::slack("U0ALICE"), &item("bob"), ReviewDecision::Keep).await;
        assert!(refused.is_err());
        app.settle().await;
        let removed = |who: &str| {
            let store = app.store().clone();
            let who = PersonId::from(who);
            async move { store.eligibility_removed(&who, &RoleKey::from("global-admin")).await.expect("read") }
        };
        assert!(!removed("alice").await);
        assert!(removed("dave").await, "a remove is honoured at once");
        let reply = app.slack.command("U0DAVE", "activate global-admin 1h #T-1 fix").await.expect("cmd");
        assert!(reply.text().contains("not eligible"), "{}", reply.text());

        // A nudge before the deadline, then the default at it.
        let bob = app.store().review_item(&item("bob")).await.expect("read").expect("item");
        app.clock.set(bob.nudge_at.expect("nudge due"));
        service.review_sweep().await.expect("sweep");
        app.settle().await;
        let reminded = app.fake.messages().into_iter().filter(|m| m.text.contains("Reminder") && m.text.contains("bob")).count();
        assert_eq!(reminded, 1);
        app.clock.set(bob.deadline);
        service.review_sweep().await.expect("sweep");
        app.settle().await;
        assert!(removed("bob").await, "no answer: the default (remove) applied");
        let statuses = app.store().campaign_statuses().await.expect("campaigns");
        assert!(statuses[0].0.completed_at.is_some(), "{statuses:?}");
        assert!(app.channel(FEED).iter().any(|m| m.text.contains("is complete")));
        let audit = app.store().audit_records(None).await.expect("audit");
        let decided = audit.iter().filter(|r| r.event.kind == "review.decided").count();
        assert_eq!(decided, 3);
        let report = service.posture().await.expect("posture");
        assert!(report.questions[2].findings.iter().any(|f| f.ok && f.detail.contains("completed")), "{report:?}");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_graph_eligibility_review_removes_the_schedule_with_admin_remove() {
    on_every_backend_graph("graph", |app: TestApp, fake: FakeGraph| async move {
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, ALICE, GA, "/"));
        let text = app.policy_text.lock().expect("lock").clone();
        assert_eq!(app.set_policy(&with_review(&text, "\"global-admin\"", "carol")).await, 200);
        let service = app.running.service.clone();
        service.review_sweep().await.expect("sweep");
        let items = app.store().open_review_items(10).await.expect("items");
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].origin.as_str(), "directory");
        service
            .decide_review(&ChatUser::slack("U0CAROL"), &items[0].id, ReviewDecision::Remove)
            .await
            .expect("decide");
        let removal = fake
            .calls()
            .into_iter()
            .find(|c| c.path.ends_with("roleEligibilityScheduleRequests"))
            .expect("adminRemove of the eligibility schedule");
        assert_eq!(removal.body["action"], "adminRemove");
        assert_eq!(removal.body["principalId"], ALICE);
        assert_eq!(removal.body["roleDefinitionId"], GA);
        assert!(fake.calls().iter().all(|c| c.status < 400 || !c.path.ends_with("ScheduleRequests")));
        let reply = app.slack.command("U0ALICE", "activate global-admin 1h fix").await.expect("cmd");
        assert!(reply.text().contains("not eligible"), "{}", reply.text());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn renew_round_trips_through_the_approvers() {
    let until = (Utc::now() + Duration::days(3)).format("%Y-%m-%d").to_string();
    let policy = POLICY.replace(
        "approvers = [\"carol\", \"dave\", \"erin\"]\neligible = [\"alice\"]",
        &format!("approvers = [\"carol\", \"dave\", \"erin\"]\neligible = [{{ who = \"alice\", until = \"{until}\" }}]"),
    );
    each_backend(&policy, |app: TestApp| async move {
        let service = app.running.service.clone();
        // Within warn_before (7d): alice and the approvers are told, once.
        assert_eq!(service.warn_expiring().await.expect("warn"), 1);
        assert_eq!(service.warn_expiring().await.expect("warn"), 0);
        app.settle().await;
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("/pim renew user-admin")));
        let reply =
            app.slack.command("U0ALICE", "renew user-admin 30d still on the migration").await.expect("cmd");
        assert!(reply.text().contains("Renewal `e-"), "{}", reply.text());
        app.settle().await;
        let card = app
            .channel(APPROVERS)
            .into_iter()
            .find(|m| m.blocks.to_string().contains("renew_approve"))
            .expect("renewal card");
        let id = card.text.split_whitespace().nth(1).expect("id").trim_end_matches(':').to_owned();
        // The requester cannot approve it; carol can.
        assert!(service.decide_renewal(&ChatUser::slack("U0ALICE"), &id, true).await.is_err());
        app.slack.click("U0CAROL", "renew_approve", &id, APPROVERS, &card.ts).await.expect("click");
        app.settle().await;
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("renewed alice's eligibility")));
        // After the policy's end, the approved extension keeps alice eligible.
        app.advance(Duration::days(5));
        let (reply, _) = app.activate("U0ALICE", "user-admin 1h rotate keys").await;
        assert!(reply.text().contains("waiting for approval"), "{}", reply.text());
        app.stop().await;
    })
    .await;
}

fn posture(config: &str, extra: &[&str], db: &str) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(["posture", "--config", config])
        .args(extra)
        .env_remove("PIMBOT_CONFIG")
        .env("PIMBOT_DATABASE_URL", db)
        .output()
        .expect("run pimbot");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn posture_fails_a_one_approver_critical_role_and_passes_the_shipped_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("posture.db").display());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pimbot.toml");
    let (code, text) = posture(example, &[], &db);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("all four questions hold"), "{text}");
    let (code, json) = posture(example, &["--json", "--offline"], &db);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(report["ok"], true);

    let text = std::fs::read_to_string(example).expect("example");
    let one = text.replace("approvers = [\"@ga-approvers\"]", "approvers = [\"carol\"]");
    assert_ne!(one, text, "the example's critical role names its approvers");
    let path = dir.path().join("one-approver.toml");
    std::fs::write(&path, one).expect("write");
    let (code, out) = posture(&path.display().to_string(), &[], &db);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("FAIL 2.") && out.contains("1 person(s) can approve"), "{out}");
    let (code, _) = posture(&path.display().to_string(), &["--offline"], &db);
    assert_eq!(code, 4);
}

#[tokio::test]
async fn an_activation_never_runs_past_the_eligibility_end() {
    let end = pimbot::core::audit::truncate_micros(Utc::now() + Duration::minutes(30));
    let end = chrono::DateTime::from_timestamp(end.timestamp(), 0).expect("valid");
    let policy = POLICY.replace(
        "tier = \"standard\"\nmin_duration = \"1s\"\neligible = [\"alice\", \"bob\"]",
        &format!(
            "tier = \"standard\"\nmin_duration = \"1s\"\neligible = [{{ who = \"alice\", until = \"{}\" }}]",
            end.to_rfc3339()
        ),
    );
    assert_ne!(policy, POLICY);
    each_backend(&policy, |app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "reader 2h read the logs").await;
        app.settle().await;
        let grant =
            app.store().open_grant(&"alice".into(), &"reader".into()).await.expect("read").expect("active");
        assert_eq!(grant.ends_at, end, "capped at the eligibility's end ({id})");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn posture_reads_standing_assignments_from_graph() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        let service = app.running.service.clone();
        let first = service.posture().await.expect("posture");
        assert!(first.questions[0].ok, "{first:?}");
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, ALICE, GA, "/"));
        let report = service.posture().await.expect("posture");
        assert!(!report.ok && !report.questions[0].ok);
        let text = pimbot::core::posture::render_text(&report);
        assert!(text.contains("permanent active assignment held by alice"), "{text}");
        // The graph test policy has a one-approver critical role and no review: 2 and 3 fail too.
        assert!(!report.questions[1].ok && !report.questions[2].ok, "{text}");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stale_eligibility_and_too_many_active_fire_once_per_period() {
    // reader: at most one active grant; bob and alice eligible.
    let policy = POLICY.replace(
        "tier = \"standard\"\nmin_duration = \"1s\"",
        "tier = \"standard\"\nmin_duration = \"1s\"\nmax_active = 1",
    );
    each_backend(&policy, |app: TestApp| async move {
        let service = app.running.service.clone();
        app.activate("U0ALICE", "reader 2h look").await;
        app.activate("U0BOB", "reader 2h look").await;
        app.settle().await;
        service.raise_alerts().await.expect("alerts");
        service.raise_alerts().await.expect("alerts");
        app.settle().await;
        assert_eq!(alert_lines(&app, "2 grants of `reader` are active at once"), 1);
        assert_eq!(alert_lines(&app, "has not used"), 0, "the trail is too young to call anyone stale");

        // 91 days on: alice and bob used reader 91 days ago, nobody ever used global-admin.
        app.advance(Duration::days(91));
        app.settle().await;
        service.raise_alerts().await.expect("alerts");
        service.raise_alerts().await.expect("alerts");
        app.settle().await;
        let stale: Vec<String> = app
            .channel(ALERTS)
            .into_iter()
            .filter(|m| m.text.contains("has not used"))
            .map(|m| m.text)
            .collect();
        assert!(
            stale
                .iter()
                .any(|t| t.contains("bob has not used `global-admin`") && t.contains("last use: none")),
            "{stale:?}"
        );
        assert!(
            stale.iter().any(|t| t.contains("alice has not used `reader`") && !t.contains("none")),
            "{stale:?}"
        );
        let n = stale.len();
        app.advance(Duration::days(1));
        service.raise_alerts().await.expect("alerts");
        app.settle().await;
        let again = app.channel(ALERTS).into_iter().filter(|m| m.text.contains("has not used")).count();
        assert_eq!(again, n, "once per stale_after period");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn review_changes_prints_the_policy_diff_of_recorded_removals() {
    let db = crate::support::db::sqlite().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pimbot.toml");
    std::fs::write(&path, POLICY).expect("write");
    let removal = pimbot::core::ports::EligibilityRemoval {
        person: "bob".into(),
        role: "global-admin".into(),
        removed_at: Utc::now(),
        item_id: Some("ri-1".into()),
    };
    let governance = pimbot::core::ports::GovernanceWrites { removals: vec![removal], ..Default::default() };
    db.store.commit(pimbot::core::ports::Commit { governance, ..Default::default() }).await.expect("record");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(["review", "changes", "--config", &path.display().to_string()])
        .env_remove("PIMBOT_CONFIG")
        .env("PIMBOT_DATABASE_URL", &db.url)
        .output()
        .expect("run pimbot");
    let diff = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{diff}");
    assert!(
        diff.contains("-eligible = [\"alice\", \"bob\"]") && diff.contains("+eligible = [\"alice\"]"),
        "{diff}"
    );
    assert_eq!(diff.matches("\n-").count(), 1, "only global-admin's list changes: {diff}");
}
