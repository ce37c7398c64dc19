//! [`FakeTeams`]'s side of [`super::expect`]: a test takes the activities and card updates it
//! expected, then [`FakeTeams::assert_nothing_unexpected`] fails on any other.

use super::{ConnectorCall, FakeTeams, lock};
use crate::testing::expect::{self, Sent};

impl Sent for ConnectorCall {
    /// Activities posted (a channel thread started, a reply, a personal message) and replaced;
    /// not the creation of a personal conversation, which carries no activity.
    fn is_sent(&self) -> bool {
        self.method == "PUT" || self.path.ends_with("/activities") || !self.body["activity"].is_null()
    }

    fn describe(&self) -> String {
        format!("{} {} {}", self.method, self.path, expect::short(&self.body))
    }
}

fn says(call: &ConnectorCall, words: &str) -> bool {
    call.body.to_string().contains(words)
}

impl FakeTeams {
    /// Takes the first activity not taken yet that `want` accepts; panics listing the calls
    /// not taken when there is none.
    #[track_caller]
    pub fn expect(&self, what: &str, want: impl Fn(&ConnectorCall) -> bool) -> ConnectorCall {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        match inner.taken.first(&inner.calls, want) {
            Some(call) => call,
            None => expect::missing("Teams", what, &inner.taken.leftovers(&inner.calls)),
        }
    }

    /// Takes the thread started in `channel` whose activity contains `words`.
    #[track_caller]
    pub fn expect_thread(&self, channel: &str, words: &str) -> ConnectorCall {
        self.expect(&format!("a thread in {channel} saying {words:?}"), |c| {
            c.method == "POST"
                && c.body.pointer("/channelData/channel/id").and_then(|v| v.as_str()) == Some(channel)
                && says(c, words)
        })
    }

    /// Takes the activity posted into a conversation whose id starts with `conversation` (a
    /// channel's threads, a personal chat) and contains `words`.
    #[track_caller]
    pub fn expect_post(&self, conversation: &str, words: &str) -> ConnectorCall {
        let prefix = format!("v3/conversations/{conversation}");
        self.expect(&format!("an activity in {conversation} saying {words:?}"), |c| {
            c.method == "POST"
                && c.path.starts_with(&prefix)
                && c.path.ends_with("/activities")
                && says(c, words)
        })
    }

    /// Takes the card update (`PUT`) containing `words`.
    #[track_caller]
    pub fn expect_update(&self, words: &str) -> ConnectorCall {
        self.expect(&format!("an update saying {words:?}"), |c| c.method == "PUT" && says(c, words))
    }

    /// Takes every activity not taken yet that `want` accepts, in order.
    pub fn take_where(&self, want: impl Fn(&ConnectorCall) -> bool) -> Vec<ConnectorCall> {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        inner.taken.all(&inner.calls, want)
    }

    /// Fails listing every activity or update the test did not take.
    #[track_caller]
    pub fn assert_nothing_unexpected(&self) {
        let inner = lock(&self.inner);
        expect::nothing_left("Teams", &inner.taken.leftovers(&inner.calls));
    }
}
