#!/usr/bin/env bash
# Installs everything the project needs from the package registries, pinned, idempotently:
#   npm (package-lock.json): forge/anvil/cast 1.7.1, solc-js 0.8.37, OpenZeppelin 5.7,
#        account-abstraction 0.8, poseidon-solidity, circomlibjs and viem (test peers), and the
#        alto ERC-4337 bundler 0.0.20 (test peer; tools/alto/loopback.cjs keeps it on 127.0.0.1);
#   PyPI (requirements.txt): Slither, into .venv;
#   Debian: softhsm2 (the PKCS#11 token the sealgrid-keys tests create) and prometheus (promtool,
#        for the alert rules), when missing (apt-get, as root; otherwise it says what to install
#        and fails).
# Re-running does nothing when the lockfiles are unchanged.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

stamp() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

npm_stamp=$(stamp package.json package-lock.json)
if [ ! -f node_modules/.sealgrid-stamp ] || [ "$(cat node_modules/.sealgrid-stamp)" != "$npm_stamp" ]; then
  echo "setup: installing npm toolchain (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_stamp" > node_modules/.sealgrid-stamp
fi

py_stamp=$(stamp requirements.txt)
if [ ! -f .venv/.sealgrid-stamp ] || [ "$(cat .venv/.sealgrid-stamp)" != "$py_stamp" ]; then
  echo "setup: installing Python tools (requirements.txt) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$py_stamp" > .venv/.sealgrid-stamp
fi

# Debian packages the tests use as peers: softhsm2 (the PKCS#11 token the sealgrid-keys tests
# create) and prometheus (its promtool checks and unit-tests deploy/alerts/).
debian() { # COMMAND PACKAGE WHY
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: $2 is missing ($3): run" >&2
    echo "  sudo apt-get install -y --no-install-recommends $2" >&2
    exit 1
  fi
  echo "setup: installing $2 (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null; }
}
debian softhsm2-util softhsm2 "the PKCS#11 tests of crates/keys need it"
debian promtool prometheus "the alert-rule tests of deploy/alerts need promtool"

forge --version | head -1
solc --version | tail -1
