//! Shared by the web view tests: a policy with `[oidc]`, `[ui]` and roles without MFA, a
//! browser stand-in that keeps the session cookie, and a seeded history.

use chrono::{Duration, TimeZone, Utc};
use pimbot::core::alarm::SignIn as BreakGlassSignIn;
use pimbot::core::ids::RequestId;
use pimbot::testing::Scenario;

use super::app::TestApp;
use super::db::TestDb;
use super::identity::idp;

/// carol is a viewer through `@auditors`, dave by name; alice and bob are not viewers.
pub const POLICY: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[slack]
signing_secret = "test-signing-secret"
bot_token = "xoxb-fake-pimbot-token"
approver_channel = "C0APPROVERS"
feed_channel = "C0FEED"
alert_channel = "C0ALERTS"

{oidc}

[ui]
viewers = ["@auditors", "dave"]

[[group]]
name = "auditors"
members = ["carol"]

[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "0a11ce00-0000-4000-8000-000000000001"
slack = "U0ALICE"
[[person]]
id = "bob"
upn = "bob@contoso.com"
slack = "U0BOB"
[[person]]
id = "carol"
upn = "carol@contoso.com"
object_id = "0ca20100-0000-4000-8000-000000000003"
slack = "U0CAROL"
[[person]]
id = "dave"
upn = "dave@contoso.com"
object_id = "0da7e000-0000-4000-8000-000000000004"
slack = "U0DAVE"

[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
require_mfa = false
approver_mfa = false
require_ticket = false
sla = "10m"
approvers = ["carol", "dave"]
eligible = ["alice", "bob"]

[[role]]
key = "user-admin"
name = "User Administrator"
kind = "entra-role"
directory_id = "fe930be7-5e62-47db-91af-98c3a49a38b1"
tier = "high"
require_mfa = false
approver_mfa = false
sla = "15m"
approvers = ["carol", "dave"]
eligible = ["alice", "bob"]

[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
tier = "standard"
eligible = ["alice", "bob"]

[[break_glass]]
upn = "bg1@contoso.com"
"#;

/// carol's and dave's directory accounts; alice's; bob's (not in the policy).
pub const CAROL_OID: &str = "0ca20100-0000-4000-8000-000000000003";
/// dave's.
pub const DAVE_OID: &str = "0da7e000-0000-4000-8000-000000000004";
/// alice's.
pub const ALICE_OID: &str = "0a11ce00-0000-4000-8000-000000000001";
/// bob's (the policy names no object id for bob).
pub const BOB_OID: &str = "0b0b0000-0000-4000-8000-000000000002";

/// Starts pimbot with [`POLICY`] on a clock set to Wednesday 2026-03-04 09:00 UTC.
pub async fn spawn(db: TestDb) -> TestApp {
    let app = TestApp::spawn_with(db, POLICY).await;
    app.clock.set(Utc.with_ymd_and_hms(2026, 3, 4, 9, 0, 0).single().expect("time"));
    app
}

/// The app's base URL.
pub fn base(app: &TestApp) -> String {
    format!("http://{}", app.running.addr)
}

/// A page as a browser got it.
#[derive(Debug, Clone)]
pub struct Page {
    /// Status.
    pub status: u16,
    /// `Location`, if any.
    pub location: Option<String>,
    /// `Set-Cookie` values.
    pub set_cookie: Vec<String>,
    /// Body.
    pub body: String,
    /// `Content-Type`.
    pub content_type: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// GETs `url` with `cookie` (a `name=value` pair), following no redirect.
pub async fn get(url: &str, cookie: Option<&str>) -> Page {
    let mut request = client().get(url);
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    let response = request.send().await.expect("GET");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let location = header("location");
    let content_type = header("content-type").unwrap_or_default();
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    Page {
        status: response.status().as_u16(),
        location,
        set_cookie,
        content_type,
        body: response.text().await.expect("body"),
    }
}

/// The outcome of a sign-in to the view.
#[derive(Debug, Clone)]
pub struct ViewSignIn {
    /// The callback's answer.
    pub page: Page,
    /// The provider's redirect back to pimbot.
    pub callback: String,
    /// `pimbot_ui=…` when a session was given.
    pub cookie: Option<String>,
    /// The cookies the browser held when it came back (the sign-in's flow and page).
    pub flow: Option<String>,
}

/// Opens `/ui` without a session and signs in at the fake provider as `scenario`.
pub async fn sign_in(app: &TestApp, scenario: Scenario) -> ViewSignIn {
    sign_in_from(app, "/ui", scenario).await
}

/// Opens `path` without a session and signs in at the fake provider as `scenario`, carrying
/// the cookie that remembers `path` back to the callback as a browser would.
pub async fn sign_in_from(app: &TestApp, path: &str, scenario: Scenario) -> ViewSignIn {
    let to_provider = get(&format!("{}{path}", base(app)), None).await;
    assert_eq!(to_provider.status, 302, "{to_provider:?}");
    let pairs: Vec<&str> = to_provider.set_cookie.iter().filter_map(|c| c.split(';').next()).collect();
    let next = (!pairs.is_empty()).then(|| pairs.join("; "));
    let authorize = to_provider.location.expect("redirect to the provider");
    idp(app).push(scenario);
    let back = get(&authorize, None).await;
    let callback = back.location.expect("the provider redirects back");
    let page = get(&callback, next.as_deref()).await;
    let cookie = page
        .set_cookie
        .iter()
        .find(|c| c.starts_with("pimbot_ui="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned());
    ViewSignIn { page, callback, cookie, flow: next }
}

/// carol's session.
pub async fn viewer_cookie(app: &TestApp) -> String {
    let signed = sign_in(app, Scenario::person(CAROL_OID, "carol@contoso.com")).await;
    assert_eq!(signed.page.status, 303, "{:?}", signed.page);
    signed.cookie.expect("a session cookie")
}

/// The text of the element carrying `data-figure="name"`.
pub fn figure(html: &str, name: &str) -> String {
    let marker = format!("data-figure=\"{name}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no figure {name} in page"));
    let rest = &html[at..];
    let start = rest.find('>').expect("tag end") + 1;
    let end = rest[start..].find('<').expect("text end");
    rest[start..start + end].trim().to_owned()
}

/// What [`seed`] made.
pub struct Seeded {
    /// bob's user-admin request (pending 25 minutes: past its 15-minute SLA).
    pub breached: RequestId,
    /// alice's global-admin request (pending 5 minutes, within its 10-minute SLA).
    pub within: RequestId,
}

/// A history on the 09:00 clock: bob asks for user-admin at 09:00; alice asks for
/// global-admin at 09:20; alice activates reader for 2h at 09:25 (no approval needed; active
/// until 11:25); a break-glass sign-in at 09:25 is raised and left open. The clock ends at 09:25.
pub async fn seed(app: &TestApp) -> Seeded {
    let (_, breached) = app.activate("U0BOB", "user-admin 1h rotate the service principal").await;
    app.advance(Duration::minutes(20));
    let (_, within) = app.activate("U0ALICE", "global-admin 1h tenant setting change").await;
    app.advance(Duration::minutes(5));
    app.activate("U0ALICE", "reader 2h read the sign-in logs").await;
    let signin = BreakGlassSignIn {
        signin_id: pimbot::core::alarm::signin_key("bg-1"),
        upn: "bg1@contoso.com".into(),
        object_id: None,
        at: pimbot::core::ports::Clock::now(app.clock.as_ref()),
        ip: Some("203.0.113.7".into()),
        location: None,
        app: None,
        client: None,
        ca_status: None,
        succeeded: true,
    };
    app.running.service.raise(&signin).await.expect("raise").expect("a new alarm");
    app.settle().await;
    Seeded { breached, within }
}
