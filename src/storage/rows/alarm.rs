//! Break-glass rows: an `alarms` row and the sign-in log cursor.

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};

use crate::core::alarm::{Alarm, Severity};

/// An `alarms` row.
#[derive(Debug, sqlx::FromRow)]
pub struct AlarmRow {
    /// Alarm id.
    pub id: String,
    /// Dedupe key of the sign-in.
    pub signin_id: String,
    /// Break-glass account.
    pub account_upn: String,
    /// Sign-in time.
    pub signed_in_at: DateTime<Utc>,
    /// When the alarm was raised.
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
    /// Severity name.
    pub severity: String,
    /// Acknowledging person.
    pub acknowledged_by: Option<String>,
    /// Acknowledgement time.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Acknowledgement reason.
    pub reason: Option<String>,
    /// Next page.
    pub next_page_at: Option<DateTime<Utc>>,
    /// Pages sent.
    pub pages: i32,
    /// Compare-and-set version.
    pub version: i64,
    /// Sign-ins it stands for.
    pub signins: i32,
    /// The first sign-in (NULL before migration 0005: `signed_in_at`).
    pub first_signed_in_at: Option<DateTime<Utc>>,
}

impl TryFrom<AlarmRow> for Alarm {
    type Error = anyhow::Error;

    fn try_from(row: AlarmRow) -> anyhow::Result<Self> {
        let ctx = || format!("alarm {} in the database is inconsistent", row.id);
        let severity = Severity::parse(&row.severity)
            .ok_or_else(|| anyhow!("unknown severity {:?}", row.severity))
            .with_context(ctx)?;
        if severity != Severity::of(row.succeeded) {
            bail!("{}: severity {} does not fit succeeded = {}", ctx(), row.severity, row.succeeded);
        }
        let acked = [row.acknowledged_by.is_some(), row.acknowledged_at.is_some(), row.reason.is_some()];
        match (acked, row.next_page_at) {
            ([false, false, false], Some(_)) | ([true, true, true], None) => {}
            ([false, false, false], None) => bail!("{}: open but never pages again", ctx()),
            ([true, true, true], Some(_)) => bail!("{}: acknowledged but still paging", ctx()),
            _ => bail!("{}: acknowledger, time and reason must be set together", ctx()),
        }
        if row.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
            bail!("{}: acknowledged without a reason", ctx());
        }
        if row.pages < 1 || row.version < 1 {
            bail!("{}: pages {} / version {} below 1", ctx(), row.pages, row.version);
        }
        Ok(Alarm {
            id: row.id.into(),
            account_upn: row.account_upn,
            signin_id: row.signin_id,
            at: row.signed_in_at,
            raised_at: row.raised_at,
            ip: row.ip,
            location: row.location,
            app: row.app,
            client: row.client,
            ca_status: row.ca_status,
            succeeded: row.succeeded,
            severity,
            acknowledged_by: row.acknowledged_by.map(Into::into),
            acknowledged_at: row.acknowledged_at,
            reason: row.reason,
            next_page_at: row.next_page_at,
            pages: row.pages,
            version: row.version,
            signins: row.signins.max(1),
            first_at: row.first_signed_in_at.unwrap_or(row.signed_in_at),
        })
    }
}

/// A `signin_cursor` row's time.
#[derive(Debug, sqlx::FromRow)]
pub struct CursorRow {
    /// Newest sign-in time seen for the account.
    pub last_seen_at: DateTime<Utc>,
}
