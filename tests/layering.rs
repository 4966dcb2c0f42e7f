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

/// The module a path below a source folder belongs to: `api/auth.rs` → `api`, `cid.rs` → `cid`.
fn first_module(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_string()
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
        let module = first_module(relative);
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

#[test]
fn the_actions_modules_import_each_other_without_a_circle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actions");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&dir) {
        let relative = file.strip_prefix(&dir).unwrap();
        let module = first_module(relative);
        if module == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // `super::x` in a file of the host/ directory names host's own children.
        let nested = relative.components().count() > 1;
        let mut names = BTreeSet::new();
        for prefix in ["crate::actions::", "super::"] {
            if prefix == "super::" && nested {
                continue;
            }
            for (at, m) in text.match_indices(prefix) {
                let name: String = text[at + m.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module && name != "super" {
                    names.insert(name);
                }
            }
        }
        edges.entry(module).or_default().extend(names);
    }
    // Depth-first search for a circle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            return Some(
                path[at..]
                    .iter()
                    .cloned()
                    .chain([node.to_string()])
                    .collect(),
            );
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        if let Some(circle) = visit(module, &edges, &mut Vec::new(), &mut done) {
            panic!("actions modules import in a circle: {}", circle.join(" → "));
        }
    }
    assert!(
        edges.contains_key("host") && edges.contains_key("engine"),
        "{edges:?}"
    );
}
