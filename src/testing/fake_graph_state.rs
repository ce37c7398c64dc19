//! The model behind [`super::FakeGraph`]: in-memory assignments and eligibilities of all three
//! kinds, how PIM schedule requests change them, and how list endpoints answer. Request bodies
//! are read case-insensitively (both enum casings, ARM `Properties`/`properties`); answers use
//! the documented camelCase shapes.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Which API an assignment or eligibility belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    /// Entra directory role (Graph `roleManagement/directory`).
    Entra,
    /// PIM for Groups membership.
    Group,
    /// Azure resource role (ARM).
    Arm,
}

/// One active assignment or eligibility held by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAssignment {
    /// API.
    pub kind: FakeKind,
    /// Holder's object id.
    pub principal_id: String,
    /// `roleDefinitionId` (ARM: full resource id) or `groupId`.
    pub definition_id: String,
    /// `directoryScopeId` (`/`) or ARM scope (`/subscriptions/…`); empty for groups.
    pub scope: String,
    /// Start (`None`: permanent).
    pub start: Option<DateTime<Utc>>,
    /// End (`None`: permanent).
    pub end: Option<DateTime<Utc>>,
    /// `Assigned` or `Activated`.
    pub assignment_type: String,
}

impl FakeAssignment {
    /// A permanent, standing assignment (or eligibility).
    pub fn standing(kind: FakeKind, principal: &str, definition: &str, scope: &str) -> Self {
        Self {
            kind,
            principal_id: principal.into(),
            definition_id: definition.into(),
            scope: scope.into(),
            start: None,
            end: None,
            assignment_type: "Assigned".into(),
        }
    }

    fn same_target(&self, other: &FakeAssignment) -> bool {
        self.kind == other.kind
            && self.principal_id.eq_ignore_ascii_case(&other.principal_id)
            && self.definition_id.eq_ignore_ascii_case(&other.definition_id)
            && norm(&self.scope) == norm(&other.scope)
    }

    /// The list-item JSON of this instance.
    pub fn to_json(&self, id: usize) -> Value {
        let ts = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        match self.kind {
            FakeKind::Entra => json!({
                "id": format!("inst-{id}"), "principalId": self.principal_id,
                "roleDefinitionId": self.definition_id, "directoryScopeId": self.scope, "appScopeId": null,
                "startDateTime": ts(self.start), "endDateTime": ts(self.end),
                "assignmentType": self.assignment_type, "memberType": "Direct",
            }),
            FakeKind::Group => json!({
                "id": format!("{}_member_{id}", self.definition_id), "principalId": self.principal_id,
                "groupId": self.definition_id, "accessId": "member",
                "startDateTime": ts(self.start), "endDateTime": ts(self.end),
                "assignmentType": self.assignment_type, "memberType": "Direct",
            }),
            FakeKind::Arm => json!({
                "properties": {
                    "scope": self.scope, "roleDefinitionId": self.definition_id,
                    "principalId": self.principal_id, "principalType": "User", "status": "Provisioned",
                    "startDateTime": ts(self.start), "endDateTime": ts(self.end),
                    "assignmentType": self.assignment_type, "memberType": "Direct",
                },
                "name": format!("inst-{id}"),
                "id": format!("{}/providers/Microsoft.Authorization/RoleAssignmentScheduleInstances/inst-{id}", self.scope),
                "type": "Microsoft.Authorization/RoleAssignmentScheduleInstances",
            }),
        }
    }
}

/// Lower-case scope without surrounding `/`.
pub fn norm(scope: &str) -> String {
    scope.trim().trim_matches('/').to_ascii_lowercase()
}

/// A property by name, case-insensitively (and inside ARM `properties`).
pub fn get<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    if let Some((_, x)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return Some(x);
    }
    let props = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("properties"))?.1;
    props.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, x)| x)
}

/// A string property, case-insensitively.
pub fn get_str<'v>(v: &'v Value, name: &str) -> &'v str {
    get(v, name).and_then(Value::as_str).unwrap_or_default()
}

/// Parses the ISO-8601 durations PIM uses (`PT2H`, `PT1H45M`, `P1D`, `PT90S`).
pub fn parse_iso_duration(s: &str) -> Option<Duration> {
    let s = s.trim().strip_prefix(['P', 'p'])?;
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, t),
        None => (s, ""),
    };
    let mut total = Duration::zero();
    let mut parse = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let secs = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&c))?.1;
                total += Duration::seconds(num.parse::<i64>().ok()? * secs);
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    parse(date, &[('D', 86_400), ('W', 604_800)])?;
    parse(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    Some(total)
}

/// What a create-request asked for, normalised.
#[derive(Debug, Clone)]
pub struct Ask {
    /// Lower-case action (`adminassign`).
    pub action: String,
    /// The target.
    pub target: FakeAssignment,
}

/// Reads a create-request body into an [`Ask`]; `Err` is the 400 error code and message.
pub fn read_ask(kind: FakeKind, body: &Value, arm_scope: &str) -> Result<Ask, (String, String)> {
    let action = match kind {
        FakeKind::Arm => get_str(body, "requestType"),
        _ => get_str(body, "action"),
    }
    .to_ascii_lowercase();
    let principal = get_str(body, "principalId");
    let (definition, scope) = match kind {
        FakeKind::Entra => (get_str(body, "roleDefinitionId"), get_str(body, "directoryScopeId").to_owned()),
        FakeKind::Group => {
            let access = get_str(body, "accessId");
            if !access.eq_ignore_ascii_case("member") && !access.eq_ignore_ascii_case("owner") {
                return Err(bad("accessId must be member or owner"));
            }
            (get_str(body, "groupId"), String::new())
        }
        FakeKind::Arm => (get_str(body, "roleDefinitionId"), format!("/{}", arm_scope.trim_matches('/'))),
    };
    if action.is_empty() || principal.is_empty() || definition.is_empty() {
        return Err(bad("action, principalId and the role or group id are required"));
    }
    let (start, end) = schedule(body, &action)?;
    Ok(Ask {
        action,
        target: FakeAssignment {
            kind,
            principal_id: principal.into(),
            definition_id: definition.into(),
            scope,
            start,
            end,
            assignment_type: "Assigned".into(),
        },
    })
}

