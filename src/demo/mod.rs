//! `pimbot demo`: the real server on loopback with a temporary SQLite file and an in-process
//! fake Slack workspace, driven through a scripted scenario over signed HTTP requests. Time is
//! a manual clock, so expiry and minimum-hold rules play out in seconds. Prints a transcript.

pub mod driver;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};

use crate::app::{self, Parts, Running, SlackParts};
use crate::core::ids::Platform;
use crate::core::ports::{Clock, ManualClock};
use crate::testing::fake_slack::FakeSlack;
use driver::SlackDriver;

const POLICY: &str = include_str!("policy.toml");
const SECRET: &str = "demo-signing-secret";
const APPROVERS: &str = "C0APPROVERS";

/// Runs the scenario and prints what each person saw.
pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let fake = FakeSlack::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let config = crate::config::from_toml_str(POLICY)?;
    let policy = config.validate(clock.now()).map_err(|e| anyhow::anyhow!("demo policy: {e}"))?;
    let parts = Parts {
        store: crate::storage::connect(&db).await?,
        directory: Arc::new(crate::directory::StaticDirectory::new()),
        clock: clock.clone(),
        policy,
        slack: Some(SlackParts {
            signing_secret: SECRET.to_owned().into(),
            bot_token: fake.token().into(),
            api_url: fake.api_url(),
            channels: crate::cli::channels(
                Platform::Slack,
                &Some(APPROVERS.into()),
                &Some("C0FEED".into()),
                &Some("C0ALERTS".into()),
            ),
        }),
        break_glass: app::BreakGlassParts::from_config(&config),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
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
    show(slack.command("U0ALICE", "activate global-admin 1h #INC-4711 rotate leaked secret").await?);
    settle(&running, &fake, "chat.postMessage", 2).await?;
    let card = fake
        .messages()
        .into_iter()
        .find(|m| m.channel == APPROVERS)
        .context("the approval card was not posted")?;
    let ts = card.ts.clone();
    let request_id = card_request_id(&card.blocks).context("the card carries no request id")?;

    say("alice", &format!("clicks Approve on her own request {request_id}"));
    show(slack.click("U0ALICE", "approve", &request_id, APPROVERS, &ts).await?);
    settle(&running, &fake, "chat.postEphemeral", 1).await?;
    println!("  (alice is told privately that she cannot approve her own request)\n");

    say("carol", &format!("clicks Approve on {request_id}"));
    show(slack.click("U0CAROL", "approve", &request_id, APPROVERS, &ts).await?);
    settle(&running, &fake, "chat.update", 1).await?;

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
    settle(&running, &fake, "chat.postMessage", 0).await?;

    say("(clock)", "31 minutes pass; bob's reader role ends on time");
    clock.advance(Duration::minutes(31));
    settle(&running, &fake, "chat.postMessage", 0).await?;

    say("bob", "/pim status");
    show(slack.command("U0BOB", "status").await?);

    println!("──────── what the Slack workspace shows ────────\n{}", fake.transcript());
    running.stop().await;
    Ok(())
}

/// Runs sweeps and delivery until `count` more calls to `method` arrived (or nothing is left).
async fn settle(
    running: &Running,
    fake: &FakeSlack,
    method: &str,
    count: usize,
) -> anyhow::Result<Vec<crate::testing::fake_slack::SlackCall>> {
    let before = fake.calls_to(method).len();
    for _ in 0..50 {
        crate::scheduler::sweep_once(&running.service).await;
        running.dispatcher.deliver_due().await?;
        let calls = fake.calls_to(method);
        let store = running.service.store();
        let idle = store.approved_requests(1).await?.is_empty() && store.outbox_depth().await? == 0;
        if calls.len() >= before + count && idle {
            return Ok(calls[before..].to_vec());
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    anyhow::bail!("the fake Slack never received {count} more {method} calls")
}

/// The request id an approval card's Approve button carries.
pub fn card_request_id(blocks: &serde_json::Value) -> Option<String> {
    blocks.as_array()?.iter().find_map(|b| {
        b.get("elements")?.as_array()?.iter().find_map(|e| {
            (e.get("action_id")?.as_str()? == "approve")
                .then(|| e.get("value")?.as_str().map(str::to_owned))?
        })
    })
}
