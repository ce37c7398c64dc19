//! Access reviews as campaigns (`[[review]]`): which eligibilities are reviewed, by whom, how
//! often, and what happens to an unanswered one. Pure rules with `now` a parameter: periods,
//! reviewers, who may decide an item and when it is nudged or defaulted. Storing campaigns and
//! acting on decisions belong to `service::reviews`.
//!
//! Invariants the service keeps with these rules and the database:
//! - one campaign per review and period (unique `(review, period_start)`), so two replicas
//!   starting the same period produce one;
//! - one decision per item: deciding is a compare-and-set from "undecided", so a late click and
//!   the deadline's default never both apply;
//! - a decision is applied (eligibility removed) after it is recorded, and a sweep retries until
//!   `applied_at` is set, so a crash between the two never loses a removal.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::duration::{format_duration, parse_duration};
use super::error::{Error, Result};
use super::ids::{PersonId, RoleKey};
use super::policy::Role;
use super::refusal::Rule;

/// Who reviews an eligibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewer {
    /// The eligible person (`self`): they attest they still need it.
    Holder,
    /// The role's `owners`.
    Owner,
    /// The role's approvers.
    Approvers,
    /// Named people (a person id or an `@group`, expanded).
    People(Vec<PersonId>),
}

/// How often a review recurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// The first of every month, UTC.
    Monthly,
    /// The first of January, April, July and October, UTC.
    Quarterly,
    /// Every fixed duration, counted from the Unix epoch.
    Every(Duration),
}

impl Cadence {
    /// Parses `monthly`, `quarterly` or a duration (`14d`).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "monthly" => Ok(Cadence::Monthly),
            "quarterly" => Ok(Cadence::Quarterly),
            other => parse_duration(other)
                .map(Cadence::Every)
                .map_err(|e| format!("{e}; or write \"monthly\" or \"quarterly\"")),
        }
    }

    /// The start of the period `now` falls in.
    pub fn period_start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let first = |y: i32, m: u32| {
            NaiveDate::from_ymd_opt(y, m, 1)
                .map_or(now, |d| d.and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc()))
        };
        match self {
            Cadence::Monthly => first(now.year(), now.month()),
            Cadence::Quarterly => first(now.year(), (now.month() - 1) / 3 * 3 + 1),
            Cadence::Every(d) => {
                let secs = d.num_seconds().max(1);
                DateTime::from_timestamp(now.timestamp().div_euclid(secs) * secs, 0).unwrap_or(now)
            }
        }
    }

    /// The start of the period after the one `now` falls in.
    pub fn next_start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Cadence::Monthly => self.period_start(self.period_start(now) + Duration::days(32)),
            Cadence::Quarterly => self.period_start(self.period_start(now) + Duration::days(95)),
            Cadence::Every(d) => self.period_start(now) + d,
        }
    }

    /// The longest a period lasts.
    pub fn length(self) -> Duration {
        match self {
            Cadence::Monthly => Duration::days(31),
            Cadence::Quarterly => Duration::days(92),
            Cadence::Every(d) => d,
        }
    }

    /// Human form.
    pub fn describe(self) -> String {
        match self {
            Cadence::Monthly => "monthly".into(),
            Cadence::Quarterly => "quarterly".into(),
            Cadence::Every(d) => format!("every {}", format_duration(d)),
        }
    }
}

/// What an item becomes when nobody answers by the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewDecision {
    /// The eligibility stays.
    Keep,
    /// The eligibility is removed.
    Remove,
}

impl ReviewDecision {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Keep => "keep",
            ReviewDecision::Remove => "remove",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [ReviewDecision::Keep, ReviewDecision::Remove].into_iter().find(|d| d.as_str() == s)
    }
}

/// One `[[review]]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Stable name (campaigns are keyed by it): `name`, or derived from the roles and tiers.
    pub key: String,
    /// The roles under review (tiers expanded).
    pub roles: Vec<RoleKey>,
    /// Who decides.
    pub reviewer: Reviewer,
    /// How often.
    pub cadence: Cadence,
    /// How long reviewers have to answer.
    pub duration: Duration,
    /// Applied to unanswered items at the deadline.
    pub default: ReviewDecision,
}

