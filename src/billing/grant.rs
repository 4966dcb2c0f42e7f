//! `lit-node grant-credit`: an operator credits an account on a development chain (anvil or
//! Hardhat) without a payment, e.g. to try billing locally. The credit is sent by one of the
//! node's payers under a fresh random payment id. Refused on any other chain: there, credit
//! comes only from confirmed payments.

use crate::keys::api_key::key_hash;
use alloy::primitives::{TxHash, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use crate::chain::bindings::LitRegistry;

/// The account id from `--account`: the account key itself, or its `0x` keccak256 hash.
pub fn parse_account(text: &str) -> B256 {
    let text = text.trim();
    if text.len() == 66 && text.starts_with("0x") {
        if let Ok(hash) = text.parse::<B256>() {
            return hash;
        }
    }
    key_hash(text)
}

/// Credits `cents` to `account` on the dev chain at `rpc_url`; returns the transaction hash.
pub async fn grant_dev_credit(
    rpc_url: &str,
    registry: alloy::primitives::Address,
    payer: PrivateKeySigner,
    account: B256,
    cents: u64,
) -> Result<TxHash, String> {
    if cents == 0 {
        return Err("--cents must be at least 1".into());
    }
    let url = rpc_url
        .parse()
        .map_err(|e| format!("invalid RPC URL {rpc_url}: {e}"))?;
    let provider = ProviderBuilder::new().wallet(payer).connect_http(url);
    let client = provider
        .get_client_version()
        .await
        .map_err(|e| format!("cannot reach the chain at {rpc_url}: {e}"))?;
    let lowered = client.to_ascii_lowercase();
    if !(lowered.contains("anvil") || lowered.contains("hardhat")) {
        return Err(format!(
            "the chain at {rpc_url} ({client}) is not a development chain (anvil or Hardhat); \
             credit there comes only from confirmed payments"
        ));
    }
    let registry = LitRegistry::new(registry, &provider);
    let payment_id = B256::from(rand::random::<[u8; 32]>());
    let call = registry.creditAccount(account, U256::from(cents), payment_id);
    if let Err(error) = call.call().await {
        let reason = match error.as_decoded_interface_error::<LitRegistry::LitRegistryErrors>() {
            Some(LitRegistry::LitRegistryErrors::AccountNotFound(_)) => {
                format!("no account {account:#x} exists on this chain")
            }
            Some(LitRegistry::LitRegistryErrors::NotPayer(_)) => {
                "this root secret's payers are not registered on this chain".to_string()
            }
            Some(other) => format!("the registry refused the credit: {other:?}"),
            None => format!("the registry refused the credit: {error}"),
        };
        return Err(reason);
    }
    // The estimate is made against the balance as it is now; a settlement mined first can take
    // the balance to zero, and raising a zero slot costs ~17k gas more (a revert that was seen
    // in CI under load). The margin covers that.
    let gas = call
        .estimate_gas()
        .await
        .map_err(|e| format!("cannot estimate the credit's gas: {e}"))?;
    let receipt = call
        .gas(gas + GAS_MARGIN)
        .send()
        .await
        .map_err(|e| format!("sending the credit failed: {e}"))?
        .get_receipt()
        .await
        .map_err(|e| format!("the credit was sent but not confirmed: {e}"))?;
    if !receipt.status() {
        return Err(format!(
            "the credit transaction {} reverted",
            receipt.transaction_hash
        ));
    }
    Ok(receipt.transaction_hash)
}

/// Extra gas for the credit transaction beyond the estimate (see [`grant_dev_credit`]).
const GAS_MARGIN: u64 = 30_000;

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    #[test]
    fn accounts_are_given_as_key_or_hash() {
        let key = "lit_example_account_key";
        let hash = keccak256(key.as_bytes());
        assert_eq!(parse_account(key), hash);
        assert_eq!(parse_account(&format!("{hash:#x}")), hash);
    }
}
