//! The governance part of the config file (DESIGN.md §4b): alert thresholds per tier
//! (`[tier.critical]` …), policy-wide alert settings (`[alerts]`) and access reviews
//! (`[[review]]`), parsed here and resolved into `core::alerts` and `core::reviews` types. The
//! per-role keys (`max_eligible`, `working_hours`, …) live on `RoleConfig`.

use chrono::Duration;
use serde::Deserialize;

use super::file::{RoleConfig, opt_human_duration};
use super::validate::Problems;
use crate::core::alerts::{AlertSettings, RoleAlerts};
use crate::core::hours::WorkingHours;
use crate::core::ids::{PersonId, RoleKey};
use crate::core::policy::{Role, Tier};
use crate::core::reviews::{Cadence, Review, ReviewDecision, Reviewer};

/// Alert thresholds a tier gives its roles (`[tier.critical]`); keys left out keep the
/// built-in tier defaults (`critical`: at most 5 eligible, as PIM's own alert).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierAlertConfig {
    /// More people eligible than this is an alert.
    #[serde(default)]
    pub max_eligible: Option<u32>,
    /// More grants active at once than this is an alert.
    #[serde(default)]
    pub max_active: Option<u32>,
    /// More activations by one person in 30 days than this is an alert.
    #[serde(default)]
    pub max_activations: Option<u32>,
    /// Activations outside these hours are an alert ("Mon-Fri 08:00-19:00 Europe/Berlin").
    #[serde(default)]
    pub working_hours: Option<String>,
    /// Eligibility unused this long is an alert (default 90d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub stale_after: Option<Duration>,
}

/// `[tier.*]`: thresholds per tier.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersConfig {
    /// `[tier.critical]`.
    #[serde(default)]
    pub critical: Option<TierAlertConfig>,
    /// `[tier.high]`.
    #[serde(default)]
    pub high: Option<TierAlertConfig>,
    /// `[tier.standard]`.
    #[serde(default)]
    pub standard: Option<TierAlertConfig>,
}

impl TiersConfig {
    fn of(&self, tier: Tier) -> Option<&TierAlertConfig> {
        match tier {
            Tier::Critical => self.critical.as_ref(),
            Tier::High => self.high.as_ref(),
            Tier::Standard => self.standard.as_ref(),
        }
    }
}

/// `[alerts]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Refused or failed activations (by one person, or of one role) within `burst_window`
    /// that raise an alert; default 5.
    #[serde(default)]
    pub burst_count: Option<u32>,
    /// The window of a burst; default 1h.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub burst_window: Option<Duration>,
}

/// `[[review]]`: an access review campaign that recurs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    /// Stable name of the review (campaigns are keyed by it); defaults to the roles and tiers.
    #[serde(default)]
    pub name: Option<String>,
    /// Role keys under review.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tiers under review (every role of the tier).
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// `self`, `owner`, `approvers`, a person id or `@group`.
    pub reviewer: String,
    /// `monthly`, `quarterly` or a duration (`14d`).
    pub cadence: String,
    /// How long reviewers have to answer (default 7d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub duration: Option<Duration>,
    /// What an unanswered eligibility becomes at the deadline: `remove` (default) or `keep`.
    #[serde(default)]
    pub default: Option<ReviewDecision>,
}

/// Default answer time of a review.
pub const DEFAULT_REVIEW_DURATION: Duration = Duration::days(7);

/// The role's alert thresholds: its own keys, then its tier's table, then the built-in default.
pub(super) fn role_alerts(rc: &RoleConfig, tiers: &TiersConfig, at: &str, p: &mut Problems) -> RoleAlerts {
    let base = RoleAlerts::tier_default(rc.tier);
    let tier = tiers.of(rc.tier).cloned().unwrap_or_default();
    let hours_text = rc.working_hours.as_ref().or(tier.working_hours.as_ref());
    let working_hours = hours_text.and_then(|text| match WorkingHours::parse(text) {
        Ok(h) => Some(h),
        Err(e) => {
            p.push(format!("{at}: working_hours"), e);
            None
        }
    });
    RoleAlerts {
        max_eligible: rc.max_eligible.or(tier.max_eligible).or(base.max_eligible),
        max_active: rc.max_active.or(tier.max_active).or(base.max_active),
        max_activations: rc.max_activations.or(tier.max_activations).or(base.max_activations),
        working_hours,
        stale_after: rc.stale_after.or(tier.stale_after).unwrap_or(base.stale_after),
    }
}

