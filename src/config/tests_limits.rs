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
