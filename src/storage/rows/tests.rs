//! Unit tests of the row conversions: inconsistent rows are refused, not defaulted.

use super::*;
use chrono::TimeZone;

use crate::core::alarm::Alarm;
use crate::core::audit::{Actor, AuditRecord};

fn grant_row(ended: bool, reason: Option<&str>) -> GrantRow {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("valid");
    GrantRow {
        id: "g-1".into(),
        request_id: "r-1".into(),
        person: "alice".into(),
        role: "global-admin".into(),
        starts_at: t,
        ends_at: t + Duration::hours(1),
        ended_at: ended.then_some(t),
        end_reason: reason.map(Into::into),
        version: 1,
        target_kind: None,
        target_directory_id: None,
        target_scope: None,
        target_principal: None,
        granting: false,
    }
}

#[test]
fn grant_end_columns_must_agree() {
    assert!(Grant::try_from(grant_row(false, None)).is_ok());
    assert!(Grant::try_from(grant_row(true, Some("expired"))).is_ok());
    assert!(Grant::try_from(grant_row(true, None)).is_err());
    assert!(Grant::try_from(grant_row(false, Some("expired"))).is_err());
    assert!(Grant::try_from(grant_row(true, Some("vanished"))).is_err());
}

#[test]
fn grant_targets_are_whole_or_absent() {
    let whole = GrantRow {
        target_kind: Some("entra-role".into()),
        target_directory_id: Some("62e90394".into()),
        target_scope: Some("/".into()),
        target_principal: None,
        ..grant_row(false, None)
    };
    let target = Grant::try_from(whole).expect("valid").target.expect("target");
    assert_eq!((target.kind, target.scope.as_str()), (RoleKind::EntraRole, "/"));
    let partial = GrantRow { target_kind: Some("entra-role".into()), ..grant_row(false, None) };
    assert!(Grant::try_from(partial).is_err());
    let unknown = GrantRow {
        target_kind: Some("printer".into()),
        target_directory_id: Some("x".into()),
        target_scope: Some("/".into()),
        ..grant_row(false, None)
    };
    assert!(Grant::try_from(unknown).is_err());
}

#[test]
fn audit_actor_columns_round_trip_and_reject_unknown_kinds() {
    for actor in [Actor::System, Actor::Person("alice".into())] {
        let (kind, id) = actor_columns(&actor);
        let row = AuditRow {
            seq: 1,
            at: Utc::now(),
            actor_kind: kind.into(),
            actor: id,
            kind: "k".into(),
            request_id: None,
            role: None,
            detail: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
            key_id: String::new(),
        };
        assert_eq!(AuditRecord::try_from(row).expect("valid").event.actor, actor);
    }
    let bad = AuditRow {
        seq: 1,
        at: Utc::now(),
        actor_kind: "robot".into(),
        actor: "r2".into(),
        kind: "k".into(),
        request_id: None,
        role: None,
        detail: "{}".into(),
        prev_hash: String::new(),
        hash: String::new(),
        key_id: String::new(),
    };
    assert!(AuditRecord::try_from(bad).is_err());
}

fn alarm_row() -> AlarmRow {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("valid");
    AlarmRow {
        id: "a-1".into(),
        signin_id: "signin:1".into(),
        account_upn: "bg1@contoso.com".into(),
        signed_in_at: t,
        raised_at: t,
        ip: None,
        location: None,
        app: None,
        client: None,
        ca_status: None,
        succeeded: true,
        severity: "high".into(),
        acknowledged_by: None,
        acknowledged_at: None,
        reason: None,
        next_page_at: Some(t),
        pages: 1,
        version: 1,
        signins: 1,
        first_signed_in_at: None,
    }
}

#[test]
fn alarm_rows_must_be_consistent() {
    assert!(Alarm::try_from(alarm_row()).is_ok());
    let acked = |r: AlarmRow| AlarmRow {
        acknowledged_by: Some("carol".into()),
        acknowledged_at: Some(r.raised_at),
        reason: Some("drill".into()),
        next_page_at: None,
        ..r
    };
    assert!(Alarm::try_from(acked(alarm_row())).is_ok());
    assert!(Alarm::try_from(AlarmRow { next_page_at: Some(Utc::now()), ..acked(alarm_row()) }).is_err());
    assert!(Alarm::try_from(AlarmRow { reason: None, ..acked(alarm_row()) }).is_err());
    assert!(Alarm::try_from(AlarmRow { next_page_at: None, ..alarm_row() }).is_err());
    assert!(Alarm::try_from(AlarmRow { severity: "medium".into(), ..alarm_row() }).is_err());
    assert!(Alarm::try_from(AlarmRow { severity: "loud".into(), ..alarm_row() }).is_err());
    assert!(Alarm::try_from(AlarmRow { pages: 0, ..alarm_row() }).is_err());
}
