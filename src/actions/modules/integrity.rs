//! Subresource integrity of imported modules: SHA-384 written as `sha384-<base64>`, the form of
//! `<script integrity>` and of jsDelivr's integrity data.

use base64::Engine;
use sha2::{Digest, Sha384};

/// The `sha384-<base64>` integrity of `bytes`.
pub fn sha384_of(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// The digest an integrity string names, if it is a well-formed `sha384-<base64>` (48 bytes).
pub fn parse(integrity: &str) -> Option<[u8; 48]> {
    let encoded = integrity.trim().strip_prefix("sha384-")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    bytes.try_into().ok()
}

/// Whether `bytes` match `integrity`. An SRI value may list several hashes separated by spaces;
/// the bytes match if any `sha384-` one does.
pub fn matches(integrity: &str, bytes: &[u8]) -> bool {
    let digest: [u8; 48] = Sha384::digest(bytes).into();
    integrity
        .split_whitespace()
        .filter_map(parse)
        .any(|expected| expected == digest)
}

/// Whether `integrity` (possibly several space-separated hashes) names the digest of another
/// well-formed `sha384-…` value, such as [`sha384_of`] gave for bytes already hashed.
pub fn names(integrity: &str, sha384: &str) -> bool {
    let Some(digest) = parse(sha384) else {
        return false;
    };
    integrity
        .split_whitespace()
        .filter_map(parse)
        .any(|expected| expected == digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha384_integrity_round_trips_and_matches_only_its_bytes() {
        // `printf 'alert(1)' | openssl dgst -sha384 -binary | base64`
        let sri = sha384_of(b"alert(1)");
        assert_eq!(
            sri,
            "sha384-HT2E9NfWiuQ/w1PRai+hTyqW16NIoCGA/m8VQDUopfAtcz6YQjtsMmQd5uRbVDpW"
        );
        assert!(matches(&sri, b"alert(1)"));
        assert!(!matches(&sri, b"alert(2)"));
        assert!(matches(&format!("sha256-xyz {sri}"), b"alert(1)"));
        assert!(!matches("sha384-not base64!", b"alert(1)"));
        assert!(names(&format!("sha256-xyz {sri}"), &sri));
        assert!(!names(&sri, &sha384_of(b"alert(2)")));
        assert_eq!(parse("sha384-AAAA"), None, "too short for SHA-384");
    }
}
