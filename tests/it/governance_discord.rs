//! Governance on Discord: review cards arrive as DMs with `review_keep:<id>` /
//! `review_remove:<id>` buttons that decide and update the card in place; `/pim reviews`,
//! `/pim posture` (approvers only) and `/pim renew` are subcommands of `/pim`.

use pimbot::core::ids::{PersonId, RoleKey};
use pimbot::testing::discord_signing as ds;

use crate::support::app::TestApp;
use crate::support::discord::{self as dc, ephemeral_text};

const REVIEW: &str = "\n[[review]]\nname = \"ga\"\nroles = [\"global-admin\"]\nreviewer = \"carol\"\ncadence = \"30d\"\nduration = \"2d\"\n";

#[tokio::test]
async fn review_buttons_and_governance_subcommands_work_on_discord() {
    for db in crate::support::db::backends().await {
        let policy = format!("{}{REVIEW}", dc::policy());
        let app = TestApp::spawn_with_discord_policy(db, &policy).await;
        let service = app.running.service.clone();
        service.review_sweep().await.expect("sweep");
        app.settle().await;
        let items = app.store().open_review_items(10).await.expect("items");
        let bob = items.iter().find(|i| i.person.as_str() == "bob").expect("bob's item").id.clone();
        let card = app
            .fake_discord()
            .dms(dc::CAROL)
            .into_iter()
            .find(|m| m.components.to_string().contains(&format!("review_remove:{bob}")))
            .expect("carol's card for bob");
        assert!(card.embeds.to_string().contains("activation(s) since"), "{}", card.embeds);

        let listed = ephemeral_text(&app.interact(&ds::command(dc::CAROL, "reviews", &[])).await);
        assert!(listed.contains(&bob), "{listed}");

        let reply = app
            .interact(&ds::click(dc::CAROL, &format!("review_remove:{bob}"), &card.channel_id, &card.id))
            .await;
        assert!(ephemeral_text(&reply).contains("remove"), "{reply:?}");
        let again = app
            .interact(&ds::click(dc::CAROL, &format!("review_keep:{bob}"), &card.channel_id, &card.id))
            .await;
        assert!(ephemeral_text(&again).contains("already decided"), "{}", ephemeral_text(&again));
        app.settle().await;
        let removed = app
            .store()
            .eligibility_removed(&PersonId::from("bob"), &RoleKey::from("global-admin"))
            .await
            .expect("read");
        assert!(removed);
        let edited = app.fake_discord().dms(dc::CAROL).into_iter().find(|m| m.id == card.id).expect("card");
        assert!(edited.edits >= 1 && edited.components.as_array().is_none_or(|c| c.is_empty()), "{edited:?}");

        let posture = ephemeral_text(&app.interact(&ds::command(dc::CAROL, "posture", &[])).await);
        assert!(posture.contains("1. No human holds"), "{posture}");
        let refused = ephemeral_text(&app.interact(&ds::command(dc::BOB, "posture", &[])).await);
        assert!(refused.contains("for approvers"), "{refused}");
        let renew = ephemeral_text(
            &app.interact(&ds::command(
                dc::ALICE,
                "renew",
                &[("role", "global-admin"), ("duration", "30d"), ("justification", "still needed")],
            ))
            .await,
        );
        assert!(renew.contains("permanent"), "alice's eligibility is permanent: {renew}");
        app.stop().await;
    }
}
