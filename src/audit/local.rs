//! The sinks on this host: `stdout` (one JSON object per line on standard output, which
//! carries nothing else in `serve`: logs go to standard error) and `file` (append-only JSON
//! lines at a path, started over in a new file at a size limit, with `path.1` … `path.N` kept).

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{AuditSink, SinkFailure};

/// Lines per write for the local sinks.
pub const LOCAL_BATCH: usize = 500;

/// Standard output.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutSink;

#[async_trait]
impl AuditSink for StdoutSink {
    fn batch(&self) -> usize {
        LOCAL_BATCH
    }

    async fn deliver(&self, lines: &[String]) -> Result<(), SinkFailure> {
        let text = join_lines(lines);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| failure("writing to stdout", &e))
    }
}

/// An append-only JSON-lines file, rotated by size.
#[derive(Debug, Clone)]
pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
}

impl FileSink {
    /// A sink appending to `path`, starting a new file before one would pass `max_bytes`, and
    /// keeping `keep` rotated files.
    pub fn new(path: PathBuf, max_bytes: u64, keep: u32) -> Self {
        Self { path, max_bytes, keep }
    }
}

#[async_trait]
impl AuditSink for FileSink {
    fn batch(&self) -> usize {
        LOCAL_BATCH
    }

    async fn deliver(&self, lines: &[String]) -> Result<(), SinkFailure> {
        let text = join_lines(lines);
        let sink = self.clone();
        tokio::task::spawn_blocking(move || sink.append(text.as_bytes()))
            .await
            .map_err(|e| SinkFailure { reason: format!("file sink task failed: {e}"), retry_after: None })?
            .map_err(|e| failure(&format!("appending to {}", self.path.display()), &e))
    }
}

impl FileSink {
    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size > 0 && size + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(bytes)?;
        // The cursor moves once this returns: the lines must be on disk by then.
        file.sync_data()
    }

    /// `path.N-1` → `path.N` … `path` → `path.1`; the oldest beyond `keep` is removed.
    fn rotate(&self) -> std::io::Result<()> {
        let numbered = |n: u32| rotated(&self.path, n);
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_file(numbered(self.keep));
        for n in (1..self.keep).rev() {
            if numbered(n).exists() {
                std::fs::rename(numbered(n), numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))
    }
}

/// `path.n`.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn join_lines(lines: &[String]) -> String {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn failure(what: &str, e: &std::io::Error) -> SinkFailure {
    SinkFailure { reason: format!("{what}: {e}"), retry_after: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("audit.jsonl");
        let sink = FileSink::new(path.clone(), 1024, 2);
        let line = format!("{{\"seq\":1,\"pad\":\"{}\"}}", "x".repeat(400));
        for _ in 0..8 {
            sink.deliver(std::slice::from_ref(&line)).await.expect("append");
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 1024 && size(&path) > 0);
        assert!(size(&rotated(&path, 1)) > 0 && size(&rotated(&path, 2)) > 0);
        assert!(!rotated(&path, 3).exists(), "only `keep` rotated files remain");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.lines().all(|l| l == line), "whole lines only");
    }
}
