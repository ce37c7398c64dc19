//! Reads on every command and sweep cost a fixed number of statements: approvals come with the
//! requests they belong to in one query however many requests a read returns (chunked past
//! 500 ids), and both marks on a person's eligibility come in one. These tests show the values
//! are right; the statement counts are `queries_tests`'s and the load benchmark's.

use chrono::{DateTime, Duration, Utc};
use pimbot::core::ports::{Commit, EligibilityRemoval, GovernanceWrites, Write};
use pimbot::core::renewal::{EligibilityExtension, ExtensionState};
use pimbot::core::request::Approval;

use crate::store::t0;
use crate::store_schedule::approved;
use crate::support::db::backends;

/// The approvals request `i` gets: none, one, or two given in reverse order of time.
fn approvals_for(i: usize) -> Vec<Approval> {
    let at = |s: i64| pimbot::core::audit::truncate_micros(t0() + Duration::seconds(s));
    match i % 3 {
        0 => Vec::new(),
        1 => vec![Approval { approver: format!("a{i}").into(), at: at(i as i64) }],
        _ => vec![
            Approval { approver: format!("late{i}").into(), at: at(2000 + i as i64) },
            Approval { approver: format!("early{i}").into(), at: at(i as i64) },
        ],
    }
}

#[tokio::test]
async fn approvals_of_many_requests_are_read_together_each_with_its_own_in_order() {
    const N: usize = 620; // more than one chunk of ids
    for db in backends().await {
        let s = &db.store;
        let mut commit = Commit::default();
        for i in 0..N {
            let id = format!("r-{i:04}");
            commit.requests.push(Write::Insert(approved(&id, &format!("p{i}"), None)));
            for a in approvals_for(i) {
                commit.approvals.push((id.as_str().into(), a));
            }
        }
        s.commit(commit).await.expect("insert");
        let read = s.approved_requests(N as i64 + 10).await.expect("approved requests");
        assert_eq!(read.len(), N, "{}", db.name);
        for r in &read {
            let i: usize = r.id.as_str()[2..].parse().expect("index");
            let mut want = approvals_for(i);
            want.sort_by_key(|a| a.at);
            assert_eq!(r.approvals, want, "{}: approvals of {}", db.name, r.id);
        }
        let one = s.request(&"r-0002".into()).await.expect("read").expect("present");
        assert_eq!(one.approvals.len(), 2, "{}: a single read gets its approvals too", db.name);
        assert_eq!(one.approvals[0].approver.as_str(), "early2", "{}", db.name);
    }
}

fn extension(id: &str, person: &str, until: DateTime<Utc>, state: ExtensionState) -> EligibilityExtension {
    EligibilityExtension {
        id: id.into(),
        person: person.into(),
        role: "ops".into(),
        current_until: None,
        requested_until: until,
        justification: "j".into(),
        state,
        decided_by: None,
        decided_at: None,
        created_at: t0(),
        version: 1,
    }
}

#[tokio::test]
async fn both_eligibility_marks_are_read_together() {
    for db in backends().await {
        let s = &db.store;
        let (alice, bob, ops) = ("alice".into(), "bob".into(), "ops".into());
        assert_eq!(s.eligibility_marks(&alice, &ops).await.expect("marks"), (false, None), "{}", db.name);
        let day = |d: i64| pimbot::core::audit::truncate_micros(t0() + Duration::days(d));
        let governance = GovernanceWrites {
            removals: vec![EligibilityRemoval {
                person: "bob".into(),
                role: "ops".into(),
                removed_at: t0(),
                item_id: None,
            }],
            extensions: vec![
                Write::Insert(extension("e-1", "alice", day(30), ExtensionState::Approved)),
                Write::Insert(extension("e-2", "alice", day(90), ExtensionState::Approved)),
                Write::Insert(extension("e-3", "alice", day(400), ExtensionState::Denied)),
                Write::Insert(extension("e-4", "alice", day(200), ExtensionState::Pending)),
                Write::Insert(extension("e-5", "bob", day(10), ExtensionState::Approved)),
            ],
            ..GovernanceWrites::default()
        };
        s.commit(Commit { governance, ..Commit::default() }).await.expect("write");
        let marks = s.eligibility_marks(&alice, &ops).await.expect("marks");
        assert_eq!(marks, (false, Some(day(90))), "{}: the latest approved end only", db.name);
        assert_eq!(marks.0, s.eligibility_removed(&alice, &ops).await.expect("removed"), "{}", db.name);
        assert_eq!(marks.1, s.extended_until(&alice, &ops).await.expect("until"), "{}", db.name);
        let marks = s.eligibility_marks(&bob, &ops).await.expect("marks");
        assert_eq!(marks, (true, Some(day(10))), "{}", db.name);
        assert_eq!(
            s.eligibility_marks(&bob, &"reader".into()).await.expect("marks"),
            (false, None),
            "{}",
            db.name
        );
    }
}
