//! The directory check (`kind = "graph"`): tokens for Graph and ARM, then one read per
//! permission the configured roles and features need, each refusal named with the permission
//! to grant. Reads ask for one item (`$top=1`) and are never retried: a check must be quick.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use super::Check;
use crate::config::{Config, DirectoryKind, EligibilitySource};
use crate::core::policy::{Policy, RoleKind};
use crate::core::ports::SystemClock;
use crate::directory::graph::{
    ARM_API_VERSION, ApiError, Audience, GraphDirectory, GraphSettings, RetryPolicy,
};

/// One read that proves one permission.
struct Probe {
    subject: String,
    audience: Audience,
    url: String,
    /// What to grant when it is refused.
    grant: String,
}

/// Runs the directory checks; none when the directory is `static`.
pub async fn check(config: &Config, policy: &Policy) -> Vec<Check> {
    if config.directory.kind != DirectoryKind::Graph {
        return Vec::new();
    }
    let mut settings = match GraphSettings::from_config(&config.directory) {
        Ok(s) => s,
        Err(e) => return vec![Check::fail("graph token", format!("{e:#}"))],
    };
    settings.retry = RetryPolicy { max_tries: 1, timeout: super::TIMEOUT, ..RetryPolicy::default() };
    let directory = match GraphDirectory::new(settings, Arc::new(SystemClock)) {
        Ok(d) => d,
        Err(e) => return vec![Check::fail("graph token", format!("{e:#}"))],
    };
    let client = directory.client();
    let probes = probes(config, policy, |p| client.graph(p), |p| client.arm(p));
    let mut checks = Vec::new();
    for audience in [Audience::Graph, Audience::Arm] {
        let mine: Vec<&Probe> = probes.iter().filter(|p| p.audience == audience).collect();
        let Some(first) = mine.first() else { continue };
        let name = if audience == Audience::Graph { "graph token" } else { "arm token" };
        // The first read also fetches the token; a token refusal stops this audience's reads.
        let first_result = read(client, first).await;
        if let Err(e @ (ApiError::Token { .. } | ApiError::Network(_))) = &first_result {
            checks.push(Check::fail(name, token_sentence(e, config)));
            continue;
        }
        checks.push(Check::ok(
            name,
            format!(
                "client {} in tenant {}",
                config.directory.client_id.as_deref().unwrap_or("?"),
                config.directory.tenant_id.as_deref().unwrap_or("?")
            ),
        ));
        checks.push(outcome(first, first_result));
        for probe in &mine[1..] {
            checks.push(outcome(probe, read(client, probe).await));
        }
    }
    checks
}

async fn read(client: &crate::directory::graph::GraphClient, probe: &Probe) -> Result<(), ApiError> {
    let call = client.send(probe.audience, Method::GET, &probe.url, None);
    match tokio::time::timeout(super::TIMEOUT + Duration::from_secs(1), call).await {
        Ok(result) => result.map(drop),
        Err(_) => Err(ApiError::Network(format!("no answer within {}s", super::TIMEOUT.as_secs()))),
    }
}

fn outcome(probe: &Probe, result: Result<(), ApiError>) -> Check {
    match result {
        Ok(()) => Check::ok(&probe.subject, "readable"),
        Err(e) if matches!(e.status(), Some(401 | 403)) => Check::fail(
            &probe.subject,
            format!(
                "refused ({} {}): {}",
                e.status().unwrap_or_default(),
                e.code().unwrap_or("Forbidden"),
                probe.grant
            ),
        ),
        Err(e) => Check::fail(
            &probe.subject,
            format!("the read failed ({e}): check [directory] graph_url / arm_url and try again"),
        ),
    }
}

