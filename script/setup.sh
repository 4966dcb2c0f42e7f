#!/usr/bin/env bash
# Installs everything lit-node needs to build and test, into the project (idempotent, quiet when
# nothing changes):
#   - Debian packages the Rust build needs (libclang-dev for rocksdb's bindgen),
#   - Foundry (forge, anvil, cast), solcjs, OpenZeppelin and test-only JS packages from the npm
#     registry, pinned by script/tools/package-lock.json, into .tools/ (git-ignored),
#   - Python test tools (the OpenAPI validator, schemathesis), pinned by script/tools/requirements.txt.
# forge compiles through script/solc, a solc-compatible front for solcjs, so nothing is downloaded
# from outside the package registries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages ----------------------------------------------------------------------------
apt_packages=(libclang-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- npm tools (pinned by the committed lock file) -----------------------------------------------
mkdir -p "$tools"
if ! cmp -s "$root/script/tools/package-lock.json" "$tools/package-lock.json" \
  || ! cmp -s "$root/script/tools/package.json" "$tools/package.json" \
  || [ ! -x "$tools/node_modules/.bin/forge" ]; then
  say "installing pinned npm tools into .tools/"
  cp "$root/script/tools/package.json" "$root/script/tools/package-lock.json" "$tools/"
  # `npm ci` rejects Foundry's platform-specific optional packages; `npm install` against the
  # committed lock installs exactly the locked versions (checked below). Install scripts are not
  # needed: the binaries ship in the -linux-amd64 packages.
  (cd "$tools" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null 2>"$tools/npm.log") \
    || { cat "$tools/npm.log" >&2; exit 1; }
  if ! cmp -s "$root/script/tools/package-lock.json" "$tools/package-lock.json"; then
    say "npm changed the lock file: script/tools/package-lock.json is out of date"; exit 1
  fi
fi

for tool in forge anvil cast; do
  "$tools/node_modules/.bin/$tool" --version >/dev/null 2>&1 || { say "$tool does not run"; exit 1; }
done

# --- Python tools (pinned by script/tools/requirements.txt) --------------------------------------
venv="$tools/venv"
if ! cmp -s "$root/script/tools/requirements.txt" "$venv/requirements.txt" \
  || [ ! -x "$venv/bin/openapi-spec-validator" ] || [ ! -x "$venv/bin/schemathesis" ]; then
  say "installing pinned Python tools into .tools/venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/script/tools/requirements.txt" \
    >"$tools/pip.log" 2>&1 || { cat "$tools/pip.log" >&2; exit 1; }
  cp "$root/script/tools/requirements.txt" "$venv/requirements.txt"
fi
