//! The keyed audit chain: how a record's link is computed, which keys may have computed it, and
//! the streaming check of a whole chain.
//!
//! A link is `HMAC-SHA256(key, encoding)` where the encoding is length-prefixed binary (see
//! [`Linker::prepare`]): a domain tag, the key id, every field of the event (the actor's kind
//! included) and finally the sequence number and the previous link. Each field is written as an
//! 8-byte big-endian length followed by its bytes, optional fields behind a presence byte, so no
//! two different records share an encoding. Without the key nobody can compute a valid link,
//! which is what makes a rewritten chain detectable even when every later link is recomputed.
//!
//! Records carry the id of the key that linked them ([`AuditRecord::key_id`]); a [`KeyRing`]
//! holds every key a verifier accepts, so rotating the key keeps old records verifiable.
//! Records written before keys existed (`key_id` empty) use the first chain's plain SHA-256
//! link; the first keyed record after them links to their last hash, so the keyed segment
//! commits to the old head. This module is pure: no storage, no environment.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::SecondsFormat;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::audit::{Actor, AuditEvent, AuditRecord, GENESIS_HASH, legacy_hash};

/// `key_id` of records written before the chain was keyed (plain SHA-256, first format).
pub const KEY_ID_LEGACY: &str = "";
/// `key_id` of records written with `[audit] unkeyed = true`: SHA-256 over the full encoding.
pub const KEY_ID_UNKEYED: &str = "unkeyed";
/// Shortest accepted key, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// Domain tag at the start of every link encoding (changes if the encoding ever does).
const LINK_DOMAIN: &[u8] = b"pimbot-audit-link/v2";
/// What the key id is derived from.
const KEY_ID_LABEL: &[u8] = b"pimbot-audit-key-id/v1";

/// One HMAC key of the audit chain. `Debug` shows the id only.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    secret: Vec<u8>,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an audit key must be at least {MIN_KEY_BYTES} bytes (for example `openssl rand -hex 32`); got {0}")]
pub struct ShortKey(pub usize);

impl AuditKey {
    /// A key from its secret bytes (the value of `PIMBOT_AUDIT_KEY` as written). Its id is
    /// derived from it, so a rotated key gets a new id without configuration.
    pub fn new(secret: &[u8]) -> Result<Self, ShortKey> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(ShortKey(secret.len()));
        }
        let mut mac = hmac(secret);
        mac.update(KEY_ID_LABEL);
        let id = hex::encode(mac.finalize().into_bytes())[..16].to_owned();
        Ok(Self { id, secret: secret.to_vec() })
    }

    /// The key id stored with every record it links.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret, for deriving the checkpoint signing seed.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

fn hmac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this never fails.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"))
}

/// How new records are linked: with a key, or (explicitly opted into) without.
#[derive(Debug, Clone)]
pub enum Linker {
    /// HMAC-SHA256 with this key.
    Keyed(Arc<AuditKey>),
    /// SHA-256 over the same encoding: detects accidents, not an insider.
    Unkeyed,
}

impl Linker {
    /// The key id stored with records this linker makes.
    pub fn key_id(&self) -> &str {
        match self {
            Linker::Keyed(k) => k.id(),
            Linker::Unkeyed => KEY_ID_UNKEYED,
        }
    }

