//! `lit-node modules import|export`: a lock file of module pins goes into a data dir and comes
//! back out the same; a bad lock file is refused with a message naming the entry, pinning nothing.

mod common;

use common::node_command;
use serde_json::{json, Value};

const ZOD: &str = "https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm";
const ZOD_PIN: &str = "sha384-Ll1x687d9RiASscHXWiwLgLWkZYcvQzx8+xkuhg7gM3HoGohFzbqHJosLuNAtwAa";

async fn lit_node(args: &[&str]) -> std::process::Output {
    node_command(args, &[]).output().await.unwrap()
}

#[tokio::test]
async fn pins_go_in_and_come_out_as_a_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let lock = dir.path().join("modules.lock.json");
    std::fs::write(
        &lock,
        json!({"lock_version": 1, "modules": {ZOD: ZOD_PIN}}).to_string(),
    )
    .unwrap();

    let imported = lit_node(&[
        "modules",
        "import",
        "--data-dir",
        data,
        lock.to_str().unwrap(),
    ])
    .await;
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&imported.stdout).unwrap(),
        json!({"pinned": 1})
    );
    let exported = lit_node(&["modules", "export", "--data-dir", data]).await;
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&exported.stdout).unwrap(),
        json!({"lock_version": 1, "modules": {ZOD: ZOD_PIN}})
    );

    // A bad pin: refused, named, and nothing else from that file is pinned.
    std::fs::write(
        &lock,
        json!({"lock_version": 1, "modules": {
            "https://cdn.jsdelivr.net/npm/a@1.0.0/+esm": ZOD_PIN,
            "https://cdn.jsdelivr.net/npm/uuid@9.0.1/+esm": "md5-abc",
        }})
        .to_string(),
    )
    .unwrap();
    let refused = lit_node(&[
        "modules",
        "import",
        "--data-dir",
        data,
        lock.to_str().unwrap(),
    ])
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("uuid@9.0.1") && stderr.contains("sha384"),
        "{stderr}"
    );
    let exported = lit_node(&["modules", "export", "--data-dir", data]).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&exported.stdout).unwrap()["modules"],
        json!({ZOD: ZOD_PIN})
    );
}
