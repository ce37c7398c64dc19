//! Platform, directory, monitor and sign-in settings: what each needs and how `[oidc]` decides
//! the MFA rules of a role.

use super::*;

#[test]
fn slack_needs_its_secrets_and_approver_channel() {
    valid(&format!("{BASE}{SLACK_OK}"));
    for (drop, key) in [
        ("signing_secret = \"s\"\n", "slack.signing_secret"),
        ("bot_token = \"xoxb-1\"\n", "slack.bot_token"),
        ("approver_channel = \"C1\"\n", "slack.approver_channel"),
    ] {
        let text = format!("{BASE}{}", SLACK_OK.replace(drop, ""));
        assert_problem(&text, key, "missing");
    }
    assert_problem(
        &format!("{BASE}{}", SLACK_OK.replace("bot_token = \"xoxb-1\"", "bot_token = \"\"")),
        "slack.bot_token",
        "PIMBOT_SLACK_BOT_TOKEN",
    );
    assert_problem(
        &format!("{BASE}{SLACK_OK}api_url = \"slack.local\"\n"),
        "slack.api_url",
        "not an http(s) URL",
    );
}

#[test]
fn socket_mode_needs_an_app_token_instead_of_the_signing_secret() {
    let socket = "[slack]\nsocket_mode = true\nbot_token = \"xoxb-1\"\napprover_channel = \"C1\"\n";
    assert_problem(&format!("{BASE}{socket}"), "slack.app_token", "PIMBOT_SLACK_APP_TOKEN");
    assert_problem(&format!("{BASE}{socket}app_token = \"xoxb-2\"\n"), "slack.app_token", "xapp-");
    let config = parse(&format!("{BASE}{socket}app_token = \"xapp-1-A1-2-abc\"\n"));
    config.validate(now()).expect("no signing secret needed in Socket Mode");
    assert!(config.slack().is_some_and(|s| s.socket_mode));
    assert!(parse(&format!("{BASE}{SLACK_OK}")).slack().is_some_and(|s| !s.socket_mode), "off by default");

    let env = |name: &str| (name == ENV_SLACK_APP_TOKEN).then(|| "xapp-1-from-env".to_owned());
    let config = from_toml_str_with_env(&format!("{BASE}{socket}"), &env).expect("parses");
    config.validate(now()).expect("the environment supplies the app token");
    let token = config.slack().and_then(|s| s.app_token.as_ref()).map(|t| t.expose_secret().to_owned());
    assert_eq!(token.as_deref(), Some("xapp-1-from-env"));
}

#[test]
fn discord_needs_application_id_hex_public_key_and_token() {
    let ok = format!(
        "[discord]\napplication_id = \"42\"\npublic_key = \"{}\"\nbot_token = \"a.b.c\"\napprover_channel = \"9\"\n",
        "0f".repeat(32)
    );
    let config = parse(&format!("{BASE}{ok}"));
    config.validate(now()).expect("valid discord");
    assert_eq!(config.discord().map(|d| d.api_url.as_str()), Some(file::DEFAULT_DISCORD_API_URL));
    assert_problem(
        &format!("{BASE}{}", ok.replace("application_id = \"42\"\n", "")),
        "discord.application_id",
        "missing",
    );
    assert_problem(
        &format!("{BASE}{}", ok.replace("bot_token = \"a.b.c\"\n", "")),
        "discord.bot_token",
        "missing",
    );
    let no_key = ok.replace(&format!("public_key = \"{}\"\n", "0f".repeat(32)), "");
    assert_problem(&format!("{BASE}{no_key}"), "discord.public_key", "missing");
    let short = ok.replace(&"0f".repeat(32), "abc123");
    assert_problem(&format!("{BASE}{short}"), "discord.public_key", "64 hex characters");
    let not_hex = ok.replace(&"0f".repeat(32), &"zz".repeat(32));
    assert_problem(&format!("{BASE}{not_hex}"), "discord.public_key", "64 hex characters");
}

