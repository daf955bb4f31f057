//! Reading the vectors' JSON forms.

use std::path::{Path, PathBuf};
use std::process::Command;

use alloy_primitives::{Address, B256, U256};
use sealgrid_types::{MeterReading, Order, Receipt};
use serde_json::{Value, json};

/// The repository root (two levels above this crate).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// A vectors file as JSON.
pub(crate) fn vectors(name: &str) -> Value {
    let path = repo_root().join("contracts/test/vectors").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run node tools/vectors/generate.mjs)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A `node` command run from the repository root, after checking that node and the
/// repository's node_modules are there.
pub(crate) fn node() -> Command {
    let root = repo_root();
    for package in ["circomlibjs", "viem"] {
        assert!(
            root.join("node_modules").join(package).is_dir(),
            "node_modules/{package} is missing under {}: run scripts/setup.sh",
            root.display()
        );
    }
    let version = Command::new("node").arg("--version").output();
    assert!(
        matches!(&version, Ok(out) if out.status.success()),
        "`node` is not runnable ({version:?}): install Node.js (scripts/setup.sh)"
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(root);
    cmd
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
}

/// "0x.." hex (any length up to 64 digits) as U256.
pub(crate) fn u256(v: &Value) -> U256 {
    let s = str_of(v, "uint256");
    let hex = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("{s}: expected 0x hex"));
    U256::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// "0x" + 64 hex digits as B256.
pub(crate) fn b256(v: &Value) -> B256 {
    str_of(v, "bytes32")
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// "0x.." minimal hex as u64.
pub(crate) fn u64_hex(v: &Value) -> u64 {
    u64::try_from(u256(v)).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// A decimal string as i64.
pub(crate) fn i64_dec(v: &Value) -> i64 {
    str_of(v, "int64")
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// A small JSON number as T.
pub(crate) fn small<T: TryFrom<u64>>(v: &Value) -> T {
    let n = v
        .as_u64()
        .unwrap_or_else(|| panic!("{v}: expected a number"));
    T::try_from(n).unwrap_or_else(|_| panic!("{v}: out of range"))
}

pub(crate) fn address(v: &Value) -> Address {
    str_of(v, "address")
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

pub(crate) fn bytes(v: &Value) -> Vec<u8> {
    let s = str_of(v, "bytes");
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub(crate) fn order_from_json(v: &Value) -> Order {
    Order {
        trader: address(&v["trader"]),
        market: b256(&v["market"]),
        interval: u64_hex(&v["interval"]),
        side: small(&v["side"]),
        quantityWh: u64_hex(&v["quantityWh"]),
        limitPrice: i64_dec(&v["limitPrice"]),
        nonce: u64_hex(&v["nonce"]),
        salt: b256(&v["salt"]),
    }
}

pub(crate) fn order_to_json(o: &Order) -> Value {
    json!({
        "trader": o.trader.to_checksum(None),
        "market": o.market.to_string(),
        "interval": format!("{:#x}", o.interval),
        "side": o.side,
        "quantityWh": format!("{:#x}", o.quantityWh),
        "limitPrice": o.limitPrice.to_string(),
        "nonce": format!("{:#x}", o.nonce),
        "salt": o.salt.to_string(),
    })
}

pub(crate) fn receipt_from_json(v: &Value) -> Receipt {
    Receipt {
        market: b256(&v["market"]),
        interval: u64_hex(&v["interval"]),
        index: small(&v["index"]),
        commitment: b256(&v["commitment"]),
    }
}

pub(crate) fn receipt_to_json(r: &Receipt) -> Value {
    json!({
        "market": r.market.to_string(),
        "interval": format!("{:#x}", r.interval),
        "index": r.index,
        "commitment": r.commitment.to_string(),
    })
}

pub(crate) fn meter_reading_from_json(v: &Value) -> MeterReading {
    MeterReading {
        meterId: b256(&v["meterId"]),
        interval: u64_hex(&v["interval"]),
        importWh: u64_hex(&v["importWh"]),
        exportWh: u64_hex(&v["exportWh"]),
        quality: small(&v["quality"]),
        revision: small(&v["revision"]),
    }
}

pub(crate) fn meter_reading_to_json(m: &MeterReading) -> Value {
    json!({
        "meterId": m.meterId.to_string(),
        "interval": format!("{:#x}", m.interval),
        "importWh": format!("{:#x}", m.importWh),
        "exportWh": format!("{:#x}", m.exportWh),
        "quality": m.quality,
        "revision": m.revision,
    })
}

/// The elements of a JSON array (panics with the key name otherwise).
pub(crate) fn array<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}: expected an array"))
}
