//! The viewer's session: a signed cookie holding the person id and the session's end. The
//! signature (HMAC-SHA256 by the `cookie` crate's signed jar) makes it tamper-proof; it holds
//! nothing secret. Every request re-checks the end against pimbot's clock and the person
//! against the current `[ui] viewers`, so a policy reload that removes a viewer ends their
//! access at once.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use cookie::{Cookie, CookieJar, SameSite};

use super::{COOKIE, ROOT, SESSION_TTL, UiState};
use crate::core::ids::PersonId;
use crate::core::policy::Policy;

/// A signed-in viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Who.
    pub person: PersonId,
    /// When the session ends.
    pub until: DateTime<Utc>,
}

/// The cookie value (before signing): `v1:<end, unix seconds>:<person id>`.
fn encode(viewer: &Viewer) -> String {
    format!("v1:{}:{}", viewer.until.timestamp(), viewer.person)
}

fn decode(value: &str) -> Option<Viewer> {
    let mut parts = value.splitn(3, ':');
    if parts.next()? != "v1" {
        return None;
    }
    let until = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
    let person = parts.next().filter(|p| !p.is_empty())?;
    Some(Viewer { person: PersonId::from(person), until })
}

/// The `Set-Cookie` value that starts a session for `person` at `now`.
pub fn start(ui: &UiState, person: &PersonId, now: DateTime<Utc>) -> HeaderValue {
    let viewer = Viewer { person: person.clone(), until: now + SESSION_TTL };
    let mut jar = CookieJar::new();
    let cookie = Cookie::build((COOKIE, encode(&viewer)))
        .path(ROOT)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(SESSION_TTL.num_seconds()))
        .build();
    jar.signed_mut(ui.key()).add(cookie);
    set_cookie(&jar)
}

