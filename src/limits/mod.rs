//! The per-person command rate limit (`[limits] commands_per_minute`, default 10).
//!
//! Every chat command, button click and form submission on Slack, Discord and Teams passes
//! [`CommandLimiter::check`] before anything else is done for it: before the replay record,
//! before the database is read, before any state changes. A person over the limit is answered
//! at once with an ephemeral "slow down, try again in Ns" ([`Limited::text`]) and counted in
//! `pimbot_commands_limited_total{platform}`; nothing else happens. So a script, a stuck client
//! or a replayed burst costs one in-memory check per message and never slows anyone else down.
//!
//! The limiter is `governor`'s keyed GCRA limiter: each chat user (platform and user id) holds a
//! bucket of `commands_per_minute` cells, one cell coming back every `60 s / commands_per_minute`.
//! It runs on pimbot's [`Clock`] port, so tests with a manual clock see the limit free up when
//! they move the clock. The limit is per replica (held in memory): with N replicas behind a
//! round-robin balancer a person may get up to N times the limit, still bounded.

use std::num::NonZeroU32;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use governor::clock::Clock as _;
use governor::{Quota, RateLimiter};

use crate::core::ids::ChatUser;
use crate::core::ports::Clock;

/// Above this many remembered users, buckets that are full again are forgotten, so a flood of
/// made-up user ids cannot grow the limiter without bound.
const FORGET_ABOVE: usize = 10_000;

/// `governor`'s clock on pimbot's [`Clock`] port (time since the Unix epoch).
#[derive(Clone)]
pub struct PortClock(pub Arc<dyn Clock>);

impl governor::clock::Clock for PortClock {
    type Instant = std::time::Duration;

    fn now(&self) -> std::time::Duration {
        let since_epoch = self.0.now() - DateTime::<Utc>::UNIX_EPOCH;
        since_epoch.to_std().unwrap_or_default()
    }
}

type Keyed = RateLimiter<
    ChatUser,
    governor::state::keyed::HashMapStateStore<ChatUser>,
    PortClock,
    governor::middleware::NoOpMiddleware<std::time::Duration>,
>;

/// A command refused by the rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// How long until the next command is accepted.
    pub retry_after: std::time::Duration,
}

impl Limited {
    /// The ephemeral answer: whole seconds, rounded up, at least one.
    pub fn text(&self) -> String {
        let seconds = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        format!("⏳ Slow down: too many commands. Try again in {}s.", seconds.max(1))
    }
}

/// The per-chat-user command limiter shared by every platform's inbound handlers.
pub struct CommandLimiter {
    limiter: Keyed,
    clock: PortClock,
    per_minute: NonZeroU32,
}

impl std::fmt::Debug for CommandLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandLimiter").field("per_minute", &self.per_minute).finish_non_exhaustive()
    }
}

impl CommandLimiter {
    /// A limiter allowing `per_minute` commands per chat user (0 is taken as 1), on `clock`.
    pub fn new(per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let clock = PortClock(clock);
        let limiter = RateLimiter::hashmap_with_clock(Quota::per_minute(per_minute), clock.clone());
        Self { limiter, clock, per_minute }
    }

    /// The configured commands per minute.
    pub fn per_minute(&self) -> u32 {
        self.per_minute.get()
    }

    /// Takes one command of `user`'s allowance, or refuses it (and counts the refusal).
    pub fn check(&self, user: &ChatUser) -> Result<(), Limited> {
        let outcome = self.limiter.check_key(user);
        if self.limiter.len() > FORGET_ABOVE {
            self.limiter.retain_recent();
        }
        match outcome {
            Ok(()) => Ok(()),
            Err(not_until) => {
                crate::metrics::command_limited(user.platform.as_str());
                tracing::info!(platform = user.platform.as_str(), user = %user.id, "command refused by the rate limit");
                Err(Limited { retry_after: not_until.wait_time_from(self.clock.now()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::ManualClock;

    fn limiter(per_minute: u32) -> (CommandLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        (CommandLimiter::new(per_minute, clock.clone()), clock)
    }

    #[test]
    fn the_eleventh_command_in_a_minute_is_refused_with_the_wait() {
        let (limiter, _clock) = limiter(10);
        let alice = ChatUser::slack("U0ALICE");
        for _ in 0..10 {
            assert_eq!(limiter.check(&alice), Ok(()));
        }
        let refused = limiter.check(&alice).expect_err("the 11th is refused");
        assert_eq!(refused.retry_after, std::time::Duration::from_secs(6));
        assert_eq!(refused.text(), "⏳ Slow down: too many commands. Try again in 6s.");
    }

    #[test]
    fn other_people_and_platforms_keep_their_own_allowance() {
        let (limiter, _clock) = limiter(2);
        let alice = ChatUser::slack("U0ALICE");
        for _ in 0..2 {
            limiter.check(&alice).expect("within the limit");
        }
        assert!(limiter.check(&alice).is_err());
        limiter.check(&ChatUser::slack("U0BOB")).expect("bob is unaffected");
        limiter.check(&ChatUser::discord("U0ALICE")).expect("another platform's user is another bucket");
    }

    #[test]
    fn the_allowance_comes_back_with_time() {
        let (limiter, clock) = limiter(10);
        let alice = ChatUser::teams("0a");
        for _ in 0..10 {
            limiter.check(&alice).expect("within the limit");
        }
        assert!(limiter.check(&alice).is_err());
        clock.advance(chrono::Duration::seconds(6));
        limiter.check(&alice).expect("one cell back after 6 s");
        assert!(limiter.check(&alice).is_err());
        clock.advance(chrono::Duration::minutes(1));
        for _ in 0..10 {
            limiter.check(&alice).expect("the whole allowance after a minute");
        }
    }

    #[test]
    fn a_zero_limit_is_taken_as_one() {
        let (limiter, _clock) = limiter(0);
        assert_eq!(limiter.per_minute(), 1);
    }
}
