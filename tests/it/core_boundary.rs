//! The boundary of the domain core: no file under `src/core` names an adapter, database or HTTP
//! crate, nor one of pimbot's own adapter modules. Adapters translate at the edge and reach the
//! core through `core::ports`; this test is what keeps the arrows pointing inward.

use std::path::{Path, PathBuf};

/// Crates the core must not name: web frameworks and HTTP stacks, chat SDKs, database drivers,
/// templates and cookies, token and rate-limit libraries, metrics exporters, the CLI and the
/// configuration file formats.
const FORBIDDEN_CRATES: &[&str] = &[
    "axum",
    "tower",
    "tower_http",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "reqwest",
    "tokio_tungstenite",
    "slack_morphism",
    "serenity",
    "sqlx",
    "maud",
    "askama",
    "cookie",
    "jsonwebtoken",
    "openidconnect",
    "oauth2",
    "governor",
    "metrics",
    "metrics_exporter_prometheus",
    "tracing_subscriber",
    "json_subscriber",
    "clap",
    "clap_complete",
    "clap_mangen",
    "toml",
    "toml_edit",
    "backon",
    "zip",
];

/// pimbot's own modules outside the core that it must not reach into: the adapters, storage,
/// the HTTP edge, the composition root and the tools around it.
const FORBIDDEN_MODULES: &[&str] = &[
    "app",
    "audit",
    "auth",
    "cli",
    "delivery",
    "demo",
    "directory",
    "discord",
    "http",
    "metrics",
    "oncall",
    "preflight",
    "scheduler",
    "signins",
    "slack",
    "storage",
    "teams",
    "telemetry",
    "testing",
    "ui",
    "webhooks",
];

/// The configuration module may be named by tests inside the core (they build a policy from
/// TOML), never by the code itself.
const TEST_ONLY_MODULES: &[&str] = &["config"];

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The line without its `//` comment (prose may say what the core does not use).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifiers that start a path (`name::…`, not `a::name::…`), plus those after `use ` and
/// `extern crate `, and attribute names (`#[name(…)]`).
fn path_roots(code: &str) -> Vec<String> {
    let mut roots = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident_char(chars[i]) {
            i += 1;
        }
        let ident: String = chars[start..i].iter().collect();
        let before: String = chars[..start].iter().collect();
        let before = before.trim_end();
        let after: String = chars[i..].iter().collect();
        let starts_path = !before.ends_with("::") && after.starts_with("::");
        let used = before.ends_with("use") || before.ends_with("extern crate");
        let attribute = before.ends_with("#[") && (after.starts_with('(') || after.starts_with(']'));
        if starts_path || used || attribute {
            roots.push(ident);
        }
    }
    roots
}

/// The modules named as `crate::name` (or `pimbot::name`).
fn crate_modules(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["crate::", "pimbot::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let preceded = rest[..at].chars().next_back().is_some_and(|c| is_ident_char(c) || c == ':');
            let tail = &rest[at + prefix.len()..];
            let name: String = tail.chars().take_while(|c| is_ident_char(*c)).collect();
            if !preceded && !name.is_empty() {
                found.push(name);
            }
            rest = tail;
        }
    }
    found
}

/// What `text` (one file) names that the core must not: `(line number, name)`.
fn violations(text: &str, is_test_file: bool) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_tests = is_test_file;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            // Unit tests come last in a file; from here on the configuration may be named.
            in_tests = true;
        }
        let code = code_of(line);
        for root in path_roots(code) {
            if FORBIDDEN_CRATES.contains(&root.as_str()) {
                found.push((n + 1, root));
            }
        }
        for module in crate_modules(code) {
            let test_only = TEST_ONLY_MODULES.contains(&module.as_str());
            if FORBIDDEN_MODULES.contains(&module.as_str()) || (test_only && !in_tests) {
                found.push((n + 1, format!("crate::{module}")));
            }
        }
    }
    found
}

#[test]
fn the_core_names_no_adapter_database_or_http_crate() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    files.sort();
    assert!(files.len() > 20, "the core's files were found ({})", files.len());

    let mut report = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        let is_test_file = file.file_stem().is_some_and(|s| s.to_string_lossy().ends_with("_tests"));
        for (line, name) in violations(&text, is_test_file) {
            let shown = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(file);
            report.push(format!("{}:{line}: names {name}", shown.display()));
        }
    }
    assert!(report.is_empty(), "src/core reaches outside the core:\n{}", report.join("\n"));
}

#[test]
fn the_boundary_check_catches_each_way_of_naming_a_crate() {
    let caught = |text: &str| !violations(text, false).is_empty();
    assert!(caught("use sqlx::Row;"));
    assert!(caught("use sqlx;"));
    assert!(caught("    let r = reqwest::Client::new();"));
    assert!(caught("#[derive(sqlx::FromRow)]"));
    assert!(caught("#[sqlx(rename = \"x\")]"));
    assert!(caught("fn f(s: &axum::Router) {}"));
    assert!(caught("use slack_morphism::prelude::*;"));
    assert!(caught("extern crate serenity;"));
    assert!(caught("use crate::slack::render;"));
    assert!(caught("use crate::storage::Store;"));
    assert!(caught("let c = crate::config::load();"));
    assert!(caught("fn f() -> pimbot::http::Router {}"));
    assert!(caught("use maud::html;"));
    assert!(caught("use cookie::Cookie;"));

    // Words in prose, the core's own modules and paths below another crate are fine.
    assert!(!caught("//! No sqlx, axum or serenity here; see `crate::slack`."));
    assert!(!caught("use crate::core::audit::AuditEvent;"));
    assert!(!caught("use super::ports::Store;"));
    assert!(!caught("let hyper = 1; let sqlx_rows = hyper + 1;"));
    assert!(!caught("use std::http::x; use chrono::metrics::y;"));
    assert!(!caught("let s = \"metrics\";"));
    assert!(
        violations("#[cfg(test)]\nmod tests { fn t() { crate::config::load(); } }", false).is_empty(),
        "tests in the core may build a configuration"
    );
}
