//! The web view in headless Chromium: sign in through the fake OpenID provider, open each page,
//! check the key figures in the DOM (after the page's own script ran, which also proves the
//! Content-Security-Policy lets it), save screenshots to `target/ui-screenshots/` (laptop and
//! phone widths), and see a person who is not a viewer refused.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test says so and passes
//! locally; under CI (`CI` set, as `.ci/run` does) their absence fails it.

use pimbot::testing::Scenario;

use crate::support::db::sqlite;
use crate::support::identity::idp;
use crate::support::ui::{ALICE_OID, CAROL_OID, base, seed, spawn};
use crate::support::webdriver::{Browser, installed};

#[tokio::test]
async fn the_view_in_headless_chromium() {
    let Some((chromium, chromedriver)) = installed() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install Debian's chromium and chromium-driver"
        );
        eprintln!(
            "SKIPPED the_view_in_headless_chromium: chromium and chromedriver are not installed \
                   (apt-get install -y chromium chromium-driver)"
        );
        return;
    };
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    let app = spawn(sqlite().await).await;
    let seeded = seed(&app).await;
    assert_eq!(app.click("U0CAROL", "approve", &seeded.breached).await.status, 200);
    app.settle().await;
    let records = app.store().audit_records(None).await.expect("audit").len();
    let url = base(&app);
    let browser = Browser::start(&chromium, &chromedriver).await;
    let run = async {
        // Asking for History without a session goes through the provider and lands there.
        idp(&app).push(Scenario::person(CAROL_OID, "carol@contoso.com"));
        browser.goto(&format!("{url}/ui/history")).await;
        assert_eq!(browser.url().await, format!("{url}/ui/history"));
        assert_eq!(browser.text("header .who strong").await, "carol");
        // carol's sign-in is one more audit record.
        assert_eq!(browser.text("[data-figure=matching]").await, (records + 1).to_string());
        assert!(browser.text("[data-figure=chain]").await.contains("Audit chain verified"));
        browser.screenshot(&shots, "history").await;

        browser.goto(&format!("{url}/ui")).await;
        assert_eq!(browser.text("[data-figure=elevated]").await, "2", "reader and user-admin");
        assert_eq!(browser.text("[data-figure=waiting]").await, "1");
        assert_eq!(browser.text("[data-figure=breached]").await, "0");
        assert_eq!(browser.text("[data-figure=alarms]").await, "1");
        // The countdown script has rewritten every time left with seconds.
        let left = browser
            .run("return Array.from(document.querySelectorAll('time[data-ends]')).map(e => e.textContent)")
            .await;
        let left: Vec<String> = serde_json::from_value(left).expect("texts");
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(
            left.iter().all(|t| t.ends_with('s')),
            "the server writes `2h 00m`, the script adds seconds: {left:?}"
        );
        browser.screenshot(&shots, "now").await;

        browser.goto(&format!("{url}/ui/trends?days=7")).await;
        assert_eq!(browser.text("[data-figure=activations]").await, "2");
        assert_eq!(browser.count("svg rect[data-count]").await, 2);
        assert_eq!(browser.text("[data-figure=median]").await, "25m 00s");
        browser.screenshot(&shots, "trends").await;

        browser.goto(&format!("{url}/ui/findings")).await;
        assert_eq!(browser.text("[data-figure=findings]").await, "0");
        browser.screenshot(&shots, "findings").await;

        // A phone's width: the page fits without sideways scrolling of the page itself.
        browser.resize(390, 844).await;
        browser.goto(&format!("{url}/ui")).await;
        let overflow = browser.run("return document.documentElement.scrollWidth <= window.innerWidth").await;
        assert_eq!(overflow, true, "the page is wider than a phone");
        browser.screenshot(&shots, "now-phone").await;
        browser.resize(1280, 1000).await;

        // Keyboard: the first Tab reaches the skip link.
        let skip = browser
            .run("document.querySelector('.skip').focus(); return document.activeElement.textContent")
            .await;
        assert_eq!(skip, "Skip to content");

        // alice signs in on a fresh browser: not a viewer.
        browser.clear_cookies().await;
        idp(&app).push(Scenario::person(ALICE_OID, "alice@contoso.com"));
        browser.goto(&format!("{url}/ui")).await;
        assert_eq!(browser.text("h1").await, "Not allowed");
        assert!(browser.text("main").await.contains("alice@contoso.com"));
        browser.screenshot(&shots, "refused").await;
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), run).await.expect("browser test timed out");
    browser.quit().await;
    app.stop().await;
}
