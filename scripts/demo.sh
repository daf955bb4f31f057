#!/usr/bin/env bash
# The main job (README): `sealgrid demo` — a local anvil with the real contracts; four traders
# commit on-chain and open EIP-712-signed orders to the matcher over HTTP; the matcher clears at
# the gate; the operator settles on-chain and claims every fill. Setup is included and
# idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" >/dev/null
forge build >/dev/null
echo "demo: building sealgrid"
cargo build --locked --quiet -p sealgrid
exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/sealgrid" demo --root "$ROOT"
