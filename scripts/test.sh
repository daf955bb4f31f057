#!/usr/bin/env bash
# The project's whole test command (README): installs the pinned toolchain, then runs
# Solidity formatting, build, unit/fuzz/invariant tests, gas snapshots, Slither, and the
# Rust formatting, lints and tests. Exits non-zero on the first failure.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"

step() { printf '\n==> %s\n' "$*"; }

step "forge fmt --check"
forge fmt --check
step "forge build"
forge build
step "forge test (unit, fuzz, invariants: profile ${FOUNDRY_PROFILE:-default})"
forge test --no-match-contract AuctionGas
step "gas snapshots (isolated transactions; fails if snapshots/AuctionGas.json is stale)"
FOUNDRY_PROFILE=gas forge test --match-contract AuctionGas
step "slither (triage in slither.config.json)"
slither . --config-file slither.config.json
step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked
step "demo (scripts/demo.sh end to end on a fresh anvil)"
SEALGRID_DEMO_PORT= "$ROOT/scripts/demo.sh"
