//! Tests of the common alert schema parser on the documented shapes.

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::testing::azure_monitor::{log_alert_v2, with_dimension};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("valid")
}

fn parse_json(v: &Value) -> Result<Notification, ParseError> {
    parse(v.to_string().as_bytes(), now())
}

#[test]
fn a_fired_v2_alert_names_the_account_and_ip_from_its_dimensions() {
    let n = parse_json(&log_alert_v2("Fired", "bg1@contoso.com", "203.0.113.7", "a1")).expect("parses");
    assert_eq!(n.condition, MonitorCondition::Fired);
    assert_eq!(n.signins.len(), 1);
    let s = &n.signins[0];
    assert_eq!((s.upn.as_str(), s.ip.as_deref()), ("bg1@contoso.com", Some("203.0.113.7")));
    assert!(s.succeeded, "no result column: assume the louder case");
    assert_eq!(
        s.at,
        Utc.with_ymd_and_hms(2020, 7, 9, 14, 4, 49).single().expect("valid")
            + chrono::Duration::microseconds(996450)
    );
    let again = parse_json(&log_alert_v2("Fired", "BG1@contoso.com", "203.0.113.7", "a1")).expect("parses");
    assert_eq!(again.signins[0].signin_id, s.signin_id, "a retry dedupes");
    let other = parse_json(&log_alert_v2("Fired", "bg1@contoso.com", "203.0.113.7", "a2")).expect("parses");
    assert_eq!(
        other.signins[0].signin_id, s.signin_id,
        "the same sign-in (account, time, IP, app) reported by another alert rule is the same sign-in"
    );
}

#[test]
fn resolved_notifications_name_nobody() {
    let n = parse_json(&log_alert_v2("Resolved", "bg1@contoso.com", "203.0.113.7", "a1")).expect("parses");
    assert_eq!(n.condition, MonitorCondition::Resolved);
    assert!(n.signins.is_empty());
}

#[test]
fn optional_dimensions_fill_in_the_details() {
    let body =
        with_dimension(log_alert_v2("Fired", "bg1@contoso.com", "1.2.3.4", "a1"), "ResultType", "50126");
    let body = with_dimension(body, "AppDisplayName", "Azure Portal");
    let body = with_dimension(body, "Id", "66ea54eb-6301-4ee5-be62-ff5a759b0100");
    let s = &parse_json(&body).expect("parses").signins[0];
    assert!(!s.succeeded);
    assert_eq!(s.app.as_deref(), Some("Azure Portal"));
    assert_eq!(s.signin_id, "signin:66ea54eb-6301-4ee5-be62-ff5a759b0100");
}

#[test]
fn the_documented_heartbeat_sample_names_no_account() {
    let mut body = log_alert_v2("Fired", "x", "y", "a1");
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] =
        json!([{"name": "ResourceId", "value": "/subscriptions/…/virtualMachines/testvm"}]);
    let n = parse_json(&body).expect("parses");
    assert!(n.signins.is_empty());
    assert_eq!(n.unidentified, 1);
}

#[test]
fn search_result_rows_are_read_one_sign_in_per_row() {
    let body = json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {"alertId": "/x/alerts/1", "alertRule": "bg", "monitorCondition": "Fired",
                           "monitoringService": "Log Analytics", "firedDateTime": "2024-05-01T09:05:00Z"},
            "alertContext": {
                "SearchQuery": "SigninLogs | where UserPrincipalName =~ 'bg1@contoso.com'",
                "ResultCount": 2,
                "SearchResults": {"tables": [{
                    "name": "PrimaryResult",
                    "columns": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "UserPrincipalName", "type": "string"},
                                {"name": "IPAddress", "type": "string"}, {"name": "ResultType", "type": "string"},
                                {"name": "Id", "type": "string"}],
                    "rows": [["2024-05-01T09:01:00Z", "bg1@contoso.com", "203.0.113.7", "0", "s-1"],
                             ["2024-05-01T09:02:00Z", "bg1@contoso.com", "203.0.113.8", "50126", "s-2"]]
                }]}
            }
        }
    });
    let n = parse_json(&body).expect("parses");
    assert_eq!(n.signins.len(), 2);
    assert!(n.signins[0].succeeded && !n.signins[1].succeeded);
    assert_eq!(n.signins[1].signin_id, "signin:s-2");
    assert_eq!(n.signins[0].at, Utc.with_ymd_and_hms(2024, 5, 1, 9, 1, 0).single().expect("valid"));
}

#[test]
fn malformed_bodies_are_refused() {
    assert!(matches!(parse(b"{not json", now()), Err(ParseError::Json(_))));
    assert!(matches!(parse_json(&json!({"schemaId": "other"})), Err(ParseError::Schema(_))));
    assert!(matches!(
        parse_json(&json!({"schemaId": COMMON_ALERT_SCHEMA, "data": {}})),
        Err(ParseError::Schema(_))
    ));
}
