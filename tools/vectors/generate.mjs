#!/usr/bin/env node
// Generates the shared test vectors in contracts/test/vectors/ with independent libraries
// (circomlibjs 0.1.7 for Poseidon, viem 2.57.20 for EIP-712 and signatures), following
// docs/encoding.md. The Rust tests (crates/types/tests/it) and the forge tests read them.
//
//   node tools/vectors/generate.mjs           write the files
//   node tools/vectors/generate.mjs --check   regenerate in memory; exit 1 if the files differ
//
// Everything is deterministic: fixed orders, fixed keys (anvil's well-known dev keys from the
// mnemonic "test test test test test test test test test test test junk"), and "random"
// values derived from keccak256 of fixed labels.
//
// Value formats (plain JSON; Solidity's vm.parseJson reads these files too):
//   - field elements, bytes32, hashes, commitments: "0x" + 64 lowercase hex digits;
//   - uint64 (interval, quantityWh, nonce, importWh, exportWh): "0x" + minimal hex ("0x0");
//   - int64 (limitPrice): decimal string, e.g. "-35";
//   - uint8 / uint32 (side, quality, index, revision) and chainId: JSON numbers;
//   - addresses: EIP-55 checksummed "0x" + 40 hex digits; signatures: "0x" + 130 hex digits
//     (r ‖ s ‖ v, v = 27 or 28).
//
// contracts/test/vectors/poseidon.json
//   fieldModulus            r
//   poseidon2[]             { inputs: [a, b], output }            circomlib poseidon([a, b])
//   poseidon3[]             { inputs: [a, b, c], output }         circomlib poseidon([a, b, c])
//   poseidon4[]             { inputs: [a, b, c, d], output }      circomlib poseidon([a, b, c, d])
//   outOfField[]            values >= r that every entry point must reject
//   commitments[]           { name, order, w0, w1, w2, w3, commitment }
//                           order = { trader, market, interval, side, quantityWh, limitPrice,
//                           nonce, salt }; commitment = poseidon([w0, w1, w2, w3])
//   rejectedOrders[]        { name, order, field }  orders whose `field` ("market" or "salt")
//                           is >= r: computing the commitment must fail
//   accumulator             { commitments: [c0, ...], committers: [a0, ...], locks: [l0, ...],
//                           accs: [acc1, ...] }  acc0 = 0,
//                           acc_{k+1} = poseidon([acc_k, c_k, uint160(a_k) | l_k << 160]) mod 2^224,
//                           l_k <= 2^93 - 1; accs[k] = acc_{k+1}
//
// contracts/test/vectors/eip712.json
//   chainId, verifyingContract, name ("sealgrid"), version ("1")
//   domainTypeHash          keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
//   domainSeparator
//   orderType, orderTypeHash, receiptType, receiptTypeHash, meterReadingType, meterReadingTypeHash
//   orders[]                { name, privateKey, signer, order, structHash, digest, signature }
//   receipt                 { privateKey, signer, receipt: { market, interval, index, commitment },
//                           structHash, digest, signature }
//   meterReading            { privateKey, signer, meterReading: { meterId, interval, importWh,
//                           exportWh, quality, revision }, structHash, digest, signature }

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OUT_DIR = join(ROOT, "contracts", "test", "vectors");

async function load(name) {
  try {
    return await import(name);
  } catch (e) {
    console.error(`cannot load ${name} (${e.code ?? e.message}): run scripts/setup.sh to install node_modules`);
    process.exit(2);
  }
}

const { buildPoseidon, buildPoseidonReference } = await load("circomlibjs");
const viem = await load("viem");
const { privateKeyToAccount } = await load("viem/accounts");
const { TYPES, TYPE_STRINGS, domain: sealgridDomain, toJson } = await import("./eip712-types.mjs");
// viem's EIP-712 type encoder (not re-exported from its index), to check the type strings.
const { encodeType } = await import(new URL("./utils/signature/hashTypedData.js", import.meta.resolve("viem")));

const { keccak256, toHex, stringToBytes, hashDomain, hashStruct, hashTypedData, getTypesForEIP712Domain,
  recoverTypedDataAddress, getAddress } = viem;

// ---------------------------------------------------------------------------------------------
// Constants and helpers

const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const U64_MAX = (1n << 64n) - 1n;
const MAX_QUANTITY_WH = (1n << 48n) - 1n;

const KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
];
const ACCOUNTS = KEYS.map((k) => privateKeyToAccount(k));
const CHAIN_ID = 31337;
// The address of the first contract anvil's account 0 deploys.
const VERIFYING_CONTRACT = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");

