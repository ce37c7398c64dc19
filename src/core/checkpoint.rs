//! Signed checkpoints: the anchors of the audit chain outside the database.
//!
//! A checkpoint is `(seq, link, at)` of the chain signed with Ed25519. pimbot publishes one
//! every `checkpoint_events` events or `checkpoint_every`, to every audit sink and the feed. An
//! insider who can write the database can roll the chain back or rewrite it, but cannot reach
//! the copies the sinks carried away, nor sign new ones: [`CheckpointTrail`] compares the chain
//! with them and reports truncation, rollback and rewriting after any checkpoint.
//!
//! The signing seed is `PIMBOT_AUDIT_SIGNING_KEY` (32 bytes, hex) or, when unset, HKDF-SHA256
//! of the audit HMAC key under [`SIGNING_SEED_INFO`], a label used for nothing else. The signed
//! message is length-prefixed like the chain's links (see [`signed_message`]). Pure: no I/O.

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::audit::AuditRecord;
use super::audit_chain::{AuditKey, ChainBreak};

/// HKDF `info` label of the checkpoint signing seed derived from the audit key.
pub const SIGNING_SEED_INFO: &[u8] = b"pimbot-audit-checkpoint-signing-seed/v1";
/// Domain tag of the signed message.
const CHECKPOINT_DOMAIN: &[u8] = b"pimbot-audit-checkpoint/v1";

/// A signed statement that the chain had `link` at `seq` at time `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Position in the chain.
    pub seq: i64,
    /// The link of record `seq`.
    pub link: String,
    /// When it was signed (microseconds).
    pub at: DateTime<Utc>,
    /// Ed25519 public key that signed it (hex).
    pub public_key: String,
    /// Ed25519 signature of [`signed_message`] (hex).
    pub signature: String,
}

/// One line as the audit sinks write it: an event or a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkLine {
    /// An audit record.
    Event(AuditRecord),
    /// A signed checkpoint.
    Checkpoint(Checkpoint),
}

/// The bytes a checkpoint signs: domain tag, seq, link and time, each length-prefixed.
pub fn signed_message(seq: i64, link: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    field(CHECKPOINT_DOMAIN);
    field(&seq.to_be_bytes());
    field(link.as_bytes());
    field(at.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
    out
}

/// Signs checkpoints. `Debug` shows the public key only.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner").field("public_key", &self.public_key_hex()).finish()
    }
}

impl CheckpointSigner {
    /// A signer from a 32-byte seed given as 64 hex characters (`PIMBOT_AUDIT_SIGNING_KEY`).
    pub fn from_hex_seed(hex_seed: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_seed.trim())
            .map_err(|e| format!("the checkpoint signing key is not hex: {e}"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("the checkpoint signing key must be 32 bytes, got {}", b.len()))?;
        Ok(Self { key: SigningKey::from_bytes(&seed) })
    }

    /// The signer derived from the audit HMAC key (used when no signing key is set).
    pub fn derived_from(key: &AuditKey) -> Self {
        let mut seed = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, key.secret())
            .expand(SIGNING_SEED_INFO, &mut seed)
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
        Self { key: SigningKey::from_bytes(&seed) }
    }

    /// The public key, hex (what `pimbot audit pubkey` prints).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The verifying half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `(seq, link, at)`.
    pub fn sign(&self, seq: i64, link: &str, at: DateTime<Utc>) -> Checkpoint {
        let at = super::audit::truncate_micros(at);
        let signature = self.key.sign(&signed_message(seq, link, at));
        Checkpoint {
            seq,
            link: link.to_owned(),
            at,
            public_key: self.public_key_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// Parses a hex Ed25519 public key.
pub fn public_key_from_hex(text: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("public key is not hex: {e}"))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| format!("public key must be 32 bytes, got {}", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

impl Checkpoint {
    /// Whether one of `trusted` signed it.
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<(), String> {
        let signature = hex::decode(&self.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| format!("checkpoint {} has a malformed signature", self.seq))?;
        let message = signed_message(self.seq, &self.link, self.at);
        if trusted.iter().any(|k| k.verify(&message, &signature).is_ok()) {
            Ok(())
        } else {
            Err(format!(
                "checkpoint {} (signed at {}) does not verify with the configured key(s): forged or signed by another key",
                self.seq,
                self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ))
        }
    }

    /// The short line posted to the feed channel.
    pub fn feed_line(&self) -> String {
        format!(
            "Audit checkpoint: record {} · link {} · {} · signed by {}",
            self.seq,
            self.link.get(..16).unwrap_or(&self.link),
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.public_key.get(..16).unwrap_or(&self.public_key),
        )
    }
}

/// Verified checkpoints in seq order, compared with the chain as it is streamed.
#[derive(Debug, Default)]
pub struct CheckpointTrail {
    checkpoints: Vec<Checkpoint>,
    next: usize,
    last_matched: i64,
}

impl CheckpointTrail {
    /// A trail of already verified checkpoints (any order, duplicates allowed). Two different
    /// links signed for one position are refused: the signing key itself was misused.
    pub fn new(mut checkpoints: Vec<Checkpoint>) -> Result<Self, String> {
        checkpoints.sort_by_key(|c| c.seq);
        checkpoints.dedup_by(|b, a| a.seq == b.seq && a.link == b.link);
        if let Some(w) = checkpoints.windows(2).find(|w| w[0].seq == w[1].seq) {
            return Err(format!("two checkpoints sign different links for record {}", w[0].seq));
        }
        Ok(Self { checkpoints, next: 0, last_matched: 0 })
    }

    /// How many checkpoints it holds.
    pub fn len(&self) -> usize {
        self.checkpoints.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.checkpoints.is_empty()
    }

    /// Checks a verified record against the checkpoint of its position, if any.
    pub fn observe(&mut self, seq: i64, link: &str) -> Result<(), ChainBreak> {
        while let Some(cp) = self.checkpoints.get(self.next) {
            if cp.seq > seq {
                break;
            }
            if cp.seq == seq && cp.link != link {
                return Err(ChainBreak::CheckpointMismatch {
                    seq,
                    at: format!(
                        "{} (the chain still matched at record {})",
                        cp.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                        self.last_matched
                    ),
                });
            }
            self.last_matched = cp.seq;
            self.next += 1;
        }
        Ok(())
    }

    /// After the last record (`last_seq`): a checkpoint beyond it proves records were removed.
    pub fn finish(&self, last_seq: i64) -> Result<(), ChainBreak> {
        match self.checkpoints.last() {
            Some(cp) if cp.seq > last_seq => Err(ChainBreak::Truncated {
                first_missing: last_seq + 1,
                why: format!(
                    "the chain ends at record {last_seq}, but record {} was signed in a checkpoint at {}: \
                     the chain was truncated or rolled back",
                    cp.seq,
                    cp.at.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The newest checkpoint matched so far (0 when none).
    pub fn last_matched(&self) -> i64 {
        self.last_matched
    }
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
