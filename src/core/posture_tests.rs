//! Unit tests of the posture check: each question from a crafted policy and evidence.

use super::*;
use crate::core::reviews::{Cadence, ReviewDecision};
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid")
}

/// A policy that holds: a critical role with two approvers, reviewed quarterly.
pub(crate) const GOOD: &str = r#"
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
id = "alice"
object_id = "oid-alice"
[[person]]
id = "carol"
[[person]]
id = "dave"
[[role]]
key = "global-admin"
kind = "entra-role"
tier = "critical"
approvers = ["carol", "dave"]
eligible = ["alice"]
[[review]]
roles = ["global-admin"]
reviewer = "approvers"
cadence = "quarterly"
duration = "7d"
default = "remove"
"#;

fn policy(text: &str) -> Policy {
    let config = crate::config::from_toml_str_with_env(text, &|_| None).expect("parses");
    config.validate(now()).expect("valid")
}

fn input(policy: &Policy) -> PostureInput<'_> {
    PostureInput {
        policy,
        now: now(),
        assignments: Evidence::NotAvailable("directory kind = static".into()),
        campaigns: Evidence::NotAvailable("offline".into()),
        routes: vec![AlertRoute { platform: Platform::Slack, alert_channel: Some("C0ALERTS".into()) }],
        refused_alerts: Evidence::NotAvailable("offline".into()),
    }
}

fn failed(report: &PostureReport) -> Vec<u8> {
    report.questions.iter().filter(|q| !q.ok).map(|q| q.number).collect()
}

#[test]
fn a_sound_policy_passes_all_four() {
    let p = policy(GOOD);
    let report = assess(&input(&p));
    assert!(report.ok, "{}", render_text(&report));
    assert!(render_text(&report).contains("all four questions hold"));
}

#[test]
fn a_one_approver_critical_role_fails_question_two() {
    let p = policy(&GOOD.replace(r#"approvers = ["carol", "dave"]"#, r#"approvers = ["carol"]"#));
    let report = assess(&input(&p));
    assert_eq!(failed(&report), [2]);
    assert!(render_text(&report).contains("1 person(s) can approve"), "{}", render_text(&report));
}

#[test]
fn weak_rules_and_long_ceilings_fail_question_two() {
    let p = policy(&GOOD.replace(
        "tier = \"critical\"",
        "tier = \"critical\"\nrequire_mfa = false\nrequire_justification = false\nmax_duration = \"8h\"\napprovals_required = 0",
    ));
    let text = render_text(&assess(&input(&p)));
    for fragment in ["require_mfa", "require_justification", "approvals_required", "at most 2h"] {
        assert!(text.contains(fragment), "{fragment}: {text}");
    }
}

#[test]
fn standing_access_fails_question_one_but_break_glass_does_not() {
    let p = policy(&format!("{GOOD}\n[[break_glass]]\nupn = \"bg@contoso.com\"\nobject_id = \"oid-bg\"\n"));
    let standing = |principal: &str| DirectoryAssignment {
        role: "global-admin".into(),
        principal_id: principal.into(),
        starts_at: None,
        ends_at: None,
        assignment_type: "Assigned".into(),
    };
    let mut i = input(&p);
    i.assignments = Evidence::Read(vec![standing("OID-BG")]);
    assert!(assess(&i).ok, "break-glass standing access is deliberate");
    i.assignments = Evidence::Read(vec![standing("oid-alice")]);
    let report = assess(&i);
    assert_eq!(failed(&report), [1]);
    assert!(render_text(&report).contains("held by alice"));
    i.assignments = Evidence::Failed("token refused".into());
    assert_eq!(failed(&assess(&i)), [1], "unanswerable is not a pass");
}

#[test]
fn reviews_must_cover_recur_and_complete() {
    let p = policy(GOOD);
    let without = policy(&GOOD[..GOOD.find("[[review]]").expect("has a review")]);
    assert_eq!(failed(&assess(&input(&without))), [3]);

    let quarter = Cadence::Quarterly.period_start(now());
    let campaign = |start: DateTime<Utc>, done: bool| CampaignStatus {
        review: "global-admin".into(),
        period_start: start,
        deadline: start + Duration::days(7),
        undecided: usize::from(!done),
        unapplied: 0,
        completed_at: done.then_some(start + Duration::days(7)),
    };
    let mut i = input(&p);
    i.campaigns = Evidence::Read(vec![campaign(quarter, true)]);
    assert!(assess(&i).ok, "{}", render_text(&assess(&i)));
    i.campaigns = Evidence::Read(vec![campaign(quarter, false)]);
    assert_eq!(failed(&assess(&i)), [3], "closed with an undecided item");
    let previous = Cadence::Quarterly.period_start(quarter - Duration::days(1));
    i.campaigns = Evidence::Read(vec![campaign(previous, true)]);
    assert_eq!(failed(&assess(&i)), [3], "this quarter's campaign never started");
    i.campaigns = Evidence::Read(vec![]);
    assert!(assess(&i).ok, "nothing has run yet");
    let _ = ReviewDecision::Remove;
}

#[test]
fn alerts_need_a_channel_and_no_recent_refusals() {
    let p = policy(GOOD);
    let mut i = input(&p);
    i.routes = vec![];
    assert_eq!(failed(&assess(&i)), [4]);
    i.routes = vec![AlertRoute { platform: Platform::Discord, alert_channel: None }];
    assert_eq!(failed(&assess(&i)), [4]);
    i.routes = vec![AlertRoute { platform: Platform::Slack, alert_channel: Some("C0ALERTS".into()) }];
    i.refused_alerts = Evidence::Read(vec!["slack C0ALERTS: channel_not_found".into()]);
    let report = assess(&i);
    assert_eq!(failed(&report), [4]);
    assert!(render_text(&report).contains("channel_not_found"));
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["ok"], false);
    assert_eq!(json["questions"][3]["number"], 4);
}
