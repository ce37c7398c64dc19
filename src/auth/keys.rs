//! An OpenID provider's metadata document and signing keys (JWKS), cached the way Microsoft
//! documents key rollover: the keys are kept for a day, a token signed with a key not in the
//! cache makes one synchronous refetch, and such refetches are rate-limited (by default one per
//! five minutes, with `governor`) so a flood of tokens with made-up `kid`s cannot hammer the
//! provider. A failed fetch keeps the last good set.
//!
//! Reusable for any issuer: Entra sign-ins (`auth::oidc`) and, later, the Bot Framework's
//! metadata document. Only fetching and caching live here; checking a token is `auth::jwt`.

use std::num::NonZeroU32;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use governor::{Quota, RateLimiter};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::AuthError;
use crate::core::ports::Clock;

/// How long metadata and keys are used before they are fetched again.
pub const KEYS_MAX_AGE: Duration = Duration::hours(24);
/// At most one refetch for an unknown `kid` per this interval.
pub const UNKNOWN_KID_REFETCH_EVERY: Duration = Duration::minutes(5);

/// The parts of an OpenID provider metadata document pimbot uses (OpenID Connect Discovery
/// 1.0). Other members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer, compared with `iss` exactly.
    pub issuer: String,
    /// Where browsers are sent to sign in (absent in the Bot Framework's document).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where codes and client credentials are exchanged for tokens.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The signing keys.
    pub jwks_uri: String,
    /// Signature algorithms the provider uses.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// The cache's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Keys older than this are fetched again before use.
    pub max_age: Duration,
    /// Refetches for unknown `kid`s happen at most once per this interval.
    pub unknown_kid_refetch_every: Duration,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self { max_age: KEYS_MAX_AGE, unknown_kid_refetch_every: UNKNOWN_KID_REFETCH_EVERY }
    }
}

/// `governor`'s clock on pimbot's [`Clock`] port, so tests with a manual clock see the same
/// rate limit a real deployment does.
#[derive(Clone)]
struct PortClock(Arc<dyn Clock>);

impl governor::clock::Clock for PortClock {
    type Instant = std::time::Duration;

    fn now(&self) -> std::time::Duration {
        let since_epoch = self.0.now() - DateTime::<Utc>::UNIX_EPOCH;
        since_epoch.to_std().unwrap_or_default()
    }
}

type Limiter = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    PortClock,
    governor::middleware::NoOpMiddleware<std::time::Duration>,
>;

#[derive(Clone)]
struct Cached {
    metadata: ProviderMetadata,
    keys: JwkSet,
    /// Per `kid`, the channels the Bot Framework endorses the key for (its `endorsements`
    /// member, which `JwkSet` does not keep).
    endorsements: std::collections::HashMap<String, Vec<String>>,
    fetched_at: DateTime<Utc>,
}

/// Metadata and keys of one issuer.
pub struct KeyCache {
    http: reqwest::Client,
    metadata_url: String,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
    cached: Mutex<Option<Cached>>,
    refetches: Limiter,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").field("metadata_url", &self.metadata_url).finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache for the metadata document at `metadata_url`.
    pub fn new(http: reqwest::Client, metadata_url: &str, clock: Arc<dyn Clock>, policy: KeyPolicy) -> Self {
        let period = policy.unknown_kid_refetch_every.to_std().unwrap_or(std::time::Duration::from_secs(300));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        let refetches = RateLimiter::direct_with_clock(quota, PortClock(clock.clone()));
        Self {
            http,
            metadata_url: metadata_url.to_owned(),
            clock,
            policy,
            cached: Mutex::new(None),
            refetches,
        }
    }

    /// The metadata document, from the cache or fetched.
    pub async fn metadata(&self) -> Result<ProviderMetadata, AuthError> {
        Ok(self.current().await?.metadata)
    }

    /// The key `kid` signs with. An unknown `kid` refetches once (if the rate limit allows)
    /// before it is refused.
    pub async fn key(&self, kid: &str) -> Result<Jwk, AuthError> {
        let current = self.current().await?;
        if let Some(key) = current.keys.find(kid) {
            return Ok(key.clone());
        }
        if self.refetches.check().is_err() {
            tracing::warn!(kid, "token signed with an unknown key; refetch rate-limited");
            return Err(AuthError::UnknownKey(kid.to_owned()));
        }
        let mut cached = self.cached.lock().await;
        // Another caller may have refetched while this one waited for the lock.
        if let Some(key) = cached.as_ref().and_then(|c| c.keys.find(kid)) {
            return Ok(key.clone());
        }
        tracing::info!(kid, "token signed with an unknown key; refetching the provider's keys");
        match self.fetch().await {
            Ok(fresh) => {
                let found = fresh.keys.find(kid).cloned();
                *cached = Some(fresh);
                found.ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "refetching the provider's keys failed; keeping the last good set");
                Err(e)
            }
        }
    }

    /// The `endorsements` of the cached key `kid` (the Bot Framework's channel ids); empty when
    /// the key has none or is not cached.
    pub async fn endorsements(&self, kid: &str) -> Vec<String> {
        let cached = self.cached.lock().await;
        cached.as_ref().and_then(|c| c.endorsements.get(kid).cloned()).unwrap_or_default()
    }

    async fn current(&self) -> Result<Cached, AuthError> {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        match cached.as_ref() {
            Some(c) if now - c.fetched_at < self.policy.max_age => Ok(c.clone()),
            stale => match self.fetch().await {
                Ok(fresh) => {
                    *cached = Some(fresh.clone());
                    Ok(fresh)
                }
                Err(e) => match stale {
                    Some(last_good) => {
                        tracing::warn!(error = %e, "refreshing the provider's keys failed; using the last good set");
                        Ok(last_good.clone())
                    }
                    None => Err(e),
                },
            },
        }
    }

    async fn fetch(&self) -> Result<Cached, AuthError> {
        let metadata: ProviderMetadata = self.get_json(&self.metadata_url).await?;
        let raw: serde_json::Value = self.get_json(&metadata.jwks_uri).await?;
        let endorsements = raw["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| {
                let kid = k["kid"].as_str()?.to_owned();
                let channels =
                    k["endorsements"].as_array()?.iter().filter_map(|e| e.as_str().map(str::to_owned));
                Some((kid, channels.collect()))
            })
            .collect();
        let keys: JwkSet = serde_json::from_value(raw)
            .map_err(|e| AuthError::Provider(format!("reading {}: {e}", metadata.jwks_uri)))?;
        Ok(Cached { metadata, keys, endorsements, fetched_at: self.clock.now() })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| AuthError::Provider(format!("fetching {url}: {}", e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::Provider(format!("fetching {url}: HTTP {}", status.as_u16())));
        }
        response.json().await.map_err(|e| AuthError::Provider(format!("reading {url}: {e}")))
    }
}
