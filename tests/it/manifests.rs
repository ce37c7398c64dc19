//! The deployment files stay consistent with the code: the Kubernetes config passes
//! `pimbot check`, every file kustomize names exists, the Deployment wires the config, the
//! secrets and the probes to what the binary expects, and the Slack manifests ask for the
//! least-privilege scopes and the routes pimbot serves. (No YAML parser on purpose: these are
//! text checks on files we write ourselves.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The secrets the Deployment takes from the Secret (every `PIMBOT_…` key of the example).
const SECRET_KEYS: &[&str] = &[
    "PIMBOT_DATABASE_URL",
    "PIMBOT_SLACK_SIGNING_SECRET",
    "PIMBOT_SLACK_BOT_TOKEN",
    "PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN",
    "PIMBOT_AUDIT_KEY",
];

#[test]
fn kubernetes_config_passes_pimbot_check_with_secrets_from_the_environment() {
    let config = root().join("manifests/kubernetes/pimbot.toml");
    let mut check = Command::new(env!("CARGO_BIN_EXE_pimbot"));
    check.arg("check").arg("--config").arg(&config).env_remove("PIMBOT_CONFIG");
    for (key, value) in crate::cli::EXAMPLE_ENV {
        check.env(key, value);
    }
    check.env("PIMBOT_DATABASE_URL", "postgres://pimbot@db.internal/pimbot");
    check.env("PIMBOT_AUDIT_KEY", "placeholder-audit-key-of-at-least-32-bytes");
    // What the AKS workload identity webhook injects into the pod.
    check.env("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token");
    check.env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000");
    check.env("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000");
    let out = check.output().expect("run pimbot check");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pimbot check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("is valid"), "{stdout}");

    // Without the Secret's values the same file is refused: nothing secret lives in it.
    let mut bare = Command::new(env!("CARGO_BIN_EXE_pimbot"));
    bare.arg("check").arg("--config").arg(&config).env_remove("PIMBOT_CONFIG");
    for key in SECRET_KEYS {
        bare.env_remove(key);
    }
    assert!(!bare.output().expect("run pimbot check").status.success());

    let text = read("manifests/kubernetes/pimbot.toml");
    assert!(text.contains("listen = \"0.0.0.0:8080\""), "listens on the container port");
}

#[test]
fn kustomization_names_existing_files_and_the_deployment_wires_config_secrets_and_probes() {
    let dir = root().join("manifests/kubernetes");
    let kustomization = read("manifests/kubernetes/kustomization.yaml");
    let listed: Vec<&str> = kustomization
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- "))
        .filter(|f| f.ends_with(".yaml") || f.ends_with(".toml"))
        .collect();
    for file in ["deployment.yaml", "service.yaml", "pdb.yaml", "networkpolicy.yaml", "pimbot.toml"] {
        assert!(listed.contains(&file), "kustomization lists {file}");
    }
    for file in &listed {
        assert!(Path::new(&dir).join(file).is_file(), "{file} exists");
    }
    assert!(dir.join("secret.example.yaml").is_file());

    let deployment = read("manifests/kubernetes/deployment.yaml");
    for needed in [
        "replicas: 2",
        "path: /readyz",
        "path: /healthz",
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "drop: [\"ALL\"]",
        "allowPrivilegeEscalation: false",
        "mountPath: /etc/pimbot",
        "value: /etc/pimbot/pimbot.toml",
        "name: PIMBOT_CONFIG",
        "name: pimbot-config",
        "containerPort: 8080",
        "limits:",
        "requests:",
        "args: [\"migrate\"",
    ] {
        assert!(deployment.contains(needed), "deployment has {needed}");
    }
    let secret = read("manifests/kubernetes/secret.example.yaml");
    for key in SECRET_KEYS {
        assert!(deployment.contains(&format!("key: {key}")), "deployment reads {key}");
        assert!(secret.contains(&format!("{key}: ")), "secret example has {key}");
    }
    assert!(read("manifests/kubernetes/pdb.yaml").contains("minAvailable: 1"));
    let netpol = read("manifests/kubernetes/networkpolicy.yaml");
    for port in ["port: 8080", "port: 53", "port: 5432", "port: 443"] {
        assert!(netpol.contains(port), "network policy mentions {port}");
    }
}