/// The `Set-Cookie` value that ends the session.
pub fn end() -> HeaderValue {
    let cookie = Cookie::build((COOKIE, ""))
        .path(ROOT)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn set_cookie(jar: &CookieJar) -> HeaderValue {
    let text = jar.delta().next().map(|c| c.encoded().to_string()).unwrap_or_default();
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cookie that remembers which page to return to after signing in (it must reach
/// `/auth/callback`, so its path is `/`; it lives as long as a sign-in state).
pub const NEXT_COOKIE: &str = "pimbot_ui_next";

/// Whether `path` is a page of the view (never another site: no `//`, no backslash, no
/// scheme), so returning to it cannot redirect anywhere else.
pub fn is_view_path(path: &str) -> bool {
    (path == ROOT || path.starts_with("/ui/") || path.starts_with("/ui?"))
        && !path.contains("//")
        && !path.contains('\\')
        && path.chars().all(|c| c.is_ascii_graphic())
}

fn plain_cookie(name: &str, value: &str, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&cookie.encoded().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Remembers `path` (a page of the view) for after the sign-in.
pub fn remember_page(path: &str) -> HeaderValue {
    let path = if is_view_path(path) { path } else { ROOT };
    plain_cookie(NEXT_COOKIE, path, crate::core::identity::LINK_TTL.num_seconds())
}

/// Forgets the remembered page.
pub fn forget_page() -> HeaderValue {
    plain_cookie(NEXT_COOKIE, "", 0)
}

/// The cookie that binds a sign-in to the browser that started it: it holds the state's id
/// (the SHA-256 of the value, as stored), so a callback opened in another browser (login
/// CSRF: someone else's finished sign-in pushed into a viewer's browser) gives no session.
pub const FLOW_COOKIE: &str = "pimbot_ui_flow";

/// Binds the sign-in with state id `state_id` to this browser.
pub fn bind_flow(state_id: &str) -> HeaderValue {
    plain_cookie(FLOW_COOKIE, state_id, crate::core::identity::LINK_TTL.num_seconds())
}

/// Ends the binding.
pub fn forget_flow() -> HeaderValue {
    plain_cookie(FLOW_COOKIE, "", 0)
}

/// Whether this browser started the sign-in with state id `state_id`.
pub fn started_here(headers: &HeaderMap, state_id: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    jar_of(headers)
        .get(FLOW_COOKIE)
        .is_some_and(|c| bool::from(c.value().as_bytes().ct_eq(state_id.as_bytes())))
}

/// The remembered page, if it is one of the view's.
pub fn remembered_page(headers: &HeaderMap) -> Option<String> {
    jar_of(headers).get(NEXT_COOKIE).map(|c| c.value().to_owned()).filter(|p| is_view_path(p))
}

fn jar_of(headers: &HeaderMap) -> CookieJar {
    let mut jar = CookieJar::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for c in Cookie::split_parse_encoded(text.to_owned()).flatten() {
            jar.add_original(c.into_owned());
        }
    }
    jar
}

/// Why a request has no usable session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// No cookie, a bad signature, or an ended session: sign in.
    SignIn,
    /// A genuine session of someone who is no longer a viewer.
    NotAViewer,
}

/// The viewer behind a request's cookies, checked against the clock and the policy.
pub fn viewer(
    ui: &UiState,
    headers: &HeaderMap,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Viewer, NoSession> {
    let jar = jar_of(headers);
    let cookie = jar.signed(ui.key()).get(COOKIE).ok_or(NoSession::SignIn)?;
    let viewer = decode(cookie.value()).ok_or(NoSession::SignIn)?;
    if viewer.until <= now {
        return Err(NoSession::SignIn);
    }
    if !is_viewer(policy, &viewer.person) {
        return Err(NoSession::NotAViewer);
    }
    Ok(viewer)
}

/// Whether `person` may see the view.
pub fn is_viewer(policy: &Policy, person: &PersonId) -> bool {
    policy.viewers.contains(person) && policy.person(person).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Person;

    fn policy() -> Policy {
        let person = |id: &str| Person {
            id: id.into(),
            upn: format!("{id}@contoso.com"),
            object_id: None,
            slack: None,
            discord: None,
            timezone: None,
        };
        Policy {
            people: vec![person("alice"), person("bob")],
            viewers: vec!["alice".into()],
            ..Policy::default()
        }
    }

    fn with_cookie(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().expect("ascii").split(';').next().expect("pair").to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {pair}")).expect("header"));
        headers
    }

    #[test]
    fn a_session_is_signed_http_only_secure_lax_and_short() {
        let ui = UiState::new(&super::super::UiParts { session_key: None, audit_ring: Default::default() });
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let set = start(&ui, &"alice".into(), now);
        let text = set.to_str().expect("ascii");
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/ui", "Max-Age=1800"] {
            assert!(text.contains(attr), "{attr} missing from {text}");
        }
        let headers = with_cookie(&set);
        assert_eq!(viewer(&ui, &headers, &policy(), now).map(|v| v.person), Ok("alice".into()));
        assert_eq!(viewer(&ui, &headers, &policy(), now + SESSION_TTL), Err(NoSession::SignIn));
        // Another process's key does not accept it.
        let other =
            UiState::new(&super::super::UiParts { session_key: None, audit_ring: Default::default() });
        assert_eq!(viewer(&other, &headers, &policy(), now), Err(NoSession::SignIn));
        // A viewer removed from the policy is refused on the next request.
        let mut reloaded = policy();
        reloaded.viewers.clear();
        assert_eq!(viewer(&ui, &headers, &reloaded, now), Err(NoSession::NotAViewer));
    }

    #[test]
    fn only_pages_of_the_view_are_remembered() {
        for ok in ["/ui", "/ui/history?kind=grant.&page=2", "/ui?x=1"] {
            assert!(is_view_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example/ui",
            "/ui//evil.example",
            "/uix",
            "https://evil.example/ui",
            "/ui/\\evil",
            "/ui/a b",
        ] {
            assert!(!is_view_path(bad), "{bad}");
        }
        let set = remember_page("//evil.example");
        assert!(set.to_str().expect("ascii").starts_with("pimbot_ui_next=%2Fui;"), "{set:?}");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("pimbot_ui_next=%2Fui%2Ftrends%3Fdays%3D7"));
        assert_eq!(remembered_page(&headers).as_deref(), Some("/ui/trends?days=7"));
    }

    #[test]
    fn a_tampered_cookie_is_refused() {
        let ui = UiState::new(&super::super::UiParts { session_key: None, audit_ring: Default::default() });
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let set = start(&ui, &"bob".into(), now);
        let forged = set.to_str().expect("ascii").replace("bob", "alice");
        let headers = with_cookie(&HeaderValue::from_str(&forged).expect("header"));
        assert_eq!(viewer(&ui, &headers, &policy(), now), Err(NoSession::SignIn));
        assert_eq!(viewer(&ui, &HeaderMap::new(), &policy(), now), Err(NoSession::SignIn));
        assert_eq!(decode("v1:12:"), None);
        assert_eq!(decode("v2:12:alice"), None);
    }
}
