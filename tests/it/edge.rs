//! The HTTP edge and the command line against bad input: half-open and idle connections are
//! closed at the header-read timeout, a connection flood is capped, a blank or short admin
//! token is refused by `check` and `serve`, and absurd `--since` values are usage errors.

use std::process::Command;
use std::time::{Duration, Instant};

use pimbot::http::serve::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::{POLICY, TestApp};
use crate::support::db;

fn pimbot(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimbot"));
    cmd.args(args).env_remove("PIMBOT_CONFIG").env_remove("PIMBOT_ADMIN_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run pimbot");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// [`POLICY`] on a SQLite file in `dir`, with `extra` added to `[server]`.
fn config(dir: &tempfile::TempDir, extra: &str) -> String {
    let db = format!("sqlite://{}", dir.path().join("pimbot.db").display());
    let text = POLICY.replace("sqlite://unused.db", &db).replace("[server]\n", &format!("[server]\n{extra}"));
    let path = dir.path().join(format!("pimbot-{}.toml", text.len()));
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

/// Reads until the server closes the connection (or `limit` passes); returns how long it took.
async fn until_closed(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok().map(|()| started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_and_idle_connections_are_closed_within_the_header_timeout() {
    let app = TestApp::spawn(db::sqlite().await).await;
    let addr = app.running.addr;
    let limit = HEADER_READ_TIMEOUT + Duration::from_secs(5);
    // 3,000 clients connect; half send part of a request's headers, half nothing at all.
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..3000 {
        clients.spawn(async move {
            let mut stream =
                match tokio::time::timeout(Duration::from_secs(20), TcpStream::connect(addr)).await {
                    Ok(Ok(stream)) => stream,
                    other => panic!("client {i} could not connect: {other:?}"),
                };
            if i % 2 == 0 {
                let _ = stream.write_all(b"POST /slack/commands HTTP/1.1\r\nHost: pimbot\r\nX-Slow: ").await;
            }
            until_closed(stream, limit).await
        });
    }
    // An idle kept-alive connection is closed the same way after its request was answered.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: pimbot\r\n\r\n").await.expect("request");
    let mut answer = [0u8; 256];
    let n = idle.read(&mut answer).await.expect("answer");
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"), "served before idling");
    let idle = tokio::spawn(until_closed(idle, limit));

    let mut closed = Vec::new();
    let mut open = 0;
    while let Some(joined) = clients.join_next().await {
        match joined.expect("client task") {
            Some(took) => closed.push(took),
            None => open += 1,
        }
    }
    assert_eq!(
        open,
        0,
        "connections not closed within the header timeout (or never connected); {} closed",
        closed.len()
    );
    let slowest = closed.iter().max().copied().unwrap_or_default();
    let shed = closed.iter().filter(|d| **d < Duration::from_secs(1)).count();
    eprintln!(
        "3000 half-open connections: slowest closed after {slowest:?}; {shed} over the {MAX_CONNECTIONS} cap closed at once"
    );
    assert!(slowest <= HEADER_READ_TIMEOUT + Duration::from_secs(2), "slowest {slowest:?}");
    assert!(shed >= 3000 - MAX_CONNECTIONS, "connections over the cap are closed at once: {shed}");
    let idle = idle.await.expect("idle task").expect("idle connection closed");
    assert!(idle <= HEADER_READ_TIMEOUT + Duration::from_secs(2), "idle {idle:?}");
    // The server is still fine afterwards.
    let health = reqwest::get(format!("http://{addr}/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    app.stop().await;
}

#[test]
fn a_blank_or_short_admin_token_is_refused_by_check_and_serve() {
    let dir = tempfile::tempdir().expect("tmp");
    for (token, why) in [("", "is blank"), ("   ", "is blank"), ("short-token-16ch", "is 16 characters")] {
        let path = config(&dir, &format!("admin_token = \"{token}\"\n"));
        let (code, out) = pimbot(&["check", "--config", &path], &[]);
        assert_eq!(code, 3, "check refuses {token:?}: {out}");
        assert!(out.contains("server.admin_token") && out.contains(why), "{out}");
        let (code, out) = pimbot(&["serve", "--config", &path], &[]);
        assert_ne!(code, 0, "serve refuses {token:?} before listening: {out}");
        assert!(out.contains("server.admin_token") && !out.contains("pimbot is listening"), "{out}");
    }
    // The environment override is held to the same rule; a long random token is fine.
    let path = config(&dir, "");
    let (code, out) = pimbot(&["check", "--config", &path], &[("PIMBOT_ADMIN_TOKEN", "0123456789")]);
    assert_eq!(code, 3, "{out}");
    let strong = "5f0c1e7a21d993be442d8f61a0b3c4d5";
    let (code, out) = pimbot(&["check", "--config", &path], &[("PIMBOT_ADMIN_TOKEN", strong)]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(strong), "the token is never printed");
}

#[test]
fn absurd_durations_and_since_values_are_usage_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = config(&dir, "");
    for args in [
        vec!["audit", "--config", &path, "export", "--since", "300000y"],
        vec!["report", "--config", &path, "--since", "9223372036854775s"],
        vec!["report", "--config", &path, "--since", "99999999999999999999999999d"],
        vec!["audit", "--config", &path, "export", "--since", "soon"],
    ] {
        let (code, out) = pimbot(&args, &[]);
        assert_eq!(code, 2, "{args:?} is a usage error: {out}");
        assert!(out.contains("--since") && !out.contains("panicked"), "{out}");
    }
    let (code, out) = pimbot(&["report", "--config", &path, "--since", "30d"], &[]);
    assert_eq!(code, 0, "{out}");
    // A config duration that long is refused with the key named, not overflowed at runtime.
    let long = dir.path().join("long.toml");
    let text = std::fs::read_to_string(&path).expect("read").replace("sla = \"5m\"", "sla = \"300000y\"");
    std::fs::write(&long, text).expect("write");
    let (code, out) = pimbot(&["check", "--config", &long.display().to_string()], &[]);
    assert_ne!(code, 0);
    assert!(out.contains("too long") && !out.contains("panicked"), "{out}");
}
