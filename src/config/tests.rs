//! Tests for loading, env overrides, tier defaults and every validation rule.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use secrecy::ExposeSecret;

use super::*;
use crate::core::ids::PersonId;
use crate::core::policy::{Policy, Tier};

const EXAMPLE: &str = include_str!("../../examples/pimbot.toml");

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid")
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A valid config with people and groups but no roles; tests append to it.
const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"

[database]
url = "sqlite://pimbot.db"

[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"

[[person]]
id = "bob"
upn = "bob@contoso.com"
slack = "U0BOB"

[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"

[[person]]
id = "dave"
upn = "dave@contoso.com"
object_id = "oid-dave"

[[group]]
name = "approvers"
members = ["carol", "dave"]
"#;

fn parse(text: &str) -> Config {
    match from_toml_str_with_env(text, &no_env) {
        Ok(config) => config,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn valid(text: &str) -> Policy {
    match parse(text).validate(now()) {
        Ok(policy) => policy,
        Err(e) => panic!("validation failed: {e}"),
    }
}

fn problems(text: &str) -> ConfigErrors {
    match parse(text).validate(now()) {
        Ok(_) => panic!("expected validation errors"),
        Err(e) => e,
    }
}

fn parse_error(text: &str) -> String {
    match from_toml_str_with_env(text, &no_env) {
        Ok(_) => panic!("expected a parse error"),
        Err(e) => e.to_string(),
    }
}

fn assert_problem(text: &str, key: &str, fragment: &str) {
    let errs = problems(text);
    assert!(
        errs.0.iter().any(|e| e.key == key && e.message.contains(fragment)),
        "want `{key}: …{fragment}…`, got:\n{errs}"
    );
}

/// Well-formed dummy values of the secrets the example reads from the environment.
fn example_env(name: &str) -> Option<String> {
    match name {
        ENV_SLACK_SIGNING_SECRET => Some("8f742231b10e8888abcd99yyyzzz85a5".into()),
        ENV_SLACK_BOT_TOKEN => Some("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy".into()),
        ENV_BREAK_GLASS_WEBHOOK_TOKEN => Some("b7c1a0d9e2f34b5c8d6e7f8091a2b3c4".into()),
        _ => None,
    }
}

#[test]
fn placeholders_and_malformed_tokens_are_refused() {
    let slack = |token: &str| {
        format!("{BASE}[slack]\nsigning_secret = \"s\"\nbot_token = \"{token}\"\napprover_channel = \"C1\"\n")
    };
    assert_problem(&slack("xoxb-REPLACE-ME"), "slack.bot_token", "placeholder");
    assert_problem(&slack("notatoken"), "slack.bot_token", "`xoxb-`");
    assert_problem(&slack("xapp-1-A1-2-abc"), "slack.bot_token", "starting with `xapp`");
    assert_problem(&slack("xoxb-1 2"), "slack.bot_token", "whitespace");
    for fine in ["xoxb-1-2-abc", "xoxp-1-2-abc", "xoxe.xoxb-1-abc"] {
        parse(&slack(fine)).validate(now()).expect(fine);
    }
    let signing = slack("xoxb-1")
        .replace("signing_secret = \"s\"", "signing_secret = \"REPLACE-ME-slack-signing-secret\"");
    assert_problem(&signing, "slack.signing_secret", "PIMBOT_SLACK_SIGNING_SECRET");
    let discord = |token: &str| {
        format!(
            "{BASE}[discord]\napplication_id = \"42\"\npublic_key = \"{}\"\nbot_token = \"{token}\"\napprover_channel = \"9\"\n",
            "0f".repeat(32)
        )
    };
    assert_problem(&discord("Bot a.b.c"), "discord.bot_token", "without the `Bot ` prefix");
    assert_problem(&discord("just-a-string"), "discord.bot_token", "three dot-separated parts");
    assert_problem(
        &discord("a.b.c").replace(&"0f".repeat(32), "<64 hex characters>"),
        "discord.public_key",
        "placeholder",
    );
    let short_key = discord("a.b.c").replace(&"0f".repeat(32), &"0f".repeat(16));
    assert_problem(&short_key, "discord.public_key", "64 hex characters");
    let webhook = format!("{BASE}[break_glass_monitor]\nwebhook_token = \"REPLACE-ME-webhook-token\"\n");
    assert_problem(&webhook, "break_glass_monitor.webhook_token", "placeholder");
}

#[test]
fn the_example_loads_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pimbot.toml");
    // The example keeps no secret: alone it is refused, naming each environment variable.
    let bare = load_with_env(&path, &no_env).expect("example parses");
    let errs = bare.validate(now()).expect_err("secrets are missing");
    for var in [ENV_SLACK_SIGNING_SECRET, ENV_SLACK_BOT_TOKEN, ENV_BREAK_GLASS_WEBHOOK_TOKEN] {
        assert!(errs.mentions(var), "names {var}: {errs}");
    }
    let config = load_with_env(&path, &example_env).expect("example parses");
    let policy = config.validate(now()).expect("example validates");
    assert_eq!(policy.people.len(), 6);
    assert_eq!(policy.break_glass.len(), 1);
    let keys: Vec<&str> = policy.roles.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["global-admin", "user-admin", "reader"]);

    let ga = policy.role(&"global-admin".into()).expect("role");
    assert_eq!(ga.approvers, vec![PersonId::from("carol"), PersonId::from("dave")]);
    assert_eq!(ga.escalate_to, vec![PersonId::from("dave"), PersonId::from("frank")]);
    let erin = ga.eligible.iter().find(|e| e.person.as_str() == "erin").expect("erin");
    assert_eq!(erin.until, Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).single());

    let ua = policy.role(&"user-admin".into()).expect("role");
    assert_eq!((ua.tier, ua.approvals_required, ua.max_duration), (Tier::High, 2, Duration::hours(4)));
    let reader = policy.role(&"reader".into()).expect("role");
    assert!(!reader.needs_approval());

    assert_eq!(config.database.backend(), Some(DatabaseBackend::Sqlite));
    assert_eq!(config.listen_addr().expect("addr").port(), 8080);
    assert_eq!(config.slack().map(|s| s.api_url.as_str()), Some(file::DEFAULT_SLACK_API_URL));
    assert!(config.discord().is_none());

    let text = summary(&config, &policy);
    for want in
        ["database: sqlite", "role global-admin", "erin (through 2027-01-31)", "bg1@contoso", "C0APPROVERS"]
    {
        assert!(text.contains(want), "summary lacks {want}:\n{text}");
    }
    for var in [ENV_SLACK_SIGNING_SECRET, ENV_SLACK_BOT_TOKEN, ENV_BREAK_GLASS_WEBHOOK_TOKEN] {
        let secret = example_env(var).expect("a dummy");
        assert!(!text.contains(&secret), "summary leaks {var}");
    }
}

#[test]
fn the_process_env_entry_points_parse_too() {
    assert!(from_toml_str(EXAMPLE).is_ok());
    let missing = load(Path::new("/nonexistent/pimbot.toml")).err().map(|e| e.to_string());
    assert!(missing.is_some_and(|m| m.contains("/nonexistent/pimbot.toml")));
}

#[test]
fn unknown_keys_are_rejected_everywhere_with_the_key_named() {
    let cases = [
        ("[server]\nlisten = \"127.0.0.1:1\"\nport = 1\n", "port"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[database]\nuri = \"x\"\n", "uri"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[slack]\nsigning_secrett = \"x\"\n", "signing_secrett"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[discord]\napp_id = \"1\"\n", "app_id"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[directory]\ntenant = \"t\"\n", "tenant"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[break_glass_monitor]\ntoken = \"t\"\n", "token"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[[person]]\nid = \"a\"\nemail = \"a@b\"\n", "email"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[[group]]\nname = \"g\"\nmember = []\n", "member"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[[break_glass]]\nupn = \"bg\"\noid = \"x\"\n", "oid"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n[metrics]\nenabled = true\n", "metrics"),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\n[[role]]\nkey = \"r\"\nkind = \"group\"\ntier = \"high\"\nmax_duraton = \"1h\"\n",
            "max_duraton",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\n[[role]]\nkey = \"r\"\nkind = \"group\"\ntier = \"high\"\neligible = [{ who = \"a\", untill = \"2027-01-01\" }]\n",
            "untill",
        ),
    ];
    for (text, key) in cases {
        let msg = parse_error(text);
        assert!(msg.contains(&format!("unknown field `{key}`")), "{key}: {msg}");
        assert!(msg.contains("line"), "{key}: no line in {msg}");
    }
}

#[test]
fn bad_values_name_their_line_and_key() {
    let msg = parse_error(&format!(
        "{BASE}[[role]]\nkey = \"r\"\nkind = \"group\"\ntier = \"high\"\nsla = \"soon\"\n"
    ));
    assert!(msg.contains("sla = \"soon\"") && msg.contains("30m"), "{msg}");
    let msg = parse_error(&format!(
        "{BASE}[[role]]\nkey = \"r\"\nkind = \"group\"\ntier = \"high\"\nrequest_ttl = \"0s\"\n"
    ));
    assert!(msg.contains("request_ttl") && msg.contains("longer than zero"), "{msg}");
    let msg = parse_error(&format!("{BASE}[[role]]\nkey = \"r\"\nkind = \"group\"\ntier = \"huge\"\n"));
    assert!(msg.contains("tier") && msg.contains("critical"), "{msg}");
    let msg = parse_error(&format!(
        "{BASE}[[role]]\nkey = \"r\"\nkind = \"group\"\ntier = \"high\"\neligible = [{{ who = \"a\", until = \"soon\" }}]\n"
    ));
    assert!(msg.contains("until") && msg.contains("2027-01-31"), "{msg}");
}

/// A role `ops` with `lines`; chat-only identity unless the lines speak of MFA (without
/// `[oidc]`, critical and high roles must opt out of MFA explicitly).
fn role_with(lines: &str) -> String {
    let opt_out = if lines.contains("mfa") { "" } else { "require_mfa = false\napprover_mfa = false\n" };
    format!("{BASE}\n[[role]]\nkey = \"ops\"\nkind = \"entra-role\"\n{opt_out}{lines}\n")
}

#[test]
fn until_is_an_exclusive_end_in_every_form() {
    let policy = valid(&role_with(
        r#"tier = "standard"
eligible = [
  { who = "alice", until = "2027-01-31" },
  { who = "bob", until = 2027-01-31 },
  { who = "carol", until = "2027-01-31T18:30:00+02:00" },
  { who = "dave" },
]"#,
    ));
    let until: HashMap<&str, Option<DateTime<Utc>>> =
        policy.roles[0].eligible.iter().map(|e| (e.person.as_str(), e.until)).collect();
    let midnight = Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).single();
    assert_eq!(until["alice"], midnight);
    assert_eq!(until["bob"], midnight);
    assert_eq!(until["carol"], Utc.with_ymd_and_hms(2027, 1, 31, 16, 30, 0).single());
    assert_eq!(until["dave"], None);
    let role = &policy.roles[0];
    let last_second = Utc.with_ymd_and_hms(2027, 1, 31, 23, 59, 59).single().expect("valid");
    assert!(role.is_eligible(&"alice".into(), last_second));
    assert!(!role.is_eligible(&"alice".into(), last_second + Duration::seconds(1)));
}

