#!/usr/bin/env bash
# Smoke test for the Node.js Lit Actions baseline (server.mjs).
#
# Starts the server in each mode (isolated, shared) on a free port, checks with curl that a
# hello-world action answers "hello" and that an ethers v5 signMessage action answers the
# known signature, checks that a bad JSON body gets 400, then stops the servers.
#
#   benches/node-baseline/smoke.sh        # exit status 0 = all checks passed
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVER="$HERE/server.mjs"
TMP="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

HELLO='async function main(){ return "hello"; }'
SIGN='async function main(){ const w = new ethers.Wallet("0x0000000000000000000000000000000000000000000000000000000000000001"); return await w.signMessage("Chipotle Rocks!"); }'
SIG='0x32f33b786e068af9852b348d79b0470dcfc0d7e0de6ed92a2e0070c84f44f68454e37318ad9f80cc81f613217ed49de72012bf6cf02a3fef039ec234c5f35d151c'

FAILED=0

# start_server MODE -> sets URL and appends the pid to PIDS
start_server() {
  local mode="$1" out="$TMP/$1.out" line="" i
  node "$SERVER" --mode "$mode" --port 0 >"$out" 2>"$TMP/$mode.err" &
  PIDS+=("$!")
  for i in $(seq 1 100); do
    line="$(head -n 1 "$out" 2>/dev/null || true)"
    [[ "$line" == "listening on http://"* ]] && break
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      echo "FAIL [$mode] server exited early:" >&2
      cat "$TMP/$mode.err" >&2
      exit 1
    fi
    sleep 0.05
  done
  [[ "$line" == "listening on http://"* ]] || { echo "FAIL [$mode] server not ready" >&2; exit 1; }
  URL="${line#listening on }"
  URL="${URL%% *}"  # drop " (N processes)"
}

# check MODE NAME CODE EXPECTED_RESPONSE
check() {
  local mode="$1" name="$2" code="$3" expected="$4" body reply
  body="$(node -e 'process.stdout.write(JSON.stringify({code: process.argv[1]}))' "$code")"
  reply="$(curl -sS -X POST -H 'content-type: application/json' --data-binary "$body" \
    "$URL/core/v1/lit_action")"
  if node -e '
      const r = JSON.parse(process.argv[1]);
      process.exit(r.has_error === false && r.response === process.argv[2] ? 0 : 1);
    ' "$reply" "$expected"; then
    echo "ok   [$mode] $name"
  else
    echo "FAIL [$mode] $name: got $reply" >&2
    FAILED=1
  fi
}

# check_status MODE NAME BODY EXPECTED_STATUS
check_status() {
  local mode="$1" name="$2" body="$3" expected="$4" status
  status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' \
    --data-binary "$body" "$URL/core/v1/lit_action")"
  if [[ "$status" == "$expected" ]]; then
    echo "ok   [$mode] $name"
  else
    echo "FAIL [$mode] $name: status $status, expected $expected" >&2
    FAILED=1
  fi
}

for mode in isolated shared; do
  start_server "$mode"
  echo "[$mode] $URL"
  check "$mode" "hello world" "$HELLO" "hello"
  check "$mode" "ethers signMessage" "$SIGN" "$SIG"
  check "$mode" "ethers signMessage (cached code)" "$SIGN" "$SIG"
  check_status "$mode" "bad JSON -> 400" '{"code": ' 400
done

if [[ "$FAILED" -ne 0 ]]; then
  echo "smoke: FAILED" >&2
  exit 1
fi
echo "smoke: all checks passed"