    /// Hashes everything about `event` except its position. The store calls this before it locks
    /// the chain head and [`PreparedLink::finish`] after, so little work happens under the lock.
    pub fn prepare(&self, event: &AuditEvent) -> PreparedLink {
        let mut mac = match self {
            Linker::Keyed(k) => LinkMac::Keyed(Box::new(hmac(&k.secret))),
            Linker::Unkeyed => LinkMac::Plain(Sha256::new()),
        };
        mac.field(LINK_DOMAIN);
        mac.field(self.key_id().as_bytes());
        mac.field(event.at.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
        let (actor_kind, actor_id) = match &event.actor {
            Actor::Person(p) => ("person", p.as_str()),
            Actor::System => ("system", ""),
        };
        mac.field(actor_kind.as_bytes());
        mac.field(actor_id.as_bytes());
        mac.field(event.kind.as_bytes());
        mac.optional(event.request_id.as_ref().map(|r| r.as_str().as_bytes()));
        mac.optional(event.role.as_ref().map(|r| r.as_str().as_bytes()));
        mac.field(event.detail.to_string().as_bytes());
        PreparedLink { mac, key_id: self.key_id().to_owned() }
    }

    /// Chains `event` at `seq` after `prev`.
    pub fn chain(&self, seq: i64, event: AuditEvent, prev: &str) -> AuditRecord {
        let prepared = self.prepare(&event);
        let key_id = prepared.key_id.clone();
        let hash = prepared.finish(seq, prev);
        AuditRecord { seq, event, prev_hash: prev.to_owned(), hash, key_id }
    }
}

/// The hash state of one event, waiting for its position.
#[derive(Clone)]
pub struct PreparedLink {
    mac: LinkMac,
    key_id: String,
}

impl fmt::Debug for PreparedLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedLink").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl PreparedLink {
    /// The key id the link is made with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The link of the event at `seq` after the link `prev` (lower-case hex).
    pub fn finish(mut self, seq: i64, prev: &str) -> String {
        self.mac.put(&seq.to_be_bytes());
        self.mac.field(prev.as_bytes());
        match self.mac {
            LinkMac::Keyed(mac) => hex::encode(mac.finalize().into_bytes()),
            LinkMac::Plain(h) => hex::encode(h.finalize()),
        }
    }
}

#[derive(Clone)]
enum LinkMac {
    Keyed(Box<Hmac<Sha256>>),
    Plain(Sha256),
}

impl LinkMac {
    fn put(&mut self, bytes: &[u8]) {
        match self {
            LinkMac::Keyed(m) => Mac::update(m.as_mut(), bytes),
            LinkMac::Plain(h) => Digest::update(h, bytes),
        }
    }

    /// A length-prefixed field.
    fn field(&mut self, bytes: &[u8]) {
        self.put(&(bytes.len() as u64).to_be_bytes());
        self.put(bytes);
    }

    /// A presence byte, then the field when present.
    fn optional(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.put(&[0]),
            Some(b) => {
                self.put(&[1]);
                self.field(b);
            }
        }
    }
}

/// Every key a verifier accepts, by id: the current key and the rotated-out ones.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, Arc<AuditKey>>,
}

impl KeyRing {
    /// A ring of `keys`.
    pub fn new(keys: impl IntoIterator<Item = Arc<AuditKey>>) -> Self {
        Self { keys: keys.into_iter().map(|k| (k.id().to_owned(), k)).collect() }
    }

    /// The key with id `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<AuditKey>> {
        self.keys.get(id)
    }

    /// Whether the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids it holds, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

/// Where and why a chain check failed. [`ChainBreak::seq`] is the first bad sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A sequence number is missing (a row was deleted).
    #[error("record {expected} is missing (found {found} next): a row was deleted")]
    Gap {
        /// The position expected.
        expected: i64,
        /// The position found.
        found: i64,
    },
    /// A record does not link to its predecessor.
    #[error("record {seq} does not link to record {}: the chain was cut or reordered", seq - 1)]
    BadLink {
        /// The position.
        seq: i64,
    },
    /// A record's content no longer matches its link.
    #[error("record {seq} was edited: its content does not match its link")]
    Tampered {
        /// The position.
        seq: i64,
    },
    /// A record names a key the verifier does not hold.
    #[error(
        "record {seq} is linked with key id {key_id:?}, which is not configured \
         (PIMBOT_AUDIT_KEY or PIMBOT_AUDIT_KEYS_OLD)"
    )]
    UnknownKey {
        /// The position.
        seq: i64,
        /// The key id it names.
        key_id: String,
    },
    /// An unkeyed or first-format record follows a keyed one: someone rewrote the tail without
    /// the key.
    #[error("record {seq} is not keyed ({key_id:?}) but follows keyed records: the chain was rewritten")]
    Downgrade {
        /// The position.
        seq: i64,
        /// The key id it names.
        key_id: String,
    },
    /// The chain ends before a record the head or a checkpoint says exists.
    #[error("records from {first_missing} on are missing: {why}")]
    Truncated {
        /// The first missing position.
        first_missing: i64,
        /// What proves they existed.
        why: String,
    },
    /// A record differs from a signed checkpoint of the same position.
    #[error("record {seq} does not match the checkpoint signed at {at}: the chain was rewritten")]
    CheckpointMismatch {
        /// The checkpoint's position.
        seq: i64,
        /// When the checkpoint was signed.
        at: String,
    },
}

