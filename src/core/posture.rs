//! The posture check: PIM's four verification questions, answered from the policy and whatever
//! evidence the caller could gather (the directory's standing assignments, review campaigns and
//! delivery refusals from the database). Pure: the caller reads the evidence, this module only
//! judges it, so `pimbot posture` (CLI, CI on the policy repository) and `/pim posture` (chat)
//! give the same answers.
//!
//! 1. No human holds a permanent active assignment to a `critical` or `high` role, break-glass
//!    accounts aside.
//! 2. Every such role requires MFA, a justification, approval where `critical` (from a pool of at
//!    least two), and a duration ceiling within its tier's bound.
//! 3. Reviews cover them, recur, and their last finished campaign was completed with its
//!    decisions applied.
//! 4. Alerts are configured and routed to a reachable channel.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::duration::format_duration;
use super::ids::Platform;
use super::policy::{Policy, Role, Tier};
use super::ports::DirectoryAssignment;

/// The longest activation a tier's role may allow (the tier defaults of DESIGN.md §2).
pub fn tier_bound(tier: Tier) -> Duration {
    match tier {
        Tier::Critical => Duration::hours(2),
        Tier::High => Duration::hours(4),
        Tier::Standard => Duration::hours(8),
    }
}

/// Recent delivery refusals this old or younger count against question 4.
pub const REFUSAL_LOOKBACK: Duration = Duration::days(7);
/// How long into a period its campaign may be missing before question 3 fails.
pub const CAMPAIGN_GRACE: Duration = Duration::days(1);

/// Evidence the caller gathered, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence<T> {
    /// Read successfully.
    Read(T),
    /// Not applicable or not requested (static directory, `--offline`): not counted against.
    NotAvailable(String),
    /// Reading failed: the question cannot be answered, which fails it.
    Failed(String),
}

/// One campaign as question 3 needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignStatus {
    /// The review's key.
    pub review: String,
    /// Period start.
    pub period_start: DateTime<Utc>,
    /// Deadline.
    pub deadline: DateTime<Utc>,
    /// Items with no decision yet.
    pub undecided: usize,
    /// Items decided but not yet applied.
    pub unapplied: usize,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Where alerts of one platform go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRoute {
    /// Platform.
    pub platform: Platform,
    /// The `alert_channel` as configured (`None`: it falls back to the approver channel).
    pub alert_channel: Option<String>,
}

/// Everything the check reads.
#[derive(Debug, Clone)]
pub struct PostureInput<'a> {
    /// The resolved policy.
    pub policy: &'a Policy,
    /// When.
    pub now: DateTime<Utc>,
    /// Active assignments of the managed roles, from the directory.
    pub assignments: Evidence<Vec<DirectoryAssignment>>,
    /// Every campaign on record.
    pub campaigns: Evidence<Vec<CampaignStatus>>,
    /// The enabled platforms' alert routes.
    pub routes: Vec<AlertRoute>,
    /// Alert-channel messages the platforms refused within [`REFUSAL_LOOKBACK`].
    pub refused_alerts: Evidence<Vec<String>>,
}

/// One thing checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Whether it holds.
    pub ok: bool,
    /// What was checked (a role key, a review, a platform).
    pub subject: String,
    /// What was found, and for a failure what to change.
    pub detail: String,
}

/// One question's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// 1 to 4.
    pub number: u8,
    /// The question.
    pub question: &'static str,
    /// Whether every finding holds.
    pub ok: bool,
    /// The findings.
    pub findings: Vec<Finding>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostureReport {
    /// Whether all four questions hold.
    pub ok: bool,
    /// When it was assessed.
    pub at: DateTime<Utc>,
    /// The answers, in order.
    pub questions: Vec<Answer>,
}

fn ok(subject: impl Into<String>, detail: impl Into<String>) -> Finding {
    Finding { ok: true, subject: subject.into(), detail: detail.into() }
}

fn fail(subject: impl Into<String>, detail: impl Into<String>) -> Finding {
    Finding { ok: false, subject: subject.into(), detail: detail.into() }
}

fn answer(number: u8, question: &'static str, findings: Vec<Finding>) -> Answer {
    Answer { number, question, ok: findings.iter().all(|f| f.ok), findings }
}

fn privileged(policy: &Policy) -> impl Iterator<Item = &Role> {
    policy.roles.iter().filter(|r| matches!(r.tier, Tier::Critical | Tier::High))
}