#[test]
fn slack_manifests_use_least_privilege_scopes_and_pimbots_routes() {
    let http = read("manifests/slack-app.yaml");
    let socket = read("manifests/slack-app-socket-mode.yaml");
    for manifest in [&http, &socket] {
        assert!(manifest.contains("command: /pim") && manifest.contains("usage_hint:"));
        let scopes: Vec<&str> = manifest
            .split("\n    bot:\n")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .map_while(|l| l.trim().strip_prefix("- "))
            .collect();
        assert_eq!(
            scopes,
            [
                "commands",
                "chat:write",
                "chat:write.public",
                "im:write",
                "channels:history",
                "groups:history",
                "im:history",
                "channels:read",
                "groups:read"
            ]
        );
        assert!(manifest.contains("is_enabled: true"), "interactivity on");
    }
    assert!(http.contains("url: https://pimbot.example.com/slack/commands"));
    assert!(http.contains("request_url: https://pimbot.example.com/slack/interactions"));
    assert!(http.contains("socket_mode_enabled: false"));
    assert!(socket.contains("socket_mode_enabled: true"));
    assert!(!socket.contains("url:"), "Socket Mode needs no request URLs");
}

#[test]
fn dockerfile_builds_locked_and_runs_as_non_root() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("FROM rust:1.95-slim-bookworm AS build"));
    assert!(
        dockerfile.contains("cargo build --release --locked --no-default-features"),
        "no fakes in the image"
    );
    assert!(dockerfile.contains("distroless/cc-debian12:nonroot") && dockerfile.contains("USER 65532"));
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/"), "target/ stays out of the context");
}

#[test]
fn the_shipped_alert_rules_cover_refused_chat_messages() {
    let rules = read("manifests/prometheus/pimbot-rules.yaml");
    assert!(
        rules.contains("alert: PimbotChatRejected") && rules.contains("pimbot_chat_rejected_total"),
        "{rules}"
    );
    assert!(read("docs/OPERATIONS.md").contains("pimbot outbox status"));
}

/// The shipped alert rules use only metrics pimbot exports, and every alert has a promtool
/// test (`.ci/run` runs `promtool test rules`; this check needs no Prometheus).
#[test]
fn alert_rules_use_exported_metrics_and_every_alert_is_tested() {
    let rules = read("manifests/prometheus/pimbot-rules.yaml");
    let tests = read("manifests/prometheus/pimbot-rules-test.yaml");
    let mut used = std::collections::BTreeSet::new();
    for line in rules.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(at) = rest.find("pimbot_") {
            let name: String =
                rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            rest = &rest[at + name.len()..];
            used.insert(name);
        }
    }
    assert!(used.len() >= 8, "the rules use pimbot's metrics: {used:?}");
    for name in &used {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| b.ends_with("_seconds")))
            .unwrap_or(name);
        assert!(pimbot::metrics::ALL.contains(&base), "the rules use {name}, which pimbot does not export");
    }
    let alerts: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    for alert in alerts {
        assert!(tests.contains(&format!("alertname: {alert}")), "{alert} has a promtool test");
    }
}

