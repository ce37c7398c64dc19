//! The `Store` conformance suite, run on every backend `support::db::backends` yields.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pimbot::core::Error;
use pimbot::core::audit::{Actor, AuditEvent, AuditRecord, EventKind, truncate_micros};
use pimbot::core::ids::{GrantId, Platform, RequestId};
use pimbot::core::outbox::{OutgoingMessage, Target};
use pimbot::core::ports::{Commit, Store, Write};
use pimbot::core::request::{AccessRequest, Approval, EndReason, Grant, NudgeStage};
use pimbot::core::state::RequestState;
use pimbot::core::view::{MessageBody, Notice};
use pimbot::storage::audit_export::{ExportFormat, ExportRequest, VerifyError};

/// Verifies the chain with the test key, without checkpoints.
async fn verify(store: &dyn Store) -> Result<String, VerifyError> {
    pimbot::storage::audit_export::verify(store, &pimbot::testing::audit::test_ring(), None).await
}

/// The whole trail exported in `format`.
async fn export(store: &dyn Store, format: ExportFormat) -> String {
    let mut out = Vec::new();
    let request = ExportRequest { after_seq: 0, since: None, format, follow: None };
    pimbot::storage::audit_export::export(store, request, &mut out).await.expect("export");
    String::from_utf8(out).expect("utf8")
}

use crate::support::db::{TestDb, backends};

/// A fixed instant with sub-microsecond digits, so truncation is exercised.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid") + Duration::nanoseconds(123_456_789)
}

fn request(id: &str, requester: &str, state: RequestState, created_at: DateTime<Utc>) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        requester: requester.into(),
        role: "global-admin".into(),
        duration: Duration::hours(2),
        justification: "incident 42, needs \"quotes\", commas".into(),
        ticket: Some("INC-42".into()),
        state,
        version: 1,
        origin: Platform::Slack,
        created_at,
        decided_at: None,
        decided_by: None,
        reason: None,
        approvals: Vec::new(),
        nudge_stage: NudgeStage::None,
        next_nudge_at: None,
        grant_id: None,
        starts_at: None,
        activation_lease_until: None,
    }
}

fn grant(id: &str, request_id: &str, person: &str, ends_at: DateTime<Utc>) -> Grant {
    Grant {
        id: id.into(),
        request_id: request_id.into(),
        person: person.into(),
        role: "global-admin".into(),
        starts_at: t0(),
        ends_at,
        ended_at: None,
        end_reason: None,
        version: 1,
        target: None,
        granting: false,
    }
}

fn event(n: i64) -> AuditEvent {
    AuditEvent::about(
        t0() + Duration::seconds(n),
        Actor::Person("alice".into()),
        EventKind::RequestSubmitted,
        &RequestId::from("r-1"),
        &"global-admin".into(),
        serde_json::json!({"n": n, "note": "a, \"quoted\" note"}),
    )
}

pub(crate) fn message(platform: Platform, order_key: &str, text: &str) -> OutgoingMessage {
    OutgoingMessage {
        platform,
        target: Target::Channel { channel: "C1".into() },
        body: MessageBody::Notice(Notice::text(text)),
        order_key: order_key.into(),
        remember_as: None,
    }
}

pub(crate) fn text_of(m: &OutgoingMessage) -> &str {
    match &m.body {
        MessageBody::Notice(n) => &n.text,
        MessageBody::Card(_) => "card",
        MessageBody::Alarm(_) => "alarm",
        MessageBody::Review(_) => "review",
        MessageBody::Renewal(_) => "renewal",
    }
}

async fn insert_request(store: &dyn Store, r: &AccessRequest) {
    store
        .commit(Commit { requests: vec![Write::Insert(r.clone())], ..Commit::default() })
        .await
        .expect("insert request");
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Conflict(_)))
}

