//! Authenticates the Bot Framework's requests to `POST /teams/messages`: the `Authorization:
//! Bearer` JWT must come from the Bot Framework (issuer `https://api.botframework.com`, looked
//! at before any key is fetched), be signed by a key of the Bot Framework's OpenID metadata
//! (JWKS cached by [`KeyCache`]; an unknown `kid` refetches once, rate-limited, which is how
//! a rotated key is picked up), be addressed to the bot (`aud` = app id), be current (5 minutes
//! of skew, on pimbot's clock) and carry the activity's own `serviceUrl` in its lower-case
//! `serviceurl` claim, so a token minted for one Connector cannot steer replies to another.
//!
//! Signatures and claims are checked by `jsonwebtoken` (through `auth::jwt`); nothing here
//! parses a signature. The channel (`msteams`) and tenant checks are the handler's (403).

use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;

use crate::auth::AuthError;
use crate::auth::jwt::{self, Expect};
use crate::auth::keys::{KeyCache, KeyPolicy};
use crate::core::ports::Clock;

/// The only issuer pimbot accepts on inbound activities.
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";

/// Why an inbound request was refused; the text is for logs (the caller gets a bare 401, or
/// 403 for a key not endorsed for the activity's channel).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unauthorized(pub String, pub Refusal);

/// How a refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no or a bad token.
    Unauthenticated,
    /// 403: a genuine token whose key is not endorsed for the activity's channel.
    NotEndorsed,
}

fn unauthenticated(why: impl Into<String>) -> Unauthorized {
    Unauthorized(why.into(), Refusal::Unauthenticated)
}

#[derive(Debug, Deserialize)]
struct BotClaims {
    #[serde(default)]
    serviceurl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: Option<String>,
}

/// Checks Bot Framework tokens for one bot.
pub struct BotAuth {
    keys: KeyCache,
    app_id: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for BotAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotAuth")
            .field("keys", &self.keys)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl BotAuth {
    /// Keys from the metadata document at `metadata_url`; tokens must name `app_id` as `aud`.
    pub fn new(http: reqwest::Client, metadata_url: &str, app_id: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: KeyCache::new(http, metadata_url, clock.clone(), KeyPolicy::default()),
            app_id: app_id.to_owned(),
            clock,
        }
    }

    /// Checks the `Authorization` header of an activity whose `serviceUrl` is `service_url` and
    /// whose `channelId` is `channel`.
    pub async fn check(
        &self,
        authorization: Option<&str>,
        service_url: &str,
        channel: &str,
    ) -> Result<(), Unauthorized> {
        let header = authorization.ok_or_else(|| unauthenticated("no Authorization header"))?;
        let token = match header.split_once(' ') {
            Some(("Bearer", token)) if !token.is_empty() && !token.contains(' ') => token,
            _ => return Err(unauthenticated("the Authorization scheme is not `Bearer <token>`")),
        };
        // Issuer first: a token from anyone else never makes pimbot fetch keys.
        let issuer = unverified_issuer(token)?;
        if issuer != BOT_FRAMEWORK_ISSUER {
            return Err(unauthenticated(format!("issuer {issuer:?} is not the Bot Framework")));
        }
        let expect = Expect { issuer: BOT_FRAMEWORK_ISSUER, audience: &self.app_id, require_iat: false };
        let claims: BotClaims = jwt::verify(&self.keys, token, expect, self.clock.now())
            .await
            .map_err(|e: AuthError| unauthenticated(e.to_string()))?;
        match claims.serviceurl {
            Some(claimed) if same_service_url(&claimed, service_url) => {}
            Some(claimed) => {
                return Err(unauthenticated(format!(
                    "the token is for service URL {claimed:?}, the activity names {service_url:?}"
                )));
            }
            None => return Err(unauthenticated("the token has no serviceurl claim")),
        }
        // A key endorsed for some channels signs only for those (an empty list: any).
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid).unwrap_or_default();
        let endorsed = self.keys.endorsements(&kid).await;
        if !endorsed.is_empty() && !endorsed.iter().any(|e| e == channel) {
            return Err(Unauthorized(
                format!("key {kid} is not endorsed for channel {channel:?}"),
                Refusal::NotEndorsed,
            ));
        }
        Ok(())
    }
}

/// The `iss` of a token, read before its signature is checked (only to choose whether to check).
fn unverified_issuer(token: &str) -> Result<String, Unauthorized> {
    let bad = || unauthenticated("the token is not a JWT");
    let payload = token.split('.').nth(1).ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad())?;
    let claims: IssuerOnly = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    claims.iss.ok_or_else(|| unauthenticated("the token names no issuer"))
}

/// Service URLs compare without case (as the .NET SDK does) and without a trailing `/`.
fn same_service_url(a: &str, b: &str) -> bool {
    !b.is_empty() && a.trim_end_matches('/').eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_compare_without_case_or_trailing_slash() {
        assert!(same_service_url(
            "https://smba.trafficmanager.net/emea/",
            "https://SMBA.trafficmanager.net/emea"
        ));
        assert!(!same_service_url("https://smba.trafficmanager.net/emea/", "https://evil.example/emea/"));
        assert!(!same_service_url("https://smba.trafficmanager.net/emea/", ""));
    }

    #[test]
    fn the_issuer_is_read_before_anything_else() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"iss":"https://x"}"#);
        assert_eq!(unverified_issuer(&format!("e30.{payload}.sig")), Ok("https://x".to_owned()));
        assert!(unverified_issuer("garbage").is_err());
    }
}
