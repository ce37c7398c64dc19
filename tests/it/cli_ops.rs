//! The command line as operators script it: `--config` after any subcommand, database-only
//! commands that need nothing but the database URL, one exit code per outcome, quiet broken
//! pipes, completions and the man page, and logs without escape codes when piped.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::cli::pimbot_with_env;
use crate::support::app::POLICY;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("pimbot.db").display())
}

/// The test policy with its database and no secrets at all: enough for database-only commands.
fn config_without_secrets(dir: &tempfile::TempDir) -> String {
    let text = POLICY.replace("sqlite://unused.db", &sqlite_url(dir));
    let text: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("signing_secret") && !l.starts_with("bot_token") && !l.starts_with("webhook_token")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write(dir, "pimbot.toml", &text)
}

#[test]
fn config_is_global_and_database_only_commands_need_no_chat_secrets() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = config_without_secrets(&dir);
    // `serve` and `check` need the secrets this file lacks …
    let (code, _, err) = pimbot_with_env(&["check", "--config", &config], &[]);
    assert_eq!(code, 3, "{err}");
    // … `migrate`, `audit` and `report` do not, and `--config` may follow nested subcommands.
    for args in [
        vec!["migrate", "--config", &config],
        vec!["audit", "verify", "--config", &config],
        vec!["audit", "--config", &config, "verify"],
        vec!["--config", &config, "audit", "export"],
        vec!["report", "--config", &config, "--since", "30d"],
    ] {
        let (code, out, err) = pimbot_with_env(&args, &[]);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    // `--database-url` or `PIMBOT_DATABASE_URL` alone is enough.
    let url = sqlite_url(&dir);
    let (code, out, err) = pimbot_with_env(&["audit", "verify", "--database-url", &url], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("audit chain OK"), "{out}");
    let (code, out, err) = pimbot_with_env(&["report"], &[("PIMBOT_DATABASE_URL", &url)]);
    assert_eq!(code, 0, "{out}{err}");
    // PIMBOT_CONFIG works for nested subcommands too.
    let (code, _, err) = pimbot_with_env(&["audit", "verify"], &[("PIMBOT_CONFIG", &config)]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn discord_register_takes_config_after_the_subcommand() {
    let fake = pimbot::testing::FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let text = format!(
        "{}\n[discord]\napplication_id = \"123456789012345678\"\npublic_key = \"{}\"\napi_url = \"{}\"\napprover_channel = \"1\"\n",
        POLICY.replace("sqlite://unused.db", &sqlite_url(&dir)),
        "0f".repeat(32),
        fake.api_url()
    );
    let config = write(&dir, "pimbot.toml", &text);
    let env = [("PIMBOT_DISCORD_BOT_TOKEN", pimbot::testing::FAKE_DISCORD_TOKEN)];
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        pimbot_with_env(&["discord", "register", "--guild", "42", "--config", &config], &env)
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("registered /pim guild 42"), "{out}");
    assert!(!fake.registered_commands().is_empty());
}

#[test]
fn every_outcome_has_its_own_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let broken_toml = write(&dir, "broken.toml", "[server\nlisten = 1");
    let url = sqlite_url(&dir);
    let unreachable = "postgres://pimbot@127.0.0.1:1/pimbot";
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--version"], 0, "version"),
        (vec!["no-such-command"], 2, "unknown subcommand"),
        (vec!["check", "--no-such-flag"], 2, "unknown flag"),
        (vec!["check"], 2, "no --config and no PIMBOT_CONFIG"),
        (vec!["migrate"], 2, "no database at all"),
        (vec!["report", "--database-url", &url, "--since", "3 fortnights"], 2, "a bad --since"),
        (vec!["check", "--config", &broken_toml], 3, "TOML parse error"),
        (vec!["audit", "verify", "--config", &broken_toml], 3, "TOML parse error in a database command"),
        (vec!["check", "--config", "/nonexistent/pimbot.toml"], 3, "unreadable config"),
        (vec!["migrate", "--database-url", unreachable], 1, "database unreachable"),
    ];
    for (args, want, why) in cases {
        let (code, out, err) = pimbot_with_env(&args, &[]);
        assert_eq!(code, want, "{why}: pimbot {args:?}\n{out}{err}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_code_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = sqlite_url(&dir);
    let (code, _, err) = pimbot_with_env(&["migrate", "--database-url", &url], &[]);
    assert_eq!(code, 0, "{err}");
    for args in [
        vec!["completions", "bash"],
        vec!["man"],
        vec!["audit", "export", "--format", "csv", "--database-url", &url],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pimbot"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before pimbot writes a byte: every write fails with EPIPE.
        drop(child.stdout.take());
        let status = child.wait().expect("wait");
        let mut err = String::new();
        child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} is quiet: {err}");
    }
}

