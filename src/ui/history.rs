//! The "History" page: the audit trail filtered by person, role, kind, period and free text,
//! paged, with the chain's verification status; and the same filter as CSV or JSON Lines.
//!
//! Filtering is a pure function over the records ([`select`]), so the page and the downloads
//! always agree. Periods are whole UTC days, `to` included.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use std::collections::HashMap;

use super::trends::{requesters, subject};
use crate::core::audit::AuditRecord;
use crate::core::audit_chain::{ChainBreak, KeyRing, verify_records};

/// Rows per page.
pub const PAGE_SIZE: usize = 50;

/// The query of `GET /ui/history` (and its downloads). Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Filter {
    /// Free text: matched against actor, kind, role, request id and details.
    #[serde(default)]
    pub q: Option<String>,
    /// The acting person, exactly.
    #[serde(default)]
    pub person: Option<String>,
    /// The role key, exactly.
    #[serde(default)]
    pub role: Option<String>,
    /// The kind, or its prefix ending in `.` (`grant.`).
    #[serde(default)]
    pub kind: Option<String>,
    /// First day (`YYYY-MM-DD`).
    #[serde(default)]
    pub from: Option<String>,
    /// Last day, included.
    #[serde(default)]
    pub to: Option<String>,
    /// 1-based page.
    #[serde(default)]
    pub page: Option<usize>,
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day(v: &Option<String>) -> Result<Option<NaiveDate>, String> {
    match set(v) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("`{s}` is not a date; write it like 2026-03-31")),
    }
}

impl Filter {
    /// The filter as a query string (without `page`), for links and downloads.
    pub fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("q", set(&self.q)),
            ("person", set(&self.person)),
            ("role", set(&self.role)),
            ("kind", set(&self.kind)),
            ("from", set(&self.from)),
            ("to", set(&self.to)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// Whether a record passes, given who asked for each request. Errors name a malformed
    /// date.
    fn matcher<'a>(
        &'a self,
        requesters: &'a HashMap<String, String>,
    ) -> Result<impl Fn(&AuditRecord) -> bool + 'a, String> {
        let from = day(&self.from)?;
        let to = day(&self.to)?;
        let q = set(&self.q).map(str::to_lowercase);
        Ok(move |rec: &AuditRecord| {
            let e = &rec.event;
            let date = e.at.date_naive();
            if from.is_some_and(|f| date < f) || to.is_some_and(|t| date > t) {
                return false;
            }
            if let Some(p) = set(&self.person)
                && e.actor.label() != p
                && subject(rec, requesters) != p
            {
                return false;
            }
            if let Some(r) = set(&self.role)
                && e.role.as_ref().map(|x| x.as_str()) != Some(r)
            {
                return false;
            }
            if let Some(k) = set(&self.kind) {
                let hit = if k.ends_with('.') { e.kind.starts_with(k) } else { e.kind == k };
                if !hit {
                    return false;
                }
            }
            if let Some(q) = &q {
                let hay = format!(
                    "{} {} {} {} {}",
                    e.actor.label(),
                    e.kind,
                    e.role.as_ref().map(|x| x.as_str()).unwrap_or_default(),
                    e.request_id.as_ref().map(|x| x.as_str()).unwrap_or_default(),
                    e.detail
                )
                .to_lowercase();
                if !hay.contains(q.as_str()) {
                    return false;
                }
            }
            true
        })
    }
}

/// The chain's state as the page reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chain {
    /// Every record verified, and the stored head matches the newest.
    Verified {
        /// Records verified.
        records: usize,
    },
    /// A record does not verify.
    Broken(String),
    /// The newest records are missing (the stored head is ahead of them).
    TailMissing {
        /// The head's sequence number.
        head: i64,
        /// The newest record's.
        newest: i64,
    },
}

/// Verifies `records` (the whole trail, in chain order) against the stored head.
pub fn chain_status(ring: &KeyRing, records: &[AuditRecord], head: Option<(i64, String)>) -> Chain {
    match verify_records(ring, records) {
        Err(b) => Chain::Broken(describe(&b)),
        Ok(n) => {
            let newest = records.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, String::new()));
            match head {
                Some((seq, hash)) if seq != newest.0 || (seq > 0 && hash != newest.1) => {
                    Chain::TailMissing { head: seq, newest: newest.0 }
                }
                _ => Chain::Verified { records: usize::try_from(n).unwrap_or(usize::MAX) },
            }
        }
    }
}

fn describe(b: &ChainBreak) -> String {
    b.to_string()
}

/// One page of filtered records.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The records on this page, newest first.
    pub rows: Vec<AuditRecord>,
    /// How many records pass the filter.
    pub total: usize,
    /// This page (1-based).
    pub page: usize,
    /// Number of pages (at least 1).
    pub pages: usize,
}

/// Filters `records` and cuts out the requested page (newest first).
pub fn select(records: &[AuditRecord], filter: &Filter) -> Result<Selection, String> {
    let all = matching(records, filter)?;
    let total = all.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.unwrap_or(1).clamp(1, pages);
    let rows = all.into_iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE).cloned().collect();
    Ok(Selection { rows, total, page, pages })
}

