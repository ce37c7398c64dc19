//! Governance rows on [`SqlStore`]: the alert log, review campaigns and items, eligibility
//! removals and extensions. [`write_governance!`] writes a commit's rows inside `commit`'s
//! transaction (unique keys and compare-and-set make a second replica's attempt a conflict);
//! the methods below are the reads behind the `Store` port. Persistence only: what a review
//! decides or when an alert fires is `core`'s business.

use chrono::{DateTime, Utc};

use super::rows::{CampaignRow, ExtensionRow, ItemRow, RemovalRow};
use super::store_impl::{db, micros};
use super::{SqlStore, on_db};
use crate::core::error::Result;
use crate::core::ids::{PersonId, RoleKey};
use crate::core::ports::EligibilityRemoval;
use crate::core::renewal::EligibilityExtension;
use crate::core::reviews::{Campaign, ReviewItem};

/// Inserts an alert; the key is the primary key.
pub(super) const INSERT_ALERT: &str =
    "INSERT INTO alert_log (key, kind, role, person, raised_at) VALUES ($1, $2, $3, $4, $5)";
/// Inserts a campaign; `(review, period_start)` is unique.
pub(super) const INSERT_CAMPAIGN: &str = "INSERT INTO review_campaigns (id, review, period_start, deadline, started_at) VALUES ($1, $2, $3, $4, $5)";
/// Marks a campaign completed, once: no row back means another replica already did.
pub(super) const COMPLETE_CAMPAIGN: &str =
    "UPDATE review_campaigns SET completed_at = $2 WHERE id = $1 AND completed_at IS NULL RETURNING id";
const ITEM_COLUMNS: &str = "id, campaign_id, person, role, reviewers, origin, default_decision, deadline, nudge_at, decision, decided_by, decided_at, applied_at, history, version";
/// Inserts a review item; `$1..$15` in `ITEM_COLUMNS` order.
pub(super) const INSERT_ITEM: &str = "INSERT INTO review_items (id, campaign_id, person, role, reviewers, origin, default_decision, deadline, nudge_at, decision, decided_by, decided_at, applied_at, history, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
/// Compare-and-set update of a review item; `$15` is the expected version.
pub(super) const UPDATE_ITEM: &str = "UPDATE review_items SET reviewers = $5, nudge_at = $9, decision = $10, decided_by = $11, decided_at = $12, applied_at = $13, history = $14, version = version + 1 WHERE id = $1 AND version = $15 AND campaign_id = $2 AND person = $3 AND role = $4 AND origin = $6 AND default_decision = $7 AND deadline = $8 RETURNING version";
/// Whether a review removed `$1`'s eligibility for `$2` (a count, 0 or 1), and the latest
/// approved extension end (NULL when none): both index searches.
pub(super) const ELIGIBILITY_MARKS: &str = "SELECT \
     (SELECT COUNT(*) FROM eligibility_removals WHERE person = $1 AND role = $2) AS removed, \
     (SELECT requested_until FROM eligibility_extensions WHERE person = $1 AND role = $2 AND state = 'approved' \
      ORDER BY requested_until DESC LIMIT 1) AS until";
/// Records a removal; repeating it changes nothing.
pub(super) const INSERT_REMOVAL: &str = "INSERT INTO eligibility_removals (person, role, removed_at, item_id) VALUES ($1, $2, $3, $4) ON CONFLICT (person, role) DO NOTHING";
/// Forgets a removal.
pub(super) const DELETE_REMOVAL: &str = "DELETE FROM eligibility_removals WHERE person = $1 AND role = $2";
const EXTENSION_COLUMNS: &str = "id, person, role, current_until, requested_until, justification, state, decided_by, decided_at, created_at, version";
/// Inserts an extension; one pending per person and role.
pub(super) const INSERT_EXTENSION: &str = "INSERT INTO eligibility_extensions (id, person, role, current_until, requested_until, justification, state, decided_by, decided_at, created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
/// Compare-and-set update of an extension; `$11` is the expected version.
pub(super) const UPDATE_EXTENSION: &str = "UPDATE eligibility_extensions SET state = $7, decided_by = $8, decided_at = $9, version = version + 1 WHERE id = $1 AND version = $11 RETURNING version";

