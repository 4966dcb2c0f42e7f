//! A newly minted API key in plaintext: 32 random bytes as 64 hex digits, unrelated to any wallet
//! key. It is shown once, in the response that creates it; only its keccak256 hash is registered
//! and stored. Wiped from memory when dropped; `Debug` never prints it.

use std::fmt;

use alloy::primitives::{keccak256, B256};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The hash of an API key's text: keccak256 of its UTF-8 bytes, the only form of a key the node
/// stores or compares (spec/api.md, "Identifiers on the wire"). The one place keys are hashed.
pub fn key_hash(key: &str) -> B256 {
    keccak256(key.as_bytes())
}

#[derive(Zeroize, ZeroizeOnDrop)]
pub struct NewApiKey(String);

impl NewApiKey {
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        let mut digits = Zeroizing::new([0u8; 64]);
        hex::encode_to_slice(bytes.as_ref(), digits.as_mut()).expect("64 digits for 32 bytes");
        // Allocated at its final size, so no reallocation leaves a copy behind.
        Self(String::from(
            std::str::from_utf8(digits.as_ref()).expect("hex digits are ASCII"),
        ))
    }

    /// The keccak256 hash the registry knows the key by.
    pub fn hash(&self) -> B256 {
        key_hash(&self.0)
    }
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewApiKey(<redacted>)")
    }
}

/// Serialized as the plain key: the one response that hands it to its owner.
impl serde::Serialize for NewApiKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_64_fresh_hex_digits_shown_only_when_serialized() {
        let key = NewApiKey::generate();
        let shown = serde_json::to_value(&key).unwrap();
        let text = shown.as_str().unwrap();
        assert_eq!(text.len(), 64);
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key.hash(), keccak256(text.as_bytes()));
        assert!(!format!("{key:?}").contains(text));
        assert_ne!(serde_json::to_value(NewApiKey::generate()).unwrap(), shown);
    }
}
