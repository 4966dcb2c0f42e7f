//! Response bodies several endpoints share: `{success: true}` and a wallet as lists show it.

use axum::Json;
use serde::Serialize;

/// `{success: true}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Success {
    pub success: bool,
}

pub const SUCCESS: Json<Success> = Json(Success { success: true });

/// One wallet of `list_wallets`: `id` is its 1-based ordinal in the account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WalletItem {
    pub id: String,
    pub name: String,
    pub description: String,
    pub wallet_address: String,
}

impl WalletItem {
    pub fn new(
        address: alloy::primitives::Address,
        record: crate::store::records::WalletRecord,
    ) -> Self {
        Self {
            id: record.ordinal.to_string(),
            name: record.name,
            description: record.description,
            wallet_address: format!("{address:#x}"),
        }
    }
}
