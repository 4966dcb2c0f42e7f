//! HKDF-SHA256 derivation of every key the node uses from the root secret.
//!
//! `PRK = HKDF-Extract(salt = "lit-node/hkdf-salt/v1", IKM = root secret)`, then for each key
//! `OKM = HKDF-Expand(PRK, info, 32)` with
//! `info = label ‖ 0x00 ‖ context ‖ counter` where `counter` is one byte, starting at 0:
//!
//! | purpose                 | label                               | context                     |
//! |-------------------------|-------------------------------------|-----------------------------|
//! | wallet (PKP) signing    | `lit-node/v1/wallet-signing-key`    | 32-byte derivation id       |
//! | wallet encryption       | `lit-node/v1/wallet-encryption-key` | 32-byte derivation id       |
//! | action signing          | `lit-node/v1/action-signing-key`    | utf8 bytes of the CID string|
//! | payer `i`               | `lit-node/v1/payer-key`             | `i` as 4 bytes big-endian   |
//! | admin payer             | `lit-node/v1/admin-payer-key`       | empty                       |
//! | node signer             | `lit-node/v1/node-signer-key`       | empty                       |
//! | stored idempotent reply | `lit-node/v1/idempotent-reply-key`  | scope(32) ‖ Idempotency-Key |
//!
//! secp256k1 keys take the first counter whose output is a valid scalar (0 < k < n; a retry has
//! probability ~2^-128). Encryption keys always use counter 0. Test vectors below were computed
//! with an independent HKDF implementation (Python `hmac`).

use alloy::primitives::Address;
use hkdf::Hkdf;
use k256::SecretKey;
use sha2::Sha256;
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::RootSecret;

const SALT: &[u8] = b"lit-node/hkdf-salt/v1";

/// What a derived key is for; determines its HKDF label and context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose<'a> {
    WalletSigning {
        derivation_id: &'a [u8; 32],
    },
    WalletEncryption {
        derivation_id: &'a [u8; 32],
    },
    ActionSigning {
        cid: &'a str,
    },
    Payer {
        index: u32,
    },
    AdminPayer,
    /// Signs wallet registrations of self-managed accounts (registered in NodeConfig's signer set).
    NodeSigner,
    /// Encrypts a reply kept for `Idempotency-Key` retries: `scope` (the account) ‖ the client's
    /// key, which the store never holds, so a stored reply reads only for that key's retry.
    IdempotentReply {
        scope: &'a [u8; 32],
        key: &'a [u8],
    },
}

impl KeyPurpose<'_> {
    fn label(&self) -> &'static [u8] {
        match self {
            KeyPurpose::WalletSigning { .. } => b"lit-node/v1/wallet-signing-key",
            KeyPurpose::WalletEncryption { .. } => b"lit-node/v1/wallet-encryption-key",
            KeyPurpose::ActionSigning { .. } => b"lit-node/v1/action-signing-key",
            KeyPurpose::Payer { .. } => b"lit-node/v1/payer-key",
            KeyPurpose::AdminPayer => b"lit-node/v1/admin-payer-key",
            KeyPurpose::NodeSigner => b"lit-node/v1/node-signer-key",
            KeyPurpose::IdempotentReply { .. } => b"lit-node/v1/idempotent-reply-key",
        }
    }

    fn info(&self, counter: u8) -> Vec<u8> {
        let mut info = Vec::with_capacity(96);
        info.extend_from_slice(self.label());
        info.push(0);
        match self {
            KeyPurpose::WalletSigning { derivation_id }
            | KeyPurpose::WalletEncryption { derivation_id } => {
                info.extend_from_slice(*derivation_id)
            }
            KeyPurpose::ActionSigning { cid } => info.extend_from_slice(cid.as_bytes()),
            KeyPurpose::Payer { index } => info.extend_from_slice(&index.to_be_bytes()),
            KeyPurpose::AdminPayer | KeyPurpose::NodeSigner => {}
            KeyPurpose::IdempotentReply { scope, key } => {
                info.extend_from_slice(*scope);
                info.extend_from_slice(key);
            }
        }
        info.push(counter);
        info
    }
}

/// Derives keys from one root secret. Cheap to clone; holds only the HKDF pseudo-random key, which
/// is wiped when the last clone is dropped.
#[derive(Clone)]
pub struct KeyDeriver {
    prk: Arc<Prk>,
}

/// The HKDF pseudo-random key: as secret as the root secret (every key derives from it). Kept as
/// bytes, not as an `Hkdf` (whose HMAC state the hashing crates never wipe), and wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Prk([u8; 32]);

// Every clone shares one `Prk`, which is wiped when the last clone goes.
impl ZeroizeOnDrop for KeyDeriver {}

impl std::fmt::Debug for KeyDeriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDeriver(<redacted>)")
    }
}

impl KeyDeriver {
    pub fn new(root: &RootSecret) -> Self {
        let (mut extracted, _) = Hkdf::<Sha256>::extract(Some(SALT), root.expose());
        let mut prk = Prk([0u8; 32]);
        prk.0.copy_from_slice(&extracted);
        AsMut::<[u8]>::as_mut(&mut extracted).zeroize();
        Self { prk: Arc::new(prk) }
    }