/// How long before the deadline an undecided item is nudged: a day, or half the answer time
/// when that is shorter.
pub fn nudge_before(duration: Duration) -> Duration {
    Duration::days(1).min(duration / 2)
}

impl Review {
    /// Whether the review covers `role`.
    pub fn covers(&self, role: &RoleKey) -> bool {
        self.roles.contains(role)
    }

    /// Who reviews `person`'s eligibility for `role`. Nobody reviews their own eligibility
    /// except with `reviewer = "self"`.
    pub fn reviewers(&self, role: &Role, person: &PersonId) -> Vec<PersonId> {
        let pool = match &self.reviewer {
            Reviewer::Holder => return vec![person.clone()],
            Reviewer::Owner => role.owners.clone(),
            Reviewer::Approvers => role.approvers.clone(),
            Reviewer::People(people) => people.clone(),
        };
        pool.into_iter().filter(|p| p != person).collect()
    }
}

/// Where an eligibility under review is held, which decides how "remove" is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EligibilityOrigin {
    /// The policy file's `eligible` list: pimbot records the removal and reports the file change.
    Policy,
    /// A PIM eligibility schedule in the directory: removed with `adminRemove`.
    Directory,
}

impl EligibilityOrigin {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EligibilityOrigin::Policy => "policy",
            EligibilityOrigin::Directory => "directory",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [EligibilityOrigin::Policy, EligibilityOrigin::Directory].into_iter().find(|d| d.as_str() == s)
    }
}

/// One review period of one `[[review]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// Id (`rc-…`).
    pub id: String,
    /// The review's key.
    pub review: String,
    /// Start of the period.
    pub period_start: DateTime<Utc>,
    /// When unanswered items get the default.
    pub deadline: DateTime<Utc>,
    /// When it was started.
    pub started_at: DateTime<Utc>,
    /// When every item was decided and applied.
    pub completed_at: Option<DateTime<Utc>>,
}

/// One eligibility under review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItem {
    /// Id (`ri-…`), the value of the Keep / Remove buttons.
    pub id: String,
    /// The campaign.
    pub campaign: String,
    /// Whose eligibility.
    pub person: PersonId,
    /// For which role.
    pub role: RoleKey,
    /// Who may decide.
    pub reviewers: Vec<PersonId>,
    /// Where the eligibility is held.
    pub origin: EligibilityOrigin,
    /// The default applied at the deadline.
    pub default: ReviewDecision,
    /// When unanswered, the default applies.
    pub deadline: DateTime<Utc>,
    /// When the reminder is due; `None` once sent.
    pub nudge_at: Option<DateTime<Utc>>,
    /// The decision, once made.
    pub decision: Option<ReviewDecision>,
    /// Who decided; `None` for the default.
    pub decided_by: Option<PersonId>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the decision took effect.
    pub applied_at: Option<DateTime<Utc>>,
    /// The person's history shown on the card.
    pub history: String,
    /// Compare-and-set version.
    pub version: i64,
}

impl ReviewItem {
    /// Records `who`'s decision at `now`: only a reviewer, only once, only before the deadline.
    pub fn decide(&mut self, who: &PersonId, decision: ReviewDecision, now: DateTime<Utc>) -> Result<()> {
        if !self.reviewers.contains(who) {
            return Err(Error::NotAuthorized(format!(
                "you are not a reviewer of {}'s eligibility for `{}`",
                self.person, self.role
            )));
        }
        self.check_open(now)?;
        self.decision = Some(decision);
        self.decided_by = Some(who.clone());
        self.decided_at = Some(now);
        self.nudge_at = None;
        Ok(())
    }