/// Answers the four questions.
pub fn assess(input: &PostureInput<'_>) -> PostureReport {
    let questions = vec![
        answer(1, "No human holds a permanent active assignment to a critical or high role", standing(input)),
        answer(
            2,
            "Every critical and high role requires MFA, justification, approval where critical, and a bounded duration",
            rules(input.policy, input.now),
        ),
        answer(3, "Reviews cover those roles, recur, and completed with decisions applied", reviews(input)),
        answer(4, "Alerts are configured and routed to a reachable channel", alerts(input)),
    ];
    PostureReport { ok: questions.iter().all(|q| q.ok), at: input.now, questions }
}

fn standing(input: &PostureInput<'_>) -> Vec<Finding> {
    let listed = match &input.assignments {
        Evidence::Read(list) => list,
        Evidence::NotAvailable(why) => return vec![ok("directory", why.clone())],
        Evidence::Failed(why) => {
            return vec![fail("directory", format!("could not list assignments: {why}"))];
        }
    };
    let oid = |s: &str| s.trim().to_ascii_lowercase();
    let glass: Vec<String> =
        input.policy.break_glass.iter().filter_map(|b| b.object_id.as_deref().map(oid)).collect();
    let mut out = Vec::new();
    for role in privileged(input.policy) {
        let permanent: Vec<String> = listed
            .iter()
            .filter(|a| a.role == role.key && a.ends_at.is_none() && !glass.contains(&oid(&a.principal_id)))
            .map(|a| {
                let who = input
                    .policy
                    .people
                    .iter()
                    .find(|p| p.object_id.as_deref().is_some_and(|o| oid(o) == oid(&a.principal_id)));
                who.map_or_else(|| format!("principal {}", a.principal_id), |p| p.id.to_string())
            })
            .collect();
        out.push(if permanent.is_empty() {
            ok(role.key.as_str(), "no permanent active assignment")
        } else {
            fail(
                role.key.as_str(),
                format!(
                    "permanent active assignment held by {}; remove it in the directory and make them eligible instead",
                    permanent.join(", ")
                ),
            )
        });
    }
    if out.is_empty() {
        out.push(ok("roles", "no critical or high role is managed"));
    }
    out
}

fn rules(policy: &Policy, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for role in privileged(policy) {
        let mut missing = Vec::new();
        if !role.require_mfa {
            missing.push("set require_mfa = true".to_owned());
        }
        if !role.require_justification {
            missing.push("set require_justification = true".to_owned());
        }
        if role.tier == Tier::Critical && !role.needs_approval() {
            missing.push("set approvals_required = 1 or more (critical roles need approval)".to_owned());
        }
        let bound = tier_bound(role.tier);
        if role.max_duration > bound {
            missing.push(format!(
                "lower max_duration from {} to at most {} (the {} tier's bound)",
                format_duration(role.max_duration),
                format_duration(bound),
                role.tier.as_str()
            ));
        }
        if role.needs_approval() {
            let pool = role
                .approvers
                .iter()
                .filter(|a| !(role.disjoint_approvers && role.is_eligible(a, now)))
                .count();
            if pool < 2 {
                missing.push(format!(
                    "add approvers: {pool} person(s) can approve, and one absence or one collusion must not decide a privileged role (at least 2)"
                ));
            }
        }
        out.push(if missing.is_empty() {
            ok(
                role.key.as_str(),
                format!(
                    "MFA, justification, {} approval(s), at most {}",
                    role.approvals_required,
                    format_duration(role.max_duration)
                ),
            )
        } else {
            fail(role.key.as_str(), missing.join("; "))
        });
    }
    if out.is_empty() {
        out.push(ok("roles", "no critical or high role is managed"));
    }
    out
}

