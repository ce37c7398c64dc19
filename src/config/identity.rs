//! The `[oidc]` section and the app credentials (`secret`, `certificate`, `federated`) shared
//! by `[oidc]` and `[directory]`: which credential a section uses, and the startup checks.
//! Reading the certificate or the federated token happens in `auth::credential`, not here.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::file::{Config, CredentialKind, DirectoryKind, OidcConfig};
use super::validate::Problems;

/// Which credential a section resolved to.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// A client secret.
    Secret(SecretString),
    /// A PEM file with a certificate and its private key.
    Certificate(PathBuf),
    /// A file holding a federated token, re-read for every token request.
    Federated(PathBuf),
}

impl CredentialSource {
    /// The kind, for summaries.
    pub fn kind(&self) -> CredentialKind {
        match self {
            CredentialSource::Secret(_) => CredentialKind::Secret,
            CredentialSource::Certificate(_) => CredentialKind::Certificate,
            CredentialSource::Federated(_) => CredentialKind::Federated,
        }
    }
}

/// Picks a section's credential: the explicit `credential`, else the first configured of
/// secret, certificate and federated token file. The error says what to set.
pub fn credential_source(
    section: &str,
    secret_env: &str,
    kind: Option<CredentialKind>,
    secret: Option<&SecretString>,
    certificate: Option<&PathBuf>,
    federated: Option<&PathBuf>,
) -> Result<CredentialSource, String> {
    let secret = secret.filter(|s| !s.expose_secret().trim().is_empty());
    let chosen = kind.or(if secret.is_some() {
        Some(CredentialKind::Secret)
    } else if certificate.is_some() {
        Some(CredentialKind::Certificate)
    } else if federated.is_some() {
        Some(CredentialKind::Federated)
    } else {
        None
    });
    match chosen {
        Some(CredentialKind::Secret) => secret.cloned().map(CredentialSource::Secret).ok_or_else(|| {
            format!("credential = \"secret\" needs client_secret in [{section}] or the {secret_env} environment variable")
        }),
        Some(CredentialKind::Certificate) => certificate.cloned().map(CredentialSource::Certificate).ok_or_else(|| {
            format!("credential = \"certificate\" needs certificate_path in [{section}] (a PEM file with the certificate and its private key)")
        }),
        Some(CredentialKind::Federated) => federated.cloned().map(CredentialSource::Federated).ok_or_else(|| {
            format!("credential = \"federated\" needs federated_token_file in [{section}] or the {ENV_AZURE_FEDERATED_TOKEN_FILE} environment variable (Azure Kubernetes Service workload identity sets it)")
        }),
        None => Err(format!(
            "no credential; set client_secret (or {secret_env}), certificate_path, or federated_token_file \
             (or {ENV_AZURE_FEDERATED_TOKEN_FILE}) in [{section}]"
        )),
    }
}

/// The projected service-account token file (Azure Kubernetes Service workload identity).
pub const ENV_AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// The app's client id (Azure Kubernetes Service workload identity).
pub const ENV_AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// The app's tenant (Azure Kubernetes Service workload identity).
pub const ENV_AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// Overrides `[oidc] client_secret`.
pub const ENV_OIDC_CLIENT_SECRET: &str = "PIMBOT_OIDC_CLIENT_SECRET";

/// Hosts of the Microsoft identity platform in the public and national clouds.
const ENTRA_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "sts.windows.net",
];

/// Whether `issuer` is Microsoft Entra, whose v2.0 ID tokens carry no `amr`.
pub fn is_entra_issuer(issuer: &str) -> bool {
    host_of(issuer).is_some_and(|h| ENTRA_HOSTS.iter().any(|e| h.eq_ignore_ascii_case(e)))
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(host.split(':').next().unwrap_or(host))
}

/// Whether `url` is https, or http to this machine (tests and the demo).
fn secure_or_local(url: &str) -> bool {
    url.starts_with("https://")
        || (url.starts_with("http://")
            && host_of(url).is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]"))
}

/// Why `context` is not a usable authentication context id, if it is not. Entra's are `c1` to
/// `c25`; other providers' `acr`-style values are any word.
pub fn bad_auth_context(context: &str, entra: bool) -> Option<String> {
    let c = context.trim();
    if c.is_empty() || c.chars().any(char::is_whitespace) {
        return Some(format!("`{context}` is not an authentication context id; write it like \"c1\""));
    }
    if entra {
        let n = c.strip_prefix(['c', 'C']).and_then(|n| n.parse::<u8>().ok());
        if !n.is_some_and(|n| (1..=25).contains(&n)) || c.len() > 3 {
            return Some(format!(
                "`{context}` is not an Entra authentication context id; they are c1 to c25 (Conditional Access → Authentication contexts)"
            ));
        }
    }
    None
}

impl Config {
    /// `[oidc]`, when people sign in with an OpenID provider.
    pub fn oidc(&self) -> Option<&OidcConfig> {
        self.oidc.as_ref()
    }

