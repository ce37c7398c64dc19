//! The one rule about break-glass accounts outside alarms: which configured account a directory
//! identity is, and that such an account never requests a role. The alarm intake, `submit` and
//! the directory lookup all ask here, so an account matched by object id for an alarm is the
//! same account refused at submission.

use super::error::{Error, Result};
use super::policy::{BreakGlass, Policy};

/// The refusal a break-glass account gets when it tries to request a role.
pub const NEVER_REQUESTS: &str = "break-glass accounts cannot request roles";

/// The configured break-glass account an identity belongs to: same object id, or same UPN
/// compared case-insensitively (UPNs are case-insensitive in Entra). Empty values match
/// nothing.
pub fn account<'p>(policy: &'p Policy, upn: &str, object_id: Option<&str>) -> Option<&'p BreakGlass> {
    let upn = upn.trim();
    let object_id = object_id.map(str::trim).filter(|o| !o.is_empty());
    policy.break_glass.iter().find(|bg| {
        let same_oid = matches!((bg.object_id.as_deref(), object_id), (Some(a), Some(b)) if !a.is_empty() && a.eq_ignore_ascii_case(b));
        same_oid || (!upn.is_empty() && bg.upn.eq_ignore_ascii_case(upn))
    })
}

/// Refuses a request by (or a lookup resolving to) a break-glass account.
pub fn refuse_requests(policy: &Policy, upn: &str, object_id: Option<&str>) -> Result<()> {
    match account(policy, upn, object_id) {
        Some(_) => Err(Error::NotAuthorized(NEVER_REQUESTS.into())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            break_glass: vec![BreakGlass { upn: "BG1@contoso.com".into(), object_id: Some("oid-1".into()) }],
            ..Policy::default()
        }
    }

    #[test]
    fn accounts_match_by_upn_case_insensitively_or_by_object_id() {
        let p = policy();
        assert!(account(&p, "bg1@CONTOSO.com", None).is_some());
        assert!(account(&p, " bg1@contoso.com ", None).is_some());
        assert!(account(&p, "", Some("oid-1")).is_some());
        assert!(account(&p, "", Some("OID-1")).is_some());
        assert!(account(&p, "alice@contoso.com", Some("oid-2")).is_none());
        assert!(account(&p, "", None).is_none());
        assert!(account(&p, "", Some("")).is_none());
    }

    #[test]
    fn a_break_glass_account_is_refused_by_upn_or_by_object_id() {
        let p = policy();
        let by_upn = refuse_requests(&p, "bg1@contoso.com", Some("other")).expect_err("refused");
        let by_oid = refuse_requests(&p, "renamed@contoso.com", Some("oid-1")).expect_err("refused");
        for refusal in [by_upn, by_oid] {
            assert!(matches!(&refusal, Error::NotAuthorized(m) if m == NEVER_REQUESTS), "{refusal}");
        }
        assert!(refuse_requests(&p, "alice@contoso.com", Some("oid-2")).is_ok());
    }
}