#[test]
fn eligibility_through_a_group_and_directly_keeps_the_most_generous_end() {
    let policy = valid(&role_with(
        r#"tier = "standard"
eligible = [{ who = "@approvers", until = "2027-01-31" }, "dave", { who = "carol", until = "2027-06-30" }]"#,
    ));
    let until: HashMap<&str, Option<DateTime<Utc>>> =
        policy.roles[0].eligible.iter().map(|e| (e.person.as_str(), e.until)).collect();
    assert_eq!(until.len(), 2);
    assert_eq!(until["dave"], None);
    assert_eq!(until["carol"], Utc.with_ymd_and_hms(2027, 7, 1, 0, 0, 0).single());
}

#[test]
fn tier_defaults_fill_omitted_keys() {
    let critical = valid(&role_with("tier = \"critical\"\napprovers = [\"carol\"]\neligible = [\"alice\"]"));
    let r = &critical.roles[0];
    assert_eq!((r.min_duration, r.max_duration), (Duration::minutes(5), Duration::hours(2)));
    assert!(r.require_justification && r.require_ticket && r.disjoint_approvers);
    assert_eq!(r.approvals_required, 1);
    assert_eq!(
        (r.sla, r.request_ttl, r.min_hold),
        (Duration::minutes(5), Duration::hours(1), Duration::minutes(5))
    );
    assert_eq!((r.name.as_str(), r.scope.as_str()), ("ops", "/"));

    let high = valid(&role_with("tier = \"high\"\napprovers = [\"carol\"]\neligible = [\"alice\"]"));
    let r = &high.roles[0];
    assert_eq!(r.max_duration, Duration::hours(4));
    assert!(r.require_justification && !r.require_ticket && !r.disjoint_approvers);
    assert_eq!((r.approvals_required, r.sla, r.request_ttl), (1, Duration::minutes(15), Duration::hours(4)));

    let standard = valid(&role_with("tier = \"standard\"\neligible = [\"alice\"]"));
    let r = &standard.roles[0];
    assert_eq!(r.max_duration, Duration::hours(8));
    assert_eq!((r.approvals_required, r.sla, r.request_ttl), (0, Duration::minutes(30), Duration::hours(8)));
    assert_eq!((r.min_duration, r.min_hold), (Duration::minutes(5), Duration::minutes(5)));

    // Explicit values win; a defaulted minimum is capped by a short maximum.
    let short = valid(&role_with(
        "tier = \"standard\"\nmax_duration = \"60s\"\nsla = \"10s\"\nrequire_ticket = true",
    ));
    let r = &short.roles[0];
    assert_eq!(
        (r.min_duration, r.max_duration, r.sla),
        (Duration::seconds(60), Duration::seconds(60), Duration::seconds(10))
    );
    assert!(r.require_ticket);
}

