//! Management writes of self-managed accounts belong to their admin wallet, on chain. [`Manager`]
//! is the caller of a node management write: a [`Caller`] whose account the node still manages.
//! For a self-managed account it answers 403 `self_managed`, naming the registry function the
//! admin wallet calls instead (by endpoint), before any other check or side effect.

use alloy::primitives::{Address, B256};
use alloy::sol_types::SolCall;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

use super::auth::Caller;
use super::error::ApiError;
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry as R;

/// A caller allowed to change its account through the node.
#[derive(Debug, Clone)]
pub struct Manager(pub Caller);

/// The registry function that does what `endpoint` does, for a self-managed account's admin.
pub fn registry_function(endpoint: &str) -> Option<&'static str> {
    Some(match endpoint {
        "add_group" => R::addGroupCall::SIGNATURE,
        "remove_group" => R::removeGroupCall::SIGNATURE,
        "update_group" => R::updateGroupCall::SIGNATURE,
        "add_pkp_to_group" => R::addWalletToGroupCall::SIGNATURE,
        "remove_pkp_from_group" => R::removeWalletFromGroupCall::SIGNATURE,
        "add_usage_api_key" => R::addUsageKeyCall::SIGNATURE,
        "update_usage_api_key" => R::updateUsageKeyCall::SIGNATURE,
        "remove_usage_api_key" => R::removeUsageKeyCall::SIGNATURE,
        "update_usage_api_key_metadata" => R::updateUsageKeyMetadataCall::SIGNATURE,
        "add_action" => R::addActionCall::SIGNATURE,
        "delete_action" => R::deleteActionCall::SIGNATURE,
        "update_action_metadata" => R::updateActionMetadataCall::SIGNATURE,
        "add_action_to_group" => R::addActionToGroupCall::SIGNATURE,
        "remove_action_from_group" => R::removeActionFromGroupCall::SIGNATURE,
        "create_wallet" => R::registerWalletWithNodeSignatureCall::SIGNATURE,
        _ => return None,
    })
}

/// The 403 for `endpoint` on self-managed `account`, administered by `admin`.
pub fn self_managed_error(
    endpoint: &str,
    account: &B256,
    admin: &Address,
    registry: &Address,
) -> ApiError {
    let head = format!(
        "account {account:#x} is self-managed: only its admin wallet {admin:#x} changes it, directly on \
         chain (the registry's ABI is at GET /core/v1/registry_abi)"
    );
    let message = match (endpoint, registry_function(endpoint)) {
        ("convert_to_chain_secured_account", _) => {
            format!("{head}; it was converted already, and conversion is one way")
        }
        ("create_wallet", Some(function)) => format!(
            "{head}. Get a wallet minted for it with POST /core/v1/create_wallet_with_signature, then \
             call LitRegistry.{function} at {registry:#x} from the admin wallet with the node's signature"
        ),
        (_, Some(function)) => format!(
            "{head}. Call LitRegistry.{function} at {registry:#x} from the admin wallet, with \
             callerKeyHash = {account:#x} (the account id)"
        ),
        (_, None) => head,
    };
    ApiError::new(StatusCode::FORBIDDEN, "self_managed", message)
}

impl FromRequestParts<SharedContext> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &SharedContext) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, ctx).await?;
        if let Some(account) = ctx.store.account(&caller.account)? {
            if account.self_managed {
                let endpoint = parts.uri.path().rsplit('/').next().unwrap_or_default();
                return Err(self_managed_error(
                    endpoint,
                    &caller.account,
                    &account.admin,
                    &ctx.chain.contract_address,
                ));
            }
        }
        Ok(Manager(caller))
    }
}
