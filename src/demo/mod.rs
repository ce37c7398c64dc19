//! `pimbot demo`: the real server on loopback with a temporary SQLite file and an in-process
//! fake Slack workspace, driven through a scripted scenario over signed HTTP requests. Time is
//! a manual clock, so expiry, minimum-hold and re-paging rules play out in seconds. People sign
//! in with the built-in fake Entra provider ([`FakeOidc`]) for the MFA step-ups of the critical
//! role, the requester's and the approver's. It ends with a break-glass sign-in reported by
//! Azure Monitor, its alarm, one re-page and the acknowledgement. Prints a transcript; with
//! `--serve-ui` it then serves the web view over the same data (`serve_ui`).

pub mod driver;
mod serve_ui;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};

use crate::app::{self, Parts, Running};
use crate::core::ports::{Clock, ManualClock};
use crate::testing::fake_slack::FakeSlack;
use crate::testing::{FakeOidc, Scenario};
use driver::SlackDriver;

const POLICY: &str = include_str!("policy.toml");
const SECRET: &str = "demo-signing-secret";
const APPROVERS: &str = "C0APPROVERS";
const ALERTS: &str = "C0ALERTS";
const WEBHOOK_TOKEN: &str = "demo-webhook-token";

/// Runs the scenario and prints what each person saw; with `serve_ui`, then serves the web
/// view over the demo's data until Ctrl-C.
pub async fn run(serve_ui: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let fake = FakeSlack::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let public_url = format!("http://{}", listener.local_addr()?);
    let idp = FakeOidc::start(clock.clone()).await;
    let text = POLICY
        .replace("{oidc_issuer}", &idp.issuer())
        .replace("{public_url}", &public_url)
        .replace("{slack_api_url}", &fake.api_url());
    let config = crate::config::from_toml_str(&text)?;
    let policy = config.validate(clock.now()).map_err(|e| anyhow::anyhow!("demo policy: {e}"))?;
    let store = crate::storage::connect_with(&db, crate::testing::audit::test_linker()).await?;
    // The parts `pimbot serve` would build from this config, with the demo's clock and store.
    let mut parts = Parts::from_config(&config, store, clock.clone(), policy)?;
    if let Some(ui) = parts.oidc.as_mut().and_then(|oidc| oidc.ui.as_mut()) {
        // The demo's store links with the demo's audit key; the view verifies with it.
        ui.audit_ring = crate::testing::audit::test_ring();
    }
    let running = app::start(parts, listener).await?;
    let slack = SlackDriver::new(
        format!("http://{}", running.addr),
        SECRET,
        clock.clone(),
        fake.response_url("C0CMD", "1"),
    );
    println!("pimbot demo: server on http://{}, fake Slack at {}\n", running.addr, fake.api_url());

    let say = |who: &str, what: &str| println!("▶ {who}: {what}");
    let show = |reply: driver::Reply| match reply.text().trim() {
        "" => println!("  ↳ (HTTP {}: acknowledged)\n", reply.status),
        text => println!("  ↳ {}\n", text.replace('\n', "\n    ")),
    };

    say("alice", "/pim activate global-admin 1h #INC-4711 rotate leaked secret");
    let reply = slack.command("U0ALICE", "activate global-admin 1h #INC-4711 rotate leaked secret").await?;
    let step_up = link_in(&reply.text()).context("the reply carries no step-up link")?;
    show(reply);
    settle(&running).await?;
    println!(
        "  (no card yet: {} messages in the approver channel)\n",
        fake.messages().iter().filter(|m| m.channel == APPROVERS).count()
    );

    say("alice", "opens the link and signs in with MFA (Conditional Access context c1)");
    idp.push(Scenario::person("0a11ce00-0000-4000-8000-000000000001", "alice@contoso.com"));
    let page = FakeOidc::sign_in(&step_up).await?;
    println!("  ↳ (browser, HTTP {}) {}\n", page.status, page.body.trim().replace('\n', " "));
    settle(&running).await?;
    let card = fake
        .messages()
        .into_iter()
        .find(|m| m.channel == APPROVERS)
        .context("the approval card was not posted")?;
    let ts = card.ts.clone();
    let request_id = card_request_id(&card.blocks).context("the card carries no request id")?;

    say("alice", &format!("clicks Approve on her own request {request_id}"));
    show(slack.click("U0ALICE", "approve", &request_id, APPROVERS, &ts).await?);
    settle(&running).await?;
    println!("  (alice is told privately that she cannot approve her own request)\n");

    say("carol", &format!("clicks Approve on {request_id}"));
    show(slack.click("U0CAROL", "approve", &request_id, APPROVERS, &ts).await?);
    settle(&running).await?;
    let note = fake
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.ephemeral_for.as_deref() == Some("U0CAROL"))
        .context("carol got no step-up link")?;
    println!("  (carol sees privately: {})\n", note.text.replace('\n', " "));
    let approve_link = link_in(&note.text).context("no link for carol")?;

    say("carol", "opens her link and signs in with MFA; only now does her approval count");
    idp.push(Scenario::person("0ca20100-0000-4000-8000-000000000003", "carol@contoso.com"));
    let page = FakeOidc::sign_in(&approve_link).await?;
    println!("  ↳ (browser, HTTP {}) {}\n", page.status, page.body.trim().replace('\n', " "));
    settle(&running).await?;

    say("alice", "/pim status");
    show(slack.command("U0ALICE", "status").await?);

    say("alice", "/pim deactivate global-admin   (one minute later)");
    clock.advance(Duration::minutes(1));
    show(slack.command("U0ALICE", "deactivate global-admin").await?);

    say("alice", "/pim deactivate global-admin   (ten minutes later)");
    clock.advance(Duration::minutes(9));
    show(slack.command("U0ALICE", "deactivate global-admin").await?);

    say("bob", "/pim activate reader 30m checking the sign-in logs");
    show(slack.command("U0BOB", "activate reader 30m checking the sign-in logs").await?);
    settle(&running).await?;

    say("(clock)", "31 minutes pass; bob's reader role ends on time");
    clock.advance(Duration::minutes(31));
    settle(&running).await?;

    say("bob", "/pim status");
    show(slack.command("U0BOB", "status").await?);

    break_glass(&running, &fake, &slack, &clock).await?;

    println!("──────── what the Slack workspace shows ────────\n{}", fake.transcript());
    if serve_ui {
        serve_ui::serve(&running, &slack, &idp, &clock).await?;
    }
    running.stop().await;
    Ok(())
}