#[test]
fn env_overrides_fill_and_replace_secrets() {
    let text = format!(
        "{}\n[slack]\napprover_channel = \"C1\"\nbot_token = \"xoxb-from-file\"\n[discord]\napplication_id = \"1\"\napprover_channel = \"2\"\n[break_glass_monitor]\n[directory]\nkind = \"graph\"\ntenant_id = \"t\"\nclient_id = \"c\"\n",
        BASE.replace("url = \"sqlite://pimbot.db\"", "")
    );
    assert!(problems(&text).0.len() >= 6, "secrets are missing without the env");
    let key = "ab".repeat(32);
    let vars: HashMap<&str, String> = [
        (ENV_DATABASE_URL, "postgres://pim:hunter2@db.internal:5432/pimbot?sslmode=require".to_owned()),
        (ENV_SLACK_SIGNING_SECRET, "env-signing".to_owned()),
        (ENV_SLACK_BOT_TOKEN, "xoxb-from-env".to_owned()),
        (ENV_DISCORD_PUBLIC_KEY, key.clone()),
        (ENV_DISCORD_BOT_TOKEN, "env.discord.token".to_owned()),
        (ENV_GRAPH_CLIENT_SECRET, "env-graph-secret".to_owned()),
        (ENV_BREAK_GLASS_WEBHOOK_TOKEN, "env-webhook".to_owned()),
    ]
    .into_iter()
    .collect();
    let env = |name: &str| vars.get(name).cloned();
    let config = from_toml_str_with_env(&text, &env).expect("parses");
    config.validate(now()).expect("env completes the config");
    let slack = config.slack().expect("slack");
    let show = |s: Option<&secrecy::SecretString>| s.map(|s| s.expose_secret().to_owned());
    assert_eq!(show(slack.bot_token.as_ref()).as_deref(), Some("xoxb-from-env"), "env wins over the file");
    assert_eq!(show(slack.signing_secret.as_ref()).as_deref(), Some("env-signing"));
    assert_eq!(show(config.discord().and_then(|d| d.public_key.as_ref())), Some(key));
    assert_eq!(show(config.directory.client_secret.as_ref()).as_deref(), Some("env-graph-secret"));
    assert_eq!(config.database.backend(), Some(DatabaseBackend::Postgres));
    assert_eq!(config.database.redacted_url().as_deref(), Some("postgres://db.internal:5432/pimbot"));

    // Empty variables are ignored, and a variable alone never enables a platform.
    let blank = |_: &str| Some(String::new());
    let config = from_toml_str_with_env(&text, &blank).expect("parses");
    assert!(config.slack().is_some_and(|s| s.signing_secret.is_none()));
    let config = from_toml_str_with_env(BASE, &env).expect("parses");
    assert!(config.slack().is_none() && config.discord().is_none());
}

