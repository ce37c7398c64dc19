//! A fake Bot Framework on `127.0.0.1:0`, built from the documented wire formats
//! (`shared/reference/teams-and-oidc.md` §1–§4): the OpenID metadata document and key set the
//! bot checks inbound tokens against (keys endorsed for `msteams`, one only for `webchat`,
//! rotation, fetch counts), the Entra token endpoint for the bot's app token (client
//! authentication as in [`super::fake_client_auth`]), and a Connector under `/amer/` that
//! requires that token and records every activity: channel threads created, replies, and card
//! updates (`PUT` replaces). Faults on demand (429 with or without `Retry-After`, 412, 502,
//! 403), and a post taken but answered too late (the client's outcome is then in doubt).
//! Inbound tokens and activities are built by [`super::teams_client`].
//!
//! This module holds the fake's state, its start-up and what tests read from it; the identity
//! side (metadata, keys, app tokens) is in `fake_teams_identity.rs`, the Connector in
//! `fake_teams_connector.rs`, and what tests expect of it in `fake_teams_expect.rs`.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{get, post};
use jsonwebtoken::EncodingKey;
use serde_json::Value;

use super::fake_client_auth::Registration;
use super::keys::IDP_KEYS;
use crate::core::ports::Clock;

/// The bot's Microsoft App ID.
pub const FAKE_TEAMS_APP_ID: &str = "9f6b1a3e-2c4d-4e5f-8a7b-1c2d3e4f5a6b";
/// The bot's tenant.
pub const FAKE_TEAMS_TENANT: &str = "0d9b645f-597b-41f0-a2a3-ef103fbd91bb";
/// The bot's client secret.
pub const FAKE_TEAMS_APP_PASSWORD: &str = "fake-teams-app-password";
/// The HMAC key of the fake's app tokens (only the fake Connector checks them).
const CONNECTOR_TOKEN_KEY: &[u8] = b"fake-connector-token-key";

/// One activity the Connector holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamsMessage {
    /// Conversation it was posted into (a thread's id ends in `;messageid=<root>`).
    pub conversation: String,
    /// Activity id.
    pub id: String,
    /// The activity as last sent or replaced.
    pub activity: Value,
    /// How many times it was replaced (`PUT`).
    pub updates: usize,
}

/// A Connector call, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorCall {
    /// `POST` or `PUT`.
    pub method: String,
    /// Path after the service URL (decoded).
    pub path: String,
    /// Body.
    pub body: Value,
}

pub(crate) struct Inner {
    pub(crate) keys: Vec<(String, EncodingKey, Value)>,
    pub(crate) published: Vec<usize>,
    pub(crate) signing: usize,
    jwks_fetches: usize,
    tokens_issued: usize,
    registration: Registration,
    seen_jtis: HashSet<String>,
    next_id: u64,
    messages: Vec<TeamsMessage>,
    calls: Vec<ConnectorCall>,
    faults: VecDeque<(u16, Option<String>)>,
    stalls: VecDeque<std::time::Duration>,
    problems: Vec<String>,
    /// Calls a test has taken (see [`super::expect`]).
    taken: super::expect::Taken,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake.
#[derive(Clone)]
pub struct FakeTeams {
    pub(crate) base: String,
    pub(crate) inner: Shared,
    pub(crate) clock: Arc<dyn Clock>,
}

pub(crate) fn lock(inner: &Shared) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeTeams {
    /// Starts the fake; token times follow `clock`. Panics if no port can be bound.
    pub async fn start(clock: Arc<dyn Clock>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("fake Bot Framework could not bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("fake Bot Framework address: {e}"));
        let keys = vec![
            identity::jwk(0, IDP_KEYS[0], &["msteams"]),
            identity::jwk(1, IDP_KEYS[1], &["msteams"]),
            identity::jwk(2, IDP_KEYS[2], &["webchat"]),
        ];
        let inner: Shared = Arc::new(Mutex::new(Inner {
            keys,
            published: vec![0, 2],
            signing: 0,
            jwks_fetches: 0,
            tokens_issued: 0,
            registration: Registration {
                client_id: FAKE_TEAMS_APP_ID.into(),
                secret: Some(FAKE_TEAMS_APP_PASSWORD.into()),
                certificate: true,
                federated: true,
            },
            seen_jtis: HashSet::new(),
            next_id: 1_700_000_000_000,
            messages: Vec::new(),
            calls: Vec::new(),
            faults: VecDeque::new(),
            stalls: VecDeque::new(),
            problems: Vec::new(),
            taken: Default::default(),
        }));
        let fake = Self { base: format!("http://{addr}"), inner, clock };
        let app = Router::new()
            .route("/v1/.well-known/openidconfiguration", get(identity::metadata))
            .route("/v1/.well-known/keys", get(identity::keys_doc))
            .route("/{tenant}/oauth2/v2.0/token", post(identity::token))
            .route("/amer/v3/conversations", post(connector::create_conversation))
            .route("/amer/v3/conversations/{conversation}/activities", post(connector::send))
            .route(
                "/amer/v3/conversations/{conversation}/activities/{activity}",
                post(connector::send_reply).put(connector::update),
            )
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// `[teams] openid_metadata_url`.
    pub fn metadata_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.base)
    }

    /// `[teams] token_url`.
    pub fn token_url(&self) -> String {
        format!("{}/{FAKE_TEAMS_TENANT}/oauth2/v2.0/token", self.base)
    }

    /// The Connector's service URL (ends in `/`).
    pub fn service_url(&self) -> String {
        format!("{}/amer/", self.base)
    }

    /// Publishes the second `msteams` key and signs with it from now on (the first stays
    /// published only if `keep_old`).
    pub fn rotate(&self, keep_old: bool) {
        let mut s = lock(&self.inner);
        s.signing = 1;
        s.published = if keep_old { vec![0, 1, 2] } else { vec![1, 2] };
    }

    /// Key set fetches so far.
    pub fn jwks_fetches(&self) -> usize {
        lock(&self.inner).jwks_fetches
    }

    /// App tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.inner).tokens_issued
    }

    /// The next Connector calls answer these statuses (with `Retry-After` when given).
    pub fn fail_next(&self, status: u16, retry_after: Option<&str>) {
        lock(&self.inner).faults.push_back((status, retry_after.map(str::to_owned)));
    }

    /// The next posted activity is taken (held and recorded) but answered only after `delay`:
    /// a client that gives up sooner cannot know that it landed.
    pub fn take_then_stall(&self, delay: std::time::Duration) {
        lock(&self.inner).stalls.push_back(delay);
    }

    /// Every activity held, oldest first.
    pub fn messages(&self) -> Vec<TeamsMessage> {
        lock(&self.inner).messages.clone()
    }

    /// Every accepted Connector call, oldest first.
    pub fn calls(&self) -> Vec<ConnectorCall> {
        lock(&self.inner).calls.clone()
    }

    /// Mentions whose text is missing from their message, and similar protocol mistakes.
    pub fn problems(&self) -> Vec<String> {
        lock(&self.inner).problems.clone()
    }
}

#[path = "fake_teams_connector.rs"]
mod connector;
#[path = "fake_teams_expect.rs"]
mod expect;
#[path = "fake_teams_identity.rs"]
mod identity;