impl ChainBreak {
    /// The first sequence number found bad.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Gap { expected, .. } => *expected,
            ChainBreak::BadLink { seq }
            | ChainBreak::Tampered { seq }
            | ChainBreak::UnknownKey { seq, .. }
            | ChainBreak::Downgrade { seq, .. }
            | ChainBreak::CheckpointMismatch { seq, .. } => *seq,
            ChainBreak::Truncated { first_missing, .. } => *first_missing,
        }
    }
}

/// Checks a chain record by record, from the first, keeping only the previous link: a chain
/// of any length is verified in constant memory.
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    keys: &'k KeyRing,
    prev: String,
    next_seq: i64,
    keyed_seen: bool,
    v2_seen: bool,
    checked: u64,
    legacy: u64,
    unkeyed: u64,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier accepting records linked with any key in `keys`.
    pub fn new(keys: &'k KeyRing) -> Self {
        Self {
            keys,
            prev: GENESIS_HASH.to_owned(),
            next_seq: 1,
            keyed_seen: false,
            v2_seen: false,
            checked: 0,
            legacy: 0,
            unkeyed: 0,
        }
    }

    /// Checks the next record.
    pub fn push(&mut self, rec: &AuditRecord) -> Result<(), ChainBreak> {
        if rec.seq != self.next_seq {
            return Err(ChainBreak::Gap { expected: self.next_seq, found: rec.seq });
        }
        if rec.prev_hash != self.prev {
            return Err(ChainBreak::BadLink { seq: rec.seq });
        }
        let expected = match rec.key_id.as_str() {
            KEY_ID_LEGACY if self.v2_seen => return Err(self.downgrade(rec)),
            KEY_ID_LEGACY => {
                self.legacy += 1;
                legacy_hash(rec.seq, &rec.event, &rec.prev_hash)
            }
            KEY_ID_UNKEYED if self.keyed_seen => return Err(self.downgrade(rec)),
            KEY_ID_UNKEYED => {
                self.unkeyed += 1;
                self.v2_seen = true;
                Linker::Unkeyed.prepare(&rec.event).finish(rec.seq, &rec.prev_hash)
            }
            id => {
                let key = self
                    .keys
                    .get(id)
                    .ok_or_else(|| ChainBreak::UnknownKey { seq: rec.seq, key_id: id.to_owned() })?;
                self.keyed_seen = true;
                self.v2_seen = true;
                Linker::Keyed(key.clone()).prepare(&rec.event).finish(rec.seq, &rec.prev_hash)
            }
        };
        if expected != rec.hash {
            return Err(ChainBreak::Tampered { seq: rec.seq });
        }
        self.prev.clone_from(&rec.hash);
        self.next_seq += 1;
        self.checked += 1;
        Ok(())
    }

    fn downgrade(&self, rec: &AuditRecord) -> ChainBreak {
        ChainBreak::Downgrade { seq: rec.seq, key_id: rec.key_id.clone() }
    }

    /// `(seq, link)` of the last record checked; `(0, GENESIS_HASH)` before any.
    pub fn last(&self) -> (i64, &str) {
        (self.next_seq - 1, &self.prev)
    }

    /// Records checked so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Of those, records in the first (unkeyed SHA-256) format and records linked without a key.
    pub fn unprotected(&self) -> (u64, u64) {
        (self.legacy, self.unkeyed)
    }
}

/// Verifies a whole chain held in memory; returns the number of records checked.
pub fn verify_records(keys: &KeyRing, records: &[AuditRecord]) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::new(keys);
    for r in records {
        v.push(r)?;
    }
    Ok(v.checked())
}

#[cfg(test)]
#[path = "audit_chain_tests.rs"]
mod tests;