#[tokio::test]
async fn requests_approvals_and_grants_round_trip() {
    for db in backends().await {
        let s = &db.store;
        let mut r = request("r-1", "alice", RequestState::Active, t0());
        r.decided_at = Some(t0() + Duration::minutes(1));
        r.decided_by = Some("bob".into());
        r.reason = Some("ok".into());
        r.nudge_stage = NudgeStage::Reminded;
        r.next_nudge_at = Some(t0() + Duration::minutes(30));
        r.grant_id = Some("g-1".into());
        let late = Approval { approver: "carol".into(), at: t0() + Duration::seconds(20) };
        let early = Approval { approver: "bob".into(), at: t0() + Duration::seconds(10) };
        let g = grant("g-1", "r-1", "alice", t0() + Duration::hours(2));
        s.commit(Commit {
            at: Some(t0()),
            requests: vec![Write::Insert(r.clone())],
            approvals: vec![("r-1".into(), late.clone()), ("r-1".into(), early.clone())],
            grants: vec![Write::Insert(g.clone())],
            alarms: vec![],
            signins: vec![],
            audit: vec![event(1)],
            outbox: vec![message(Platform::Slack, "r-1", "hello")],
            ..Commit::default()
        })
        .await
        .expect("commit");

        let mut want = r.clone();
        want.created_at = truncate_micros(r.created_at);
        want.decided_at = r.decided_at.map(truncate_micros);
        want.next_nudge_at = r.next_nudge_at.map(truncate_micros);
        want.approvals =
            vec![early, late].into_iter().map(|a| Approval { at: truncate_micros(a.at), ..a }).collect();
        let got = s.request(&"r-1".into()).await.expect("read").expect("present");
        assert_eq!(got, want, "{}", db.name);
        assert_eq!(s.open_requests_for(&"alice".into()).await.expect("open"), vec![want.clone()]);
        assert_eq!(s.active_requests_of_grant(&"g-1".into()).await.expect("of grant"), vec![want.clone()]);
        assert!(s.request(&"r-nope".into()).await.expect("read").is_none());

        let mut want_g = g.clone();
        want_g.starts_at = truncate_micros(g.starts_at);
        want_g.ends_at = truncate_micros(g.ends_at);
        assert_eq!(s.grant(&"g-1".into()).await.expect("grant"), Some(want_g.clone()), "{}", db.name);
        assert_eq!(
            s.open_grant(&"alice".into(), &"global-admin".into()).await.expect("open"),
            Some(want_g.clone())
        );
        assert_eq!(s.open_grants_for(&"alice".into()).await.expect("open"), vec![want_g]);
        assert_eq!(s.outbox_depth().await.expect("depth"), 1);
        assert_eq!(s.audit_records(None).await.expect("audit").len(), 1);
        s.ping().await.expect("ping");
    }
}

#[tokio::test]
async fn inconsistent_rows_are_rejected_not_defaulted() {
    for db in backends().await {
        insert_request(db.store.as_ref(), &request("r-1", "alice", RequestState::Pending, t0())).await;
        assert_eq!(db.exec("UPDATE requests SET state = 'granted' WHERE id = 'r-1'").await, 1);
        let err = db.store.request(&"r-1".into()).await.expect_err("unknown state must fail");
        assert!(matches!(err, Error::Internal(_)), "{}: {err:?}", db.name);
        assert!(format!("{err:#}").contains("granted"), "{err:#}");
    }
}

