//! Snapshots of rendered payloads with insta, stored in `tests/it/snapshots/`. What changes on
//! every run (request, grant and alarm ids, Slack message timestamps, clock times, nonces) is
//! replaced by a placeholder, so a snapshot changes only when what people see changes. Review
//! changed snapshots with `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).

/// The regexes that make a payload stable, and what each match becomes.
const FILTERS: &[(&str, &str)] = &[
    (r"\b([rga])-[0-9a-f]{12}\b", "$1-[id]"),
    (r"\b([rga])-[0-9a-f]{8}\b", "$1-[id]"),
    (r"\b\d{10}\.\d{6}\b", "[ts]"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", "[time]"),
    (r"<!date\^\d+", "<!date^[unix]"),
    (r"<t:\d+", "<t:[unix]"),
    (r#""nonce": "\d+""#, r#""nonce": "[nonce]""#),
    (r#""outbox_id": "\d+""#, r#""outbox_id": "[outbox]""#),
    (r#""trigger_id": "[^"]+""#, r#""trigger_id": "[trigger]""#),
    (r"\b1700000000\d{3}\b", "[activity]"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
];

/// insta settings with the filters, sorted maps and the shared snapshot folder.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings.set_omit_expression(true);
    for (regex, with) in FILTERS {
        settings.add_filter(regex, *with);
    }
    settings
}

/// Asserts a JSON payload against the snapshot `name` with [`settings`].
#[macro_export]
macro_rules! assert_payload {
    ($name:expr, $value:expr) => {{
        let value: serde_json::Value = $value;
        $crate::support::snap::settings().bind(|| insta::assert_json_snapshot!($name, value));
    }};
}
