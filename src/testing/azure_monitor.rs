//! Azure Monitor webhook bodies for the break-glass tests, the demo and the benchmark: the
//! documented Log Alerts V2 common-alert-schema sample (wire-formats §5.2) with the values a
//! break-glass rule would carry (a `SigninLogs` query split on `UserPrincipalName` and
//! `IPAddress`).

use serde_json::{Value, json};

/// A Log Alerts V2 notification for a sign-in by `upn` from `ip`; `condition` is `Fired` or
/// `Resolved`, `alert_id` the GUID at the end of `essentials.alertId`.
pub fn log_alert_v2(condition: &str, upn: &str, ip: &str, alert_id: &str) -> Value {
    let resolved = (condition == "Resolved").then_some("2020-07-09T14:15:12.3524561Z");
    let mut essentials = json!({
        "alertId": format!("/subscriptions/12345a-1234b-123c-123d-12345678e/providers/Microsoft.AlertsManagement/alerts/{alert_id}"),
        "alertRule": "break-glass-sign-in",
        "severity": "Sev0",
        "signalType": "Log",
        "monitorCondition": condition,
        "monitoringService": "Log Alerts V2",
        "alertTargetIDs": [
            "/subscriptions/12345a-1234b-123c-123d-12345678e/resourcegroups/security/providers/microsoft.operationalinsights/workspaces/sign-ins"
        ],
        "originAlertId": "123c123d-1a23-1bf3-ba1d-dd1234ff5a67",
        "firedDateTime": "2020-07-09T14:04:49.99645Z",
        "description": "Any sign-in by a break-glass account",
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0"
    });
    if let (Some(at), Some(map)) = (resolved, essentials.as_object_mut()) {
        map.insert("resolvedDateTime".into(), json!(at));
    }
    json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": essentials,
            "alertContext": {
                "properties": {},
                "conditionType": "LogQueryCriteria",
                "condition": {
                    "windowSize": "PT5M",
                    "allOf": [{
                        "searchQuery": format!("SigninLogs | where UserPrincipalName in~ (\"{upn}\")"),
                        "metricMeasureColumn": null,
                        "targetResourceTypes": "['Microsoft.OperationalInsights/workspaces']",
                        "operator": "GreaterThan",
                        "threshold": "0",
                        "timeAggregation": "Count",
                        "dimensions": [
                            {"name": "UserPrincipalName", "value": upn},
                            {"name": "IPAddress", "value": ip}
                        ],
                        "metricValue": 1.0,
                        "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
                        "linkToSearchResultsUI": "https://portal.azure.com#@12f345bf-12f3-12af-12ab-1d2cd345db67/blade/Microsoft_Azure_Monitoring_Logs/LogsBlade",
                        "linkToFilteredSearchResultsUI": "https://portal.azure.com#@12f345bf-12f3-12af-12ab-1d2cd345db67/blade/Microsoft_Azure_Monitoring_Logs/LogsBlade",
                        "linkToSearchResultsAPI": "https://api.loganalytics.io/v1/workspaces/sign-ins/query?query=SigninLogs",
                        "linkToFilteredSearchResultsAPI": "https://api.loganalytics.io/v1/workspaces/sign-ins/query?query=SigninLogs"
                    }],
                    "windowStartTime": "2020-07-09T13:59:34Z",
                    "windowEndTime": "2020-07-09T14:04:34Z"
                }
            }
        }
    })
}

/// Adds a dimension (`ResultType`, `AppDisplayName`, …) to every condition of a notification.
pub fn with_dimension(mut body: Value, name: &str, value: &str) -> Value {
    if let Some(all) = body.pointer_mut("/data/alertContext/condition/allOf").and_then(Value::as_array_mut) {
        for condition in all {
            if let Some(dims) = condition.get_mut("dimensions").and_then(Value::as_array_mut) {
                dims.push(json!({"name": name, "value": value}));
            }
        }
    }
    body
}

/// A fired notification whose `alertContext.SearchResults` table lists one sign-in per row
/// (`UserPrincipalName`, `TimeGenerated`, `IPAddress`, `AppDisplayName`, `ResultType`; no `Id`
/// column, as a query that does not project it), and whose condition names no account: the
/// shape a rule sends when one evaluation window caught many sign-ins.
pub fn search_results(alert_id: &str, rows: &[(String, String, String, String)]) -> Value {
    let mut body = log_alert_v2("Fired", "", "", alert_id);
    if let Some(all) = body.pointer_mut("/data/alertContext/condition/allOf").and_then(Value::as_array_mut) {
        for condition in all {
            condition["dimensions"] = json!([]);
        }
    }
    let columns = ["TimeGenerated", "UserPrincipalName", "IPAddress", "AppDisplayName", "ResultType"];
    let table = json!({
        "name": "PrimaryResult",
        "columns": columns.iter().map(|c| json!({"name": c, "type": "string"})).collect::<Vec<_>>(),
        "rows": rows.iter().map(|(upn, at, ip, app)| json!([at, upn, ip, app, "0"])).collect::<Vec<_>>(),
    });
    body["data"]["alertContext"]["SearchResults"] = json!({"tables": [table]});
    body
}
