//! Self-custody (spec/chain.md, "Self-managed accounts"): `POST create_wallet_with_signature`
//! (no API key: a message signed by the admin wallet of a self-managed account gets a wallet
//! minted for that account, with the node's signature that lets the admin register it on chain),
//! `POST convert_to_chain_secured_account` (the account key hands the account to a wallet that
//! signed a message saying so; one way), and `GET registry_abi` (the registry's ABI, for wallets
//! and tools).

use alloy::primitives::{Address, B256};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::ApiJson;
use super::replies::{Success, SUCCESS};
use super::self_managed::{registry_function, Manager};
use super::wallet_message::{self, parse_address};
use crate::app::SharedContext;
use crate::chain::bindings::LitRegistry;

/// How long the node's registration signature stays valid (seconds).
pub const REGISTRATION_VALIDITY_SECS: u64 = 3600;
/// The most self-managed accounts one admin may have before the `Account:` line is required.
const ACCOUNT_LOOKUP_LIMIT: usize = 2;

/// `{message, signature}`: the message signed by its `Address` (EIP-191 `personal_sign`, or a
/// contract wallet's ERC-1271 signature), hex.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedMessageRequest {
    pub message: String,
    pub signature: String,
}

/// A wallet minted for a self-managed account, and what its admin sends to register it:
/// `LitRegistry.registerWalletWithNodeSignature(account, wallet_address, derivation_id, name,
/// description, deadline, node_signature)`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateWalletWithSignatureResponse {
    pub wallet_address: String,
    /// How the node derives the wallet's key: HKDF label and derivation id.
    pub derivation_path: String,
    /// The 32-byte derivation id to register (hex).
    pub derivation_id: String,
    /// The account the wallet is minted for (hex account id).
    pub account: String,
    /// Unix seconds after which the registry refuses `node_signature`.
    pub deadline: u64,
    /// The node signer (listed in NodeConfig's signer set) and its 65-byte signature (hex).
    pub node_signer: String,
    pub node_signature: String,
    pub registry_address: String,
    pub chain_id: u64,
    /// The registry function to call from the admin wallet.
    pub register_function: String,
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The self-managed account a create-wallet message is for: its `Account:` line, or the one
/// self-managed account its Address administers.
fn account_for(
    ctx: &SharedContext,
    message: &wallet_message::WalletMessage,
) -> Result<B256, ApiError> {
    let admin = message.address;
    let account = match message.account {
        Some(account) => account,
        None => match ctx.store.self_managed_accounts_of(&admin, ACCOUNT_LOOKUP_LIMIT)?[..] {
            [account] => account,
            [] => {
                return Err(ApiError::not_found(format!(
                        "wallet {admin:#x} administers no self-managed account this node knows (create one with \
                         LitRegistry.newSelfManagedAccount, then wait for the mirror)"
                    ),
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "account_required",
                    format!(
                        "wallet {admin:#x} administers several accounts; add a line `Account: 0x…` naming one to the message"
                    ),
                ))
            }
        },
    };
    let record = ctx.store.account(&account)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "account {account:#x} does not exist (or this node's mirror has not seen it yet)"
        ))
    })?;
    if !record.self_managed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_self_managed",
            format!(
                "account {account:#x} is managed by the node: create its wallets with GET /core/v1/create_wallet \
                 and an API key of the account"
            ),
        ));
    }
    if record.admin != admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_account_admin",
            format!("wallet {admin:#x} is not the admin of account {account:#x}"),
        ));
    }
    Ok(account)
}

