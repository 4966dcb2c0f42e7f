//! ES module imports in Lit Actions, offline, through the real engine against a local CDN that
//! serves jsDelivr's path layout: `+esm` bundles of pinned npm packages built at test time from
//! .tools (js/cdn-fixture/build.mjs), and fixtures that misbehave (changing bytes, wrong integrity
//! headers, redirects, oversized files, long import chains). Each test has its own store, so pins
//! and the module cache start empty.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use alloy::primitives::B256;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::engine::ethers_bytecode;
use lit_node::actions::modules::integrity::sha384_of;
use lit_node::actions::modules::source::{ModuleSettings, ModuleSource};
use lit_node::actions::{ActionLimits, ActionOutcome, RunInput, Services};
use lit_node::cid::cid_hash;
use lit_node::keys::{KeyDeriver, RootSecret};
use lit_node::store::permissions::Permissions;
use lit_node::store::Store;
use serde_json::{json, Value};

/// The tests share the CDN's `down` switch and request counter, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The local CDN's state: what it serves and what it was asked.
struct Cdn {
    /// Built `+esm` bundles and fixtures, by path under `/npm/`.
    files: HashMap<String, Vec<u8>>,
    /// Every answer is 503 while set.
    down: AtomicBool,
    /// Requests answered so far.
    requests: AtomicUsize,
    /// `tamper@1.0.0` serves different bytes each time.
    tamper: AtomicUsize,
}

const BIG: usize = 10 * 1024 * 1024 + 1;

async fn serve(State(cdn): State<Arc<Cdn>>, UrlPath(path): UrlPath<String>) -> Response {
    cdn.requests.fetch_add(1, Ordering::SeqCst);
    if cdn.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let js = |body: Vec<u8>| {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/javascript".parse().unwrap());
        (headers, body).into_response()
    };
    match path.as_str() {
        "tamper@1.0.0/+esm" => {
            let n = cdn.tamper.fetch_add(1, Ordering::SeqCst);
            js(format!("export const n = {n};").into_bytes())
        }
        "badheader@1.0.0/+esm" => {
            let mut headers = HeaderMap::new();
            headers.insert("integrity", sha384_of(b"other bytes").parse().unwrap());
            (headers, "export const x = 1;").into_response()
        }
        "moved@1.0.0/+esm" => (
            StatusCode::FOUND,
            [("location", "/npm/zod@3.22.4/+esm")],
            "",
        )
            .into_response(),
        "big@1.0.0/+esm" => js(vec![b' '; BIG]),
        other => {
            if let Some(n) = other
                .strip_prefix("chain@1.0.")
                .and_then(|rest| rest.strip_suffix("/+esm"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                return js(format!(
                    "import {{ depth }} from \"/npm/chain@1.0.{}/+esm\"; export const d = depth + 1; export {{ d as depth }};",
                    n + 1
                )
                .into_bytes());
            }
            match cdn
                .files
                .get(other)
                .cloned()
                .or_else(|| package_file(other))
            {
                Some(bytes) => js(bytes),
                None => (StatusCode::NOT_FOUND, "not found").into_response(),
            }
        }
    }
}

/// A file of an installed package, as jsDelivr serves `/npm/<name>@<version>/<path>`: only for
/// the version installed in .tools, and only inside the package.
fn package_file(path: &str) -> Option<Vec<u8>> {
    let (package, file) = path.split_once('/')?;
    let (name, version) = package.rsplit_once('@')?;
    if file
        .split('/')
        .any(|segment| segment == ".." || segment.is_empty())
    {
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/node_modules")
        .join(name);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.join("package.json")).ok()?).ok()?;
    (manifest["version"] == json!(version)).then(|| std::fs::read(root.join(file)).ok())?
}

