//! Pure builders for the PIM request bodies (Graph directory roles, PIM for Groups, ARM), the
//! ISO-8601 durations they carry, and the deterministic request names ARM needs. No I/O here.
//!
//! The bot sends camelCase everywhere (`adminAssign`, `afterDuration`; ARM `AdminAssign` and
//! `AfterDuration` are the spec enum values), as the wire-format reference recommends.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::core::policy::Role;

/// Namespace of pimbot's UUID v5 request names (fixed forever: changing it would change every
/// name and break idempotency of retried PUTs).
pub const REQUEST_NAMESPACE: Uuid = Uuid::from_u128(0x5b1f_7c2e_9a43_4d61_8e0f_3c7a_2b94_d1e6);

/// Graph caps free-text fields; keep justifications well inside.
const MAX_JUSTIFICATION: usize = 500;

/// What a schedule request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PimAction {
    /// Make an active, time-bound assignment.
    Assign,
    /// Move the end of an existing assignment.
    Extend,
    /// End an assignment.
    Remove,
}

impl PimAction {
    /// Graph's spelling (`adminAssign`).
    pub fn graph(self) -> &'static str {
        match self {
            PimAction::Assign => "adminAssign",
            PimAction::Extend => "adminExtend",
            PimAction::Remove => "adminRemove",
        }
    }

    /// ARM's spelling (`AdminAssign`).
    pub fn arm(self) -> &'static str {
        match self {
            PimAction::Assign => "AdminAssign",
            PimAction::Extend => "AdminExtend",
            PimAction::Remove => "AdminRemove",
        }
    }
}

/// Start and length of an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// `startDateTime`.
    pub start: DateTime<Utc>,
    /// ISO-8601 duration (`PT1H30M`).
    pub duration: String,
}

impl Schedule {
    /// From `now` until `ends_at` (see [`iso_duration`] for the rounding).
    pub fn until(now: DateTime<Utc>, ends_at: DateTime<Utc>) -> Self {
        Self { start: now, duration: iso_duration(ends_at - now) }
    }
}

/// An ISO-8601 duration for `afterDuration`: rounded up to whole minutes, at least `PT5M` (PIM
/// refuses shorter active assignments), in hours and minutes (`PT2H`, `PT1H45M`, `PT26H`).
pub fn iso_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let minutes = ((secs + 59) / 60).max(5);
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("PT{m}M"),
        (h, 0) => format!("PT{h}H"),
        (h, m) => format!("PT{h}H{m}M"),
    }
}

/// A deterministic request name: UUID v5 of the grant id, the action and a discriminator (the
/// requested end for assign/extend, empty for remove), so a repeated PUT is the same request.
pub fn request_guid(grant_id: &str, action: PimAction, discriminator: &str) -> Uuid {
    Uuid::new_v5(&REQUEST_NAMESPACE, format!("{grant_id}|{}|{discriminator}", action.arm()).as_bytes())
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn justification(text: &str) -> String {
    let text = if text.trim().is_empty() { "Requested through pimbot" } else { text.trim() };
    text.chars().take(MAX_JUSTIFICATION).collect()
}

fn graph_schedule(s: &Schedule) -> Value {
    json!({
        "startDateTime": timestamp(s.start),
        "expiration": {"type": "afterDuration", "duration": s.duration},
    })
}

/// The fields shared by directory-role and group requests.
fn graph_common(
    action: PimAction,
    principal: &str,
    schedule: Option<&Schedule>,
    why: &str,
    ticket: Option<&str>,
) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("action".into(), json!(action.graph()));
    body.insert("principalId".into(), json!(principal));
    body.insert("justification".into(), json!(justification(why)));
    if let Some(s) = schedule {
        body.insert("scheduleInfo".into(), graph_schedule(s));
    }
    if let Some(t) = ticket.filter(|t| !t.trim().is_empty()) {
        body.insert("ticketInfo".into(), json!({"ticketNumber": t, "ticketSystem": "pimbot"}));
    }
    body
}

