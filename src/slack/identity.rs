//! The Slack side of lookup by email: [`ChatIdentity`] through `users.info`.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;

use super::client::{SlackApi, SlackApiError};
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, Platform};
use crate::core::ports::ChatIdentity;

/// Reads Slack profile emails for the lookup by email.
pub struct SlackIdentity {
    api: Arc<SlackApi>,
}

impl SlackIdentity {
    /// Reads through `api`.
    pub fn new(api: Arc<SlackApi>) -> Self {
        Self { api }
    }
}

#[async_trait]
impl ChatIdentity for SlackIdentity {
    async fn email(&self, user: &ChatUser) -> Result<Option<String>> {
        if user.platform != Platform::Slack {
            return Ok(None);
        }
        match self.api.users_info(&user.id).await {
            Ok(email) => Ok(email),
            Err(SlackApiError::Rejected(code)) if code == "user_not_found" || code == "user_not_visible" => {
                Ok(None)
            }
            Err(e) => Err(Error::Internal(anyhow!(e).context("reading the Slack profile email"))),
        }
    }
}
