//! Scheduled starts in the workflow: placing a typed start in time at submission, holding an
//! approved request until its start, and saying when it starts.
//!
//! The mechanism: an approved request whose `starts_at` lies ahead keeps `next_nudge_at` =
//! `starts_at`. The activation sweep ([`AccessService::activate`]) leaves a request alone while
//! `next_nudge_at` is ahead, and claims it once due with a compare-and-set on its version that
//! takes the activation lease (its own column), so a restart or a second replica neither makes
//! the grant early nor twice. The grant then ends at `starts_at` + duration, however late the sweep came.

use chrono::{DateTime, Utc};

use super::AccessService;
use crate::core::error::{Error, Result};
use crate::core::policy::{Draft, Person, Role};
use crate::core::request::AccessRequest;
use crate::core::schedule::{check_start, format_start, named_zone, waits};

impl AccessService {
    /// The start `draft` asks for, placed in time (wall-clock forms in the requester's
    /// `timezone`, else the server's) and bounded by the role's `max_start_ahead`; `None` =
    /// start when approved.
    pub(super) fn resolve_start(
        &self,
        role: &Role,
        person: &Person,
        draft: &Draft,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let Some(spec) = draft.start else { return Ok(None) };
        let personal = person.timezone.as_deref().map(named_zone).transpose().map_err(Error::BadInput)?;
        let start = match &personal {
            Some(zone) => spec.resolve(now, zone),
            None => spec.resolve(now, &chrono::Local),
        }
        .map_err(Error::BadInput)?;
        check_start(start, now, role.max_start_ahead)
            .map_err(|words| Error::policy(crate::core::refusal::Rule::StartWindow, words))?;
        Ok(Some(start))
    }
}

/// After approval: an approved request whose start lies ahead waits for it (the activation
/// sweep skips it until `next_nudge_at`); any other is due now.
pub(super) fn hold_until_start(request: &mut AccessRequest, now: DateTime<Utc>) {
    request.next_nudge_at = request.starts_at.filter(|s| waits(Some(*s), now));
}

/// Whether the request's grant must still wait for its start.
pub(super) fn before_start(request: &AccessRequest, now: DateTime<Utc>) -> bool {
    waits(request.starts_at, now)
}

/// ` starting Thu 03 Dec 22:00 UTC`, or nothing for a request that starts when approved.
pub(super) fn starting(request: &AccessRequest) -> String {
    request.starts_at.map(|s| format!(" starting {}", format_start(s))).unwrap_or_default()
}

/// When the grant of `request` ends if made at `now`: `starts_at` + duration for a scheduled
/// one (a late sweep does not lengthen it), `now` + duration otherwise.
pub(super) fn planned_end(request: &AccessRequest, now: DateTime<Utc>) -> DateTime<Utc> {
    request.starts_at.unwrap_or(now) + request.duration
}
