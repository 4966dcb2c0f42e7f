# Sourced by the project's scripts: pinned tools on PATH and a cargo target dir outside the clone
# (reused between runs, so CI and later runs rebuild incrementally).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/.tools/node_modules/.bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lit-node/target}"
