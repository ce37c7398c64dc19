//! Break-glass alarms and the sign-in poller's cursor on [`SqlStore`]: the alarm writes of a
//! [`Commit`](crate::core::ports::Commit) (inserted from `store_impl`'s transaction through
//! [`write_alarms!`]) and the reads behind the `Store` methods. Persistence only; when an alarm
//! pages or who may acknowledge it is decided in `core`.

use chrono::{DateTime, Utc};

use super::queries as q;
use super::rows::{AlarmRow, CursorRow};
use super::store_impl::{db, micros};
use super::{SqlStore, on_db};
use crate::core::alarm::Alarm;
use crate::core::error::Result;
use crate::core::ids::AlarmId;

/// Binds an alarm's columns in `queries::alarm_columns` order, with `$version` as `$18`.
macro_rules! bind_alarm {
    ($query:expr, $a:expr, $version:expr) => {
        $query
            .bind($a.id.as_str())
            .bind($a.signin_id.as_str())
            .bind($a.account_upn.as_str())
            .bind($crate::core::audit::truncate_micros($a.at))
            .bind($crate::core::audit::truncate_micros($a.raised_at))
            .bind($a.ip.as_deref())
            .bind($a.location.as_deref())
            .bind($a.app.as_deref())
            .bind($a.client.as_deref())
            .bind($a.ca_status.as_deref())
            .bind($a.succeeded)
            .bind($a.severity.as_str())
            .bind($a.acknowledged_by.as_ref().map(|p| p.as_str()))
            .bind($a.acknowledged_at.map($crate::core::audit::truncate_micros))
            .bind($a.reason.as_deref())
            .bind($a.next_page_at.map($crate::core::audit::truncate_micros))
            .bind($a.pages)
            .bind($version)
            .bind($a.signins)
            .bind($crate::core::audit::truncate_micros($a.first_at))
    };
}
pub(super) use bind_alarm;

/// Writes a commit's alarm rows on the open transaction `$tx`: inserts (a second alarm for the
/// same sign-in is `Error::Conflict`, "already raised") and compare-and-set updates (a lost race
/// is `Error::Conflict` too, and the whole commit rolls back).
macro_rules! write_alarms {
    ($tx:ident, $alarms:expr) => {
        for write in $alarms {
            match write {
                $crate::core::ports::Write::Insert(a) => {
                    $crate::storage::alarms::bind_alarm!(
                        sqlx::query($crate::storage::queries::INSERT_ALARM),
                        a,
                        a.version
                    )
                    .execute(&mut *$tx)
                    .await
                    .map_err($crate::storage::store_impl::unique_is_conflict(
                        "inserting an alarm",
                        || {
                            format!(
                                "an alarm for sign-in {} or account {} was already raised",
                                a.signin_id, a.account_upn
                            )
                        },
                    ))?;
                }
                $crate::core::ports::Write::Update { row, expected_version } => {
                    let applied: Option<i64> = $crate::storage::alarms::bind_alarm!(
                        sqlx::query_scalar($crate::storage::queries::UPDATE_ALARM),
                        row,
                        *expected_version
                    )
                    .fetch_optional(&mut *$tx)
                    .await
                    .map_err($crate::storage::store_impl::db("updating an alarm"))?;
                    if applied.is_none() {
                        return Err($crate::core::error::Error::Conflict(format!(
                            "alarm {} was already changed by someone else",
                            row.id
                        )));
                    }
                }
            }
        }
    };
}
pub(super) use write_alarms;

/// Records a commit's alarm sign-ins on the open transaction `$tx`; a sign-in already recorded
/// is `Error::Conflict` (the caller reads again and counts only new ones).
macro_rules! write_alarm_signins {
    ($tx:ident, $signins:expr) => {
        for s in $signins {
            sqlx::query($crate::storage::queries::INSERT_ALARM_SIGNIN)
                .bind(s.signin_id.as_str())
                .bind(s.alarm_id.as_str())
                .bind($crate::core::audit::truncate_micros(s.at))
                .bind(s.ip.as_deref())
                .bind(s.app.as_deref())
                .bind(s.succeeded)
                .execute(&mut *$tx)
                .await
                .map_err($crate::storage::store_impl::unique_is_conflict("recording a sign-in", || {
                    format!("sign-in {} is already recorded", s.signin_id)
                }))?;
        }
    };
}
pub(super) use write_alarm_signins;

impl SqlStore {
    /// One alarm by id.
    pub(super) async fn load_alarm(&self, id: &AlarmId) -> Result<Option<Alarm>> {
        let row: Option<AlarmRow> = on_db!(self, pool => {
            sqlx::query_as(q::ALARM_BY_ID).bind(id.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading an alarm"))?;
        Ok(row.map(Alarm::try_from).transpose()?)
    }

    /// The open alarm of a break-glass account.
    pub(super) async fn load_open_alarm(&self, account: &str) -> Result<Option<Alarm>> {
        let row: Option<AlarmRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_ALARM_OF).bind(account).fetch_optional(pool).await
        })
        .map_err(db("loading an account's open alarm"))?;
        Ok(row.map(Alarm::try_from).transpose()?)
    }

    /// Which of `keys` are known sign-ins.
    pub(super) async fn load_known_signins(&self, keys: &[String]) -> Result<Vec<String>> {
        let mut known = Vec::new();
        for key in keys {
            let hit: i32 = on_db!(self, pool => {
                sqlx::query_scalar(q::SIGNIN_KNOWN).bind(key.as_str()).fetch_one(pool).await
            })
            .map_err(db("looking up a sign-in"))?;
            if hit == 1 {
                known.push(key.clone());
            }
        }
        Ok(known)
    }

    /// Unacknowledged alarms due to page again.
    pub(super) async fn load_due_alarm_pages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Alarm>> {
        let rows: Vec<AlarmRow> = on_db!(self, pool => {
            sqlx::query_as(q::DUE_ALARM_PAGES).bind(micros(now)).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading due alarm pages"))?;
        Ok(rows.into_iter().map(Alarm::try_from).collect::<anyhow::Result<_>>()?)
    }

    /// The poller's cursor of one account.
    pub(super) async fn load_signin_cursor(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        let row: Option<CursorRow> = on_db!(self, pool => {
            sqlx::query_as(q::SIGNIN_CURSOR).bind(account).fetch_optional(pool).await
        })
        .map_err(db("loading a sign-in cursor"))?;
        Ok(row.map(|r| r.last_seen_at))
    }

    /// Moves one account's cursor forward.
    pub(super) async fn store_signin_cursor(&self, account: &str, at: DateTime<Utc>) -> Result<()> {
        on_db!(write self, pool => {
            sqlx::query(q::UPSERT_SIGNIN_CURSOR).bind(account).bind(micros(at)).execute(pool).await.map(drop)
        })
        .map_err(db("moving a sign-in cursor"))
    }
}
