//! The real `pimbot` binary as a child process: a temp config, JSON logs captured from stderr,
//! the bound address read from the "listening" log line, and signals sent with `kill`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running `pimbot serve`.
pub struct Binary {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Holds the config (and SQLite database) until the process is gone.
    _dir: TempDir,
}

impl Binary {
    /// Writes `config` to a temp dir (`{dir}` in it is replaced by that dir's path), runs
    /// `pimbot serve --log-format json` with `env`, and waits until it listens.
    pub fn serve(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config.replace("{dir}", &dir.path().display().to_string());
        let path: PathBuf = dir.path().join("pimbot.toml");
        std::fs::write(&path, config).expect("write config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimbot"));
        cmd.args(["--log-format", "json", "serve", "--config"])
            .arg(&path)
            .env_remove("PIMBOT_CONFIG")
            .env("RUST_LOG", "debug")
            .env("PIMBOT_AUDIT_KEY", pimbot::testing::audit::TEST_AUDIT_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("start pimbot");
        let stderr = child.stderr.take().expect("stderr piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        std::thread::spawn({
            let lines = lines.clone();
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found =
                lines.lock().unwrap_or_else(|e| e.into_inner()).iter().find_map(|l| listening_addr(l));
            if let Some(addr) = found {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("pimbot exited with {status} before listening: {:?}", lines.lock());
            }
            assert!(Instant::now() < deadline, "pimbot did not listen in time: {:?}", lines.lock());
            std::thread::sleep(Duration::from_millis(10));
        };
        Self { child, lines, addr, _dir: dir }
    }

    /// The config file it was started with (rewrite it, then send `HUP` to reload).
    pub fn config_path(&self) -> std::path::PathBuf {
        self._dir.path().join("pimbot.toml")
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stderr line so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends `signal` (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status();
        assert!(status.expect("run kill").success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit (at most `timeout`; then kills it and panics).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                // Let the reader thread drain the pipe.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("pimbot did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `addr` of a JSON "pimbot is listening" line (fields are at the top level).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("message")?.as_str()? != "pimbot is listening" {
        return None;
    }
    v.get("addr")?.as_str()?.parse().ok()
}

/// Polls `GET url` until it answers 200 (at most `timeout`); returns how long that took.
pub async fn wait_until_ok(url: &str, timeout: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(res) = reqwest::get(url).await
            && res.status() == 200
        {
            return started.elapsed();
        }
        assert!(started.elapsed() < timeout, "{url} not OK within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
