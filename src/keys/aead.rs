//! Wallet encryption for `Lit.Actions.Encrypt` / `Decrypt`: AES-256-GCM with a random 12-byte
//! nonce; the wire form is hex(nonce ‖ ciphertext ‖ 16-byte tag), an optional `0x` accepted on
//! decryption. The key is the wallet's encryption key, derived apart from its signing key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AeadError {
    /// Wrong key, tampered or truncated ciphertext, or not hex at all.
    #[error("Decryption failed")]
    DecryptionFailed,
}

pub fn encrypt(key: &[u8; 32], plaintext: &[u8]) -> String {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), plaintext)
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    hex::encode(out)
}

pub fn decrypt(key: &[u8; 32], ciphertext_hex: &str) -> Result<Vec<u8>, AeadError> {
    let text = ciphertext_hex.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bytes = hex::decode(text).map_err(|_| AeadError::DecryptionFailed)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(AeadError::DecryptionFailed);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    Aes256Gcm::new(key.into())
        .decrypt(&Nonce::from(nonce), sealed)
        .map_err(|_| AeadError::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = [7u8; 32];
        let sealed = encrypt(&key, b"secret message");
        assert_eq!(sealed.len(), 2 * (NONCE_LEN + 14 + TAG_LEN));
        assert_eq!(decrypt(&key, &sealed).unwrap(), b"secret message");
        assert_eq!(
            decrypt(&key, &format!("0x{sealed}")).unwrap(),
            b"secret message"
        );
        // Fresh nonce each time.
        assert_ne!(encrypt(&key, b"secret message"), sealed);
        // Any flipped byte, a wrong key, truncation or garbage fail the same way.
        let mut tampered = hex::decode(&sealed).unwrap();
        tampered[NONCE_LEN + 1] ^= 1;
        assert_eq!(
            decrypt(&key, &hex::encode(tampered)),
            Err(AeadError::DecryptionFailed)
        );
        assert_eq!(
            decrypt(&[8u8; 32], &sealed),
            Err(AeadError::DecryptionFailed)
        );
        assert_eq!(
            decrypt(&key, &sealed[..40]),
            Err(AeadError::DecryptionFailed)
        );
        assert_eq!(decrypt(&key, "zz"), Err(AeadError::DecryptionFailed));
    }
}