/// The `+esm` bundles of the pinned packages (built once per test process) and hand-written
/// fixtures.
fn files() -> &'static HashMap<String, Vec<u8>> {
    static FILES: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = tempfile::tempdir().unwrap();
        let built = std::process::Command::new("node")
            .arg(root.join("js/cdn-fixture/build.mjs"))
            .arg(out.path())
            .output()
            .expect("node runs");
        assert!(
            built.status.success(),
            "js/cdn-fixture/build.mjs failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let list: Vec<Value> = serde_json::from_slice(&built.stdout).unwrap();
        let mut files = HashMap::new();
        for entry in list {
            let path = entry["path"].as_str().unwrap();
            let bytes = std::fs::read(out.path().join(path)).unwrap();
            files.insert(path.trim_start_matches("npm/").to_string(), bytes);
        }
        assert_eq!(files.len(), 6, "{:?}", files.keys());
        // A package whose bundle imports two others, as jsDelivr's +esm files do.
        files.insert(
            "lit-fixture@1.0.0/+esm".into(),
            br#"import { z } from "/npm/zod@3.22.4/+esm"; import { v5 } from "/npm/uuid@9.0.1/+esm";
export const idFor = (name) => v5(z.string().min(1).parse(name), "6ba7b811-9dad-11d1-80b4-00c04fd430c8");"#
                .to_vec(),
        );
        // A library that builds code from a string, as Ajv's `compile` does.
        files.insert(
            "needs-eval@1.0.0/+esm".into(),
            br#"export const compile = (src) => new Function("x", src);"#.to_vec(),
        );
        files
    })
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    cdn: Arc<Cdn>,
    address: SocketAddr,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cdn = Arc::new(Cdn {
            files: files().clone(),
            down: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            tamper: AtomicUsize::new(0),
        });
        let address = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let app = axum::Router::new()
                .route("/npm/{*path}", axum::routing::get(serve))
                .with_state(cdn.clone());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            address
        });
        Harness {
            runtime,
            cdn,
            address,
        }
    })
}

/// A node's action services with its own store at `dir` and the local CDN.
fn services(dir: &Path) -> Arc<Services> {
    let h = harness();
    let store = Store::open(dir).unwrap();
    let modules = h.runtime.block_on(async {
        ModuleSource::new(
            ModuleSettings {
                cdn: url::Url::parse(&format!("http://{}", h.address)).unwrap(),
                cache_bytes: 64 * 1024 * 1024,
            },
            store.clone(),
        )
        .unwrap()
    });
    Arc::new(Services {
        keys: KeyDeriver::new(&RootSecret::from_bytes([7u8; 32])),
        permissions: Permissions::new(store.clone()),
        store,
        fetcher: None,
        ethers: Some(ethers_bytecode()),
        modules: Some(modules),
    })
}

fn run(services: &Arc<Services>, code: &str) -> ActionOutcome {
    let cid = lit_node::cid::cid_v0(code.as_bytes());
    let input = RunInput {
        code: Arc::from(code),
        cid_hash: cid_hash(&cid),
        cid,
        key_hash: B256::repeat_byte(1),
        account: B256::repeat_byte(2),
        params_json: None,
        limits: ActionLimits::default(),
        headers: vec![],
        credit: None,
        abandoned: Default::default(),
    };
    common::engine::run_on_worker_stack(services, input)
}

fn ok(services: &Arc<Services>, code: &str) -> Value {
    let outcome = run(services, code);
    assert!(!outcome.has_error, "{code}\n→ {outcome:?}");
    outcome.response
}

fn error(services: &Arc<Services>, code: &str) -> String {
    let outcome = run(services, code);
    assert!(outcome.has_error, "{code} should fail\n→ {outcome:?}");
    outcome.response.as_str().unwrap().to_string()
}

fn requests() -> usize {
    harness().cdn.requests.load(Ordering::SeqCst)
}