#[tokio::test]
async fn a_stale_update_conflicts_and_writes_nothing() {
    for db in backends().await {
        let s = &db.store;
        let r = request("r-1", "alice", RequestState::Pending, t0());
        insert_request(s.as_ref(), &r).await;

        let approved = AccessRequest { state: RequestState::Approved, ..r.clone() };
        s.commit(Commit {
            requests: vec![Write::Update { row: approved, expected_version: 1 }],
            audit: vec![event(1)],
            outbox: vec![message(Platform::Slack, "r-1", "approved")],
            ..Commit::default()
        })
        .await
        .expect("first update wins");
        let now = s.request(&"r-1".into()).await.expect("read").expect("present");
        assert_eq!((now.state, now.version), (RequestState::Approved, 2), "{}", db.name);

        let denied = AccessRequest { state: RequestState::Denied, ..r.clone() };
        let stale = s
            .commit(Commit {
                requests: vec![Write::Update { row: denied, expected_version: 1 }],
                approvals: vec![("r-1".into(), Approval { approver: "bob".into(), at: t0() })],
                audit: vec![event(2)],
                outbox: vec![message(Platform::Slack, "r-1", "denied")],
                ..Commit::default()
            })
            .await;
        assert!(is_conflict(&stale), "{}: {stale:?}", db.name);
        let after = s.request(&"r-1".into()).await.expect("read").expect("present");
        assert_eq!((after.state, after.version, after.approvals.len()), (RequestState::Approved, 2, 0));
        assert_eq!(s.audit_records(None).await.expect("audit").len(), 1, "{}", db.name);
        assert_eq!(s.outbox_depth().await.expect("depth"), 1, "{}", db.name);
        verify(s.as_ref()).await.expect("chain intact after a rollback");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_racing_approvals_one_wins() {
    for db in backends().await {
        let r = request("r-1", "alice", RequestState::Pending, t0());
        insert_request(db.store.as_ref(), &r).await;
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store: Arc<dyn Store> = db.store.clone();
                let row = AccessRequest { state: RequestState::Approved, ..r.clone() };
                tokio::spawn(async move {
                    store
                        .commit(Commit {
                            requests: vec![Write::Update { row, expected_version: 1 }],
                            approvals: vec![(
                                "r-1".into(),
                                Approval { approver: format!("approver-{i}").into(), at: t0() },
                            )],
                            audit: vec![event(i)],
                            ..Commit::default()
                        })
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => wins += 1,
                Err(Error::Conflict(_)) => {}
                Err(other) => panic!("{}: unexpected {other:?}", db.name),
            }
        }
        assert_eq!(wins, 1, "{}", db.name);
        let after = db.store.request(&"r-1".into()).await.expect("read").expect("present");
        assert_eq!((after.version, after.approvals.len()), (2, 1), "{}", db.name);
        assert_eq!(db.store.audit_records(None).await.expect("audit").len(), 1);
    }
}

#[tokio::test]
async fn duplicate_approval_and_second_open_grant_conflict() {
    for db in backends().await {
        let s = &db.store;
        insert_request(s.as_ref(), &request("r-1", "alice", RequestState::Pending, t0())).await;
        insert_request(s.as_ref(), &request("r-2", "bob", RequestState::Pending, t0())).await;
        let approve = || Commit {
            approvals: vec![("r-1".into(), Approval { approver: "bob".into(), at: t0() })],
            ..Commit::default()
        };
        s.commit(approve()).await.expect("first approval");
        assert!(is_conflict(&s.commit(approve()).await), "{}", db.name);

        let g1 = grant("g-1", "r-1", "alice", t0() + Duration::hours(1));
        s.commit(Commit { grants: vec![Write::Insert(g1.clone())], ..Commit::default() }).await.expect("g-1");
        let second = s
            .commit(Commit {
                grants: vec![Write::Insert(grant("g-2", "r-2", "alice", t0() + Duration::hours(1)))],
                audit: vec![event(1)],
                ..Commit::default()
            })
            .await;
        assert!(is_conflict(&second), "{}: {second:?}", db.name);
        assert!(s.audit_records(None).await.expect("audit").is_empty());

        let ended = Grant { ended_at: Some(t0()), end_reason: Some(EndReason::Deactivated), ..g1.clone() };
        s.commit(Commit {
            grants: vec![Write::Update { row: ended.clone(), expected_version: 1 }],
            ..Commit::default()
        })
        .await
        .expect("end g-1");
        let stale = s
            .commit(Commit {
                grants: vec![Write::Update { row: ended, expected_version: 1 }],
                ..Commit::default()
            })
            .await;
        assert!(is_conflict(&stale), "{}", db.name);
        s.commit(Commit {
            grants: vec![Write::Insert(grant("g-2", "r-2", "alice", t0() + Duration::hours(1)))],
            ..Commit::default()
        })
        .await
        .expect("a new grant once the old one ended");
        let open = s.open_grant(&"alice".into(), &"global-admin".into()).await.expect("open");
        assert_eq!(open.map(|g| g.id), Some(GrantId::from("g-2")));
        let old = s.grant(&"g-1".into()).await.expect("read").expect("present");
        assert_eq!((old.version, old.end_reason), (2, Some(EndReason::Deactivated)));
    }
}

#[tokio::test]
async fn sweeps_select_what_is_due() {
    for db in backends().await {
        let s = &db.store;
        let now = t0() + Duration::hours(3);
        let mut rows = Vec::new();
        for (id, state, nudge) in [
            ("r-due", RequestState::Pending, Some(now - Duration::minutes(1))),
            ("r-exact", RequestState::Pending, Some(now)),
            ("r-later", RequestState::Pending, Some(now + Duration::minutes(1))),
            ("r-none", RequestState::Pending, None),
            ("r-approved-old", RequestState::Approved, None),
            ("r-approved-new", RequestState::Approved, None),
            ("r-active", RequestState::Active, Some(now - Duration::hours(1))),
        ] {
            let created = if id == "r-approved-new" { t0() + Duration::minutes(5) } else { t0() };
            rows.push(Write::Insert(AccessRequest {
                next_nudge_at: nudge,
                ..request(id, id, state, created)
            }));
        }
        let grants = [
            grant("g-late", "r-active", "a", now + Duration::seconds(1)),
            grant("g-due", "r-active", "b", now - Duration::minutes(1)),
            grant("g-exact", "r-active", "c", now),
            Grant {
                ended_at: Some(t0()),
                end_reason: Some(EndReason::Revoked),
                ..grant("g-ended", "r-active", "d", t0())
            },
            Grant {
                granting: true,
                ..grant("g-granting", "r-approved-old", "e", now - Duration::minutes(1))
            },
        ];
        s.commit(Commit {
            requests: rows,
            grants: grants.into_iter().map(Write::Insert).collect(),
            ..Commit::default()
        })
        .await
        .expect("seed");

        let ids = |v: Vec<AccessRequest>| v.into_iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(s.due_nudges(now, 10).await.expect("nudges")), ["r-due", "r-exact"], "{}", db.name);
        assert_eq!(ids(s.due_nudges(now, 1).await.expect("nudges")), ["r-due"]);
        assert_eq!(
            ids(s.approved_requests(10).await.expect("approved")),
            ["r-approved-old", "r-approved-new"],
            "{}",
            db.name
        );
        let due: Vec<_> =
            s.due_grants(now, 10).await.expect("due").into_iter().map(|g| g.id.to_string()).collect();
        assert_eq!(due, ["g-due", "g-exact"], "{}: a grant being made is not expiry's", db.name);
        assert_eq!(
            ids(s.requests_in_flight(10).await.expect("in flight")),
            ["r-approved-old", "r-due", "r-exact", "r-later", "r-none", "r-approved-new"],
            "{}",
            db.name
        );
        assert!(
            s.withdrawn_grants(now, 10).await.expect("withdrawn").is_empty(),
            "{}: its request is still approved",
            db.name
        );
        assert_eq!(s.due_grants(now, 1).await.expect("due").len(), 1);
    }
}

async fn chained(n: i64) -> Vec<TestDb> {
    let dbs = backends().await;
    for db in &dbs {
        for i in 1..=n {
            db.store.commit(Commit { audit: vec![event(i)], ..Commit::default() }).await.expect("append");
        }
    }
    dbs
}

#[tokio::test]
async fn the_audit_chain_verifies_and_keeps_order() {
    for db in chained(3).await {
        db.store.commit(Commit { audit: vec![event(4), event(5)], ..Commit::default() }).await.expect("two");
        let records = db.store.audit_records(None).await.expect("records");
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5], "{}", db.name);
        assert_eq!(records[4].event, event(5));
        let summary = verify(db.store.as_ref()).await.expect("verifies");
        assert!(summary.contains("5 records"), "{summary}");
        let since = db.store.audit_records(Some(event(4).at)).await.expect("since");
        assert_eq!(since.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5]);
        let reopened = db.reconnect().await;
        verify(reopened.as_ref()).await.expect("still verifies after reopening");
    }
}

