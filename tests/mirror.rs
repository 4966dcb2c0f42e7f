//! The chain mirror against a real anvil and the real contracts: every contract function's
//! events land in the store, permission checks agree with the contract's own `canExecute` /
//! `canUseWallet`, an incrementally built mirror equals one rebuilt from scratch, and that stays
//! true across `anvil_reorg`, `evm_snapshot`/`evm_revert`, restarts, polling and subscriptions.

mod common;

use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use lit_node::chain::bindings::{ILitRegistry, LitRegistry, NodeConfig};
use lit_node::chain::deploy::deploy_contracts;
use lit_node::chain::Deployment;
use lit_node::indexer::{Contracts, Indexer, IndexerConfig, MirrorHealth};
use lit_node::store::permissions::Permissions;
use lit_node::store::query::Page;
use lit_node::store::Store;
use tokio_util::sync::CancellationToken;

struct Chain {
    anvil: AnvilInstance,
    deployment: Deployment,
    /// Plain RPC access (anvil cheat methods, reads).
    rpc: DynProvider,
    /// Sends as the NodeConfig owner.
    owner: DynProvider,
}

fn signer(anvil: &AnvilInstance, index: usize) -> PrivateKeySigner {
    anvil.keys()[index].clone().into()
}

fn provider_for(anvil: &AnvilInstance, signer: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.endpoint().parse().unwrap())
        .erased()
}

impl Chain {
    async fn start() -> Self {
        let anvil = common::start_anvil(31337);
        let payer = signer(&anvil, 1);
        let deployment = deploy_contracts(
            &anvil.endpoint(),
            signer(&anvil, 0),
            signer(&anvil, 2).address(),
            &[payer.address()],
            &[],
        )
        .await
        .unwrap();
        let rpc = ProviderBuilder::new()
            .connect_http(anvil.endpoint().parse().unwrap())
            .erased();
        let owner = provider_for(&anvil, signer(&anvil, 0));
        Self {
            anvil,
            deployment,
            rpc,
            owner,
        }
    }

    /// The registry as the payer, with a fresh provider: its nonce is read from the chain, so it
    /// stays right after a reorg or revert rewinds the payer's nonce.
    fn registry(&self) -> LitRegistry::LitRegistryInstance<DynProvider> {
        self.registry_as(signer(&self.anvil, 1))
    }

    fn registry_as(
        &self,
        signer: PrivateKeySigner,
    ) -> LitRegistry::LitRegistryInstance<DynProvider> {
        LitRegistry::new(
            self.deployment.contract_address,
            provider_for(&self.anvil, signer),
        )
    }

    fn node_config(&self) -> NodeConfig::NodeConfigInstance<DynProvider> {
        NodeConfig::new(self.deployment.node_config().unwrap(), self.owner.clone())
    }

    fn config(&self, ws: bool, poll: Duration) -> IndexerConfig {
        IndexerConfig {
            rpc_url: self.anvil.endpoint(),
            ws_url: ws.then(|| self.anvil.ws_endpoint()),
            contracts: Contracts {
                registry: self.deployment.contract_address,
                node_config: self.deployment.node_config().unwrap(),
            },
            deployment_block: self.deployment.deployment_block,
            reorg_depth: 64,
            poll_interval: poll,
            // Small ranges so tests cross range boundaries.
            range_blocks: 3,
            max_lag_blocks: 20,
            max_rpc_silence: Duration::from_secs(1),
        }
    }

    fn mirror(&self, dir: &std::path::Path) -> (Store, Permissions, Indexer) {
        let store = Store::open(dir).unwrap();
        let permissions = Permissions::new(store.clone());
        let indexer = Indexer::new(
            store.clone(),
            permissions.clone(),
            self.config(false, Duration::from_millis(100)),
        )
        .unwrap();
        (store, permissions, indexer)
    }

