//! What every signed webhook route shares: a size-limited read of the raw body, a timestamp
//! freshness window against pimbot's clock, and one refusal path (413 oversized, 401 unsigned).
//! The platform modules only say how their signature is checked.

use std::fmt::Display;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// Requests whose timestamp is further than this from now are refused (replay protection).
pub const MAX_SKEW_SECS: i64 = 300;
/// Largest body a signed route reads (Slack's and Discord's payloads are far smaller).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a request's timestamp was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampError {
    /// Missing or not a number.
    Unreadable,
    /// Outside [`MAX_SKEW_SECS`] of now.
    Stale,
}

/// A header's value as text, if present and readable.
pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a Unix-seconds timestamp header value against `now`.
pub fn check_timestamp(ts_text: &str, now: DateTime<Utc>) -> Result<(), StampError> {
    let ts: i64 = ts_text.trim().parse().map_err(|_| StampError::Unreadable)?;
    if (now.timestamp() - ts).abs() > MAX_SKEW_SECS {
        return Err(StampError::Stale);
    }
    Ok(())
}

/// Reads the body (at most [`MAX_BODY_BYTES`]), runs `check` on the headers and raw bytes, and
/// passes the request on with the same bytes, or refuses it before any handler sees it.
pub async fn verified<E: Display>(
    request: Request,
    next: Next,
    platform: &str,
    check: impl FnOnce(&HeaderMap, &[u8]) -> Result<(), E>,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    if let Err(e) = check(&parts.headers, &bytes) {
        tracing::warn!(reason = %e, path = %parts.uri.path(), "refused unsigned {platform} request");
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_window_is_five_minutes_either_way() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).single().expect("valid");
        assert_eq!(check_timestamp("1700000300", now), Ok(()));
        assert_eq!(check_timestamp("1699999700", now), Ok(()));
        assert_eq!(check_timestamp("1700000301", now), Err(StampError::Stale));
        assert_eq!(check_timestamp("1699999699", now), Err(StampError::Stale));
        assert_eq!(check_timestamp("soon", now), Err(StampError::Unreadable));
    }
}
