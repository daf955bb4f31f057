#!/usr/bin/env node
// Recovers EIP-712 signers with viem, as an independent check of signatures made elsewhere
// (the Rust tests sign fresh random orders and compare).
//
// stdin:  a JSON array of requests
//           { chainId, verifyingContract, primaryType: "Order" | "Receipt" | "MeterReading",
//             message, signature }
//         with `message` in the vectors' JSON form (see generate.mjs: uint64 as "0x.." hex,
//         int64 as a decimal string, uint8/uint32 as numbers, bytes32 and addresses as hex).
// stdout: a JSON array of { signer, structHash, digest }, one per request, in order.
// Exit 2 if node_modules is missing, 1 on malformed input.

async function load(name) {
  try {
    return await import(name);
  } catch (e) {
    console.error(`cannot load ${name} (${e.code ?? e.message}): run scripts/setup.sh to install node_modules`);
    process.exit(2);
  }
}

const { hashStruct, hashTypedData, recoverTypedDataAddress } = await load("viem");
const { TYPES, domain, fromJson } = await import("./eip712-types.mjs");

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;

try {
  const requests = JSON.parse(input);
  if (!Array.isArray(requests)) throw new Error("expected a JSON array");
  const out = [];
  for (const req of requests) {
    if (!(req.primaryType in TYPES)) throw new Error(`unknown primaryType ${req.primaryType}`);
    const message = fromJson(req.primaryType, req.message);
    const typed = {
      domain: domain(req.chainId, req.verifyingContract),
      types: TYPES,
      primaryType: req.primaryType,
      message,
    };
    out.push({
      signer: await recoverTypedDataAddress({ ...typed, signature: req.signature }),
      structHash: hashStruct({ data: message, primaryType: req.primaryType, types: TYPES }),
      digest: hashTypedData(typed),
    });
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`verify-signature: ${e.message}`);
  process.exit(1);
}
