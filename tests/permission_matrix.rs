//! The permission matrix of spec/api.md, generated as a table: every authenticated management
//! endpoint × {account key, usage key with exactly the needed scope, usage key with that scope
//! for another group only, usage key with no scope, another account's key, no key, garbage key}.
//! The expected status of each cell follows from the endpoint's auth class by the spec's rules;
//! requests that consume their target get a fresh one (made with the account key) per cell.

mod common;

use alloy::primitives::keccak256;
use common::{http, NodeProcess};
use lit_node::cid::cid_v0;
use serde_json::{json, Value};

/// How an endpoint is authorised (spec/api.md "Keys and scopes").
#[derive(Debug, Clone, Copy)]
enum Class {
    /// Any key of the account.
    Read,
    /// Any key of the account, about group 1 of account A (foreign for account B).
    ReadGroup,
    /// A usage key needs a boolean scope; acts in the caller's own account.
    Flag,
    /// A usage key needs a boolean scope; changes an object of account A.
    FlagOwn,
    /// A usage key needs group 1 (or 0) in a group-scoped list; the group is account A's.
    Group,
    /// Account key only, creating in the caller's own account.
    AccountCreate,
    /// Account key only, changing an object of account A.
    AccountOwn,
}

/// The group the group-scoped cells target: account A has groups 1..=3, account B creates at most
/// one group (in the `add_group` cell), so B never has group 3.
const TARGET: u64 = 3;

const KINDS: [&str; 7] = [
    "account",
    "needed",
    "other_group",
    "none",
    "other_account",
    "no_key",
    "garbage",
];

fn expected(class: Class, kind: &str) -> u16 {
    match (kind, class) {
        ("no_key" | "garbage", _) => 401,
        ("account", _) => 200,
        ("other_account", Class::ReadGroup | Class::Group | Class::FlagOwn | Class::AccountOwn) => {
            404
        }
        ("other_account", _) => 200,
        (_, Class::Read | Class::ReadGroup) => 200,
        ("needed", Class::Flag | Class::FlagOwn | Class::Group) => 200,
        _ => 403,
    }
}

struct World {
    node: NodeProcess,
    _dir: tempfile::TempDir,
    account: String,
    other_account: String,
    wallet: String,
    /// Usage keys of account A by label.
    usage: std::collections::HashMap<&'static str, String>,
    counter: std::sync::atomic::AtomicU32,
}

fn scopes(name: &str, flags: [bool; 3], lists: [Value; 4]) -> Value {
    let [manage, add, remove, execute] = lists;
    json!({"name": name, "description": "", "can_create_groups": flags[0], "can_delete_groups": flags[1],
           "can_create_pkps": flags[2], "manage_ipfs_ids_in_groups": manage, "add_pkp_to_groups": add,
           "remove_pkp_from_groups": remove, "execute_in_groups": execute})
}

impl World {
    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = self.node.url(&format!("/core/v1/{path}"));
        let mut request = if method == "GET" {
            http().get(url)
        } else {
            http().post(url).json(body.unwrap())
        };
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn as_account(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self
            .call("POST", path, Some(&self.account), Some(&body))
            .await;
        assert_eq!(status, 200, "setup {path} {body} → {answer}");
        answer
    }

    fn unique(&self) -> u32 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// A fresh action CID registered in account A.
    async fn fresh_action(&self) -> String {
        let cid = cid_v0(format!("// action {}", self.unique()).as_bytes());
        self.as_account(
            "add_action",
            json!({"action_ipfs_cid": cid, "name": "a", "description": ""}),
        )
        .await;
        cid
    }

    async fn fresh_group(&self) -> String {
        let answer = self
            .as_account("add_group", json!({"group_name": "tmp", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}))
            .await;
        answer["group_id"].as_str().unwrap().to_string()
    }

    async fn fresh_usage_key(&self) -> String {
        let answer = self
            .as_account(
                "add_usage_api_key",
                scopes(
                    "tmp",
                    [false; 3],
                    [json!([]), json!([]), json!([]), json!([])],
                ),
            )
            .await;
        answer["usage_api_key"].as_str().unwrap().to_string()
    }

