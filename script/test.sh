#!/usr/bin/env bash
# Runs every test: toolchain setup, contract artifact freshness, forge tests, the QuickJS ethers
# bundle against real ethers (js/ethers), formatting and lints, and cargo tests (unit +
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

step "cargo fmt + clippy"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test"
cargo test --lib --bins --tests

step "done"
