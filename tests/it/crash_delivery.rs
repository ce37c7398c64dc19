//! The real binary killed mid-delivery, on Slack and Discord at once, on every backend: a card
//! claimed by the dead process goes out within 20 s of the restart, exactly once, whether the
//! platform never saw the first attempt (the call hung) or took it and the answer was lost (the
//! kill fell between the platform's answer and the outcome commit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use pimbot::core::ports::{Store, SystemClock};
use pimbot::demo::driver::SlackDriver;
use pimbot::testing::{FakeDiscord, FakeSlack, Hold};

use crate::support::app::{APPROVERS, FEED, SECRET};
use crate::support::binary::Binary;
use crate::support::db::{self, TestDb};
use crate::support::discord as dc;

/// [`dc::policy`] pointed at the fakes and the test database, every channel configured.
fn config(db: &TestDb, slack: &FakeSlack, discord: &FakeDiscord) -> String {
    dc::policy()
        .replace("sqlite://unused.db", &db.url)
        .replace(
            "bot_token = \"xoxb-fake-pimbot-token\"",
            &format!("bot_token = \"xoxb-fake-pimbot-token\"\napi_url = \"{}\"", slack.api_url()),
        )
        .replace(
            "bot_token = \"a.b.c\"",
            &format!(
                "bot_token = \"{}\"\napi_url = \"{}\"\nfeed_channel = \"{}\"\nalert_channel = \"{}\"",
                discord.token(),
                discord.api_url(),
                dc::FEED,
                dc::ALERTS
            ),
        )
}

/// Starts the binary off the async runtime (it waits for the "listening" line by sleeping).
async fn serve(config: &str) -> Binary {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || Binary::serve(&config, &[])).await.expect("start pimbot")
}

async fn kill_9(bin: Binary) {
    tokio::task::spawn_blocking(move || {
        let mut bin = bin;
        bin.signal("KILL");
        bin.wait(Duration::from_secs(10));
    })
    .await
    .expect("kill");
}