/// Uses each of the six packages, then signs the result with the action's own key.
const EVERY_PACKAGE: &str = r#"import { z } from "zod@3.22.4";
import { format, addDays } from "date-fns@3.6.0";
import { encode, decode } from "cbor-x@1.6.0";
import { v5 as uuidv5, validate } from "uuid@9.0.1";
import { chunk, sortBy } from "lodash-es@4.17.21";
import { object, number, string, assert } from "superstruct@1.0.4";

export async function main() {
  const Price = z.object({ symbol: z.string(), cents: z.number().int().positive() });
  const price = Price.parse({ symbol: "ETH", cents: 312345 });
  assert(price, object({ symbol: string(), cents: number() }));
  const when = format(addDays(new Date(Date.UTC(2026, 0, 30)), 3), "yyyy-MM-dd");
  const roundTrip = decode(encode({ price, when }));
  const id = uuidv5("lit-node", "6ba7b811-9dad-11d1-80b4-00c04fd430c8");
  const result = {
    price: roundTrip.price, when: roundTrip.when, id, valid: validate(id),
    chunks: chunk([3, 1, 2, 5, 4], 2), sorted: sortBy(["b", "c", "a"]),
  };
  const message = JSON.stringify(result);
  const wallet = new ethers.Wallet(await Lit.Actions.getLitActionPrivateKey());
  return { result, message, signature: await wallet.signMessage(message), address: wallet.address, imports: Lit.Actions.showImportDetails() };
}"#;

#[test]
fn every_package_is_imported_used_and_its_output_signed() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path());
    let reply = ok(&services, EVERY_PACKAGE);
    assert_eq!(
        reply["result"],
        json!({
            "price": {"symbol": "ETH", "cents": 312345}, "when": "2026-02-02",
            "id": "434ab770-0baa-5ebb-abc6-2799d1a916c5", "valid": true,
            "chunks": [[3, 1], [2, 5], [4]], "sorted": ["a", "b", "c"],
        })
    );
    let signature: alloy::primitives::Signature =
        reply["signature"].as_str().unwrap().parse().unwrap();
    let signer = signature
        .recover_address_from_msg(reply["message"].as_str().unwrap())
        .unwrap();
    assert_eq!(signer.to_string(), reply["address"].as_str().unwrap());

    // showImportDetails: what was loaded, with the SHA-384 of the bytes the CDN served.
    let imports = reply["imports"].as_array().unwrap();
    assert_eq!(imports.len(), 6, "{imports:?}");
    for detail in imports {
        let url = detail["url"].as_str().unwrap();
        let path = url.split("/npm/").nth(1).unwrap();
        let bytes = &files()[path];
        assert_eq!(detail["sha384"], json!(sha384_of(bytes)), "{url}");
        assert_eq!(detail["size"], json!(bytes.len()), "{url}");
        assert_eq!(detail["from"], json!("network"), "{url}");
    }
}

#[test]
fn a_second_run_makes_no_request_and_a_warm_cache_outlives_the_cdn_and_a_restart() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let code = r#"import { z } from "zod@3.22.4";
        import { v4 } from "uuid@9.0.1";
        export const main = async () => ({ ok: z.string().parse("x"), uuid: v4().length, imports: Lit.Actions.showImportDetails().map((d) => d.from), bytecode: Lit.Actions.showImportDetails().map((d) => d.bytecode) });"#;
    {
        let services = services(dir.path());
        assert_eq!(
            ok(&services, code)["imports"],
            json!(["network", "network"])
        );
        let before = requests();
        let again = ok(&services, code);
        assert_eq!(again["imports"], json!(["cache", "cache"]));
        // The modules are pinned, so the second run reads the bytecode compiled by the first.
        assert_eq!(again["bytecode"], json!([true, true]));
        assert_eq!(requests(), before, "the second run went to the network");
    }
    // The CDN is down and the node restarted (the store reopened, compiled modules forgotten):
    // the store's cache still serves.
    lit_node::actions::modules::loader::forget_compiled();
    harness().cdn.down.store(true, Ordering::SeqCst);
    let reopened = services(dir.path());
    let reply = run(&reopened, code);
    harness().cdn.down.store(false, Ordering::SeqCst);
    assert!(!reply.has_error, "{reply:?}");
    assert_eq!(reply.response["imports"], json!(["cache", "cache"]));
    assert_eq!(reply.response["bytecode"], json!([false, false]));
    // A module the cache does not hold fails clearly while the CDN is down.
    harness().cdn.down.store(true, Ordering::SeqCst);
    let cold = services(tempfile::tempdir().unwrap().path());
    let failed = error(&cold, code);
    harness().cdn.down.store(false, Ordering::SeqCst);
    assert!(failed.contains("answered HTTP 503"), "{failed}");
}