#[test]
fn graph_directory_needs_credentials_and_graph_eligibility_needs_graph() {
    let text = format!("{BASE}[directory]\nkind = \"graph\"\n");
    for key in ["directory.tenant_id", "directory.client_id"] {
        assert_problem(&text, key, "missing");
    }
    assert_problem(&text, "directory.credential", "no credential; set client_secret");
    assert_problem(
        &format!("{BASE}[directory]\neligibility = \"graph\"\n"),
        "directory.eligibility",
        "kind = \"graph\"",
    );
    let text = format!(
        "{BASE}[directory]\nkind = \"graph\"\neligibility = \"graph\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
         [[role]]\nkey = \"ops\"\nkind = \"group\"\ntier = \"standard\"\n"
    );
    assert_problem(&text, "role \"ops\": directory_id", "missing");
    let config = parse(&text.replace("tier = \"standard\"", "tier = \"standard\"\ndirectory_id = \"g-1\""));
    config.validate(now()).expect("graph config");
    assert_eq!(config.directory.graph_url, file::DEFAULT_GRAPH_URL);
    assert_eq!(config.directory.login_url, file::DEFAULT_LOGIN_URL);
    assert_eq!(config.directory.arm_url, file::DEFAULT_ARM_URL);
}

#[test]
fn break_glass_accounts_can_never_be_eligible() {
    let by_upn = format!(
        "{}[[break_glass]]\nupn = \"ALICE@contoso.com\"\n",
        role_with("tier = \"standard\"\neligible = [\"alice\", \"bob\"]")
    );
    assert_problem(&by_upn, "role \"ops\": eligible", "break-glass accounts can never be requested");
    let by_oid = format!(
        "{}[[break_glass]]\nupn = \"bg@contoso.com\"\nobject_id = \"oid-dave\"\n",
        role_with("tier = \"standard\"\neligible = [\"@approvers\"]")
    );
    assert_problem(
        &by_oid,
        "role \"ops\": eligible",
        "person \"dave\" is the break-glass account bg@contoso.com",
    );
    // Known to pimbot but not eligible for anything is fine.
    valid(&format!(
        "{}[[break_glass]]\nupn = \"dave@contoso.com\"\n",
        role_with("tier = \"standard\"\neligible = [\"alice\"]")
    ));
}

#[test]
fn monitor_listen_and_database_are_checked() {
    let text = format!("{BASE}[break_glass_monitor]\npoll_interval = \"30s\"\n");
    assert_problem(&text, "break_glass_monitor.webhook_token", "PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN");
    let monitor =
        parse(&format!("{BASE}[break_glass_monitor]\nwebhook_token = \"w\"\npoll_interval = \"30s\"\n"));
    let m = monitor.break_glass_monitor().expect("monitor");
    assert_eq!((m.poll_interval, m.repage_every), (Duration::seconds(30), Duration::minutes(2)));

    let text = BASE.replace("127.0.0.1:8080", "localhost");
    assert_problem(&text, "server.listen", "not a socket address");
    assert!(parse(&text).listen_addr().is_err());

    assert_problem(&BASE.replace("url = \"sqlite://pimbot.db\"", ""), "database.url", "PIMBOT_DATABASE_URL");
    let errs = problems(&BASE.replace("sqlite://pimbot.db", "mysql://root:t0psecret@db/pim"));
    assert!(errs.mentions("unsupported scheme `mysql`"), "{errs}");
    assert!(!errs.to_string().contains("t0psecret"));
}

/// An `[oidc]` section for `issuer`, with a secret.
fn oidc(issuer: &str, extra: &str) -> String {
    format!(
        "[oidc]\nissuer = \"{issuer}\"\nclient_id = \"app\"\nclient_secret = \"s\"\npublic_url = \"https://pimbot.example.com/\"\n{extra}\n"
    )
}

const ENTRA: &str = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0";

