//! Teams conversation references on [`SqlStore`] (migration 0011): where the Connector reaches
//! a user's personal chat or a channel, learned from inbound activities. Persistence only;
//! the Teams adapter decides what to remember.

use chrono::{DateTime, Utc};

use super::store_impl::{db, micros};
use super::{SqlStore, on_db};
use crate::core::error::Result;
use crate::core::ports::ConversationRef;

/// Inserts or updates one reference; `NULL`s keep the stored values.
const UPSERT: &str = "INSERT INTO teams_conversations (key, conversation_id, service_url, user_id, updated_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE SET \
     conversation_id = COALESCE(excluded.conversation_id, teams_conversations.conversation_id), \
     service_url = excluded.service_url, \
     user_id = COALESCE(excluded.user_id, teams_conversations.user_id), \
     updated_at = excluded.updated_at";
/// One reference by key.
const BY_KEY: &str =
    "SELECT key, conversation_id, service_url, user_id, updated_at FROM teams_conversations WHERE key = $1";

#[derive(Debug, sqlx::FromRow)]
struct Row {
    key: String,
    conversation_id: Option<String>,
    service_url: String,
    user_id: Option<String>,
    updated_at: DateTime<Utc>,
}

impl SqlStore {
    /// One conversation reference.
    pub(super) async fn load_conversation(&self, key: &str) -> Result<Option<ConversationRef>> {
        let row: Option<Row> = on_db!(self, pool => {
            sqlx::query_as(BY_KEY).bind(key).fetch_optional(pool).await
        })
        .map_err(db("loading a Teams conversation"))?;
        Ok(row.map(|r| ConversationRef {
            key: r.key,
            conversation_id: r.conversation_id,
            service_url: r.service_url,
            user_id: r.user_id,
            updated_at: r.updated_at,
        }))
    }

    /// Records one conversation reference.
    pub(super) async fn store_conversation(&self, c: &ConversationRef) -> Result<()> {
        on_db!(write self, pool => {
            sqlx::query(UPSERT)
                .bind(c.key.as_str())
                .bind(c.conversation_id.as_deref())
                .bind(c.service_url.as_str())
                .bind(c.user_id.as_deref())
                .bind(micros(c.updated_at))
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(db("remembering a Teams conversation"))?;
        Ok(())
    }
}
