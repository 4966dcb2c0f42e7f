//! A scripted chain for the indexer's unit tests: an in-memory model of blocks (real header
//! hashes and parent links) and their contract logs, served as a JSON-RPC transport (a tower
//! `Service`) that answers `eth_blockNumber`, `eth_getBlockByNumber` and `eth_getLogs` from the
//! model's current state. A test can change the chain (mine, reorg) between any two calls with a
//! hook that sees each call before it is answered, so races between the indexer's RPC calls can
//! be replayed exactly.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use alloy::primitives::{Address, Bytes, LogData, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{
    ErrorPayload, RequestPacket, Response, ResponsePacket, ResponsePayload, SerializedRequest,
};
use alloy::transports::{TransportError, TransportFut};
use serde_json::{json, Value};

/// One block of the model.
#[derive(Debug, Clone)]
pub struct ModelBlock {
    pub header: alloy::rpc::types::Header,
    /// Logs of the block, by emitting contract.
    pub logs: Vec<(Address, LogData)>,
}

/// The chain as the RPC currently serves it.
#[derive(Debug, Default)]
pub struct Chain {
    blocks: Vec<ModelBlock>,
    /// Distinguishes blocks mined at one height on different forks.
    mined: u64,
}

impl Chain {
    /// Block `number`'s hash, if the chain has it.
    pub fn hash(&self, number: u64) -> Option<B256> {
        self.blocks.get(number as usize).map(|b| b.header.hash)
    }

    pub fn head(&self) -> u64 {
        self.blocks.len().saturating_sub(1) as u64
    }

    /// Mines a block with `logs` on top of the head; returns its number.
    pub fn mine(&mut self, logs: Vec<(Address, LogData)>) -> u64 {
        self.mined += 1;
        let number = self.blocks.len() as u64;
        let inner = alloy::consensus::Header {
            parent_hash: self
                .blocks
                .last()
                .map(|b| b.header.hash)
                .unwrap_or_default(),
            number,
            timestamp: number,
            extra_data: Bytes::from(self.mined.to_be_bytes().to_vec()),
            ..Default::default()
        };
        self.blocks.push(ModelBlock {
            header: alloy::rpc::types::Header::new(inner),
            logs,
        });
        number
    }

    /// Drops every block above `number` (the next mined blocks form the new fork).
    pub fn reorg_to(&mut self, number: u64) {
        self.blocks.truncate(number as usize + 1);
    }

    fn block_json(&self, number: u64) -> Value {
        match self.blocks.get(number as usize) {
            Some(block) => serde_json::to_value(alloy::rpc::types::Block::<
                alloy::rpc::types::Transaction,
            >::empty(block.header.clone()))
            .expect("a block serialises"),
            None => Value::Null,
        }
    }

    fn logs_json(&self, from: u64, to: u64, addresses: &[Address]) -> Value {
        let mut logs = Vec::new();
        for block in self
            .blocks
            .iter()
            .skip(from as usize)
            .take((to.saturating_sub(from) + 1) as usize)
        {
            for (index, (address, data)) in block.logs.iter().enumerate() {
                if !addresses.is_empty() && !addresses.contains(address) {
                    continue;
                }
                logs.push(alloy::rpc::types::Log {
                    inner: alloy::primitives::Log {
                        address: *address,
                        data: data.clone(),
                    },
                    block_hash: Some(block.header.hash),
                    block_number: Some(block.header.number),
                    block_timestamp: None,
                    transaction_hash: Some(B256::with_last_byte(index as u8 + 1)),
                    transaction_index: Some(index as u64),
                    log_index: Some(index as u64),
                    removed: false,
                });
            }
        }
        serde_json::to_value(logs).expect("logs serialise")
    }
}

/// Sees a call (method, params) before it is answered, and may change the chain.
type Hook = Box<dyn FnMut(&str, &Value, &mut Chain) + Send>;

/// The transport: clones share one chain.
#[derive(Clone, Default)]
pub struct ScriptedChain {
    chain: Arc<Mutex<Chain>>,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl ScriptedChain {
    /// Changes the chain now.
    pub fn edit<T>(&self, change: impl FnOnce(&mut Chain) -> T) -> T {
        change(&mut self.chain.lock().expect("chain lock"))
    }

    /// Runs `hook` before every later call is answered.
    pub fn before_each_call(&self, hook: impl FnMut(&str, &Value, &mut Chain) + Send + 'static) {
        *self.hook.lock().expect("hook lock") = Some(Box::new(hook));
    }

    /// An alloy provider reading this chain.
    pub fn provider(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_client(RpcClient::new(self.clone(), true))
            .erased()
    }

    fn answer(&self, request: SerializedRequest) -> Response {
        let method = request.method().to_string();
        let params: Value = request
            .params()
            .map(|raw| serde_json::from_str(raw.get()).expect("params are JSON"))
            .unwrap_or(Value::Null);
        let mut chain = self.chain.lock().expect("chain lock");
        if let Some(hook) = self.hook.lock().expect("hook lock").as_mut() {
            hook(&method, &params, &mut chain);
        }
        let result = match method.as_str() {
            "eth_blockNumber" => Some(json!(format!("{:#x}", chain.head()))),
            "eth_getBlockByNumber" => {
                block_number(&params[0], chain.head()).map(|number| chain.block_json(number))
            }
            "eth_getLogs" => {
                let filter = &params[0];
                let addresses: Vec<Address> = match &filter["address"] {
                    Value::Array(list) => list
                        .iter()
                        .filter_map(|a| a.as_str()?.parse().ok())
                        .collect(),
                    Value::String(one) => one.parse().into_iter().collect(),
                    _ => Vec::new(),
                };
                match (
                    block_number(&filter["fromBlock"], chain.head()),
                    block_number(&filter["toBlock"], chain.head()),
                ) {
                    (Some(from), Some(to)) => Some(chain.logs_json(from, to, &addresses)),
                    _ => None,
                }
            }
            _ => None,
        };
        let payload = match result {
            Some(value) => ResponsePayload::Success(
                serde_json::value::to_raw_value(&value).expect("a value serialises"),
            ),
            None => ResponsePayload::Failure(ErrorPayload {
                code: -32601,
                message: format!("the scripted chain does not answer {method} {params}").into(),
                data: None,
            }),
        };
        Response {
            id: request.id().clone(),
            payload,
        }
    }
}

/// A block tag or hex number.
fn block_number(value: &Value, head: u64) -> Option<u64> {
    match value.as_str()? {
        "latest" | "safe" | "finalized" | "pending" => Some(head),
        "earliest" => Some(0),
        hex => u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok(),
    }
}

impl tower::Service<RequestPacket> for ScriptedChain {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let requests = match request {
            RequestPacket::Single(one) => vec![one],
            RequestPacket::Batch(many) => many,
        };
        let responses: ResponsePacket = requests.into_iter().map(|r| self.answer(r)).collect();
        Box::pin(async move { Ok(responses) })
    }
}
