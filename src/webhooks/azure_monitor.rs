//! Parses Azure Monitor's common alert schema (wire-formats §5.2) into core [`SignIn`]s.
//!
//! Two documented shapes carry the account: Log Alerts V2 (`monitoringService: "Log Alerts V2"`,
//! `alertContext.conditionType: "LogQueryCriteria"`) splits the `SigninLogs` query on
//! dimensions, so each `alertContext.condition.allOf[]` entry names one `UserPrincipalName`
//! (and `IPAddress`); the older Log Analytics alerts embed `alertContext.SearchResults.tables[]`
//! with `columns` and `rows`, one row per sign-in. Both are read; every column name is matched
//! case-insensitively against the `SigninLogs` names. Nothing here decides whether an account is
//! a break-glass account: that is `core::alarm`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::core::alarm::{SignIn, derived_signin_id, signin_key};

/// The only schema accepted.
pub const COMMON_ALERT_SCHEMA: &str = "azureMonitorCommonAlertSchema";

/// `essentials.monitorCondition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorCondition {
    /// The rule fired: raise.
    Fired,
    /// The rule resolved: Azure posts this too; it never raises a second alarm.
    Resolved,
    /// Anything else (kept for the log).
    Other(String),
}

/// What one notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Fired, resolved or other.
    pub condition: MonitorCondition,
    /// `essentials.alertRule`, for logs.
    pub rule: String,
    /// Sign-ins named by dimensions or search result rows (empty for a resolve).
    pub signins: Vec<SignIn>,
    /// Conditions or rows that named no account (the rule does not split on the UPN).
    pub unidentified: usize,
}

/// Why a body is not a usable notification (answered 400; Azure does not retry a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("body is not JSON: {0}")]
    Json(String),
    /// JSON, but not the common alert schema.
    #[error("not an Azure Monitor common alert schema payload: {0}")]
    Schema(&'static str),
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_owned()),
        other => Some(other.to_string()),
    }
}

/// Parses one webhook body.
pub fn parse(body: &[u8], now: DateTime<Utc>) -> Result<Notification, ParseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    if v.get("schemaId").and_then(Value::as_str) != Some(COMMON_ALERT_SCHEMA) {
        return Err(ParseError::Schema("schemaId must be \"azureMonitorCommonAlertSchema\""));
    }
    let essentials = v
        .pointer("/data/essentials")
        .filter(|e| e.is_object())
        .ok_or(ParseError::Schema("data.essentials is missing"))?;
    let condition = match essentials.get("monitorCondition").and_then(Value::as_str) {
        Some("Fired") => MonitorCondition::Fired,
        Some("Resolved") => MonitorCondition::Resolved,
        Some(other) => MonitorCondition::Other(other.to_owned()),
        None => return Err(ParseError::Schema("data.essentials.monitorCondition is missing")),
    };
    let rule = essentials.get("alertRule").and_then(text).unwrap_or_default();
    let mut out = Notification { condition, rule, signins: Vec::new(), unidentified: 0 };
    if out.condition != MonitorCondition::Fired {
        return Ok(out);
    }
    let fired = essentials.get("firedDateTime").and_then(text);
    let context = v.pointer("/data/alertContext").cloned().unwrap_or(Value::Null);
    for fields in candidates(&context) {
        match signin(&fields, fired.as_deref(), now) {
            Some(s) => out.signins.push(s),
            None => out.unidentified += 1,
        }
    }
    Ok(out)
}

/// Field maps (lower-case name → text) from dimensions and search result rows.
fn candidates(context: &Value) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    let conditions = context.pointer("/condition/allOf").and_then(Value::as_array);
    for condition in conditions.into_iter().flatten() {
        let dims = condition.get("dimensions").and_then(Value::as_array);
        let fields: HashMap<String, String> = dims
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d.get("name")?.as_str()?.to_lowercase(), text(d.get("value")?)?)))
            .collect();
        out.push(fields);
    }
    let tables = context
        .get("SearchResults")
        .or_else(|| context.get("searchResults"))
        .and_then(|s| s.get("tables"))
        .and_then(Value::as_array);
    for table in tables.into_iter().flatten() {
        let columns: Vec<String> = table
            .get("columns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| c.get("name").and_then(Value::as_str).unwrap_or_default().to_lowercase())
            .collect();
        for row in table.get("rows").and_then(Value::as_array).into_iter().flatten() {
            let cells = row.as_array().into_iter().flatten();
            out.push(columns.iter().cloned().zip(cells).filter_map(|(c, v)| Some((c, text(v)?))).collect());
        }
    }
    // A V2 condition split on the UPN and search rows of the same sign-ins would double up;
    // conditions without any account are only counted if nothing else named one.
    if out.iter().any(has_account) {
        out.retain(has_account);
    }
    out
}

fn has_account(fields: &HashMap<String, String>) -> bool {
    fields.contains_key("userprincipalname") || fields.contains_key("userid")
}

fn signin(f: &HashMap<String, String>, fired: Option<&str>, now: DateTime<Utc>) -> Option<SignIn> {
    let get = |names: &[&str]| names.iter().find_map(|n| f.get(*n).cloned());
    let upn = get(&["userprincipalname"]).unwrap_or_default();
    let object_id = get(&["userid"]);
    if upn.is_empty() && object_id.is_none() {
        return None;
    }
    let ip = get(&["ipaddress"]);
    let time_text = get(&["timegenerated", "createddatetime"]).or_else(|| fired.map(str::to_owned));
    let at = time_text
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&Utc));
    let signin_id = match get(&["id", "originalrequestid"]) {
        Some(id) => signin_key(&id),
        None => derived_signin_id(
            object_id.as_deref().unwrap_or(&upn),
            time_text.as_deref().unwrap_or_default(),
            ip.as_deref().unwrap_or_default(),
            get(&["appdisplayname"]).as_deref().unwrap_or_default(),
        ),
    };
    // SigninLogs.ResultType is "0" on success; without it, assume the louder case.
    let succeeded = get(&["resulttype", "errorcode"]).is_none_or(|r| r == "0");
    Some(SignIn {
        signin_id,
        upn,
        object_id,
        at,
        ip,
        location: get(&["location", "locationdetails"]),
        app: get(&["appdisplayname"]),
        client: get(&["clientappused"]),
        ca_status: get(&["conditionalaccessstatus"]),
        succeeded,
    })
}

#[cfg(test)]
#[path = "azure_monitor_tests.rs"]
mod tests;
