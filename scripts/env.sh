# Sourced by the other scripts: puts the project's pinned tools first on PATH.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export PATH="$ROOT/node_modules/@foundry-rs/forge-linux-amd64/bin:$ROOT/node_modules/@foundry-rs/anvil-linux-amd64/bin:$ROOT/node_modules/@foundry-rs/cast-linux-amd64/bin:$ROOT/tools/solc:$ROOT/.venv/bin:$PATH"
export FOUNDRY_DISABLE_NIGHTLY_WARNING=1
