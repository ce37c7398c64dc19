//! Unit tests of the alert rules: each alert from crafted history, and its dedupe key per period.

use super::*;
use crate::core::audit::{Actor, AuditEvent, AuditRecord, EventKind, GENESIS_HASH};
use std::collections::BTreeMap;

use crate::core::ids::RequestId;
use chrono::TimeZone;
use serde_json::json;

/// Saturday 2026-11-21 12:00 UTC (13:00 in Berlin).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid")
}

const POLICY: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[oidc]
issuer = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
client_id = "00000000-0000-0000-0000-000000000000"
client_secret = "test-oidc-secret"
public_url = "https://pimbot.example.com"
default_auth_context = "c1"
[[person]]
id = "p1"
[[person]]
id = "p2"
[[person]]
id = "p3"
[[person]]
id = "p4"
[[person]]
id = "p5"
[[person]]
id = "p6"
[[person]]
id = "carol"
[[person]]
id = "dave"
[[role]]
key = "global-admin"
kind = "entra-role"
tier = "critical"
approvers = ["carol", "dave"]
eligible = ["p1", "p2", "p3", "p4", "p5"]
working_hours = "Mon-Fri 08:00-19:00 Europe/Berlin"
max_activations = 3
[[role]]
key = "user-admin"
kind = "entra-role"
tier = "high"
require_justification = false
approvers = ["carol", "p1"]
disjoint_approvers = false
eligible = ["p1"]
"#;

fn policy(text: &str) -> Policy {
    let config = crate::config::from_toml_str_with_env(text, &|_| None).expect("parses");
    config.validate(now()).expect("valid")
}

fn activity(person: &str, role: &str, at: DateTime<Utc>) -> Activity {
    Activity {
        person: person.into(),
        role: role.into(),
        at,
        request: Some(RequestId(format!("r-{}", at.timestamp()))),
        justification: None,
    }
}

fn kinds(alerts: &[Alert]) -> Vec<(AlertKind, Option<String>)> {
    alerts.iter().map(|a| (a.kind, a.person.as_ref().map(|p| p.to_string()))).collect()
}

#[test]
fn the_policy_alone_shows_weak_roles_small_pools_and_overlaps() {
    let p = policy(POLICY);
    let alerts = policy_alerts(&p, now());
    let found = kinds(&alerts);
    assert!(found.contains(&(AlertKind::WeakRole, None)), "user-admin needs no justification: {found:?}");
    assert!(found.contains(&(AlertKind::OverlappingApprovers, None)), "p1 approves and is eligible");
    assert!(!found.contains(&(AlertKind::TooManyEligible, None)), "5 eligible is the limit, not over it");
    assert!(alerts.iter().all(|a| !a.todo.is_empty() && a.message().contains("What to do")));

    let six = policy(
        &POLICY
            .replace(r#""p5"]"#, r#""p5", "p6"]"#)
            .replace(r#"approvers = ["carol", "dave"]"#, r#"approvers = ["carol"]"#),
    );
    let found = kinds(&policy_alerts(&six, now()));
    assert!(found.contains(&(AlertKind::TooManyEligible, None)), "{found:?}");
    assert!(found.contains(&(AlertKind::SmallApproverPool, None)), "{found:?}");
}

#[test]
fn policy_alerts_repeat_once_a_week() {
    let p = policy(POLICY);
    let keys = |at| policy_alerts(&p, at).into_iter().map(|a| a.key).collect::<Vec<_>>();
    assert_eq!(keys(now()), keys(now() + Duration::hours(1)));
    assert_ne!(keys(now()), keys(now() + Duration::days(7)));
}

#[test]
fn activity_drives_active_frequency_off_hours_and_stale_alerts() {
    let p = policy(POLICY);
    let ga = "global-admin";
    let mut history = History { known_since: Some(now() - Duration::days(200)), ..History::default() };
    // p1 activates four times in 30 days (limit 3); the last one on a Saturday afternoon.
    for days in [20, 10, 3] {
        // Wednesdays/weekdays at 10:00 UTC (11:00 Berlin), inside working hours.
        history.activations.push(activity("p1", ga, now() - Duration::days(days) - Duration::hours(2)));
    }
    history.activations.push(activity("p1", ga, now() - Duration::hours(1)));
    // p2 used it 100 days ago; p3 this week; p4 and p5 never.
    history.activations.push(activity("p2", ga, now() - Duration::days(100)));
    history.activations.push(activity("p3", ga, now() - Duration::days(2)));
    let active = BTreeMap::from([(RoleKey::from(ga), 3usize)]);
    let alerts = activity_alerts(&p, &AlertSettings::default(), &history, &active, now());
    let found = kinds(&alerts);
    assert!(found.contains(&(AlertKind::TooManyActive, None)), "3 active over 2: {found:?}");
    assert!(found.contains(&(AlertKind::FrequentActivation, Some("p1".into()))));
    let off: Vec<&Alert> = alerts.iter().filter(|a| a.kind == AlertKind::OutsideWorkingHours).collect();
    assert_eq!(off.len(), 1, "only the Saturday activation: {off:?}");
    assert!(off[0].text.contains("Sat 2026-11-21 12:00 CET"), "{}", off[0].text);
    let stale: Vec<String> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::StaleEligibility && a.role == Some(RoleKey::from(ga)))
        .filter_map(|a| a.person.as_ref().map(|p| p.to_string()))
        .collect();
    assert_eq!(stale, ["p2", "p4", "p5"]);
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == AlertKind::StaleEligibility && a.text.contains("last use: 2026-08-13"))
    );

    // A trail younger than stale_after cannot call anyone stale who never used it.
    history.known_since = Some(now() - Duration::days(10));
    let young = activity_alerts(&p, &AlertSettings::default(), &history, &BTreeMap::new(), now());
    let stale: Vec<_> = young
        .iter()
        .filter(|a| a.kind == AlertKind::StaleEligibility && a.role == Some(RoleKey::from(ga)))
        .collect();
    assert_eq!(stale.len(), 1, "only p2, whose last use is known: {stale:?}");
}

