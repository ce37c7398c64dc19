//! Access-review campaigns, end to end: start one per review and period (cards to reviewers),
//! record Keep / Remove clicks, nudge before the deadline, apply the default at it, and apply
//! each decision (Graph `adminRemove` of the eligibility schedule, or a recorded removal of
//! policy-held eligibility that the eligibility check honours at once). Every step is its own
//! compare-and-set commit with its audit event and messages; a sweep retries what a crash or
//! a failing directory left undone. The rules are in `core::reviews`.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::alerts::event;
use super::messages::feed;
use super::review_cards::{cards, dm_reviewers};
use crate::core::audit::{Actor, EventKind};
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, PersonId, RoleKey};
use crate::core::policy::{Person, Policy, Role};
use crate::core::ports::{Commit, EligibilityRemoval, GovernanceWrites, Write};
use crate::core::reviews::{Campaign, EligibilityOrigin, Review, ReviewDecision, ReviewItem, nudge_before};

/// Review items one sweep handles at most.
const ITEM_BATCH: i64 = 200;

fn random_id(prefix: &str) -> String {
    let id = crate::core::ids::RequestId::generate();
    format!("{prefix}-{}", id.as_str().trim_start_matches("r-"))
}

impl AccessService {
    /// One pass of the review schedule: start due campaigns, then nudge, default and apply due
    /// items, then close finished campaigns and forget removals the policy file has caught up
    /// with. Returns the number of steps taken.
    pub async fn review_sweep(&self) -> Result<usize> {
        let policy = self.policy();
        let mut steps = 0;
        for review in &policy.reviews {
            match self.start_campaign(&policy, review).await {
                Ok(true) => steps += 1,
                Ok(false) | Err(Error::Conflict(_)) => {}
                Err(e) => {
                    tracing::error!(review = %review.key, error = %format!("{e:#}"), "starting a review campaign failed")
                }
            }
        }
        for item in self.store.due_review_items(self.now(), ITEM_BATCH).await? {
            match self.step_item(&policy, item).await {
                Ok(true) => steps += 1,
                Ok(false) | Err(Error::Conflict(_)) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "a review step failed; will retry next pass")
                }
            }
        }
        steps += self.close_campaigns().await?;
        self.forget_caught_up(&policy).await?;
        Ok(steps)
    }

    async fn start_campaign(&self, policy: &Policy, review: &Review) -> Result<bool> {
        let now = self.now();
        let start = review.cadence.period_start(now);
        if self.store.campaign_exists(&review.key, start).await? {
            return Ok(false);
        }
        // Started late (after downtime), reviewers still get the full time to answer, but a
        // campaign never runs into the next period.
        let deadline = (start.max(now) + review.duration).min(review.cadence.next_start(now));
        if deadline <= now {
            return Ok(false);
        }
        let history = self.history(now - review.cadence.length()).await?;
        let campaign = Campaign {
            id: random_id("rc"),
            review: review.key.clone(),
            period_start: start,
            deadline,
            started_at: now,
            completed_at: None,
        };
        let mut items = Vec::new();
        for key in &review.roles {
            let Ok(role) = policy.role(key) else { continue };
            for (person, origin) in self.eligible_people(policy, role, now).await? {
                let uses: Vec<_> =
                    history.activations.iter().filter(|a| a.person == person.id && &a.role == key).collect();
                let last = uses
                    .last()
                    .map_or("never in the period".to_owned(), |a| a.at.format("%Y-%m-%d").to_string());
                let reasons: Vec<String> = uses
                    .iter()
                    .rev()
                    .filter_map(|a| a.justification.clone())
                    .take(3)
                    .map(|j| format!("“{}”", j.chars().take(120).collect::<String>()))
                    .collect();
                let mut text = format!(
                    "{} activation(s) since {}; last used: {last}",
                    uses.len(),
                    (now - review.cadence.length()).format("%Y-%m-%d")
                );
                if !reasons.is_empty() {
                    text.push_str(&format!("\nRecent justifications: {}", reasons.join(", ")));
                }
                items.push(ReviewItem {
                    id: random_id("ri"),
                    campaign: campaign.id.clone(),
                    reviewers: review.reviewers(role, &person.id),
                    person: person.id.clone(),
                    role: key.clone(),
                    origin,
                    default: review.default,
                    deadline,
                    nudge_at: Some(deadline - nudge_before(deadline - now)),
                    decision: None,
                    decided_by: None,
                    decided_at: None,
                    applied_at: None,
                    history: text,
                    version: 1,
                });
            }
        }
        let mut outbox = feed(
            &self.channels,
            &campaign.id,
            &format!(
                "📋 Access review {} started: {} eligibilit{} to review by {} (unanswered: {})",
                crate::core::text::strong(&review.key),
                items.len(),
                if items.len() == 1 { "y" } else { "ies" },
                deadline.format("%Y-%m-%d %H:%M UTC"),
                review.default.as_str()
            ),
        );
        for item in &items {
            outbox.extend(cards(&self.channels, policy, item, false));
        }
        let detail = json!({"campaign": campaign.id, "review": review.key, "period_start": start, "deadline": deadline, "items": items.len()});
        let audit = vec![event(now, Actor::System, EventKind::ReviewStarted, None, detail)];
        let governance = GovernanceWrites {
            campaigns: vec![campaign],
            items: items.into_iter().map(Write::Insert).collect(),
            ..GovernanceWrites::default()
        };
        self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await?;
        Ok(true)
    }

    /// Who holds an eligibility for `role` now, and where: the directory's schedules when it
    /// holds eligibility (`eligibility = "graph"`, asked per person the policy knows), else the
    /// policy's lists without the removals already recorded.
    async fn eligible_people(
        &self,
        policy: &Policy,
        role: &Role,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Person, EligibilityOrigin)>> {
        let mut out = Vec::new();
        for person in &policy.people {
            match self.directory.eligible_roles(person, std::slice::from_ref(role), now).await? {
                Some(keys) if keys.contains(&role.key) => {
                    out.push((person.clone(), EligibilityOrigin::Directory))
                }
                Some(_) => {}
                None if role.is_eligible(&person.id, now)
                    && !self.store.eligibility_removed(&person.id, &role.key).await? =>
                {
                    out.push((person.clone(), EligibilityOrigin::Policy))
                }
                None => {}
            }
        }
        Ok(out)
    }

    /// Nudges, defaults or applies one due item.
    async fn step_item(&self, policy: &Policy, mut item: ReviewItem) -> Result<bool> {
        let now = self.now();
        let expected_version = item.version;
        if item.decision.is_some() {
            return self.apply_item(policy, item).await.map(|()| true);
        }
        if now >= item.deadline {
            item.default_at_deadline(now)?;
            let detail = json!({"item": item.id, "person": item.person, "decision": item.default.as_str(), "default": true});
            let audit = vec![event(now, Actor::System, EventKind::ReviewDecided, Some(&item.role), detail)];
            let outbox = cards(&self.channels, policy, &item, true);
            let governance = GovernanceWrites {
                items: vec![Write::Update { row: item.clone(), expected_version }],
                ..GovernanceWrites::default()
            };
            self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await?;
            item.version += 1;
            self.apply_item(policy, item).await?;
            return Ok(true);
        }
        if item.nudge_at.is_some_and(|at| at <= now) {
            item.nudge_at = None;
            let text = format!(
                "⏰ Reminder: does {} still need `{}`? Answer on the review card by {}; unanswered, the default applies: {}.",
                item.person,
                item.role,
                item.deadline.format("%Y-%m-%d %H:%M UTC"),
                crate::core::text::strong(item.default.as_str())
            );
            let outbox = dm_reviewers(&self.channels, policy, &item, &text);
            let detail = json!({"item": item.id, "person": item.person});
            let audit = vec![event(now, Actor::System, EventKind::ReviewNudged, Some(&item.role), detail)];
            let governance = GovernanceWrites {
                items: vec![Write::Update { row: item, expected_version }],
                ..GovernanceWrites::default()
            };
            self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Makes a recorded decision take effect, then marks the item applied.
    async fn apply_item(&self, policy: &Policy, mut item: ReviewItem) -> Result<()> {
        let now = self.now();
        let expected_version = item.version;
        let mut governance = GovernanceWrites::default();
        let mut how = "kept";
        if item.decision == Some(ReviewDecision::Remove) {
            let role = policy.role(&item.role)?;
            let person = policy.person(&item.person).cloned();
            let in_directory = match (&person, item.origin) {
                (Some(p), EligibilityOrigin::Directory) => self.directory.remove_eligibility(p, role).await?,
                _ => false,
            };
            if in_directory {
                how = "removed in the directory (adminRemove of the eligibility schedule)";
            } else {
                how = "removed: pimbot no longer honours it; `pimbot review changes` shows the policy edit";
                governance.removals.push(EligibilityRemoval {
                    person: item.person.clone(),
                    role: item.role.clone(),
                    removed_at: now,
                    item_id: Some(item.id.clone()),
                });
            }
        }
        item.applied_at = Some(now);
        let decision = item.decision.map_or("?", |d| d.as_str());
        let by = item.decided_by.as_ref().map_or("the review's default".to_owned(), |p| p.to_string());
        let detail = json!({"item": item.id, "person": item.person, "decision": decision, "origin": item.origin.as_str(), "by": item.decided_by});
        let audit = vec![event(now, Actor::System, EventKind::ReviewApplied, Some(&item.role), detail)];
        let outbox = feed(
            &self.channels,
            &item.campaign,
            &format!("📋 Review: {}'s `{}` {how} ({decision} by {by})", item.person, item.role),
        );
        governance.items.push(Write::Update { row: item, expected_version });
        self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await
    }

    async fn close_campaigns(&self) -> Result<usize> {
        let now = self.now();
        let mut closed = 0;
        for (campaign, undecided, unapplied) in self.store.campaign_statuses().await? {
            if campaign.completed_at.is_some() || undecided > 0 || unapplied > 0 {
                continue;
            }
            let detail = json!({"campaign": campaign.id, "review": campaign.review});
            let audit = vec![event(now, Actor::System, EventKind::ReviewCompleted, None, detail)];
            let outbox = feed(
                &self.channels,
                &campaign.id,
                &format!(
                    "✅ Access review {} of {} is complete: every decision is applied",
                    crate::core::text::strong(&campaign.review),
                    campaign.period_start.format("%Y-%m-%d")
                ),
            );
            let governance = GovernanceWrites {
                completed: vec![(campaign.id.clone(), now)],
                ..GovernanceWrites::default()
            };
            match self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await
            {
                Ok(()) => closed += 1,
                Err(Error::Conflict(_)) => {} // another replica closed it
                Err(e) => return Err(e),
            }
        }
        Ok(closed)
    }

    /// Removals the policy file no longer lists are done; forgetting them lets a later,
    /// deliberate re-add be honoured.
    async fn forget_caught_up(&self, policy: &Policy) -> Result<()> {
        let stale: Vec<(PersonId, RoleKey)> = self
            .store
            .eligibility_removals()
            .await?
            .into_iter()
            .filter(|r| {
                policy.role(&r.role).map_or(true, |role| !role.eligible.iter().any(|e| e.person == r.person))
            })
            .map(|r| (r.person, r.role))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let governance = GovernanceWrites { forget_removals: stale, ..GovernanceWrites::default() };
        self.commit(Commit { at: Some(self.now()), governance, ..Commit::default() }).await
    }

    /// A reviewer's Keep or Remove on a card; the decision is applied at once.
    pub async fn decide_review(
        &self,
        user: &ChatUser,
        item_id: &str,
        decision: ReviewDecision,
    ) -> Result<ReviewItem> {
        let policy = self.policy();
        let who = super::whois(&policy, user)?;
        let now = self.now();
        let mut item = self
            .store
            .review_item(item_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no review item `{item_id}`")))?;
        let expected_version = item.version;
        item.decide(&who.id, decision, now)?;
        let detail =
            json!({"item": item.id, "person": item.person, "decision": decision.as_str(), "default": false});
        let audit = vec![event(
            now,
            Actor::Person(who.id.clone()),
            EventKind::ReviewDecided,
            Some(&item.role),
            detail,
        )];
        let outbox = cards(&self.channels, &policy, &item, true);
        let governance = GovernanceWrites {
            items: vec![Write::Update { row: item.clone(), expected_version }],
            ..GovernanceWrites::default()
        };
        self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await?;
        item.version += 1;
        if let Err(e) = self.apply_item(&policy, item.clone()).await {
            // Recorded; the sweep applies it on its next pass.
            tracing::error!(item = %item.id, error = %format!("{e:#}"), "applying a review decision failed; will retry");
        }
        Ok(item)
    }

    /// `/pim reviews`: the open items the caller must review.
    pub async fn my_reviews(&self, user: &ChatUser) -> Result<Vec<ReviewItem>> {
        let policy = self.policy();
        let who = super::whois(&policy, user)?;
        Ok(self
            .store
            .open_review_items(1000)
            .await?
            .into_iter()
            .filter(|i| i.reviewers.contains(&who.id))
            .collect())
    }
}
