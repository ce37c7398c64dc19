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
            .env("PIMBOT_AUDIT_KEY", pimbot::testing::audit::TEST_AUDIT_KEY)
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

/// Lets the dead process's leases run out (activation and outbox claims are 60 s of wall time).
async fn expire_leases(db: &db::TestDb) {
    db.exec("UPDATE requests SET activation_lease_until = NULL WHERE activation_lease_until IS NOT NULL")
        .await;
    db.exec("UPDATE outbox SET claimed_until = NULL WHERE state = 'pending'").await;
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

#[tokio::test]
async fn kill_9_before_a_scheduled_start_then_restart_grants_it_at_the_start_once() {
    for db in db::backends().await {
        let slack = FakeSlack::start().await;
        let graph = FakeGraph::start().await;
        let server = Server::start(&db.url, &slack, &graph).await;
        let reply = server.command("U0BOB", "activate reader 5m in 8s change window").await;
        let id = reply.split('`').find(|w| w.starts_with("r-")).map(RequestId::from).expect("id");
        server.kill_9();
        let request = db.store.request(&id).await.expect("read").expect("exists");
        assert_eq!(request.state, RequestState::Approved, "{}: no approval needed", db.name);
        let start = request.starts_at.expect("scheduled");
        assert!(actions(&graph).is_empty(), "{}: nothing before the start", db.name);

        let restarted = Server::start(&db.url, &slack, &graph).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if chrono::Utc::now() < start {
            assert!(actions(&graph).is_empty(), "{}: the restarted process waits for the start", db.name);
        }
        wait_until("active", Duration::from_secs(30), async || {
            state(&db.store, &id).await == RequestState::Active
        })
        .await;
        assert_eq!(actions(&graph), ["adminAssign"], "{}: one assignment, at the start", db.name);
        let grant =
            db.store.open_grant(&"bob".into(), &"reader".into()).await.expect("read").expect("granted");
        assert_eq!(
            (grant.starts_at, grant.ends_at),
            (start, start + chrono::Duration::minutes(5)),
            "{}",
            db.name
        );
        assert_eq!(count(&db.store, "grant.activated").await, 1, "{}", db.name);
        restarted.terminate();
    }
}

/// A small policy for the real binary: alice may ask for global-admin (approved by carol),
/// bob for reader (no approval, seconds long).
const RELOAD_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "{db}"
[slack]
signing_secret = "test-signing-secret"
bot_token = "xoxb-fake-pimbot-token"
api_url = "{api_url}"
approver_channel = "C0APPROVERS"
feed_channel = "C0FEED"
alert_channel = "C0ALERTS"
[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"
[[person]]
id = "bob"
upn = "bob@contoso.com"
slack = "U0BOB"
[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"
[[role]]
key = "ops"
kind = "entra-role"
tier = "standard"
eligible = ["alice", "bob"]
[[role]]
key = "global-admin"
kind = "entra-role"
tier = "critical"
require_mfa = false
approver_mfa = false
require_ticket = false
approvers = ["carol"]
sla = "1s"
eligible = ["alice"]
[[role]]
key = "reader"
kind = "entra-role"
tier = "standard"
min_duration = "1s"
eligible = ["bob"]
"#;

#[tokio::test]
async fn a_role_removed_by_sighup_strands_nothing_and_logs_no_error_loop() {
    use crate::support::binary::Binary;
    for db in db::backends().await {
        let slack = FakeSlack::start().await;
        let url = if db.name == "postgres" { db.url.clone() } else { "sqlite://{dir}/pimbot.db".to_owned() };
        let config = RELOAD_CONFIG.replace("{api_url}", &slack.api_url()).replace("{db}", &url);
        let mut bin = Binary::serve(&config, &[]);
        let driver =
            SlackDriver::new(bin.url(), SECRET, Arc::new(SystemClock), slack.response_url("C0CMD", "1"));
        let id_of =
            |text: String| text.split('`').find(|w| w.starts_with("r-")).map(RequestId::from).expect("id");
        let held = id_of(driver.command("U0BOB", "activate reader 4s short look").await.expect("cmd").text());
        let waiting =
            id_of(driver.command("U0ALICE", "activate global-admin 1h bridge").await.expect("cmd").text());
        let store = pimbot::storage::connect(&if db.name == "postgres" {
            db.url.clone()
        } else {
            format!("sqlite://{}", bin.config_path().with_file_name("pimbot.db").display())
        })
        .await
        .expect("store");
        wait_until("granted", Duration::from_secs(10), async || {
            state(&store, &held).await == RequestState::Active
        })
        .await;

        let start = config.find("[[role]]\nkey = \"global-admin\"").expect("role");
        let dir = bin.config_path().parent().map(|d| d.display().to_string()).unwrap_or_default();
        std::fs::write(bin.config_path(), config[..start].replace("{dir}", &dir)).expect("rewrite");
        bin.signal("HUP");
        wait_until("cancelled", Duration::from_secs(10), async || {
            state(&store, &waiting).await == RequestState::Cancelled
        })
        .await;
        wait_until("ended on time", Duration::from_secs(15), async || {
            state(&store, &held).await == RequestState::Expired
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await; // a few more sweeps
        let log = bin.log();
        let errors: Vec<&String> = log.iter().filter(|l| l.contains("\"level\":\"ERROR\"")).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", db.name);
        assert!(
            log.iter().any(|l| l.contains("SIGHUP") && l.contains(&format!("request {waiting}"))),
            "{}: the reload says what it orphaned",
            db.name
        );
        bin.signal("TERM");
        let _ = tokio::task::spawn_blocking(move || bin.wait(Duration::from_secs(15))).await;
    }
}