async fn until(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what} did not happen within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn drained(store: &Arc<dyn Store>, within: Duration) {
    let deadline = Instant::now() + within;
    while store.outbox_depth().await.expect("depth") > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn slack_cards(slack: &FakeSlack) -> usize {
    slack.messages().iter().filter(|m| m.channel == APPROVERS && m.thread_ts.is_none()).count()
}

fn slack_feed_lines(slack: &FakeSlack, fragment: &str) -> usize {
    slack.messages().iter().filter(|m| m.channel == FEED && m.text.contains(fragment)).count()
}

fn discord_cards(discord: &FakeDiscord) -> usize {
    discord.channel(dc::APPROVERS).len()
}

async fn activate(bin: &Binary, slack: &FakeSlack, text: &str) {
    let driver = SlackDriver::new(bin.url(), SECRET, Arc::new(SystemClock), slack.response_url("C0CMD", "1"));
    let reply = driver.command("U0ALICE", &format!("activate {text}")).await.expect("command");
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_claimed_by_a_killed_process_arrives_within_20s_of_restart_exactly_once() {
    for db in db::backends().await {
        let (slack, discord) = (FakeSlack::start().await, FakeDiscord::start().await);
        let config = config(&db, &slack, &discord);
        // The first card post on each platform never gets through: the process dies holding it.
        slack.hold_next("chat.postMessage", 1, Hold::Hang);
        discord.hold_next_creates(1, Hold::Hang);
        let bin = serve(&config).await;
        activate(&bin, &slack, "global-admin 1h #INC-7 crash drill").await;
        until("both card posts in flight", Duration::from_secs(15), || {
            slack.held_calls() == 1 && discord.held_calls() == 1
        })
        .await;
        kill_9(bin).await;
        slack.release_held();
        discord.release_held();
        assert_eq!((slack_cards(&slack), discord_cards(&discord)), (0, 0), "{}: nothing posted yet", db.name);

        let restarted = Instant::now();
        let bin = serve(&config).await;
        until("the card on both platforms", Duration::from_secs(30), || {
            slack_cards(&slack) >= 1 && discord_cards(&discord) >= 1
        })
        .await;
        let took = restarted.elapsed();
        eprintln!("{}: the card arrived {took:?} after the restart began", db.name);
        assert!(took < Duration::from_secs(20), "{}: the card took {took:?} after the restart", db.name);
        drained(&db.store, Duration::from_secs(30)).await;
        assert_eq!((slack_cards(&slack), discord_cards(&discord)), (1, 1), "{}: exactly once", db.name);
        assert_eq!(slack_feed_lines(&slack, "requested"), 1, "{}: the feed line behind it, once", db.name);
        assert_eq!(discord.channel(dc::FEED).len(), 1, "{}", db.name);
        kill_9(bin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_the_platforms_answer_and_the_outcome_commit_posts_nothing_twice() {
    for db in db::backends().await {
        let (slack, discord) = (FakeSlack::start().await, FakeDiscord::start().await);
        let config = config(&db, &slack, &discord);
        // Both platforms take the card at once; their answers are still on the way when the
        // process dies, so the outbox never learns the cards went out.
        slack.hold_next("chat.postMessage", 1, Hold::AnswerLate(Duration::from_secs(120)));
        discord.hold_next_creates(1, Hold::AnswerLate(Duration::from_secs(120)));
        let bin = serve(&config).await;
        activate(&bin, &slack, "global-admin 1h #INC-8 lost answers").await;
        until("both cards taken by the platforms", Duration::from_secs(15), || {
            slack_cards(&slack) == 1 && discord_cards(&discord) == 1
        })
        .await;
        kill_9(bin).await;
        assert!(
            db.store.outbox_depth().await.expect("depth") >= 2,
            "{}: the cards are not recorded",
            db.name
        );

        let bin = serve(&config).await;
        drained(&db.store, Duration::from_secs(40)).await;
        assert_eq!((slack_cards(&slack), discord_cards(&discord)), (1, 1), "{}: no second card", db.name);
        assert_eq!(
            slack.calls_to("chat.postMessage").iter().filter(|c| c.body["channel"] == APPROVERS).count(),
            1
        );
        assert!(!slack.calls_to("conversations.history").is_empty(), "{}: Slack was searched", db.name);
        assert_eq!(slack_feed_lines(&slack, "requested"), 1, "{}", db.name);

        // The adopted cards are the ones decided: approved in place, no live buttons anywhere.
        let card = slack.messages().into_iter().find(|m| m.channel == APPROVERS).expect("card");
        let id = card
            .blocks
            .to_string()
            .split("\"value\":\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .map(str::to_owned)
            .expect("request id on the card");
        let driver = SlackDriver::new(
            bin.url(),
            SECRET,
            Arc::new(SystemClock),
            slack.response_url(APPROVERS, &card.ts),
        );
        let reply = driver.click("U0CAROL", "approve", &id, APPROVERS, &card.ts).await.expect("click");
        assert_eq!(reply.status, 200, "{reply:?}");
        drained(&db.store, Duration::from_secs(30)).await;
        until("the cards decided in place", Duration::from_secs(10), || {
            let slack_card = slack.message(APPROVERS, &card.ts).expect("kept");
            let discord_card = &discord.channel(dc::APPROVERS)[0];
            slack_card.edits > 0 && discord_card.edits > 0
        })
        .await;
        let slack_card = slack.message(APPROVERS, &card.ts).expect("kept");
        assert!(!slack_card.blocks.to_string().contains("\"actions\""), "{}: buttons gone", db.name);
        assert_eq!(discord.channel(dc::APPROVERS)[0].components, serde_json::json!([]), "{}", db.name);
        assert_eq!((slack_cards(&slack), discord_cards(&discord)), (1, 1), "{}", db.name);
        kill_9(bin).await;
    }
}