/// Writes a commit's governance rows on the open transaction `$tx`.
macro_rules! write_governance {
    ($tx:ident, $g:expr, $at:expr) => {{
        use $crate::core::error::Error;
        use $crate::core::ports::Write;
        use $crate::storage::governance as gv;
        use $crate::storage::store_impl::{db, unique_is_conflict};
        let g = $g;
        for a in &g.alerts {
            sqlx::query(gv::INSERT_ALERT)
                .bind(a.key.as_str())
                .bind(a.kind.as_str())
                .bind(a.role.as_ref().map(|r| r.as_str()))
                .bind(a.person.as_ref().map(|p| p.as_str()))
                .bind($at)
                .execute(&mut *$tx)
                .await
                .map_err(unique_is_conflict("recording an alert", || {
                    format!("alert {} was already raised", a.key)
                }))?;
        }
        for c in &g.campaigns {
            sqlx::query(gv::INSERT_CAMPAIGN)
                .bind(c.id.as_str())
                .bind(c.review.as_str())
                .bind(micros(c.period_start))
                .bind(micros(c.deadline))
                .bind(micros(c.started_at))
                .execute(&mut *$tx)
                .await
                .map_err(unique_is_conflict("starting a campaign", || {
                    format!("review {} already has a campaign for {}", c.review, c.period_start)
                }))?;
        }
        for (id, when) in &g.completed {
            let done: Option<String> = sqlx::query_scalar(gv::COMPLETE_CAMPAIGN)
                .bind(id.as_str())
                .bind(micros(*when))
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db("completing a campaign"))?;
            if done.is_none() {
                return Err(Error::Conflict(format!("campaign {id} was already completed")));
            }
        }
        for write in &g.items {
            let (i, sql, version) = match write {
                Write::Insert(i) => (i, gv::INSERT_ITEM, i.version),
                Write::Update { row, expected_version } => (row, gv::UPDATE_ITEM, *expected_version),
            };
            let reviewers = serde_json::to_string(&i.reviewers).map_err(|e| Error::Internal(e.into()))?;
            let q = sqlx::query_scalar::<_, i64>(sql)
                .bind(i.id.as_str())
                .bind(i.campaign.as_str())
                .bind(i.person.as_str())
                .bind(i.role.as_str())
                .bind(reviewers)
                .bind(i.origin.as_str())
                .bind(i.default.as_str())
                .bind(micros(i.deadline))
                .bind(i.nudge_at.map(micros))
                .bind(i.decision.map(|d| d.as_str()))
                .bind(i.decided_by.as_ref().map(|p| p.as_str()))
                .bind(i.decided_at.map(micros))
                .bind(i.applied_at.map(micros))
                .bind(i.history.as_str())
                .bind(version);
            match write {
                Write::Insert(_) => {
                    q.fetch_optional(&mut *$tx)
                        .await
                        .map_err(unique_is_conflict("inserting a review item", || {
                            format!("{} is already under review for {}", i.person, i.role)
                        }))?;
                }
                Write::Update { .. } => {
                    if q.fetch_optional(&mut *$tx).await.map_err(db("updating a review item"))?.is_none() {
                        return Err(Error::Conflict(format!(
                            "review item {} was already changed by someone else",
                            i.id
                        )));
                    }
                }
            }
        }
        for r in &g.removals {
            sqlx::query(gv::INSERT_REMOVAL)
                .bind(r.person.as_str())
                .bind(r.role.as_str())
                .bind(micros(r.removed_at))
                .bind(r.item_id.as_deref())
                .execute(&mut *$tx)
                .await
                .map_err(db("recording an eligibility removal"))?;
        }
        for (person, role) in &g.forget_removals {
            sqlx::query(gv::DELETE_REMOVAL)
                .bind(person.as_str())
                .bind(role.as_str())
                .execute(&mut *$tx)
                .await
                .map_err(db("forgetting an eligibility removal"))?;
        }
        for write in &g.extensions {
            let (e, sql, version) = match write {
                Write::Insert(e) => (e, gv::INSERT_EXTENSION, e.version),
                Write::Update { row, expected_version } => (row, gv::UPDATE_EXTENSION, *expected_version),
            };
            let q = sqlx::query_scalar::<_, i64>(sql)
                .bind(e.id.as_str())
                .bind(e.person.as_str())
                .bind(e.role.as_str())
                .bind(e.current_until.map(micros))
                .bind(micros(e.requested_until))
                .bind(e.justification.as_str())
                .bind(e.state.as_str())
                .bind(e.decided_by.as_ref().map(|p| p.as_str()))
                .bind(e.decided_at.map(micros))
                .bind(micros(e.created_at))
                .bind(version);
            match write {
                Write::Insert(_) => {
                    q.fetch_optional(&mut *$tx)
                        .await
                        .map_err(unique_is_conflict("inserting an extension", || {
                            format!("{} already asked to renew {}", e.person, e.role)
                        }))?;
                }
                Write::Update { .. } => {
                    if q.fetch_optional(&mut *$tx).await.map_err(db("updating an extension"))?.is_none() {
                        return Err(Error::Conflict(format!("renewal {} was already decided", e.id)));
                    }
                }
            }
        }
    }};
}
pub(super) use write_governance;

