//! Gathers the posture check's evidence (standing assignments from the directory, campaigns and
//! refused alert deliveries from the store, the alert routes) and has `core::posture` judge it;
//! behind `/pim posture` (approvers only) and `pimbot posture`.

use super::AccessService;
use crate::core::error::{Error, Result};
use crate::core::ids::ChatUser;
use crate::core::outbox::Target;
use crate::core::posture::{
    AlertRoute, CampaignStatus, Evidence, PostureInput, PostureReport, REFUSAL_LOOKBACK, assess,
};

/// The most refusals question four reads (newest first); far more than a healthy week holds.
const REFUSALS_READ: i64 = 100_000;

impl AccessService {
    /// The four verification questions, answered now.
    pub async fn posture(&self) -> Result<PostureReport> {
        let policy = self.policy();
        let now = self.now();
        let assignments = match self.directory.standing_assignments(&policy.roles).await {
            Ok(Some(list)) => Evidence::Read(list),
            Ok(None) => Evidence::NotAvailable(format!(
                "directory kind = {}: pimbot's grants are its only assignments, and every one ends",
                self.directory.name()
            )),
            Err(e) => Evidence::Failed(format!("{e:#}")),
        };
        let campaigns = match self.store.campaign_statuses().await {
            Ok(list) => Evidence::Read(
                list.into_iter()
                    .map(|(c, undecided, unapplied)| CampaignStatus {
                        review: c.review,
                        period_start: c.period_start,
                        deadline: c.deadline,
                        undecided,
                        unapplied,
                        completed_at: c.completed_at,
                    })
                    .collect(),
            ),
            Err(e) => Evidence::Failed(format!("{e:#}")),
        };
        let routes: Vec<AlertRoute> = self
            .channels
            .iter()
            .map(|c| AlertRoute {
                platform: c.platform,
                alert_channel: (!c.alert.is_empty() && c.alert != c.approver).then(|| c.alert.clone()),
            })
            .collect();
        let refused = self.store.recent_rejections(now - REFUSAL_LOOKBACK, REFUSALS_READ).await;
        let refused_alerts = match refused {
            Ok(list) => Evidence::Read(
                list.into_iter()
                    .filter(|r| {
                        matches!(&r.message.target, Target::Channel { channel }
                            if self.channels.iter().any(|c| c.platform == r.message.platform && &c.alert == channel))
                    })
                    .map(|r| format!("{} {}", r.message.platform, r.reason))
                    .collect(),
            ),
            Err(e) => Evidence::Failed(format!("{e:#}")),
        };
        let input = PostureInput { policy: &policy, now, assignments, campaigns, routes, refused_alerts };
        Ok(assess(&input))
    }

    /// `/pim posture`: for approvers (of any role) only.
    pub async fn posture_for(&self, user: &ChatUser) -> Result<PostureReport> {
        let policy = self.policy();
        let who = super::whois(&policy, user)?;
        if !policy.roles.iter().any(|r| r.approvers.contains(&who.id)) {
            return Err(Error::NotAuthorized("`/pim posture` is for approvers".into()));
        }
        self.posture().await
    }
}