/// `POST roleManagement/directory/roleAssignmentScheduleRequests`.
pub fn entra_request(
    action: PimAction,
    principal: &str,
    role: &Role,
    schedule: Option<&Schedule>,
    why: &str,
    ticket: Option<&str>,
) -> Value {
    let mut body = graph_common(action, principal, schedule, why, ticket);
    body.insert("roleDefinitionId".into(), json!(role.directory_id));
    let scope = if role.scope.trim().is_empty() { "/" } else { role.scope.as_str() };
    body.insert("directoryScopeId".into(), json!(scope));
    Value::Object(body)
}

/// `POST identityGovernance/privilegedAccess/group/assignmentScheduleRequests` (membership).
pub fn group_request(
    action: PimAction,
    principal: &str,
    role: &Role,
    schedule: Option<&Schedule>,
    why: &str,
    ticket: Option<&str>,
) -> Value {
    let mut body = graph_common(action, principal, schedule, why, ticket);
    body.insert("accessId".into(), json!("member"));
    body.insert("groupId".into(), json!(role.directory_id));
    Value::Object(body)
}

/// The body of an ARM `roleAssignmentScheduleRequests/{guid}` PUT.
pub fn arm_request(
    action: PimAction,
    principal: &str,
    role: &Role,
    schedule: Option<&Schedule>,
    why: &str,
    ticket: Option<&str>,
) -> Value {
    let mut props = serde_json::Map::new();
    props.insert("principalId".into(), json!(principal));
    props.insert("roleDefinitionId".into(), json!(arm_role_definition_id(role)));
    props.insert("requestType".into(), json!(action.arm()));
    props.insert("justification".into(), json!(justification(why)));
    if let Some(s) = schedule {
        props.insert(
            "scheduleInfo".into(),
            json!({
                "startDateTime": timestamp(s.start),
                "expiration": {"type": "AfterDuration", "duration": s.duration},
            }),
        );
    }
    if let Some(t) = ticket.filter(|t| !t.trim().is_empty()) {
        props.insert("ticketInfo".into(), json!({"ticketNumber": t, "ticketSystem": "pimbot"}));
    }
    json!({ "properties": props })
}

/// The scope of an Azure role as a path without leading or trailing `/`.
pub fn arm_scope(role: &Role) -> String {
    role.scope.trim().trim_matches('/').to_owned()
}

/// `/{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}` unless `directory_id` is
/// already a full resource id. Role definitions live at the subscription when the scope is
/// inside one.
pub fn arm_role_definition_id(role: &Role) -> String {
    let id = role.directory_id.trim();
    if id.starts_with('/') {
        return id.to_owned();
    }
    let scope = arm_scope(role);
    let parts: Vec<&str> = scope.split('/').collect();
    let base = match parts.as_slice() {
        [first, sub, ..] if first.eq_ignore_ascii_case("subscriptions") => format!("/subscriptions/{sub}"),
        _ if scope.is_empty() => String::new(),
        _ => format!("/{scope}"),
    };
    format!("{base}/providers/Microsoft.Authorization/roleDefinitions/{id}")
}

