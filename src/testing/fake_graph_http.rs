//! The HTTP side of [`super::FakeGraph`]: one fallback handler that records every call and
//! routes it to the token endpoint, Graph (directory roles, groups, users) or ARM, with the
//! injected failures applied first.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::fake_graph::{
    FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_TENANT, GraphCall, GraphFault, Inner, Shared, lock,
};
use super::fake_graph_state::{FakeKind, apply, passes, read_ask};

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"date": "2026-01-01T00:00:00", "request-id": "fake", "client-request-id": "fake"}}});
    (status, axum::Json(body)).into_response()
}

/// Records and answers one request.
pub(super) async fn handle(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Token requests are answered at once and not counted as calls in flight.
    let counted = !path.starts_with("/login/");
    let (response, delay) = {
        let mut state = lock(&inner);
        if !counted {
            (token(&mut state, &path, &body), std::time::Duration::ZERO)
        } else {
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
            (route(&mut state, &method, &path, &query, &headers, &json_body), state.delay)
        }
    };
    let call = GraphCall {
        method: method.to_string(),
        path,
        query,
        body: json_body,
        status: response.status().as_u16(),
    };
    lock(&inner).calls.push(call);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if counted {
        lock(&inner).in_flight -= 1;
    }
    response
}

fn token(state: &mut Inner, path: &str, body: &[u8]) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let expected = format!("/login/{FAKE_TENANT}/oauth2/v2.0/token");
    if path != expected || field("grant_type") != "client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request", "error_description": "AADSTS900144: bad request"})),
        )
            .into_response();
    }
    let registration = super::fake_client_auth::Registration {
        client_id: FAKE_CLIENT_ID.into(),
        secret: Some(FAKE_CLIENT_SECRET.into()),
        certificate: true,
        federated: true,
    };
    let token_url = format!("{}{path}", state.base);
    let auth = match super::fake_client_auth::authenticate(
        &form,
        &token_url,
        &registration,
        chrono::Utc::now(),
        &mut state.seen_jtis,
    ) {
        Ok(auth) => auth,
        Err((status, body)) => {
            return (StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), axum::Json(body))
                .into_response();
        }
    };
    let audience = match field("scope") {
        "https://graph.microsoft.com/.default" => "graph",
        "https://management.azure.com/.default" => "arm",
        _ => {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for the input parameter 'scope' is not valid."}))).into_response();
        }
    };
    state.issued += 1;
    state.token_auths.push(auth);
    let access_token = format!("fake-{audience}-token-{}", state.issued);
    state.tokens.insert(access_token.clone(), audience);
    axum::Json(json!({"token_type": "Bearer", "expires_in": state.token_lifetime,
        "ext_expires_in": state.token_lifetime, "access_token": access_token}))
    .into_response()
}

fn route(
    state: &mut Inner,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Value,
) -> Response {
    let (audience, rest) = if let Some(rest) = path.strip_prefix("/graph/v1.0/") {
        ("graph", rest)
    } else if let Some(rest) = path.strip_prefix("/arm/") {
        ("arm", rest)
    } else {
        return graph_error(StatusCode::NOT_FOUND, "NotFound", "no such endpoint");
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer.is_some_and(|t| !state.revoked.contains(t) && state.tokens.get(t) == Some(&audience));
    if !valid {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        );
    }
    if state.denied.iter().any(|d| rest.starts_with(d.trim_start_matches('/'))) {
        return if audience == "arm" {
            graph_error(
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                "The client does not have authorization to perform action 'Microsoft.Authorization/roleAssignmentScheduleInstances/read' over scope.",
            )
        } else {
            graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        };
    }
    if let Some(fault) = take_fault(state) {
        return match fault {
            GraphFault::Throttle(secs) => {
                let mut r = graph_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Too many requests. Please try again later.",
                );
                r.headers_mut().insert(header::RETRY_AFTER, secs.into());
                r
            }
            GraphFault::Unavailable => graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            ),
            GraphFault::TokenExpired => {
                let issued: Vec<String> = state.tokens.keys().cloned().collect();
                state.revoked.extend(issued);
                graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                )
            }
            GraphFault::Exists => graph_error(
                StatusCode::BAD_REQUEST,
                "RoleAssignmentExists",
                "The Role assignment already exists.",
            ),
        };
    }
    let given = query.iter().find(|(k, _)| k == "$filter").map(|(_, v)| v.as_str());
    let filter = given.filter(|_| !state.ignore_filters);
    if audience == "arm" {
        return arm(state, method, rest, filter, body);
    }
    match (method.as_str(), rest) {
        ("POST", "roleManagement/directory/roleAssignmentScheduleRequests") => {
            create(state, FakeKind::Entra, body, "", false)
        }
        ("POST", "identityGovernance/privilegedAccess/group/assignmentScheduleRequests") => {
            create(state, FakeKind::Group, body, "", false)
        }
        ("POST", "roleManagement/directory/roleEligibilityScheduleRequests") => {
            create(state, FakeKind::Entra, body, "", true)
        }
        ("POST", "identityGovernance/privilegedAccess/group/eligibilityScheduleRequests") => {
            create(state, FakeKind::Group, body, "", true)
        }
        ("GET", "roleManagement/directory/roleAssignmentScheduleInstances") => {
            list(state, FakeKind::Entra, false, filter, "")
        }
        ("GET", "roleManagement/directory/roleEligibilityScheduleInstances") => {
            list(state, FakeKind::Entra, true, filter, "")
        }
        (
            "GET",
            "identityGovernance/privilegedAccess/group/assignmentScheduleInstances"
            | "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
        ) => {
            if given.is_none() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "A $filter on groupId or principalId is required.",
                );
            }
            list(state, FakeKind::Group, rest.ends_with("eligibilityScheduleInstances"), filter, "")
        }
        ("GET", member_of)
            if member_of.starts_with("users/") && member_of.ends_with("/transitiveMemberOf") =>
        {
            let id = &member_of["users/".len()..member_of.len() - "/transitiveMemberOf".len()];
            let value: Vec<Value> = state
                .members
                .iter()
                .filter(|(user, _)| user.eq_ignore_ascii_case(id))
                .map(|(_, group)| json!({"@odata.type": "#microsoft.graph.group", "id": group}))
                .collect();
            axum::Json(json!({"value": value})).into_response()
        }
        ("GET", users) if users.starts_with("users/") => user(state, &users["users/".len()..]),
        ("GET", "users") => {
            let value: Vec<Value> = state.users.iter().map(|u| json!({"id": u.id})).collect();
            axum::Json(json!({"value": value})).into_response()
        }
        ("GET", "auditLogs/signIns") => axum::Json(json!({"value": []})).into_response(),
        _ => graph_error(StatusCode::NOT_FOUND, "NotFound", "no such endpoint"),
    }
}