fn reviews(input: &PostureInput<'_>) -> Vec<Finding> {
    let policy = input.policy;
    let mut out = Vec::new();
    for role in privileged(policy) {
        let covering: Vec<&str> =
            policy.reviews.iter().filter(|r| r.covers(&role.key)).map(|r| r.key.as_str()).collect();
        out.push(if covering.is_empty() {
            fail(
                role.key.as_str(),
                "no [[review]] covers it; add one with roles = [\"…\"] or tiers = [\"…\"]",
            )
        } else {
            ok(role.key.as_str(), format!("reviewed by {}", covering.join(", ")))
        });
    }
    let campaigns = match &input.campaigns {
        Evidence::Read(c) => c,
        Evidence::NotAvailable(why) => {
            out.push(ok("campaigns", why.clone()));
            return out;
        }
        Evidence::Failed(why) => {
            out.push(fail("campaigns", format!("could not read the campaigns: {why}")));
            return out;
        }
    };
    for review in &policy.reviews {
        let mine: Vec<&CampaignStatus> = campaigns.iter().filter(|c| c.review == review.key).collect();
        let subject = format!("review {}", review.key);
        if mine.is_empty() {
            out.push(ok(
                subject,
                format!("no campaign has run yet ({}; pimbot serve starts it)", review.cadence.describe()),
            ));
            continue;
        }
        let current = review.cadence.period_start(input.now);
        if input.now - current > CAMPAIGN_GRACE && !mine.iter().any(|c| c.period_start >= current) {
            out.push(fail(
                subject.clone(),
                format!(
                    "no campaign for the period that began {}: is pimbot serve running?",
                    current.format("%Y-%m-%d")
                ),
            ));
        }
        let last_closed = mine.iter().filter(|c| c.deadline <= input.now).max_by_key(|c| c.period_start);
        match last_closed {
            Some(c) if c.completed_at.is_some() => out.push(ok(
                subject,
                format!("the campaign of {} completed with its decisions applied", c.period_start.format("%Y-%m-%d")),
            )),
            Some(c) => out.push(fail(
                subject,
                format!(
                    "the campaign of {} closed {} with {} undecided and {} unapplied item(s); check the scheduler and the directory",
                    c.period_start.format("%Y-%m-%d"),
                    c.deadline.format("%Y-%m-%d"),
                    c.undecided,
                    c.unapplied
                ),
            )),
            None => out.push(ok(subject, "the first campaign is still open")),
        }
    }
    out
}

fn alerts(input: &PostureInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if input.routes.is_empty() {
        out.push(fail("chat", "no chat platform is configured: alerts go nowhere; add [slack] or [discord]"));
    }
    for route in &input.routes {
        out.push(match route.alert_channel.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => ok(route.platform.to_string(), format!("alerts go to channel {c}")),
            _ => fail(
                route.platform.to_string(),
                format!(
                    "no alert_channel: alerts fall back to the approver channel; set [{}] alert_channel",
                    route.platform
                ),
            ),
        });
    }
    let unset: Vec<&str> = privileged(input.policy)
        .filter(|r| r.alerts.max_eligible.is_none())
        .map(|r| r.key.as_str())
        .collect();
    out.push(if unset.is_empty() {
        ok("thresholds", "every critical and high role has alert thresholds")
    } else {
        fail("thresholds", format!("no max_eligible on {}", unset.join(", ")))
    });
    match &input.refused_alerts {
        Evidence::Read(refused) if refused.is_empty() => {
            out.push(ok("delivery", format!("no alert refused by a platform in the last {}", format_duration(REFUSAL_LOOKBACK))))
        }
        Evidence::Read(refused) => out.push(fail(
            "delivery",
            format!(
                "{} alert(s) refused by the platform in the last {} (last: {}); fix the channel id or the bot's access",
                refused.len(),
                format_duration(REFUSAL_LOOKBACK),
                refused.last().map(String::as_str).unwrap_or_default()
            ),
        )),
        Evidence::NotAvailable(why) => out.push(ok("delivery", why.clone())),
        Evidence::Failed(why) => out.push(fail("delivery", format!("could not read deliveries: {why}"))),
    }
    out
}

/// The report as text: one line per question, then its findings.
pub fn render_text(report: &PostureReport) -> String {
    let mut out = String::new();
    for q in &report.questions {
        out.push_str(&format!("{} {}. {}\n", if q.ok { "PASS" } else { "FAIL" }, q.number, q.question));
        for f in &q.findings {
            out.push_str(&format!("   {} {}: {}\n", if f.ok { "ok  " } else { "FAIL" }, f.subject, f.detail));
        }
    }
    let failed = report.questions.iter().filter(|q| !q.ok).count();
    out.push_str(&if failed == 0 {
        "posture: all four questions hold\n".to_owned()
    } else {
        format!("posture: {failed} of 4 questions fail\n")
    });
    out
}

#[cfg(test)]
#[path = "posture_tests.rs"]
mod tests;
