#!/usr/bin/env bash
# Regenerates the ABIs the Rust bindings are generated from (crates/chain/abi) from forge's
# artifacts. crates/chain/tests/abi.rs fails when they are stale.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
forge build >/dev/null
for c in SealgridAuction EnergyIntentToken MeterRegistry DeliverySettlement GranularCertificates MarketPaymaster; do
  node -e 'const a=require(process.argv[1]);process.stdout.write(JSON.stringify(a.abi,null,1)+"\n")' \
    "$ROOT/out/$c.sol/$c.json" > "crates/chain/abi/$c.json"
done
echo "abi: crates/chain/abi updated"