    fn expand(&self, purpose: KeyPurpose<'_>, counter: u8) -> Zeroizing<[u8; 32]> {
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::from_prk(&self.prk.0)
            .expect("a 32-byte PRK is long enough for HKDF-SHA256")
            .expand(&purpose.info(counter), okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        okm
    }

    /// A secp256k1 secret key for a signing purpose (wallet, action, payer, admin payer).
    pub fn signing_key(&self, purpose: KeyPurpose<'_>) -> SecretKey {
        (0..=u8::MAX)
            .find_map(|counter| SecretKey::from_slice(self.expand(purpose, counter).as_ref()).ok())
            .expect("256 consecutive invalid scalars cannot happen")
    }

    /// 32 bytes of symmetric key material (AES-256-GCM) for a wallet's encryption key.
    pub fn symmetric_key(&self, purpose: KeyPurpose<'_>) -> Zeroizing<[u8; 32]> {
        self.expand(purpose, 0)
    }

    pub fn wallet_signing_key(&self, derivation_id: &[u8; 32]) -> SecretKey {
        self.signing_key(KeyPurpose::WalletSigning { derivation_id })
    }

    pub fn wallet_encryption_key(&self, derivation_id: &[u8; 32]) -> Zeroizing<[u8; 32]> {
        self.symmetric_key(KeyPurpose::WalletEncryption { derivation_id })
    }

    pub fn action_signing_key(&self, cid: &str) -> SecretKey {
        self.signing_key(KeyPurpose::ActionSigning { cid })
    }

    pub fn payer_key(&self, index: u32) -> SecretKey {
        self.signing_key(KeyPurpose::Payer { index })
    }

    pub fn admin_payer_key(&self) -> SecretKey {
        self.signing_key(KeyPurpose::AdminPayer)
    }

    /// The key whose signature lets an admin wallet register a wallet the node minted for its
    /// self-managed account (see `chain::wallet_registration`).
    pub fn node_signer_key(&self) -> SecretKey {
        self.signing_key(KeyPurpose::NodeSigner)
    }

    /// The AES-256-GCM key of a reply kept for retries under `key` in `scope`.
    pub fn idempotent_reply_key(&self, scope: &[u8; 32], key: &[u8]) -> Zeroizing<[u8; 32]> {
        self.symmetric_key(KeyPurpose::IdempotentReply { scope, key })
    }
}

impl KeyDeriver {
    /// A new wallet (PKP): a random, non-zero 32-byte derivation id and the address of the key it
    /// derives. Only the id is registered on chain; the key is derived again when used.
    pub fn mint_wallet(&self) -> (alloy::primitives::B256, Address) {
        use rand::RngCore;
        let mut id = [0u8; 32];
        while id == [0u8; 32] {
            rand::rngs::OsRng.fill_bytes(&mut id);
        }
        let address = address_of(&self.wallet_signing_key(&id));
        (id.into(), address)
    }
}

/// The Ethereum address of a secp256k1 key.
pub fn address_of(key: &SecretKey) -> Address {
    Address::from_public_key(&key.public_key().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deriver() -> KeyDeriver {
        let mut root = [0u8; 32];
        for (i, byte) in root.iter_mut().enumerate() {
            *byte = i as u8;
        }
        KeyDeriver::new(&RootSecret::from_bytes(root))
    }

    fn hex32(key: &SecretKey) -> String {
        hex::encode(key.to_bytes())
    }

    // Vectors: root secret 0x00..1f, computed independently with Python's hmac/hashlib.
    #[test]
    fn wallet_keys_match_vectors() {
        let d = deriver();
        let id = [0x11u8; 32];
        assert_eq!(hex32(&d.wallet_signing_key(&id)), VECTOR_WALLET_SIGNING);
        assert_eq!(
            hex::encode(d.wallet_encryption_key(&id).as_ref()),
            VECTOR_WALLET_ENCRYPTION
        );
    }

    #[test]
    fn action_payer_and_admin_keys_match_vectors() {
        let d = deriver();
        let cid = "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6";
        assert_eq!(hex32(&d.action_signing_key(cid)), VECTOR_ACTION);
        assert_eq!(hex32(&d.payer_key(0)), VECTOR_PAYER_0);
        assert_eq!(hex32(&d.payer_key(1)), VECTOR_PAYER_1);
        assert_eq!(hex32(&d.admin_payer_key()), VECTOR_ADMIN_PAYER);
        assert_eq!(
            format!("{:#x}", address_of(&d.payer_key(0))),
            VECTOR_PAYER_0_ADDRESS
        );
    }

    #[test]
    fn purposes_are_domain_separated() {
        let d = deriver();
        let id = [0x11u8; 32];
        let signing = d.wallet_signing_key(&id).to_bytes();
        assert_ne!(&signing[..], &d.wallet_encryption_key(&id)[..]);
        assert_ne!(d.payer_key(0), d.payer_key(1));
        assert_ne!(d.node_signer_key(), d.admin_payer_key());
        assert_ne!(d.wallet_signing_key(&[0x12; 32]), d.wallet_signing_key(&id));
    }

    #[test]
    fn different_root_secrets_give_different_keys() {
        let other = KeyDeriver::new(&RootSecret::from_bytes([0xee; 32]));
        assert_ne!(other.payer_key(0), deriver().payer_key(0));
    }

    include!("derive_vectors.rs");
}
