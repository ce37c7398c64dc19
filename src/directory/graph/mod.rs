//! The Microsoft Graph / Azure Resource Manager directory: grants are PIM schedule requests.
//!
//! - Entra roles: `POST roleManagement/directory/roleAssignmentScheduleRequests`.
//! - Groups (PIM for Groups, membership): `POST identityGovernance/privilegedAccess/group/assignmentScheduleRequests`.
//! - Azure roles: ARM `PUT {scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{guid}`
//!   with a UUID v5 name derived from the grant, so a repeated PUT names the same request.
//!
//! A grant is `adminAssign` with an `afterDuration` expiry. Extensions (the service calls
//! `grant` again with a later end for the same grant) and repeats after a lost answer both meet
//! an existing assignment: PIM answers `RoleAssignmentExists`, and the directory then sends
//! `adminExtend` with the new schedule. A revocation is `adminRemove`; an answer that the
//! assignment does not exist counts as success, so revoking is safe to repeat.
//!
//! Eligibility (`[directory] eligibility = "graph"`) and the active-assignment listing used by
//! reconciliation live in [`listing`]; the lookup by email (`GET users/{upn}`) in [`users`].

mod body;
mod client;
mod listing;
mod token;
mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::Value;

pub use body::{PimAction, Schedule, iso_duration, request_guid};
pub use client::{ApiError, GraphClient, RetryPolicy};
pub use token::{Audience, TokenProvider};
pub use users::{USER_SELECT, parse_user, user_url};

use crate::config::{DirectoryConfig, EligibilitySource};
use crate::core::error::{Error, Result};
use crate::core::ids::RoleKey;
use crate::core::policy::{Person, Role, RoleKind};
use crate::core::ports::{Clock, Directory, DirectoryAssignment, DirectoryUser, GrantSpec};

/// ARM API version of the PIM endpoints.
pub const ARM_API_VERSION: &str = "2020-10-01";
/// How long eligibility answers are reused per person.
pub const ELIGIBILITY_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// Request statuses that mean PIM did not (and will not) make the change.
const FAILED_STATUSES: &[&str] =
    &["Failed", "Denied", "Canceled", "Invalid", "TimedOut", "AdminDenied", "FailedAsResourceIsLocked"];

/// Everything [`GraphDirectory::new`] needs.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// Entra tenant id or domain.
    pub tenant_id: String,
    /// App registration client id.
    pub client_id: String,
    /// How the app proves itself (secret, certificate or federated token).
    pub credential: crate::auth::credential::ClientCredential,
    /// Identity platform base URL (ends in `/`).
    pub login_url: String,
    /// Graph base URL (ends in `/`).
    pub graph_url: String,
    /// ARM base URL (ends in `/`).
    pub arm_url: String,
    /// Whether eligibility is read from PIM instead of the policy file.
    pub eligibility_from_graph: bool,
    /// Whether reconciliation removes unmanaged assignments.
    pub remove_unmanaged: bool,
    /// How long an approved grant failing transiently is retried (`[directory] grant_retry_for`).
    pub grant_retry_for: chrono::Duration,
    /// Timeouts and retries.
    pub retry: RetryPolicy,
}

impl GraphSettings {
    /// From `[directory]` (validated: `kind = "graph"` has tenant, client id and a credential;
    /// a certificate is read now).
    pub fn from_config(config: &DirectoryConfig) -> anyhow::Result<Self> {
        let source = crate::config::identity::credential_source(
            "directory",
            crate::config::ENV_GRAPH_CLIENT_SECRET,
            config.credential,
            config.client_secret.as_ref(),
            config.certificate_path.as_ref(),
            config.federated_token_file.as_ref(),
        )
        .map_err(|e| anyhow!("[directory] {e}"))?;
        Ok(Self {
            tenant_id: config.tenant_id.clone().context("[directory] tenant_id missing")?,
            client_id: config.client_id.clone().context("[directory] client_id missing")?,
            credential: crate::auth::credential::ClientCredential::from_source(&source)?,
            login_url: config.login_url.clone(),
            graph_url: config.graph_url.clone(),
            arm_url: config.arm_url.clone(),
            eligibility_from_graph: config.eligibility == EligibilitySource::Graph,
            remove_unmanaged: config.remove_unmanaged,
            grant_retry_for: config.grant_retry_for,
            retry: RetryPolicy::default(),
        })
    }
}

