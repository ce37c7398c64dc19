//! Reading PIM state: a person's eligibilities (for `eligibility = "graph"`) and the active
//! assignments of the managed roles (for reconciliation).
//!
//! Eligibility is checked like a security decision. It comes from the schedule *instances*
//! (what is in effect now): Graph `roleEligibilityScheduleInstances` filtered on the role
//! definition and `group/eligibilityScheduleInstances` on the group (one list per role, shared
//! by everyone), and ARM `roleEligibilityScheduleInstances` with `assignedTo('{id}')` at each
//! managed scope. A server-side `$filter` is never trusted: an item counts only when its own
//! `principalId` is the person or one of the groups they act as (`users/{id}/transitiveMemberOf`,
//! plus the groups they hold or may activate through PIM for Groups), so eligibility held
//! through a group counts and a row about someone else never does. Each list answer is cached
//! for [`ELIGIBILITY_TTL`] per URL.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::body::{arm_definition_matches, arm_scope};
use super::{ARM_API_VERSION, Audience, ELIGIBILITY_TTL, GraphDirectory};
use crate::core::error::{Error, Result};
use crate::core::ids::RoleKey;
use crate::core::policy::{Role, RoleKind};
use crate::core::ports::DirectoryAssignment;

/// A property by name, case-insensitively, looking inside ARM's `properties` too.
pub fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    if let Some((_, x)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return Some(x);
    }
    let props = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("properties"))?.1;
    props.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, x)| x)
}

fn text<'v>(v: &'v Value, name: &str) -> &'v str {
    field(v, name).and_then(Value::as_str).unwrap_or_default()
}

fn time(v: &Value, name: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text(v, name)).ok().map(|t| t.with_timezone(&Utc))
}

/// Whether an instance is in effect at `now`.
fn in_effect(v: &Value, now: DateTime<Utc>) -> bool {
    time(v, "startDateTime").is_none_or(|s| s <= now) && time(v, "endDateTime").is_none_or(|e| now < e)
}

