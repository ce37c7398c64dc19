//! The fakes' "nothing unexpected was sent" check itself: an extra post fails and is listed,
//! taken posts, reads and calls the fake refused are not, and expecting what never came fails.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pimbot::testing::{FAKE_BOT_TOKEN, FAKE_DISCORD_TOKEN, FakeDiscord, FakeSlack};
use serde_json::{Value, json};

/// The panic message of `f`, which must panic.
fn failure(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the check fails");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

async fn slack(fake: &FakeSlack, method: &str, body: Value) {
    reqwest::Client::new()
        .post(format!("{}{method}", fake.api_url()))
        .bearer_auth(FAKE_BOT_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("fake Slack answers");
}

#[tokio::test]
async fn slack_posts_nobody_expected_fail_the_check_and_are_listed() {
    let fake = FakeSlack::start().await;
    slack(&fake, "chat.postMessage", json!({"channel": "C1", "text": "expected hello"})).await;
    slack(&fake, "chat.postMessage", json!({"channel": "C1", "text": "surprise"})).await;
    slack(&fake, "auth.test", json!({})).await;
    fake.fail_next(1, 500);
    slack(&fake, "chat.postMessage", json!({"channel": "C1", "text": "refused by the fake"})).await;

    fake.expect_post("C1", "expected hello");
    let message = failure(|| fake.assert_nothing_unexpected());
    assert!(message.contains("1 call(s)") && message.contains("surprise"), "{message}");
    for not_listed in ["expected hello", "auth.test", "refused by the fake"] {
        assert!(!message.contains(not_listed), "{not_listed} is not unexpected: {message}");
    }
    let missing = failure(|| {
        fake.expect_post("C2", "never sent");
    });
    assert!(missing.contains("chat.postMessage") && missing.contains("surprise"), "{missing}");

    fake.expect_post("C1", "surprise");
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn discord_messages_nobody_expected_fail_the_check() {
    let fake = FakeDiscord::start().await;
    let http = reqwest::Client::new();
    let post = |channel: &str, content: &str| {
        http.post(format!("{}channels/{channel}/messages", fake.api_url()))
            .header("authorization", format!("Bot {FAKE_DISCORD_TOKEN}"))
            .json(&json!({"content": content}))
            .send()
    };
    post("9", "expected hello").await.expect("fake Discord answers");
    post("9", "surprise").await.expect("fake Discord answers");
    let read = http
        .get(format!("{}users/@me", fake.api_url()))
        .header("authorization", format!("Bot {FAKE_DISCORD_TOKEN}"));
    read.send().await.expect("fake Discord answers");

    fake.expect_post("9", "expected hello");
    let message = failure(|| fake.assert_nothing_unexpected());
    assert!(message.contains("surprise") && !message.contains("users/@me"), "{message}");
    fake.expect_post("9", "surprise");
    fake.assert_nothing_unexpected();
}