/// The `docker compose` quickstart: its config passes `pimbot check` with the environment
/// compose gives it (the database URL from compose.yaml, tokens from .env), and the shipped
/// `.env.example` placeholders are refused until they are replaced.
#[test]
fn compose_quickstart_config_passes_check_with_its_environment() {
    let compose = read("examples/compose/compose.yaml");
    let database_url = compose
        .lines()
        .find_map(|l| l.trim().strip_prefix("PIMBOT_DATABASE_URL: "))
        .expect("compose sets the database url");
    assert!(database_url.starts_with("postgres://") && database_url.contains("@postgres:5432/"));
    assert!(compose.contains("condition: service_healthy"), "pimbot waits for PostgreSQL");
    let config = root().join("examples/compose/pimbot.toml");
    let check = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimbot"));
        cmd.arg("check").arg("--config").arg(&config);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PIMBOT_")) {
            cmd.env_remove(key);
        }
        cmd.env("PIMBOT_DATABASE_URL", database_url).envs(env.iter().copied());
        let out = cmd.output().expect("run pimbot check");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, text) = check(&[
        ("PIMBOT_SLACK_BOT_TOKEN", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"),
        ("PIMBOT_SLACK_APP_TOKEN", "xapp-1-A0123456789-1234567890123-0123456789abcdef"),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("is valid"), "{text}");

    let example: Vec<(String, String)> = read("examples/compose/.env.example")
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    assert_eq!(example.len(), 2, "the two tokens");
    let env: Vec<(&str, &str)> = example.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (code, text) = check(&env);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("slack.bot_token") && text.contains("slack.app_token") && text.contains("placeholder"),
        "{text}"
    );
}

/// The `graph` overlay: real grants over AKS workload identity (no directory secret anywhere),
/// and the NetworkPolicy that keeps `/metrics` and `/admin/reload` on their own port for the
/// monitoring namespace while only the ingress controller reaches the chat routes. The schemas
/// are checked by `.ci/validate-manifests` (rendered with `kubectl kustomize`).
#[test]
fn graph_overlay_uses_workload_identity_and_ports_are_split_by_audience() {
    let kustomization = read("manifests/overlays/graph/kustomization.yaml");
    assert!(kustomization.contains("- ../../kubernetes") && kustomization.contains("behavior: replace"));
    let sa = read("manifests/overlays/graph/serviceaccount.yaml");
    assert!(sa.contains("azure.workload.identity/client-id:"), "{sa}");
    let patch = read("manifests/overlays/graph/workload-identity.yaml");
    assert!(
        patch.contains("azure.workload.identity/use: \"true\"")
            && patch.contains("serviceAccountName: pimbot")
    );
    let config = read("manifests/overlays/graph/pimbot.toml");
    assert!(config.contains("kind = \"graph\"") && config.contains("credential = \"federated\""), "{config}");
    for secret_key in ["client_secret", "tenant_id =", "client_id ="] {
        assert!(!config.contains(secret_key), "tenant, client and token come from AZURE_* ({secret_key})");
    }
    assert!(config.contains("internal_listen = \"0.0.0.0:9090\""));

    let base = read("manifests/kubernetes/pimbot.toml");
    assert!(base.contains("internal_listen = \"0.0.0.0:9090\""), "metrics off the public port");
    let deployment = read("manifests/kubernetes/deployment.yaml");
    assert!(
        deployment.contains("containerPort: 9090") && deployment.contains("prometheus.io/port: \"9090\"")
    );
    // The migrate init container gets the database URL and nothing else secret.
    let init = deployment.split("containers:\n        - name: pimbot").next().unwrap_or_default();
    assert!(init.contains("key: PIMBOT_DATABASE_URL"));
    for key in SECRET_KEYS.iter().filter(|k| **k != "PIMBOT_DATABASE_URL") {
        assert!(!init.contains(key), "the init container does not get {key}");
    }
    let netpol = read("manifests/kubernetes/networkpolicy.yaml");
    let ingress = netpol.split("egress:").next().unwrap_or_default();
    let rules: Vec<&str> = ingress.split("    - from:").skip(1).collect();
    assert_eq!(rules.len(), 2, "two ingress rules, each with a source: {ingress}");
    assert!(
        rules[0].contains("kubernetes.io/metadata.name: ingress-nginx") && rules[0].contains("port: 8080")
    );
    assert!(!rules[0].contains("9090"));
    assert!(rules[1].contains("kubernetes.io/metadata.name: monitoring") && rules[1].contains("port: 9090"));
    assert!(!rules[1].contains("8080"));
}
