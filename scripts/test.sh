#!/usr/bin/env bash
# The project's whole test command (README): installs the pinned toolchain, then runs
# Solidity formatting, build, unit/fuzz/invariant tests, gas snapshots, Slither, the alert
# rules (promtool), and the
# Rust formatting, lints and tests (store tests on SQLite and on a local PostgreSQL). Exits non-zero on the first failure.
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
forge test --no-match-contract "AuctionGas|DeliveryGas|PaymasterGas"
step "gas snapshots (isolated transactions; fails if snapshots/*.json are stale)"
FOUNDRY_PROFILE=gas forge test --match-contract "AuctionGas|DeliveryGas|PaymasterGas"
step "slither (triage in slither.config.json)"
slither . --config-file slither.config.json
step "alert rules (promtool check and unit tests of deploy/alerts)"
promtool check rules deploy/alerts/sealgrid.rules.yml
promtool test rules deploy/alerts/sealgrid.test.yml
step "forge build (artifacts for the Rust tests; slither cleaned them)"
forge build
step "PostgreSQL for the store tests (scripts/pg.sh)"
eval "$("$ROOT/scripts/pg.sh" start)"
trap '"$ROOT/scripts/pg.sh" stop' EXIT
export SEALGRID_REQUIRE_PG=1 SEALGRID_REQUIRE_ARTIFACTS=1
step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked
step "demo (scripts/demo.sh on a fresh anvil, a 12-site feeder for 2 intervals; the README's main command runs all 180 sites)"
"$ROOT/scripts/demo.sh" --sites 12 --intervals 2
