//! Build-time facts for `GET version`: the git commit, a short hash of the registry bytecode the
//! binary deploys, and the pinned solc version; and the ethers bundle for Lit Actions, built by
//! `node js/ethers/build.mjs` from the npm packages `script/setup.sh` installs. Never requires
//! forge or network access.
use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-changed=abi/LitRegistry.json");
    println!("cargo:rerun-if-changed=script/tools/package.json");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-env-changed=BUILD_GIT_COMMIT");

    let commit = std::env::var("BUILD_GIT_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=BUILD_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );

    let registry =
        std::fs::read("abi/LitRegistry.json").expect("abi/LitRegistry.json is committed");
    let digest = Sha256::digest(&registry);
    println!(
        "cargo:rustc-env=BUILD_CONTRACTS_VERSION={}",
        &hex::encode(digest)[..12]
    );

    let tools: serde_json::Value = serde_json::from_slice(
        &std::fs::read("script/tools/package.json")
            .expect("script/tools/package.json is committed"),
    )
    .expect("script/tools/package.json is JSON");
    let solc = tools["dependencies"]["solc"].as_str().unwrap_or("unknown");
    println!("cargo:rustc-env=BUILD_SOLC_VERSION={solc}");

    build_ethers_bundle();
}

/// `$OUT_DIR/ethers.bundle.js`, included by `src/actions/ethers.rs`.
fn build_ethers_bundle() {
    println!("cargo:rerun-if-changed=js/ethers");
    println!("cargo:rerun-if-changed=script/tools/package-lock.json");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("ethers.bundle.js");
    let output = Command::new("node")
        .arg("js/ethers/build.mjs")
        .arg(&out)
        .output();
    match output {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "building the ethers bundle failed (run `bash script/setup.sh` first, it installs the npm packages):\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run `node` to build the ethers bundle ({e}); install Node.js and run `bash script/setup.sh`"),
    }
}
