//! Signatures of contract wallets (Safe and the like): ERC-1271 `isValidSignature(hash, signature)`
//! asked of the wallet contract itself, on the chain the node serves.

use alloy::primitives::{Address, Bytes, FixedBytes, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};

use super::ChainError;

alloy::sol! {
    #[sol(rpc)]
    interface IERC1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4 magicValue);
    }
}

/// The value a wallet returns for a signature it accepts.
pub const MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Asks wallet contracts whether they accept a signature.
#[derive(Clone)]
pub struct ContractWallets {
    provider: DynProvider,
    rpc_url: String,
}

/// What the chain says of a signature by a wallet that is not an EOA signer of it.
#[derive(Debug, PartialEq, Eq)]
pub enum ContractVerdict {
    /// The address has no code: an EOA, whose signature did not match.
    NotAContract,
    Accepted,
    /// The contract answered something other than the magic value, or reverted.
    Refused,
}

impl ContractWallets {
    pub fn new(rpc_url: &str) -> Result<Self, ChainError> {
        let url = rpc_url.parse().map_err(|e| ChainError::Unreachable {
            url: crate::redact::endpoint(rpc_url),
            reason: format!("invalid RPC URL: {e}"),
        })?;
        Ok(Self {
            provider: ProviderBuilder::new().connect_http(url).erased(),
            rpc_url: rpc_url.to_string(),
        })
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> ChainError {
        ChainError::Unreachable {
            url: crate::redact::endpoint(&self.rpc_url),
            reason: crate::redact::urls_in(&reason.to_string()).into_owned(),
        }
    }

    /// Whether `wallet`, a contract, accepts `signature` over `hash` (ERC-1271).
    pub async fn check(
        &self,
        wallet: Address,
        hash: B256,
        signature: &[u8],
    ) -> Result<ContractVerdict, ChainError> {
        let code = self
            .provider
            .get_code_at(wallet)
            .await
            .map_err(|e| self.unreachable(e))?;
        if code.is_empty() {
            return Ok(ContractVerdict::NotAContract);
        }
        let contract = IERC1271::new(wallet, &self.provider);
        match contract
            .isValidSignature(hash, Bytes::copy_from_slice(signature))
            .call()
            .await
        {
            Ok(magic) if magic == FixedBytes(MAGIC_VALUE) => Ok(ContractVerdict::Accepted),
            Ok(_) => Ok(ContractVerdict::Refused),
            // A revert (or an undecodable answer) is a refusal; a transport failure is not.
            Err(alloy::contract::Error::TransportError(e)) if !is_revert(&e) => {
                Err(self.unreachable(e))
            }
            Err(_) => Ok(ContractVerdict::Refused),
        }
    }
}

fn is_revert(error: &alloy::transports::TransportError) -> bool {
    error.as_error_resp().is_some()
}
