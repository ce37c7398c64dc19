//! Lookup by email: `GET {graph_url}users/{upn}?$select=id,userPrincipalName,accountEnabled`
//! (needs the `User.Read.All` application permission). A 404 means there is no such account.

use anyhow::anyhow;
use reqwest::{Method, Url};
use serde_json::Value;

use super::{Audience, GraphClient};
use crate::core::error::{Error, Result};
use crate::core::ports::DirectoryUser;

/// The properties the lookup reads.
pub const USER_SELECT: &str = "id,userPrincipalName,accountEnabled";

/// The URL of one user, with `upn` as one escaped path segment; `None` for text that cannot
/// be a user principal name (no `@`, whitespace, control characters or `/`).
pub fn user_url(client: &GraphClient, upn: &str) -> Option<Url> {
    let plausible = upn.contains('@')
        && !upn.starts_with('@')
        && !upn.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\');
    if !plausible {
        return None;
    }
    let mut url = Url::parse(&client.graph("users/")).ok()?;
    url.path_segments_mut().ok()?.pop_if_empty().push(upn);
    url.query_pairs_mut().append_pair("$select", USER_SELECT);
    Some(url)
}

/// Reads a user answer; an account without `accountEnabled` counts as disabled.
pub fn parse_user(answer: &Value) -> Option<DirectoryUser> {
    let text = |k: &str| answer.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
    Some(DirectoryUser {
        object_id: text("id")?.to_owned(),
        upn: text("userPrincipalName")?.to_owned(),
        account_enabled: answer.get("accountEnabled").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Looks up one user; `Ok(None)` when Graph says there is none.
pub async fn lookup(client: &GraphClient, upn: &str) -> Result<Option<DirectoryUser>> {
    let Some(url) = user_url(client, upn) else { return Ok(None) };
    match client.send(Audience::Graph, Method::GET, url.as_str(), None).await {
        Ok(answer) => parse_user(&answer)
            .map(Some)
            .ok_or_else(|| Error::Internal(anyhow!("Graph answered a user without id or userPrincipalName"))),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(Error::Internal(anyhow!(e).context(format!("looking up the directory user {upn}")))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::directory::graph::{RetryPolicy, TokenProvider};

    fn client() -> GraphClient {
        let http = GraphClient::http(&RetryPolicy::default()).expect("http");
        let tokens = TokenProvider::new(
            http.clone(),
            "http://login/",
            "t",
            "c",
            crate::auth::credential::ClientCredential::Secret("s".to_owned().into()),
        );
        GraphClient::new(http, tokens, "https://graph.example/v1.0/", "https://arm/", RetryPolicy::default())
    }

    #[test]
    fn the_user_url_escapes_the_upn_and_selects_three_properties() {
        let c = client();
        let url = user_url(&c, "dave+pim@contoso.com").expect("url");
        assert_eq!(
            url.as_str(),
            "https://graph.example/v1.0/users/dave+pim@contoso.com?%24select=id%2CuserPrincipalName%2CaccountEnabled"
        );
        let odd = user_url(&c, "o'brien#x?y@contoso.com").expect("url");
        assert!(odd.path().ends_with("/users/o'brien%23x%3Fy@contoso.com"), "{odd}");
        for bad in ["", "dave", "@contoso.com", "a b@contoso.com", "../x@contoso.com/..", "a\\b@c"] {
            assert!(user_url(&c, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_user_answer_is_read_and_missing_enabled_means_disabled() {
        let u =
            parse_user(&json!({"id": "o1", "userPrincipalName": "dave@contoso.com", "accountEnabled": true}))
                .expect("user");
        assert_eq!(
            u,
            DirectoryUser { object_id: "o1".into(), upn: "dave@contoso.com".into(), account_enabled: true }
        );
        let d = parse_user(&json!({"id": "o1", "userPrincipalName": "dave@contoso.com"})).expect("user");
        assert!(!d.account_enabled);
        assert!(parse_user(&json!({"userPrincipalName": "dave@contoso.com"})).is_none());
    }
}
