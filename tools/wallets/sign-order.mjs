#!/usr/bin/env node
// Signs sealgrid orders with viem's local account, exactly as a browser wallet's
// eth_signTypedData_v4 would: an independent wallet for the matcher's interop tests.
//
// stdin:  a JSON array of { key, chainId, verifyingContract, order } with the order's integers
//         as decimal strings or numbers.
// stdout: a JSON array of 0x-prefixed 65-byte signatures, in order.
import { privateKeyToAccount } from "viem/accounts";
import { TYPES, domain, fromJson } from "../vectors/eip712-types.mjs";

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
try {
  const out = [];
  for (const r of JSON.parse(input)) {
    const account = privateKeyToAccount(r.key);
    out.push(
      await account.signTypedData({
        domain: domain(r.chainId, r.verifyingContract),
        types: { Order: TYPES.Order },
        primaryType: "Order",
        message: fromJson("Order", r.order),
      }),
    );
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`sign-order: ${e.message}`);
  process.exit(1);
}
