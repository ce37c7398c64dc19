//! Logging setup. Text lines by default, JSON with `--log-format json` or
//! `PIMBOT_LOG_FORMAT=json`; `RUST_LOG` filters (default `info`).
//!
//! - Text is coloured only when stderr is a terminal and `NO_COLOR` is unset or empty
//!   (<https://no-color.org>): a file or a pipe never gets escape codes.
//! - JSON is one object per line with every field at the top level: `timestamp`, `level`,
//!   `target`, `message`, the event's fields and the fields of the spans it runs in (the
//!   `request_id` of the `http` span, for example), so log pipelines index them without
//!   unnesting.
//!
//! Secrets never reach the log: they are `SecretString`s whose `Debug` redacts.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use crate::cli::LogFormat;

/// Installs the global subscriber (once; later calls are ignored). `default_level` applies
/// when `RUST_LOG` is not set.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(use_colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR")))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry.with(json_layer()).try_init(),
    };
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to a non-empty value.
pub fn use_colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn json_layer<S>() -> json_subscriber::JsonLayer<S, fn() -> std::io::Stderr>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let mut layer = json_subscriber::JsonLayer::new(std::io::stderr as fn() -> std::io::Stderr);
    layer.with_timer("timestamp", fmt::time::SystemTime);
    layer.with_level("level");
    layer.with_target("target");
    layer.with_flattened_event();
    layer.with_top_level_flattened_span_list();
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(use_colour(true, None));
        assert!(!use_colour(false, None), "a file or pipe never gets escape codes");
        assert!(!use_colour(true, Some("1".into())));
        assert!(use_colour(true, Some("".into())), "an empty NO_COLOR does not count (no-color.org)");
    }
}
