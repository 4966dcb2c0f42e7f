//! The node's transaction senders: `payer_count` payer keys and one admin-payer key, all derived
//! from the root secret (so every node sharing the secret has the same payers).

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;

use crate::keys::KeyDeriver;

pub struct PayerKeys {
    pub admin: PrivateKeySigner,
    pub payers: Vec<PrivateKeySigner>,
}

impl PayerKeys {
    pub fn derive(keys: &KeyDeriver, count: u32) -> Self {
        let signer = |key: k256::SecretKey| PrivateKeySigner::from_signing_key(key.into());
        Self {
            admin: signer(keys.admin_payer_key()),
            payers: (0..count).map(|i| signer(keys.payer_key(i))).collect(),
        }
    }

    pub fn payer_addresses(&self) -> Vec<Address> {
        self.payers.iter().map(PrivateKeySigner::address).collect()
    }
}
