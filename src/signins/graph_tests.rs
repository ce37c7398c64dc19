//! Tests of the Graph sign-in source against a local fake Graph serving the documented sample.

use std::sync::Mutex as StdMutex;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;

struct FixedToken;

#[async_trait]
impl BearerToken for FixedToken {
    async fn token(&self) -> anyhow::Result<String> {
        Ok("graph-token".into())
    }
}

fn sample() -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
        "value": [{
            "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
            "createdDateTime": "2020-03-13T19:15:41.6195833Z",
            "userDisplayName": "Test Contoso",
            "userPrincipalName": "testaccount1@contoso.com",
            "userId": "26be570a-ae82-4189-b4e2-a37c6808512d",
            "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
            "appDisplayName": "Graph explorer",
            "ipAddress": "131.107.159.37",
            "clientAppUsed": "Browser",
            "conditionalAccessStatus": "notApplied",
            "isInteractive": true,
            "status": {"errorCode": 0, "failureReason": null, "additionalDetails": null},
            "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US",
                         "geoCoordinates": {"altitude": null, "latitude": 47.68, "longitude": -122.12}},
            "appliedConditionalAccessPolicies": []
        }]
    })
}

type Seen = Arc<StdMutex<Vec<(String, String)>>>;

async fn signins(State(seen): State<Seen>, RawQuery(q): RawQuery, headers: HeaderMap) -> axum::Json<Value> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    seen.lock().unwrap_or_else(|e| e.into_inner()).push((q.unwrap_or_default(), auth));
    axum::Json(sample())
}

#[tokio::test]
async fn reads_the_documented_sign_in_with_the_documented_filter() {
    let seen: Seen = Arc::default();
    let app = Router::new().route("/v1.0/auditLogs/signIns", get(signins)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let source = GraphSignIns::new(&format!("http://{addr}/v1.0/"), Arc::new(FixedToken)).expect("client");
    let account = BreakGlass {
        upn: "testaccount1@contoso.com".into(),
        object_id: Some("26be570a-ae82-4189-b4e2-a37c6808512d".into()),
    };
    let since = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).single().expect("valid");
    let got = source.sign_ins(&account, since).await.expect("sign-ins");
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(s.signin_id, "signin:66ea54eb-6301-4ee5-be62-ff5a759b0100");
    assert!(s.succeeded);
    assert_eq!(s.location.as_deref(), Some("Redmond, Washington, US"));
    assert_eq!(s.app.as_deref(), Some("Graph explorer"));

    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let (query, auth) = &seen[0];
    assert_eq!(auth, "Bearer graph-token");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("query");
    assert!(pairs.contains(&(
        "$filter".into(),
        "userId eq '26be570a-ae82-4189-b4e2-a37c6808512d' and createdDateTime ge 2024-05-01T09:00:00Z".into()
    )));
    assert!(pairs.contains(&("$top".into(), "100".into())));
}

#[test]
fn failed_sign_ins_and_upn_filters() {
    let mut dto: SignInDto = serde_json::from_value(sample()["value"][0].clone()).expect("dto");
    dto.status = Some(StatusDto { error_code: Some(50126) });
    assert!(!dto.into_signin().succeeded);
    let account = BreakGlass { upn: "o'brien@contoso.com".into(), object_id: None };
    let since = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).single().expect("valid");
    assert_eq!(
        filter(&account, since),
        "userPrincipalName eq 'o''brien@contoso.com' and createdDateTime ge 2024-05-01T09:00:00Z"
    );
}
