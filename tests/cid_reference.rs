//! CIDv0 of multi-chunk inputs checked against a real implementation: the npm package
//! `ipfs-only-hash` (installed by script/setup.sh), run under Node on the same bytes.

mod common;

use lit_node::cid::cid_v0;

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn reference_cids(files: &[std::path::PathBuf]) -> Vec<String> {
    let script = r#"
        const Hash = require(process.env.IPFS_ONLY_HASH);
        const fs = require('fs');
        (async () => {
          for (const f of process.argv.slice(1)) console.log(await Hash.of(fs.readFileSync(f)));
        })().catch((e) => { console.error(e); process.exit(1); });
    "#;
    let module = common::project_root().join(".tools/node_modules/ipfs-only-hash");
    assert!(
        module.is_dir(),
        "ipfs-only-hash missing: run script/setup.sh"
    );
    let output = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .args(files)
        .env("IPFS_ONLY_HASH", module)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn multi_chunk_inputs_match_ipfs_only_hash() {
    const CHUNK: usize = 262_144;
    // One chunk exactly, one byte over, several chunks, and 175 chunks (a two-level tree: the
    // 175th leaf spills into a second parent under the root).
    let sizes = [
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        3 * CHUNK + 17,
        174 * CHUNK,
        175 * CHUNK + 5,
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut ours = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let bytes = content(*size, i as u64 + 7);
        let path = dir.path().join(format!("input-{i}"));
        std::fs::write(&path, &bytes).unwrap();
        files.push(path);
        ours.push(cid_v0(&bytes));
    }
    let reference = reference_cids(&files);
    assert_eq!(reference.len(), sizes.len());
    for ((size, mine), theirs) in sizes.iter().zip(&ours).zip(&reference) {
        assert_eq!(mine, theirs, "CID mismatch for {size} bytes");
    }
}
