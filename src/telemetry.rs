//! Logging setup: human lines by default, JSON with `--log-format json`; `RUST_LOG` filters
//! (default `info`). Secrets never reach the log: they are `SecretString`s whose `Debug` redacts.

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
        LogFormat::Human => registry.with(fmt::layer().with_writer(std::io::stderr)).try_init(),
        LogFormat::Json => registry.with(fmt::layer().json().with_writer(std::io::stderr)).try_init(),
    };
}
