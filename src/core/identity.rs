//! Strong identity: what a sign-in with the OpenID provider proved, the one-time `state`s that
//! bind a sign-in to a chat user and a purpose, the stored link between a chat account and a
//! directory object id, and the pure rule that decides whether a sign-in is a fresh MFA.
//!
//! Token handling (signatures, keys, the code exchange) belongs to the `auth` adapter; this
//! module only sees the claims it verified, as a [`SignIn`], and never a token.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::ids::{ChatUser, PersonId, RequestId};

/// How long a `/pim link` link works.
pub const LINK_TTL: Duration = Duration::minutes(10);
/// How long a request waits for its requester's step-up, and how long an approver's step-up
/// link works.
pub const STEP_UP_TTL: Duration = Duration::minutes(10);
/// Default `mfa_max_age`: how old the MFA behind a step-up may be.
pub const DEFAULT_MFA_MAX_AGE: Duration = Duration::minutes(5);
/// Clock skew tolerated between pimbot and the provider when judging `auth_time`.
pub const AUTH_TIME_SKEW: Duration = Duration::seconds(60);

/// Why a sign-in was started. Every `state` carries exactly one purpose, and a sign-in only
/// ever does what its purpose says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthPurpose {
    /// `/pim link`: bind a chat account to the signed-in directory account.
    Link,
    /// The requester's fresh MFA for one request of a `require_mfa` role.
    ActivationStepUp,
    /// One approver's fresh MFA for one approval of an `approver_mfa` role.
    ApprovalStepUp,
    /// Signing in to pimbot's web view (no chat user).
    SignIn,
}

impl AuthPurpose {
    /// Every purpose, for tables and tests.
    pub const ALL: [AuthPurpose; 4] =
        [AuthPurpose::Link, AuthPurpose::ActivationStepUp, AuthPurpose::ApprovalStepUp, AuthPurpose::SignIn];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthPurpose::Link => "link",
            AuthPurpose::ActivationStepUp => "activation_step_up",
            AuthPurpose::ApprovalStepUp => "approval_step_up",
            AuthPurpose::SignIn => "sign_in",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the sign-in must prove a fresh MFA.
    pub fn is_step_up(self) -> bool {
        matches!(self, AuthPurpose::ActivationStepUp | AuthPurpose::ApprovalStepUp)
    }
}

impl fmt::Display for AuthPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthPurpose::Link => "account link",
            AuthPurpose::ActivationStepUp => "step-up for your request",
            AuthPurpose::ApprovalStepUp => "step-up for your approval",
            AuthPurpose::SignIn => "sign-in",
        })
    }
}

/// A one-time sign-in `state`. Only the SHA-256 of the value handed out is stored, so a copy
/// of the database holds no usable link. The nonce and the PKCE verifier never leave pimbot
/// except towards the provider (the nonce in the authorize request, the verifier in the code
/// exchange).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthState {
    /// SHA-256 (hex) of the `state` value.
    pub id: String,
    /// What the sign-in is for.
    pub purpose: AuthPurpose,
    /// The chat user it was issued to (none for a web sign-in).
    pub user: Option<ChatUser>,
    /// The person it was issued to, when known (step-ups).
    pub person: Option<PersonId>,
    /// The request it is bound to (step-ups).
    pub request: Option<RequestId>,
    /// The OpenID `nonce` the ID token must echo.
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636).
    pub pkce_verifier: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used up; a used state never works again.
    pub used_at: Option<DateTime<Utc>>,
}

/// A freshly issued state: the row to store and the value to put in the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedState {
    /// The row (holding only the value's hash).
    pub state: AuthState,
    /// The value itself, for the link; never stored.
    pub value: String,
}

