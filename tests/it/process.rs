//! The real `pimbot serve` process: `kill -9` loses nothing and leaves no grant running past its
//! end, SIGTERM shuts down cleanly, and two replicas on one PostgreSQL database never
//! double-send, double-grant or double-end.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pimbot::core::ids::RequestId;
use pimbot::core::ports::{Store, SystemClock};
use pimbot::core::state::RequestState;
use pimbot::demo::driver::SlackDriver;
use pimbot::testing::FakeSlack;

use crate::support::app::{POLICY, SECRET};
use crate::support::db::{self, TestDb};

/// One `pimbot serve` child process.
struct Server {
    child: Child,
    driver: SlackDriver,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(db_url: &str, fake: &FakeSlack, policy: &str) -> Self {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let config = policy
            .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""))
            .replace("sqlite://unused.db", db_url)
            .replace(
                "bot_token = \"xoxb-fake-pimbot-token\"",
                &format!("bot_token = \"xoxb-fake-pimbot-token\"\napi_url = \"{}\"", fake.api_url()),
            );
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("pimbot.toml");
        std::fs::write(&path, config).expect("config");
        let child = Command::new(env!("CARGO_BIN_EXE_pimbot"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .env("PIMBOT_AUDIT_KEY", pimbot::testing::audit::TEST_AUDIT_KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pimbot serve");
        let base = format!("http://127.0.0.1:{port}");
        let driver =
            SlackDriver::new(base.clone(), SECRET, Arc::new(SystemClock), fake.response_url("C0CMD", "1"));
        let server = Self { child, driver, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
                && r.status() == 200
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pimbot serve did not become ready");
    }

    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        self.child.wait().expect("wait").code().unwrap_or(-1)
    }

    async fn activate(&self, user: &str, text: &str) -> RequestId {
        let reply = self.driver.command(user, &format!("activate {text}")).await.expect("command");
        let text = reply.text();
        text.split('`')
            .find(|w| w.starts_with("r-"))
            .map(RequestId::from)
            .unwrap_or_else(|| panic!("no id in {text}"))
    }
}

async fn wait_for_state(store: &Arc<dyn Store>, id: &RequestId, state: RequestState, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = store.request(id).await.expect("read").expect("exists").state;
        if now == state {
            return;
        }
        assert!(Instant::now() < deadline, "{id} stayed {now:?}, wanted {state:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_empty_outbox(store: &Arc<dyn Store>, within: Duration) {
    let deadline = Instant::now() + within;
    while store.outbox_depth().await.expect("depth") > 0 {
        assert!(Instant::now() < deadline, "outbox never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every successfully posted message, keyed by channel and text, must appear once.
fn assert_no_duplicates(fake: &FakeSlack) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for call in fake.calls_to("chat.postMessage") {
        *seen
            .entry(format!("{} {} {}", call.body["channel"], call.body["thread_ts"], call.body["text"]))
            .or_default() += 1;
    }
    let dups: Vec<_> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(dups.is_empty(), "messages sent twice: {dups:?}");
}

async fn kinds(store: &Arc<dyn Store>, kind: &str) -> usize {
    store.audit_records(None).await.expect("audit").iter().filter(|r| r.event.kind == kind).count()
}

#[tokio::test]
async fn kill_9_loses_nothing_and_overdue_grants_end_right_after_restart() {
    for db in db::backends().await {
        let fake = FakeSlack::start().await;
        let server = Server::start(&db.url, &fake, POLICY).await;
        // Slack is down, so every message is still pending in the outbox when the process dies.
        // (A message Slack took in the instant before a kill is found again, not re-posted: see
        // `crash_delivery`.)
        fake.fail_next(100_000, 503);
        let short = server.activate("U0BOB", "reader 2s crash drill").await;
        let pending = server.activate("U0ALICE", "global-admin 1h #INC-10 survives a crash").await;
        wait_for_state(&db.store, &short, RequestState::Active, Duration::from_secs(10)).await;
        server.kill_9();
        assert!(db.store.outbox_depth().await.expect("depth") > 0, "messages were pending at the crash");

        tokio::time::sleep(Duration::from_secs(3)).await; // the grant is now overdue
        fake.clear_faults();
        let restarted = Server::start(&db.url, &fake, POLICY).await;
        wait_for_state(&db.store, &short, RequestState::Expired, Duration::from_secs(5)).await;
        assert_eq!(kinds(&db.store, "grant.expired").await, 1);
        assert_eq!(
            db.store.request(&pending).await.expect("read").expect("kept").state,
            RequestState::Pending
        );
        wait_for_empty_outbox(&db.store, Duration::from_secs(90)).await;
        let cards = fake.calls_to("chat.postMessage");
        let cards =
            cards.iter().filter(|c| c.body["channel"] == "C0APPROVERS" && c.body.get("thread_ts").is_none());
        assert_eq!(cards.count(), 1, "the card was posted once");
        assert!(
            fake.calls_to("chat.postMessage")
                .iter()
                .any(|c| c.body["text"].to_string().contains("You are now *reader*"))
        );
        assert_no_duplicates(&fake);

        assert_eq!(restarted.terminate(), 0, "SIGTERM is a clean exit");
        drop(db);
    }
}

#[tokio::test]
async fn two_replicas_on_one_postgres_never_double_act() {
    let Some(db) = db::postgres().await else { return };
    let db: TestDb = db;
    let fake = FakeSlack::start().await;
    let policy = POLICY.replace("sla = \"5m\"", "sla = \"2s\"");
    let a = Server::start(&db.url, &fake, &policy).await;
    let b = Server::start(&db.url, &fake, &policy).await;

    let bob = a.activate("U0BOB", "reader 2s replica drill").await;
    let alice = b.activate("U0ALICE", "reader 3s replica drill").await;
    let pending = a.activate("U0ALICE", "global-admin 1h #INC-11 nobody answers").await;
    for id in [&bob, &alice] {
        wait_for_state(&db.store, id, RequestState::Expired, Duration::from_secs(15)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await; // reminder at 2 s, escalation at 4 s
    wait_for_empty_outbox(&db.store, Duration::from_secs(30)).await;

    assert_eq!(kinds(&db.store, "grant.activated").await, 2, "each grant made once");
    assert_eq!(kinds(&db.store, "grant.expired").await, 2, "each grant ended once");
    assert_eq!(kinds(&db.store, "request.reminded").await, 1, "one reminder");
    assert_eq!(kinds(&db.store, "request.escalated").await, 1, "one escalation");
    assert_eq!(db.store.request(&pending).await.expect("read").expect("kept").state, RequestState::Pending);
    assert_no_duplicates(&fake);
    assert!(
        pimbot::storage::audit_export::verify(db.store.as_ref(), &pimbot::testing::audit::test_ring(), None)
            .await
            .is_ok(),
        "one unbroken audit chain"
    );
    a.kill_9();
    assert_eq!(b.terminate(), 0);
}
