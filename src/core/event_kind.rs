//! The event vocabulary of the audit trail: every kind of event pimbot records, as a type.
//!
//! The stored form is the dotted name (`request.submitted`); it is part of the trail's hashed
//! text and of every export, so a name never changes once written. Writers name a variant;
//! readers (the report, the metrics, the alerts, the web view) match on
//! [`EventKind::parse`] of the stored name, so a misspelt kind is a compile error rather than a
//! silently missing count. Details that readers need are read through one accessor each
//! ([`super::audit::AuditEvent::time_to_decision_secs`], [`super::audit::AuditEvent::automatic`]).

use std::fmt;

/// One kind of audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A person asked for a role.
    RequestSubmitted,
    /// An open request was replaced by a newer one for the same role.
    RequestSuperseded,
    /// The on-call schedule was consulted for automatic approval.
    RequestOncallChecked,
    /// A request got all the approvals it needs (or was approved automatically).
    RequestApproved,
    /// An approver denied a request.
    RequestDenied,
    /// A request was cancelled (by the requester, or by a policy change).
    RequestCancelled,
    /// Nobody decided before the request's deadline.
    RequestTimedOut,
    /// The approvers were reminded.
    RequestReminded,
    /// The request was escalated to the next approvers.
    RequestEscalated,
    /// The next reminder was moved (for example outside working hours).
    RequestNudgeRescheduled,
    /// An attempt that policy refused before any request existed.
    RequestRefused,
    /// The requester proved MFA for the request.
    RequestMfaVerified,
    /// The MFA step-up for a request was refused.
    RequestStepUpRefused,
    /// One approver approved (more may be needed).
    ApprovalRecorded,
    /// A grant started.
    GrantActivated,
    /// A running grant was extended.
    GrantExtended,
    /// An extension was undone because the directory refused it.
    GrantExtensionUndone,
    /// A grant ran out.
    GrantExpired,
    /// The grantee ended a grant early.
    GrantDeactivated,
    /// A revoker ended a grant.
    GrantRevoked,
    /// A grant was withdrawn (the eligibility behind it went away).
    GrantWithdrawn,
    /// Activating in the directory failed and will be tried again.
    GrantRetrying,
    /// Activating in the directory failed for good.
    GrantFailed,
    /// Ending a grant in the directory failed.
    GrantEndFailed,
    /// A break-glass account signed in: an alarm was raised.
    BreakglassSignin,
    /// Further sign-ins were joined to an open alarm.
    BreakglassSigninsJoined,
    /// An unacknowledged alarm paged again.
    BreakglassRepaged,
    /// Someone acknowledged an alarm.
    BreakglassAcknowledged,
    /// A governance alert was raised.
    AlertRaised,
    /// An eligibility is about to end.
    EligibilityEnding,
    /// Someone asked to renew an eligibility.
    EligibilityRenewalRequested,
    /// An eligibility renewal was approved.
    EligibilityRenewed,
    /// An eligibility renewal was denied.
    EligibilityRenewalDenied,
    /// An access review started.
    ReviewStarted,
    /// A review item was decided (by a reviewer, or by the default).
    ReviewDecided,
    /// Reviewers were reminded.
    ReviewNudged,
    /// A review decision was applied to the directory.
    ReviewApplied,
    /// An access review finished.
    ReviewCompleted,
    /// Reconciliation found an assignment pimbot did not make (or a missing one).
    DirectoryDrift,
    /// A sign-in to link a chat identity failed.
    IdentitySignInFailed,
    /// Linking a chat identity was refused.
    IdentityLinkRefused,
    /// A chat identity was linked to a person.
    IdentityLinked,
    /// A new audit key segment started.
    AuditSegmentStarted,
    /// The chat platform permanently refused a message.
    ChatRejected,
    /// Someone signed in to the web view.
    UiSignedIn,
    /// A sign-in to the web view was refused.
    UiSignInRefused,
}