    /// (class, method, path, body, label of the needed usage key) — with a fresh target where
    /// the request consumes one.
    async fn request(
        &self,
        endpoint: &str,
    ) -> (Class, &'static str, String, Option<Value>, &'static str) {
        let page = "page_number=0&page_size=10";
        let cid = cid_v0(format!("// any {}", self.unique()).as_bytes());
        let hashed = |cid: &str| format!("{:#x}", keccak256(cid.as_bytes()));
        match endpoint {
            "account_exists" => (Class::Read, "GET", "account_exists".into(), None, "none"),
            "list_wallets" | "list_groups" | "list_api_keys" | "list_actions" => (
                Class::Read,
                "GET",
                format!("{endpoint}?{page}"),
                None,
                "none",
            ),
            "list_wallets_in_group" => (
                Class::ReadGroup,
                "GET",
                format!("list_wallets_in_group?group_id={TARGET}&{page}"),
                None,
                "none",
            ),
            "list_actions_in_group" => (
                Class::ReadGroup,
                "GET",
                format!("list_actions?group_id={TARGET}&{page}"),
                None,
                "none",
            ),
            "create_wallet" => (
                Class::Flag,
                "GET",
                "create_wallet".into(),
                None,
                "create_pkps",
            ),
            "add_group" => (
                Class::Flag,
                "POST",
                "add_group".into(),
                Some(
                    json!({"group_name": "g", "group_description": "", "pkp_ids_permitted": [], "cid_hashes_permitted": []}),
                ),
                "create_groups",
            ),
            "remove_group" => {
                let group = self.fresh_group().await;
                let class = Class::FlagOwn;
                (
                    class,
                    "POST",
                    "remove_group".into(),
                    Some(json!({"group_id": group})),
                    "delete_groups",
                )
            }
            "add_pkp_to_group" => (
                Class::Group,
                "POST",
                endpoint.into(),
                Some(json!({"group_id": TARGET, "pkp_id": self.wallet})),
                "add_g1",
            ),
            "remove_pkp_from_group" => (
                Class::Group,
                "POST",
                endpoint.into(),
                Some(json!({"group_id": TARGET, "pkp_id": self.wallet})),
                "remove_g1",
            ),
            "add_action_to_group" => (
                Class::Group,
                "POST",
                endpoint.into(),
                Some(json!({"group_id": TARGET, "action_ipfs_cid": cid})),
                "manage_g1",
            ),
            "remove_action_from_group" => (
                Class::Group,
                "POST",
                endpoint.into(),
                Some(json!({"group_id": TARGET, "hashed_cid": hashed(&cid)})),
                "manage_g1",
            ),
            "update_group" => (
                Class::AccountOwn,
                "POST",
                endpoint.into(),
                Some(
                    json!({"group_id": TARGET, "name": "g1", "description": "", "pkp_ids_permitted": [self.wallet], "cid_hashes_permitted": []}),
                ),
                "all",
            ),
            "add_action" => (
                Class::AccountCreate,
                "POST",
                endpoint.into(),
                Some(json!({"action_ipfs_cid": cid, "name": "n", "description": ""})),
                "all",
            ),
            "delete_action" => {
                let cid = self.fresh_action().await;
                (
                    Class::AccountOwn,
                    "POST",
                    endpoint.into(),
                    Some(json!({"hashed_cid": hashed(&cid)})),
                    "all",
                )
            }
            "update_action_metadata" => {
                let cid = self.fresh_action().await;
                (
                    Class::AccountOwn,
                    "POST",
                    endpoint.into(),
                    Some(json!({"hashed_cid": hashed(&cid), "name": "n", "description": ""})),
                    "all",
                )
            }
            "add_usage_api_key" => (
                Class::AccountCreate,
                "POST",
                endpoint.into(),
                Some(scopes(
                    "k",
                    [true; 3],
                    [json!([0]), json!([0]), json!([0]), json!([0])],
                )),
                "all",
            ),
            "update_usage_api_key" => {
                let target = self.fresh_usage_key().await;
                let mut body = scopes(
                    "k2",
                    [false; 3],
                    [json!([]), json!([]), json!([]), json!([])],
                );
                body["usage_api_key"] = json!(target);
                (
                    Class::AccountOwn,
                    "POST",
                    endpoint.into(),
                    Some(body),
                    "all",
                )
            }
            "remove_usage_api_key" => {
                let target = self.fresh_usage_key().await;
                (
                    Class::AccountOwn,
                    "POST",
                    endpoint.into(),
                    Some(json!({"usage_api_key": target})),
                    "all",
                )
            }
            "update_usage_api_key_metadata" => {
                let target = self.fresh_usage_key().await;
                (
                    Class::AccountOwn,
                    "POST",
                    endpoint.into(),
                    Some(json!({"usage_api_key": target, "name": "n", "description": ""})),
                    "all",
                )
            }
            other => panic!("no request for {other}"),
        }
    }

