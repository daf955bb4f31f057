#!/usr/bin/env bash
# The main job (README): a local anvil, the real contracts, real EIP-712 signatures, one
# interval from commit to claim. Setup is included and idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" >/dev/null
forge build >/dev/null

PORT="${SEALGRID_DEMO_PORT:-$((20000 + RANDOM % 20000))}"
RPC="http://127.0.0.1:$PORT"
LOG="$(mktemp)"
anvil --host 127.0.0.1 --port "$PORT" --silent >"$LOG" 2>&1 &
ANVIL=$!
trap '[ -n "${SEALGRID_DEMO_KEEP:-}" ] || kill $ANVIL 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 50); do cast chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break; sleep 0.1; done
echo "demo: anvil on $RPC (chain $(cast chain-id --rpc-url "$RPC"))"

run() {
  local out
  if ! out=$(forge script deploy/Demo.s.sol:Demo --rpc-url "$RPC" --broadcast --slow \
    --sender 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "demo: forge script $2 failed" >&2
    exit 1
  fi
}
warp() { cast rpc --rpc-url "$RPC" evm_setNextBlockTimestamp "$1" >/dev/null; cast rpc --rpc-url "$RPC" evm_mine >/dev/null; }

echo "demo: deploying token, intent token, auction, timelock; creating market; bonding operator"
run --sig "deploy()"
# Addresses come from forge's broadcast record of the deploy run (the Poseidon libraries are
# deployed first through the CREATE2 factory, so deployer nonces are not a stable guide).
addr_of() {
  node -e 'const d=require(process.argv[1]);const t=d.transactions.find(t=>t.transactionType==="CREATE"&&t.contractName===process.argv[2]);if(!t){process.exit(1)}console.log(t.contractAddress)' \
    "$ROOT/broadcast/Demo.s.sol/$(cast chain-id --rpc-url "$RPC")/deploy-latest.json" "$1"
}
AUCTION=$(addr_of SealgridAuction)
TOKEN=$(addr_of MockERC20)
echo "demo: auction at $AUCTION"

NOW=$(cast block latest --rpc-url "$RPC" -f timestamp)
I=$(( (NOW + 300) / 300 + 1 ))
GATE=$(( I * 300 - 300 ))
echo "demo: interval $I, gate closure at $GATE, delivery from $(( I * 300 ))"
echo "demo: 4 traders sign EIP-712 orders and commit (2 bids, 2 asks)"
run --sig "commit(address,uint64)" "$AUCTION" "$I"
warp "$GATE"
echo "demo: gate closed; operator settles (p* = 110000 per kWh, V* = 40000 Wh)"
# settle checks gasleft() covers the market's verifier gas limit before the staticcall; forge
# sizes the tx from its simulation (where the test verifier is cheap), so give it headroom.
run --sig "settle(address,uint64)" "$AUCTION" "$I" --gas-estimate-multiplier 1500
warp $(( I * 300 ))
echo "demo: delivery started; batched claim"
run --sig "claim(address,uint64)" "$AUCTION" "$I"
for A in 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC 0x90F79bf6EB2c4f870365E785982E1f101E93b906 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65; do
  BAL=$(cast call "$AUCTION" "balanceOf(address,address)(uint256)" "$TOKEN" "$A" --rpc-url "$RPC" | awk '{print $1}')
  echo "demo: trader $A free balance in auction: $BAL"
done
echo "demo: interval $I settled and claimed"
