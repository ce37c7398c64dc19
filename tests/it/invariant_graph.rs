//! The grant invariant against Microsoft Graph (the fake), on every backend: patient grants
//! through an outage, eligibility checked like a security decision (rows about someone else
//! never count, group-held eligibility does, separation of duties asks PIM), eligibility
//! removed in PIM ends the open grant, and reconciliation never touches break-glass accounts
//! and tells PIM activations apart from standing access.

use chrono::Duration;
use pimbot::core::ports::Clock;
use pimbot::core::service::DriftKind;
use pimbot::core::state::RequestState;
use pimbot::testing::fake_graph::body_str;
use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind, FakeUser, GraphFault};

use crate::support::app::{ALERTS, TestApp};
use crate::support::graph_app::{
    ALICE, BOB, CAROL, DAVE, GA, Knobs, READER, active_grants, fake_assignments, on_every_backend,
    wait_for_agreement,
};

const AGREE: std::time::Duration = std::time::Duration::from_secs(30);

#[tokio::test]
async fn an_outage_at_approval_keeps_the_request_approved_and_grants_when_graph_recovers() {
    on_every_backend(Knobs::default(), |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 30m rotate leaked secret").await;
        app.settle().await;
        fake.fail_next(usize::MAX, GraphFault::Unavailable);
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        let waiting = app.request(&id).await;
        assert_eq!(waiting.state, RequestState::Approved, "not failed: retried with backoff");
        assert_eq!(waiting.approvals.len(), 1, "the approval is kept");
        assert!(
            app.card(&id).blocks.to_string().contains("granting… (retrying)"),
            "{}",
            app.card(&id).blocks
        );
        // Two minutes of 503s, in steps, each retry due on time.
        for _ in 0..8 {
            app.advance(Duration::seconds(15));
            app.settle().await;
            assert_eq!(app.request(&id).await.state, RequestState::Approved);
        }
        fake.clear_faults();
        app.advance(Duration::seconds(61));
        app.settle().await;
        let granted = app.request(&id).await;
        assert_eq!((granted.state, granted.approvals.len()), (RequestState::Active, 1));
        assert_eq!(fake_assignments(&fake), [(ALICE.to_owned(), GA.to_owned())]);
        assert_eq!(active_grants(app.store()).await, fake_assignments(&fake));
        let card = app.card(&id).blocks.to_string();
        assert!(card.contains("Approved by") && !card.contains("retrying"), "{card}");
        let kinds: Vec<String> =
            app.store().audit_records(None).await.expect("audit").into_iter().map(|r| r.event.kind).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "grant.retrying").count(), 1, "{kinds:?}");
        assert!(!kinds.contains(&"grant.failed".to_owned()));
        app.stop().await;
    })
    .await;
}

/// Security Reader, a no-approval role four people may activate.
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";