/// The reads the config calls for, in order: Graph permissions, then ARM scopes.
fn probes(
    config: &Config,
    policy: &Policy,
    graph: impl Fn(&str) -> String,
    arm: impl Fn(&str) -> String,
) -> Vec<Probe> {
    let consent = "grant the app registration this Microsoft Graph application permission and admin consent (docs/azure-setup.md §2)";
    let graph_probe = |permission: &str, path: &str| Probe {
        subject: format!("graph permission {permission}"),
        audience: Audience::Graph,
        url: graph(path),
        grant: format!("add {permission}: {consent}"),
    };
    let from_graph = config.directory.eligibility == EligibilitySource::Graph;
    let has = |kind: RoleKind| policy.roles.iter().any(|r| r.kind == kind);
    let mut probes = Vec::new();
    if has(RoleKind::EntraRole) {
        probes.push(graph_probe(
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "roleManagement/directory/roleAssignmentScheduleInstances?$top=1",
        ));
        if from_graph {
            probes.push(graph_probe(
                "RoleEligibilitySchedule.Read.Directory",
                "roleManagement/directory/roleEligibilityScheduleInstances?$top=1",
            ));
        }
    }
    if let Some(group) = policy.roles.iter().find(|r| r.kind == RoleKind::Group) {
        let filter = format!("$filter=groupId eq '{}'&$top=1", group.directory_id.replace('\'', "''"));
        probes.push(graph_probe(
            "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
            &format!("identityGovernance/privilegedAccess/group/assignmentScheduleInstances?{filter}"),
        ));
        if from_graph {
            probes.push(graph_probe(
                "PrivilegedEligibilitySchedule.Read.AzureADGroup",
                &format!("identityGovernance/privilegedAccess/group/eligibilityScheduleInstances?{filter}"),
            ));
        }
    }
    if config.lookup_by_email() {
        probes.push(graph_probe("User.Read.All", "users?$top=1&$select=id"));
    }
    if config.break_glass_monitor().is_some() {
        probes.push(graph_probe("AuditLog.Read.All", "auditLogs/signIns?$top=1"));
    }
    let mut scopes: Vec<String> = Vec::new();
    for role in policy.roles.iter().filter(|r| r.kind == RoleKind::AzureRole) {
        let scope = role.scope.trim().trim_matches('/').to_owned();
        if scopes.contains(&scope) {
            continue;
        }
        scopes.push(scope.clone());
        probes.push(Probe {
            subject: format!("arm scope /{scope}"),
            audience: Audience::Arm,
            url: arm(&format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version={ARM_API_VERSION}&$filter=atScope()"
            )),
            grant: format!("assign the app's service principal the role from docs/azure-setup.md §3 (roleAssignmentScheduleRequests/write, roleAssignmentScheduleInstances/read) at /{scope}"),
        });
    }
    probes
}

/// One sentence for a refused token request, by its AADSTS code.
fn token_sentence(e: &ApiError, config: &Config) -> String {
    let tenant = config.directory.tenant_id.as_deref().unwrap_or("?");
    let client = config.directory.client_id.as_deref().unwrap_or("?");
    let text = e.to_string();
    let code = text
        .split("AADSTS")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>());
    match code.as_deref() {
        Some("7000215") | Some("7000222") => format!(
            "Entra refused the client secret (AADSTS{}): create a new secret under Certificates & secrets of app {client} and set it in PIMBOT_GRAPH_CLIENT_SECRET",
            code.unwrap_or_default()
        ),
        Some("700016") => format!(
            "Entra knows no application {client} in tenant {tenant} (AADSTS700016): check [directory] client_id and tenant_id"
        ),
        Some("90002") | Some("900023") => {
            format!("Entra knows no tenant {tenant}: set [directory] tenant_id to the directory (tenant) id")
        }
        _ if matches!(e, ApiError::Network(_)) => format!(
            "cannot reach the identity platform at {} ({e}): allow outbound HTTPS to it from this host",
            config.directory.login_url
        ),
        _ => format!(
            "the token request was refused ({e}): check [directory] tenant_id, client_id and PIMBOT_GRAPH_CLIENT_SECRET"
        ),
    }
}
