//! The MFA keys of a `[[role]]` (`require_mfa`, `approver_mfa`, `mfa_max_age`,
//! `auth_context`), checked against `[oidc]`.
//!
//! The secure default: `critical` and `high` roles require MFA, and MFA can only be proved by a
//! sign-in through `[oidc]`. A role that requires it where no `[oidc]` is configured could never
//! be activated, so the config is refused with what to change: configure `[oidc]`, or opt out
//! explicitly with `require_mfa = false` (and `approver_mfa = false`) to accept chat-only
//! identity for that role. With a Microsoft Entra issuer, whose v2.0 ID tokens carry no `amr`,
//! such a role also needs an authentication context.

use chrono::Duration;

use super::file::{Config, RoleConfig};
use super::identity::{bad_auth_context, is_entra_issuer};
use super::validate::Problems;
use crate::core::duration::format_duration;
use crate::core::policy::Role;

/// Longest `mfa_max_age` accepted: older than this is not a step-up.
pub const MAX_MFA_MAX_AGE: Duration = Duration::hours(1);

/// Checks the role's MFA keys and returns its resolved authentication context.
pub(super) fn auth_context(
    config: &Config,
    rc: &RoleConfig,
    role: &Role,
    at: &str,
    p: &mut Problems,
) -> Option<String> {
    let needs_mfa = role.require_mfa || role.approver_mfa;
    if role.mfa_max_age <= Duration::zero() || role.mfa_max_age > MAX_MFA_MAX_AGE {
        p.push(
            format!("{at}: mfa_max_age"),
            format!(
                "{} is out of range; a step-up must be more recent than 0s and at most {}",
                format_duration(role.mfa_max_age),
                format_duration(MAX_MFA_MAX_AGE)
            ),
        );
    }
    let Some(oidc) = config.oidc() else {
        if needs_mfa {
            let keys = match (role.require_mfa, role.approver_mfa) {
                (true, true) => "require_mfa and approver_mfa are",
                (true, false) => "require_mfa is",
                _ => "approver_mfa is",
            };
            p.push(
                format!("{at}: require_mfa"),
                format!(
                    "{keys} on (the default for {} roles), but MFA is proved by signing in through [oidc], \
                     which is not configured; configure [oidc], or set require_mfa = false and \
                     approver_mfa = false on this role to accept chat-only identity",
                    role.tier.as_str()
                ),
            );
        }
        if rc.auth_context.is_some() {
            p.push(format!("{at}: auth_context"), "needs [oidc] (it is asked for when signing in)");
        }
        return rc.auth_context.clone();
    };
    let entra = is_entra_issuer(&oidc.issuer);
    if let Some(c) = &rc.auth_context
        && let Some(why) = bad_auth_context(c, entra)
    {
        p.push(format!("{at}: auth_context"), why);
    }
    let context = rc.auth_context.clone().or_else(|| oidc.default_auth_context.clone());
    if needs_mfa && entra && context.is_none() {
        p.push(
            format!("{at}: auth_context"),
            "missing; Microsoft Entra v2.0 ID tokens carry no amr, so MFA is proved by a Conditional Access \
             authentication context: set auth_context = \"c1\" (a context whose policy requires MFA) on this \
             role or default_auth_context in [oidc], or set require_mfa = false and approver_mfa = false",
        );
    }
    context.map(|c| c.trim().to_ascii_lowercase())
}