/// The break-glass part: Azure Monitor reports a sign-in by the emergency account, the alert
/// channel is paged, paged again two minutes later, and dave acknowledges it with a reason.
async fn break_glass(
    running: &Running,
    fake: &FakeSlack,
    slack: &SlackDriver,
    clock: &ManualClock,
) -> anyhow::Result<()> {
    say_line(
        "Azure Monitor",
        "POST /webhooks/azure-monitor: bg1@contoso.onmicrosoft.com signed in from 203.0.113.7",
    );
    let body = crate::testing::azure_monitor::log_alert_v2(
        "Fired",
        "bg1@contoso.onmicrosoft.com",
        "203.0.113.7",
        "6f1d2c3b-0000-4000-8000-000000000001",
    );
    // The rule also splits on TimeGenerated and AppDisplayName, so the alarm shows them.
    let signed_in = (clock.now() - Duration::minutes(1)).to_rfc3339();
    let body = crate::testing::azure_monitor::with_dimension(body, "TimeGenerated", &signed_in);
    let body = crate::testing::azure_monitor::with_dimension(body, "AppDisplayName", "Azure Portal");
    let resp = reqwest::Client::new()
        .post(format!("http://{}/webhooks/azure-monitor?token={WEBHOOK_TOKEN}", running.addr))
        .json(&body)
        .send()
        .await
        .context("posting the Azure Monitor notification")?;
    println!("  ↳ (HTTP {}: {})\n", resp.status().as_u16(), resp.text().await.unwrap_or_default());
    settle(running).await?;
    let alarm = fake
        .messages()
        .into_iter()
        .find(|m| m.channel == ALERTS && m.ephemeral_for.is_none())
        .context("the alarm was not posted")?;
    let alarm_id = button_value(&alarm.blocks, "ack").context("the alarm carries no ack button")?;

    say_line("(clock)", "2 minutes pass and nobody acknowledges: the alarm pages again");
    clock.advance(running.service.repage_every());
    settle(running).await?;

    say_line("dave", &format!("clicks Acknowledge on alarm {alarm_id}"));
    let reply = slack.click("U0DAVE", "ack", &alarm_id, ALERTS, &alarm.ts).await?;
    println!("  ↳ (HTTP {}: the reason form opens)\n", reply.status);
    fake.wait_for("views.open", 1, StdDuration::from_secs(30)).await.map_err(anyhow::Error::msg)?;

    say_line("dave", "submits the reason \"sanctioned DR drill, see INC-4712\"");
    let reason = crate::testing::signing::text_inputs(&[("reason", "sanctioned DR drill, see INC-4712")]);
    let reply = slack.submit("U0DAVE", "ack_reason", &alarm_id, reason).await?;
    println!("  ↳ (HTTP {}: acknowledged; both pages lose their button)\n", reply.status);
    settle(running).await?;
    Ok(())
}

fn say_line(who: &str, what: &str) {
    println!("▶ {who}: {what}");
}

/// Runs sweeps and delivery until `count` more calls to `method` arrived (or nothing is left).
/// Waits until every commit so far reached the fake workspace (generous: on a loaded machine a
/// pass can take a while; the demo waits, it never guesses).
async fn settle(running: &Running) -> anyhow::Result<()> {
    running.settle(StdDuration::from_secs(30)).await
}

/// The first `http://…` link in a message text (links are written `<url>`).
fn link_in(text: &str) -> Option<String> {
    let start = text.find("http://")?;
    let rest = &text[start..];
    Some(rest[..rest.find(['>', ' ', '\n', '|']).unwrap_or(rest.len())].to_owned())
}

/// The request id an approval card's Approve button carries.
pub fn card_request_id(blocks: &serde_json::Value) -> Option<String> {
    button_value(blocks, "approve")
}

/// The value of the button with `action_id` in a message's blocks.
pub fn button_value(blocks: &serde_json::Value, action_id: &str) -> Option<String> {
    blocks.as_array()?.iter().find_map(|b| {
        b.get("elements")?.as_array()?.iter().find_map(|e| {
            (e.get("action_id")?.as_str()? == action_id)
                .then(|| e.get("value")?.as_str().map(str::to_owned))?
        })
    })
}
