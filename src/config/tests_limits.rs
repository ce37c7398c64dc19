//! Limits that keep bad input out: the admin token's strength and durations no config can
//! overflow.

use super::*;

#[test]
fn a_blank_or_short_admin_token_is_refused_and_a_long_one_accepted() {
    for token in ["", "   ", "test-admin-token"] {
        let text = BASE.replace("[server]\n", &format!("[server]\nadmin_token = \"{token}\"\n"));
        assert_problem(&text, "server.admin_token", "32");
    }
    let strong = BASE.replace("[server]\n", "[server]\nadmin_token = \"0123456789abcdef0123456789abcdef\"\n");
    valid(&strong);
    // The environment override is held to the same rule.
    let env = |name: &str| (name == ENV_ADMIN_TOKEN).then(|| "short".to_owned());
    let config = from_toml_str_with_env(BASE, &env).expect("parses");
    let errs = config.validate(now()).expect_err("short env token");
    assert!(errs.mentions("server.admin_token"), "{errs}");
}

#[test]
fn durations_too_long_to_add_to_a_date_are_refused_with_their_key() {
    let text = format!("{BASE}[break_glass_monitor]\nwebhook_token = \"w\"\nrepage_every = \"300000y\"\n");
    let err = parse_error(&text);
    assert!(err.contains("repage_every") && err.contains("too long"), "{err}");
}

/// A monitor, a break-glass account and two roles of different tiers, with `extra` in the
/// monitor section.
fn with_monitor(extra: &str) -> String {
    let role = |lines: &str| format!("\n[[role]]\nkind = \"entra-role\"\neligible = [\"alice\"]\n{lines}\n");
    format!(
        "{BASE}[break_glass_monitor]\nwebhook_token = \"w\"\n{extra}\n\
         [[break_glass]]\nupn = \"bg1@contoso.com\"\n{}{}",
        role(
            "key = \"ga\"\ntier = \"critical\"\napprovers = [\"@approvers\"]\nrequire_mfa = false\napprover_mfa = false"
        ),
        role("key = \"reader\"\ntier = \"standard\"\napprovers = [\"bob\"]\napprovals_required = 1"),
    )
}

#[test]
fn acknowledgers_default_to_the_approvers_of_the_most_critical_roles() {
    let policy = valid(&with_monitor(""));
    assert_eq!(policy.acknowledgers, vec![PersonId::from("carol"), PersonId::from("dave")]);
    let policy = valid(&with_monitor("acknowledgers = [\"bob\", \"@approvers\", \"bob\"]"));
    assert_eq!(policy.acknowledgers, ["bob", "carol", "dave"].map(PersonId::from));
    assert_problem(&with_monitor("acknowledgers = [\"zed\"]"), "break_glass_monitor.acknowledgers", "zed");
    assert_problem(&with_monitor("acknowledgers = []"), "break_glass_monitor.acknowledgers", "nobody");
    let monitor = parse(&with_monitor("coalesce_window = \"30m\""));
    assert_eq!(monitor.break_glass_monitor().map(|m| m.coalesce_window), Some(Duration::minutes(30)));
    let default = parse(&with_monitor(""));
    assert_eq!(default.break_glass_monitor().map(|m| m.coalesce_window), Some(Duration::minutes(10)));
}

#[test]
fn max_justification_has_a_default_and_a_range() {
    assert_eq!(valid(BASE).max_justification, 500);
    assert_eq!(valid(&format!("{BASE}[limits]\nmax_justification = 80\n")).max_justification, 80);
    assert_problem(
        &format!("{BASE}[limits]\nmax_justification = 0\n"),
        "limits.max_justification",
        "out of range",
    );
    assert_problem(
        &format!("{BASE}[limits]\nmax_justification = 5000\n"),
        "limits.max_justification",
        "out of range",
    );
}

#[test]
fn commands_per_minute_defaults_to_ten_and_zero_is_refused() {
    assert_eq!(valid(BASE).commands_per_minute, 10);
    assert_eq!(valid(&format!("{BASE}[limits]\ncommands_per_minute = 30\n")).commands_per_minute, 30);
    assert_problem(
        &format!("{BASE}[limits]\ncommands_per_minute = 0\n"),
        "limits.commands_per_minute",
        "at least 1",
    );
}
