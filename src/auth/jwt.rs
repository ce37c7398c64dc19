//! Checks a JSON Web Token signed by an OpenID provider: the signature with `jsonwebtoken`
//! against the key the header's `kid` names (from [`KeyCache`]), the algorithm (RSA only,
//! never `none` or HMAC), `iss` and `aud`; then the time claims against pimbot's clock, because
//! `jsonwebtoken` reads the system clock and tests and the demo run on a manual one.
//!
//! What the claims mean (nonce, tenant, MFA evidence) is for the caller; this module only says
//! whether the token is genuine and current.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AuthError;
use super::keys::KeyCache;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (the documented industry-standard 5 minutes).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Algorithms pimbot accepts from a provider.
const ACCEPTED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

/// What a token must say to be accepted.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// `iss`, exactly.
    pub issuer: &'a str,
    /// One of the `aud` values.
    pub audience: &'a str,
    /// Whether `iat` must be present.
    pub require_iat: bool,
}

/// Verifies `token` and returns its claims as `T`.
pub async fn verify<T: DeserializeOwned>(
    keys: &KeyCache,
    token: &str,
    expect: Expect<'_>,
    now: DateTime<Utc>,
) -> Result<T, AuthError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| AuthError::InvalidToken(format!("unreadable token header: {e}")))?;
    if !ACCEPTED.contains(&header.alg) {
        return Err(AuthError::InvalidToken(format!("algorithm {:?} is not accepted", header.alg)));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| AuthError::InvalidToken("the token names no key (kid)".into()))?;
    let jwk = keys.key(kid).await?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| AuthError::InvalidToken(format!("the provider's key {kid} is unusable: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(&[expect.audience]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        AuthError::InvalidToken(match e.kind() {
            K::InvalidSignature => "the signature does not verify".into(),
            K::InvalidIssuer => "wrong issuer".into(),
            K::InvalidAudience => "the token is for another application (aud)".into(),
            K::InvalidAlgorithm => "the key does not match the algorithm".into(),
            other => format!("{other:?}"),
        })
    })?;
    check_times(&data.claims, expect.require_iat, now)?;
    serde_json::from_value(data.claims)
        .map_err(|e| AuthError::InvalidToken(format!("unexpected claims: {e}")))
}

fn check_times(claims: &Value, require_iat: bool, now: DateTime<Utc>) -> Result<(), AuthError> {
    let at = |name: &str| -> Result<Option<DateTime<Utc>>, AuthError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .map(Some)
                .ok_or_else(|| AuthError::InvalidToken(format!("`{name}` is not a time"))),
        }
    };
    let exp = at("exp")?.ok_or_else(|| AuthError::InvalidToken("the token has no expiry (exp)".into()))?;
    if now > exp + CLOCK_SKEW {
        return Err(AuthError::InvalidToken("the token has expired".into()));
    }
    if let Some(nbf) = at("nbf")?
        && now + CLOCK_SKEW < nbf
    {
        return Err(AuthError::InvalidToken("the token is not valid yet (nbf)".into()));
    }
    match at("iat")? {
        Some(iat) if iat > now + CLOCK_SKEW => {
            Err(AuthError::InvalidToken("the token was issued in the future (iat)".into()))
        }
        None if require_iat => Err(AuthError::InvalidToken("the token has no issue time (iat)".into())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_claims_are_judged_by_the_given_clock_with_skew() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let t = |d: i64| now.timestamp() + d;
        assert!(check_times(&json!({"exp": t(60), "iat": t(-60)}), true, now).is_ok());
        assert!(check_times(&json!({"exp": t(-200), "iat": t(-4000)}), true, now).is_ok(), "within skew");
        assert!(check_times(&json!({"exp": t(-301), "iat": t(-4000)}), true, now).is_err());
        assert!(check_times(&json!({"exp": t(600), "nbf": t(400)}), false, now).is_err());
        assert!(check_times(&json!({"exp": t(600), "iat": t(400)}), true, now).is_err());
        assert!(check_times(&json!({"exp": t(600)}), true, now).is_err(), "iat required");
        assert!(check_times(&json!({"iat": t(0)}), true, now).is_err(), "exp required");
    }
}
