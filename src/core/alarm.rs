//! Break-glass alarms: a sign-in by an emergency account, as pimbot records it, and the pure
//! rules around it (which account it is, how loud it is, when it pages again, what it says).
//!
//! Parsing Azure Monitor or Graph payloads is not done here: adapters turn them into a
//! [`SignIn`] first. Storage and chat delivery happen in the service and the adapters.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{AlarmId, PersonId};
use super::policy::BreakGlass;

/// One observed sign-in (successful or not) by an account that might be a break-glass account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// Dedupe key: `signin:<id>` when the source gives the sign-in id, else a hash (see
    /// [`derived_signin_id`]). A retried delivery carries the same key and raises nothing new.
    pub signin_id: String,
    /// User principal name as the source reported it.
    pub upn: String,
    /// Directory object id, when the source reports it.
    pub object_id: Option<String>,
    /// When the sign-in happened.
    pub at: DateTime<Utc>,
    /// Client IP address.
    pub ip: Option<String>,
    /// Where, as the source words it (`Redmond, Washington, US`).
    pub location: Option<String>,
    /// Application signed in to.
    pub app: Option<String>,
    /// Client used (`Browser`, `Mobile Apps and Desktop clients`).
    pub client: Option<String>,
    /// Conditional Access outcome (`success`, `failure`, `notApplied`).
    pub ca_status: Option<String>,
    /// Whether the sign-in succeeded. Sources that cannot tell report `true` (the louder case).
    pub succeeded: bool,
}

/// The dedupe key of a sign-in whose source carries a sign-in id (Graph `id`, `SigninLogs.Id`).
/// Both sources share it, so a sign-in seen by the webhook and the poller raises one alarm.
pub fn signin_key(id: &str) -> String {
    format!("signin:{}", id.trim())
}

/// The dedupe key of a sign-in reported without an id: a hash of the account (case-folded),
/// the sign-in time (read as a timestamp when it is one, so `…49.1Z` and `…49.100Z` match), the
/// IP and the application. An Azure Monitor retry, or the same sign-in reported by two alert
/// rules, maps to the same key.
pub fn derived_signin_id(upn: &str, at: &str, ip: &str, app: &str) -> String {
    let at = DateTime::parse_from_rfc3339(at.trim())
        .map(|t| t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_else(|_| at.trim().to_owned());
    let mut h = Sha256::new();
    for part in
        [upn.trim().to_lowercase().as_str(), at.as_str(), ip.trim(), app.trim().to_lowercase().as_str()]
    {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    format!("hash:{}", hex::encode(h.finalize()))
}

/// How loud an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone is (or may be) signed in with an emergency account.
    High,
    /// A failed attempt: suspicious, but nobody got in.
    Medium,
}

impl Severity {
    /// A successful sign-in is high, a failed attempt medium.
    pub fn of(succeeded: bool) -> Self {
        if succeeded { Severity::High } else { Severity::Medium }
    }

    /// Lower-case name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }

    /// Parses [`Severity::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            _ => None,
        }
    }
}

/// One break-glass alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Alarm id (button value).
    pub id: AlarmId,
    /// The break-glass account as configured.
    pub account_upn: String,
    /// Dedupe key of the sign-in (unique in storage).
    pub signin_id: String,
    /// When the sign-in happened.
    pub at: DateTime<Utc>,
    /// When pimbot raised the alarm.
    pub raised_at: DateTime<Utc>,
    /// Client IP.
    pub ip: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Application.
    pub app: Option<String>,
    /// Client.
    pub client: Option<String>,
    /// Conditional Access status.
    pub ca_status: Option<String>,
    /// Whether the sign-in succeeded.
    pub succeeded: bool,
    /// Loudness, derived from `succeeded`.
    pub severity: Severity,
    /// Who acknowledged it.
    pub acknowledged_by: Option<PersonId>,
    /// When.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Why (required to acknowledge).
    pub reason: Option<String>,
    /// When it pages again; `None` once acknowledged.
    pub next_page_at: Option<DateTime<Utc>>,
    /// Pages sent so far (1 after raising).
    pub pages: i32,
    /// Compare-and-set version.
    pub version: i64,
    /// How many sign-ins this alarm stands for (sign-ins of its account join it while it is
    /// open); `at`, `ip`, `app` and the like describe the latest.
    pub signins: i32,
    /// When the first of them happened.
    pub first_at: DateTime<Utc>,
}

