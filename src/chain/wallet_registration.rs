//! The node's signature over a wallet registration of a self-managed account.
//!
//! A self-managed account's admin wallet registers a wallet (PKP) on chain itself, with
//! `LitRegistry.registerWalletWithNodeSignature`. The contract accepts it only with a signature,
//! by a key in NodeConfig's signer set, over the EIP-712 struct
//! `WalletRegistration(bytes32 account,address wallet,bytes32 derivationId,uint256 deadline)` in
//! the domain `{name: "LitRegistry", version: "1", chainId, verifyingContract: registry}`. The
//! node signs only derivations it minted itself, for the account whose admin asked, so no admin
//! can register a derivation the node did not mint for that account.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::{eip712_domain, SolStruct};
use k256::SecretKey;

use crate::keys::derive::address_of;
use crate::keys::ecdsa::sign_digest_ethereum;
use crate::keys::KeyDeriver;

alloy::sol! {
    /// What a node signer binds: the account, the wallet, its derivation id and a deadline.
    #[derive(Debug)]
    struct WalletRegistration {
        bytes32 account;
        address wallet;
        bytes32 derivationId;
        uint256 deadline;
    }
}

/// The EIP-712 digest the contract recomputes (`walletRegistrationDigest`).
pub fn digest(chain_id: u64, registry: Address, registration: &WalletRegistration) -> B256 {
    let domain = eip712_domain! {
        name: "LitRegistry",
        version: "1",
        chain_id: chain_id,
        verifying_contract: registry,
    };
    registration.eip712_signing_hash(&domain)
}

/// The node's registration signer: a key derived from the root secret (nodes sharing a root
/// secret share it), listed in NodeConfig's signer set by the operator (dev mode does it).
pub struct NodeSigner {
    key: SecretKey,
    address: Address,
}

impl std::fmt::Debug for NodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeSigner({:#x})", self.address)
    }
}

impl NodeSigner {
    pub fn derive(keys: &KeyDeriver) -> Self {
        let key = keys.node_signer_key();
        let address = address_of(&key);
        Self { key, address }
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// The 65-byte `r ‖ s ‖ v` (v = 27/28) signature `registerWalletWithNodeSignature` takes.
    pub fn sign(
        &self,
        chain_id: u64,
        registry: Address,
        account: B256,
        wallet: Address,
        derivation_id: B256,
        deadline: u64,
    ) -> [u8; 65] {
        let registration = WalletRegistration {
            account,
            wallet,
            derivationId: derivation_id,
            deadline: U256::from(deadline),
        };
        let digest = digest(chain_id, registry, &registration);
        sign_digest_ethereum(&self.key, digest.as_slice()).expect("an EIP-712 digest is 32 bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RootSecret;

    #[test]
    fn the_signature_recovers_to_the_signer_and_binds_every_field() {
        let signer = NodeSigner::derive(&KeyDeriver::new(&RootSecret::from_bytes([7; 32])));
        let registry = Address::repeat_byte(0x42);
        let (account, wallet, id) = (
            B256::repeat_byte(1),
            Address::repeat_byte(2),
            B256::repeat_byte(3),
        );
        let signature = signer.sign(31337, registry, account, wallet, id, 1_000);
        let registration = WalletRegistration {
            account,
            wallet,
            derivationId: id,
            deadline: U256::from(1_000),
        };
        let signed = digest(31337, registry, &registration);
        let parsed = alloy::primitives::Signature::try_from(&signature[..]).unwrap();
        assert_eq!(
            parsed.recover_address_from_prehash(&signed).unwrap(),
            signer.address()
        );
        // Every field and the domain change the digest.
        let other = [
            digest(31338, registry, &registration),
            digest(31337, Address::repeat_byte(0x43), &registration),
            digest(
                31337,
                registry,
                &WalletRegistration {
                    account: B256::repeat_byte(9),
                    ..registration.clone()
                },
            ),
            digest(
                31337,
                registry,
                &WalletRegistration {
                    wallet: Address::repeat_byte(9),
                    ..registration.clone()
                },
            ),
            digest(
                31337,
                registry,
                &WalletRegistration {
                    derivationId: B256::repeat_byte(9),
                    ..registration.clone()
                },
            ),
            digest(
                31337,
                registry,
                &WalletRegistration {
                    deadline: U256::from(1_001),
                    ..registration.clone()
                },
            ),
        ];
        assert!(other.iter().all(|d| *d != signed));
    }
}
