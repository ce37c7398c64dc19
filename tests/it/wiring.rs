//! One wiring: the parts `app::start` runs include the Graph sign-in poller, so stopping the
//! app waits for a poll in flight and leaves no poller behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use pimbot::app::{self, Parts};
use pimbot::core::alarm::SignIn;
use pimbot::core::policy::BreakGlass;
use pimbot::core::ports::{Clock, ManualClock};
use pimbot::directory::StaticDirectory;
use pimbot::signins::{Poller, SignInSource};
use tokio::sync::{Semaphore, mpsc};

use crate::support::app::POLICY;

/// A sign-in source whose reads wait for the test to let them finish.
struct GatedSource {
    entered: mpsc::UnboundedSender<()>,
    gate: Semaphore,
    finished: AtomicBool,
}

#[async_trait]
impl SignInSource for GatedSource {
    async fn sign_ins(&self, _account: &BreakGlass, _since: DateTime<Utc>) -> anyhow::Result<Vec<SignIn>> {
        let _ = self.entered.send(());
        let _permit = self.gate.acquire().await?;
        self.finished.store(true, Ordering::SeqCst);
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn stopping_the_app_waits_for_the_sign_in_poller() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("pimbot.db").display());
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let text = format!(
        "{POLICY}\n[[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\nobject_id = \"26be570a-ae82-4189-b4e2-a37c6808512d\"\n"
    );
    let config = pimbot::config::from_toml_str(&text).expect("parses");
    let policy = config.validate(clock.now()).expect("valid");
    let (entered, mut polls) = mpsc::unbounded_channel();
    let source = Arc::new(GatedSource { entered, gate: Semaphore::new(0), finished: AtomicBool::new(false) });
    let parts = Parts {
        store: pimbot::storage::connect(&url).await.expect("store"),
        directory: Arc::new(StaticDirectory::new()),
        clock: clock.clone(),
        policy,
        slack: None,
        policy_source: None,
        admin_token: None,
        discord: None,
        teams: None,
        break_glass: None,
        oidc: None,
        oncall: None,
        sign_ins: Some(Poller { source: source.clone(), every: Duration::minutes(1) }),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let running = app::start(parts, listener).await.expect("app starts");
    polls.recv().await.expect("the poller's first read starts at once");
    let stopping = tokio::spawn(running.stop());
    source.gate.add_permits(1);
    stopping.await.expect("stopped");
    assert!(source.finished.load(Ordering::SeqCst), "the poll in flight finished before stop returned");
    assert_eq!(Arc::strong_count(&source), 1, "no poller task outlives the app");
}