/// One sign-in an alarm stands for, recorded under its dedupe key (a retried webhook, or the
/// same sign-in reported twice, counts once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmSignIn {
    /// Dedupe key of the sign-in.
    pub signin_id: String,
    /// The alarm it belongs to.
    pub alarm_id: AlarmId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Client IP.
    pub ip: Option<String>,
    /// Application.
    pub app: Option<String>,
    /// Whether it succeeded.
    pub succeeded: bool,
}

impl AlarmSignIn {
    /// `signin` as one of `alarm`'s.
    pub fn of(alarm: &AlarmId, signin: &SignIn) -> Self {
        Self {
            signin_id: signin.signin_id.clone(),
            alarm_id: alarm.clone(),
            at: signin.at,
            ip: signin.ip.clone(),
            app: signin.app.clone(),
            succeeded: signin.succeeded,
        }
    }
}

impl Alarm {
    /// A new, open alarm for `signin` on the configured `account`, first page sent `now`.
    pub fn raise(
        id: AlarmId,
        account: &BreakGlass,
        signin: &SignIn,
        now: DateTime<Utc>,
        every: Duration,
    ) -> Self {
        Self {
            id,
            account_upn: account.upn.clone(),
            signin_id: signin.signin_id.clone(),
            at: signin.at,
            raised_at: now,
            ip: signin.ip.clone(),
            location: signin.location.clone(),
            app: signin.app.clone(),
            client: signin.client.clone(),
            ca_status: signin.ca_status.clone(),
            succeeded: signin.succeeded,
            severity: Severity::of(signin.succeeded),
            acknowledged_by: None,
            acknowledged_at: None,
            reason: None,
            next_page_at: Some(next_page_at(now, every)),
            pages: 1,
            version: 1,
            signins: 1,
            first_at: signin.at,
        }
    }

    /// Adds further sign-ins of the same account (one incident): the count grows, the details
    /// become the latest sign-in's, and one success makes it a successful sign-in (high). Returns
    /// whether they came after a quiet spell longer than `window` since the latest one known:
    /// a new wave, which pages again at once instead of waiting for the next repeat.
    pub fn join(&mut self, signins: &[SignIn], window: Duration, now: DateTime<Utc>) -> bool {
        let Some(latest) = signins.iter().max_by_key(|s| s.at) else { return false };
        let new_wave = latest.at - self.at > window;
        self.signins = self.signins.saturating_add(i32::try_from(signins.len()).unwrap_or(i32::MAX));
        if let Some(first) = signins.iter().map(|s| s.at).min() {
            self.first_at = self.first_at.min(first);
        }
        if latest.at >= self.at {
            self.at = latest.at;
            self.ip = latest.ip.clone();
            self.location = latest.location.clone();
            self.app = latest.app.clone();
            self.client = latest.client.clone();
            self.ca_status = latest.ca_status.clone();
        }
        self.succeeded = self.succeeded || signins.iter().any(|s| s.succeeded);
        self.severity = Severity::of(self.succeeded);
        if new_wave && !self.is_acknowledged() {
            self.next_page_at = Some(now);
        }
        new_wave
    }

    /// Whether someone acknowledged it.
    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged_at.is_some()
    }

    /// The one-line headline, without any mention (adapters add `<!channel>` / `@everyone`).
    pub fn headline(&self) -> String {
        let count = if self.signins > 1 { format!(" ({} sign-ins)", self.signins) } else { String::new() };
        if self.succeeded {
            format!("🚨 Break-glass sign-in: {} signed in{count}", self.account_upn)
        } else {
            format!("⚠️ Failed break-glass sign-in attempt on {}{count}", self.account_upn)
        }
    }
}

/// The next page of an unacknowledged alarm: one `every` after this one. After downtime the
/// overdue page goes out once and the cadence restarts from then, instead of a burst.
pub fn next_page_at(now: DateTime<Utc>, every: Duration) -> DateTime<Utc> {
    now + every.max(Duration::seconds(1))
}

/// The reference key the first page of an alarm is remembered under (updated in place on ack).
pub fn alarm_key(id: &AlarmId) -> String {
    format!("alarm:{id}")
}

/// The reference key of repeat page `page` (2, 3, …), also updated when acknowledged.
pub fn page_key(id: &AlarmId, page: i32) -> String {
    format!("alarm:{id}:page:{page}")
}

