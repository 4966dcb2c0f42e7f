#!/usr/bin/env bash
# Runs every test: toolchain setup, contract artifact freshness, forge tests, the QuickJS ethers
# bundle against real ethers (js/ethers), formatting, and cargo tests built by clippy-driver so lints fail the build (unit +
# integration tests that start real anvil chains and the real binary). Exits non-zero on the
# first failure.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
started=$SECONDS
step() { printf '\n==> [%dm%02ds] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*"; }

step "setup"
bash script/setup.sh

step "contract artifacts are fresh (abi/ matches a forge build of contracts/)"
bash script/export-artifacts.sh --check

step "forge test"
forge fmt --check contracts script
forge test

step "ethers bundle matches ethers under Node"
node js/ethers/test/verify.mjs

step "cargo fmt"
cargo fmt --all -- --check

# Clippy's lints are checked while the tests are built, not in a separate `cargo clippy` pass:
# clippy-driver compiles the workspace's own crates (RUSTC_WORKSPACE_WRAPPER), so each dependency
# is compiled once instead of being checked for clippy and then built again for the tests (about a
# fifth of a fresh machine's time). CLIPPY_ARGS is how cargo-clippy hands `-D warnings` to the
# driver of the same toolchain; the probe below fails this script if that contract ever changes.
step "clippy's lints deny warnings (probe)"
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver)
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
bash script/clippy-probe.sh

step "build every target, linted by clippy (-D warnings)"
cargo test --all-targets --no-run --quiet

step "cargo test"
cargo test --lib --bins --tests

step "done"