fn same_scope(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let t = s.trim().trim_matches('/');
        t.to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

/// Whether `inner` is `outer` or below it (ARM scopes inherit downwards).
fn within(inner: &str, outer: &str) -> bool {
    let (i, o) = (
        inner.trim().trim_matches('/').to_ascii_lowercase(),
        outer.trim().trim_matches('/').to_ascii_lowercase(),
    );
    o.is_empty() || i == o || i.starts_with(&format!("{o}/"))
}

fn filter_url(base: String, filter: &str) -> String {
    let query = serde_urlencoded::to_string([("$filter", filter)]).unwrap_or_default();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

fn quote(id: &str) -> String {
    id.replace('\'', "''")
}

fn internal(what: &str, e: super::ApiError) -> Error {
    super::classified(e, what.to_owned())
}

/// Percent-encodes a path segment (object ids are GUIDs; anything else is escaped).
fn urlencoding(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl GraphDirectory {
    /// A list, from the cache while it is fresh.
    async fn cached_list(&self, audience: Audience, url: &str, now: DateTime<Utc>) -> Result<Vec<Value>> {
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, items)) =
                cache.get(url).filter(|(at, _)| now - *at < ELIGIBILITY_TTL && *at <= now)
            {
                tracing::trace!(%at, "eligibility from cache");
                return Ok(items.clone());
            }
        }
        let items =
            self.client.get_all(audience, url).await.map_err(|e| internal("reading eligibility", e))?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, (at, _)| now - *at < ELIGIBILITY_TTL);
        cache.insert(url.to_owned(), (now, items.clone()));
        Ok(items)
    }

    /// Everyone `principal` acts as in PIM: the user, every group they are a member of
    /// (Entra membership, transitive), and every group they hold or may activate through PIM
    /// for Groups. Each answer's `principalId` is checked, never trusted to the `$filter`.
    async fn principals(&self, principal: &str, now: DateTime<Utc>) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::from([principal.to_ascii_lowercase()]);
        let url = format!(
            "{}?$select=id",
            self.client.graph(&format!("users/{}/transitiveMemberOf", urlencoding(principal)))
        );
        for item in self.cached_list(Audience::Graph, &url, now).await? {
            let kind = text(&item, "@odata.type");
            if kind.is_empty() || kind.eq_ignore_ascii_case("#microsoft.graph.group") {
                out.insert(text(&item, "id").to_ascii_lowercase());
            }
        }
        let by_principal = format!("principalId eq '{}'", quote(principal));
        for list in ["assignmentScheduleInstances", "eligibilityScheduleInstances"] {
            let url = filter_url(
                self.client.graph(&format!("identityGovernance/privilegedAccess/group/{list}")),
                &by_principal,
            );
            for item in self.cached_list(Audience::Graph, &url, now).await? {
                if text(&item, "principalId").eq_ignore_ascii_case(principal)
                    && matches!(text(&item, "accessId"), "" | "member")
                    && in_effect(&item, now)
                {
                    out.insert(text(&item, "groupId").to_ascii_lowercase());
                }
            }
        }
        out.remove("");
        Ok(out)
    }

    /// The keys of `roles` that `principal` is eligible for at `now`, directly or through a
    /// group. Eligibility lists are read per role (and cached per role, for everyone); only
    /// items whose `principalId` is the person or one of their groups count.
    pub(super) async fn eligible_keys(
        &self,
        principal: &str,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<Vec<RoleKey>> {
        let me = self.principals(principal, now).await?;
        let mine = |i: &Value| me.contains(&text(i, "principalId").to_ascii_lowercase());
        let mut keys = Vec::new();
        for role in roles {
            let eligible = match role.kind {
                RoleKind::EntraRole => {
                    let url = filter_url(
                        self.client.graph("roleManagement/directory/roleEligibilityScheduleInstances"),
                        &format!("roleDefinitionId eq '{}'", quote(&role.directory_id)),
                    );
                    let scope = if role.scope.trim().is_empty() { "/" } else { role.scope.as_str() };
                    self.cached_list(Audience::Graph, &url, now).await?.iter().any(|i| {
                        mine(i)
                            && text(i, "roleDefinitionId").eq_ignore_ascii_case(&role.directory_id)
                            && same_scope(text(i, "directoryScopeId"), scope)
                            && in_effect(i, now)
                    })
                }
                RoleKind::Group => {
                    let url = filter_url(
                        self.client
                            .graph("identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"),
                        &format!("groupId eq '{}'", quote(&role.directory_id)),
                    );
                    self.cached_list(Audience::Graph, &url, now).await?.iter().any(|i| {
                        mine(i)
                            && text(i, "groupId").eq_ignore_ascii_case(&role.directory_id)
                            && matches!(text(i, "accessId"), "" | "member")
                            && in_effect(i, now)
                    })
                }
                RoleKind::AzureRole => {
                    // `assignedTo` includes eligibility inherited through groups.
                    let base = self.client.arm(&format!(
                        "{}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version={ARM_API_VERSION}",
                        arm_scope(role)
                    ));
                    let url = filter_url(base, &format!("assignedTo('{}')", quote(principal)));
                    self.cached_list(Audience::Arm, &url, now).await?.iter().any(|i| {
                        mine(i)
                            && arm_definition_matches(role, text(i, "roleDefinitionId"))
                            && within(&role.scope, text(i, "scope"))
                            && in_effect(i, now)
                    })
                }
            };
            if eligible {
                keys.push(role.key.clone());
            }
        }
        Ok(keys)
    }

    /// Every active assignment of the managed `roles` (no cache: reconciliation wants now).
    pub(super) async fn assignments(&self, roles: &[Role]) -> Result<Vec<DirectoryAssignment>> {
        let mut out = Vec::new();
        for role in roles {
            let (audience, url) = match role.kind {
                RoleKind::EntraRole => (
                    Audience::Graph,
                    filter_url(
                        self.client.graph("roleManagement/directory/roleAssignmentScheduleInstances"),
                        &format!("roleDefinitionId eq '{}'", quote(&role.directory_id)),
                    ),
                ),
                RoleKind::Group => (
                    Audience::Graph,
                    filter_url(
                        self.client.graph("identityGovernance/privilegedAccess/group/assignmentScheduleInstances"),
                        &format!("groupId eq '{}'", quote(&role.directory_id)),
                    ),
                ),
                RoleKind::AzureRole => (
                    Audience::Arm,
                    filter_url(
                        self.client.arm(&format!(
                            "{}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version={ARM_API_VERSION}",
                            arm_scope(role)
                        )),
                        "atScope()",
                    ),
                ),
            };
            let items =
                self.client.get_all(audience, &url).await.map_err(|e| internal("listing assignments", e))?;
            let scope = if role.scope.trim().is_empty() { "/" } else { role.scope.as_str() };
            for i in items.iter().filter(|i| matches_role(role, scope, i)) {
                out.push(DirectoryAssignment {
                    role: role.key.clone(),
                    principal_id: text(i, "principalId").to_owned(),
                    starts_at: time(i, "startDateTime"),
                    ends_at: time(i, "endDateTime"),
                    assignment_type: text(i, "assignmentType").to_owned(),
                });
            }
        }
        Ok(out)
    }
}

/// Whether a listed assignment instance is of `role` (the filters are not all exact).
fn matches_role(role: &Role, scope: &str, i: &Value) -> bool {
    match role.kind {
        RoleKind::EntraRole => {
            text(i, "roleDefinitionId").eq_ignore_ascii_case(&role.directory_id)
                && same_scope(text(i, "directoryScopeId"), scope)
        }
        RoleKind::Group => {
            text(i, "groupId").eq_ignore_ascii_case(&role.directory_id)
                && matches!(text(i, "accessId"), "" | "member")
        }
        RoleKind::AzureRole => {
            arm_definition_matches(role, text(i, "roleDefinitionId")) && same_scope(text(i, "scope"), scope)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_found_case_insensitively_and_inside_properties() {
        let arm = json!({"Properties": {"PrincipalId": "p1"}, "name": "n"});
        assert_eq!(text(&arm, "principalId"), "p1");
        assert_eq!(text(&json!({"principalId": "p2"}), "PRINCIPALID"), "p2");
        assert_eq!(text(&json!({}), "x"), "");
    }

    #[test]
    fn scopes_compare_and_nest() {
        assert!(same_scope("/", ""));
        assert!(same_scope("/subscriptions/S1", "subscriptions/s1/"));
        assert!(within("/subscriptions/s1/resourceGroups/rg", "/subscriptions/s1"));
        assert!(!within("/subscriptions/s10", "/subscriptions/s1"));
    }

    #[test]
    fn instances_respect_their_window() {
        let now = Utc::now();
        let past = (now - chrono::Duration::hours(1)).to_rfc3339();
        assert!(in_effect(&json!({"startDateTime": null, "endDateTime": null}), now));
        assert!(!in_effect(&json!({"endDateTime": past}), now));
        assert!(filter_url("http://x/a".into(), "principalId eq 'o'").starts_with("http://x/a?%24filter="));
    }
}
