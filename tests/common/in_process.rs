//! Request handlers in process: the node's real router, store, access policy and action pool,
//! driven with `tower::ServiceExt::oneshot` — no chain, no binary, no socket. The registry
//! writer is a stand-in that sends nothing (every write answers 503, as a node whose chain is
//! down); the mirror is seeded with the store's own typed mutations. For tests of input
//! validation, auth, scopes and reads; everything that writes to a chain stays on real anvil.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256};
use axum::body::Body;
use axum::http::{Method, Request};
use lit_node::actions::{ActionPool, PoolLimits, Services};
use lit_node::app::{AppContext, ChainInfo};
use lit_node::chain::registry_writes::RegistryWrites;
use lit_node::chain::writer::{WriteError, Written};
use lit_node::keys::api_key::key_hash;
use lit_node::keys::{KeyDeriver, RootSecret};
use lit_node::store::permissions::Permissions;
use lit_node::store::write::StateWriter;
use lit_node::store::{Cursor, Store};
use serde_json::Value;
use tower::ServiceExt;

/// Sends nothing: the node's answer when its chain is unreachable.
struct NoChain;

impl RegistryWrites for NoChain {
    fn write_input(
        &self,
        _input: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<Written, WriteError>> + Send + '_>> {
        Box::pin(async { Err(WriteError::Unavailable("no chain in this test".into())) })
    }
}

pub struct InProcess {
    pub ctx: Arc<AppContext>,
    router: axum::Router,
    _dir: tempfile::TempDir,
    block: std::cell::Cell<u64>,
}

impl InProcess {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let permissions = Permissions::new(store.clone());
        let keys = KeyDeriver::new(&RootSecret::from_bytes([7u8; 32]));
        let services = Services {
            keys: keys.clone(),
            permissions: permissions.clone(),
            store: store.clone(),
            fetcher: None,
            ethers: None,
            modules: None,
        };
        let actions = ActionPool::new(
            Arc::new(services),
            PoolLimits {
                workers: 1,
                queue: 8,
                max_workers_per_account: 0,
                max_queued_per_account: 0,
                max_parked: 64,
                max_parked_per_account: 0,
                warm_ethers: false,
            },
        )
        .unwrap();
        let registry = Address::repeat_byte(0x11);
        let ctx = Arc::new(AppContext {
            chain: ChainInfo {
                chain_name: "in-process".into(),
                chain_id: 31337,
                testnet: true,
                token: "ETH".into(),
                contract_address: registry,
                contracts: BTreeMap::from([("LitRegistry".to_string(), registry)]),
                public_rpc_url: None,
            },
            payers: vec![Address::repeat_byte(0x22)],
            admin_payer: Address::repeat_byte(0x33),
            store: store.clone(),
            permissions,
            mirror: lit_node::indexer::MirrorHandle::standalone(0),
            writer: Arc::new(NoChain),
            actions,
            billing: lit_node::billing::Billing::disabled(store),
            node_signer: lit_node::chain::wallet_registration::NodeSigner::derive(&keys),
            keys,
            metrics: None,
            max_body_bytes: lit_node::config::DEFAULT_MAX_BODY_BYTES,
            rate_limits: Default::default(),
            request_timeout: Duration::from_secs(30),
            code_quota_bytes: 1 << 20,
            contract_wallets: lit_node::chain::erc1271::ContractWallets::new("http://127.0.0.1:9")
                .unwrap(),
        });
        let router = lit_node::api::router(ctx.clone(), false);
        Self {
            ctx,
            router,
            _dir: dir,
            block: std::cell::Cell::new(0),
        }
    }

    /// Applies `change` to the mirror as one block would (then drops what it made stale).
    fn mirror(&self, change: impl FnOnce(&mut StateWriter<'_>)) {
        let block = self.block.get() + 1;
        self.block.set(block);
        let mut writer = StateWriter::new(&self.ctx.store);
        writer.begin_block(block, B256::ZERO, false);
        change(&mut writer);
        writer
            .commit(Cursor {
                number: block,
                hash: B256::ZERO,
            })
            .unwrap();
        self.ctx.permissions.invalidate_all();
    }

    /// An account whose account key is `key` (as `new_account` would have made it).
    pub fn account(&self, key: &str, name: &str) -> B256 {
        let account = key_hash(key);
        self.mirror(|writer| {
            writer
                .create_account(&account, name.into(), String::new(), Address::ZERO, false)
                .unwrap()
        });
        account
    }

    /// `method uri` with a raw `body` (if any): (status, body text).
    pub async fn raw(&self, method: &str, uri: &str, body: Option<&str>) -> (u16, String) {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri)
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `method path` with `key` (if any) and a JSON `body` (unless null): (status, body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(format!("/core/v1/{path}"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            request = request.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&body).unwrap())
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}
