#!/usr/bin/env bash
# Proves that the clippy set-up exported by script/test.sh (RUSTC_WORKSPACE_WRAPPER=clippy-driver,
# CLIPPY_ARGS carrying `-D warnings`) turns a warn-level clippy lint into an error, so a build made
# with it cannot pass with lint warnings. Exits non-zero if the probe compiles.
set -euo pipefail
: "${RUSTC_WORKSPACE_WRAPPER:?set RUSTC_WORKSPACE_WRAPPER to clippy-driver}"
: "${CLIPPY_ARGS:?set CLIPPY_ARGS}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# `needless_return` is a warn-by-default style lint: only `-D warnings` makes it fail.
printf 'fn one() -> i32 {\n    return 1;\n}\nfn main() {\n    println!("{}", one());\n}\n' >"$dir/probe.rs"
if "$RUSTC_WORKSPACE_WRAPPER" rustc --edition 2021 --emit=metadata -o "$dir/probe.rmeta" "$dir/probe.rs" \
  >"$dir/out.txt" 2>&1; then
  echo "clippy-probe: a needless_return compiled: clippy-driver did not deny warnings" >&2
  exit 1
fi
grep -q 'needless_return' "$dir/out.txt" || {
  echo "clippy-probe: the probe failed for another reason:" >&2
  cat "$dir/out.txt" >&2
  exit 1
}