#[tokio::test]
async fn tampering_is_detected() {
    let cases = [
        ("UPDATE audit_events SET detail = '{\"n\":99}' WHERE seq = 2", "record 2 was edited"),
        ("DELETE FROM audit_events WHERE seq = 2", "record 2 is missing"),
        ("DELETE FROM audit_events WHERE seq = 4", "newest records were deleted"),
    ];
    for (sql, expected) in cases {
        for db in chained(4).await {
            verify(db.store.as_ref()).await.expect("intact before");
            assert_eq!(db.exec(sql).await, 1);
            let err = verify(db.store.as_ref()).await.expect_err("tampering must be detected");
            assert!(err.to_string().contains(expected), "{} / {sql}: {err}", db.name);
        }
    }
}

#[tokio::test]
async fn exports_have_the_expected_shape() {
    for db in chained(3).await {
        let records = db.store.audit_records(None).await.expect("records");

        let text = export(db.store.as_ref(), ExportFormat::Jsonl).await;
        let parsed: Vec<AuditRecord> =
            text.lines().map(|l| serde_json::from_str(l).expect("one record per line")).collect();
        assert_eq!(parsed, records, "{}", db.name);

        let text = export(db.store.as_ref(), ExportFormat::Csv).await;
        let lines: Vec<_> = text.split_terminator("\r\n").collect();
        assert_eq!(lines[0], "seq,at,actor,kind,request_id,role,detail,prev_hash,hash,key_id");
        assert_eq!(lines.len(), 4);
        assert!(
            lines[1]
                .starts_with("1,2026-11-21T12:00:01.123456Z,alice,request.submitted,r-1,global-admin,\"{")
        );
        assert!(lines[1].contains(r#"""note"":""a, \""quoted\"" note"""#), "{}", lines[1]);
        assert!(lines[1].ends_with(&format!("{},{}", records[0].hash, records[0].key_id)));
    }
}

#[tokio::test]
async fn migrations_are_idempotent() {
    for db in backends().await {
        insert_request(db.store.as_ref(), &request("r-1", "alice", RequestState::Pending, t0())).await;
        let again = db.reconnect().await;
        pimbot::storage::migrate(&db.url).await.expect("migrate again");
        assert!(again.request(&"r-1".into()).await.expect("read").is_some(), "{}", db.name);
        again.ping().await.expect("ping");
    }
}
