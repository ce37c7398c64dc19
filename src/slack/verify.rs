//! Slack request signing (v0 HMAC-SHA256 over `v0:{timestamp}:{raw body}`), checked on the raw
//! bytes before anything is parsed, as an axum middleware on the Slack routes.
//!
//! slack-morphism's own verifier reads the system clock; this one takes `now` from pimbot's
//! `Clock`, so the vendor's published vector and time-controlled tests can run it. The HMAC and
//! its constant-time comparison come from the `hmac` crate.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};

use crate::core::ports::Clock;
use crate::http::signed::{StampError, check_timestamp, header, verified};

/// Header carrying `v0=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Header carrying the Unix timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub use crate::http::signed::{MAX_BODY_BYTES, MAX_SKEW_SECS};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header is missing or unreadable.
    #[error("missing or malformed Slack signature headers")]
    Missing,
    /// The timestamp is outside the allowed window.
    #[error("stale or future Slack request timestamp")]
    Stale,
    /// The signature does not match.
    #[error("bad Slack signature")]
    BadSignature,
}

/// Checks one request's signature at `now`.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(), VerifyError> {
    let ts_text = header(headers, TIMESTAMP_HEADER).ok_or(VerifyError::Missing)?;
    let signature = header(headers, SIGNATURE_HEADER).ok_or(VerifyError::Missing)?;
    check_timestamp(ts_text, now).map_err(VerifyError::from)?;
    let given =
        signature.strip_prefix("v0=").and_then(|h| hex::decode(h).ok()).ok_or(VerifyError::BadSignature)?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| VerifyError::BadSignature)?;
    mac.update(b"v0:");
    mac.update(ts_text.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| VerifyError::BadSignature)
}

impl From<StampError> for VerifyError {
    fn from(e: StampError) -> Self {
        match e {
            StampError::Unreadable => VerifyError::Missing,
            StampError::Stale => VerifyError::Stale,
        }
    }
}

/// What the middleware needs.
#[derive(Clone)]
pub struct SlackVerifier {
    /// The app's signing secret.
    pub secret: SecretString,
    /// Time source for the freshness check.
    pub clock: Arc<dyn Clock>,
}

/// Middleware: reads the (size-limited) body, verifies it, and passes the request on with the
/// same bytes. Refusals are 401 (413 for an oversized body) and reach no handler.
pub async fn require_signature(State(v): State<SlackVerifier>, request: Request, next: Next) -> Response {
    let now = v.clock.now();
    verified(request, next, "Slack", |headers, body| verify(v.secret.expose_secret(), headers, body, now))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Slack's published example (docs: verifying requests from Slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1531420618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(sig: &str, ts: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE_HEADER, sig.parse().expect("header"));
        h.insert(TIMESTAMP_HEADER, ts.parse().expect("header"));
        h
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).single().expect("valid")
    }

    #[test]
    fn the_published_vector_verifies() {
        assert_eq!(verify(SECRET, &headers(SIG, "1531420618"), BODY.as_bytes(), at(TS + 10)), Ok(()));
    }

    #[test]
    fn tampering_staleness_and_absence_are_refused() {
        let h = headers(SIG, "1531420618");
        let mut body = BODY.as_bytes().to_vec();
        body[10] ^= 1;
        assert_eq!(verify(SECRET, &h, &body, at(TS)), Err(VerifyError::BadSignature));
        assert_eq!(verify("other-secret", &h, BODY.as_bytes(), at(TS)), Err(VerifyError::BadSignature));
        assert_eq!(verify(SECRET, &h, BODY.as_bytes(), at(TS + 301)), Err(VerifyError::Stale));
        assert_eq!(verify(SECRET, &h, BODY.as_bytes(), at(TS - 301)), Err(VerifyError::Stale));
        assert_eq!(
            verify(SECRET, &headers(SIG, "1531420619"), BODY.as_bytes(), at(TS)),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, &headers("v0=zz", "1531420618"), BODY.as_bytes(), at(TS)),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(verify(SECRET, &HeaderMap::new(), BODY.as_bytes(), at(TS)), Err(VerifyError::Missing));
    }
}
