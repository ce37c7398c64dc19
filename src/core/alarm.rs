//! Break-glass alarms: a sign-in by an emergency account, as pimbot records it, and the pure
//! rules around it (which account it is, how loud it is, when it pages again, what it says).
//!
//! Parsing Azure Monitor or Graph payloads is not done here: adapters turn them into a
//! [`SignIn`] first. Storage and chat delivery happen in the service and the adapters.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{AlarmId, PersonId};
use super::policy::{BreakGlass, Policy};

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
/// the time text, the IP and the source's own alert id, so an Azure Monitor retry of the same
/// alert maps to the same key.
pub fn derived_signin_id(upn: &str, at: &str, ip: &str, alert: &str) -> String {
    let mut h = Sha256::new();
    for part in [upn.trim().to_lowercase().as_str(), at.trim(), ip.trim(), alert.trim()] {
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
        }
    }

    /// Whether someone acknowledged it.
    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged_at.is_some()
    }

    /// The one-line headline, without any mention (adapters add `<!channel>` / `@everyone`).
    pub fn headline(&self) -> String {
        if self.succeeded {
            format!("🚨 Break-glass sign-in: {} signed in", self.account_upn)
        } else {
            format!("⚠️ Failed break-glass sign-in attempt on {}", self.account_upn)
        }
    }
}

/// The next page of an unacknowledged alarm: one `every` after this one. After downtime the
/// overdue page goes out once and the cadence restarts from then, instead of a burst.
pub fn next_page_at(now: DateTime<Utc>, every: Duration) -> DateTime<Utc> {
    now + every.max(Duration::seconds(1))
}

/// The configured break-glass account a sign-in belongs to: same object id, or same UPN
/// compared case-insensitively (UPNs are case-insensitive in Entra).
pub fn break_glass_account<'p>(
    policy: &'p Policy,
    upn: &str,
    object_id: Option<&str>,
) -> Option<&'p BreakGlass> {
    let upn = upn.trim();
    policy.break_glass.iter().find(|bg| {
        let same_oid = matches!((bg.object_id.as_deref(), object_id), (Some(a), Some(b)) if !a.is_empty() && a.eq_ignore_ascii_case(b.trim()));
        same_oid || (!upn.is_empty() && bg.upn.eq_ignore_ascii_case(upn))
    })
}

/// The reference key the first page of an alarm is remembered under (updated in place on ack).
pub fn alarm_key(id: &AlarmId) -> String {
    format!("alarm:{id}")
}

/// The reference key of repeat page `page` (2, 3, …), also updated when acknowledged.
pub fn page_key(id: &AlarmId, page: i32) -> String {
    format!("alarm:{id}:page:{page}")
}

/// The feed line announcing an alarm.
pub fn feed_line(alarm: &Alarm) -> String {
    let ip = alarm.ip.as_deref().unwrap_or("unknown IP");
    format!("{} from {ip} (alarm {})", alarm.headline(), alarm.id)
}

/// Checks an acknowledgement reason: required, trimmed.
pub fn ack_reason(reason: Option<&str>) -> Option<String> {
    reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn accounts_match_by_upn_case_insensitively_or_by_object_id() {
        let p = policy();
        assert!(break_glass_account(&p, "bg1@CONTOSO.com", None).is_some());
        assert!(break_glass_account(&p, "", Some("oid-1")).is_some());
        assert!(break_glass_account(&p, "alice@contoso.com", Some("oid-2")).is_none());
        assert!(break_glass_account(&p, "", None).is_none());
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
    fn derived_keys_ignore_upn_case_and_differ_by_alert() {
        let a = derived_signin_id("BG1@contoso.com", "t", "1.2.3.4", "alert-1");
        assert_eq!(a, derived_signin_id("bg1@contoso.com", "t", "1.2.3.4", "alert-1"));
        assert_ne!(a, derived_signin_id("bg1@contoso.com", "t", "1.2.3.4", "alert-2"));
        assert_eq!(signin_key(" x "), "signin:x");
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