#[test]
fn integrity_inline_pinned_and_on_first_use_is_enforced() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let node = services(dir.path());
    let zod = sha384_of(&files()["zod@3.22.4/+esm"]);
    // An inline hash that matches, and one that does not.
    let reply = ok(
        &node,
        &format!(
            r#"import {{ z }} from "zod@3.22.4#{zod}"; export async function main() {{ return z.number().parse(1); }}"#
        ),
    );
    assert_eq!(reply, json!(1));
    let wrong = sha384_of(b"not zod");
    let failed = error(
        &node,
        &format!(
            r#"import {{ v4 }} from "uuid@9.0.1#{wrong}"; export async function main() {{ return 1; }}"#
        ),
    );
    assert!(
        failed.contains("does not match the integrity written in the import"),
        "{failed}"
    );
    assert!(failed.contains(&wrong), "{failed}");

    // A pin the CDN's bytes do not match (an operator's lock file, or bytes that changed).
    let other = services(tempfile::tempdir().unwrap().path());
    other
        .store
        .set_module_pin(
            &format!("http://{}/npm/lodash-es@4.17.21/+esm", harness().address),
            &sha384_of(b"what was pinned"),
        )
        .unwrap();
    let failed = error(
        &other,
        r#"import { chunk } from "lodash-es@4.17.21"; export async function main() { return chunk([1], 1); }"#,
    );
    assert!(
        failed.contains("does not match the node's pin for this URL"),
        "{failed}"
    );

    // Unpinned bytes that change between the two first downloads, or that contradict the
    // CDN's own integrity header, are refused and not pinned.
    let failed = error(
        &node,
        r#"import { n } from "tamper@1.0.0"; export async function main() { return n; }"#,
    );
    assert!(failed.contains("changed between two downloads"), "{failed}");
    let failed = error(
        &node,
        r#"import { x } from "badheader@1.0.0"; export async function main() { return x; }"#,
    );
    assert!(
        failed.contains("does not match the integrity the CDN sent"),
        "{failed}"
    );
    // A module with neither an inline hash nor a pin is pinned on first use.
    ok(
        &node,
        r#"import { string } from "superstruct@1.0.4"; export async function main() { return typeof string; }"#,
    );
    let pins: Vec<String> = node
        .store
        .module_pins()
        .unwrap()
        .into_iter()
        .map(|(url, _)| url)
        .collect();
    assert!(
        pins.iter().any(|u| u.ends_with("superstruct@1.0.4/+esm")),
        "{pins:?}"
    );
    assert!(
        !pins
            .iter()
            .any(|u| u.contains("tamper") || u.contains("badheader")),
        "{pins:?}"
    );
}