    fn key(&self, kind: &str, needed: &'static str) -> Option<String> {
        match kind {
            "account" => Some(self.account.clone()),
            "needed" => Some(self.usage[needed].clone()),
            "other_group" => Some(self.usage["other_group"].clone()),
            "none" => Some(self.usage["none"].clone()),
            "other_account" => Some(self.other_account.clone()),
            "no_key" => None,
            "garbage" => Some("garbage-key-that-belongs-to-nobody".into()),
            other => panic!("unknown kind {other}"),
        }
    }
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::dev(dir.path(), &[]).await;
    let mut w = World {
        node,
        _dir: dir,
        account: String::new(),
        other_account: String::new(),
        wallet: String::new(),
        usage: Default::default(),
        counter: Default::default(),
    };
    for slot in 0..2 {
        let (status, created) = w
            .call(
                "POST",
                "new_account",
                None,
                Some(&json!({"account_name": "m", "account_description": ""})),
            )
            .await;
        assert_eq!(status, 200);
        let key = created["api_key"].as_str().unwrap().to_string();
        if slot == 0 {
            w.account = key;
            w.wallet = created["wallet_address"].as_str().unwrap().to_string();
        } else {
            w.other_account = key;
        }
    }
    // Account A has groups 1..=TARGET; account B has none.
    for _ in 0..TARGET {
        w.fresh_group().await;
    }
    let g1 = || json!([TARGET]);
    let none = || json!([]);
    let keys = [
        (
            "create_pkps",
            scopes(
                "create_pkps",
                [false, false, true],
                [none(), none(), none(), none()],
            ),
        ),
        (
            "create_groups",
            scopes(
                "create_groups",
                [true, false, false],
                [none(), none(), none(), none()],
            ),
        ),
        (
            "delete_groups",
            scopes(
                "delete_groups",
                [false, true, false],
                [none(), none(), none(), none()],
            ),
        ),
        (
            "manage_g1",
            scopes("manage_g1", [false; 3], [g1(), none(), none(), none()]),
        ),
        (
            "add_g1",
            scopes("add_g1", [false; 3], [none(), g1(), none(), none()]),
        ),
        (
            "remove_g1",
            scopes("remove_g1", [false; 3], [none(), none(), g1(), none()]),
        ),
        (
            "other_group",
            scopes(
                "other_group",
                [false; 3],
                [json!([2]), json!([2]), json!([2]), json!([2])],
            ),
        ),
        (
            "none",
            scopes("none", [false; 3], [none(), none(), none(), none()]),
        ),
        (
            "all",
            scopes(
                "all",
                [true; 3],
                [json!([0]), json!([0]), json!([0]), json!([0])],
            ),
        ),
    ];
    for (label, body) in keys {
        let answer = w.as_account("add_usage_api_key", body).await;
        w.usage
            .insert(label, answer["usage_api_key"].as_str().unwrap().to_string());
    }
    w
}

#[tokio::test]
async fn every_endpoint_times_every_kind_of_key() {
    let w = world().await;
    let endpoints = [
        "account_exists",
        "list_wallets",
        "list_groups",
        "list_api_keys",
        "list_actions",
        "list_wallets_in_group",
        "list_actions_in_group",
        "create_wallet",
        "add_group",
        "remove_group",
        "add_pkp_to_group",
        "remove_pkp_from_group",
        "add_action_to_group",
        "remove_action_from_group",
        "update_group",
        "add_action",
        "delete_action",
        "update_action_metadata",
        "add_usage_api_key",
        "update_usage_api_key",
        "remove_usage_api_key",
        "update_usage_api_key_metadata",
    ];
    let mut failures = Vec::new();
    let mut cells = 0;
    for endpoint in endpoints {
        for kind in KINDS {
            let (class, method, path, body, needed) = w.request(endpoint).await;
            let mut want = expected(class, kind);
            if endpoint == "account_exists" && kind == "garbage" {
                want = 200; // answers `false` instead of 401
            }
            let key = w.key(kind, needed);
            let (status, answer) = w.call(method, &path, key.as_deref(), body.as_ref()).await;
            cells += 1;
            if status != want {
                failures.push(format!(
                    "{endpoint:<30} {kind:<14} expected {want}, got {status}: {answer}"
                ));
            } else if status >= 400 && answer["code"].as_str().unwrap_or("").is_empty() {
                failures.push(format!(
                    "{endpoint:<30} {kind:<14} error without a code: {answer}"
                ));
            }
        }
    }
    assert_eq!(cells, endpoints.len() * KINDS.len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    w.node.stop().await;
}