#[test]
fn a_burst_of_refusals_alerts_per_person_and_per_role_once_per_window() {
    let p = policy(POLICY);
    let mut history = History::default();
    for minutes in 0..5 {
        history.refusals.push(activity("p6", "global-admin", now() - Duration::minutes(minutes * 5)));
    }
    let settings = AlertSettings::default();
    let alerts = activity_alerts(&p, &settings, &history, &BTreeMap::new(), now());
    let bursts: Vec<&Alert> = alerts.iter().filter(|a| a.kind == AlertKind::RefusalBurst).collect();
    assert_eq!(bursts.len(), 2, "{bursts:?}");
    // Four is not a burst.
    history.refusals.pop();
    let fewer = activity_alerts(&p, &settings, &history, &BTreeMap::new(), now());
    assert!(fewer.iter().all(|a| a.kind != AlertKind::RefusalBurst));
}

#[test]
fn history_is_read_from_the_audit_trail() {
    let at = |mins: i64| now() - Duration::minutes(mins);
    let events = vec![
        AuditEvent::about(
            at(60),
            Actor::Person("p1".into()),
            EventKind::RequestSubmitted,
            &"r-1".into(),
            &"global-admin".into(),
            json!({"justification": "INC-1 outage"}),
        ),
        AuditEvent::about(
            at(59),
            Actor::System,
            EventKind::GrantActivated,
            &"r-1".into(),
            &"global-admin".into(),
            json!({}),
        ),
        AuditEvent::about(
            at(50),
            Actor::Person("p2".into()),
            EventKind::RequestSubmitted,
            &"r-2".into(),
            &"global-admin".into(),
            json!({}),
        ),
        AuditEvent::about(
            at(49),
            Actor::Person("carol".into()),
            EventKind::RequestDenied,
            &"r-2".into(),
            &"global-admin".into(),
            json!({}),
        ),
        AuditEvent {
            request_id: None,
            ..AuditEvent::about(
                at(40),
                Actor::Person("p3".into()),
                EventKind::RequestRefused,
                &"x".into(),
                &"global-admin".into(),
                json!({}),
            )
        },
        AuditEvent {
            request_id: None,
            ..AuditEvent::about(
                at(30),
                Actor::System,
                EventKind::DirectoryDrift,
                &"x".into(),
                &"global-admin".into(),
                json!({"drift": "Unmanaged", "principal_id": "oid-9", "person": null}),
            )
        },
    ];
    let mut prev = GENESIS_HASH.to_owned();
    let records: Vec<AuditRecord> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let r = crate::core::audit_chain::Linker::Unkeyed.chain(i as i64 + 1, e, &prev);
            prev = r.hash.clone();
            r
        })
        .collect();
    let h = History::from_audit(&records, records.first().map(|r| r.event.at), None);
    assert_eq!(h.known_since, Some(at(60)));
    assert_eq!(h.activations.len(), 1);
    assert_eq!(h.activations[0].justification.as_deref(), Some("INC-1 outage"));
    assert_eq!(h.last_use(&"p1".into(), &"global-admin".into()).map(|a| a.at), Some(at(59)));
    let refused: Vec<&str> = h.refusals.iter().map(|r| r.person.as_str()).collect();
    assert_eq!(refused, ["p2", "p3"]);
    assert_eq!(h.outside.len(), 1);
    let p = policy(POLICY);
    let alerts = activity_alerts(&p, &AlertSettings::default(), &h, &BTreeMap::new(), now());
    assert!(alerts.iter().any(|a| a.kind == AlertKind::OutsidePimbot && a.text.contains("oid-9")));
}
