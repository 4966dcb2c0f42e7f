//! Unauthenticated node information endpoints: `version`, `get_node_chain_config`,
//! `get_chain_config_keys`, `get_api_payers`, `get_admin_api_payer`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::app::SharedContext;
use crate::chain::config_keys;

/// `GET version` → `{name, version, commit_version, submodule_versions: [[name, version]]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionResponse {
    pub name: &'static str,
    pub version: &'static str,
    pub commit_version: &'static str,
    /// `[name, version]` pairs.
    #[schema(schema_with = super::wire_schema::name_version_pairs)]
    pub submodule_versions: Vec<(String, String)>,
}

#[utoipa::path(
    get,
    path = "/core/v1/version",
    tag = "node",
    summary = "Node name, version and commit",
    responses((status = 200, description = "success", body = VersionResponse))
)]
pub async fn version() -> Json<VersionResponse> {
    Json(VersionResponse {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        commit_version: env!("BUILD_GIT_COMMIT"),
        submodule_versions: vec![
            ("contracts".into(), env!("BUILD_CONTRACTS_VERSION").into()),
            ("solc".into(), env!("BUILD_SOLC_VERSION").into()),
        ],
    })
}

/// `GET get_node_chain_config` → `{chain_name, chain_id, is_evm, testnet, token,
/// contract_address, contracts, rpc_url?}`; all from configuration and the deployment file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainConfigResponse {
    pub chain_name: String,
    pub chain_id: u64,
    pub is_evm: bool,
    pub testnet: bool,
    pub token: String,
    pub contract_address: String,
    pub contracts: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_url: Option<String>,
}

#[utoipa::path(
    get,
    path = "/core/v1/get_node_chain_config",
    tag = "node",
    summary = "Where the contracts live",
    responses((status = 200, description = "success", body = ChainConfigResponse))
)]
pub async fn get_node_chain_config(State(ctx): State<SharedContext>) -> Json<ChainConfigResponse> {
    let chain = &ctx.chain;
    Json(ChainConfigResponse {
        chain_name: chain.chain_name.clone(),
        chain_id: chain.chain_id,
        is_evm: true,
        testnet: chain.testnet,
        token: chain.token.clone(),
        contract_address: format!("{:#x}", chain.contract_address),
        contracts: chain
            .contracts
            .iter()
            .map(|(name, address)| (name.clone(), format!("{address:#x}")))
            .collect(),
        rpc_url: chain.public_rpc_url.clone(),
    })
}

/// `GET get_chain_config_keys` → `{keys: [..]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainConfigKeysResponse {
    pub keys: Vec<&'static str>,
}

#[utoipa::path(
    get,
    path = "/core/v1/get_chain_config_keys",
    tag = "node",
    summary = "Node-configuration keys read from chain",
    responses((status = 200, description = "success", body = ChainConfigKeysResponse))
)]
pub async fn get_chain_config_keys() -> Json<ChainConfigKeysResponse> {
    Json(ChainConfigKeysResponse {
        keys: config_keys::key_names().collect(),
    })
}

/// `GET get_api_payers` → `["0x…"]`: this node's transaction-sending accounts.
#[utoipa::path(
    get,
    path = "/core/v1/get_api_payers",
    tag = "node",
    summary = "Addresses of the transaction-sending accounts",
    responses((status = 200, description = "success", body = Vec<String>))
)]
pub async fn get_api_payers(State(ctx): State<SharedContext>) -> Json<Vec<String>> {
    Json(ctx.payers.iter().map(|p| format!("{p:#x}")).collect())
}

/// `GET get_admin_api_payer` → `"0x…"`: the account that manages the payer set.
#[utoipa::path(
    get,
    path = "/core/v1/get_admin_api_payer",
    tag = "node",
    summary = "The address that manages the payer set",
    responses((status = 200, description = "success: the address", body = String, content_type = "application/json"))
)]
pub async fn get_admin_api_payer(State(ctx): State<SharedContext>) -> Json<String> {
    Json(format!("{:#x}", ctx.admin_payer))
}