/// Every record passing the filter, newest first (the downloads).
pub fn matching<'r>(records: &'r [AuditRecord], filter: &Filter) -> Result<Vec<&'r AuditRecord>, String> {
    let requesters = requesters(records);
    let pass = filter.matcher(&requesters)?;
    Ok(records.iter().rev().filter(|r| pass(r)).collect())
}

/// The records as CSV (RFC 4180; cells that a spreadsheet would run as a formula are prefixed
/// with `'`).
pub fn csv(records: &[&AuditRecord]) -> String {
    let mut out = String::from("seq,at,actor,kind,role,request_id,detail,hash\r\n");
    for r in records {
        let e = &r.event;
        let cells = [
            r.seq.to_string(),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.actor.label(),
            e.kind.clone(),
            e.role.as_ref().map(|x| x.to_string()).unwrap_or_default(),
            e.request_id.as_ref().map(|x| x.to_string()).unwrap_or_default(),
            e.detail.to_string(),
            r.hash.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn cell(text: &str) -> String {
    let text =
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The records as JSON Lines, each the stored record (sequence, event, hashes), so a download
/// can be checked against the chain.
pub fn jsonl(records: &[&AuditRecord]) -> String {
    let mut out = String::new();
    for r in records {
        if let Ok(line) = serde_json::to_string(r) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The period an event falls in, for display.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::{Actor, AuditEvent, EventKind, GENESIS_HASH};
    use serde_json::json;

    fn trail() -> Vec<AuditRecord> {
        let base = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut prev = GENESIS_HASH.to_owned();
        let mut out = Vec::new();
        for i in 0..120i64 {
            let event = AuditEvent {
                at: base + chrono::Duration::hours(i),
                actor: Actor::Person(if i % 2 == 0 { "alice" } else { "bob" }.into()),
                kind: if i % 3 == 0 { EventKind::RequestSubmitted } else { EventKind::GrantActivated }.into(),
                request_id: Some(format!("r-{i}").into()),
                role: Some(if i % 4 == 0 { "reader" } else { "global-admin" }.into()),
                detail: json!({"n": i, "why": "=cmd"}),
            };
            let rec = crate::testing::audit::test_linker().chain(i + 1, event, &prev);
            prev = rec.hash.clone();
            out.push(rec);
        }
        out
    }

    #[test]
    fn filters_page_and_agree_with_the_downloads() {
        let t = trail();
        let all = select(&t, &Filter::default()).expect("select");
        assert_eq!((all.total, all.pages, all.rows.len(), all.rows[0].seq), (120, 3, 50, 120));
        let f = Filter { person: Some("alice".into()), kind: Some("grant.".into()), ..Filter::default() };
        let s = select(&t, &f).expect("select");
        // alice acts on even i; grant.activated where i % 3 != 0: 60 even, 20 of them multiples of 6.
        assert_eq!(s.total, 40);
        assert_eq!(matching(&t, &f).expect("m").len(), 40);
        let last = select(&t, &Filter { page: Some(9), ..Filter::default() }).expect("select");
        assert_eq!((last.page, last.rows.len()), (3, 20));
        let day1 =
            Filter { from: Some("2027-01-15".into()), to: Some("2027-01-15".into()), ..Filter::default() };
        assert!(
            select(&t, &day1)
                .expect("select")
                .rows
                .iter()
                .all(|r| r.event.at.date_naive().to_string() == "2027-01-15")
        );
        assert!(select(&t, &Filter { from: Some("yesterday".into()), ..Filter::default() }).is_err());
        let q = Filter { q: Some("R-7".into()), ..Filter::default() };
        assert_eq!(select(&t, &q).expect("select").total, 1 + 10, "r-7 and r-70..r-79");
        assert_eq!(f.query(), "person=alice&kind=grant.");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas_and_jsonl_keeps_hashes() {
        let t = trail();
        let rows: Vec<&AuditRecord> = t.iter().take(2).collect();
        let text = csv(&rows);
        assert!(text.starts_with("seq,at,actor,kind,role,request_id,detail,hash\r\n"));
        assert!(text.contains(r#""{""n"":0,""why"":""=cmd""}""#), "{text}");
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        let lines = jsonl(&rows);
        let first: AuditRecord = serde_json::from_str(lines.lines().next().expect("line")).expect("record");
        assert_eq!(first, t[0]);
    }

    #[test]
    fn the_chain_status_reports_tampering_and_a_missing_tail() {
        let mut t = trail();
        let head = t.last().map(|r| (r.seq, r.hash.clone()));
        assert_eq!(
            chain_status(&crate::testing::audit::test_ring(), &t, head.clone()),
            Chain::Verified { records: 120 }
        );
        t.pop();
        assert!(matches!(
            chain_status(&crate::testing::audit::test_ring(), &t, head),
            Chain::TailMissing { head: 120, newest: 119 }
        ));
        t[5].event.detail = json!({"n": 999});
        assert!(matches!(chain_status(&crate::testing::audit::test_ring(), &t, None), Chain::Broken(_)));
    }
}
