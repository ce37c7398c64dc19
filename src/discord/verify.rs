//! Discord interaction signing: Ed25519 over `X-Signature-Timestamp ‖ raw body`, checked with
//! serenity's [`Verifier`] on the raw bytes before anything is parsed, as an axum middleware on
//! `POST /discord/interactions`.
//!
//! serenity checks the signature only; it does not compare the timestamp with any clock, so a
//! captured request could be replayed forever. This middleware also refuses timestamps more than
//! [`MAX_SKEW_SECS`] away from pimbot's `Clock`. Every refusal is a 401: Discord probes the
//! endpoint with bad signatures and removes it if they are accepted.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serenity::interactions_endpoint::Verifier;

use crate::core::ports::Clock;
use crate::http::signed::{StampError, check_timestamp, header, verified};

/// Header carrying the hex Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// Header carrying the Unix timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
pub use crate::http::signed::{MAX_BODY_BYTES, MAX_SKEW_SECS};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header is missing or unreadable.
    #[error("missing or malformed Discord signature headers")]
    Missing,
    /// The timestamp is outside the allowed window.
    #[error("stale or future Discord request timestamp")]
    Stale,
    /// The signature does not match.
    #[error("bad Discord signature")]
    BadSignature,
}

/// The public key in the config could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Discord public_key must be 64 hex characters of a valid Ed25519 key: {0}")]
pub struct KeyError(String);

/// Builds serenity's verifier from the hex public key of the Developer Portal.
pub fn verifier_from_hex(public_key_hex: &str) -> Result<Verifier, KeyError> {
    let bytes = hex::decode(public_key_hex.trim()).map_err(|e| KeyError(e.to_string()))?;
    let key: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| KeyError(format!("{} bytes instead of 32", b.len())))?;
    Verifier::try_new(key).map_err(|e| KeyError(e.to_string()))
}

/// Checks one request's signature and freshness at `now`.
pub fn verify(
    verifier: &Verifier,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let timestamp = header(headers, TIMESTAMP_HEADER).ok_or(VerifyError::Missing)?;
    let signature = header(headers, SIGNATURE_HEADER).ok_or(VerifyError::Missing)?;
    check_timestamp(timestamp, now).map_err(VerifyError::from)?;
    verifier.verify(signature, timestamp, body).map_err(|()| VerifyError::BadSignature)
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
pub struct DiscordVerifier {
    /// The application's public key, parsed once at startup.
    pub verifier: Verifier,
    /// Time source for the freshness check.
    pub clock: Arc<dyn Clock>,
}

/// Middleware: reads the (size-limited) body, verifies it, and passes the request on with the
/// same bytes. Refusals are 401 (413 for an oversized body) and reach no handler.
pub async fn require_signature(State(v): State<DiscordVerifier>, request: Request, next: Next) -> Response {
    let now = v.clock.now();
    verified(request, next, "Discord", |headers, body| verify(&v.verifier, headers, body, now)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 8032 §7.1 TEST 1 public key (wire-formats §8.2).
    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC_EMPTY_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    const TS: i64 = 1_700_000_000;
    const BODY1: &str = r#"{"type":1}"#;
    const SIG1: &str = "1695961a47c91a1ec033b819b7e87e3dbc583dd0cee6d1fd0216f58ac87b6228ae531ddbf91fb7bc28d7edf7f08604da16f54624f38a6bc0614e4dc13cd47f0f";
    const BODY2: &str = r#"{"application_id":"290926444748734465","id":"846462639134605312","token":"unique_interaction_token","type":1,"version":1}"#;
    const SIG2: &str = "0051a47534f2f1c3e112dfbe757b9456fc513980c8b907029d13a1b4b775976204d9ebf842df6859037ca80c3e2ae742fed122f885d80be98d0ec2433d8a8e0e";

    fn headers(sig: &str, ts: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE_HEADER, sig.parse().expect("header"));
        h.insert(TIMESTAMP_HEADER, ts.parse().expect("header"));
        h
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).single().expect("valid")
    }

    fn key() -> Verifier {
        verifier_from_hex(KEY).expect("valid key")
    }

    #[test]
    fn rfc8032_test1_and_the_discord_shaped_vectors_verify() {
        assert_eq!(key().verify(RFC_EMPTY_SIG, "", b""), Ok(()));
        assert_eq!(verify(&key(), &headers(SIG1, "1700000000"), BODY1.as_bytes(), at(TS)), Ok(()));
        assert_eq!(verify(&key(), &headers(SIG2, "1700000000"), BODY2.as_bytes(), at(TS + 299)), Ok(()));
    }

    #[test]
    fn tampering_truncation_staleness_and_absence_are_refused() {
        let h = headers(SIG2, "1700000000");
        let mut body = BODY2.as_bytes().to_vec();
        body[10] ^= 1;
        assert_eq!(verify(&key(), &h, &body, at(TS)), Err(VerifyError::BadSignature));
        assert_eq!(
            verify(&key(), &headers(SIG2, "1700000001"), BODY2.as_bytes(), at(TS)),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&key(), &headers(&SIG2[..126], "1700000000"), BODY2.as_bytes(), at(TS)),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(verify(&key(), &h, BODY2.as_bytes(), at(TS + 301)), Err(VerifyError::Stale));
        assert_eq!(verify(&key(), &h, BODY2.as_bytes(), at(TS - 301)), Err(VerifyError::Stale));
        assert_eq!(verify(&key(), &HeaderMap::new(), BODY2.as_bytes(), at(TS)), Err(VerifyError::Missing));
        assert_eq!(
            verify(&key(), &headers(SIG2, "soon"), BODY2.as_bytes(), at(TS)),
            Err(VerifyError::Missing)
        );
    }

    #[test]
    fn bad_keys_are_config_errors_not_panics() {
        assert!(verifier_from_hex("zz").is_err());
        assert!(verifier_from_hex(&"0f".repeat(31)).is_err());
        assert!(verifier_from_hex(&format!(" {KEY}\n")).is_ok());
    }
}
