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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use slack_morphism::prelude::SlackUser;

    use super::*;
    use crate::slack::client::profile_email;
    use crate::testing::FakeSlack;

    #[tokio::test]
    async fn reads_the_profile_email_through_users_info() {
        let fake = FakeSlack::start().await;
        fake.set_email("U0DAVE", "dave@contoso.com");
        let api = SlackApi::new(&fake.api_url(), &fake.token()).expect("client");
        let identity = SlackIdentity::new(Arc::new(api));
        let email = identity.email(&ChatUser::slack("U0DAVE")).await.expect("email");
        assert_eq!(email.as_deref(), Some("dave@contoso.com"));
        assert_eq!(identity.email(&ChatUser::slack("U0NOEMAIL")).await.expect("none"), None);
        assert_eq!(identity.email(&ChatUser::slack("nobody")).await.expect("not found"), None);
        let discord = ChatUser { platform: Platform::Discord, id: "111".into() };
        assert_eq!(identity.email(&discord).await.expect("not slack"), None);
        let calls = fake.calls_to("users.info");
        assert_eq!(calls.len(), 2, "{calls:?}"); // accepted calls; `nobody` was user_not_found
        assert_eq!(calls[0].body["user"], "U0DAVE");
    }

    #[tokio::test]
    async fn a_failing_users_info_is_an_error_not_a_stranger() {
        let fake = FakeSlack::start().await;
        fake.fail_next(1, 500);
        let api = SlackApi::new(&fake.api_url(), &fake.token()).expect("client");
        let identity = SlackIdentity::new(Arc::new(api));
        assert!(identity.email(&ChatUser::slack("U0DAVE")).await.is_err());
    }

    fn user(extra: serde_json::Value) -> SlackUser {
        let mut u = json!({"id": "U1", "profile": {"email": "dave@contoso.com"}});
        if let (Some(u), Some(extra)) = (u.as_object_mut(), extra.as_object()) {
            u.extend(extra.clone());
        }
        serde_json::from_value(u).expect("user")
    }

    #[test]
    fn only_full_members_are_matched_by_email() {
        assert_eq!(profile_email(&user(json!({}))).as_deref(), Some("dave@contoso.com"));
        for flag in
            ["deleted", "is_bot", "is_app_user", "is_restricted", "is_ultra_restricted", "is_stranger"]
        {
            assert_eq!(profile_email(&user(json!({ flag: true }))), None, "{flag}");
        }
        assert_eq!(profile_email(&user(json!({"profile": {"email": " "}}))), None);
        assert_eq!(profile_email(&user(json!({"profile": {}}))), None);
    }
}
