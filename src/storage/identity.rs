//! Identity links and one-time sign-in states on [`SqlStore`]: the writes of a
//! [`Commit`](crate::core::ports::Commit) (applied inside `commit`'s transaction through
//! [`write_identity!`]) and the reads behind the `Store` methods. Persistence only: what a
//! sign-in proves and what it may do is decided in `core`.
//!
//! "A state works once" is the database's job: using one is an update that only applies while
//! it is unused and unexpired, and a commit whose update did not apply rolls back whole.

use chrono::{DateTime, Utc};

use super::store_impl::db;
use super::{SqlStore, on_db};
use crate::core::error::Result;
use crate::core::identity::{AuthPurpose, AuthState, IdentityLink};
use crate::core::ids::{ChatUser, Platform};

macro_rules! link_columns {
    () => {
        "platform, chat_id, object_id, tenant_id, username, linked_at"
    };
}

macro_rules! state_columns {
    () => {
        "id, purpose, platform, chat_id, person, request_id, nonce, pkce_verifier, created_at, expires_at, used_at"
    };
}

/// Creates or replaces the link of a chat account (`$1..$6` in `link_columns` order).
pub(super) const UPSERT_LINK: &str = concat!(
    "INSERT INTO identity_links (",
    link_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (platform, chat_id) DO UPDATE SET ",
    "object_id = excluded.object_id, tenant_id = excluded.tenant_id, username = excluded.username, ",
    "linked_at = excluded.linked_at"
);
/// The link of one chat account.
const LINK_OF: &str =
    concat!("SELECT ", link_columns!(), " FROM identity_links WHERE platform = $1 AND chat_id = $2");
/// Every link to one directory account.
const LINKS_OF_OBJECT: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM identity_links WHERE lower(object_id) = lower($1) ORDER BY platform, chat_id"
);
/// Stores a new state (`$1..$11` in `state_columns` order).
pub(super) const INSERT_STATE: &str = concat!(
    "INSERT INTO auth_states (",
    state_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);
/// Uses a state up (`$1` id, `$2` now) if it is unused and unexpired; returns its id when it did.
pub(super) const USE_STATE: &str = "UPDATE auth_states SET used_at = $2 \
     WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING id";
/// One state by id.
const PRUNE_STATES: &str = "DELETE FROM auth_states WHERE expires_at < $1";
const STATE_BY_ID: &str = concat!("SELECT ", state_columns!(), " FROM auth_states WHERE id = $1");

/// An `identity_links` row.
#[derive(Debug, sqlx::FromRow)]
struct LinkRow {
    platform: String,
    chat_id: String,
    object_id: String,
    tenant_id: String,
    username: Option<String>,
    linked_at: DateTime<Utc>,
}

impl TryFrom<LinkRow> for IdentityLink {
    type Error = anyhow::Error;

    fn try_from(row: LinkRow) -> anyhow::Result<Self> {
        let platform = Platform::parse(&row.platform)
            .ok_or_else(|| anyhow::anyhow!("identity link with unknown platform {:?}", row.platform))?;
        Ok(IdentityLink {
            user: ChatUser { platform, id: row.chat_id },
            object_id: row.object_id,
            tenant_id: row.tenant_id,
            username: row.username,
            linked_at: row.linked_at,
        })
    }
}

