//! `pimbot demo --serve-ui`: after the scripted scenario, leaves something to look at (a grant
//! in force, a request past its SLA), makes the fake provider sign every browser in as carol
//! (a viewer), prints the web view's address and serves it until Ctrl-C.

use chrono::Duration;

use super::driver::SlackDriver;
use super::{link_in, settle};
use crate::app::Running;
use crate::core::ports::ManualClock;
use crate::testing::{FakeOidc, Scenario};

const ALICE_OID: &str = "0a11ce00-0000-4000-8000-000000000001";
const CAROL_OID: &str = "0ca20100-0000-4000-8000-000000000003";

/// Plays the live tail and serves until Ctrl-C.
pub async fn serve(
    running: &Running,
    slack: &SlackDriver,
    idp: &FakeOidc,
    clock: &ManualClock,
) -> anyhow::Result<()> {
    println!("──────── web view ────────");
    println!("▶ bob: /pim activate reader 2h reviewing sign-ins (kept active for the view)");
    slack.command("U0BOB", "activate reader 2h reviewing sign-ins").await?;
    settle(running).await?;
    println!("▶ alice: /pim activate global-admin 1h #INC-4712 conditional access change (left waiting)");
    let reply =
        slack.command("U0ALICE", "activate global-admin 1h #INC-4712 conditional access change").await?;
    if let Some(link) = link_in(&reply.text()) {
        idp.push(Scenario::person(ALICE_OID, "alice@contoso.com"));
        FakeOidc::sign_in(&link).await?;
    }
    settle(running).await?;
    println!("▶ (clock) 7 minutes pass: alice's request is past the 5-minute SLA of a critical role");
    clock.advance(Duration::minutes(7));
    settle(running).await?;
    idp.sign_in_everyone_as(Scenario::person(CAROL_OID, "carol@contoso.com"));
    println!(
        "\nThe web view: http://{}/ui\n(the demo's provider signs every browser in as carol, a viewer; the demo's clock stands \
         still, so only the countdown in the page moves)\nServing until Ctrl-C.",
        running.addr
    );
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping");
    Ok(())
}
