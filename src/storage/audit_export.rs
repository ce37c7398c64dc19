//! `pimbot audit verify` and `pimbot audit export`: checking the keyed chain (against signed
//! checkpoints when given) and writing the trail out as JSON lines or CSV. Both read the trail
//! through `Store::audit_page`, one page at a time, so memory stays flat however long the
//! trail is. Reads only; never writes.

use std::io;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;

use crate::core::audit::AuditRecord;
use crate::core::audit_chain::{ChainBreak, ChainVerifier, KeyRing};
use crate::core::checkpoint::CheckpointTrail;
use crate::core::ports::Store;

/// Records read per page.
pub const PAGE_SIZE: i64 = 1000;
/// How often `export --follow` looks for new records once it has caught up.
pub const FOLLOW_POLL: Duration = Duration::from_millis(500);

/// Output format of `pimbot audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line (the serde form of `AuditRecord`).
    Jsonl,
    /// A header line and one row per record.
    Csv,
}

impl std::str::FromStr for ExportFormat {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            other => bail!("unknown export format {other:?} (expected jsonl or csv)"),
        }
    }
}

/// Why verification did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken; the break names the first bad sequence number.
    #[error("first bad record {seq}: {0}", seq = .0.seq())]
    Broken(#[from] ChainBreak),
    /// The trail could not be read.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<crate::core::Error> for VerifyError {
    fn from(e: crate::core::Error) -> Self {
        VerifyError::Failed(anyhow::Error::new(e))
    }
}

/// Verifies the whole chain page by page with `keys`, that its end matches the recorded head
/// (a deleted tail without a moved head), and, with a `trail`, that it matches every signed
/// checkpoint (rollback, truncation, rewriting). Returns a one-line summary.
pub async fn verify(
    store: &dyn Store,
    keys: &KeyRing,
    mut trail: Option<CheckpointTrail>,
) -> Result<String, VerifyError> {
    let mut verifier = ChainVerifier::new(keys);
    let mut after = 0;
    loop {
        let page = store.audit_page(after, None, PAGE_SIZE).await.context("loading the audit trail")?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            verifier.push(record)?;
            if let Some(trail) = trail.as_mut() {
                trail.observe(record.seq, &record.hash)?;
            }
        }
    }
    let (last_seq, last_hash) = verifier.last();
    if let Some(trail) = &trail {
        trail.finish(last_seq)?;
    }
    let head = store.audit_head().await.context("loading the audit head")?;
    match &head {
        Some((seq, _)) if *seq > last_seq => {
            return Err(ChainBreak::Truncated {
                first_missing: last_seq + 1,
                why: format!("the recorded head is record {seq}: the newest records were deleted"),
            }
            .into());
        }
        Some((seq, hash)) if *seq != last_seq || hash != last_hash => {
            return Err(ChainBreak::BadLink { seq: last_seq + 1 }.into());
        }
        _ => {}
    }
    let mut summary =
        format!("audit chain OK: {} records, head {last_seq} {}", verifier.checked(), short(last_hash));
    match &trail {
        Some(t) => summary.push_str(&format!(
            "; {} checkpoint(s) match, the newest at record {}",
            t.len(),
            t.last_matched()
        )),
        None => summary.push_str("; no checkpoints given (truncation and rollback need --checkpoints)"),
    }
    let (legacy, unkeyed) = verifier.unprotected();
    if legacy + unkeyed > 0 {
        summary.push_str(&format!(
            "; {legacy} record(s) predate the keyed chain and {unkeyed} were written unkeyed: those are \
             protected against accidents, not against someone with database access"
        ));
    }
    if head.is_none() {
        summary.push_str(" (no stored head: a deleted tail would go unnoticed)");
    }
    Ok(summary)
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Records after this sequence number.
    pub after_seq: i64,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Output format.
    pub format: ExportFormat,
    /// Keep waiting for new records until cancelled (`--follow`).
    pub follow: Option<CancellationToken>,
}

/// Streams records to `out` page by page; returns how many were written.
pub async fn export(
    store: &dyn Store,
    request: ExportRequest,
    out: &mut dyn io::Write,
) -> anyhow::Result<u64> {
    let mut after = request.after_seq;
    let mut written = 0;
    if request.format == ExportFormat::Csv {
        write_csv_row(out, CSV_HEADER.iter().map(|s| s.to_string()))?;
    }
    loop {
        let page = store
            .audit_page(after, request.since, PAGE_SIZE)
            .await
            .with_context(|| format!("loading audit records after {after}"))?;
        if let Some(last) = page.last() {
            after = last.seq;
            write_records(&page, request.format, out)?;
            written += page.len() as u64;
            out.flush()?;
            continue;
        }
        let Some(stop) = &request.follow else { break };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
    out.flush()?;
    Ok(written)
}

/// CSV column names, in order.
const CSV_HEADER: [&str; 10] =
    ["seq", "at", "actor", "kind", "request_id", "role", "detail", "prev_hash", "hash", "key_id"];

/// Writes `records` to `out` in `format` (without the CSV header).
pub fn write_records(
    records: &[AuditRecord],
    format: ExportFormat,
    out: &mut dyn io::Write,
) -> anyhow::Result<()> {
    for r in records {
        match format {
            ExportFormat::Jsonl => {
                serde_json::to_writer(&mut *out, r).context("writing a JSON line")?;
                out.write_all(b"\n")?;
            }
            ExportFormat::Csv => {
                let e = &r.event;
                write_csv_row(
                    out,
                    [
                        r.seq.to_string(),
                        e.at.to_rfc3339_opts(SecondsFormat::Micros, true),
                        e.actor.label(),
                        e.kind.clone(),
                        e.request_id.as_ref().map(|x| x.to_string()).unwrap_or_default(),
                        e.role.as_ref().map(|x| x.to_string()).unwrap_or_default(),
                        e.detail.to_string(),
                        r.prev_hash.clone(),
                        r.hash.clone(),
                        r.key_id.clone(),
                    ],
                )?;
            }
        }
    }
    Ok(())
}

/// One RFC 4180 row: fields with a comma, quote or line break are quoted, quotes doubled.
fn write_csv_row(out: &mut dyn io::Write, fields: impl IntoIterator<Item = String>) -> io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&field);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut out = Vec::new();
        write_csv_row(&mut out, ["a".into(), "b,c".into(), "say \"hi\"".into(), "x\ny".into()])
            .expect("write");
        assert_eq!(String::from_utf8(out).expect("utf8"), "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\r\n");
    }

    #[test]
    fn formats_parse() {
        assert_eq!("jsonl".parse::<ExportFormat>().ok(), Some(ExportFormat::Jsonl));
        assert_eq!("csv".parse::<ExportFormat>().ok(), Some(ExportFormat::Csv));
        assert!("xml".parse::<ExportFormat>().is_err());
    }
}
