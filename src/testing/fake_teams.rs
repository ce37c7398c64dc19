//! A fake Bot Framework on `127.0.0.1:0`, built from the documented wire formats
//! (`shared/reference/teams-and-oidc.md` §1–§4): the OpenID metadata document and key set the
//! bot checks inbound tokens against (keys endorsed for `msteams`, one only for `webchat`,
//! rotation, fetch counts), the Entra token endpoint for the bot's app token (client
//! authentication as in [`super::fake_client_auth`]), and a Connector under `/amer/` that
//! requires that token and records every activity: channel threads created, replies, and card
//! updates (`PUT` replaces). Faults on demand (429 with or without `Retry-After`, 412, 502,
//! 403), and a post taken but answered too late (the client's outcome is then in doubt).
//! Inbound tokens and activities are built by [`super::teams_client`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use super::fake_client_auth::{Registration, authenticate};
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

fn jwk(i: usize, pem: &str, endorsements: &[&str]) -> (String, EncodingKey, Value) {
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("test key {i}: {e}"));
    let kid = format!("bf-key-{}", i + 1);
    let mut jwk =
        Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap_or_else(|e| panic!("test key {i}: {e}"));
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = None;
    jwk.common.x509_sha1_fingerprint = Some(kid.clone());
    let mut value = serde_json::to_value(&jwk).unwrap_or_default();
    value["endorsements"] = json!(endorsements);
    (kid, key, value)
}

impl FakeTeams {
    /// Starts the fake; token times follow `clock`. Panics if no port can be bound.
    pub async fn start(clock: Arc<dyn Clock>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("fake Bot Framework could not bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("fake Bot Framework address: {e}"));
        let keys = vec![
            jwk(0, IDP_KEYS[0], &["msteams"]),
            jwk(1, IDP_KEYS[1], &["msteams"]),
            jwk(2, IDP_KEYS[2], &["webchat"]),
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
            .route("/v1/.well-known/openidconfiguration", get(metadata))
            .route("/v1/.well-known/keys", get(keys_doc))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/amer/v3/conversations", post(create_conversation))
            .route("/amer/v3/conversations/{conversation}/activities", post(send))
            .route(
                "/amer/v3/conversations/{conversation}/activities/{activity}",
                post(send_reply).put(update),
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

#[path = "fake_teams_expect.rs"]
mod expect;

async fn metadata(State(f): State<FakeTeams>) -> Json<Value> {
    Json(json!({
        "issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/v1/.well-known/keys", f.base),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"]
    }))
}

async fn keys_doc(State(f): State<FakeTeams>) -> Json<Value> {
    let mut s = lock(&f.inner);
    s.jwks_fetches += 1;
    let keys: Vec<Value> = s.published.iter().map(|i| s.keys[*i].2.clone()).collect();
    Json(json!({"keys": keys}))
}

async fn token(State(f): State<FakeTeams>, Form(form): Form<HashMap<String, String>>) -> Response {
    // App tokens live on the real clock, as the bot's cache does (the identity platform and the
    // Connector judge them, not pimbot's clock).
    let now = chrono::Utc::now();
    let mut s = lock(&f.inner);
    let url = format!("{}/{FAKE_TEAMS_TENANT}/oauth2/v2.0/token", f.base);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("scope").map(String::as_str) != Some("https://api.botframework.com/.default")
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_scope"}))).into_response();
    }
    let reg = s.registration.clone();
    let mut seen = std::mem::take(&mut s.seen_jtis);
    let checked = authenticate(&form, &url, &reg, chrono::Utc::now(), &mut seen);
    s.seen_jtis = seen;
    if let Err((status, body)) = checked {
        return (StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), Json(body))
            .into_response();
    }
    s.tokens_issued += 1;
    let claims = json!({
        "aud": "https://api.botframework.com", "iss": format!("https://sts.windows.net/{FAKE_TEAMS_TENANT}/"),
        "appid": FAKE_TEAMS_APP_ID, "tid": FAKE_TEAMS_TENANT,
        "exp": (now + chrono::Duration::hours(1)).timestamp(), "n": s.tokens_issued,
    });
    let jwt = EncodingKey::from_secret(CONNECTOR_TOKEN_KEY)
        .and_then(|key| jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key))
        .unwrap_or_default();
    Json(json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": jwt}))
        .into_response()
}

fn error(status: u16, code: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({"error": {"code": code, "message": code}}))).into_response()
}

