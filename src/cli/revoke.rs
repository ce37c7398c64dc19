//! `pimbot revoke`: the kill switch at the command line, and the part of `pimbot check` that
//! says what a new policy would orphan among the grants and requests in the database.

use std::process::ExitCode;
use std::sync::Arc;

use secrecy::ExposeSecret;

use super::exit;
use crate::config::{Config, EligibilitySource};
use crate::core::Error;
use crate::core::ids::RoleKey;
use crate::core::policy::Policy;
use crate::core::ports::{Clock, SystemClock};
use crate::core::service::{AccessService, Orphan, Revoker, revoked_text};

/// Ends `person`'s grant of `role` now, through the configured directory; the messages it
/// causes are queued for a running `pimbot serve` to deliver.
pub async fn run(
    config: &Config,
    policy: Policy,
    person: &str,
    role: &str,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    let store = super::audit::keyed_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let directory = crate::directory::from_config(&config.directory, clock.clone())?;
    let service = AccessService::new(store, directory, clock, policy, crate::app::channels_of(config));
    let os_user =
        std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let role = RoleKey(role.trim().to_ascii_lowercase());
    match service.revoke(&Revoker::Operator { os_user }, person, &role, reason).await {
        Ok(done) => {
            println!("{}", revoked_text(&done));
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ Error::BadInput(_)) => {
            eprintln!("error: {e}");
            Ok(exit::code(exit::USAGE))
        }
        Err(e) if e.is_user_facing() => {
            eprintln!("error: {e}");
            Ok(exit::code(exit::RUNTIME))
        }
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    }
}

/// Prints what `policy` would orphan among the grants and requests of the configured database,
/// when that database exists. Reads only: nothing is created, migrated or changed.
pub async fn print_orphans(config: &Config, policy: &Policy) {
    let Some(url) = config.database_url().map(|u| u.expose_secret().to_owned()) else { return };
    if !crate::storage::is_postgres_url(&url) {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path.contains(":memory:") || !std::path::Path::new(path).exists() {
            println!("in flight: no database yet, nothing to orphan");
            return;
        }
    }
    let store = match crate::storage::SqlStore::open_existing(&url).await {
        Ok(store) => Arc::new(store),
        Err(e) => {
            println!("in flight: could not read the database ({e:#}); orphan check skipped");
            return;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let directory = Arc::new(crate::directory::StaticDirectory::new());
    let service = AccessService::new(store.clone(), directory, clock, policy.clone(), Vec::new());
    let graph = config.directory.eligibility == EligibilitySource::Graph;
    match service.policy_orphans(policy).await {
        Ok(orphans) => {
            let shown: Vec<&Orphan> = orphans
                .iter()
                .filter(|o| !(graph && matches!(o, Orphan::GrantNoLongerEligible { .. })))
                .collect();
            if shown.is_empty() {
                println!("in flight: this policy orphans no active grant or pending request");
            } else {
                println!("in flight: this policy orphans {} grant(s) or request(s):", shown.len());
                for o in shown {
                    println!("  - {}", o.describe());
                }
            }
            if graph {
                println!("  (eligibility comes from PIM: the running server re-checks every holder)");
            }
        }
        Err(e) => println!("in flight: could not read grants and requests ({e:#}); orphan check skipped"),
    }
    store.close().await;
}
