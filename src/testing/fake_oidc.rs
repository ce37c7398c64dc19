//! A fake Microsoft Entra OpenID provider on `127.0.0.1:0`, built from the documented wire
//! format (`shared/reference/teams-and-oidc.md` §6): discovery, the key set, the authorize
//! endpoint (no browser: it redirects straight back with a code, or with an error) and the
//! token endpoint, which checks PKCE, the redirect URI, single-use codes and the client's
//! authentication (secret, certificate assertion or federated token), and issues RS256 ID
//! tokens whose claims the test chose through a queue of [`Scenario`]s.
//!
//! Knobs: key rotation ([`FakeOidc::rotate`]), a key never published ([`KeyChoice::Unpublished`]),
//! wrong `nonce`/`aud`/`iss`/`tid`, expired tokens, `auth_time` old or missing, `amr`/`acrs`,
//! and a refusal at the authorize step. Key and metadata fetches are counted. Used by the tests
//! and by `pimbot demo`, so it stays outside any test-only feature.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use chrono::Duration;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};

use super::fake_client_auth::Registration;
use super::keys::IDP_KEYS;
use crate::core::ports::Clock;

/// Tenant id of the fake.
pub const FAKE_OIDC_TENANT: &str = "9a1e2b3c-4d5e-4f60-8a71-92b3c4d5e6f7";
/// Client id of the sign-in app registration.
pub const FAKE_OIDC_CLIENT_ID: &str = "6b4f5d1e-0c2a-4e8b-9f3d-7a1c2e3b4d5f";
/// Its client secret.
pub const FAKE_OIDC_CLIENT_SECRET: &str = "fake-oidc-client-secret";

/// Which key signs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyChoice {
    /// The current signing key (published).
    #[default]
    Current,
    /// A key the fake never publishes.
    Unpublished,
}

/// Who signs in at the next authorize request, and what the token will say.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `oid`.
    pub oid: String,
    /// `preferred_username`.
    pub username: String,
    /// Whether the Conditional Access policy behind a requested `acrs` is satisfied (the
    /// requested value is emitted only then).
    pub satisfies_auth_context: bool,
    /// `acrs` to emit whatever was asked (overrides the above).
    pub acrs: Option<Vec<String>>,
    /// `amr` to emit (v1.0-style; Entra v2.0 tokens have none).
    pub amr: Option<Vec<String>>,
    /// How long ago the person last authenticated; `prompt=login` resets it to now.
    pub last_auth_ago: Duration,
    /// Whether the provider honours `prompt=login` and `max_age` (a misbehaving or
    /// misconfigured one hands out the old session).
    pub fresh_sign_in: bool,
    /// Whether `auth_time` is in the token (an optional claim the app must configure).
    pub emit_auth_time: bool,
    /// Redirect back with `error=access_denied` instead of a code.
    pub deny: bool,
    /// Overrides: `nonce`, `aud`, `iss`, `tid`.
    pub nonce: Option<String>,
    /// `aud` override.
    pub aud: Option<String>,
    /// `iss` override.
    pub iss: Option<String>,
    /// `tid` override.
    pub tid: Option<String>,
    /// Token lifetime (negative: already expired).
    pub lifetime: Duration,
    /// Which key signs.
    pub key: KeyChoice,
}

impl Scenario {
    /// A person who signs in with MFA that satisfies any requested authentication context.
    pub fn person(oid: &str, username: &str) -> Self {
        Self {
            oid: oid.to_owned(),
            username: username.to_owned(),
            satisfies_auth_context: true,
            acrs: None,
            amr: None,
            last_auth_ago: Duration::hours(2),
            fresh_sign_in: true,
            emit_auth_time: true,
            deny: false,
            nonce: None,
            aud: None,
            iss: None,
            tid: None,
            lifetime: Duration::hours(1),
            key: KeyChoice::Current,
        }
    }
}

/// One authorize request the fake answered with a code.
#[derive(Debug, Clone)]
pub struct Issued {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) challenge: String,
    pub(super) nonce: String,
    pub(super) scenario: Scenario,
    pub(super) acrs_asked: Option<String>,
    pub(super) auth_time: chrono::DateTime<chrono::Utc>,
    pub(super) at: chrono::DateTime<chrono::Utc>,
}

pub(super) struct Inner {
    pub(super) keys: Vec<(String, EncodingKey, Jwk)>,
    pub(super) published: Vec<usize>,
    pub(super) signing: usize,
    pub(super) scenarios: VecDeque<Scenario>,
    /// Who signs in when no scenario is queued (`pimbot demo --serve-ui`).
    pub(super) everyone: Option<Scenario>,
    pub(super) codes: HashMap<String, Issued>,
    pub(super) registration: Registration,
    pub(super) seen_jtis: HashSet<String>,
    pub(super) jwks_fetches: usize,
    pub(super) metadata_fetches: usize,
    pub(super) authorize_queries: Vec<HashMap<String, String>>,
    pub(super) tokens_issued: usize,
}

pub(super) type Shared = Arc<Mutex<Inner>>;

pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake provider. The server stops when this is dropped.
pub struct FakeOidc {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOidc {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What a browser saw at the end of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserResult {
    /// Status of the last page.
    pub status: u16,
    /// Its text.
    pub body: String,
    /// The URL the provider redirected to (the callback), when it got that far.
    pub callback: Option<String>,
}

impl FakeOidc {
    /// Starts the fake with `clock` (token times follow it). Panics if no port can be bound.
    pub async fn start(clock: Arc<dyn Clock>) -> Self {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("fake OpenID provider could not bind 127.0.0.1:0: {e}"),
        };
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("fake OpenID provider address: {e}"));
        let keys = IDP_KEYS
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                let key = EncodingKey::from_rsa_pem(pem.as_bytes())
                    .unwrap_or_else(|e| panic!("test key {i} is not an RSA key: {e}"));
                let kid = format!("fake-key-{}", i + 1);
                let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256)
                    .unwrap_or_else(|e| panic!("test key {i} has no public part: {e}"));
                jwk.common.key_id = Some(kid.clone());
                jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                jwk.common.key_algorithm = None;
                jwk.common.x509_sha1_fingerprint = Some(kid.clone());
                (kid, key, jwk)
            })
            .collect();
        let inner: Shared = Arc::new(Mutex::new(Inner {
            keys,
            published: vec![0],
            signing: 0,
            scenarios: VecDeque::new(),
            everyone: None,
            codes: HashMap::new(),
            registration: Registration {
                client_id: FAKE_OIDC_CLIENT_ID.into(),
                secret: Some(FAKE_OIDC_CLIENT_SECRET.into()),
                certificate: true,
                federated: true,
            },
            seen_jtis: HashSet::new(),
            jwks_fetches: 0,
            metadata_fetches: 0,
            authorize_queries: Vec::new(),
            tokens_issued: 0,
        }));
        let state =
            super::fake_oidc_http::HttpState { inner: inner.clone(), clock, base: format!("http://{addr}") };
        let app = Router::new().fallback(super::fake_oidc_http::handle).with_state(state);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake OpenID provider stopped");
            }
        });
        Self { addr, inner, server }
    }

    /// `http://127.0.0.1:PORT/{tenant}/v2.0`: what `[oidc] issuer` is set to.
    pub fn issuer(&self) -> String {
        format!("http://{}/{FAKE_OIDC_TENANT}/v2.0", self.addr)
    }

    /// An `[oidc]` table pointing at this fake, with the client secret (more keys, such as
    /// `require_link`, may follow it).
    pub fn oidc_toml(&self, public_url: &str) -> String {
        format!(
            "[oidc]\nissuer = \"{}\"\nclient_id = \"{FAKE_OIDC_CLIENT_ID}\"\nclient_secret = \"{FAKE_OIDC_CLIENT_SECRET}\"\n\
             public_url = \"{public_url}\"\n",
            self.issuer()
        )
    }

    /// Queues who signs in at the next authorize request (without one, the request is refused).
    pub fn push(&self, scenario: Scenario) {
        lock(&self.inner).scenarios.push_back(scenario);
    }

    /// Makes `scenario` sign in whenever no scenario is queued (a browser a person drives,
    /// as in `pimbot demo --serve-ui`).
    pub fn sign_in_everyone_as(&self, scenario: Scenario) {
        lock(&self.inner).everyone = Some(scenario);
    }

    /// Rotates keys: the next key is published beside the current ones and signs from now on.
    pub fn rotate(&self) {
        let mut inner = lock(&self.inner);
        let next = (inner.signing + 1) % (inner.keys.len() - 1);
        if !inner.published.contains(&next) {
            inner.published.push(next);
        }
        inner.signing = next;
    }

    /// Key set fetches so far.
    pub fn jwks_fetches(&self) -> usize {
        lock(&self.inner).jwks_fetches
    }

    /// Metadata fetches so far.
    pub fn metadata_fetches(&self) -> usize {
        lock(&self.inner).metadata_fetches
    }

    /// ID tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.inner).tokens_issued
    }

    /// The query of every authorize request, oldest first.
    pub fn authorize_queries(&self) -> Vec<HashMap<String, String>> {
        lock(&self.inner).authorize_queries.clone()
    }

    /// Plays the browser: opens `link` (pimbot's `/auth/link?…`), follows the redirect to the
    /// fake's authorize endpoint and its redirect back to pimbot, and returns the last page.
    pub async fn sign_in(link: &str) -> anyhow::Result<BrowserResult> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let mut url = link.to_owned();
        let mut callback = None;
        for _ in 0..4 {
            let response = http.get(&url).send().await?;
            let status = response.status().as_u16();
            let location =
                response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
            match location {
                Some(next) if (300..400).contains(&status) => {
                    if next.contains("/auth/callback") {
                        callback = Some(next.clone());
                    }
                    url = next;
                }
                _ => return Ok(BrowserResult { status, body: response.text().await?, callback }),
            }
        }
        anyhow::bail!("too many redirects from {link}")
    }

    /// Plays the browser up to the provider's redirect back to pimbot, and returns that
    /// callback URL without opening it.
    pub async fn callback_for(link: &str) -> anyhow::Result<String> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let to_provider = http.get(link).send().await?;
        let authorize =
            to_provider.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let authorize = authorize.ok_or_else(|| anyhow::anyhow!("{link} did not redirect"))?;
        let back = http.get(&authorize).send().await?;
        let callback = back.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        callback.ok_or_else(|| anyhow::anyhow!("the provider did not redirect back"))
    }

    /// Replays a callback URL (a second use of a `state` and code).
    pub async fn replay(callback: &str) -> anyhow::Result<BrowserResult> {
        let response = reqwest::get(callback).await?;
        Ok(BrowserResult { status: response.status().as_u16(), body: response.text().await?, callback: None })
    }
}
