//! The grant invariant across a `kill -9` of the real `pimbot serve` in the middle of a slow
//! Graph call: the directory has made the assignment, the process never heard back. The grant
//! row written before the call is what lets the next process finish the story: the activation
//! is repeated (the same assignment, extended) and recorded once, or, when the request was
//! cancelled meanwhile, the assignment is removed. On SQLite and PostgreSQL.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pimbot::core::ids::RequestId;
use pimbot::core::ports::{Store, SystemClock};
use pimbot::core::state::RequestState;
use pimbot::demo::driver::SlackDriver;
use pimbot::testing::fake_graph::body_str;
use pimbot::testing::{FakeGraph, FakeSlack};

use crate::support::app::SECRET;
use crate::support::db;
use crate::support::graph_app::{Knobs, active_grants, fake_assignments, policy};

struct Server {
    child: Child,
    driver: SlackDriver,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(db_url: &str, slack: &FakeSlack, graph: &FakeGraph) -> Self {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let config = policy(graph, &Knobs::default())
            .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""))
            .replace("sqlite://unused.db", db_url)
            .replace(
                "bot_token = \"xoxb-fake-pimbot-token\"",
                &format!("bot_token = \"xoxb-fake-pimbot-token\"\napi_url = \"{}\"", slack.api_url()),
            );
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("pimbot.toml");
        std::fs::write(&path, config).expect("config");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_pimbot"))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("PIMBOT_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn pimbot serve");
        let base = format!("http://127.0.0.1:{port}");
        let driver =
            SlackDriver::new(base.clone(), SECRET, Arc::new(SystemClock), slack.response_url("C0CMD", "1"));
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
        let log = std::fs::read_to_string(server._dir.path().join("stderr.log")).unwrap_or_default();
        panic!("pimbot serve did not become ready:\n{log}");
    }

    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        let _ = self.child.wait();
    }

    async fn command(&self, user: &str, text: &str) -> String {
        self.driver.command(user, text).await.expect("command").text()
    }
}

async fn wait_until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn state(store: &Arc<dyn Store>, id: &RequestId) -> RequestState {
    store.request(id).await.expect("read").expect("exists").state
}

fn actions(fake: &FakeGraph) -> Vec<String> {
    fake.accepted_requests().iter().map(|c| body_str(&c.body, "action").to_owned()).collect()
}

async fn count(store: &Arc<dyn Store>, kind: &str) -> usize {
    store.audit_records(None).await.expect("audit").iter().filter(|r| r.event.kind == kind).count()
}

/// bob activates reader (no approval) while Graph is slow; the process dies once Graph has made
/// the assignment but before it answered.
async fn killed_mid_grant(db: &db::TestDb, slack: &FakeSlack, graph: &FakeGraph) -> RequestId {
    graph.set_delay(Duration::from_secs(3));
    let server = Server::start(&db.url, slack, graph).await;
    let reply = server.command("U0BOB", "activate reader 30m incident bridge").await;
    let id = reply.split('`').find(|w| w.starts_with("r-")).map(RequestId::from).expect("id");
    wait_until("Graph made the assignment", Duration::from_secs(15), async || {
        !graph.assignments().is_empty()
    })
    .await;
    server.kill_9();
    assert_eq!(state(&db.store, &id).await, RequestState::Approved);
    let row =
        db.store.open_grant(&"bob".into(), &"reader".into()).await.expect("read").expect("written ahead");
    assert!(row.granting, "the row written before the call survives the crash");
    graph.set_delay(Duration::ZERO);
    id
}

/// Lets the dead process's activation lease run out (it is 60 s of wall time).
async fn expire_leases(db: &db::TestDb) {
    db.exec("UPDATE requests SET next_nudge_at = NULL WHERE next_nudge_at IS NOT NULL").await;
}

#[tokio::test]
async fn kill_9_mid_grant_then_restart_records_the_grant_once() {
    for db in db::backends().await {
        let slack = FakeSlack::start().await;
        let graph = FakeGraph::start().await;
        let id = killed_mid_grant(&db, &slack, &graph).await;
        expire_leases(&db).await;
        let restarted = Server::start(&db.url, &slack, &graph).await;
        wait_until("active", Duration::from_secs(20), async || {
            state(&db.store, &id).await == RequestState::Active
        })
        .await;
        assert_eq!(fake_assignments(&graph), active_grants(&db.store).await, "{}", db.name);
        assert_eq!(fake_assignments(&graph).len(), 1);
        assert_eq!(
            actions(&graph),
            ["adminAssign", "adminExtend"],
            "{}: the same assignment, asked again",
            db.name
        );
        assert_eq!(count(&db.store, "grant.activated").await, 1, "{}", db.name);
        wait_until("outbox drained", Duration::from_secs(30), async || {
            db.store.outbox_depth().await.expect("depth") == 0
        })
        .await;
        let feed = slack.calls_to("chat.postMessage");
        let shown = feed.iter().filter(|c| c.body["text"].to_string().contains("is now *reader*")).count();
        assert_eq!(shown, 1, "{}: the feed says it once", db.name);
        restarted.terminate();
    }
}

#[tokio::test]
async fn kill_9_mid_grant_then_cancel_removes_the_assignment() {
    for db in db::backends().await {
        let slack = FakeSlack::start().await;
        let graph = FakeGraph::start().await;
        let id = killed_mid_grant(&db, &slack, &graph).await;
        let restarted = Server::start(&db.url, &slack, &graph).await;
        let reply = restarted.command("U0BOB", &format!("cancel {id}")).await;
        assert!(reply.contains("cancelled"), "{reply}");
        // The dead worker's lease still guards the row; once it runs out, the sweep removes
        // whatever the directory made.
        assert_eq!(graph.assignments().len(), 1, "{}: not before the lease ends", db.name);
        expire_leases(&db).await;
        wait_until("the assignment removed", Duration::from_secs(20), async || {
            graph.assignments().is_empty()
        })
        .await;
        wait_until("the row closed", Duration::from_secs(10), async || {
            db.store.open_grants(10).await.expect("grants").is_empty()
        })
        .await;
        assert_eq!(state(&db.store, &id).await, RequestState::Cancelled);
        assert_eq!(actions(&graph), ["adminAssign", "adminRemove"], "{}", db.name);
        assert_eq!(count(&db.store, "grant.withdrawn").await, 1, "{}", db.name);
        assert_eq!(count(&db.store, "grant.activated").await, 0, "{}", db.name);
        restarted.terminate();
    }
}