fn bad(message: &str) -> (String, String) {
    ("BadRequest".into(), message.into())
}

type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn schedule(body: &Value, action: &str) -> Result<Window, (String, String)> {
    let Some(info) = get(body, "scheduleInfo").filter(|v| !v.is_null()) else {
        if action.ends_with("remove") || action.ends_with("deactivate") {
            return Ok((None, None));
        }
        return Err(bad("scheduleInfo is required"));
    };
    let start = DateTime::parse_from_rfc3339(get_str(info, "startDateTime"))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let exp = get(info, "expiration").cloned().unwrap_or(Value::Null);
    let end = match get_str(&exp, "type").to_ascii_lowercase().as_str() {
        "afterduration" => {
            let d = parse_iso_duration(get_str(&exp, "duration")).ok_or_else(|| bad("invalid duration"))?;
            Some(start + d)
        }
        "afterdatetime" => {
            DateTime::parse_from_rfc3339(get_str(&exp, "endDateTime")).ok().map(|t| t.with_timezone(&Utc))
        }
        "noexpiration" => None,
        _ => return Err(bad("expiration.type must be afterDuration, afterDateTime or noExpiration")),
    };
    Ok((Some(start), end))
}

/// Applies an ask to `assignments`; answers the PIM request status or the 400 error.
pub fn apply(assignments: &mut Vec<FakeAssignment>, ask: &Ask) -> Result<&'static str, (String, String)> {
    let found = assignments.iter().position(|a| a.same_target(&ask.target));
    match (ask.action.as_str(), found) {
        ("adminassign" | "selfactivate", Some(_)) => {
            Err(("RoleAssignmentExists".into(), "The Role assignment already exists.".into()))
        }
        ("adminassign" | "selfactivate", None) => {
            assignments.push(ask.target.clone());
            Ok("Provisioned")
        }
        ("adminextend" | "adminupdate" | "adminrenew", Some(i)) => {
            assignments[i].start = ask.target.start;
            assignments[i].end = ask.target.end;
            Ok("Provisioned")
        }
        ("adminremove" | "selfdeactivate", Some(i)) => {
            assignments.remove(i);
            Ok("Revoked")
        }
        ("adminextend" | "adminupdate" | "adminrenew" | "adminremove" | "selfdeactivate", None) => {
            Err(("RoleAssignmentDoesNotExist".into(), "The Role assignment does not exist.".into()))
        }
        _ => Err(bad("unknown action")),
    }
}

/// Whether a list item passes an OData filter of the forms the bot sends:
/// `field eq 'value'` (joined by `and`), `assignedTo('id')` and `atScope()`.
pub fn passes(filter: &str, item: &FakeAssignment, list_scope: &str) -> bool {
    filter.split(" and ").all(|clause| {
        let clause = clause.trim();
        if clause.eq_ignore_ascii_case("atScope()") {
            let (at, mine) = (norm(list_scope), norm(&item.scope));
            return at == mine || at.starts_with(&format!("{mine}/")) || mine.is_empty();
        }
        if let Some(rest) = clause.strip_prefix("assignedTo('") {
            return rest.trim_end_matches("')").eq_ignore_ascii_case(&item.principal_id);
        }
        let Some((field, value)) = clause.split_once(" eq ") else { return false };
        let value = value.trim().trim_matches('\'');
        let actual = match field.trim().to_ascii_lowercase().as_str() {
            "principalid" => &item.principal_id,
            "roledefinitionid" | "groupid" => &item.definition_id,
            "directoryscopeid" => &item.scope,
            "assignmenttype" => &item.assignment_type,
            _ => return false,
        };
        actual.eq_ignore_ascii_case(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse() {
        assert_eq!(parse_iso_duration("PT2H"), Some(Duration::hours(2)));
        assert_eq!(parse_iso_duration("PT1H45M"), Some(Duration::minutes(105)));
        assert_eq!(parse_iso_duration("P1DT1S"), Some(Duration::seconds(86_401)));
        assert_eq!(parse_iso_duration("2H"), None);
    }

    #[test]
    fn both_casings_are_read() {
        let body = json!({"Properties": {"PrincipalId": "p", "RoleDefinitionId": "/x/roleDefinitions/r",
            "RequestType": "AdminAssign", "ScheduleInfo": {"StartDateTime": "2026-01-01T00:00:00Z",
            "Expiration": {"Type": "AfterDuration", "Duration": "PT1H"}}}});
        let ask = read_ask(FakeKind::Arm, &body, "subscriptions/s").expect("reads");
        assert_eq!(ask.action, "adminassign");
        assert_eq!(ask.target.scope, "/subscriptions/s");
        let mut all = Vec::new();
        assert_eq!(apply(&mut all, &ask), Ok("Provisioned"));
        assert!(apply(&mut all, &ask).is_err());
        assert!(passes("assignedTo('P')", &all[0], "/subscriptions/s"));
        assert!(passes("atScope()", &all[0], "/subscriptions/s/resourceGroups/x"));
    }
}
