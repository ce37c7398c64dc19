//! PKCE (RFC 7636): the `S256` code challenge of a verifier. The verifier itself is a random
//! token made with the sign-in state (`core::identity::AuthState`).

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The only challenge method pimbot sends.
pub const METHOD: &str = "S256";

/// `BASE64URL(SHA256(verifier))`, without padding.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rfc_7636_example() {
        assert_eq!(
            super::challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