    /// The `[oidc]` credential, when `[oidc]` is configured and has one.
    pub fn oidc_credential(&self) -> Option<Result<CredentialSource, String>> {
        let o = self.oidc.as_ref()?;
        Some(credential_source(
            "oidc",
            ENV_OIDC_CLIENT_SECRET,
            o.credential,
            o.client_secret.as_ref(),
            o.certificate_path.as_ref(),
            o.federated_token_file.as_ref(),
        ))
    }

    /// The `[directory]` credential (meaningful with `kind = "graph"`).
    pub fn directory_credential(&self) -> Result<CredentialSource, String> {
        let d = &self.directory;
        credential_source(
            "directory",
            super::ENV_GRAPH_CLIENT_SECRET,
            d.credential,
            d.client_secret.as_ref(),
            d.certificate_path.as_ref(),
            d.federated_token_file.as_ref(),
        )
    }

    /// Applies the workload-identity variables Azure Kubernetes Service injects: the token
    /// file to any section that names none, and client and tenant ids to a Graph directory that
    /// names none.
    pub(super) fn apply_workload_identity_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(file) = get(ENV_AZURE_FEDERATED_TOKEN_FILE) {
            self.directory.federated_token_file.get_or_insert_with(|| PathBuf::from(&file));
            if let Some(o) = &mut self.oidc {
                o.federated_token_file.get_or_insert_with(|| PathBuf::from(&file));
            }
        }
        if self.directory.kind == DirectoryKind::Graph {
            if self.directory.client_id.is_none() {
                self.directory.client_id = get(ENV_AZURE_CLIENT_ID);
            }
            if self.directory.tenant_id.is_none() {
                self.directory.tenant_id = get(ENV_AZURE_TENANT_ID);
            }
        }
        if let Some(o) = &mut self.oidc
            && let Some(secret) = get(ENV_OIDC_CLIENT_SECRET)
        {
            o.client_secret = Some(SecretString::from(secret));
        }
    }

    /// Checks `[oidc]`.
    pub(super) fn check_oidc(&self, p: &mut Problems) {
        let Some(o) = &self.oidc else { return };
        if !secure_or_local(&o.issuer) {
            p.push("oidc.issuer", format!("`{}` must be an https URL (http only to this machine)", o.issuer));
        }
        if !secure_or_local(&o.public_url) {
            p.push(
                "oidc.public_url",
                format!(
                    "`{}` must be an https URL where browsers reach pimbot (http only to this machine)",
                    o.public_url
                ),
            );
        }
        if o.client_id.trim().is_empty() {
            p.push("oidc.client_id", "missing; set the app registration's client id");
        }
        if let Some(Err(e)) = self.oidc_credential() {
            p.push("oidc.credential", e);
        }
        if let Some(c) = &o.default_auth_context
            && let Some(why) = bad_auth_context(c, is_entra_issuer(&o.issuer))
        {
            p.push("oidc.default_auth_context", why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_issuers_are_recognised_by_host() {
        assert!(is_entra_issuer("https://login.microsoftonline.com/t/v2.0"));
        assert!(is_entra_issuer("https://LOGIN.microsoftonline.us/t/v2.0"));
        assert!(!is_entra_issuer("http://127.0.0.1:8080/t/v2.0"));
        assert!(!is_entra_issuer("https://accounts.example.com"));
    }

    #[test]
    fn auth_context_ids() {
        assert_eq!(bad_auth_context("c1", true), None);
        assert_eq!(bad_auth_context("C25", true), None);
        assert!(bad_auth_context("c26", true).is_some());
        assert!(bad_auth_context("c0", true).is_some());
        assert!(bad_auth_context("mfa", true).is_some());
        assert_eq!(bad_auth_context("urn:example:mfa", false), None);
        assert!(bad_auth_context("two words", false).is_some());
    }

    #[test]
    fn the_credential_is_explicit_or_the_first_configured() {
        let secret = SecretString::from("s".to_owned());
        let cert = PathBuf::from("/c.pem");
        let file = PathBuf::from("/token");
        let pick = |k, s, c, f| credential_source("directory", "ENV", k, s, c, f).map(|c| c.kind());
        assert_eq!(pick(None, Some(&secret), Some(&cert), None), Ok(CredentialKind::Secret));
        assert_eq!(pick(None, None, Some(&cert), Some(&file)), Ok(CredentialKind::Certificate));
        assert_eq!(pick(None, None, None, Some(&file)), Ok(CredentialKind::Federated));
        assert_eq!(
            pick(Some(CredentialKind::Federated), Some(&secret), None, Some(&file)),
            Ok(CredentialKind::Federated)
        );
        assert!(pick(Some(CredentialKind::Certificate), Some(&secret), None, None).is_err());
        assert!(pick(None, None, None, None).is_err());
    }
}
