#!/usr/bin/env bash
# Sets up the toolchain (first run only), builds, and starts a node on the embedded default:
# a local anvil chain with the contracts deployed, serving http://127.0.0.1:8000.
# Extra arguments go to `lit-node dev` (e.g. --listen 127.0.0.1:8001 --data-dir other-data).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
bash script/setup.sh
exec cargo run --quiet --bin lit-node -- dev "$@"
