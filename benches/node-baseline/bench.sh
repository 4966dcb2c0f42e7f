#!/usr/bin/env bash
# Runs the Node.js Lit Actions baseline matrix: modes {isolated, shared} x actions {hello, sign}
# x concurrency {1, 16}, using load.mjs against server.mjs, and prints one line per cell.
#
#   benches/node-baseline/bench.sh [duration_seconds]     # default 5 s per cell (+1 s warm-up)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${1:-5}"
TMP="$(mktemp -d)"
PID=""

cleanup() {
  [[ -n "$PID" ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$TMP"
}
trap cleanup EXIT

HELLO='async function main(){ return "hello"; }'
SIGN='async function main(){ const w = new ethers.Wallet("0x0000000000000000000000000000000000000000000000000000000000000001"); return await w.signMessage("Chipotle Rocks!"); }'
SIG='0x32f33b786e068af9852b348d79b0470dcfc0d7e0de6ed92a2e0070c84f44f68454e37318ad9f80cc81f613217ed49de72012bf6cf02a3fef039ec234c5f35d151c'

echo "nproc=$(nproc) node=$(node --version) duration=${DURATION}s"
for mode in isolated shared; do
  node "$HERE/server.mjs" --mode "$mode" --port 0 >"$TMP/out" 2>"$TMP/err" &
  PID=$!
  line=""
  for _ in $(seq 1 100); do
    line="$(head -n 1 "$TMP/out" 2>/dev/null || true)"
    [[ "$line" == "listening on http://"* ]] && break
    sleep 0.05
  done
  [[ "$line" == "listening on http://"* ]] || { cat "$TMP/err" >&2; exit 1; }
  URL="${line#listening on }"
  URL="${URL%% *}"  # drop " (N processes)"
  for action in hello sign; do
    if [[ "$action" == hello ]]; then code="$HELLO" expect="hello"; else code="$SIGN" expect="$SIG"; fi
    for c in 1 16; do
      printf '%-8s %-5s ' "$mode" "$action"
      node "$HERE/load.mjs" --url "$URL" --code "$code" --expect "$expect" -c "$c" -d "$DURATION"
    done
  done
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
done
