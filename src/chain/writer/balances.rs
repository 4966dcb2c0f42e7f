//! Payer balances ([`ChainWriter::monitor_balances`]): every interval each payer's balance is
//! exported (`lit_node_payer_balance_wei{payer}`) and checked. A payer below `low_balance` is
//! logged as a warning; below the top-up threshold, the admin payer sends it the configured amount
//! (`lit_node_payer_top_ups_total{payer}` and a log line per top-up); a payer that cannot pay for
//! one more write is taken out of rotation (`lit_node_payer_dry{payer}` = 1) until it is funded
//! again, so writes go to the other payers instead of failing.

use std::collections::HashMap;
use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;

use super::{ChainWriter, Payer, TakenPayer};

/// Gas one write may need at most: a payer that cannot pay this much at the current fee is dry.
const GAS_PER_WRITE: u128 = 2_000_000;
/// How long the monitor waits for a busy payer to come back before parking it (next round else).
const PARK_WAIT: Duration = Duration::from_millis(200);

/// The admin payer refills payers that fall below `below_wei` with `amount_wei`.
pub struct TopUp {
    admin: Address,
    provider: DynProvider,
    below_wei: u128,
    amount_wei: u128,
}

impl TopUp {
    pub fn new(
        rpc_url: &str,
        admin: PrivateKeySigner,
        below_wei: u128,
        amount_wei: u128,
    ) -> Result<Self, String> {
        let url = rpc_url
            .parse()
            .map_err(|e| format!("invalid RPC URL {}: {e}", crate::redact::endpoint(rpc_url)))?;
        Ok(Self {
            admin: admin.address(),
            // The nonce is read from the chain for every top-up: other nodes may share the key.
            provider: ProviderBuilder::new()
                .with_simple_nonce_management()
                .wallet(EthereumWallet::from(admin))
                .connect_http(url)
                .erased(),
            below_wei,
            amount_wei,
        })
    }

    /// Sends `amount_wei` to `payer` and waits for it to be mined.
    async fn send(&self, payer: Address) -> Result<alloy::primitives::TxHash, String> {
        let request = TransactionRequest::default()
            .with_from(self.admin)
            .with_to(payer)
            .with_value(U256::from(self.amount_wei));
        let pending = self
            .provider
            .send_transaction(request)
            .await
            .map_err(|e| crate::redact::urls_in(&e.to_string()).into_owned())?;
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(60)))
            .get_receipt()
            .await
            .map_err(|e| crate::redact::urls_in(&e.to_string()).into_owned())?;
        if receipt.status() {
            Ok(receipt.transaction_hash)
        } else {
            Err(format!("top-up {} reverted", receipt.transaction_hash))
        }
    }
}

impl ChainWriter {
    /// Refills payers from the admin payer (see [`TopUp`]).
    pub fn with_top_up(mut self, top_up: TopUp) -> Self {
        self.top_up = Some(top_up);
        self
    }

    /// Checks every payer's balance each `interval` until `shutdown` (see the module docs).
    pub async fn monitor_balances(
        &self,
        interval: Duration,
        low_balance_wei: u128,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        // Dry payers, held out of the pool until funded (returned to it when dropped).
        let mut parked: HashMap<usize, TakenPayer<'_>> = HashMap::new();
        loop {
            let round = async {
                for (index, payer) in self.pool.payers.iter().enumerate() {
                    self.check_payer(index, payer, low_balance_wei, &mut parked)
                        .await;
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = round => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {},
            }
        }
    }

    async fn balance(&self, payer: &Payer) -> Option<u128> {
        match payer.provider.get_balance(payer.address).await {
            Ok(balance) => Some(u128::try_from(balance).unwrap_or(u128::MAX)),
            Err(e) => {
                tracing::debug!(payer = %payer.address, error = %crate::redact::urls_in(&e.to_string()), "cannot read payer balance");
                None
            }
        }
    }

    async fn check_payer<'a>(
        &'a self,
        index: usize,
        payer: &Payer,
        low_balance_wei: u128,
        parked: &mut HashMap<usize, TakenPayer<'a>>,
    ) {
        let Some(mut wei) = self.balance(payer).await else {
            return;
        };
        let label = format!("{:#x}", payer.address);
        if let Some(top_up) = self.top_up.as_ref().filter(|t| wei < t.below_wei) {
            match top_up.send(payer.address).await {
                Ok(tx) => {
                    metrics::counter!("lit_node_payer_top_ups_total", "payer" => label.clone())
                        .increment(1);
                    tracing::info!(payer = %payer.address, balance_wei = wei, amount_wei = top_up.amount_wei, %tx, "topped up payer from the admin payer");
                    wei = self.balance(payer).await.unwrap_or(wei);
                }
                Err(error) => {
                    tracing::warn!(payer = %payer.address, admin = %top_up.admin, %error, "cannot top up payer from the admin payer (is the admin payer funded?)")
                }
            }
        }
        metrics::gauge!("lit_node_payer_balance_wei", "payer" => label.clone()).set(wei as f64);
        if wei < low_balance_wei {
            tracing::warn!(payer = %payer.address, balance_wei = wei, "payer balance is low: fund it before its writes fail");
        }
        let dry = match self.fees(payer).await {
            Ok((max_fee, _)) => wei < GAS_PER_WRITE.saturating_mul(max_fee),
            Err(_) => return,
        };
        metrics::gauge!("lit_node_payer_dry", "payer" => label).set(if dry { 1.0 } else { 0.0 });
        if dry && !parked.contains_key(&index) {
            if let Ok(taken) = tokio::time::timeout(PARK_WAIT, self.pool.take_index(index)).await {
                tracing::warn!(payer = %payer.address, balance_wei = wei, "payer cannot pay for a write: out of rotation until funded");
                parked.insert(index, taken);
            }
        } else if !dry && parked.remove(&index).is_some() {
            tracing::info!(payer = %payer.address, balance_wei = wei, "payer funded again: back in rotation");
        }
    }
}
