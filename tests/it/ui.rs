//! The web view at `/ui` on every backend: sign-in through the fake OpenID provider (viewers
//! get a signed, short session; everyone else 403; states work once and are pruned once
//! expired), and each page rendered from a seeded history with its numbers checked.

use chrono::Duration;
use pimbot::core::audit::{Actor, AuditEvent};
use pimbot::core::ports::Commit;
use pimbot::testing::Scenario;

use crate::support::app::TestApp;
use crate::support::db::backends;
use crate::support::identity::{audit_of, idp};
use crate::support::ui::{
    ALICE_OID, BOB_OID, CAROL_OID, DAVE_OID, base, figure, get, seed, sign_in, sign_in_from, spawn,
    viewer_cookie,
};

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let app = spawn(db).await;
        tokio::time::timeout(std::time::Duration::from_secs(90), f(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn viewers_sign_in_to_a_short_signed_session_and_everyone_else_is_refused() {
    each_backend(|app| async move {
        let url = base(&app);
        // No cookie: off to the provider with PKCE, a nonce and a state.
        let first = get(&format!("{url}/ui/history"), None).await;
        assert_eq!(first.status, 302, "{first:?}");
        assert!(first.location.as_deref().is_some_and(|l| l.contains("/oauth2/v2.0/authorize")));

        let carol = sign_in(&app, Scenario::person(CAROL_OID, "carol@contoso.com")).await;
        assert_eq!(carol.page.status, 303, "{:?}", carol.page);
        assert_eq!(carol.page.location.as_deref(), Some("/ui"));
        let set = carol.page.set_cookie.join("\n");
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/ui", "Max-Age=1800"] {
            assert!(set.contains(attr), "{attr} missing: {set}");
        }
        let q = idp(&app).authorize_queries().pop().expect("authorize request");
        assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"));
        assert!(q.contains_key("nonce") && q.contains_key("state"));
        let cookie = carol.cookie.clone().expect("session");
        let page = get(&format!("{url}/ui"), Some(&cookie)).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.body.contains("Signed in as <strong>carol</strong>"));
        assert!(page.content_type.starts_with("text/html"));

        // The callback works once.
        let again = get(&carol.callback, carol.flow.as_deref()).await;
        assert_eq!(again.status, 410, "{again:?}");
        assert!(again.set_cookie.is_empty());

        // dave is a viewer by name, and lands on the page he asked for.
        let dave =
            sign_in_from(&app, "/ui/trends?days=7", Scenario::person(DAVE_OID, "dave@contoso.com")).await;
        assert_eq!(dave.page.status, 303);
        assert_eq!(dave.page.location.as_deref(), Some("/ui/trends?days=7"));

        // alice is in the policy but no viewer; bob's account is unknown; both get 403 and no cookie.
        for (oid, name) in [(ALICE_OID, "alice@contoso.com"), (BOB_OID, "bob@contoso.com")] {
            let refused = sign_in(&app, Scenario::person(oid, name)).await;
            assert_eq!(refused.page.status, 403, "{name}: {:?}", refused.page);
            assert!(refused.cookie.is_none(), "{name} got a session");
            assert!(refused.page.body.contains(name), "{}", refused.page.body);
        }
        // A finished sign-in opened in another browser (without the flow cookie) gives nothing.
        let to_provider = get(&format!("{url}/ui"), None).await;
        idp(&app).push(Scenario::person(CAROL_OID, "carol@contoso.com"));
        let back = get(to_provider.location.as_deref().expect("authorize"), None).await;
        let elsewhere = get(back.location.as_deref().expect("callback"), None).await;
        assert_eq!(elsewhere.status, 403, "{elsewhere:?}");
        assert!(!elsewhere.set_cookie.iter().any(|c| c.starts_with("pimbot_ui=")));
        // A token that fails its checks gives nothing either.
        let wrong_nonce =
            Scenario { nonce: Some("not-this-one".into()), ..Scenario::person(CAROL_OID, "carol") };
        let bad = sign_in(&app, wrong_nonce).await;
        assert_eq!(bad.page.status, 403);
        assert!(bad.cookie.is_none());

        assert_eq!(audit_of(&app, "ui.signed_in").await.len(), 2);
        let refused = audit_of(&app, "ui.sign_in_refused").await;
        assert_eq!(refused.len(), 3);
        assert_eq!(refused[0]["why"], "not a viewer");
        assert_eq!(refused[1]["why"], "not in the policy");
        assert_eq!(refused[2]["why"], "started in another browser");
        assert_eq!(audit_of(&app, "identity.sign_in_failed").await.len(), 1);

        // A forged cookie and an ended session both mean: sign in again.
        let forged = cookie.replace("carol", "dave");
        assert_eq!(get(&format!("{url}/ui"), Some(&forged)).await.status, 302);
        app.advance(Duration::minutes(31));
        assert_eq!(get(&format!("{url}/ui"), Some(&cookie)).await.status, 302);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_viewer_removed_by_a_reload_is_refused_at_once() {
    each_backend(|app| async move {
        let cookie = viewer_cookie(&app).await;
        let url = base(&app);
        assert_eq!(get(&format!("{url}/ui"), Some(&cookie)).await.status, 200);
        let text = app.policy_text.lock().expect("policy").clone();
        let (status, _) =
            app.reload(&text.replace(r#"viewers = ["@auditors", "dave"]"#, r#"viewers = ["dave"]"#)).await;
        assert_eq!(status, 200);
        let page = get(&format!("{url}/ui"), Some(&cookie)).await;
        assert_eq!(page.status, 403, "{page:?}");
        assert!(page.set_cookie.iter().any(|c| c.starts_with("pimbot_ui=;")), "{:?}", page.set_cookie);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_now_page_shows_who_is_elevated_what_waits_and_open_alarms() {
    each_backend(|app| async move {
        let seeded = seed(&app).await;
        let cookie = viewer_cookie(&app).await;
        let page = get(&format!("{}/ui", base(&app)), Some(&cookie)).await;
        assert_eq!(page.status, 200);
        let html = page.body;
        assert_eq!(figure(&html, "elevated"), "1");
        assert_eq!(figure(&html, "waiting"), "2");
        assert_eq!(figure(&html, "breached"), "1");
        assert_eq!(figure(&html, "alarms"), "1");
        // alice's reader grant: since 09:25, ends 11:25, 2h left, counting down in the page.
        assert!(html.contains("Global Reader"), "{html}");
        assert!(html.contains("2026-03-04 09:25 UTC") && html.contains("2026-03-04 11:25 UTC"));
        assert!(html.contains(r#"data-ends="2026-03-04T11:25:00Z""#), "{html}");
        assert!(html.contains(">2h 00m</time>"));
        assert!(html.contains(r#"data-now="2026-03-04T09:25:00Z""#));
        // bob's request waited 25m against a 15m SLA: breached and highlighted; alice's 5m of 10m.
        let row = |id: &str| {
            let at = html.find(&format!("data-request=\"{id}\"")).expect("row");
            let start = html[..at].rfind("<tr").expect("row start");
            html[start..at + html[at..].find("</tr>").expect("row end")].to_owned()
        };
        let breached = row(seeded.breached.as_str());
        assert!(breached.contains(r#"class="breached""#) && breached.contains("SLA breached"), "{breached}");
        assert!(breached.contains("25m 00s") && breached.contains("15m 00s"), "{breached}");
        let within = row(seeded.within.as_str());
        assert!(!within.contains("breached\"") && within.contains("within SLA"), "{within}");
        assert!(within.contains("5m 00s") && within.contains("10m 00s"), "{within}");
        // Cards link to Slack where pimbot posted them.
        assert!(within.contains("https://slack.com/archives/C0APPROVERS/p"), "{within}");
        assert!(html.contains("bg1@contoso.com"));
        assert!(html.contains("https://slack.com/archives/C0ALERTS/p"), "the alarm's page links to Slack");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn history_trends_and_findings_show_the_seeded_numbers() {
    each_backend(|app| async move {
        let seeded = seed(&app).await;
        // carol approves bob's user-admin request 25 minutes after it was made.
        assert_eq!(app.click("U0CAROL", "approve", &seeded.breached).await.status, 200);
        app.settle().await;
        // Reconciliation found a standing assignment.
        let drift = AuditEvent {
            at: pimbot::core::ports::Clock::now(app.clock.as_ref()),
            actor: Actor::System,
            kind: "directory.drift".into(),
            request_id: None,
            role: Some("global-admin".into()),
            detail: serde_json::json!({"drift": "Unmanaged", "principal_id": "p-1", "person": "bob", "removed": false}),
        };
        app.store().commit(Commit { audit: vec![drift], ..Commit::default() }).await.expect("commit");
        let cookie = viewer_cookie(&app).await;
        let url = base(&app);
        let records = app.store().audit_records(None).await.expect("audit");

        // History: the filter, the chain, the downloads.
        let page = get(&format!("{url}/ui/history"), Some(&cookie)).await;
        assert_eq!(page.status, 200);
        assert_eq!(figure(&page.body, "matching"), records.len().to_string());
        assert!(page.body.contains(r#"data-ok="true""#) && page.body.contains(&format!("<strong>{}</strong> records", records.len())));
        let page = get(&format!("{url}/ui/history?kind=request.submitted&q=&role="), Some(&cookie)).await;
        assert_eq!(figure(&page.body, "matching"), "3");
        let page = get(&format!("{url}/ui/history?person=bob&kind=grant."), Some(&cookie)).await;
        assert_eq!(figure(&page.body, "matching"), "1", "bob's user-admin grant, found through his request");
        let csv = get(&format!("{url}/ui/history.csv?kind=request.submitted"), Some(&cookie)).await;
        assert!(csv.content_type.starts_with("text/csv"));
        assert_eq!(csv.body.lines().count(), 1 + 3, "{}", csv.body);
        let jsonl = get(&format!("{url}/ui/history.jsonl?role=reader"), Some(&cookie)).await;
        let wanted = records.iter().filter(|r| r.event.role.as_ref().is_some_and(|x| x.as_str() == "reader")).count();
        assert_eq!(jsonl.body.lines().count(), wanted);
        assert!(jsonl.body.lines().all(|l| serde_json::from_str::<pimbot::core::audit::AuditRecord>(l).is_ok()));
        let bad = get(&format!("{url}/ui/history?from=yesterday"), Some(&cookie)).await;
        assert_eq!(bad.status, 400);
        // Without a session the download is not served.
        assert_eq!(get(&format!("{url}/ui/history.csv"), None).await.status, 302);

        // Trends: two activations today (reader, user-admin), none out of hours (09:25 on a
        // Wednesday), one human decision in 25 minutes, bob and alice as requesters.
        let page = get(&format!("{url}/ui/trends?days=7"), Some(&cookie)).await;
        assert_eq!(page.status, 200);
        let html = page.body;
        assert_eq!(figure(&html, "activations"), "2");
        assert_eq!(figure(&html, "out-of-hours"), "0");
        assert!(html.contains(r#"data-role="reader" data-day="2026-03-04" data-count="1""#), "{html}");
        assert!(html.contains(r#"data-role="user-admin" data-day="2026-03-04" data-count="1""#));
        assert_eq!(figure(&html, "median"), "25m 00s");
        assert!(html.contains(r#"<span data-person="alice">alice (2)</span>"#) || html.contains(r#"data-person="alice">alice (1)"#), "{html}");
        assert!(html.contains(r#"data-person="bob">bob (1)"#));
        // The figure links to the History filter that lists exactly the events it counts.
        let link = "/ui/history?kind=grant.activated&amp;from=2026-02-26&amp;to=2026-03-04";
        assert!(html.contains(link), "{html}");
        let behind = get(&format!("{url}{}", link.replace("&amp;", "&")), Some(&cookie)).await;
        assert_eq!(figure(&behind.body, "matching"), "2");

        // Findings: the drift, with what to do.
        let page = get(&format!("{url}/ui/findings"), Some(&cookie)).await;
        assert_eq!(figure(&page.body, "findings"), "1");
        assert!(page.body.contains("standing assignment not made by pimbot") && page.body.contains("remove_unmanaged"));

        // An alert and an open review campaign join the drift, each with what to do.
        let now = pimbot::core::ports::Clock::now(app.clock.as_ref());
        let alert = AuditEvent {
            at: now,
            actor: Actor::System,
            kind: "alert.raised".into(),
            request_id: None,
            role: Some("global-admin".into()),
            detail: serde_json::json!({"alert": "too_many_eligible", "key": "k-1", "person": null,
                "text": "7 people are eligible for global-admin (at most 5)", "todo": "Remove eligibility nobody needs"}),
        };
        app.store().commit(Commit { audit: vec![alert], ..Commit::default() }).await.expect("commit");
        let campaign = pimbot::core::reviews::Campaign {
            id: "rc-ui".into(),
            review: "critical-quarterly".into(),
            period_start: now,
            deadline: now + chrono::Duration::days(7),
            started_at: now,
            completed_at: None,
        };
        let item = pimbot::core::reviews::ReviewItem {
            id: "ri-ui".into(),
            campaign: "rc-ui".into(),
            person: "bob".into(),
            role: "global-admin".into(),
            reviewers: vec!["carol".into()],
            origin: pimbot::core::reviews::EligibilityOrigin::Policy,
            default: pimbot::core::reviews::ReviewDecision::Remove,
            deadline: now + chrono::Duration::days(7),
            nudge_at: None,
            decision: None,
            decided_by: None,
            decided_at: None,
            applied_at: None,
            history: String::new(),
            version: 1,
        };
        let governance = pimbot::core::ports::GovernanceWrites {
            campaigns: vec![campaign],
            items: vec![pimbot::core::ports::Write::Insert(item)],
            ..Default::default()
        };
        app.store().commit(Commit { governance, ..Commit::default() }).await.expect("commit campaign");
        let page = get(&format!("{url}/ui/findings"), Some(&cookie)).await;
        assert_eq!(figure(&page.body, "findings"), "3", "{}", page.body);
        assert!(page.body.contains("7 people are eligible for global-admin") && page.body.contains("Remove eligibility nobody needs"));
        assert!(page.body.contains("campaign rc-ui (critical-quarterly)") && page.body.contains("1 item(s) undecided"));
        assert!(page.body.contains("/ui/history?kind=alert.raised&amp;role=global-admin"), "{}", page.body);

        // Tampering shows on the History page.
        let tampered = app
            .db
            .exec("UPDATE audit_events SET detail = '{\"edited\":true}' WHERE seq = 2")
            .await;
        assert_eq!(tampered, 1);
        let page = get(&format!("{url}/ui/history"), Some(&cookie)).await;
        assert!(page.body.contains(r#"data-ok="false""#) && page.body.contains("record 2 was edited"), "{}", page.body);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn sign_in_states_of_visits_without_a_session_are_pruned_once_expired() {
    each_backend(|app| async move {
        let url = base(&app);
        for _ in 0..3 {
            assert_eq!(get(&format!("{url}/ui"), None).await.status, 302);
        }
        let now = pimbot::core::ports::Clock::now(app.clock.as_ref());
        assert_eq!(app.store().prune_auth_states(now).await.expect("prune"), 0, "still working");
        let later = now + pimbot::core::identity::LINK_TTL + Duration::seconds(1);
        assert_eq!(app.store().prune_auth_states(later).await.expect("prune"), 3);
        assert_eq!(app.store().prune_auth_states(later).await.expect("prune"), 0);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_demo_prints_the_view_and_serves_it_until_ctrl_c() {
    use tokio::io::AsyncBufReadExt as _;
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(["demo", "--serve-ui"])
        .env_remove("PIMBOT_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the demo");
    let mut lines = tokio::io::BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let find_url = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if let Some(url) = line.strip_prefix("The web view: ") {
                return url.trim().to_owned();
            }
        }
        panic!("the demo ended without printing the view's address");
    };
    let view =
        tokio::time::timeout(std::time::Duration::from_secs(120), find_url).await.expect("the demo is slow");
    assert!(view.starts_with("http://127.0.0.1:") && view.ends_with("/ui"), "{view}");
    // A browser: to the provider (which signs everyone in as carol), back, then the page.
    let start = get(&view, None).await;
    assert_eq!(start.status, 302);
    let cookies: Vec<&str> = start.set_cookie.iter().filter_map(|c| c.split(';').next()).collect();
    let back = get(start.location.as_deref().expect("authorize"), None).await;
    let signed = get(back.location.as_deref().expect("callback"), Some(&cookies.join("; "))).await;
    assert_eq!(signed.status, 303, "{signed:?}");
    let session = signed
        .set_cookie
        .iter()
        .find(|c| c.starts_with("pimbot_ui="))
        .and_then(|c| c.split(';').next())
        .expect("session")
        .to_owned();
    let page = get(&view, Some(&session)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Signed in as <strong>carol</strong>"));
    assert_eq!(figure(&page.body, "elevated"), "1", "bob's reader grant");
    assert_eq!(figure(&page.body, "breached"), "1", "alice's request past its SLA");
    // Ctrl-C stops it cleanly.
    let pid = demo.id().expect("pid").to_string();
    let sent = std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), demo.wait())
        .await
        .expect("the demo stops on Ctrl-C")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
}
