//! Raising break-glass alarms, one per incident: the sign-ins of one account join its open
//! alarm instead of raising one each, so a webhook reporting 1,500 sign-ins pages once, with a
//! card that counts them and shows the latest. Each sign-in is recorded under its dedupe key,
//! so a retried webhook (or the same sign-in reported twice) counts once. A sign-in after a
//! quiet spell longer than `coalesce_window` since the alarm's latest pages again at once.
//!
//! Invariant: at most one open alarm per account (a unique index on `alarms.open_account`);
//! two webhooks racing to raise the first both try to insert it, one wins, the other reads
//! again and joins.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::json;

use super::AccessService;
use super::alarm::{audit, post_page, update_pages};
use super::messages::feed;
use crate::core::alarm::{Alarm, AlarmSignIn, SignIn, alarm_key, feed_line};
use crate::core::audit::{Actor, EventKind};
use crate::core::break_glass;
use crate::core::error::{Error, Result};
use crate::core::ids::AlarmId;
use crate::core::ports::{Commit, Write};

/// Default window within which sign-ins of one account join one alarm.
pub const DEFAULT_COALESCE_WINDOW: Duration = Duration::minutes(10);
/// How often raising for one account is retried after losing a race.
const RAISE_ATTEMPTS: u32 = 16;

/// What raising did for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    /// The alarm, as stored.
    pub alarm: Alarm,
    /// Whether it was raised now (false: the sign-ins joined an open alarm).
    pub new: bool,
    /// How many new sign-ins it took.
    pub added: usize,
}

impl AccessService {
    /// Sets `[break_glass_monitor] coalesce_window`.
    pub fn with_coalesce_window(mut self, window: Duration) -> Self {
        self.coalesce_window = window;
        self
    }

    /// Raises or joins alarms for `signins`: grouped by break-glass account, each group is one
    /// commit (a new alarm, or its open alarm updated in place). Sign-ins of other accounts
    /// and sign-ins already known are left out; accounts with nothing new are not reported.
    pub async fn raise_all(&self, signins: &[SignIn]) -> Result<Vec<Raised>> {
        let policy = self.policy();
        let mut by_account: BTreeMap<String, Vec<SignIn>> = BTreeMap::new();
        for signin in signins {
            match break_glass::account(&policy, &signin.upn, signin.object_id.as_deref()) {
                Some(account) => by_account.entry(account.upn.clone()).or_default().push(signin.clone()),
                None => {
                    tracing::info!(upn = %signin.upn, "sign-in by an account that is not a break-glass account; ignored")
                }
            }
        }
        let mut out = Vec::new();
        for (account, mut group) in by_account {
            group.sort_by_key(|s| s.at);
            let mut seen = std::collections::HashSet::new();
            group.retain(|s| seen.insert(s.signin_id.clone()));
            if let Some(raised) = self.raise_for(&account, group).await? {
                out.push(raised);
            }
        }
        Ok(out)
    }

    /// One account's sign-ins (distinct, oldest first). Optimistic: the first try assumes
    /// they are all new; a conflict (a known sign-in, a racing raise) reads again.
    async fn raise_for(&self, account: &str, mut group: Vec<SignIn>) -> Result<Option<Raised>> {
        for attempt in 1..=RAISE_ATTEMPTS {
            if attempt > 1 {
                let keys: Vec<String> = group.iter().map(|s| s.signin_id.clone()).collect();
                let known = self.store.known_signins(&keys).await?;
                group.retain(|s| !known.contains(&s.signin_id));
            }
            if group.is_empty() {
                tracing::info!(%account, "break-glass sign-ins already recorded; not paging twice");
                return Ok(None);
            }
            let open = self.store.open_alarm_for(account).await?;
            let attempt = match open {
                Some(alarm) => self.join(alarm, &group).await,
                None => self.raise_new(account, &group).await,
            };
            match attempt {
                Err(Error::Conflict(why)) => {
                    tracing::debug!(%account, %why, "raising lost a race; reading again")
                }
                other => return other.map(Some),
            }
        }
        Err(Error::Conflict(format!(
            "could not record the sign-ins of {account}; the webhook will be retried"
        )))
    }

    async fn raise_new(&self, account: &str, group: &[SignIn]) -> Result<Raised> {
        let policy = self.policy();
        let configured = break_glass::account(&policy, account, None)
            .ok_or_else(|| Error::NotFound(format!("{account} is no longer a break-glass account")))?;
        let now = self.now();
        let (first, rest) = group.split_first().ok_or_else(|| Error::BadInput("no sign-ins".into()))?;
        let mut alarm = Alarm::raise(AlarmId::generate(), configured, first, now, self.repage_every);
        alarm.join(rest, Duration::MAX, now);
        let mut outbox = post_page(&self.channels, &policy, &alarm, 1);
        outbox.extend(feed(&self.channels, &alarm_key(&alarm.id), &feed_line(&alarm)));
        let event = audit(
            now,
            Actor::System,
            EventKind::BreakglassSignin,
            &alarm,
            json!({"location": alarm.location, "app": alarm.app, "client": alarm.client,
                "ca_status": alarm.ca_status, "signins": alarm.signins, "first_at": alarm.first_at}),
        );
        let signins = group.iter().map(|s| AlarmSignIn::of(&alarm.id, s)).collect();
        self.commit(Commit {
            at: Some(now),
            alarms: vec![Write::Insert(alarm.clone())],
            signins,
            audit: vec![event],
            outbox,
            ..Commit::default()
        })
        .await?;
        tracing::warn!(alarm = %alarm.id, %account, signins = alarm.signins, "break-glass sign-in: alarm raised");
        Ok(Raised { alarm, new: true, added: group.len() })
    }

    async fn join(&self, mut alarm: Alarm, group: &[SignIn]) -> Result<Raised> {
        let policy = self.policy();
        let now = self.now();
        let expected_version = alarm.version;
        let new_wave = alarm.join(group, self.coalesce_window, now);
        // The card shows the count and the latest sign-in everywhere it was posted.
        let outbox = update_pages(&self.channels, &policy, &alarm);
        let event = audit(
            now,
            Actor::System,
            EventKind::BreakglassSigninsJoined,
            &alarm,
            json!({"added": group.len(), "latest_ip": alarm.ip, "latest_app": alarm.app,
                "first_at": alarm.first_at, "pages_again_now": new_wave}),
        );
        let signins = group.iter().map(|s| AlarmSignIn::of(&alarm.id, s)).collect();
        self.commit(Commit {
            at: Some(now),
            alarms: vec![Write::Update { row: alarm.clone(), expected_version }],
            signins,
            audit: vec![event],
            outbox,
            ..Commit::default()
        })
        .await?;
        tracing::warn!(alarm = %alarm.id, added = group.len(), total = alarm.signins, new_wave, "break-glass sign-ins joined the open alarm");
        Ok(Raised { alarm, new: false, added: group.len() })
    }
}