/** bigint -> "0x" + 64 hex digits. */
const word = (x) => {
  if (x < 0n || x >= 1n << 256n) throw new Error(`not a uint256: ${x}`);
  return `0x${x.toString(16).padStart(64, "0")}`;
};
/** A deterministic pseudo-random value below r, derived from a label. */
const fieldFrom = (label) => BigInt(keccak256(stringToBytes(`sealgrid-vectors/${label}`))) % R;
const u64 = (x) => BigInt.asUintN(64, x);

const poseidon = await buildPoseidon();
const poseidonRef = await buildPoseidonReference();
/** circomlib Poseidon over bigints, cross-checked against circomlibjs' reference implementation. */
function H(inputs) {
  for (const x of inputs) if (x < 0n || x >= R) throw new Error(`input not in field: ${x}`);
  const fast = poseidon.F.toObject(poseidon(inputs));
  const ref = poseidonRef.F.toObject(poseidonRef(inputs));
  if (fast !== ref) throw new Error(`circomlibjs wasm and reference Poseidon disagree on ${inputs}`);
  return fast;
}

// ---------------------------------------------------------------------------------------------
// Orders

/** docs/encoding.md "Order commitment", written independently of the Rust code. */
function orderWords(o) {
  const market = BigInt(o.market);
  const salt = BigInt(o.salt);
  if (market >= R) throw new Error("market not in field");
  if (salt >= R) throw new Error("salt not in field");
  const w0 = BigInt(o.trader) | (o.nonce << 160n);
  const priceOffset = u64(o.limitPrice) ^ (1n << 63n); // == limitPrice + 2^63
  if (priceOffset !== o.limitPrice + (1n << 63n)) throw new Error("offset binary mismatch");
  const w2 = o.interval | (o.quantityWh << 64n) | (priceOffset << 128n) | (BigInt(o.side) << 192n);
  return [w0, market, w2, salt];
}

function checkOrder(o) {
  if (o.interval < 0n || o.interval > U64_MAX || o.nonce < 0n || o.nonce > U64_MAX) throw new Error("u64");
  if (o.quantityWh < 0n || o.quantityWh > U64_MAX) throw new Error("u64");
  if (o.limitPrice < -(1n << 63n) || o.limitPrice >= 1n << 63n) throw new Error("i64");
  return o;
}

const marketA = word(fieldFrom("market/feeder-7"));
const marketB = word(fieldFrom("market/zone-north"));

// [name, account index or an address, order fields without trader]. Orders whose trader is an
// account are also signed in eip712.json.
const ORDER_CASES = [
  ["buy-positive-price", 0, { market: marketA, interval: 5_900_000n, side: 0, quantityWh: 1_500n, limitPrice: 120n, nonce: 0n, salt: word(fieldFrom("salt/0")) }],
  ["sell-negative-price", 1, { market: marketA, interval: 5_900_000n, side: 1, quantityWh: 2_500n, limitPrice: -35n, nonce: 1n, salt: word(R - 1n) }],
  ["buy-negative-price", 2, { market: marketA, interval: 5_900_000n, side: 0, quantityWh: 999n, limitPrice: -1n, nonce: 7n, salt: word(R - 2n) }],
  ["sell-max-quantity", 3, { market: word(R - 1n), interval: 5_900_001n, side: 1, quantityWh: MAX_QUANTITY_WH, limitPrice: 3_000n, nonce: 42n, salt: word(fieldFrom("salt/3")) }],
  ["buy-zero-price", 4, { market: marketB, interval: 1n, side: 0, quantityWh: 1n, limitPrice: 0n, nonce: 0n, salt: word(0n) }],
  ["extreme-u64-and-price-min", 5, { market: word(0n), interval: U64_MAX, side: 1, quantityWh: 1n, limitPrice: -(1n << 63n), nonce: U64_MAX, salt: word(R - 1n) }],
  ["price-max", 0, { market: marketB, interval: 6_000_000n, side: 0, quantityWh: 10_000n, limitPrice: (1n << 63n) - 1n, nonce: 3n, salt: word(fieldFrom("salt/6")) }],
  ["trader-all-ones", getAddress("0xffffffffffffffffffffffffffffffffffffffff"), { market: marketB, interval: 6_000_000n, side: 1, quantityWh: 777n, limitPrice: -500n, nonce: U64_MAX, salt: word(fieldFrom("salt/7")) }],
  ["all-zero-fields", getAddress("0x0000000000000000000000000000000000000000"), { market: marketA, interval: 0n, side: 0, quantityWh: 0n, limitPrice: 0n, nonce: 0n, salt: word(0n) }],
];

