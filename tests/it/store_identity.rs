//! Store conformance for identity rows, on every backend: a sign-in state works once (the
//! database decides a race between two uses), an expired one never, a failed use rolls the
//! whole commit back, links round-trip and one directory account has at most one chat
//! account per platform; `awaiting_mfa` requests are open and their step-up deadline is due.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pimbot::core::Error;
use pimbot::core::identity::{AuthPurpose, AuthState, IdentityLink};
use pimbot::core::ids::{ChatUser, Platform, RequestId};
use pimbot::core::ports::{Commit, Write};
use pimbot::core::request::{AccessRequest, NudgeStage};
use pimbot::core::state::RequestState;

use crate::support::db::backends;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("time")
}

fn state(purpose: AuthPurpose, request: Option<&str>) -> (AuthState, String) {
    let issued = AuthState::issue(
        purpose,
        Some(ChatUser::slack("U0ALICE")),
        Some("alice".into()),
        request.map(RequestId::from),
        t0(),
        Duration::minutes(10),
    );
    (issued.state, issued.value)
}

fn use_state(id: &str, at: DateTime<Utc>) -> Commit {
    Commit { at: Some(at), use_auth_states: vec![id.to_owned()], ..Commit::default() }
}

fn awaiting(id: &str) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        requester: "alice".into(),
        role: "global-admin".into(),
        duration: Duration::hours(1),
        justification: "fix".into(),
        ticket: None,
        state: RequestState::AwaitingMfa,
        version: 1,
        origin: Platform::Slack,
        created_at: t0(),
        decided_at: None,
        decided_by: None,
        reason: None,
        approvals: vec![],
        nudge_stage: NudgeStage::None,
        next_nudge_at: Some(t0() + Duration::minutes(10)),
        grant_id: None,
        starts_at: None,
        activation_lease_until: None,
    }
}

#[tokio::test]
async fn a_state_works_once_and_never_after_it_expires() {
    for db in backends().await {
        let s = &db.store;
        let (st, value) = state(AuthPurpose::Link, None);
        s.commit(Commit { at: Some(t0()), new_auth_states: vec![st.clone()], ..Commit::default() })
            .await
            .expect("store state");
        let loaded = s.auth_state(&st.id).await.expect("read").expect("stored");
        assert_eq!(loaded.nonce, st.nonce);
        assert_eq!(loaded.pkce_verifier, st.pkce_verifier);
        assert_eq!(loaded.user, st.user);
        assert!(s.auth_state(&value).await.expect("read").is_none(), "{}: only the hash is a key", db.name);
        // Two uses race: exactly one wins.
        let (a, b) = tokio::join!(s.commit(use_state(&st.id, t0())), s.commit(use_state(&st.id, t0())));
        assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{}", db.name);
        assert!(matches!(a.err().or(b.err()), Some(Error::Conflict(_))));
        assert!(s.auth_state(&st.id).await.expect("read").expect("row").used_at.is_some());

        let (late, _) = state(AuthPurpose::Link, None);
        s.commit(Commit { at: Some(t0()), new_auth_states: vec![late.clone()], ..Commit::default() })
            .await
            .expect("store");
        let expired = s.commit(use_state(&late.id, t0() + Duration::minutes(10))).await;
        assert!(matches!(expired, Err(Error::Conflict(_))), "{}: expired state used", db.name);
    }
}

#[tokio::test]
async fn a_failed_state_use_rolls_the_whole_commit_back() {
    for db in backends().await {
        let s = &db.store;
        s.commit(Commit {
            at: Some(t0()),
            requests: vec![Write::Insert(awaiting("r-1"))],
            ..Commit::default()
        })
        .await
        .expect("request");
        let (st, _) = state(AuthPurpose::ActivationStepUp, Some("r-1"));
        s.commit(Commit { at: Some(t0()), new_auth_states: vec![st.clone()], ..Commit::default() })
            .await
            .expect("state");
        s.commit(use_state(&st.id, t0())).await.expect("first use");
        let mut moved = awaiting("r-1");
        moved.state = RequestState::Pending;
        let replay = Commit {
            at: Some(t0()),
            requests: vec![Write::Update { row: moved, expected_version: 1 }],
            use_auth_states: vec![st.id.clone()],
            ..Commit::default()
        };
        assert!(matches!(s.commit(replay).await, Err(Error::Conflict(_))));
        let stored = s.request(&"r-1".into()).await.expect("read").expect("row");
        assert_eq!(stored.state, RequestState::AwaitingMfa, "{}: the replay moved the request", db.name);
        // awaiting_mfa is open, and its step-up deadline is a due nudge.
        assert_eq!(s.open_requests_for(&"alice".into()).await.expect("open").len(), 1);
        assert!(s.due_nudges(t0() + Duration::minutes(9), 10).await.expect("due").is_empty());
        assert_eq!(s.due_nudges(t0() + Duration::minutes(10), 10).await.expect("due").len(), 1);
    }
}

#[tokio::test]
async fn links_round_trip_and_one_account_per_platform() {
    for db in backends().await {
        let s = &db.store;
        let link = |user: ChatUser, oid: &str| IdentityLink {
            user,
            object_id: oid.into(),
            tenant_id: "t".into(),
            username: Some("alice@contoso.com".into()),
            linked_at: t0(),
        };
        let commit = |l: IdentityLink| Commit { at: Some(t0()), links: vec![l], ..Commit::default() };
        s.commit(commit(link(ChatUser::slack("U0ALICE"), "OID-A"))).await.expect("link");
        s.commit(commit(link(ChatUser::discord("111"), "oid-a"))).await.expect("other platform");
        assert_eq!(
            s.identity_link(&ChatUser::slack("U0ALICE")).await.expect("read"),
            Some(link(ChatUser::slack("U0ALICE"), "OID-A"))
        );
        assert_eq!(s.identity_links_of("oid-A").await.expect("read").len(), 2, "{}", db.name);
        // A second Slack account for the same directory account is a conflict.
        let second = s.commit(commit(link(ChatUser::slack("U0MALLORY"), "OID-A"))).await;
        assert!(matches!(second, Err(Error::Conflict(_))), "{}: {second:?}", db.name);
        // The same chat account re-linking to another directory account replaces its link.
        s.commit(commit(link(ChatUser::slack("U0ALICE"), "oid-b"))).await.expect("relink");
        assert_eq!(
            s.identity_link(&ChatUser::slack("U0ALICE")).await.expect("read").map(|l| l.object_id),
            Some("oid-b".into())
        );
    }
}