#[test]
fn mfa_defaults_follow_the_tier_and_need_oidc() {
    let text = |tier: &str, section: &str| {
        format!(
            "{BASE}{section}\n[[role]]\nkey = \"ops\"\nkind = \"entra-role\"\ntier = \"{tier}\"\napprovers = [\"carol\"]\neligible = [\"alice\"]\n"
        )
    };
    // Secure default: a critical or high role without [oidc] is refused, saying how to fix it.
    for tier in ["critical", "high"] {
        let errs = problems(&text(tier, ""));
        assert!(errs.mentions("configure [oidc], or set require_mfa = false"), "{tier}: {errs}");
    }
    let standard = valid(&text("standard", ""));
    assert!(!standard.roles[0].require_mfa && !standard.roles[0].approver_mfa);
    // With a (non-Entra) provider the defaults apply: amr carries the evidence.
    let generic = oidc("https://idp.example.com", "");
    let critical = valid(&text("critical", &generic));
    let r = &critical.roles[0];
    assert!(r.require_mfa && r.approver_mfa);
    assert_eq!((r.mfa_max_age, r.auth_context.as_deref()), (Duration::minutes(5), None));
    let high = valid(&text("high", &generic));
    assert!(high.roles[0].require_mfa && !high.roles[0].approver_mfa);
}

#[test]
fn entra_needs_an_authentication_context_for_mfa_roles() {
    let role = |lines: &str, section: &str| {
        format!(
            "{BASE}{section}\n[[role]]\nkey = \"ops\"\nkind = \"entra-role\"\ntier = \"critical\"\napprovers = [\"carol\"]\neligible = [\"alice\"]\n{lines}\n"
        )
    };
    assert_problem(&role("", &oidc(ENTRA, "")), "role \"ops\": auth_context", "carry no amr");
    let with_default = valid(&role("", &oidc(ENTRA, "default_auth_context = \"C2\"")));
    assert_eq!(with_default.roles[0].auth_context.as_deref(), Some("c2"));
    let own = valid(&role(
        "auth_context = \"c7\"\nmfa_max_age = \"2m\"",
        &oidc(ENTRA, "default_auth_context = \"c2\""),
    ));
    assert_eq!(
        (own.roles[0].auth_context.as_deref(), own.roles[0].mfa_max_age),
        (Some("c7"), Duration::minutes(2))
    );
    // Explicit opt-out: chat-only identity is accepted, and needs no context.
    valid(&role("require_mfa = false\napprover_mfa = false", &oidc(ENTRA, "")));
    assert_problem(
        &role("auth_context = \"c26\"", &oidc(ENTRA, "")),
        "role \"ops\": auth_context",
        "c1 to c25",
    );
    assert_problem(
        &role("mfa_max_age = \"2h\"", &oidc(ENTRA, "default_auth_context = \"c1\"")),
        "role \"ops\": mfa_max_age",
        "out of range",
    );
}

#[test]
fn oidc_settings_are_checked_and_secrets_come_from_the_environment() {
    assert_problem(&format!("{BASE}{}", oidc("http://idp.example.com", "")), "oidc.issuer", "https");
    let no_secret = format!(
        "{BASE}[oidc]\nissuer = \"{ENTRA}\"\nclient_id = \"app\"\npublic_url = \"https://p.example\"\n"
    );
    assert_problem(&no_secret, "oidc.credential", "PIMBOT_OIDC_CLIENT_SECRET");
    let env = |name: &str| (name == "PIMBOT_OIDC_CLIENT_SECRET").then(|| "from-env".to_owned());
    let config = from_toml_str_with_env(&no_secret, &env).expect("parses");
    assert!(config.validate(now()).is_ok());
    assert_eq!(config.oidc().map(|o| o.public_url.as_str()), Some("https://p.example"));
    // Workload identity as AKS injects it: a federated token file, client and tenant ids.
    let aks = |name: &str| match name {
        "AZURE_FEDERATED_TOKEN_FILE" => Some("/var/run/secrets/azure/tokens/azure-identity-token".to_owned()),
        "AZURE_CLIENT_ID" => Some("aks-client".to_owned()),
        "AZURE_TENANT_ID" => Some("aks-tenant".to_owned()),
        _ => None,
    };
    let graph = format!("{BASE}[directory]\nkind = \"graph\"\ncredential = \"federated\"\n");
    let config = from_toml_str_with_env(&graph, &aks).expect("parses");
    assert!(config.validate(now()).is_ok(), "{:?}", config.validate(now()).err());
    assert_eq!(config.directory.client_id.as_deref(), Some("aks-client"));
    assert_eq!(config.directory.tenant_id.as_deref(), Some("aks-tenant"));
    assert!(matches!(config.directory_credential(), Ok(crate::config::CredentialSource::Federated(_))));
}