const orders = ORDER_CASES.map(([name, who, fields]) => {
  const signer = typeof who === "number" ? ACCOUNTS[who] : null;
  const trader = signer ? signer.address : who;
  return { name, key: signer ? KEYS[who] : null, order: checkOrder({ trader, ...fields }) };
});

const commitments = orders.map(({ name, order }) => {
  const w = orderWords(order);
  return {
    name,
    order: toJson("Order", order),
    w0: word(w[0]),
    w1: word(w[1]),
    w2: word(w[2]),
    w3: word(w[3]),
    commitment: word(H(w)),
  };
});

const base = orders[0].order;
const rejectedOrders = [
  ["market-equals-r", "market", { market: word(R) }],
  ["salt-equals-r", "salt", { salt: word(R) }],
  ["salt-all-ones", "salt", { salt: word((1n << 256n) - 1n) }],
  ["market-r-plus-one", "market", { market: word(R + 1n) }],
].map(([name, field, patch]) => {
  const order = { ...base, ...patch };
  let rejected = false;
  try {
    orderWords(order);
  } catch {
    rejected = true;
  }
  if (!rejected) throw new Error(`${name} was not rejected`);
  return { name, order: toJson("Order", order), field };
});

// Accumulator over the commitments in order, each with the account that committed it and its
// lock, plus one repeated commitment (a commitment may appear twice in a sequence, here copied
// by another account; the accumulator still changes).
const MAX_LOCK = (1n << 93n) - 1n;
const chain = [...commitments.map((c) => BigInt(c.commitment)), BigInt(commitments[0].commitment)];
const committers = chain.map((_, k) =>
  k === chain.length - 1 ? getAddress("0xffffffffffffffffffffffffffffffffffffffff") : ACCOUNTS[k % ACCOUNTS.length].address,
);
const locks = chain.map((_, k) => (k === 0 ? 0n : k === chain.length - 1 ? MAX_LOCK : BigInt(k) * 1_000_003n));
const binding = (committer, lock) => {
  if (lock < 0n || lock > MAX_LOCK) throw new Error(`lock out of range: ${lock}`);
  return BigInt(committer) | (lock << 160n);
};
let acc = 0n;
// Each step keeps the low 224 bits of the hash (the auction stores the accumulator beside the
// commitment count in one slot: uint224 | uint32).
const ACC_MASK = (1n << 224n) - 1n;
const accs = chain.map((c, k) => (acc = H([acc, c, binding(committers[k], locks[k])]) & ACC_MASK));

// ---------------------------------------------------------------------------------------------
// Poseidon input/output cases

const poseidon2Inputs = [
  [0n, 0n],
  [1n, 2n],
  [2n, 1n],
  [R - 1n, R - 1n],
  [R - 1n, 0n],
  [(1n << 160n) - 1n, (1n << 224n) - 1n],
  ...[0, 1, 2, 3].map((i) => [fieldFrom(`p2/${i}/a`), fieldFrom(`p2/${i}/b`)]),
];
const poseidon3Inputs = [
  [0n, 0n, 0n],
  [1n, 2n, 3n],
  [R - 1n, R - 1n, R - 1n],
  [(1n << 160n) - 1n, R - 1n, binding(getAddress("0xffffffffffffffffffffffffffffffffffffffff"), MAX_LOCK)],
  ...[0, 1, 2].map((i) => [0, 1, 2].map((j) => fieldFrom(`p3/${i}/${j}`))),
];
const poseidon4Inputs = [
  [0n, 0n, 0n, 0n],
  [1n, 2n, 3n, 4n],
  [R - 1n, R - 1n, R - 1n, R - 1n],
  [R - 1n, 0n, 1n, R - 2n],
  ...[0, 1, 2].map((i) => [0, 1, 2, 3].map((j) => fieldFrom(`p4/${i}/${j}`))),
];
const KNOWN = {
  "1,2": 0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189an,
};
const poseidon2 = poseidon2Inputs.map((inputs) => {
  const output = H(inputs);
  const known = KNOWN[inputs.join(",")];
  if (known !== undefined && known !== output) throw new Error("known Poseidon vector mismatch");
  return { inputs: inputs.map(word), output: word(output) };
});
const KNOWN3 = { "1,2,3": 0x0e7732d89e6939c0ff03d5e58dab6302f3230e269dc5b968f725df34ab36d732n };
const poseidon3 = poseidon3Inputs.map((inputs) => {
  const output = H(inputs);
  const known = KNOWN3[inputs.join(",")];
  if (known !== undefined && known !== output) throw new Error("known Poseidon vector mismatch");
  return { inputs: inputs.map(word), output: word(output) };
});
const poseidon4 = poseidon4Inputs.map((inputs) => ({ inputs: inputs.map(word), output: word(H(inputs)) }));