impl AuthState {
    /// Issues a state for `purpose` at `now`, working for `ttl`.
    pub fn issue(
        purpose: AuthPurpose,
        user: Option<ChatUser>,
        person: Option<PersonId>,
        request: Option<RequestId>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> IssuedState {
        let value = random_token(32);
        let state = AuthState {
            id: state_id(&value),
            purpose,
            user,
            person,
            request,
            nonce: random_token(24),
            pkce_verifier: random_token(48),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        IssuedState { state, value }
    }

    /// Whether the state still works at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// The stored id of a state value: its SHA-256 in hex.
pub fn state_id(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A random URL-safe token of `bytes` random bytes (base64url without padding).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A chat account bound to a directory account by a completed `/pim link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    /// The chat account.
    pub user: ChatUser,
    /// The directory object id (`oid`) it is bound to.
    pub object_id: String,
    /// The directory tenant (`tid`).
    pub tenant_id: String,
    /// The sign-in name at link time, for display only (never for authorisation).
    pub username: Option<String>,
    /// When it was made.
    pub linked_at: DateTime<Utc>,
}

/// What a verified ID token says about a sign-in: only claims, never the token. The adapter
/// fills it after checking signature, issuer, audience, lifetime, nonce and tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Directory object id (`oid`): the person key.
    pub object_id: String,
    /// Tenant (`tid`).
    pub tenant_id: String,
    /// `preferred_username`, for display only.
    pub username: Option<String>,
    /// Authentication methods (`amr`; v1.0 tokens and other providers only).
    pub amr: Vec<String>,
    /// Authentication contexts satisfied (`acrs`).
    pub acrs: Vec<String>,
    /// When the person last actively authenticated (`auth_time`).
    pub auth_time: Option<DateTime<Utc>>,
    /// The token's identifier (`uti` or `jti`), when it has one.
    pub token_id: Option<String>,
    /// SHA-256 (hex) of the raw ID token: identifies it in the audit trail without keeping it.
    pub token_sha256: String,
}

/// What a step-up must prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaRequirement {
    /// The authentication context `acrs` must contain; without one, `amr` must contain `mfa`.
    pub auth_context: Option<String>,
    /// How old the authentication may be.
    pub max_age: Duration,
}

/// Which evidence satisfied a step-up, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaMode {
    /// `acrs` contained this authentication context.
    AuthContext(String),
    /// `amr` contained `mfa`.
    Amr,
}

impl MfaMode {
    /// Stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            MfaMode::AuthContext(_) => "auth_context",
            MfaMode::Amr => "amr",
        }
    }
}

/// Decides whether `sign_in` is a fresh MFA at `now`. The refusal says what was missing, in
/// words fit for the person who signed in.
pub fn check_mfa(req: &MfaRequirement, sign_in: &SignIn, now: DateTime<Utc>) -> Result<MfaMode, String> {
    let Some(auth_time) = sign_in.auth_time else {
        return Err("the sign-in did not say when you authenticated (no auth_time), so its freshness \
                    cannot be proved"
            .into());
    };
    if auth_time > now + AUTH_TIME_SKEW {
        return Err("the sign-in claims to have happened in the future".into());
    }
    if now - auth_time > req.max_age + AUTH_TIME_SKEW {
        return Err(format!(
            "your last authentication was {} ago; a step-up needs one within {}. Sign in again",
            super::duration::format_duration(now - auth_time),
            super::duration::format_duration(req.max_age)
        ));
    }
    match &req.auth_context {
        Some(context) => {
            if sign_in.acrs.iter().any(|a| a.eq_ignore_ascii_case(context)) {
                Ok(MfaMode::AuthContext(context.to_ascii_lowercase()))
            } else {
                Err(format!(
                    "the sign-in did not satisfy authentication context `{context}` (the Conditional \
                     Access policy that requires MFA)"
                ))
            }
        }
        None => {
            if sign_in.amr.iter().any(|m| m.eq_ignore_ascii_case("mfa")) {
                Ok(MfaMode::Amr)
            } else {
                Err("the sign-in carried no multi-factor authentication (`mfa` in amr)".into())
            }
        }
    }
}

impl SignIn {
    /// The evidence the audit trail keeps: which claims a decision rested on, and the token's
    /// id and hash — never the token.
    pub fn evidence(&self, mode: Option<&MfaMode>) -> serde_json::Value {
        json!({
            "oid": self.object_id,
            "tid": self.tenant_id,
            "amr": self.amr,
            "acrs": self.acrs,
            "auth_time": self.auth_time,
            "token_id": self.token_id,
            "token_sha256": self.token_sha256,
            "mode": mode.map(MfaMode::as_str),
            "auth_context": match mode { Some(MfaMode::AuthContext(c)) => Some(c.as_str()), _ => None },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid")
    }

    fn sign_in(amr: &[&str], acrs: &[&str], auth_age: Option<i64>) -> SignIn {
        SignIn {
            object_id: "oid-alice".into(),
            tenant_id: "tid".into(),
            username: None,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            acrs: acrs.iter().map(|s| (*s).to_owned()).collect(),
            auth_time: auth_age.map(|s| now() - Duration::seconds(s)),
            token_id: Some("uti-1".into()),
            token_sha256: "ab".into(),
        }
    }

    #[test]
    fn step_up_evidence_table() {
        let ctx = MfaRequirement { auth_context: Some("c1".into()), max_age: Duration::minutes(5) };
        let amr = MfaRequirement { auth_context: None, max_age: Duration::minutes(5) };
        let cases: Vec<(&MfaRequirement, SignIn, Option<MfaMode>)> = vec![
            (&ctx, sign_in(&[], &["c1"], Some(10)), Some(MfaMode::AuthContext("c1".into()))),
            (&ctx, sign_in(&[], &["C1", "c2"], Some(10)), Some(MfaMode::AuthContext("c1".into()))),
            (&ctx, sign_in(&["mfa"], &[], Some(10)), None), // amr does not stand in for the context
            (&ctx, sign_in(&[], &["c2"], Some(10)), None),
            (&ctx, sign_in(&[], &["c1"], None), None), // no auth_time: refused
            (&ctx, sign_in(&[], &["c1"], Some(6 * 60 + 61)), None), // stale
            (&ctx, sign_in(&[], &["c1"], Some(5 * 60)), Some(MfaMode::AuthContext("c1".into()))),
            (&ctx, sign_in(&[], &["c1"], Some(-600)), None), // from the future
            (&amr, sign_in(&["pwd", "mfa"], &[], Some(30)), Some(MfaMode::Amr)),
            (&amr, sign_in(&["pwd"], &[], Some(30)), None),
            (&amr, sign_in(&["mfa"], &[], Some(3600)), None),
        ];
        for (req, s, want) in cases {
            assert_eq!(check_mfa(req, &s, now()).ok(), want, "{req:?} {s:?}");
        }
    }

    #[test]
    fn issued_states_store_only_a_hash_and_expire() {
        let issued = AuthState::issue(AuthPurpose::Link, None, None, None, now(), LINK_TTL);
        assert_ne!(issued.state.id, issued.value);
        assert_eq!(issued.state.id, state_id(&issued.value));
        assert!(issued.state.usable_at(now()));
        assert!(!issued.state.usable_at(now() + LINK_TTL));
        let mut used = issued.state.clone();
        used.used_at = Some(now());
        assert!(!used.usable_at(now()));
        assert_ne!(issued.state.nonce, issued.state.pkce_verifier);
        assert!(issued.state.pkce_verifier.len() >= 43, "RFC 7636: at least 43 characters");
    }

    #[test]
    fn purposes_round_trip_and_evidence_never_holds_the_token() {
        for p in AuthPurpose::ALL {
            assert_eq!(AuthPurpose::parse(p.as_str()), Some(p));
        }
        let e = sign_in(&["mfa"], &["c1"], Some(1)).evidence(Some(&MfaMode::Amr));
        assert_eq!(e["mode"], "amr");
        assert_eq!(e["token_sha256"], "ab");
        assert_eq!(e["amr"][0], "mfa");
    }
}
