//! What a request names must exist in the caller's account (404 otherwise): a foreign group or
//! wallet behaves exactly like one that does not exist (spec/api.md, "Keys and scopes").

use alloy::primitives::Address;

use super::auth::Caller;
use super::error::ApiError;
use super::ids::PkpId;
use crate::app::SharedContext;

/// The group must exist in the caller's account (404 otherwise).
pub fn require_group(ctx: &SharedContext, caller: &Caller, group: u64) -> Result<(), ApiError> {
    match ctx.store.group(&caller.account, group)? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "group {group} does not exist in this account"
        ))),
    }
}

/// Every wallet must belong to the caller's account (the zero address = any wallet).
pub fn require_wallets(
    ctx: &SharedContext,
    caller: &Caller,
    wallets: &[PkpId],
) -> Result<Vec<Address>, ApiError> {
    wallets
        .iter()
        .map(|PkpId(wallet)| {
            if wallet.is_zero() || ctx.store.wallet_of(&caller.account, wallet)?.is_some() {
                Ok(*wallet)
            } else {
                Err(ApiError::not_found(format!(
                    "wallet {wallet:#x} does not exist in this account"
                )))
            }
        })
        .collect()
}
