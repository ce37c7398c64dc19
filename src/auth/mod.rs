//! Sign-in and token plumbing shared by every part of pimbot that talks to an identity
//! platform: provider metadata and signing keys with rotation ([`keys`]), token checks
//! ([`jwt`]), app credentials ([`credential`]: secret, certificate, federated), PKCE
//! ([`pkce`]), the OpenID Connect client people sign in with ([`oidc`]) and its two routes
//! ([`routes`]: `GET /auth/link`, `GET /auth/callback`).
//!
//! Never hand-rolled: signatures are checked by `jsonwebtoken`, rate limits by `governor`.
//! What a sign-in may do is decided in `core` (`core::identity`, the service's `identity`
//! use cases); this module only proves who signed in and how.

pub mod credential;
pub mod jwt;
pub mod keys;
pub mod oidc;
pub mod pkce;
pub mod routes;

/// Why a sign-in or a token was refused. The texts are safe to show to the person signing in:
/// they never contain a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider could not be reached: {0}")]
    Provider(String),
    /// The provider refused the code exchange (bad or reused code, PKCE mismatch, bad client).
    #[error("the identity provider refused the sign-in: {0}")]
    Exchange(String),
    /// The token was signed with a key the provider does not publish.
    #[error("the token is signed with an unknown key ({0})")]
    UnknownKey(String),
    /// The token failed a check.
    #[error("the token was refused: {0}")]
    InvalidToken(String),
}
