//! [`FakeSlack`]'s side of [`super::expect`]: a test takes the posts, edits, ephemerals and
//! modals it expected, then [`FakeSlack::assert_nothing_unexpected`] fails on any other.

use super::{FakeSlack, SlackCall, lock};
use crate::testing::expect::{self, Sent};

/// The Web API methods (and `response_url`) that deliver something a person sees.
const SENDS: &[&str] =
    &["chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "response_url"];

impl Sent for SlackCall {
    fn is_sent(&self) -> bool {
        self.failure.is_none() && SENDS.contains(&self.method.as_str())
    }

    fn describe(&self) -> String {
        format!("{} {}", self.method, expect::short(&self.body))
    }
}

fn says(call: &SlackCall, words: &str) -> bool {
    call.body.to_string().contains(words)
}

fn to(call: &SlackCall, key: &str, id: &str) -> bool {
    call.body.get(key).and_then(|v| v.as_str()) == Some(id)
}

impl FakeSlack {
    /// Takes the first call to `method` not taken yet that `want` accepts; panics listing the
    /// calls not taken when there is none.
    #[track_caller]
    pub fn expect(&self, method: &str, want: impl Fn(&SlackCall) -> bool) -> SlackCall {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        match inner.taken.first(&inner.calls, |c| c.method == method && want(c)) {
            Some(call) => call,
            None => expect::missing(
                "Slack",
                &format!("a matching {method}"),
                &inner.taken.leftovers(&inner.calls),
            ),
        }
    }

    /// Takes the message posted to `channel` (a channel or user id) whose JSON body contains
    /// `words`.
    #[track_caller]
    pub fn expect_post(&self, channel: &str, words: &str) -> SlackCall {
        self.expect("chat.postMessage", |c| to(c, "channel", channel) && says(c, words))
    }

    /// Takes the `chat.update` whose JSON body contains `words`.
    #[track_caller]
    pub fn expect_update(&self, words: &str) -> SlackCall {
        self.expect("chat.update", |c| says(c, words))
    }

    /// Takes the ephemeral shown to `user` whose JSON body contains `words`.
    #[track_caller]
    pub fn expect_ephemeral(&self, user: &str, words: &str) -> SlackCall {
        self.expect("chat.postEphemeral", |c| to(c, "user", user) && says(c, words))
    }

    /// Takes every call to `method` not taken yet, in order.
    pub fn take_all(&self, method: &str) -> Vec<SlackCall> {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        inner.taken.all(&inner.calls, |c| c.method == method)
    }

    /// Fails listing every post, edit, ephemeral or modal the test did not take.
    #[track_caller]
    pub fn assert_nothing_unexpected(&self) {
        let inner = lock(&self.inner);
        expect::nothing_left("Slack", &inner.taken.leftovers(&inner.calls));
    }
}