fn take_fault(state: &mut Inner) -> Option<GraphFault> {
    let (remaining, fault) = state.faults.front_mut()?;
    let fault = fault.clone();
    *remaining = remaining.saturating_sub(1);
    if *remaining == 0 {
        state.faults.pop_front();
    }
    Some(fault)
}

fn create(state: &mut Inner, kind: FakeKind, body: &Value, arm_scope: &str, eligibility: bool) -> Response {
    let ask = match read_ask(kind, body, arm_scope) {
        Ok(a) => a,
        Err((code, message)) => return graph_error(StatusCode::BAD_REQUEST, &code, &message),
    };
    let target = if eligibility { &mut state.eligibilities } else { &mut state.assignments };
    match apply(target, &ask) {
        Ok(status) => {
            state.next_id += 1;
            let mut echo = body.clone();
            if let Some(obj) = echo.as_object_mut() {
                obj.insert("id".into(), json!(format!("req-{}", state.next_id)));
                obj.insert("status".into(), json!(status));
            }
            (StatusCode::CREATED, axum::Json(echo)).into_response()
        }
        Err((code, message)) => graph_error(StatusCode::BAD_REQUEST, &code, &message),
    }
}

fn list(state: &Inner, kind: FakeKind, eligibility: bool, filter: Option<&str>, scope: &str) -> Response {
    let source = if eligibility { &state.eligibilities } else { &state.assignments };
    let value: Vec<Value> = source
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == kind && filter.is_none_or(|f| passes(f, a, scope)))
        .map(|(i, a)| a.to_json(i))
        .collect();
    axum::Json(json!({"value": value})).into_response()
}

fn arm(state: &mut Inner, method: &Method, rest: &str, filter: Option<&str>, body: &Value) -> Response {
    let lower = rest.to_ascii_lowercase();
    let marker = "/providers/microsoft.authorization/";
    let Some(at) = lower.find(marker) else {
        return graph_error(StatusCode::NOT_FOUND, "InvalidResourceType", "no such resource type");
    };
    let scope = format!("/{}", &rest[..at]);
    let tail = &lower[at + marker.len()..];
    match (method.as_str(), tail.split_once('/')) {
        (
            "PUT",
            Some((kind @ ("roleassignmentschedulerequests" | "roleeligibilityschedulerequests"), name)),
        ) => {
            if let Some(previous) = state.arm_requests.get(name) {
                return (StatusCode::CREATED, axum::Json(previous.clone())).into_response();
            }
            let eligibility = kind == "roleeligibilityschedulerequests";
            let response = create(state, FakeKind::Arm, body, &scope, eligibility);
            if response.status() == StatusCode::CREATED {
                let stored = json!({"name": name, "properties": body.get("properties").or_else(|| body.get("Properties")).cloned().unwrap_or(Value::Null)});
                state.arm_requests.insert(name.to_owned(), stored);
            }
            response
        }
        ("GET", None) if tail == "roleassignmentscheduleinstances" => {
            list(state, FakeKind::Arm, false, filter, &scope)
        }
        ("GET", None) if tail == "roleeligibilityscheduleinstances" => {
            list(state, FakeKind::Arm, true, filter, &scope)
        }
        _ => graph_error(StatusCode::NOT_FOUND, "InvalidResourceType", "no such resource type"),
    }
}

fn user(state: &Inner, upn: &str) -> Response {
    match state.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn) || u.id.eq_ignore_ascii_case(upn)) {
        Some(u) => axum::Json(
            json!({"id": u.id, "userPrincipalName": u.upn, "mail": u.mail, "accountEnabled": u.enabled}),
        )
        .into_response(),
        None => graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource does not exist."),
    }
}