/// Checks the tier tables' working hours (a role that sets its own never reads them).
pub(super) fn check_tiers(tiers: &TiersConfig, p: &mut Problems) {
    for tier in [Tier::Critical, Tier::High, Tier::Standard] {
        if let Some(text) = tiers.of(tier).and_then(|t| t.working_hours.as_ref())
            && let Err(e) = WorkingHours::parse(text)
        {
            p.push(format!("tier.{}.working_hours", tier.as_str()), e);
        }
    }
}

/// `[alerts]` resolved.
pub(super) fn alert_settings(config: &AlertsConfig) -> AlertSettings {
    let d = AlertSettings::default();
    AlertSettings {
        burst_count: config.burst_count.unwrap_or(d.burst_count).max(1),
        burst_window: config.burst_window.unwrap_or(d.burst_window),
    }
}

/// Resolves every `[[review]]`; `expand` resolves a person id or `@group` (reporting unknown
/// ones under the given key).
pub(super) fn reviews(
    configs: &[ReviewConfig],
    roles: &[Role],
    expand: &dyn Fn(&str, &str, &mut Problems) -> Vec<PersonId>,
    p: &mut Problems,
) -> Vec<Review> {
    let mut out: Vec<Review> = Vec::new();
    for (i, rc) in configs.iter().enumerate() {
        let at = format!("review #{}", i + 1);
        let mut keys: Vec<RoleKey> = Vec::new();
        for key in &rc.roles {
            if roles.iter().any(|r| r.key.as_str() == key) {
                keys.push(RoleKey::from(key.as_str()));
            } else {
                p.push(
                    format!("{at}: roles"),
                    format!("unknown role \"{key}\" (add a [[role]] with that key or remove it)"),
                );
            }
        }
        for tier in &rc.tiers {
            keys.extend(roles.iter().filter(|r| r.tier == *tier).map(|r| r.key.clone()));
        }
        keys.dedup();
        if rc.roles.is_empty() && rc.tiers.is_empty() {
            p.push(
                format!("{at}: roles"),
                "name the roles (roles = [\"global-admin\"]) or tiers (tiers = [\"critical\"]) to review",
            );
        }
        let reviewer = match rc.reviewer.trim() {
            "self" => Reviewer::Holder,
            "owner" => {
                for role in roles.iter().filter(|r| keys.contains(&r.key) && r.owners.is_empty()) {
                    p.push(
                        format!("{at}: reviewer"),
                        format!(
                            "\"owner\" needs owners on role \"{}\"; add owners = [\"…\"] to it",
                            role.key
                        ),
                    );
                }
                Reviewer::Owner
            }
            "approvers" => Reviewer::Approvers,
            other => Reviewer::People(expand(other, &format!("{at}: reviewer"), p)),
        };
        let cadence = match Cadence::parse(&rc.cadence) {
            Ok(c) => c,
            Err(e) => {
                p.push(format!("{at}: cadence"), e);
                Cadence::Quarterly
            }
        };
        let duration = rc.duration.unwrap_or(DEFAULT_REVIEW_DURATION);
        if duration >= cadence.length() {
            p.push(
                format!("{at}: duration"),
                "must be shorter than the cadence (a campaign must close before the next one starts)",
            );
        }
        let key = rc.name.clone().unwrap_or_else(|| {
            let mut parts: Vec<String> = rc.roles.clone();
            parts.extend(rc.tiers.iter().map(|t| format!("tier:{}", t.as_str())));
            parts.join("+")
        });
        if out.iter().any(|r| r.key == key) {
            p.push(
                format!("{at}: name"),
                format!("another [[review]] is also \"{key}\"; give one a distinct name"),
            );
        }
        out.push(Review {
            key,
            roles: keys,
            reviewer,
            cadence,
            duration,
            default: rc.default.unwrap_or(ReviewDecision::Remove),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[oidc]
issuer = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
client_id = "00000000-0000-0000-0000-000000000000"
client_secret = "test-oidc-secret"
public_url = "https://pimbot.example.com"
default_auth_context = "c1"
[[person]]
id = "alice"
[[person]]
id = "carol"
[[person]]
id = "dave"
[[group]]
name = "auditors"
members = ["dave"]
[[role]]
key = "global-admin"
kind = "entra-role"
tier = "critical"
approvers = ["carol", "dave"]
eligible = ["alice"]
"#;

    fn check(extra: &str) -> Result<crate::core::policy::Policy, crate::config::ConfigErrors> {
        let config =
            crate::config::from_toml_str_with_env(&format!("{BASE}{extra}"), &|_| None).expect("parses");
        config.validate(Utc::now())
    }

    #[test]
    fn tier_defaults_role_keys_and_tier_tables_resolve_in_that_order() {
        let policy = check("").expect("valid");
        let a = &policy.roles[0].alerts;
        assert_eq!((a.max_eligible, a.max_active, a.max_activations), (Some(5), Some(2), Some(10)));
        assert!(policy.roles[0].require_mfa, "critical requires MFA by default");
        let policy = check(
            "\n[tier.critical]\nmax_eligible = 3\nworking_hours = \"Mon-Fri 08:00-19:00 Europe/Berlin\"\n",
        )
        .expect("valid");
        assert_eq!(policy.roles[0].alerts.max_eligible, Some(3));
        assert!(policy.roles[0].alerts.working_hours.is_some());
        let text = format!("{BASE}max_eligible = 7\n[tier.critical]\nmax_eligible = 3\n");
        let config = crate::config::from_toml_str_with_env(&text, &|_| None).expect("parses");
        assert_eq!(config.validate(Utc::now()).expect("valid").roles[0].alerts.max_eligible, Some(7));
    }

    #[test]
    fn reviews_resolve_roles_tiers_and_reviewers() {
        let policy = check(
            "\n[[review]]\ntiers = [\"critical\"]\nreviewer = \"@auditors\"\ncadence = \"monthly\"\nduration = \"5d\"\ndefault = \"keep\"\n",
        )
        .expect("valid");
        let review = &policy.reviews[0];
        assert_eq!(review.key, "tier:critical");
        assert_eq!(review.roles, vec![crate::core::ids::RoleKey::from("global-admin")]);
        assert_eq!(review.reviewer, crate::core::reviews::Reviewer::People(vec!["dave".into()]));
        assert_eq!(review.default, crate::core::reviews::ReviewDecision::Keep);
    }

    #[test]
    fn bad_governance_keys_are_refused_with_the_key() {
        for (extra, key) in [
            ("\n[tier.critical]\nworking_hours = \"weekdays\"\n", "tier.critical.working_hours"),
            (
                "\n[[review]]\nroles = [\"nope\"]\nreviewer = \"approvers\"\ncadence = \"monthly\"\n",
                "review #1: roles",
            ),
            (
                "\n[[review]]\nroles = [\"global-admin\"]\nreviewer = \"owner\"\ncadence = \"monthly\"\n",
                "review #1: reviewer",
            ),
            (
                "\n[[review]]\nroles = [\"global-admin\"]\nreviewer = \"nobody\"\ncadence = \"monthly\"\n",
                "review #1: reviewer",
            ),
            (
                "\n[[review]]\nroles = [\"global-admin\"]\nreviewer = \"self\"\ncadence = \"often\"\n",
                "review #1: cadence",
            ),
            (
                "\n[[review]]\nroles = [\"global-admin\"]\nreviewer = \"self\"\ncadence = \"7d\"\nduration = \"7d\"\n",
                "review #1: duration",
            ),
            ("\n[[review]]\nreviewer = \"self\"\ncadence = \"monthly\"\n", "review #1: roles"),
        ] {
            let errors = check(extra).expect_err(extra);
            assert!(errors.0.iter().any(|e| e.key == key), "{extra}: {errors}");
        }
        let text = BASE
            .replace("eligible = [\"alice\"]", "eligible = [\"alice\"]\nworking_hours = \"Mon-Fri 9-5 UTC\"");
        let config = crate::config::from_toml_str_with_env(&text, &|_| None).expect("parses");
        assert!(config.validate(Utc::now()).expect_err("bad hours").mentions("working_hours"));
    }
}
