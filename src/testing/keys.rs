//! Fixed RSA keys and a self-signed certificate for the fakes, the tests and `pimbot demo`.
//! They are published in this repository and protect nothing: never configure them anywhere
//! real.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Signing keys of the fake OpenID provider, in rotation order.
pub const IDP_KEYS: [&str; 3] = [
    include_str!("keys/idp-1.key.pem"),
    include_str!("keys/idp-2.key.pem"),
    include_str!("keys/idp-3.key.pem"),
];
/// The fake "Kubernetes" issuer's private key (signs projected service-account tokens).
pub const KUBE_ISSUER_KEY: &str = include_str!("keys/kube-issuer.key.pem");
/// The fake "Kubernetes" issuer's public key (the fake token endpoint trusts it).
pub const KUBE_ISSUER_PUBLIC_KEY: &str = include_str!("keys/kube-issuer.pub.pem");
/// A self-signed client certificate followed by its private key, as `certificate_path` expects.
pub const CLIENT_CERTIFICATE_PEM: &str = include_str!("keys/client.pem");
/// The client certificate's public key (the fake token endpoint verifies assertions with it).
pub const CLIENT_PUBLIC_KEY: &str = include_str!("keys/client.pub.pem");

/// base64url SHA-1 of the client certificate's DER: the `x5t` its assertions must carry.
pub fn client_certificate_x5t() -> String {
    let der = pem::parse_many(CLIENT_CERTIFICATE_PEM.as_bytes())
        .ok()
        .and_then(|blocks| blocks.into_iter().find(|b| b.tag() == "CERTIFICATE"))
        .map(|b| b.contents().to_vec())
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(der))
}
