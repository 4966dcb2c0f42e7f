//! `LitRegistry.batch` seen by the node (real anvil, the real binary): a batch sent straight to the
//! registry by a payer is mirrored exactly like its calls sent one by one (the refused call changes
//! nothing), and its receipt tells each call's outcome through the `BatchCallFinished` markers.

mod common;

use alloy::network::EthereumWallet;
use alloy::primitives::{keccak256, U256};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEventInterface, SolInterface, SolValue};
use common::{api_ok, wait_until_mirrored, NodeProcess};
use lit_node::chain::bindings::LitRegistry::{self, LitRegistryErrors};
use lit_node::keys::{KeyDeriver, RootSecret};
use serde_json::Value;

#[tokio::test]
async fn a_batch_is_mirrored_like_its_calls_and_its_receipt_tells_each_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[("LIT_NODE_CHAIN__PUBLISH_RPC_URL", "true")]).await;
    let url = node.base_url.clone();
    let config = api_ok(&url, "GET", "get_node_chain_config", None, Value::Null).await;
    let rpc_url = config["rpc_url"].as_str().unwrap();
    let registry = config["contract_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (key, _) = common::new_account(&url, "b").await;
    let account = keccak256(key.as_bytes());

    // A payer of this node (keys from its root secret) sends three calls in one transaction.
    let deriver = KeyDeriver::new(&RootSecret::load(&dir.path().join("root-secret")).unwrap());
    let payer = PrivateKeySigner::from_signing_key(deriver.payer_key(5).into());
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(payer))
        .connect_http(rpc_url.parse().unwrap());
    let contract = LitRegistry::new(registry, &provider);
    let group = |caller, name: &str| {
        LitRegistry::addGroupCall {
            callerKeyHash: caller,
            name: name.into(),
            description: String::new(),
            wallets: vec![],
            cidHashes: vec![],
        }
        .abi_encode()
        .into()
    };
    let calls = vec![
        group(account, "first"),
        group(keccak256(b"no such key"), "refused"),
        group(account, "second"),
    ];
    let receipt = contract
        .batch(calls)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());

    // The markers, in order: outcome and return (or revert) data of each call.
    let markers: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| {
            match LitRegistry::LitRegistryEvents::decode_log(&log.inner)
                .ok()?
                .data
            {
                LitRegistry::LitRegistryEvents::BatchCallFinished(marker) => Some(marker),
                _ => None,
            }
        })
        .collect();
    assert_eq!(markers.len(), 3);
    assert_eq!(
        markers.iter().map(|m| m.index).collect::<Vec<_>>(),
        [U256::from(0), U256::from(1), U256::from(2)]
    );
    assert!(markers[0].success && markers[2].success && !markers[1].success);
    assert_eq!(
        <U256 as SolValue>::abi_decode(&markers[0].data).unwrap(),
        U256::from(1)
    );
    assert_eq!(
        <U256 as SolValue>::abi_decode(&markers[2].data).unwrap(),
        U256::from(2)
    );
    assert!(matches!(
        LitRegistryErrors::abi_decode(&markers[1].data).unwrap(),
        LitRegistryErrors::UnknownKey(_)
    ));

    // The mirror applied the two groups and nothing of the refused call.
    wait_until_mirrored(&url, receipt.block_number.unwrap()).await;
    let groups = api_ok(
        &url,
        "GET",
        "list_groups?page_number=0&page_size=10",
        Some(&key),
        Value::Null,
    )
    .await;
    let names: Vec<_> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["first", "second"], "{groups}");
    node.stop().await;
}
