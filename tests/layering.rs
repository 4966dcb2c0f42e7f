//! The layering rules of `src/lib.rs` hold: each top-level module imports only the modules its
//! layer allows, and no API endpoint module imports another. Read from the source, so a new
//! import that breaks a rule fails here with the file that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The crate modules `text` names as `crate::<module>`.
fn crate_imports(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .filter(|(at, _)| !text[..*at].ends_with('$'))
        .map(|(at, m)| {
            text[at + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn top_level_modules_import_only_their_lower_layers() {
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("cid", &[][..]),
        ("keys", &[]),
        ("redact", &[]),
        ("config", &[]),
        ("store", &["cid"]),
        ("chain", &["store", "keys", "redact"]),
        ("indexer", &["chain", "store", "redact"]),
        ("actions", &["store", "chain", "keys", "cid", "config"]),
        ("billing", &["store", "chain", "keys", "config", "actions"]),
        ("logging", &["config", "redact"]),
        (
            "app",
            &[
                "actions", "billing", "chain", "config", "indexer", "keys", "store",
            ],
        ),
    ]);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let Some(allowed) = allowed.get(module.as_str()) else {
            continue; // api, node, main, lib: the top layers
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for import in crate_imports(&text) {
            if import != module && !allowed.contains(&import.as_str()) {
                broken.push(format!("{} imports crate::{import}", relative.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn api_endpoint_modules_import_none_of_each_other() {
    let endpoints = [
        "accounts",
        "actions",
        "billing",
        "groups",
        "health",
        "info",
        "ipfs",
        "lit_action",
        "self_custody",
        "usage_keys",
        "wallets",
    ];
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut broken = Vec::new();
    for endpoint in endpoints {
        let text = std::fs::read_to_string(api.join(format!("{endpoint}.rs"))).unwrap();
        for other in endpoints.iter().filter(|o| **o != endpoint) {
            for form in [
                format!("super::{other}::"),
                format!("super::{other};"),
                format!("crate::api::{other}::"),
            ] {
                if text.contains(&form) {
                    broken.push(format!("api/{endpoint}.rs uses {form}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