fn items(rows: Vec<ItemRow>) -> Result<Vec<ReviewItem>> {
    Ok(rows.into_iter().map(ReviewItem::try_from).collect::<anyhow::Result<_>>()?)
}

impl SqlStore {
    pub(super) async fn gv_audit_of(
        &self,
        since: DateTime<Utc>,
        kinds: &[&str],
    ) -> Result<Vec<crate::core::audit::AuditRecord>> {
        // The kinds are the core's constants, never user text; quoted defensively all the same.
        let list: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.replace('\'', "''"))).collect();
        let sql = format!(
            "SELECT seq, at, actor_kind, actor, kind, request_id, role, detail, prev_hash, hash, key_id FROM audit_events \
             WHERE at >= $1 AND kind IN ({}) ORDER BY seq",
            if list.is_empty() { "''".to_owned() } else { list.join(", ") }
        );
        let rows: Vec<super::rows::AuditRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(micros(since)).fetch_all(pool).await
        })
        .map_err(db("loading the alert history"))?;
        Ok(rows.into_iter().map(crate::core::audit::AuditRecord::try_from).collect::<anyhow::Result<_>>()?)
    }

    pub(super) async fn gv_audit_first_at(&self) -> Result<Option<DateTime<Utc>>> {
        let row: Option<(DateTime<Utc>,)> = on_db!(self, pool => {
            sqlx::query_as("SELECT at FROM audit_events ORDER BY seq LIMIT 1").fetch_optional(pool).await
        })
        .map_err(db("reading the start of the audit trail"))?;
        Ok(row.map(|(t,)| t))
    }

    pub(super) async fn gv_campaign_exists(&self, review: &str, start: DateTime<Utc>) -> Result<bool> {
        let n: i64 = on_db!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM review_campaigns WHERE review = $1 AND period_start = $2")
                .bind(review).bind(micros(start)).fetch_one(pool).await
        })
        .map_err(db("looking up a campaign"))?;
        Ok(n > 0)
    }

    pub(super) async fn gv_campaign_statuses(&self) -> Result<Vec<(Campaign, usize, usize)>> {
        let rows: Vec<CampaignRow> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT c.id, c.review, c.period_start, c.deadline, c.started_at, c.completed_at, \
                 (SELECT COUNT(*) FROM review_items i WHERE i.campaign_id = c.id AND i.decision IS NULL) AS undecided, \
                 (SELECT COUNT(*) FROM review_items i WHERE i.campaign_id = c.id AND i.applied_at IS NULL) AS unapplied \
                 FROM review_campaigns c ORDER BY c.period_start, c.id",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(db("loading campaigns"))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let campaign = Campaign {
                    id: r.id,
                    review: r.review,
                    period_start: r.period_start,
                    deadline: r.deadline,
                    started_at: r.started_at,
                    completed_at: r.completed_at,
                };
                (campaign, r.undecided.max(0) as usize, r.unapplied.max(0) as usize)
            })
            .collect())
    }

    pub(super) async fn gv_review_item(&self, id: &str) -> Result<Option<ReviewItem>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM review_items WHERE id = $1");
        let row: Option<ItemRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await
        })
        .map_err(db("loading a review item"))?;
        Ok(items(row.into_iter().collect())?.pop())
    }

    pub(super) async fn gv_due_items(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ReviewItem>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items WHERE applied_at IS NULL \
             AND (decision IS NOT NULL OR deadline <= $1 OR nudge_at <= $1) ORDER BY deadline, id LIMIT $2"
        );
        let rows: Vec<ItemRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading due review items"))?;
        items(rows)
    }

    pub(super) async fn gv_open_items(&self, limit: i64) -> Result<Vec<ReviewItem>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items WHERE decision IS NULL ORDER BY deadline, id LIMIT $1"
        );
        let rows: Vec<ItemRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading open review items"))?;
        items(rows)
    }

    pub(super) async fn gv_removals(&self) -> Result<Vec<EligibilityRemoval>> {
        let rows: Vec<RemovalRow> = on_db!(self, pool => {
            sqlx::query_as("SELECT person, role, removed_at, item_id FROM eligibility_removals ORDER BY role, person")
                .fetch_all(pool)
                .await
        })
        .map_err(db("loading eligibility removals"))?;
        Ok(rows
            .into_iter()
            .map(|r| EligibilityRemoval {
                person: r.person.into(),
                role: r.role.into(),
                removed_at: r.removed_at,
                item_id: r.item_id,
            })
            .collect())
    }

    pub(super) async fn gv_removed(&self, person: &PersonId, role: &RoleKey) -> Result<bool> {
        let n: i64 = on_db!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM eligibility_removals WHERE person = $1 AND role = $2")
                .bind(person.as_str()).bind(role.as_str()).fetch_one(pool).await
        })
        .map_err(db("checking an eligibility removal"))?;
        Ok(n > 0)
    }

    pub(super) async fn gv_extension(&self, id: &str) -> Result<Option<EligibilityExtension>> {
        let sql = format!("SELECT {EXTENSION_COLUMNS} FROM eligibility_extensions WHERE id = $1");
        let row: Option<ExtensionRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await
        })
        .map_err(db("loading an extension"))?;
        Ok(row.map(EligibilityExtension::try_from).transpose()?)
    }

    pub(super) async fn gv_approved_extensions(&self) -> Result<Vec<EligibilityExtension>> {
        let sql = format!(
            "SELECT {EXTENSION_COLUMNS} FROM eligibility_extensions WHERE state = 'approved' ORDER BY decided_at, id"
        );
        let rows: Vec<ExtensionRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await
        })
        .map_err(db("loading approved extensions"))?;
        Ok(rows.into_iter().map(EligibilityExtension::try_from).collect::<anyhow::Result<_>>()?)
    }

    /// See `Store::eligibility_marks`: [`ELIGIBILITY_MARKS`] in one statement.
    pub(super) async fn gv_marks(
        &self,
        person: &PersonId,
        role: &RoleKey,
    ) -> Result<(bool, Option<DateTime<Utc>>)> {
        let (removed, until): (i64, Option<DateTime<Utc>>) = on_db!(self, pool => {
            sqlx::query_as(ELIGIBILITY_MARKS).bind(person.as_str()).bind(role.as_str()).fetch_one(pool).await
        })
        .map_err(db("reading eligibility marks"))?;
        Ok((removed > 0, until))
    }

    pub(super) async fn gv_extended_until(
        &self,
        person: &PersonId,
        role: &RoleKey,
    ) -> Result<Option<DateTime<Utc>>> {
        let row: Option<(DateTime<Utc>,)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT requested_until FROM eligibility_extensions WHERE person = $1 AND role = $2 AND state = 'approved' \
                 ORDER BY requested_until DESC LIMIT 1",
            )
            .bind(person.as_str()).bind(role.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading an extension"))?;
        Ok(row.map(|(t,)| t))
    }
}
