#!/usr/bin/env bash
# Builds the contracts with forge and writes the ABI + bytecode the Rust crate compiles against
# (`abi/<Contract>.json`, read by alloy's `sol!` in src/chain/bindings.rs), so `cargo build` never
# needs forge.   --check: fail (exit 1) if the committed files differ from a fresh build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/node_modules/.bin:$PATH"
contracts=(LitRegistry NodeConfig Erc1271TestWallet)

forge build --quiet
out_dir="abi"
if [ "${1:-}" = "--check" ]; then
  out_dir=$(mktemp -d)
  trap 'rm -rf "$out_dir"' EXIT
fi
mkdir -p "$out_dir"
for name in "${contracts[@]}"; do
  node -e '
    const fs = require("fs");
    const [src, dst] = process.argv.slice(1);
    const a = JSON.parse(fs.readFileSync(src, "utf8"));
    const slim = { abi: a.abi, bytecode: { object: a.bytecode.object }, deployedBytecode: { object: a.deployedBytecode.object } };
    fs.writeFileSync(dst, JSON.stringify(slim, null, 1) + "\n");
  ' "target/forge/out/$name.sol/$name.json" "$out_dir/$name.json"
done

if [ "${1:-}" = "--check" ]; then
  stale=0
  for name in "${contracts[@]}"; do
    if ! cmp -s "$out_dir/$name.json" "abi/$name.json"; then
      echo "abi/$name.json is stale: run script/export-artifacts.sh and commit the result" >&2
      stale=1
    fi
  done
  exit $stale
fi
