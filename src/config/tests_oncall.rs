//! `[oncall.*]`, a role's `oncall = { … }` and `max_start_ahead`: what `pimbot check` accepts
//! and the clear refusals of what it does not.

use super::*;

const PAGERDUTY: &str =
    "\n[oncall.pagerduty]\napi_url = \"https://api.pagerduty.com\"\ntoken = \"pd-token\"\n";

/// A role with `extra` lines, after `BASE` and the PagerDuty section.
fn role(tier: &str, approvals: u32, extra: &str) -> String {
    format!(
        "{BASE}{PAGERDUTY}\n[[role]]\nkey = \"db-admin\"\nkind = \"entra-role\"\ntier = \"{tier}\"\n\
         require_mfa = false\napprover_mfa = false\napprovals_required = {approvals}\n\
         approvers = [\"@approvers\"]\neligible = [\"alice\"]\n{extra}\n"
    )
}

const RULE: &str = "oncall = { provider = \"pagerduty\", schedules = [\"P1ABCD\"] }";

#[test]
fn an_oncall_rule_resolves_with_its_defaults() {
    let policy = valid(&role("high", 1, RULE));
    let rule = policy.roles[0].oncall.clone().expect("rule");
    assert_eq!(rule.provider, crate::core::oncall::OnCallProvider::PagerDuty);
    assert_eq!((rule.schedules, rule.approves, rule.allow_critical), (vec!["P1ABCD".to_owned()], 1, false));
    assert_eq!(policy.roles[0].max_start_ahead, chrono::Duration::days(7));
}

#[test]
fn critical_roles_are_refused_unless_allow_critical() {
    assert_problem(
        &role("critical", 1, RULE),
        "role \"db-admin\": oncall",
        "critical roles are never approved",
    );
    let allowed = RULE.replace(" }", ", allow_critical = true }");
    assert!(valid(&role("critical", 1, &allowed)).roles[0].oncall.is_some());
}

#[test]
fn bad_rules_are_refused_with_the_fix() {
    let unconfigured = RULE.replace("pagerduty", "opsgenie");
    assert_problem(
        &role("high", 1, &unconfigured),
        "role \"db-admin\": oncall.provider",
        "add an [oncall.opsgenie]",
    );
    let empty = RULE.replace("[\"P1ABCD\"]", "[]");
    assert_problem(&role("high", 1, &empty), "role \"db-admin\": oncall.schedules", "at least one schedule");
    let too_many = RULE.replace(" }", ", approves = 2 }");
    assert_problem(&role("high", 1, &too_many), "role \"db-admin\": oncall.approves", "1 to 1 approval");
    assert_problem(&role("high", 0, RULE), "role \"db-admin\": oncall", "needs no approval");
    let unknown = RULE.replace("pagerduty", "victorops");
    assert!(parse_error(&role("high", 1, &unknown)).contains("victorops"));
    let typo = RULE.replace("schedules", "schedule");
    assert!(parse_error(&role("high", 1, &typo)).contains("schedule"));
}

#[test]
fn a_provider_needs_a_token_which_the_environment_may_give() {
    let text = role("high", 1, RULE).replace("token = \"pd-token\"\n", "");
    assert_problem(&text, "oncall.pagerduty.token", "PIMBOT_PAGERDUTY_TOKEN");
    let env = |name: &str| (name == "PIMBOT_PAGERDUTY_TOKEN").then(|| "from-env".to_owned());
    let config = from_toml_str_with_env(&text, &env).expect("parses");
    assert!(config.validate(now()).is_ok());
    assert!(config.oncall.pagerduty.and_then(|p| p.token).is_some());
}

#[test]
fn max_start_ahead_is_bounded() {
    let policy = valid(&role("high", 1, "max_start_ahead = \"2d\""));
    assert_eq!(policy.roles[0].max_start_ahead, chrono::Duration::days(2));
    assert_problem(
        &role("high", 1, "max_start_ahead = \"365d\""),
        "role \"db-admin\": max_start_ahead",
        "at most 90d",
    );
}

#[test]
fn a_persons_time_zone_must_be_known() {
    let text = BASE.replace(
        "upn = \"alice@contoso.com\"\n",
        "upn = \"alice@contoso.com\"\ntimezone = \"Europe/Berlin\"\n",
    );
    let policy = valid(&text);
    let alice = policy.people.iter().find(|p| p.id.as_str() == "alice").expect("alice");
    assert_eq!(alice.timezone.as_deref(), Some("Europe/Berlin"));
    let bad =
        BASE.replace("upn = \"alice@contoso.com\"\n", "upn = \"alice@contoso.com\"\ntimezone = \"CET+1\"\n");
    assert_problem(&bad, "person \"alice\": timezone", "IANA name");
}
