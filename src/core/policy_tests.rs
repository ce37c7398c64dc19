//! Tests of the policy model: who may request, who may approve, and the draft checks.

use super::*;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid")
}

fn role() -> Role {
    Role {
        key: "global-admin".into(),
        name: "Global Administrator".into(),
        kind: RoleKind::EntraRole,
        directory_id: "62e90394".into(),
        scope: "/".into(),
        tier: Tier::Critical,
        min_duration: Duration::minutes(5),
        max_duration: Duration::hours(2),
        require_justification: true,
        require_ticket: true,
        approvals_required: 1,
        approvers: vec!["alice".into(), "carol".into(), "dave".into()],
        disjoint_approvers: true,
        sla: Duration::minutes(5),
        escalate_to: vec![],
        request_ttl: Duration::hours(1),
        min_hold: Duration::minutes(5),
        eligible: vec![
            Eligibility { person: "alice".into(), until: None },
            Eligibility { person: "dave".into(), until: None },
            Eligibility { person: "erin".into(), until: Some(now() + Duration::days(1)) },
            Eligibility { person: "frank".into(), until: Some(now()) },
        ],
        require_mfa: true,
        owners: vec![],
        alerts: crate::core::alerts::RoleAlerts::tier_default(Tier::Critical),
        warn_before: DEFAULT_WARN_BEFORE,
        approver_mfa: true,
        mfa_max_age: Duration::minutes(5),
        auth_context: Some("c1".into()),
        max_start_ahead: crate::core::schedule::DEFAULT_MAX_START_AHEAD,
        oncall: None,
    }
}

fn draft(mins: i64, ticket: Option<&str>, why: &str) -> Draft {
    Draft {
        role: "global-admin".into(),
        duration: Duration::minutes(mins),
        ticket: ticket.map(Into::into),
        justification: why.into(),
        start: None,
    }
}

#[test]
fn eligibility_respects_until() {
    let r = role();
    assert!(r.is_eligible(&"alice".into(), now()));
    assert!(r.is_eligible(&"erin".into(), now()));
    assert!(!r.is_eligible(&"erin".into(), now() + Duration::days(1)));
    assert!(!r.is_eligible(&"frank".into(), now()), "until is exclusive");
    assert!(!r.is_eligible(&"mallory".into(), now()));
}

#[test]
fn drafts_are_checked_in_order() {
    let r = role();
    let alice: PersonId = "alice".into();
    let cases: Vec<(PersonId, Draft, Option<&str>)> = vec![
        (alice.clone(), draft(60, Some("INC-1"), "fix"), None),
        ("mallory".into(), draft(60, Some("INC-1"), "fix"), Some("not eligible")),
        (alice.clone(), draft(3, Some("INC-1"), "fix"), Some("5m to 2h")),
        (alice.clone(), draft(121, Some("INC-1"), "fix"), Some("5m to 2h")),
        (alice.clone(), draft(120, Some("INC-1"), "fix"), None),
        (alice.clone(), draft(5, Some("INC-1"), "fix"), None),
        (alice.clone(), draft(60, Some("INC-1"), "  "), Some("justification")),
        (alice.clone(), draft(60, None, "fix"), Some("ticket")),
    ];
    for (who, d, want) in cases {
        let got = r.check_draft(&who, &d, now());
        match want {
            None => assert!(got.is_ok(), "{who} {d:?}: {got:?}"),
            Some(fragment) => {
                let msg = got.err().map(|e| e.to_string()).unwrap_or_default();
                assert!(msg.contains(fragment), "{who} {d:?}: {msg}");
            }
        }
    }
}

#[test]
fn the_requester_never_approves_and_disjoint_excludes_eligible() {
    let r = role();
    // alice is in the pool but requested; dave is eligible and the role is disjoint.
    assert_eq!(r.approver_pool(&"alice".into(), now()), vec![PersonId::from("carol")]);
    assert!(r.check_approver(&"alice".into(), &"alice".into(), now()).is_err());
    assert!(r.check_approver(&"dave".into(), &"alice".into(), now()).is_err());
    assert!(r.check_approver(&"mallory".into(), &"alice".into(), now()).is_err());
    assert!(r.check_approver(&"carol".into(), &"alice".into(), now()).is_ok());

    let mut lax = role();
    lax.disjoint_approvers = false;
    assert!(lax.check_approver(&"dave".into(), &"alice".into(), now()).is_ok());
    assert!(
        lax.check_approver(&"alice".into(), &"alice".into(), now()).is_err(),
        "never self, whatever the pool"
    );
}

#[test]
fn identify_and_role_lookups_refuse_strangers() {
    let policy = Policy { roles: vec![role()], ..Policy::default() };
    assert!(policy.identify(&ChatUser::slack("U0NOBODY")).is_err());
    assert!(matches!(policy.role(&"nope".into()), Err(Error::NotFound(_))));
    assert!(policy.role(&"global-admin".into()).is_ok());
    assert_eq!(policy.eligible_roles(&"alice".into(), now()).len(), 1);
}
