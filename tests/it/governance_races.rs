//! Two replicas on one database (SQLite and PostgreSQL): every alert, campaign, nudge and
//! default happens once however the two interleave, and a lost compare-and-set changes nothing.

use std::sync::Arc;

use pimbot::core::ids::Platform;
use pimbot::core::ports::{Clock, Commit, GovernanceWrites, Write};
use pimbot::core::reviews::ReviewDecision;
use pimbot::core::service::AccessService;
use pimbot::directory::StaticDirectory;

use crate::support::app::{ALERTS, APPROVERS, FEED, POLICY, TestApp};
use crate::support::db::backends;

const REVIEW: &str = "\n[[review]]\nname = \"ga\"\nroles = [\"global-admin\"]\nreviewer = \"carol\"\ncadence = \"30d\"\nduration = \"2d\"\n";

/// A second `AccessService` on the same database and clock: another replica.
fn replica(app: &TestApp, policy: &str) -> Arc<AccessService> {
    let config = pimbot::config::from_toml_str(policy).expect("parses");
    let policy = config.validate(app.clock.now()).expect("valid");
    let channels = vec![pimbot::app::channels(
        Platform::Slack,
        &Some(APPROVERS.into()),
        &Some(FEED.into()),
        &Some(ALERTS.into()),
    )];
    Arc::new(AccessService::new(
        app.store().clone(),
        Arc::new(StaticDirectory::new()),
        app.clock.clone(),
        policy,
        channels,
    ))
}

#[tokio::test]
async fn two_replicas_raise_each_alert_and_run_each_review_step_once() {
    let policy = format!("{POLICY}{REVIEW}");
    for db in backends().await {
        let app = TestApp::spawn_with(db, &policy).await;
        let (a, b) = (app.running.service.clone(), replica(&app, &policy));

        let (x, y) = tokio::join!(a.raise_alerts(), b.raise_alerts());
        let raised = x.expect("a") + y.expect("b");
        let expected = a.current_alerts().await.expect("alerts").len();
        assert!(expected > 0);
        assert_eq!(raised, expected, "each alert raised by exactly one replica");
        app.settle().await;
        let texts: Vec<String> = app.channel(ALERTS).into_iter().map(|m| m.text).collect();
        let mut unique = texts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(texts.len(), unique.len(), "no alert posted twice: {texts:?}");

        let (x, y) = tokio::join!(a.review_sweep(), b.review_sweep());
        x.expect("a");
        y.expect("b");
        let campaigns = app.store().campaign_statuses().await.expect("campaigns");
        assert_eq!(campaigns.len(), 1, "one campaign per period");
        let items = app.store().open_review_items(10).await.expect("items");
        assert_eq!(items.len(), 2);

        app.clock.set(items[0].nudge_at.expect("nudge"));
        let (x, y) = tokio::join!(a.review_sweep(), b.review_sweep());
        x.expect("a");
        y.expect("b");
        app.settle().await;
        let reminders = app.fake.messages().into_iter().filter(|m| m.text.contains("Reminder")).count();
        assert_eq!(reminders, 2, "one reminder per item");

        app.clock.set(items[0].deadline);
        let (x, y) = tokio::join!(a.review_sweep(), b.review_sweep());
        x.expect("a");
        y.expect("b");
        // A third pass finishes anything a lost race left (it never repeats a step).
        a.review_sweep().await.expect("again");
        // Counted for this campaign and its items only: at the deadline a new period may begin.
        let audit = app.store().audit_records(None).await.expect("audit");
        let ours = |r: &&pimbot::core::audit::AuditRecord| {
            let d = &r.event.detail;
            d.get("campaign").and_then(|c| c.as_str()) == Some(campaigns[0].0.id.as_str())
                || items.iter().any(|i| d.get("item").and_then(|x| x.as_str()) == Some(i.id.as_str()))
        };
        let count = |kind: &str| audit.iter().filter(ours).filter(|r| r.event.kind == kind).count();
        assert_eq!(count("review.started"), 1);
        assert_eq!(count("review.nudged"), 2);
        assert_eq!(count("review.decided"), 2, "the default applied once per item");
        assert_eq!(count("review.applied"), 2);
        assert_eq!(count("review.completed"), 1);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_lost_compare_and_set_on_a_review_item_changes_nothing() {
    let policy = format!("{POLICY}{REVIEW}");
    for db in backends().await {
        let app = TestApp::spawn_with(db, &policy).await;
        app.running.service.review_sweep().await.expect("sweep");
        let item = app.store().open_review_items(10).await.expect("items").remove(0);
        let now = app.clock.now();
        let mut keep = item.clone();
        keep.decide(&"carol".into(), ReviewDecision::Keep, now).expect("decide");
        let mut remove = item.clone();
        remove.decide(&"carol".into(), ReviewDecision::Remove, now).expect("decide");
        let write = |row| Commit {
            governance: GovernanceWrites {
                items: vec![Write::Update { row, expected_version: item.version }],
                ..GovernanceWrites::default()
            },
            ..Commit::default()
        };
        app.store().commit(write(keep)).await.expect("first wins");
        let lost = app.store().commit(write(remove)).await;
        assert!(matches!(lost, Err(pimbot::core::Error::Conflict(_))), "{lost:?}");
        let stored = app.store().review_item(&item.id).await.expect("read").expect("item");
        assert_eq!(stored.decision, Some(ReviewDecision::Keep));
        assert_eq!(stored.version, item.version + 1);
        // The same alert key twice is a conflict too, and a campaign per period is unique.
        let alert = pimbot::core::ports::AlertLogEntry {
            key: "k|1".into(),
            kind: "weak_role".into(),
            role: None,
            person: None,
        };
        let raise = || Commit {
            governance: GovernanceWrites { alerts: vec![alert.clone()], ..GovernanceWrites::default() },
            ..Commit::default()
        };
        app.store().commit(raise()).await.expect("first");
        assert!(matches!(app.store().commit(raise()).await, Err(pimbot::core::Error::Conflict(_))));
        let campaign = app.store().campaign_statuses().await.expect("read").remove(0).0;
        let campaign_id = campaign.id.clone();
        let again = Commit {
            governance: GovernanceWrites {
                campaigns: vec![pimbot::core::reviews::Campaign { id: "rc-other".into(), ..campaign }],
                ..GovernanceWrites::default()
            },
            ..Commit::default()
        };
        assert!(matches!(app.store().commit(again).await, Err(pimbot::core::Error::Conflict(_))));
        // A campaign completes once: the second replica's completion is a conflict.
        let complete = || Commit {
            governance: GovernanceWrites {
                completed: vec![(campaign_id.clone(), app.clock.now())],
                ..GovernanceWrites::default()
            },
            ..Commit::default()
        };
        app.store().commit(complete()).await.expect("first");
        assert!(matches!(app.store().commit(complete()).await, Err(pimbot::core::Error::Conflict(_))));
        app.stop().await;
    }
}