#[test]
fn debug_and_summary_never_show_a_secret() {
    let text = format!(
        r#"{}
[slack]
signing_secret = "s3cret-signing"
bot_token = "xoxb-s3cret"
approver_channel = "C1"
[discord]
application_id = "1"
public_key = "{}"
bot_token = "discord.s3cret.token"
approver_channel = "2"
[directory]
kind = "graph"
tenant_id = "t"
client_id = "c"
client_secret = "graph-s3cret"
[break_glass_monitor]
webhook_token = "webhook-s3cret"
"#,
        BASE.replace("sqlite://pimbot.db", "postgres://pim:db-s3cret@db/pimbot?password=db-s3cret"),
        "cd".repeat(32)
    );
    let config = parse(&text);
    let policy = config.validate(now()).expect("valid");
    let debug = format!("{config:?}");
    let shown = summary(&config, &policy);
    for secret in [
        "s3cret-signing",
        "xoxb-s3cret",
        &"cd".repeat(32),
        "discord.s3cret.token",
        "graph-s3cret",
        "webhook-s3cret",
        "db-s3cret",
    ] {
        assert!(!debug.contains(secret), "Debug leaks {secret}");
        assert!(!shown.contains(secret), "summary leaks {secret}");
    }
    assert!(shown.contains("database: postgres (postgres://db/pimbot)"), "{shown}");
}