/// Cached list answers by URL, with when they were fetched.
type ListCache = Mutex<HashMap<String, (DateTime<Utc>, Vec<Value>)>>;

/// One schedule request to send.
#[derive(Clone, Copy)]
struct Ask<'a> {
    action: PimAction,
    principal: &'a str,
    role: &'a Role,
    schedule: Option<&'a Schedule>,
    why: &'a str,
    ticket: Option<&'a str>,
    /// `(key, discriminator)` of the ARM request name.
    name: (&'a str, &'a str),
}

/// Makes grants in Entra ID / Azure through PIM.
pub struct GraphDirectory {
    client: GraphClient,
    clock: Arc<dyn Clock>,
    eligibility_from_graph: bool,
    remove_unmanaged: bool,
    grant_retry_for: chrono::Duration,
    cache: ListCache,
}

impl GraphDirectory {
    /// A directory talking to the configured endpoints; `clock` times schedules and the cache.
    pub fn new(settings: GraphSettings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let http = GraphClient::http(&settings.retry).context("building the HTTP client")?;
        let tokens = TokenProvider::new(
            http.clone(),
            &settings.login_url,
            &settings.tenant_id,
            &settings.client_id,
            settings.credential,
        );
        let client = GraphClient::new(http, tokens, &settings.graph_url, &settings.arm_url, settings.retry);
        Ok(Self {
            client,
            clock,
            eligibility_from_graph: settings.eligibility_from_graph,
            remove_unmanaged: settings.remove_unmanaged,
            grant_retry_for: settings.grant_retry_for,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The HTTP client (for the listings in [`listing`]).
    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    /// Sends one schedule request.
    async fn request(&self, ask: &Ask<'_>) -> Result<Value, ApiError> {
        let Ask { action, principal, role, schedule, why, ticket, name } = *ask;
        let answer = match role.kind {
            RoleKind::EntraRole => {
                let url = self.client.graph("roleManagement/directory/roleAssignmentScheduleRequests");
                let body = body::entra_request(action, principal, role, schedule, why, ticket);
                self.client.send(Audience::Graph, Method::POST, &url, Some(&body)).await?
            }
            RoleKind::Group => {
                let url =
                    self.client.graph("identityGovernance/privilegedAccess/group/assignmentScheduleRequests");
                let body = body::group_request(action, principal, role, schedule, why, ticket);
                self.client.send(Audience::Graph, Method::POST, &url, Some(&body)).await?
            }
            RoleKind::AzureRole => {
                let guid = request_guid(name.0, action, name.1);
                let url = self.client.arm(&format!(
                    "{}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{guid}?api-version={ARM_API_VERSION}",
                    body::arm_scope(role)
                ));
                let body = body::arm_request(action, principal, role, schedule, why, ticket);
                self.client.send(Audience::Arm, Method::PUT, &url, Some(&body)).await?
            }
        };
        let status = listing::field(&answer, "status").and_then(Value::as_str).unwrap_or_default();
        if FAILED_STATUSES.iter().any(|s| s.eq_ignore_ascii_case(status)) {
            return Err(ApiError::Api {
                status: 200,
                code: format!("Request{status}"),
                message: format!("PIM answered {} with status {status}", action.graph()),
            });
        }
        tracing::info!(role = %role.key, action = action.graph(), status, "directory request accepted");
        Ok(answer)
    }
}

/// The directory object id of a person, or a clear error.
fn principal(person: &Person) -> Result<&str> {
    person.object_id.as_deref().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        Error::Internal(anyhow!(
            "{} has no directory object_id in the policy; the directory cannot grant or revoke without it",
            person.id
        ))
    })
}

fn failed(what: &str, spec: &GrantSpec, e: ApiError) -> Error {
    let what = format!("{what} `{}` for {} ({})", spec.role.key, spec.person.id, spec.grant_id);
    classified(e, what)
}

/// A Graph failure as a core error: throttling, 5xx and network failures are
/// [`Error::Unavailable`] (the caller may try again later), everything else internal.
pub(crate) fn classified(e: ApiError, what: String) -> Error {
    if e.is_retryable() {
        Error::Unavailable(anyhow!(e).context(what))
    } else {
        Error::Internal(anyhow!(e).context(what))
    }
}

/// Whether PIM says the assignment is already there.
fn already_exists(e: &ApiError) -> bool {
    e.has_code("RoleAssignmentExists") || e.status() == Some(409)
}

/// Whether PIM says there is nothing to remove.
fn already_gone(e: &ApiError) -> bool {
    e.has_code("RoleAssignmentDoesNotExist") || e.status() == Some(404)
}

#[async_trait]
impl Directory for GraphDirectory {
    fn name(&self) -> &'static str {
        "graph"
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<()> {
        let principal = principal(&spec.person)?;
        let now = self.clock.now();
        let schedule = Schedule::until(now, spec.ends_at);
        let end = spec.ends_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let name = (spec.grant_id.as_str(), end.as_str());
        let assign = Ask {
            action: PimAction::Assign,
            principal,
            role: &spec.role,
            schedule: Some(&schedule),
            why: &spec.justification,
            ticket: spec.ticket.as_deref(),
            name,
        };
        match self.request(&assign).await {
            Ok(_) => Ok(()),
            Err(e) if already_exists(&e) => {
                // Our own assignment from an earlier try, or an extension: move its end.
                tracing::info!(grant = %spec.grant_id, "assignment exists; extending it to the new end");
                let extend = Ask { action: PimAction::Extend, ..assign };
                self.request(&extend).await.map(|_| ()).map_err(|e| failed("extending", spec, e))
            }
            Err(e) => Err(failed("granting", spec, e)),
        }
    }

