//! [`FakeDiscord`]'s side of [`super::expect`]: a test takes the messages, edits and
//! follow-ups it expected, then [`FakeDiscord::assert_nothing_unexpected`] fails on any other.

use super::{DiscordCall, FakeDiscord, lock};
use crate::testing::expect::{self, Sent};

impl Sent for DiscordCall {
    /// Message creates and edits, and interaction follow-ups (webhooks); not DM channel opens,
    /// command registration or reads.
    fn is_sent(&self) -> bool {
        let writes = matches!(self.method.as_str(), "POST" | "PATCH");
        let message = self.path.contains("/messages") || self.path.starts_with("/api/v10/webhooks/");
        self.failure.is_none() && writes && message && self.path != "/api/v10/users/@me/channels"
    }

    fn describe(&self) -> String {
        format!("{} {} {}", self.method, self.path, expect::short(&self.body))
    }
}

fn says(call: &DiscordCall, words: &str) -> bool {
    call.body.to_string().contains(words)
}

impl FakeDiscord {
    /// Takes the first sent call not taken yet that `want` accepts; panics listing the calls
    /// not taken when there is none.
    #[track_caller]
    pub fn expect(&self, what: &str, want: impl Fn(&DiscordCall) -> bool) -> DiscordCall {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        match inner.taken.first(&inner.calls, want) {
            Some(call) => call,
            None => expect::missing("Discord", what, &inner.taken.leftovers(&inner.calls)),
        }
    }

    /// Takes the message created in `channel` whose JSON body contains `words`.
    #[track_caller]
    pub fn expect_post(&self, channel: &str, words: &str) -> DiscordCall {
        let path = format!("/api/v10/channels/{channel}/messages");
        self.expect(&format!("a message in {channel} saying {words:?}"), |c| {
            c.method == "POST" && c.path == path && says(c, words)
        })
    }

    /// Takes the direct message to `user` whose JSON body contains `words`.
    #[track_caller]
    pub fn expect_dm(&self, user: &str, words: &str) -> DiscordCall {
        let channel =
            lock(&self.inner).state.dm_channels.iter().find(|(u, _)| u == user).map(|(_, c)| c.clone());
        let path = format!("/api/v10/channels/{}/messages", channel.unwrap_or_default());
        self.expect(&format!("a DM to {user} saying {words:?}"), |c| {
            c.method == "POST" && c.path == path && says(c, words)
        })
    }

    /// Takes the message edit whose JSON body contains `words`.
    #[track_caller]
    pub fn expect_edit(&self, words: &str) -> DiscordCall {
        self.expect(&format!("an edit saying {words:?}"), |c| {
            c.method == "PATCH" && c.path.starts_with("/api/v10/channels/") && says(c, words)
        })
    }

    /// Takes every sent call not taken yet that `want` accepts, in order.
    pub fn take_where(&self, want: impl Fn(&DiscordCall) -> bool) -> Vec<DiscordCall> {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        inner.taken.all(&inner.calls, want)
    }

    /// Fails listing every message, edit or follow-up the test did not take.
    #[track_caller]
    pub fn assert_nothing_unexpected(&self) {
        let inner = lock(&self.inner);
        expect::nothing_left("Discord", &inner.taken.leftovers(&inner.calls));
    }
}