#[test]
fn limits_redirects_origins_and_unpinned_specifiers_are_refused() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path());
    let cases: &[(&str, &str)] = &[
        (r#"import "big@1.0.0";"#, "larger than 10 MB"),
        (
            r#"import { depth } from "chain@1.0.0";"#,
            "at most 100 modules",
        ),
        (r#"import "moved@1.0.0";"#, "redirects are refused"),
        (
            r#"import "https://evil.example/npm/zod@3.22.4/+esm";"#,
            "modules come only from",
        ),
        (r#"import { z } from "zod";"#, "needs an exact version"),
        (r#"import { z } from "zod@^3";"#, "not an exact version"),
        (r#"import { z } from "zod@latest";"#, "not an exact version"),
        (r#"import x from "./local.js";"#, "relative paths"),
        (
            r#"import x from "nothing-here@1.0.0";"#,
            "answered HTTP 404",
        ),
    ];
    for (import, expected) in cases {
        let code = format!("{import}\nexport async function main() {{ return 1; }}");
        let failed = error(&services, &code);
        assert!(failed.contains(expected), "{import}: {failed}");
    }
    // Dynamic import() stays unavailable, in module and in script code.
    let failed = error(
        &services,
        r#"export async function main() { const m = await import("zod@3.22.4"); return 1; }"#,
    );
    assert!(
        failed.contains("dynamic import() is not available"),
        "{failed}"
    );
    let failed = error(
        &services,
        r#"async function main() { await import("zod@3.22.4"); return 1; }"#,
    );
    assert!(
        failed.contains("dynamic import() is not available"),
        "{failed}"
    );
}

#[test]
fn main_is_found_in_every_form_and_nested_imports_resolve() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path());
    let id = "9e5d1fdc-3b5e-5cb2-8a07-8f8bb1c98b2b";
    let forms = [
        r#"import { idFor } from "lit-fixture@1.0.0"; async function main() { return idFor("x"); }"#,
        r#"import { idFor } from "lit-fixture@1.0.0"; const main = async () => idFor("x");"#,
        r#"import { idFor } from "lit-fixture@1.0.0"; export async function main() { return idFor("x"); }"#,
        r#"import { idFor } from "lit-fixture@1.0.0"; export default async function () { return idFor("x"); }"#,
    ];
    let expected = ok(&services, forms[0]);
    assert!(
        expected.as_str().is_some_and(|s| s.len() == id.len()),
        "{expected}"
    );
    for form in &forms[1..] {
        assert_eq!(ok(&services, form), expected, "{form}");
    }
    let nested = ok(
        &services,
        r#"import { idFor } from "lit-fixture@1.0.0"; export async function main() { return Lit.Actions.showImportDetails().map((d) => d.url.split("/npm/")[1]); }"#,
    );
    assert_eq!(
        nested,
        json!([
            "lit-fixture@1.0.0/+esm",
            "zod@3.22.4/+esm",
            "uuid@9.0.1/+esm"
        ])
    );
    assert_eq!(
        error(
            &services,
            r#"import { z } from "zod@3.22.4"; export const x = 1;"#
        ),
        "ReferenceError: main is not defined"
    );
    // A library that needs code from strings (Ajv's compile) says why it cannot work here.
    let failed = error(
        &services,
        r#"import { compile } from "needs-eval@1.0.0"; export async function main() { return compile("return x")(1); }"#,
    );
    assert!(
        failed.contains("Code generation from strings is not allowed"),
        "{failed}"
    );
}

#[test]
fn a_path_after_the_version_is_used_as_is_with_its_relative_imports() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path());
    // date-fns's own ES files: addDays.mjs imports ./toDate.mjs and ./constructFrom.mjs.
    let reply = ok(
        &services,
        r#"import { addDays } from "date-fns@3.6.0/addDays.mjs";
        export async function main() {
          return { day: addDays(new Date(Date.UTC(2026, 0, 30)), 3).toISOString().slice(0, 10),
                   loaded: Lit.Actions.showImportDetails().map((d) => d.url.split("/npm/")[1]) };
        }"#,
    );
    assert_eq!(reply["day"], json!("2026-02-02"));
    assert_eq!(
        reply["loaded"],
        json!([
            "date-fns@3.6.0/addDays.mjs",
            "date-fns@3.6.0/toDate.mjs",
            "date-fns@3.6.0/constructFrom.mjs"
        ])
    );
}