impl EventKind {
    /// Every kind, in the order of the vocabulary (a new kind is added here and in `as_str`).
    pub const ALL: [EventKind; 46] = [
        EventKind::RequestSubmitted,
        EventKind::RequestSuperseded,
        EventKind::RequestOncallChecked,
        EventKind::RequestApproved,
        EventKind::RequestDenied,
        EventKind::RequestCancelled,
        EventKind::RequestTimedOut,
        EventKind::RequestReminded,
        EventKind::RequestEscalated,
        EventKind::RequestNudgeRescheduled,
        EventKind::RequestRefused,
        EventKind::RequestMfaVerified,
        EventKind::RequestStepUpRefused,
        EventKind::ApprovalRecorded,
        EventKind::GrantActivated,
        EventKind::GrantExtended,
        EventKind::GrantExtensionUndone,
        EventKind::GrantExpired,
        EventKind::GrantDeactivated,
        EventKind::GrantRevoked,
        EventKind::GrantWithdrawn,
        EventKind::GrantRetrying,
        EventKind::GrantFailed,
        EventKind::GrantEndFailed,
        EventKind::BreakglassSignin,
        EventKind::BreakglassSigninsJoined,
        EventKind::BreakglassRepaged,
        EventKind::BreakglassAcknowledged,
        EventKind::AlertRaised,
        EventKind::EligibilityEnding,
        EventKind::EligibilityRenewalRequested,
        EventKind::EligibilityRenewed,
        EventKind::EligibilityRenewalDenied,
        EventKind::ReviewStarted,
        EventKind::ReviewDecided,
        EventKind::ReviewNudged,
        EventKind::ReviewApplied,
        EventKind::ReviewCompleted,
        EventKind::DirectoryDrift,
        EventKind::IdentitySignInFailed,
        EventKind::IdentityLinkRefused,
        EventKind::IdentityLinked,
        EventKind::AuditSegmentStarted,
        EventKind::ChatRejected,
        EventKind::UiSignedIn,
        EventKind::UiSignInRefused,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::RequestSubmitted => "request.submitted",
            EventKind::RequestSuperseded => "request.superseded",
            EventKind::RequestOncallChecked => "request.oncall_checked",
            EventKind::RequestApproved => "request.approved",
            EventKind::RequestDenied => "request.denied",
            EventKind::RequestCancelled => "request.cancelled",
            EventKind::RequestTimedOut => "request.timed_out",
            EventKind::RequestReminded => "request.reminded",
            EventKind::RequestEscalated => "request.escalated",
            EventKind::RequestNudgeRescheduled => "request.nudge_rescheduled",
            EventKind::RequestRefused => "request.refused",
            EventKind::RequestMfaVerified => "request.mfa_verified",
            EventKind::RequestStepUpRefused => "request.step_up_refused",
            EventKind::ApprovalRecorded => "approval.recorded",
            EventKind::GrantActivated => "grant.activated",
            EventKind::GrantExtended => "grant.extended",
            EventKind::GrantExtensionUndone => "grant.extension_undone",
            EventKind::GrantExpired => "grant.expired",
            EventKind::GrantDeactivated => "grant.deactivated",
            EventKind::GrantRevoked => "grant.revoked",
            EventKind::GrantWithdrawn => "grant.withdrawn",
            EventKind::GrantRetrying => "grant.retrying",
            EventKind::GrantFailed => "grant.failed",
            EventKind::GrantEndFailed => "grant.end_failed",
            EventKind::BreakglassSignin => "breakglass.signin",
            EventKind::BreakglassSigninsJoined => "breakglass.signins_joined",
            EventKind::BreakglassRepaged => "breakglass.repaged",
            EventKind::BreakglassAcknowledged => "breakglass.acknowledged",
            EventKind::AlertRaised => "alert.raised",
            EventKind::EligibilityEnding => "eligibility.ending",
            EventKind::EligibilityRenewalRequested => "eligibility.renewal_requested",
            EventKind::EligibilityRenewed => "eligibility.renewed",
            EventKind::EligibilityRenewalDenied => "eligibility.renewal_denied",
            EventKind::ReviewStarted => "review.started",
            EventKind::ReviewDecided => "review.decided",
            EventKind::ReviewNudged => "review.nudged",
            EventKind::ReviewApplied => "review.applied",
            EventKind::ReviewCompleted => "review.completed",
            EventKind::DirectoryDrift => "directory.drift",
            EventKind::IdentitySignInFailed => "identity.sign_in_failed",
            EventKind::IdentityLinkRefused => "identity.link_refused",
            EventKind::IdentityLinked => "identity.linked",
            EventKind::AuditSegmentStarted => "audit.segment_started",
            EventKind::ChatRejected => "chat.rejected",
            EventKind::UiSignedIn => "ui.signed_in",
            EventKind::UiSignInRefused => "ui.sign_in_refused",
        }
    }

    /// The kind a stored name stands for; `None` for a name this version does not know (a
    /// record written by a newer version, or a tampered one: the chain check reports those).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<EventKind> for String {
    fn from(kind: EventKind) -> Self {
        kind.as_str().to_owned()
    }
}

impl PartialEq<EventKind> for str {
    fn eq(&self, kind: &EventKind) -> bool {
        self == kind.as_str()
    }
}

impl PartialEq<EventKind> for String {
    fn eq(&self, kind: &EventKind) -> bool {
        self == kind.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_stored_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind), "{kind}");
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(EventKind::parse("request.submittedx"), None);
        assert_eq!(EventKind::parse(""), None);
    }

    #[test]
    fn the_stored_names_are_exactly_these() {
        // These names are hashed into the audit chain and exported: changing one breaks the
        // verification of every record already written. Add new kinds; never rename.
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "request.submitted",
                "request.superseded",
                "request.oncall_checked",
                "request.approved",
                "request.denied",
                "request.cancelled",
                "request.timed_out",
                "request.reminded",
                "request.escalated",
                "request.nudge_rescheduled",
                "request.refused",
                "request.mfa_verified",
                "request.step_up_refused",
                "approval.recorded",
                "grant.activated",
                "grant.extended",
                "grant.extension_undone",
                "grant.expired",
                "grant.deactivated",
                "grant.revoked",
                "grant.withdrawn",
                "grant.retrying",
                "grant.failed",
                "grant.end_failed",
                "breakglass.signin",
                "breakglass.signins_joined",
                "breakglass.repaged",
                "breakglass.acknowledged",
                "alert.raised",
                "eligibility.ending",
                "eligibility.renewal_requested",
                "eligibility.renewed",
                "eligibility.renewal_denied",
                "review.started",
                "review.decided",
                "review.nudged",
                "review.applied",
                "review.completed",
                "directory.drift",
                "identity.sign_in_failed",
                "identity.link_refused",
                "identity.linked",
                "audit.segment_started",
                "chat.rejected",
                "ui.signed_in",
                "ui.sign_in_refused",
            ]
        );
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "no two kinds share a name");
    }
}