#[test]
fn redact_url_drops_credentials_and_queries() {
    for (url, want) in [
        ("sqlite://pimbot.db", "sqlite://pimbot.db"),
        ("sqlite::memory:", "sqlite::memory:"),
        ("postgres://u:p@h/db", "postgres://h/db"),
        ("postgres://u:p@h", "postgres://h"),
        ("postgresql://h:5432/db?password=p", "postgresql://h:5432/db"),
    ] {
        assert_eq!(redact_url(url), want);
    }
}

#[test]
fn unknown_ids_are_named_with_a_fix() {
    let text = role_with(
        r#"tier = "critical"
approvers = ["@approvers", "zed"]
escalate_to = ["@oncall", "yan"]
eligible = ["alice", "@nobody", { who = "xavier", until = "2027-01-31" }]"#,
    );
    assert_problem(
        &text,
        "role \"ops\": approvers",
        "unknown person \"zed\" (add a [[person]] with id = \"zed\" or remove it)",
    );
    assert_problem(
        &text,
        "role \"ops\": escalate_to",
        "unknown group \"@oncall\" (add a [[group]] with name = \"oncall\"",
    );
    assert_problem(&text, "role \"ops\": escalate_to", "unknown person \"yan\"");
    assert_problem(&text, "role \"ops\": eligible", "unknown group \"@nobody\"");
    assert_problem(&text, "role \"ops\": eligible", "unknown person \"xavier\"");
    assert_eq!(problems(&text).0.len(), 5, "all problems at once");
    assert_eq!(
        problems(&text).0[0].to_string(),
        "role \"ops\": approvers: unknown person \"zed\" (add a [[person]] with id = \"zed\" or remove it)"
    );

    let text = format!("{BASE}\n[[group]]\nname = \"ops\"\nmembers = [\"alice\", \"walt\", \"@missing\"]\n");
    assert_problem(&text, "group \"ops\": members", "unknown person \"walt\"");
    assert_problem(&text, "group \"ops\": members", "unknown group \"@missing\"");
}

#[test]
fn nested_groups_expand_and_cycles_are_refused() {
    let text = format!(
        "{BASE}\n[[group]]\nname = \"all\"\nmembers = [\"@approvers\", \"alice\", \"carol\"]\n{}",
        "[[role]]\nkey = \"ops\"\nkind = \"group\"\ntier = \"standard\"\neligible = [\"@all\"]\n"
    );
    let people: Vec<String> = valid(&text).roles[0].eligible.iter().map(|e| e.person.to_string()).collect();
    assert_eq!(people, ["carol", "dave", "alice"]);

    let text = format!(
        "{BASE}\n[[group]]\nname = \"a\"\nmembers = [\"@b\"]\n[[group]]\nname = \"b\"\nmembers = [\"alice\", \"@a\"]\n"
    );
    assert_problem(&text, "group \"b\": members", "cycle (a → b → a)");
    assert_eq!(problems(&text).0.len(), 1);
}