/// The activation sweep makes the grants it finds waiting side by side (up to
/// `ACTIVATION_CONCURRENCY`), not one after another: with every Graph answer slow, four
/// people's grants are in flight together (serial sweeps, even two racing, make at most two at
/// once), and each is asked for once.
#[tokio::test]
async fn waiting_grants_are_made_side_by_side_and_each_once() {
    let tail = format!(
        "\n[[role]]\nkey = \"security-reader\"\nname = \"Security Reader\"\nkind = \"entra-role\"\n\
         directory_id = \"{SECURITY_READER}\"\ntier = \"standard\"\nmin_duration = \"1m\"\n\
         eligible = [\"alice\", \"bob\", \"carol\", \"dave\"]\n"
    );
    on_every_backend(Knobs { tail, ..Knobs::default() }, |app: TestApp, fake: FakeGraph| async move {
        const PEOPLE: [(&str, &str); 4] =
            [("U0ALICE", ALICE), ("U0BOB", BOB), ("U0CAROL", CAROL), ("U0DAVE", DAVE)];
        fake.fail_next(usize::MAX, GraphFault::Unavailable);
        let mut ids = Vec::new();
        for (user, _) in PEOPLE {
            ids.push(app.activate(user, "security-reader 30m read the sign-in logs").await.1);
        }
        app.settle().await;
        for id in &ids {
            assert_eq!(app.request(id).await.state, RequestState::Approved, "waiting for the directory");
        }
        fake.clear_faults();
        fake.set_delay(std::time::Duration::from_millis(300));
        // Every retry falls due at once, so one sweep reads them all.
        app.advance(Duration::minutes(2));
        wait_for_agreement(&app, &fake, AGREE).await;
        for id in &ids {
            assert_eq!(app.request(id).await.state, RequestState::Active);
        }
        assert!(
            fake.max_in_flight() >= 4,
            "grants were made one at a time: at most {} at once",
            fake.max_in_flight()
        );
        let mut all: Vec<(String, String)> =
            PEOPLE.iter().map(|(_, object)| (object.to_string(), SECURITY_READER.to_owned())).collect();
        all.sort();
        assert_eq!(fake_assignments(&fake), all);
        assert_eq!(fake.accepted_requests().len(), 4, "each grant asked for once");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_grant_that_cannot_be_made_within_grant_retry_for_fails_loudly() {
    let knobs = Knobs { directory: "grant_retry_for = \"2m\"\n".into(), ..Knobs::default() };
    on_every_backend(knobs, |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 30m rotate leaked secret").await;
        app.settle().await;
        fake.fail_next(usize::MAX, GraphFault::Unavailable);
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        app.advance(Duration::minutes(3));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Failed);
        let card = app.card(&id).blocks.to_string();
        assert!(card.contains("but the grant failed"), "{card}");
        assert!(
            app.channel(ALERTS)
                .iter()
                .any(|m| m.text.contains("Grant FAILED") && m.text.contains(id.as_str()))
        );
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("approved, but the grant failed")));
        // Whatever an earlier try may have made is removed once Graph answers again.
        fake.clear_faults();
        wait_for_agreement(&app, &fake, AGREE).await;
        assert!(fake_assignments(&fake).is_empty());
        assert!(app.store().open_grants(10).await.expect("grants").is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn eligibility_rows_about_someone_else_never_count() {
    let knobs = Knobs { eligibility: "graph", ..Knobs::default() };
    on_every_backend(knobs, |app: TestApp, fake: FakeGraph| async move {
        fake.ignore_filters(true);
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, ALICE, READER, "/"));
        let refused = app.slack.command("U0BOB", "activate reader 30m not mine").await.expect("command");
        assert!(refused.text().contains("not eligible"), "{}", refused.text());
        let (_, id) = app.activate("U0ALICE", "reader 30m mine").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);

        // Eligibility held through a group counts: bob is a member of a group eligible for it.
        let group = "9a000000-0000-0000-0000-0000000000aa";
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, group, READER, "/"));
        fake.add_member(BOB, group);
        app.advance(Duration::seconds(61)); // past the eligibility cache
        let (_, bobs) = app.activate("U0BOB", "reader 30m through my group").await;
        app.settle().await;
        assert_eq!(app.request(&bobs).await.state, RequestState::Active);

        // So does a group carol may activate through PIM for Groups.
        let pim_group = "9b000000-0000-0000-0000-0000000000bb";
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Group, CAROL, pim_group, ""));
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, pim_group, READER, "/"));
        app.advance(Duration::seconds(61));
        let (_, carols) = app.activate("U0CAROL", "reader 30m through PIM for Groups").await;
        app.settle().await;
        assert_eq!(app.request(&carols).await.state, RequestState::Active);
        assert_eq!(fake_assignments(&fake).len(), 3, "alice, bob and carol");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn disjoint_approvers_asks_pim_whatever_the_eligibility_source() {
    for eligibility in ["policy", "graph"] {
        let knobs = Knobs { eligibility, disjoint: true, ..Knobs::default() };
        on_every_backend(knobs, |app: TestApp, fake: FakeGraph| async move {
            fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, ALICE, GA, "/"));
            // carol may activate Global Administrator herself in PIM; the policy lists say nothing.
            fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, CAROL, GA, "/"));
            let (_, id) = app.activate("U0ALICE", "global-admin 30m rotate leaked secret").await;
            app.settle().await;
            app.click("U0CAROL", "approve", &id).await;
            app.settle().await;
            assert_eq!(app.request(&id).await.state, RequestState::Pending, "{eligibility}");
            assert!(
                app.ephemerals("U0CAROL")
                    .iter()
                    .any(|m| m.text.contains("eligible for `global-admin` yourself")),
                "{eligibility}: {:?}",
                app.ephemerals("U0CAROL")
            );
            app.click("U0DAVE", "approve", &id).await;
            app.settle().await;
            assert_eq!(app.request(&id).await.state, RequestState::Active, "{eligibility}");
            app.stop().await;
        })
        .await;
    }
}