const poseidonJson = {
  fieldModulus: word(R),
  poseidon2,
  poseidon3,
  poseidon4,
  outOfField: [R, R + 1n, (1n << 256n) - 1n].map(word),
  commitments,
  rejectedOrders,
  accumulator: {
    commitments: chain.map(word),
    committers,
    locks: locks.map((l) => `0x${l.toString(16)}`),
    accs: accs.map(word),
  },
};

// ---------------------------------------------------------------------------------------------
// EIP-712

const dom = sealgridDomain(CHAIN_ID, VERIFYING_CONTRACT);
const domainTypes = { EIP712Domain: getTypesForEIP712Domain({ domain: dom }) };
const domainType = encodeType({ primaryType: "EIP712Domain", types: domainTypes });
if (domainType !== "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)") {
  throw new Error(`unexpected domain type ${domainType}`);
}
for (const t of Object.keys(TYPES)) {
  const encoded = encodeType({ primaryType: t, types: TYPES });
  if (encoded !== TYPE_STRINGS[t]) throw new Error(`type string of ${t} differs from encoding.md: ${encoded}`);
}
const typeHash = (t) => keccak256(stringToBytes(encodeType({ primaryType: t, types: TYPES })));

async function signed(primaryType, key, message) {
  const account = privateKeyToAccount(key);
  const typed = { domain: dom, types: TYPES, primaryType, message };
  const signature = await account.signTypedData(typed);
  const recovered = await recoverTypedDataAddress({ ...typed, signature });
  if (recovered !== account.address) throw new Error(`viem recovered ${recovered} for ${primaryType}`);
  return {
    structHash: hashStruct({ data: message, primaryType, types: TYPES }),
    digest: hashTypedData(typed),
    signature,
    signer: account.address,
  };
}

const signedOrders = [];
for (const { name, key, order } of orders) {
  if (!key) continue;
  const s = await signed("Order", key, order);
  signedOrders.push({ name, privateKey: key, signer: s.signer, order: toJson("Order", order), structHash: s.structHash, digest: s.digest, signature: s.signature });
}

const receiptMsg = { market: marketA, interval: 5_900_000n, index: 7, commitment: commitments[1].commitment };
const r = await signed("Receipt", KEYS[4], receiptMsg);
const meterMsg = {
  meterId: keccak256(stringToBytes("sealgrid-vectors/meter/site-42/main")),
  interval: 5_900_000n,
  importWh: 1_234n,
  exportWh: 5_678n,
  quality: 1,
  revision: 2,
};
const m = await signed("MeterReading", KEYS[5], meterMsg);

const eip712Json = {
  chainId: CHAIN_ID,
  verifyingContract: VERIFYING_CONTRACT,
  name: "sealgrid",
  version: "1",
  domainTypeHash: keccak256(stringToBytes(domainType)),
  domainSeparator: hashDomain({ domain: dom, types: domainTypes }),
  orderType: TYPE_STRINGS.Order,
  orderTypeHash: typeHash("Order"),
  receiptType: TYPE_STRINGS.Receipt,
  receiptTypeHash: typeHash("Receipt"),
  meterReadingType: TYPE_STRINGS.MeterReading,
  meterReadingTypeHash: typeHash("MeterReading"),
  orders: signedOrders,
  receipt: { privateKey: KEYS[4], signer: r.signer, receipt: toJson("Receipt", receiptMsg), structHash: r.structHash, digest: r.digest, signature: r.signature },
  meterReading: { privateKey: KEYS[5], signer: m.signer, meterReading: toJson("MeterReading", meterMsg), structHash: m.structHash, digest: m.digest, signature: m.signature },
};

// ---------------------------------------------------------------------------------------------
// Output

const files = {
  "poseidon.json": `${JSON.stringify(poseidonJson, null, 2)}\n`,
  "eip712.json": `${JSON.stringify(eip712Json, null, 2)}\n`,
};

if (process.argv.includes("--check")) {
  let stale = 0;
  for (const [file, text] of Object.entries(files)) {
    const path = join(OUT_DIR, file);
    let current = null;
    try {
      current = readFileSync(path, "utf8");
    } catch {}
    if (current !== text) {
      console.error(`${path} is ${current === null ? "missing" : "stale"}: run node tools/vectors/generate.mjs`);
      stale += 1;
    }
  }
  if (stale === 0) console.log("vectors are current");
  process.exit(stale === 0 ? 0 : 1);
} else {
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(OUT_DIR, file), text);
  console.log(`wrote ${Object.keys(files).map((f) => join("contracts/test/vectors", f)).join(", ")}`);
  // circomlibjs keeps worker threads alive.
  process.exit(0);
}
