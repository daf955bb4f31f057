// sealgrid's EIP-712 types for viem, written from docs/encoding.md, and the conversion of the
// vectors' JSON form of a message into viem's (bigint for 64-bit integers). Shared by
// generate.mjs and verify-signature.mjs.

/** EIP-712 type definitions (viem's `types` parameter). */
export const TYPES = {
  Order: [
    { name: "trader", type: "address" },
    { name: "market", type: "bytes32" },
    { name: "interval", type: "uint64" },
    { name: "side", type: "uint8" },
    { name: "quantityWh", type: "uint64" },
    { name: "limitPrice", type: "int64" },
    { name: "nonce", type: "uint64" },
    { name: "salt", type: "bytes32" },
  ],
  Receipt: [
    { name: "market", type: "bytes32" },
    { name: "interval", type: "uint64" },
    { name: "index", type: "uint32" },
    { name: "commitment", type: "bytes32" },
  ],
  MeterReading: [
    { name: "meterId", type: "bytes32" },
    { name: "interval", type: "uint64" },
    { name: "importWh", type: "uint64" },
    { name: "exportWh", type: "uint64" },
    { name: "quality", type: "uint8" },
    { name: "revision", type: "uint32" },
  ],
};

/** The type strings exactly as docs/encoding.md writes them. */
export const TYPE_STRINGS = {
  Order:
    "Order(address trader,bytes32 market,uint64 interval,uint8 side,uint64 quantityWh,int64 limitPrice,uint64 nonce,bytes32 salt)",
  Receipt: "Receipt(bytes32 market,uint64 interval,uint32 index,bytes32 commitment)",
  MeterReading:
    "MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)",
};

/** The sealgrid domain: name "sealgrid", version "1". */
export function domain(chainId, verifyingContract) {
  return { name: "sealgrid", version: "1", chainId: BigInt(chainId), verifyingContract };
}

/**
 * A message from the vectors' JSON form (64-bit integers as "0x.." hex strings, signed
 * integers as decimal strings, small integers as numbers, bytes32 and addresses as hex) to
 * viem's form (bigint for every integer type wider than 32 bits).
 */
export function fromJson(primaryType, json) {
  const out = {};
  for (const { name, type } of TYPES[primaryType]) {
    const v = json[name];
    if (v === undefined) throw new Error(`${primaryType}.${name} is missing`);
    if (type === "uint64" || type === "int64") out[name] = BigInt(v);
    else if (type === "uint8" || type === "uint32") out[name] = Number(v);
    else out[name] = v;
  }
  return out;
}

/** The JSON form of a viem message (the inverse of fromJson). */
export function toJson(primaryType, message) {
  const out = {};
  for (const { name, type } of TYPES[primaryType]) {
    const v = message[name];
    if (type === "uint64") out[name] = `0x${BigInt(v).toString(16)}`;
    else if (type === "int64") out[name] = BigInt(v).toString(10);
    else if (type === "uint8" || type === "uint32") out[name] = Number(v);
    else out[name] = v;
  }
  return out;
}