    async fn revoke(&self, spec: &GrantSpec) -> Result<()> {
        let principal = principal(&spec.person)?;
        let why = format!("pimbot grant {} ended", spec.grant_id);
        let remove = Ask {
            action: PimAction::Remove,
            principal,
            role: &spec.role,
            schedule: None,
            why: &why,
            ticket: None,
            name: (spec.grant_id.as_str(), ""),
        };
        match self.request(&remove).await {
            Ok(_) => Ok(()),
            Err(e) if already_gone(&e) => {
                tracing::info!(grant = %spec.grant_id, "assignment already gone");
                Ok(())
            }
            Err(e) => Err(failed("revoking", spec, e)),
        }
    }

    async fn eligible_roles(
        &self,
        person: &Person,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<RoleKey>>> {
        if !self.eligibility_from_graph {
            return Ok(None);
        }
        self.pim_eligible_roles(person, roles, now).await
    }

    async fn pim_eligible_roles(
        &self,
        person: &Person,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<RoleKey>>> {
        let Some(principal) = person.object_id.as_deref().filter(|s| !s.trim().is_empty()) else {
            tracing::warn!(person = %person.id, "no object_id: not eligible for anything in PIM");
            return Ok(Some(Vec::new()));
        };
        self.eligible_keys(principal, roles, now).await.map(Some)
    }

    fn grant_retry_for(&self) -> chrono::Duration {
        self.grant_retry_for
    }

    async fn active_assignments(&self, roles: &[Role]) -> Result<Option<Vec<DirectoryAssignment>>> {
        self.assignments(roles).await.map(Some)
    }

    fn remove_unmanaged(&self) -> bool {
        self.remove_unmanaged
    }

    async fn lookup_user(&self, upn: &str) -> Result<Option<DirectoryUser>> {
        users::lookup(&self.client, upn).await
    }

    async fn remove_assignment(&self, role: &Role, assignment: &DirectoryAssignment) -> Result<()> {
        let start = assignment.starts_at.map(|s| s.to_rfc3339()).unwrap_or_default();
        let key = format!("reconcile:{}:{}", assignment.principal_id, role.key);
        let remove = Ask {
            action: PimAction::Remove,
            principal: &assignment.principal_id,
            role,
            schedule: None,
            why: "Removed by pimbot reconciliation: not granted through pimbot",
            ticket: None,
            name: (&key, &start),
        };
        let answer = self.request(&remove).await;
        match answer {
            Ok(_) => Ok(()),
            Err(e) if already_gone(&e) => Ok(()),
            Err(e) => Err(Error::Internal(
                anyhow!(e).context(format!("removing `{}` from {}", role.key, assignment.principal_id)),
            )),
        }
    }
}
