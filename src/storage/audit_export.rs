//! `pimbot audit verify` and `pimbot audit export`: checking the hash chain and writing the
//! trail out as JSON lines or CSV. Reads through the `Store` port only; never writes.

use std::io;

use anyhow::{Context, bail};
use chrono::SecondsFormat;

use crate::core::audit::{AuditRecord, GENESIS_HASH, verify_chain};
use crate::core::ports::Store;

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

/// Verifies the whole chain and that its end matches the recorded head, so deleting the newest
/// records is caught too. Returns a one-line summary, or an error naming the broken record.
pub async fn verify(store: &dyn Store) -> anyhow::Result<String> {
    let records = store.audit_records(None).await.context("loading the audit trail")?;
    let count = verify_chain(&records).map_err(|b| anyhow::anyhow!("audit chain broken: {b}"))?;
    let (last_seq, last_hash) = records.last().map_or((0, GENESIS_HASH), |r| (r.seq, r.hash.as_str()));
    match store.audit_head().await.context("loading the audit head")? {
        Some((seq, _)) if seq > last_seq => bail!(
            "audit chain broken: records {}..={seq} are missing at the end: the newest records were deleted",
            last_seq + 1
        ),
        Some((seq, hash)) if seq != last_seq || hash != last_hash => {
            bail!("audit chain broken: the recorded head (record {seq}) does not match record {last_seq}")
        }
        Some(_) => Ok(format!("audit chain OK: {count} records, head {last_seq} {}", short(last_hash))),
        None => Ok(format!(
            "audit chain OK: {count} records, head {last_seq} {} (no stored head: a deleted tail would go unnoticed)",
            short(last_hash)
        )),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// CSV column names, in order.
const CSV_HEADER: [&str; 9] =
    ["seq", "at", "actor", "kind", "request_id", "role", "detail", "prev_hash", "hash"];

/// Writes `records` to `out` in `format`.
pub fn export(records: &[AuditRecord], format: ExportFormat, out: &mut dyn io::Write) -> anyhow::Result<()> {
    match format {
        ExportFormat::Jsonl => {
            for record in records {
                serde_json::to_writer(&mut *out, record).context("writing a JSON line")?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            write_csv_row(out, CSV_HEADER.iter().map(|s| s.to_string()))?;
            for r in records {
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
                    ],
                )?;
            }
        }
    }
    out.flush()?;
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