#[test]
fn approver_pools_must_survive_removing_each_requester() {
    // Empty pool for a role that needs approval.
    assert_problem(
        &role_with("tier = \"high\"\neligible = [\"alice\"]"),
        "role \"ops\": approvers",
        "has 0 approver(s)",
    );
    // Fewer approvers than approvals_required.
    assert_problem(
        &role_with(
            "tier = \"high\"\napprovals_required = 3\napprovers = [\"@approvers\"]\neligible = [\"alice\"]",
        ),
        "role \"ops\": approvers",
        "has 2 approver(s) but approvals_required = 3",
    );
    // Enough on paper, but carol requesting leaves only dave for two approvals.
    let text = role_with(
        "tier = \"high\"\napprovals_required = 2\napprovers = [\"@approvers\"]\neligible = [\"alice\", \"carol\"]",
    );
    assert_problem(&text, "role \"ops\": approvers", "when \"carol\" requests");
    assert!(!problems(&text).mentions("\"alice\" requests"));
    // Disjoint: dave is eligible, so only carol may approve; two approvals are impossible.
    let text = role_with(
        "tier = \"critical\"\napprovals_required = 2\napprovers = [\"@approvers\"]\neligible = [\"alice\", \"dave\"]",
    );
    assert_problem(&text, "role \"ops\": approvers", "with disjoint_approvers");
    // Without disjoint the same pool is fine: every requester leaves two others.
    valid(&role_with(
        "tier = \"critical\"\ndisjoint_approvers = false\napprovals_required = 2\napprovers = [\"@approvers\", \"bob\"]\neligible = [\"alice\", \"dave\"]",
    ));
    // An expired eligibility no longer removes anyone from the pool.
    valid(&role_with(
        "tier = \"critical\"\napprovers = [\"carol\"]\neligible = [\"alice\", { who = \"carol\", until = \"2026-01-01\" }]",
    ));
}

#[test]
fn duration_bounds_are_checked() {
    assert_problem(
        &role_with("tier = \"standard\"\nmin_duration = \"3h\"\nmax_duration = \"2h\""),
        "role \"ops\": min_duration",
        "3h is longer than max_duration 2h",
    );
    assert_problem(
        &role_with("tier = \"standard\"\nrequest_ttl = \"25h\""),
        "role \"ops\": request_ttl",
        "at most 1d",
    );
    valid(&role_with("tier = \"standard\"\nrequest_ttl = \"24h\""));
}

#[test]
fn role_keys_are_lowercase_and_unique() {
    assert_problem(
        &role_with("tier = \"standard\"").replace("\"ops\"", "\"Ops Admin\""),
        "role \"Ops Admin\": key",
        "lowercase",
    );
    let text = format!(
        "{}[[role]]\nkey = \"ops\"\nkind = \"group\"\ntier = \"high\"\napprovers = [\"carol\"]\n",
        role_with("tier = \"standard\"")
    );
    assert_problem(&text, "role \"ops\": key", "defined twice");
}

#[test]
fn person_ids_group_names_and_chat_ids_are_unique() {
    let text = format!("{BASE}\n[[person]]\nid = \"alice\"\nupn = \"a2@contoso.com\"\n");
    assert_problem(&text, "person \"alice\": id", "defined twice");
    let text = format!("{BASE}\n[[group]]\nname = \"approvers\"\nmembers = []\n");
    assert_problem(&text, "group \"approvers\": name", "defined twice");
    let text = format!("{BASE}\n[[person]]\nid = \"eve\"\nslack = \"U0ALICE\"\n");
    assert_problem(&text, "person \"eve\": slack", "already person \"alice\"'s");
    let text = format!("{BASE}\n[[person]]\nid = \"@eve\"\n");
    assert_problem(&text, "person \"@eve\": id", "must not start with `@`");
    // A person with no chat identity at all is fine.
    valid(&format!("{BASE}\n[[person]]\nid = \"eve\"\n"));
}

const SLACK_OK: &str = "[slack]\nsigning_secret = \"s\"\nbot_token = \"xoxb-1\"\napprover_channel = \"C1\"\n";

#[path = "tests_lookup.rs"]
mod lookup;

#[path = "tests_oncall.rs"]
mod oncall;

#[path = "tests_platforms.rs"]
mod platforms;

#[path = "tests_limits.rs"]
mod limits;
