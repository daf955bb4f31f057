#!/usr/bin/env python3
"""Signs sealgrid orders with eth-account (PyPI), an independent wallet for the matcher's
interop tests.

stdin:  a JSON array of {key, chainId, verifyingContract, order}, integers as decimal strings
        or numbers.
stdout: a JSON array of 0x-prefixed 65-byte signatures, in order.
"""
import json
import sys

from eth_account import Account

ORDER = [
    {"name": "trader", "type": "address"},
    {"name": "market", "type": "bytes32"},
    {"name": "interval", "type": "uint64"},
    {"name": "side", "type": "uint8"},
    {"name": "quantityWh", "type": "uint64"},
    {"name": "limitPrice", "type": "int64"},
    {"name": "nonce", "type": "uint64"},
    {"name": "salt", "type": "bytes32"},
]
INTS = {"interval", "side", "quantityWh", "limitPrice", "nonce"}


def sign(r):
    message = {k: (int(v) if k in INTS else v) for k, v in r["order"].items()}
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": ORDER,
        },
        "primaryType": "Order",
        "domain": {
            "name": "sealgrid",
            "version": "1",
            "chainId": int(r["chainId"]),
            "verifyingContract": r["verifyingContract"],
        },
        "message": message,
    }
    signed = Account.sign_typed_data(r["key"], full_message=typed)
    return "0x" + signed.signature.hex().removeprefix("0x")


def main():
    try:
        print(json.dumps([sign(r) for r in json.load(sys.stdin)]))
    except Exception as e:  # noqa: BLE001 - a tool: report and exit non-zero
        print(f"sign_order.py: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