#[tokio::test]
async fn eligibility_removed_in_pim_ends_the_open_grant() {
    let knobs = Knobs { eligibility: "graph", ..Knobs::default() };
    on_every_backend(knobs, |app: TestApp, fake: FakeGraph| async move {
        fake.add_eligibility(FakeAssignment::standing(FakeKind::Entra, ALICE, READER, "/"));
        let (_, id) = app.activate("U0ALICE", "reader 1h audit").await;
        app.settle().await;
        assert_eq!(fake_assignments(&fake).len(), 1);
        fake.remove_eligibilities(ALICE);
        app.advance(Duration::seconds(61)); // the cache and the sweep's cadence
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(
            (request.state, request.reason.as_deref()),
            (RequestState::Revoked, Some("no longer eligible"))
        );
        assert!(fake_assignments(&fake).is_empty(), "removed in the directory");
        let removes =
            fake.accepted_requests().iter().filter(|c| body_str(&c.body, "action") == "adminRemove").count();
        assert_eq!(removes, 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn revoke_sends_the_directory_remove_now() {
    on_every_backend(Knobs::default(), |app: TestApp, fake: FakeGraph| async move {
        let (_, id) = app.activate("U0BOB", "reader 1h audit").await;
        app.settle().await;
        let refused = app.slack.command("U0CAROL", "revoke bob reader suspicious").await.expect("cmd");
        assert!(refused.text().contains("may not revoke"), "{}", refused.text());
        assert_eq!(fake_assignments(&fake).len(), 1, "a refusal removes nothing");
        let done = app.slack.command("U0ERIN", "revoke bob reader suspicious sign-in").await.expect("cmd");
        assert!(done.text().contains("is revoked"), "{}", done.text());
        assert!(fake_assignments(&fake).is_empty());
        let remove = fake.accepted_requests().into_iter().last().expect("a call");
        assert_eq!(
            (body_str(&remove.body, "action"), body_str(&remove.body, "principalId")),
            ("adminRemove", BOB)
        );
        assert_eq!(app.request(&id).await.state, RequestState::Revoked);
        app.stop().await;
    })
    .await;
}

const GLASS_UPN: &str = "bg2@contoso.onmicrosoft.com";
const GLASS: &str = "bb000000-0000-0000-0000-0000000000b2";
const STANDING: &str = "5a000000-0000-0000-0000-0000000000a5";

#[tokio::test]
async fn reconciliation_never_removes_a_break_glass_account_named_by_upn() {
    let knobs = Knobs {
        directory: "remove_unmanaged = true\n".into(),
        tail: format!("\n[[break_glass]]\nupn = \"{GLASS_UPN}\"\n"),
        ..Knobs::default()
    };
    on_every_backend(knobs, |app: TestApp, fake: FakeGraph| async move {
        fake.add_user(FakeUser {
            id: GLASS.into(),
            upn: GLASS_UPN.into(),
            mail: GLASS_UPN.into(),
            enabled: true,
        });
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, GLASS, GA, "/"));
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, STANDING, GA, "/"));
        let now = app.clock.now();
        fake.add_assignment(FakeAssignment {
            start: Some(now),
            end: Some(now + Duration::hours(1)),
            assignment_type: "Activated".into(),
            ..FakeAssignment::standing(FakeKind::Entra, ALICE, READER, "/")
        });
        let report = app.running.service.reconcile(true).await.expect("reconcile").expect("graph lists");
        let kinds: Vec<(DriftKind, bool)> = report.drift.iter().map(|d| (d.kind, d.removed)).collect();
        assert_eq!(kinds, [(DriftKind::Unmanaged, true), (DriftKind::ActivatedOutside, false)], "{report:?}");
        let left: Vec<String> = fake.assignments().into_iter().map(|a| a.principal_id).collect();
        assert_eq!(left, [GLASS, ALICE], "the break-glass assignment and the PIM activation stay");
        app.settle().await;
        let alert = app.channel(ALERTS).last().map(|m| m.text.clone()).unwrap_or_default();
        assert!(alert.contains("activated outside pimbot") && alert.contains("REMOVED"), "{alert}");

        // A break-glass UPN the directory does not know: nothing at all is removed.
        fake.add_assignment(FakeAssignment::standing(FakeKind::Entra, STANDING, GA, "/"));
        fake.remove_user(GLASS_UPN);
        let report = app.running.service.reconcile(true).await.expect("reconcile").expect("graph lists");
        assert_eq!(report.unresolved_break_glass, [GLASS_UPN]);
        assert!(report.drift.iter().all(|d| !d.removed), "{report:?}");
        assert_eq!(fake.assignments().len(), 3, "the break-glass account could be any of them");
        app.stop().await;
    })
    .await;
}