/// The feed line announcing an alarm (the IP is what the sign-in source reported: quoted).
pub fn feed_line(alarm: &Alarm) -> String {
    let ip = alarm.ip.as_deref().map(super::text::quote).unwrap_or_else(|| "unknown IP".into());
    format!("{} from {ip} (alarm {})", alarm.headline(), alarm.id)
}

/// Checks an acknowledgement reason: required, trimmed.
pub fn ack_reason(reason: Option<&str>) -> Option<String> {
    reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Policy;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().expect("valid")
    }

    fn policy() -> Policy {
        Policy {
            break_glass: vec![BreakGlass { upn: "BG1@contoso.com".into(), object_id: Some("oid-1".into()) }],
            ..Policy::default()
        }
    }

    fn signin(succeeded: bool) -> SignIn {
        SignIn {
            signin_id: signin_key("s-1"),
            upn: "bg1@contoso.com".into(),
            object_id: None,
            at: t0(),
            ip: Some("203.0.113.7".into()),
            location: None,
            app: None,
            client: None,
            ca_status: None,
            succeeded,
        }
    }

    #[test]
    fn failed_attempts_are_less_severe_and_worded_so() {
        let p = policy();
        let ok = Alarm::raise("a-1".into(), &p.break_glass[0], &signin(true), t0(), Duration::minutes(2));
        let failed =
            Alarm::raise("a-2".into(), &p.break_glass[0], &signin(false), t0(), Duration::minutes(2));
        assert_eq!(ok.severity, Severity::High);
        assert_eq!(failed.severity, Severity::Medium);
        assert!(ok.headline().contains("signed in"));
        assert!(failed.headline().contains("Failed"));
        assert_eq!(ok.account_upn, "BG1@contoso.com", "the configured spelling is kept");
        assert_eq!(ok.next_page_at, Some(t0() + Duration::minutes(2)));
        assert_eq!(ok.pages, 1);
    }

    #[test]
    fn derived_keys_are_account_time_ip_and_app() {
        let t = "2020-07-09T14:04:49.1Z";
        let a = derived_signin_id("BG1@contoso.com", t, "1.2.3.4", "Azure Portal");
        assert_eq!(
            a,
            derived_signin_id("bg1@contoso.com", "2020-07-09T14:04:49.1000000Z", "1.2.3.4", "azure portal")
        );
        assert_ne!(a, derived_signin_id("bg1@contoso.com", t, "1.2.3.4", "Graph Explorer"));
        assert_ne!(a, derived_signin_id("bg1@contoso.com", t, "1.2.3.5", "Azure Portal"));
        assert_ne!(
            a,
            derived_signin_id("bg1@contoso.com", "2020-07-09T14:04:50Z", "1.2.3.4", "Azure Portal")
        );
        assert_eq!(signin_key(" x "), "signin:x");
    }

    #[test]
    fn sign_ins_join_an_alarm_and_a_quiet_spell_pages_again() {
        let p = policy();
        let window = Duration::minutes(10);
        let mut alarm =
            Alarm::raise("a-1".into(), &p.break_glass[0], &signin(false), t0(), Duration::minutes(2));
        let later = |mins: i64, ok: bool| SignIn {
            at: t0() + Duration::minutes(mins),
            ip: Some(format!("198.51.100.{mins}")),
            ..signin(ok)
        };
        assert!(!alarm.join(&[later(3, false), later(5, true)], window, t0()));
        assert_eq!((alarm.signins, alarm.first_at, alarm.at), (3, t0(), t0() + Duration::minutes(5)));
        assert_eq!(alarm.ip.as_deref(), Some("198.51.100.5"), "the latest sign-in is shown");
        assert_eq!(alarm.severity, Severity::High, "one success makes it a sign-in");
        assert!(alarm.headline().contains("(3 sign-ins)"), "{}", alarm.headline());
        let paging = alarm.next_page_at;
        let now = t0() + Duration::minutes(30);
        assert!(alarm.join(&[later(30, false)], window, now), "a new wave after 25 quiet minutes");
        assert_eq!(alarm.next_page_at, Some(now), "it pages at once");
        assert_ne!(paging, alarm.next_page_at);
    }

    #[test]
    fn reasons_are_required_and_trimmed() {
        assert_eq!(ack_reason(Some("  drill ")), Some("drill".into()));
        assert_eq!(ack_reason(Some("   ")), None);
        assert_eq!(ack_reason(None), None);
    }

    #[test]
    fn pages_never_come_faster_than_a_second() {
        assert_eq!(next_page_at(t0(), Duration::zero()), t0() + Duration::seconds(1));
    }
}