/// Whether an ARM `roleDefinitionId` (full id) names the role (full id or bare GUID).
pub fn arm_definition_matches(role: &Role, definition_id: &str) -> bool {
    let want = role.directory_id.trim().trim_end_matches('/');
    let got = definition_id.trim().trim_end_matches('/');
    if want.starts_with('/') {
        return want.eq_ignore_ascii_case(got);
    }
    got.rsplit('/').next().is_some_and(|last| last.eq_ignore_ascii_case(want))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::{RoleKind, Tier};

    fn role(kind: RoleKind, id: &str, scope: &str) -> Role {
        Role {
            key: "r".into(),
            name: "R".into(),
            kind,
            directory_id: id.into(),
            scope: scope.into(),
            tier: Tier::High,
            min_duration: Duration::minutes(5),
            max_duration: Duration::hours(8),
            require_justification: true,
            require_ticket: false,
            approvals_required: 1,
            approvers: vec![],
            disjoint_approvers: false,
            sla: Duration::minutes(5),
            escalate_to: vec![],
            request_ttl: Duration::hours(1),
            min_hold: Duration::minutes(5),
            require_mfa: false,
            approver_mfa: false,
            mfa_max_age: Duration::minutes(5),
            auth_context: None,
            max_start_ahead: crate::core::schedule::DEFAULT_MAX_START_AHEAD,
            oncall: None,
            eligible: vec![],
            owners: vec![],
            alerts: crate::core::alerts::RoleAlerts::tier_default(Tier::High),
            warn_before: crate::core::policy::DEFAULT_WARN_BEFORE,
        }
    }

    #[test]
    fn durations_round_up_to_minutes_with_a_floor() {
        assert_eq!(iso_duration(Duration::hours(2)), "PT2H");
        assert_eq!(iso_duration(Duration::minutes(105)), "PT1H45M");
        assert_eq!(iso_duration(Duration::seconds(30 * 60 + 1)), "PT31M");
        assert_eq!(iso_duration(Duration::seconds(90)), "PT5M");
        assert_eq!(iso_duration(Duration::seconds(-10)), "PT5M");
        assert_eq!(iso_duration(Duration::hours(26)), "PT26H");
        assert_eq!(iso_duration(Duration::minutes(59) + Duration::seconds(1)), "PT1H");
    }

    #[test]
    fn request_names_are_deterministic_v5() {
        let a = request_guid("g-1", PimAction::Assign, "2026-01-01T10:00:00Z");
        assert_eq!(a, request_guid("g-1", PimAction::Assign, "2026-01-01T10:00:00Z"));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, request_guid("g-1", PimAction::Remove, ""));
        assert_ne!(a, request_guid("g-2", PimAction::Assign, "2026-01-01T10:00:00Z"));
        assert_ne!(a, request_guid("g-1", PimAction::Assign, "2026-01-01T11:00:00Z"));
    }

    #[test]
    fn entra_body_has_the_documented_shape() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T09:00:00Z").expect("ts").with_timezone(&Utc);
        let s = Schedule::until(now, now + Duration::minutes(30));
        let r = role(RoleKind::EntraRole, "62e90394-69f5-4237-9190-012177145e10", "/");
        let body = entra_request(PimAction::Assign, "oid-1", &r, Some(&s), "fix it", Some("INC-1"));
        assert_eq!(
            body,
            json!({
                "action": "adminAssign", "principalId": "oid-1",
                "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "directoryScopeId": "/",
                "justification": "fix it",
                "ticketInfo": {"ticketNumber": "INC-1", "ticketSystem": "pimbot"},
                "scheduleInfo": {"startDateTime": "2026-05-01T09:00:00Z",
                    "expiration": {"type": "afterDuration", "duration": "PT30M"}},
            })
        );
        let remove = entra_request(PimAction::Remove, "oid-1", &r, None, "", None);
        assert_eq!(remove["action"], "adminRemove");
        assert!(remove.get("scheduleInfo").is_none() && remove.get("ticketInfo").is_none());
        let g =
            group_request(PimAction::Assign, "oid-1", &role(RoleKind::Group, "grp", ""), Some(&s), "x", None);
        assert_eq!((g["accessId"].as_str(), g["groupId"].as_str()), (Some("member"), Some("grp")));
    }

    #[test]
    fn arm_role_definitions_resolve_against_the_subscription() {
        let r = role(RoleKind::AzureRole, "b24988ac", "/subscriptions/s1/resourceGroups/rg1");
        let id = arm_role_definition_id(&r);
        assert_eq!(id, "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/b24988ac");
        assert!(arm_definition_matches(&r, &id.to_uppercase()));
        assert!(!arm_definition_matches(
            &r,
            "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/x"
        ));
        let full = role(RoleKind::AzureRole, &id, "/subscriptions/s1");
        assert_eq!(arm_role_definition_id(&full), id);
        let body = arm_request(PimAction::Remove, "oid", &r, None, "done", None);
        assert_eq!(body["properties"]["requestType"], "AdminRemove");
        assert_eq!(arm_scope(&r), "subscriptions/s1/resourceGroups/rg1");
    }
}