#[test]
fn completions_and_man_page_are_generated_from_the_command_line() {
    for (shell, marker) in [("bash", "_pimbot()"), ("zsh", "#compdef pimbot"), ("fish", "complete -c pimbot")]
    {
        let (code, out, err) = pimbot_with_env(&["completions", shell], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(marker), "{shell}: {out}");
        assert!(out.contains("audit") && out.contains("database-url"), "{shell} knows the commands");
    }
    let (code, out, _) = pimbot_with_env(&["man"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains(".TH pimbot 1") && out.contains("completions") && out.contains("PIMBOT_CONFIG"),
        "{out}"
    );
}

#[test]
fn piped_logs_carry_no_colour_and_json_logs_are_flat() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = sqlite_url(&dir);
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_pimbot"))
            .args(["migrate", "--database-url", &url])
            .env("RUST_LOG", "debug")
            .env("PIMBOT_LOG_FORMAT", format)
            .env_remove("NO_COLOR")
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let text = run("text");
    assert!(text.lines().count() > 0, "debug logging produced lines");
    assert!(!text.contains('\u{1b}'), "no escape codes when stderr is a pipe: {text}");
    let human = run("human");
    assert!(!human.contains('\u{1b}') && !human.starts_with('{'), "`human` is the text format");
    let json = run("json");
    let lines: Vec<serde_json::Value> =
        json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(!lines.is_empty());
    for v in &lines {
        assert!(v.get("fields").is_none() && v.get("span").is_none(), "nothing nested: {v}");
        assert!(v.get("level").is_some() && v.get("timestamp").is_some() && v.get("target").is_some(), "{v}");
    }
    assert!(lines.iter().any(|v| v.get("summary").is_some()), "event fields sit at the top level: {json}");
}

#[tokio::test]
async fn reconcile_exits_five_when_the_directory_drifted() {
    use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind};
    const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
    let fake = FakeGraph::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{}\"\n{}\n[[person]]\nid = \"alice\"\nupn = \"alice@contoso.com\"\nobject_id = \"071cc716-8147-4397-a5ba-b2105951cc0b\"\n[[person]]\nid = \"carol\"\nupn = \"carol@contoso.com\"\n[[role]]\nkey = \"global-admin\"\nkind = \"entra-role\"\ndirectory_id = \"{GA}\"\ntier = \"critical\"\nrequire_mfa = false\napprover_mfa = false\napprovers = [\"carol\"]\neligible = [\"alice\"]\n",
        sqlite_url(&dir),
        fake.directory_toml("policy"),
    );
    let config = write(&dir, "pimbot.toml", &text);
    let run = |config: String| async move {
        tokio::task::spawn_blocking(move || pimbot_with_env(&["reconcile", "--config", &config], &[]))
            .await
            .expect("join")
    };
    let (code, out, err) = run(config.clone()).await;
    assert_eq!(code, 0, "no drift: {out}{err}");
    // Standing access that pimbot never granted.
    fake.add_assignment(FakeAssignment::standing(
        FakeKind::Entra,
        "071cc716-8147-4397-a5ba-b2105951cc0b",
        GA,
        "/",
    ));
    let (code, out, err) = run(config).await;
    assert_eq!(code, 5, "drift exits 5: {out}{err}");
    assert!(out.contains("1 do not match"), "{out}");
}

#[tokio::test]
async fn a_discord_only_reconcile_queues_its_drift_alert_for_discord() {
    use pimbot::core::ids::Platform;
    use pimbot::core::outbox::Target;
    use pimbot::testing::{FakeAssignment, FakeGraph, FakeKind};
    const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
    const ALERTS: &str = "900000000000000009";
    let fake = FakeGraph::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{}\"\n{}\n[discord]\napplication_id = \"290926444748734465\"\npublic_key = \"{}\"\nbot_token = \"a.b.c\"\napprover_channel = \"900000000000000001\"\nalert_channel = \"{ALERTS}\"\n[[person]]\nid = \"alice\"\nupn = \"alice@contoso.com\"\nobject_id = \"071cc716-8147-4397-a5ba-b2105951cc0b\"\n[[person]]\nid = \"carol\"\nupn = \"carol@contoso.com\"\n[[role]]\nkey = \"global-admin\"\nkind = \"entra-role\"\ndirectory_id = \"{GA}\"\ntier = \"critical\"\nrequire_mfa = false\napprover_mfa = false\napprovers = [\"carol\"]\neligible = [\"alice\"]\n",
        sqlite_url(&dir),
        fake.directory_toml("policy"),
        pimbot::testing::discord_signing::TEST_PUBLIC_KEY_HEX,
    );
    let config = write(&dir, "pimbot.toml", &text);
    fake.add_assignment(FakeAssignment::standing(
        FakeKind::Entra,
        "071cc716-8147-4397-a5ba-b2105951cc0b",
        GA,
        "/",
    ));
    let (code, out, err) =
        tokio::task::spawn_blocking(move || pimbot_with_env(&["reconcile", "--config", &config], &[]))
            .await
            .expect("join");
    assert_eq!(code, 5, "drift exits 5: {out}{err}");
    assert!(out.contains("alerts queued"), "{out}");
    let store = pimbot::storage::connect(&sqlite_url(&dir)).await.expect("the reconcile's database");
    let now = chrono::Utc::now() + chrono::Duration::days(1);
    let queued = store.claim_outbox(now, chrono::Duration::seconds(30), 100).await.expect("claim");
    assert!(!queued.is_empty(), "the drift alert was queued");
    for item in &queued {
        assert_eq!(item.message.platform, Platform::Discord, "{item:?}");
    }
    assert!(
        queued.iter().any(|i| i.message.target == Target::Channel { channel: ALERTS.into() }),
        "the alert goes to Discord's alert channel: {queued:?}"
    );
}