    /// A mirror built from scratch in a fresh store; returns its state dump.
    async fn rebuilt_state(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, indexer) = self.mirror(dir.path());
        indexer.sync_once().await.unwrap();
        store.dump_state().unwrap()
    }
}

/// Sends a call and waits for a successful receipt; returns its block number.
macro_rules! send {
    ($call:expr) => {{
        let receipt = $call
            .send()
            .await
            .expect("send")
            .with_timeout(Some(Duration::from_secs(30)))
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status(), "transaction reverted");
        receipt.block_number.unwrap()
    }};
}

fn h(text: &str) -> B256 {
    keccak256(text.as_bytes())
}

fn wallet(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn usage(
    name: &str,
    execute: &[u64],
    manage: &[u64],
    add: &[u64],
    remove: &[u64],
) -> ILitRegistry::UsageKey {
    let ids = |v: &[u64]| v.iter().map(|i| U256::from(*i)).collect::<Vec<_>>();
    ILitRegistry::UsageKey {
        name: name.into(),
        description: format!("{name} description"),
        expiration: 0,
        canCreateGroups: true,
        canDeleteGroups: false,
        canCreatePkps: true,
        manageIpfsIdsInGroups: ids(manage),
        addPkpToGroups: ids(add),
        removePkpFromGroups: ids(remove),
        executeInGroups: ids(execute),
    }
}

/// Calls every state-changing function of both contracts; `after_each` runs after every tx.
async fn exercise_every_function<F, Fut>(chain: &Chain, mut after_each: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let r = chain.registry();
    let (a, b) = (h("account A"), h("account B"));
    let (u1, u2, u3) = (h("usage 1"), h("usage 2"), h("usage 3"));
    let (cid1, cid2, cid3) = (h("QmCid1"), h("QmCid2"), h("QmCid3"));
    let g = U256::from;

    send!(r.newAccount(a, "Alice".into(), "first".into(), wallet(0xa0), h("d1")));
    after_each().await;
    send!(r.newAccount(b, "Bob".into(), "second".into(), wallet(0xb0), h("d2")));
    after_each().await;
    // Usage keys may list only groups that exist (or 0).
    send!(r.addGroup(
        a,
        "g1".into(),
        "group one".into(),
        vec![wallet(0xa0)],
        vec![cid1]
    ));
    send!(r.addUsageKey(a, u1, usage("u1", &[1], &[0], &[1], &[1])));
    send!(r.addUsageKey(a, u2, usage("u2", &[0], &[], &[], &[])));
    after_each().await;
    send!(r.updateUsageKeyMetadata(a, u2, "u2-renamed".into(), "renamed".into()));
    after_each().await;
    send!(r.registerWallet(
        u1,
        wallet(0xa1),
        h("d3"),
        "second".into(),
        "second wallet".into()
    ));
    after_each().await;
    send!(r.addGroup(
        u1,
        "g2".into(),
        "group two".into(),
        vec![],
        vec![B256::ZERO]
    ));
    send!(r.updateUsageKey(a, u1, usage("u1b", &[1, 2], &[0], &[1], &[1])));
    send!(r.updateGroup(
        a,
        g(2),
        "g2b".into(),
        "group two b".into(),
        vec![wallet(0xa1), Address::ZERO],
        vec![cid2]
    ));
    after_each().await;
    send!(r.addActionToGroup(u1, g(1), cid3));
    send!(r.removeActionFromGroup(u1, g(1), cid3));
    send!(r.addActionToGroup(u1, g(1), cid2));
    after_each().await;
    send!(r.addWalletToGroup(u1, g(1), wallet(0xa1)));
    send!(r.removeWalletFromGroup(u1, g(1), wallet(0xa0)));
    after_each().await;
    send!(r.addAction(a, "QmCid1".into(), "act1".into(), "one".into()));
    send!(r.addAction(a, "QmCid2".into(), "act2".into(), "two".into()));
    send!(r.updateActionMetadata(a, cid2, "act2b".into(), "two b".into()));
    after_each().await;
    send!(r.addActionToGroup(a, g(2), cid1));
    send!(r.deleteAction(a, cid1));
    after_each().await;
    send!(r.addGroup(a, "g3".into(), "doomed".into(), vec![], vec![]));
    send!(r.removeGroup(a, g(3)));
    send!(r.addUsageKey(a, u3, usage("u3", &[], &[], &[], &[])));
    send!(r.removeUsageKey(a, u3));
    after_each().await;
    send!(r.creditAccount(a, U256::from(500), h("payment 1")));
    send!(r.chargeUsage(h("settlement 1"), vec![a], vec![U256::from(120)]));
    after_each().await;

    let nc = chain.node_config();
    send!(nc.setConfig("timeout_ms".into(), "1000".into()));
    send!(nc.setConfig("max_fetch_count".into(), "7".into()));
    send!(nc.setConfig("max_fetch_count".into(), "".into()));
    send!(nc.addPayer(wallet(0x77)));
    send!(nc.removePayer(wallet(0x77)));
    send!(nc.setAdminPayer(wallet(0x55)));
    send!(nc.setConfigOperator(wallet(0x66), true));
    after_each().await;

    // Account B moves to its own admin wallet, which then writes to the contract directly.
    let admin = signer(&chain.anvil, 3);
    send!(r.convertToSelfManaged(b, admin.address()));
    send!(chain.registry_as(admin).addAction(
        b,
        "QmB".into(),
        "b-action".into(),
        "by admin".into()
    ));
    after_each().await;
}

#[tokio::test]
async fn every_function_is_mirrored_and_permissions_agree_with_the_contract() {
    let chain = Chain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, permissions, indexer) = chain.mirror(dir.path());
    exercise_every_function(&chain, || async {
        indexer.sync_once().await.unwrap();
    })
    .await;
    indexer.sync_once().await.unwrap();

    let (a, b) = (h("account A"), h("account B"));
    let account = store.account(&a).unwrap().unwrap();
    assert_eq!(
        (account.name.as_str(), account.description.as_str()),
        ("Alice", "first")
    );
    assert_eq!(account.wallet_count, 2);
    assert_eq!(account.balance_cents, 380);
    assert!(store.key(&a).unwrap().unwrap().is_account_key());

    let keys = store.usage_keys(&a, Page::ALL).unwrap();
    assert_eq!(
        keys.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec![h("usage 1"), h("usage 2")]
    );
    assert_eq!(keys[0].1.name, "u1b");
    assert_eq!(keys[0].1.execute_in_groups, vec![1, 2]);
    assert_eq!(keys[0].1.manage_ipfs_ids_in_groups, vec![0]);
    assert_eq!(keys[1].1.name, "u2-renamed");
    assert_eq!(keys[1].1.description, "renamed");
    assert!(
        store.key(&h("usage 3")).unwrap().is_none(),
        "removed key still in the mirror"
    );
    assert_eq!(
        store.usage_keys(&a, Page { number: 1, size: 1 }).unwrap()[0].0,
        h("usage 2")
    );
    assert!(store
        .usage_keys(&a, Page { number: 2, size: 1 })
        .unwrap()
        .is_empty());

    let wallets = store.wallets(&a, Page::ALL).unwrap();
    assert_eq!(
        wallets
            .iter()
            .map(|(w, r)| (*w, r.ordinal))
            .collect::<Vec<_>>(),
        vec![(wallet(0xa0), 1), (wallet(0xa1), 2)]
    );
    assert_eq!(wallets[1].1.derivation_id, h("d3"));
    assert_eq!(wallets[1].1.name, "second");
    assert!(
        store.wallet_of(&b, &wallet(0xa0)).unwrap().is_none(),
        "foreign wallet visible"
    );

    let groups = store.groups(&a, Page::ALL).unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|(id, g)| (*id, g.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "g1"), (2, "g2b")]
    );
    assert_eq!(
        store.group_actions(&a, 1, Page::ALL).unwrap(),
        vec![h("QmCid2")]
    );
    assert_eq!(
        store.group_wallets(&a, 1, Page::ALL).unwrap(),
        vec![wallet(0xa1)]
    );
    assert_eq!(
        store.group_actions(&a, 2, Page::ALL).unwrap(),
        vec![h("QmCid2")],
        "deleteAction left its hash in a group"
    );
    assert_eq!(
        store.group_wallets(&a, 2, Page::ALL).unwrap(),
        vec![Address::ZERO, wallet(0xa1)]
    );
    assert!(store.group(&a, 3).unwrap().is_none());

    let actions = store.actions(&a, Page::ALL).unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(
        (
            actions[0].0,
            actions[0].1.name.as_str(),
            actions[0].1.cid.as_str()
        ),
        (h("QmCid2"), "act2b", "QmCid2")
    );

    assert_eq!(
        store.config_value("timeout_ms").unwrap().as_deref(),
        Some("1000")
    );
    assert_eq!(store.config_value("max_fetch_count").unwrap(), None);
    assert_eq!(
        store.payers().unwrap(),
        vec![signer(&chain.anvil, 1).address()]
    );
    assert_eq!(store.operator("admin_payer").unwrap(), Some(wallet(0x55)));
    assert_eq!(
        store.operator("owner").unwrap(),
        Some(signer(&chain.anvil, 0).address())
    );
    assert!(store.payment_credited(&h("payment 1")).unwrap());
    assert!(store.settlement_applied(&h("settlement 1")).unwrap());

    let bob = store.account(&b).unwrap().unwrap();
    assert!(bob.self_managed);
    assert_eq!(bob.admin, signer(&chain.anvil, 3).address());
    assert_eq!(store.actions(&b, Page::ALL).unwrap()[0].1.name, "b-action");

    // Permission checks agree with the contract's own reference implementation.
    let registry = chain.registry();
    let key_set = [a, b, h("usage 1"), h("usage 2"), h("usage 3"), h("nobody")];
    let cids = [h("QmCid1"), h("QmCid2"), h("QmCid3"), h("QmB"), B256::ZERO];
    let wallets = [
        wallet(0xa0),
        wallet(0xa1),
        wallet(0xb0),
        wallet(0x99),
        Address::ZERO,
    ];
    let mut checked = 0;
    for key in &key_set {
        for cid in &cids {
            let expected = registry.canExecute(*key, *cid).call().await.unwrap();
            assert_eq!(
                permissions.can_execute(key, cid).unwrap(),
                expected,
                "can_execute({key}, {cid})"
            );
            for w in &wallets {
                let expected = registry.canUseWallet(*key, *cid, *w).call().await.unwrap();
                assert_eq!(
                    permissions.can_use_wallet(key, cid, w).unwrap(),
                    expected,
                    "can_use_wallet({key}, {cid}, {w})"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 150);
    // The matrix is not trivially all-false or all-true.
    assert!(permissions
        .can_use_wallet(&h("usage 1"), &h("QmCid2"), &wallet(0xa1))
        .unwrap());
    // Group 2 holds the zero address: any wallet of the account, with a permitted action.
    assert!(permissions
        .can_use_wallet(&h("usage 1"), &h("QmCid2"), &wallet(0xa0))
        .unwrap());
    assert!(!permissions
        .can_use_wallet(&h("usage 1"), &h("QmCid3"), &wallet(0xa1))
        .unwrap());
    assert!(!permissions
        .can_use_wallet(&a, &h("QmCid2"), &wallet(0xb0))
        .unwrap());

    // Built one transaction at a time or from scratch: the same state.
    assert_eq!(store.dump_state().unwrap(), chain.rebuilt_state().await);
}

#[tokio::test]
async fn anvil_reorg_rolls_back_to_the_fork_and_matches_a_rebuild() {
    let chain = Chain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, permissions, indexer) = chain.mirror(dir.path());
    let r = chain.registry();
    send!(r.newAccount(h("kept"), "kept".into(), "".into(), wallet(1), h("k1")));
    send!(r.newAccount(h("doomed 1"), "d1".into(), "".into(), wallet(2), h("k2")));
    send!(r.newAccount(h("doomed 2"), "d2".into(), "".into(), wallet(3), h("k3")));
    indexer.sync_once().await.unwrap();
    assert!(permissions.key_account(&h("doomed 2")).unwrap().is_some());

    // Replace the last two blocks with empty ones.
    chain
        .rpc
        .anvil_reorg(alloy::rpc::types::anvil::ReorgOptions {
            depth: 2,
            tx_block_pairs: vec![],
        })
        .await
        .unwrap();
    let report = indexer.sync_once().await.unwrap();
    assert!(report.rolled_back > 0, "reorg not detected: {report:?}");
    assert!(store.account(&h("kept")).unwrap().is_some());
    assert!(store.account(&h("doomed 1")).unwrap().is_none());
    assert!(store.wallet(&wallet(3)).unwrap().is_none());
    assert!(
        permissions.key_account(&h("doomed 2")).unwrap().is_none(),
        "permission cache kept a reorged key"
    );
    assert_eq!(store.dump_state().unwrap(), chain.rebuilt_state().await);

    // The mirror keeps following the new branch.
    let r = chain.registry();
    send!(r.newAccount(h("after"), "after".into(), "".into(), wallet(4), h("k4")));
    indexer.sync_once().await.unwrap();
    assert!(store.account(&h("after")).unwrap().is_some());
    assert_eq!(store.dump_state().unwrap(), chain.rebuilt_state().await);
}

#[tokio::test]
async fn snapshot_revert_rolls_back_and_matches_a_rebuild() {
    let chain = Chain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _, indexer) = chain.mirror(dir.path());
    let r = chain.registry();
    send!(r.newAccount(h("base"), "base".into(), "".into(), wallet(1), h("k1")));
    indexer.sync_once().await.unwrap();

    // anvil_snapshot / anvil_revert are evm_snapshot / evm_revert on the wire.
    let snapshot = chain.rpc.anvil_snapshot().await.unwrap();
    send!(r.newAccount(h("branch a 1"), "a1".into(), "".into(), wallet(2), h("k2")));
    send!(r.addUsageKey(h("base"), h("base usage"), usage("u", &[0], &[], &[], &[])));
    send!(r.newAccount(h("branch a 2"), "a2".into(), "".into(), wallet(3), h("k3")));
    indexer.sync_once().await.unwrap();
    assert!(store.account(&h("branch a 2")).unwrap().is_some());

    assert!(chain.rpc.anvil_revert(snapshot).await.unwrap());
    // The new branch is shorter (one block), so the cursor is above the head.
    let r = chain.registry();
    send!(r.newAccount(h("branch b"), "b".into(), "".into(), wallet(2), h("k2")));
    indexer.sync_once().await.unwrap();
    assert!(store.account(&h("branch a 1")).unwrap().is_none());
    assert!(store.key(&h("base usage")).unwrap().is_none());
    assert_eq!(
        store.wallet(&wallet(2)).unwrap().unwrap().account,
        h("branch b")
    );
    assert_eq!(store.dump_state().unwrap(), chain.rebuilt_state().await);
}

