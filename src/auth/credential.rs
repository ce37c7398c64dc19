//! How pimbot proves itself to a token endpoint, for any of its app registrations (Graph and
//! ARM, the OpenID sign-in, later Teams): a client secret, a client assertion signed with a
//! certificate's private key (`private_key_jwt`, RS256 with the certificate's SHA-1 thumbprint
//! as `x5t`), or a federated token (workload identity federation: the file Azure Kubernetes
//! Service projects into the pod, re-read for every request because the kubelet rotates it).
//!
//! Secrets and keys are never logged; `Debug` names only the kind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::config::CredentialSource;

/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a certificate client assertion.
pub const ASSERTION_LIFETIME: Duration = Duration::minutes(10);

/// A certificate and its private key, ready to sign client assertions.
pub struct ClientCertificate {
    /// base64url SHA-1 of the certificate's DER (`x5t`).
    pub thumbprint_sha1: String,
    /// base64url SHA-256 of the certificate's DER (`x5t#S256`).
    pub thumbprint_sha256: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate").field("x5t", &self.thumbprint_sha1).finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads a PEM text holding one `CERTIFICATE` and its RSA `PRIVATE KEY` (PKCS#8) or
    /// `RSA PRIVATE KEY` (PKCS#1), in any order.
    pub fn from_pem(text: &str) -> anyhow::Result<Self> {
        let blocks = pem::parse_many(text.as_bytes()).context("reading the PEM file")?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .context("the PEM file holds no CERTIFICATE block")?;
        let key = blocks
            .iter()
            .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
            .context("the PEM file holds no PRIVATE KEY block (the certificate's RSA key)")?;
        let key = EncodingKey::from_rsa_pem(pem::encode(key).as_bytes())
            .context("the private key is not an RSA key")?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Ok(Self {
            thumbprint_sha1: b64.encode(Sha1::digest(cert.contents())),
            thumbprint_sha256: b64.encode(Sha256::digest(cert.contents())),
            key,
        })
    }

    /// Reads [`Self::from_pem`] from a file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the certificate file {}", path.display()))?;
        Self::from_pem(&text).with_context(|| format!("in {}", path.display()))
    }

    /// A client assertion for `client_id` at the token endpoint `audience`, valid from `now`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: i64,
            iat: i64,
            exp: i64,
        }
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.x5t = Some(self.thumbprint_sha1.clone());
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            exp: (now + ASSERTION_LIFETIME).timestamp(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).context("signing the client assertion")
    }
}

/// One app registration's credential.
#[derive(Clone)]
pub enum ClientCredential {
    /// A client secret, sent in the form body.
    Secret(SecretString),
    /// A certificate: each request carries a fresh signed client assertion.
    Certificate(Arc<ClientCertificate>),
    /// Workload identity federation: the token in this file is the client assertion.
    Federated(PathBuf),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl ClientCredential {
    /// Builds the credential a config section resolved to; a certificate is read now, so a bad
    /// file stops startup instead of the first grant.
    pub fn from_source(source: &CredentialSource) -> anyhow::Result<Self> {
        Ok(match source {
            CredentialSource::Secret(s) => ClientCredential::Secret(s.clone()),
            CredentialSource::Certificate(path) => {
                ClientCredential::Certificate(Arc::new(ClientCertificate::load(path)?))
            }
            CredentialSource::Federated(path) => ClientCredential::Federated(path.clone()),
        })
    }

    /// `secret`, `certificate` or `federated`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientCredential::Secret(_) => "secret",
            ClientCredential::Certificate(_) => "certificate",
            ClientCredential::Federated(_) => "federated",
        }
    }

    /// The form fields that authenticate `client_id` in a request to `token_url` at `now`.
    /// The federated token file is read on every call.
    pub async fn form_fields(
        &self,
        client_id: &str,
        token_url: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(&'static str, String)>> {
        Ok(match self {
            ClientCredential::Secret(secret) => vec![("client_secret", secret.expose_secret().to_owned())],
            ClientCredential::Certificate(cert) => vec![
                ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()),
                ("client_assertion", cert.assertion(client_id, token_url, now)?),
            ],
            ClientCredential::Federated(path) => {
                let token = tokio::fs::read_to_string(path)
                    .await
                    .with_context(|| format!("reading the federated token file {}", path.display()))?;
                let token = token.trim();
                anyhow::ensure!(!token.is_empty(), "the federated token file {} is empty", path.display());
                vec![
                    ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()),
                    ("client_assertion", token.to_owned()),
                ]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_signs_assertions_with_its_thumbprint() {
        let cert =
            ClientCertificate::from_pem(crate::testing::keys::CLIENT_CERTIFICATE_PEM).expect("test pem");
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let jwt = cert.assertion("app", "https://login.example/t/oauth2/v2.0/token", now).expect("signs");
        let header = jsonwebtoken::decode_header(&jwt).expect("header");
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.x5t.as_deref(), Some(cert.thumbprint_sha1.as_str()));
        assert_eq!(cert.thumbprint_sha1, crate::testing::keys::client_certificate_x5t());
        assert!(
            ClientCertificate::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_federated_token_file_is_read_for_every_request() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        let credential = ClientCredential::Federated(path.clone());
        let now = Utc::now();
        assert!(credential.form_fields("app", "u", now).await.is_err(), "a missing file is an error");
        std::fs::write(&path, "first-token\n").expect("write");
        let fields = credential.form_fields("app", "u", now).await.expect("fields");
        assert_eq!(fields[0], ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()));
        assert_eq!(fields[1], ("client_assertion", "first-token".to_owned()));
        // The kubelet rotates the file; the next request sends the new token.
        std::fs::write(&path, "rotated-token").expect("write");
        assert_eq!(credential.form_fields("app", "u", now).await.expect("fields")[1].1, "rotated-token");
        std::fs::write(&path, "  \n").expect("write");
        assert!(credential.form_fields("app", "u", now).await.is_err(), "an empty file is an error");
    }
}
