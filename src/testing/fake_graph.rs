//! A fake Microsoft identity platform + Graph + ARM on `127.0.0.1:0`, built from the documented
//! wire formats: the client-credentials token endpoint (checks tenant, client id, secret and
//! scope), PIM schedule requests for Entra roles, groups and Azure roles (any enum casing, 201
//! answers, ARM property names case-insensitive), the instance lists, and `/users/{upn}`.
//!
//! State is in memory and seeded per test; every call is recorded; failures are injectable
//! (429 with `Retry-After`, 503, a token that expires once, `RoleAssignmentExists`). Time
//! windows are stored as requested and not filtered by the fake: clients judge "in effect".
//! Knobs for the invariant tests: a delay on every Graph/ARM answer (the change is made first,
//! then the answer is late, as when a slow service commits before it replies), a mode that
//! ignores `$filter` (a client must check every row itself), and group memberships for
//! `users/{id}/transitiveMemberOf`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use serde_json::Value;

use super::fake_graph_state::get_str;
pub use super::fake_graph_state::{FakeAssignment, FakeKind};

/// Tenant the fake expects.
pub const FAKE_TENANT: &str = "contoso-tenant";
/// Client id the fake expects.
pub const FAKE_CLIENT_ID: &str = "pimbot-client";
/// Client secret the fake expects.
pub const FAKE_CLIENT_SECRET: &str = "pimbot-secret";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct GraphCall {
    /// HTTP method.
    pub method: String,
    /// Path (`/graph/v1.0/roleManagement/…`, `/arm/subscriptions/…`).
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// JSON body (`Null` when none or not JSON).
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
}

/// A failure to inject into the next Graph/ARM calls (never the token endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphFault {
    /// 429 with `Retry-After: secs`.
    Throttle(u64),
    /// 503 without `Retry-After`.
    Unavailable,
    /// 401 `InvalidAuthenticationToken`, and every token issued so far stops working.
    TokenExpired,
    /// 400 `RoleAssignmentExists` (nothing changes).
    Exists,
}

/// A user `/users/{upn}` answers.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// Object id.
    pub id: String,
    /// UPN.
    pub upn: String,
    /// Mail.
    pub mail: String,
    /// Whether sign-in is allowed.
    pub enabled: bool,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    pub(super) calls: Vec<GraphCall>,
    pub(super) faults: VecDeque<(usize, GraphFault)>,
    pub(super) assignments: Vec<FakeAssignment>,
    pub(super) eligibilities: Vec<FakeAssignment>,
    pub(super) users: Vec<FakeUser>,
    pub(super) tokens: HashMap<String, &'static str>,
    pub(super) revoked: HashSet<String>,
    pub(super) issued: usize,
    pub(super) token_lifetime: u64,
    pub(super) arm_requests: HashMap<String, Value>,
    pub(super) next_id: usize,
    pub(super) delay: std::time::Duration,
    /// Graph/ARM calls being answered now, and the most at once so far.
    pub(super) in_flight: usize,
    pub(super) max_in_flight: usize,
    pub(super) ignore_filters: bool,
    pub(super) members: Vec<(String, String)>,
    /// Path prefixes answered 403, as for a permission the app registration lacks.
    pub(super) denied: Vec<String>,
    /// `http://127.0.0.1:PORT`, for the audience of client assertions.
    pub(super) base: String,
    /// How each issued token's client proved itself.
    pub(super) token_auths: Vec<super::fake_client_auth::ClientAuth>,
    pub(super) seen_jtis: HashSet<String>,
}

pub(super) type Shared = Arc<Mutex<Inner>>;

pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake. The server stops when this is dropped.
#[derive(Debug)]
pub struct FakeGraph {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGraph {
    /// Starts the fake. Panics if no local port can be bound.
    pub async fn start() -> Self {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("fake Graph could not bind 127.0.0.1:0: {e}"),
        };
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("fake Graph address: {e}"));
        let inner: Shared = Arc::new(Mutex::new(Inner {
            token_lifetime: 3599,
            base: format!("http://{addr}"),
            ..Inner::default()
        }));
        let app = Router::new().fallback(super::fake_graph_http::handle).with_state(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake Graph stopped");
            }
        });
        Self { addr, inner, server }
    }

    /// `http://127.0.0.1:PORT/login/`.
    pub fn login_url(&self) -> String {
        format!("http://{}/login/", self.addr)
    }

    /// `http://127.0.0.1:PORT/graph/v1.0/`.
    pub fn graph_url(&self) -> String {
        format!("http://{}/graph/v1.0/", self.addr)
    }

    /// `http://127.0.0.1:PORT/arm/`.
    pub fn arm_url(&self) -> String {
        format!("http://{}/arm/", self.addr)
    }

    /// How the client proved itself for each token issued so far (secret, certificate or
    /// federated assertion), oldest first.
    pub fn token_auths(&self) -> Vec<super::fake_client_auth::ClientAuth> {
        lock(&self.inner).token_auths.clone()
    }

    /// A `[directory]` table pointing at this fake with `credential` lines of the caller's
    /// instead of the client secret.
    pub fn directory_toml_with(&self, eligibility: &str, credential: &str) -> String {
        format!(
            "[directory]\nkind = \"graph\"\neligibility = \"{eligibility}\"\ntenant_id = \"{FAKE_TENANT}\"\n\
             client_id = \"{FAKE_CLIENT_ID}\"\n{credential}\n\
             login_url = \"{}\"\ngraph_url = \"{}\"\narm_url = \"{}\"\n",
            self.login_url(),
            self.graph_url(),
            self.arm_url()
        )
    }

    /// A `[directory]` table pointing at this fake (`kind = "graph"`).
    pub fn directory_toml(&self, eligibility: &str) -> String {
        format!(
            "[directory]\nkind = \"graph\"\neligibility = \"{eligibility}\"\ntenant_id = \"{FAKE_TENANT}\"\n\
             client_id = \"{FAKE_CLIENT_ID}\"\nclient_secret = \"{FAKE_CLIENT_SECRET}\"\n\
             login_url = \"{}\"\ngraph_url = \"{}\"\narm_url = \"{}\"\n",
            self.login_url(),
            self.graph_url(),
            self.arm_url()
        )
    }

    /// Answers every Graph or ARM call whose path (after `/graph/v1.0/` or `/arm/`) starts
    /// with `prefix` with 403, the way Graph (`Authorization_RequestDenied`) and ARM
    /// (`AuthorizationFailed`) refuse a permission the app lacks.
    pub fn deny(&self, prefix: &str) {
        lock(&self.inner).denied.push(prefix.to_owned());
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<GraphCall> {
        lock(&self.inner).calls.clone()
    }

    /// Create-request calls (POST/PUT) the fake accepted, oldest first.
    pub fn accepted_requests(&self) -> Vec<GraphCall> {
        self.calls()
            .into_iter()
            .filter(|c| (c.method == "POST" || c.method == "PUT") && (200..300).contains(&c.status))
            .filter(|c| !c.path.starts_with("/login/"))
            .collect()
    }

    /// Active assignments now.
    pub fn assignments(&self) -> Vec<FakeAssignment> {
        lock(&self.inner).assignments.clone()
    }

    /// Seeds an active assignment (standing access made outside pimbot).
    pub fn add_assignment(&self, a: FakeAssignment) {
        lock(&self.inner).assignments.push(a);
    }

    /// Sets the end of every assignment of `principal` (`None`: permanent).
    pub fn set_assignment_end(&self, principal: &str, end: Option<chrono::DateTime<chrono::Utc>>) {
        for a in lock(&self.inner)
            .assignments
            .iter_mut()
            .filter(|a| a.principal_id.eq_ignore_ascii_case(principal))
        {
            a.end = end;
        }
    }

    /// Seeds an eligibility.
    pub fn add_eligibility(&self, a: FakeAssignment) {
        lock(&self.inner).eligibilities.push(a);
    }

    /// Removes every eligibility of `principal`.
    pub fn remove_eligibilities(&self, principal: &str) {
        lock(&self.inner).eligibilities.retain(|e| !e.principal_id.eq_ignore_ascii_case(principal));
    }

    /// Seeds a user for `/users/{upn}`.
    pub fn add_user(&self, user: FakeUser) {
        lock(&self.inner).users.push(user);
    }

    /// Removes the user with `upn` (`/users/{upn}` answers 404 from now on).
    pub fn remove_user(&self, upn: &str) {
        lock(&self.inner).users.retain(|u| !u.upn.eq_ignore_ascii_case(upn));
    }

    /// The next `times` Graph/ARM calls fail with `fault`.
    pub fn fail_next(&self, times: usize, fault: GraphFault) {
        lock(&self.inner).faults.push_back((times, fault));
    }

    /// Drops every pending injected failure.
    pub fn clear_faults(&self) {
        lock(&self.inner).faults.clear();
    }

    /// The most Graph/ARM calls (token requests aside) the fake was answering at once.
    pub fn max_in_flight(&self) -> usize {
        lock(&self.inner).max_in_flight
    }

    /// Every Graph/ARM answer from now on is sent `delay` after the change it makes.
    pub fn set_delay(&self, delay: std::time::Duration) {
        lock(&self.inner).delay = delay;
    }

    /// Whether list endpoints ignore `$filter` and answer every item they hold.
    pub fn ignore_filters(&self, ignore: bool) {
        lock(&self.inner).ignore_filters = ignore;
    }

    /// Makes `user` (object id) a member of `group` for `users/{id}/transitiveMemberOf`.
    pub fn add_member(&self, user: &str, group: &str) {
        lock(&self.inner).members.push((user.to_owned(), group.to_owned()));
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.inner).issued
    }

    /// `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        lock(&self.inner).token_lifetime = secs;
    }
}

/// Reads a string property of a recorded body case-insensitively (tests assert on bodies).
pub fn body_str<'v>(body: &'v Value, name: &str) -> &'v str {
    get_str(body, name)
}