#[tokio::test]
async fn restart_resumes_from_the_cursor() {
    let chain = Chain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let r = chain.registry();
    send!(r.newAccount(h("first"), "first".into(), "".into(), wallet(1), h("k1")));
    let first_head = {
        let (store, _, indexer) = chain.mirror(dir.path());
        let report = indexer.sync_once().await.unwrap();
        assert_eq!(store.cursor().unwrap().unwrap().number, report.head);
        report.head
    };
    let last = send!(r.newAccount(h("second"), "second".into(), "".into(), wallet(2), h("k2")));
    let (store, _, indexer) = chain.mirror(dir.path());
    let report = indexer.sync_once().await.unwrap();
    assert_eq!(
        report.blocks,
        last - first_head,
        "did not resume from the cursor: {report:?}"
    );
    assert!(store.account(&h("second")).unwrap().is_some());
    assert_eq!(store.dump_state().unwrap(), chain.rebuilt_state().await);
}

/// Two mirrors follow the same chain: one by polling (500 ms), one by subscription (its polling
/// slowed to 60 s, so only the subscription can make it in time). Both see a write, and drop
/// their cached "unknown key" answer, within one poll interval (plus a margin for a loaded
/// machine, still far below the subscriber's 60 s).
#[tokio::test]
async fn followers_see_changes_within_one_poll_interval() {
    let chain = Chain::start().await;
    let poll = Duration::from_millis(500);
    let mut mirrors = Vec::new();
    let shutdown = CancellationToken::new();
    for (ws, interval) in [(false, poll), (true, Duration::from_secs(60))] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let permissions = Permissions::new(store.clone());
        let indexer = Indexer::new(
            store.clone(),
            permissions.clone(),
            chain.config(ws, interval),
        )
        .unwrap();
        let handle = indexer.handle();
        tokio::spawn(indexer.run(shutdown.clone()));
        mirrors.push((dir, store, permissions, handle));
    }
    // Both have done their first round…
    let head = chain.rpc.get_block_number().await.unwrap();
    for (_, _, _, handle) in &mirrors {
        assert!(
            handle
                .wait_until_applied(head, Duration::from_secs(30))
                .await,
            "first round not done"
        );
    }
    // …and the subscription is up: a block mined now reaches the subscribed mirror, whose own
    // polling would take a minute. Until one does, mine another.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        chain.rpc.anvil_mine(Some(1), None).await.unwrap();
        let probe = chain.rpc.get_block_number().await.unwrap();
        if mirrors[1]
            .3
            .wait_until_applied(probe, Duration::from_millis(500))
            .await
        {
            break;
        }
        assert!(Instant::now() < deadline, "the subscription never came up");
    }
    let key = h("late account");
    for (_, _, permissions, _) in &mirrors {
        assert_eq!(permissions.key_account(&key).unwrap(), None); // cached as unknown
    }

    let block =
        send!(chain
            .registry()
            .newAccount(key, "late".into(), "".into(), wallet(9), h("k9")));
    for (i, (_, store, permissions, handle)) in mirrors.iter().enumerate() {
        let mode = if i == 0 { "polling" } else { "subscription" };
        assert!(
            handle
                .wait_until_applied(block, poll + Duration::from_secs(3))
                .await,
            "{mode} mirror too slow"
        );
        assert!(store.account(&key).unwrap().is_some());
        assert_eq!(
            permissions.key_account(&key).unwrap(),
            Some(key),
            "{mode} mirror served a stale cache entry"
        );
    }
    shutdown.cancel();
}

#[tokio::test]
async fn health_turns_unhealthy_when_the_rpc_is_gone_and_reads_go_on() {
    let chain = Chain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _, indexer) = chain.mirror(dir.path());
    send!(chain
        .registry()
        .newAccount(h("a"), "a".into(), "".into(), wallet(1), h("k1")));
    indexer.sync_once().await.unwrap();
    let handle = indexer.handle();
    assert!(matches!(handle.health(), MirrorHealth::Ok { .. }));

    let shutdown = CancellationToken::new();
    tokio::spawn(indexer.run(shutdown.clone()));
    drop(chain); // stops anvil
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let MirrorHealth::Unhealthy { reason, .. } = handle.health() {
            assert!(reason.contains("unreachable"), "{reason}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "health stayed ok with the RPC gone"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.account(&h("a")).unwrap().unwrap().name,
        "a",
        "reads stopped with the chain"
    );
    shutdown.cancel();
}
