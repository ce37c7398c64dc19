//! Graph directory failure paths and drift: an end the directory keeps refusing alerts once
//! and is retried; reconciliation reports standing and overlong assignments and, when
//! configured, removes unmanaged ones (never break-glass accounts).

use chrono::Duration;
use pimbot::core::state::RequestState;
use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind, GraphFault};

use crate::graph::{ALICE, BOB, CONTRIBUTOR, GA, GLASS, SUB, on_every_backend_graph};
use crate::support::app::{ALERTS, TestApp};

#[tokio::test]
async fn an_end_that_keeps_failing_alerts_once_and_is_retried() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0ALICE", "reader 30m audit review").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        fake.fail_next(10_000, GraphFault::Unavailable);
        app.advance(Duration::minutes(31));
        for _ in 0..4 {
            pimbot::scheduler::sweep_once(&app.running.service).await;
        }
        app.settle().await;
        assert_eq!(
            app.request(&id).await.state,
            RequestState::Active,
            "still open while the directory refuses"
        );
        let loud =
            |app: &TestApp| app.channel(ALERTS).iter().filter(|m| m.text.contains("Could not END")).count();
        assert_eq!(loud(&app), 1, "one alert: {:?}", app.channel(ALERTS));
        for _ in 0..3 {
            pimbot::scheduler::sweep_once(&app.running.service).await;
        }
        app.settle().await;
        assert_eq!(loud(&app), 1, "no spam within the quiet period");

        fake.clear_faults();
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Expired);
        assert!(fake.assignments().is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reconciliation_reports_standing_access_and_overlong_assignments() {
    on_every_backend_graph("policy", |app: TestApp, fake: FakeGraph| async move {
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, BOB, GA, "/"));
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, GLASS, GA, "/"));
        let (_, id) = app.activate("U0ALICE", "reader 30m audit review").await;
        let (_, group) = app.activate("U0ALICE", "ops-group 30m paging").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert_eq!(app.request(&group).await.state, RequestState::Active);
        // The group membership somehow became permanent in the directory.
        fake.set_assignment_end(ALICE, None);
        fake.add_assignment(FakeAssignment::standing(
            FakeKind::Arm,
            BOB,
            &format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"),
            SUB,
        ));

        let report = app.running.service.reconcile(true).await.expect("reconcile").expect("graph lists");
        let found: Vec<(pimbot::core::service::DriftKind, String, String)> = report
            .drift
            .iter()
            .map(|d| {
                (
                    d.kind,
                    d.assignment.role.to_string(),
                    d.person.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        use pimbot::core::service::DriftKind::{OutlivesGrant, Unmanaged};
        assert!(found.contains(&(Unmanaged, "global-admin".into(), "bob".into())), "{found:?}");
        assert!(found.contains(&(Unmanaged, "contributor".into(), "bob".into())), "{found:?}");
        assert!(found.contains(&(OutlivesGrant, "reader".into(), "alice".into())), "{found:?}");
        assert!(found.contains(&(OutlivesGrant, "ops-group".into(), "alice".into())), "{found:?}");
        assert_eq!(found.len(), 4, "break-glass skipped: {found:?}");
        assert!(report.drift.iter().all(|d| !d.removed), "report only by default");
        app.settle().await;
        let alerts = app.channel(ALERTS);
        let drift = alerts.iter().find(|m| m.text.contains("Directory drift")).expect("drift alert");
        assert!(drift.text.contains("bob") && drift.text.contains("standing access"), "{}", drift.text);
        assert_eq!(fake.assignments().len(), 5, "nothing removed");

        // The periodic pass does not repeat what was just reported.
        app.running.service.reconcile(false).await.expect("reconcile");
        app.settle().await;
        assert_eq!(app.channel(ALERTS).iter().filter(|m| m.text.contains("Directory drift")).count(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reconciliation_removes_unmanaged_assignments_when_configured() {
    on_every_backend_graph("policy+remove", |app: TestApp, fake: FakeGraph| async move {
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, BOB, GA, "/"));
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, GLASS, GA, "/"));
        let (_, id) = app.activate("U0ALICE", "reader 30m audit review").await;
        app.settle().await;
        let report = app.running.service.reconcile(false).await.expect("reconcile").expect("graph lists");
        assert_eq!(report.drift.len(), 1);
        assert!(report.drift[0].removed);
        let left: Vec<String> = fake.assignments().iter().map(|a| a.principal_id.clone()).collect();
        assert_eq!(
            left,
            [GLASS.to_owned(), ALICE.to_owned()],
            "bob's standing access removed, the rest kept"
        );
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        app.settle().await;
        assert!(app.channel(ALERTS).iter().any(|m| m.text.contains("REMOVED")));
        app.stop().await;
    })
    .await;
}