/// Mints a wallet for the self-managed account whose admin signed the message.
#[utoipa::path(
    post,
    path = "/core/v1/create_wallet_with_signature",
    tag = "self-custody",
    summary = "Mint a wallet for a self-managed account (admin wallet signature, no API key)",
    request_body = SignedMessageRequest,
    responses(
        (status = 200, description = "success", body = CreateWalletWithSignatureResponse),
        (status = 401, description = "the signature is not the Address's, or the message was used already", body = super::error::ErrorResponse),
        (status = 403, description = "the account is node-managed, or the Address is not its admin", body = super::error::ErrorResponse),
        (status = 404, description = "no such self-managed account", body = super::error::ErrorResponse),
        (status = 503, description = "the chain cannot be asked about a contract wallet's signature", body = super::error::ErrorResponse),
    )
)]
pub async fn create_wallet_with_signature(
    State(ctx): State<SharedContext>,
    ApiJson(request): ApiJson<SignedMessageRequest>,
) -> Result<Json<CreateWalletWithSignatureResponse>, ApiError> {
    let message = wallet_message::authenticate(&ctx, &request.message, &request.signature).await?;
    let account = account_for(&ctx, &message)?;
    if !ctx.store.is_signer(&ctx.node_signer.address())? {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signer_not_registered",
            format!(
                "this node's signer {:#x} is not in NodeConfig's signer set, so the registry would refuse the \
                 wallet; ask the operator to add it (NodeConfig.addSigner)",
                ctx.node_signer.address()
            ),
        ));
    }
    wallet_message::consume(&ctx, &message)?;
    let (derivation_id, wallet) = ctx.keys.mint_wallet();
    let deadline = super::unix_now() + REGISTRATION_VALIDITY_SECS;
    let registry = ctx.chain.contract_address;
    let signature = ctx.node_signer.sign(
        ctx.chain.chain_id,
        registry,
        account,
        wallet,
        derivation_id,
        deadline,
    );
    Ok(Json(CreateWalletWithSignatureResponse {
        wallet_address: format!("{wallet:#x}"),
        derivation_path: format!("lit-node/v1/wallet-signing-key/{derivation_id:#x}"),
        derivation_id: format!("{derivation_id:#x}"),
        account: format!("{account:#x}"),
        deadline,
        node_signer: format!("{:#x}", ctx.node_signer.address()),
        node_signature: hex0x(&signature),
        registry_address: format!("{registry:#x}"),
        chain_id: ctx.chain.chain_id,
        register_function: registry_function("create_wallet")
            .unwrap_or_default()
            .to_string(),
    }))
}

/// `{new_admin_wallet_address, message, signature}`: the message is signed by the new admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    pub new_admin_wallet_address: String,
    pub message: String,
    pub signature: String,
}

/// Hands the account to the wallet that signed the message. One way.
#[utoipa::path(
    post,
    path = "/core/v1/convert_to_chain_secured_account",
    tag = "self-custody",
    summary = "Convert the account to a self-managed one (account key only; one way)",
    request_body = ConvertRequest,
    responses(
        (status = 200, description = "success", body = Success),
        (status = 401, description = "no/unknown API key, a signature that is not the new admin's, or a message used already", body = super::error::ErrorResponse),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn convert_to_chain_secured_account(
    State(ctx): State<SharedContext>,
    Manager(caller): Manager,
    ApiJson(request): ApiJson<ConvertRequest>,
) -> Result<Json<Success>, ApiError> {
    caller.require_account_key("convert the account")?;
    let new_admin = parse_address(
        "new_admin_wallet_address",
        request.new_admin_wallet_address.trim(),
    )?;
    if new_admin == Address::ZERO {
        return Err(ApiError::bad_request(
            "invalid_address",
            "new_admin_wallet_address must not be the zero address",
        ));
    }
    let message = wallet_message::authenticate(&ctx, &request.message, &request.signature).await?;
    if message.address != new_admin {
        return Err(ApiError::bad_request(
            "address_mismatch",
            format!(
                "the message's Address {:#x} is not new_admin_wallet_address {new_admin:#x}: the new admin signs the message",
                message.address
            ),
        ));
    }
    wallet_message::consume(&ctx, &message)?;
    super::charged_write::charged_write(
        &ctx,
        &caller,
        &LitRegistry::convertToSelfManagedCall {
            callerKeyHash: caller.key_hash,
            newAdmin: new_admin,
        },
    )
    .await?;
    Ok(SUCCESS)
}

/// The LitRegistry ABI (JSON), as compiled into this node.
static REGISTRY_ABI: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../abi/LitRegistry.json"))
            .expect("the committed artifact is JSON");
    artifact["abi"].clone()
});

/// The registry's ABI, so wallets and tools can call the contract at the address
/// `get_node_chain_config` gives.
#[utoipa::path(
    get,
    path = "/core/v1/registry_abi",
    tag = "self-custody",
    summary = "The LitRegistry contract's ABI (JSON)",
    responses((status = 200, description = "the ABI: a JSON array", body = Vec<Object>))
)]
pub async fn registry_abi() -> impl IntoResponse {
    Json(REGISTRY_ABI.clone())
}
