//! Removing a PIM eligibility schedule (an access review's "remove"): `adminRemove` through
//! `roleManagement/directory/roleEligibilityScheduleRequests`, PIM for Groups'
//! `identityGovernance/privilegedAccess/group/eligibilityScheduleRequests` (`accessId: member`)
//! or ARM's `roleEligibilityScheduleRequests/{guid}`. The bodies are the assignment requests'.

use reqwest::Method;

use super::body::{self, PimAction, request_guid};
use super::client::{ApiError, GraphClient};
use super::{ARM_API_VERSION, Audience};
use crate::core::policy::{Role, RoleKind};

/// The justification PIM records on the removal.
const WHY: &str = "Removed by a pimbot access review";

/// Sends `adminRemove` of `principal`'s eligibility for `role`.
pub(super) async fn remove(client: &GraphClient, principal: &str, role: &Role) -> Result<(), ApiError> {
    let action = PimAction::Remove;
    match role.kind {
        RoleKind::EntraRole => {
            let url = client.graph("roleManagement/directory/roleEligibilityScheduleRequests");
            let body = body::entra_request(action, principal, role, None, WHY, None);
            client.send(Audience::Graph, Method::POST, &url, Some(&body)).await?;
        }
        RoleKind::Group => {
            let url = client.graph("identityGovernance/privilegedAccess/group/eligibilityScheduleRequests");
            let body = body::group_request(action, principal, role, None, WHY, None);
            client.send(Audience::Graph, Method::POST, &url, Some(&body)).await?;
        }
        RoleKind::AzureRole => {
            let key = format!("review:{principal}:{}", role.key);
            let guid = request_guid(&key, action, "eligibility");
            let url = client.arm(&format!(
                "{}/providers/Microsoft.Authorization/roleEligibilityScheduleRequests/{guid}?api-version={ARM_API_VERSION}",
                body::arm_scope(role)
            ));
            let body = body::arm_request(action, principal, role, None, WHY, None);
            client.send(Audience::Arm, Method::PUT, &url, Some(&body)).await?;
        }
    }
    Ok(())
}
