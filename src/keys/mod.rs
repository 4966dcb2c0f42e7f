//! Key material: the root secret and everything derived from it with HKDF-SHA256.
//!
//! Nothing derived here is ever stored or logged. Every purpose has its own documented `info`
//! label (see [`derive`]), so keys for different purposes never share bytes even when their inputs
//! coincide. Nodes that share a root secret derive identical keys.

pub mod derive;

pub mod root_secret;

pub use derive::{KeyDeriver, KeyPurpose};
pub use root_secret::{RootSecret, RootSecretError};

pub mod aead;
pub mod api_key;
pub mod ecdsa;

#[cfg(test)]
mod tests {
    use zeroize::ZeroizeOnDrop;

    /// Compiles only for types that wipe their memory when dropped.
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn key_material_is_wiped_on_drop() {
        wiped_on_drop::<super::RootSecret>();
        wiped_on_drop::<super::KeyDeriver>();
        wiped_on_drop::<super::api_key::NewApiKey>();
        // Derived signing keys (wallets, actions, payers) and the payers' signers.
        wiped_on_drop::<k256::SecretKey>();
        wiped_on_drop::<k256::ecdsa::SigningKey>();
        // Derived encryption keys, and the AES key schedule built from one.
        wiped_on_drop::<zeroize::Zeroizing<[u8; 32]>>();
        wiped_on_drop::<aes_gcm::aes::Aes256>();
    }
}
