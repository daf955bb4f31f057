#!/usr/bin/env bash
# The main job (README): `sealgrid demo` — the pilot scenario (180 C&I sites with 12 MW of PV,
# 9 MWh of storage, an aggregator) on a local anvil with the contracts and halo2 verifiers
# deployed from deploy/config/local.toml: wallets commit and open EIP-712 orders to the matcher,
# the matcher clears at each gate, the prover proves, the submitter settles, claims run.
# Arguments go to `sealgrid demo` (e.g. --intervals 6 --start-hour 18). Setup is included and
# idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" >/dev/null
forge build >/dev/null
echo "demo: building sealgrid"
cargo build --locked --quiet -p sealgrid
exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/sealgrid" demo --root "$ROOT" "$@"