/// An `auth_states` row.
#[derive(Debug, sqlx::FromRow)]
struct StateRow {
    id: String,
    purpose: String,
    platform: Option<String>,
    chat_id: Option<String>,
    person: Option<String>,
    request_id: Option<String>,
    nonce: String,
    pkce_verifier: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl TryFrom<StateRow> for AuthState {
    type Error = anyhow::Error;

    fn try_from(row: StateRow) -> anyhow::Result<Self> {
        let purpose = AuthPurpose::parse(&row.purpose)
            .ok_or_else(|| anyhow::anyhow!("sign-in state with unknown purpose {:?}", row.purpose))?;
        let user = match (row.platform, row.chat_id) {
            (Some(p), Some(id)) => Some(ChatUser {
                platform: Platform::parse(&p)
                    .ok_or_else(|| anyhow::anyhow!("sign-in state with unknown platform {p:?}"))?,
                id,
            }),
            (None, None) => None,
            _ => anyhow::bail!("sign-in state {} has half a chat user", row.id),
        };
        if purpose.is_step_up() && row.request_id.is_none() {
            anyhow::bail!("step-up state {} is not bound to a request", row.id);
        }
        Ok(AuthState {
            id: row.id,
            purpose,
            user,
            person: row.person.map(Into::into),
            request: row.request_id.map(Into::into),
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
        })
    }
}

/// Writes a commit's identity rows on the open transaction `$tx` at `$at`: new states, used-up
/// states (one that is already used or expired makes the commit a conflict) and links (a
/// second chat account of one platform for the same directory account is a conflict).
macro_rules! write_identity {
    ($tx:ident, $commit:expr, $at:expr) => {
        for state in &$commit.new_auth_states {
            sqlx::query($crate::storage::identity::INSERT_STATE)
                .bind(state.id.as_str())
                .bind(state.purpose.as_str())
                .bind(state.user.as_ref().map(|u| u.platform.as_str()))
                .bind(state.user.as_ref().map(|u| u.id.as_str()))
                .bind(state.person.as_ref().map(|p| p.as_str()))
                .bind(state.request.as_ref().map(|r| r.as_str()))
                .bind(state.nonce.as_str())
                .bind(state.pkce_verifier.as_str())
                .bind($crate::storage::store_impl::micros(state.created_at))
                .bind($crate::storage::store_impl::micros(state.expires_at))
                .bind(state.used_at.map($crate::storage::store_impl::micros))
                .execute(&mut *$tx)
                .await
                .map_err($crate::storage::store_impl::unique_is_conflict(
                    "storing a sign-in state",
                    || "that sign-in link already exists".to_owned(),
                ))?;
        }
        for id in &$commit.use_auth_states {
            let used: Option<String> = sqlx::query_scalar($crate::storage::identity::USE_STATE)
                .bind(id.as_str())
                .bind($at)
                .fetch_optional(&mut *$tx)
                .await
                .map_err($crate::storage::store_impl::db("using a sign-in state"))?;
            if used.is_none() {
                return Err($crate::core::error::Error::Conflict(
                    "this sign-in link was already used or has expired".into(),
                ));
            }
        }
        for link in &$commit.links {
            sqlx::query($crate::storage::identity::UPSERT_LINK)
                .bind(link.user.platform.as_str())
                .bind(link.user.id.as_str())
                .bind(link.object_id.as_str())
                .bind(link.tenant_id.as_str())
                .bind(link.username.as_deref())
                .bind($crate::storage::store_impl::micros(link.linked_at))
                .execute(&mut *$tx)
                .await
                .map_err($crate::storage::store_impl::unique_is_conflict("linking an identity", || {
                    format!(
                        "that directory account is already linked to another {} account",
                        link.user.platform
                    )
                }))?;
        }
    };
}
pub(super) use write_identity;

impl SqlStore {
    /// One sign-in state by id.
    pub(super) async fn load_auth_state(&self, id: &str) -> Result<Option<AuthState>> {
        let row: Option<StateRow> = on_db!(self, pool => {
            sqlx::query_as(STATE_BY_ID).bind(id).fetch_optional(pool).await
        })
        .map_err(db("loading a sign-in state"))?;
        Ok(row.map(AuthState::try_from).transpose()?)
    }

    /// Deletes states that expired before `before`.
    pub(super) async fn delete_auth_states(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        on_db!(write self, pool => {
            sqlx::query(PRUNE_STATES)
                .bind(crate::storage::store_impl::micros(before))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db("pruning sign-in states"))
    }

    /// The link of one chat account.
    pub(super) async fn load_link(&self, user: &ChatUser) -> Result<Option<IdentityLink>> {
        let row: Option<LinkRow> = on_db!(self, pool => {
            sqlx::query_as(LINK_OF).bind(user.platform.as_str()).bind(user.id.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading an identity link"))?;
        Ok(row.map(IdentityLink::try_from).transpose()?)
    }

    /// Every link to one directory account.
    pub(super) async fn load_links_of(&self, object_id: &str) -> Result<Vec<IdentityLink>> {
        let rows: Vec<LinkRow> = on_db!(self, pool => {
            sqlx::query_as(LINKS_OF_OBJECT).bind(object_id).fetch_all(pool).await
        })
        .map_err(db("loading identity links"))?;
        Ok(rows.into_iter().map(IdentityLink::try_from).collect::<anyhow::Result<_>>()?)
    }
}