    /// Applies the default at the deadline.
    pub fn default_at_deadline(&mut self, now: DateTime<Utc>) -> Result<()> {
        if self.decision.is_some() {
            return Err(Error::Conflict(format!("review item {} is already decided", self.id)));
        }
        if now < self.deadline {
            return Err(Error::policy(Rule::ReviewWindow, format!("review item {} is not due yet", self.id)));
        }
        self.decision = Some(self.default);
        self.decided_by = None;
        self.decided_at = Some(now);
        self.nudge_at = None;
        Ok(())
    }

    fn check_open(&self, now: DateTime<Utc>) -> Result<()> {
        if let Some(d) = self.decision {
            let by = self.decided_by.as_ref().map_or("the review's default".to_owned(), |p| p.to_string());
            return Err(Error::Conflict(format!(
                "{}'s `{}` was already decided: {} by {by}",
                self.person,
                self.role,
                d.as_str()
            )));
        }
        if now >= self.deadline {
            return Err(Error::policy(
                Rule::ReviewWindow,
                format!(
                    "the review of {}'s `{}` closed at {}; its default applies",
                    self.person,
                    self.role,
                    self.deadline.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        Ok(())
    }

    /// Whether it still waits for a decision.
    pub fn is_open(&self) -> bool {
        self.decision.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().expect("valid")
    }

    #[test]
    fn cadences_align_to_calendar_periods() {
        let now = at(2026, 11, 21, 13);
        assert_eq!(Cadence::Monthly.period_start(now), at(2026, 11, 1, 0));
        assert_eq!(Cadence::Monthly.next_start(now), at(2026, 12, 1, 0));
        assert_eq!(Cadence::Quarterly.period_start(now), at(2026, 10, 1, 0));
        assert_eq!(Cadence::Quarterly.next_start(now), at(2027, 1, 1, 0));
        let week = Cadence::parse("7d").expect("parses");
        assert_eq!(week.period_start(now) + Duration::days(7), week.next_start(now));
        assert!(week.period_start(now) <= now && now < week.next_start(now));
        assert!(Cadence::parse("sometimes").is_err());
        assert_eq!(Cadence::parse("Quarterly"), Ok(Cadence::Quarterly));
    }

    fn item() -> ReviewItem {
        ReviewItem {
            id: "ri-1".into(),
            campaign: "rc-1".into(),
            person: "bob".into(),
            role: "global-admin".into(),
            reviewers: vec!["carol".into()],
            origin: EligibilityOrigin::Policy,
            default: ReviewDecision::Remove,
            deadline: at(2026, 11, 8, 0),
            nudge_at: Some(at(2026, 11, 7, 0)),
            decision: None,
            decided_by: None,
            decided_at: None,
            applied_at: None,
            history: String::new(),
            version: 1,
        }
    }

    #[test]
    fn only_a_reviewer_decides_once_and_before_the_deadline() {
        let before = at(2026, 11, 2, 0);
        let mut i = item();
        assert!(matches!(
            i.decide(&"bob".into(), ReviewDecision::Keep, before),
            Err(Error::NotAuthorized(_))
        ));
        assert!(i.decide(&"carol".into(), ReviewDecision::Keep, at(2026, 11, 8, 0)).is_err(), "closed");
        i.decide(&"carol".into(), ReviewDecision::Keep, before).expect("decides");
        assert_eq!(i.nudge_at, None);
        assert!(matches!(i.decide(&"carol".into(), ReviewDecision::Remove, before), Err(Error::Conflict(_))));
        assert!(i.default_at_deadline(at(2026, 11, 9, 0)).is_err(), "a decided item keeps its decision");

        let mut open = item();
        assert!(open.default_at_deadline(before).is_err(), "not due");
        open.default_at_deadline(at(2026, 11, 8, 0)).expect("defaults");
        assert_eq!((open.decision, open.decided_by), (Some(ReviewDecision::Remove), None));
    }

    #[test]
    fn nudges_come_a_day_ahead_or_halfway() {
        assert_eq!(nudge_before(Duration::days(7)), Duration::days(1));
        assert_eq!(nudge_before(Duration::hours(4)), Duration::hours(2));
    }
}