/// Checks the app token and consumes a queued fault; `Err` is the answer to give.
fn admit(f: &FakeTeams, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["https://api.botframework.com"]);
    v.validate_exp = false;
    let ok = DecodingKey::from_secret(CONNECTOR_TOKEN_KEY)
        .and_then(|key| jsonwebtoken::decode::<Value>(token, &key, &v))
        .ok()
        .filter(|d| d.claims["appid"] == FAKE_TEAMS_APP_ID)
        .filter(|d| d.claims["exp"].as_i64().is_some_and(|e| e > chrono::Utc::now().timestamp()));
    if ok.is_none() {
        return Err(Box::new(error(401, "Unauthorized")));
    }
    let fault = lock(&f.inner).faults.pop_front();
    if let Some((status, retry)) = fault {
        let mut response = error(status, "Fault");
        if let Some(r) = retry.and_then(|r| r.parse().ok()) {
            response.headers_mut().insert("retry-after", r);
        }
        return Err(Box::new(response));
    }
    Ok(())
}

/// Records protocol mistakes: a mention whose text is missing from the message.
fn check(s: &mut Inner, activity: &Value) {
    let text = activity.to_string();
    let mut entities: Vec<Value> = activity["entities"].as_array().cloned().unwrap_or_default();
    for a in activity["attachments"].as_array().into_iter().flatten() {
        entities.extend(
            a.pointer("/content/msteams/entities").and_then(Value::as_array).cloned().unwrap_or_default(),
        );
    }
    for e in entities {
        let t = e["text"].as_str().unwrap_or_default();
        if t.is_empty() || text.matches(t).count() < 2 {
            s.problems.push(format!("mention {t:?} does not occur in its message"));
        }
    }
}

fn record(f: &FakeTeams, method: &str, path: String, body: &Value) {
    lock(&f.inner).calls.push(ConnectorCall { method: method.into(), path, body: body.clone() });
}

/// Waits out a queued stall after an activity was taken.
async fn stall(f: &FakeTeams) {
    let delay = lock(&f.inner).stalls.pop_front();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

fn post_into(f: &FakeTeams, conversation: &str, activity: Value) -> String {
    let mut s = lock(&f.inner);
    check(&mut s, &activity);
    s.next_id += 1;
    let id = s.next_id.to_string();
    s.messages.push(TeamsMessage {
        conversation: conversation.to_owned(),
        id: id.clone(),
        activity,
        updates: 0,
    });
    id
}

async fn create_conversation(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&f, &headers) {
        return *r;
    }
    record(&f, "POST", "v3/conversations".into(), &body);
    if let Some(channel) = body.pointer("/channelData/channel/id").and_then(Value::as_str) {
        let activity = body["activity"].clone();
        let pending = format!("{channel};messageid=");
        let id = post_into(&f, &pending, activity);
        let thread = format!("{channel};messageid={id}");
        if let Some(m) = lock(&f.inner).messages.iter_mut().find(|m| m.id == id) {
            m.conversation = thread.clone();
        }
        stall(&f).await;
        return Json(json!({"id": thread, "activityId": id, "serviceUrl": f.service_url()})).into_response();
    }
    match body.pointer("/members/0/id").and_then(Value::as_str) {
        Some(user) => Json(json!({"id": format!("a:personal-{user}")})).into_response(),
        None => error(400, "BadArgument"),
    }
}

async fn send(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Path(conversation): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&f, &headers) {
        return *r;
    }
    record(&f, "POST", format!("v3/conversations/{conversation}/activities"), &body);
    let id = post_into(&f, &conversation, body);
    stall(&f).await;
    Json(json!({"id": id})).into_response()
}

async fn send_reply(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Path((conversation, _activity)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    send(State(f), headers, Path(conversation), Json(body)).await
}

async fn update(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Path((conversation, activity)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&f, &headers) {
        return *r;
    }
    record(&f, "PUT", format!("v3/conversations/{conversation}/activities/{activity}"), &body);
    let mut s = lock(&f.inner);
    check(&mut s, &body);
    match s.messages.iter_mut().find(|m| m.id == activity && m.conversation == conversation) {
        Some(m) => {
            m.activity = body;
            m.updates += 1;
            Json(json!({"id": activity})).into_response()
        }
        None => error(404, "ActivityNotFound"),
    }
}
