//! eip712.json: type hashes, domain separator, struct hashes, digests and signatures.

use alloy_primitives::keccak256;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct};
use sealgrid_types::{
    METER_READING_TYPE, MeterReading, ORDER_TYPE, Order, RECEIPT_TYPE, Receipt,
    recover_order_signer, recover_struct_signer, sealgrid_domain, sign_order, sign_struct,
};
use serde_json::Value;

use crate::util::{
    address, array, b256, bytes, meter_reading_from_json, order_from_json, receipt_from_json,
    small, vectors,
};

fn domain(v: &Value) -> Eip712Domain {
    sealgrid_domain(small(&v["chainId"]), address(&v["verifyingContract"]))
}

fn signer(case: &Value) -> PrivateKeySigner {
    let key = case["privateKey"].as_str().expect("privateKey");
    let signer: PrivateKeySigner = key.parse().expect("valid key");
    assert_eq!(signer.address(), address(&case["signer"]));
    signer
}

/// Struct hash, digest, recovery and byte-identical signing of one signed case.
fn check_signed<T: SolStruct>(v: &Value, case: &Value, value: &T) {
    let domain = domain(v);
    assert_eq!(value.eip712_hash_struct(), b256(&case["structHash"]));
    assert_eq!(value.eip712_signing_hash(&domain), b256(&case["digest"]));
    let expected = bytes(&case["signature"]);
    assert_eq!(
        recover_struct_signer(value, &domain, &expected).expect("viem's signature recovers"),
        address(&case["signer"])
    );
    let ours = sign_struct(&signer(case), value, &domain).expect("sign");
    assert_eq!(
        ours.as_slice(),
        expected.as_slice(),
        "our signature differs from viem's"
    );
}

#[test]
fn type_strings_and_hashes() {
    let v = vectors("eip712.json");
    assert_eq!(v["orderType"], ORDER_TYPE);
    assert_eq!(v["receiptType"], RECEIPT_TYPE);
    assert_eq!(v["meterReadingType"], METER_READING_TYPE);
    assert_eq!(keccak256(ORDER_TYPE), b256(&v["orderTypeHash"]));
    assert_eq!(keccak256(RECEIPT_TYPE), b256(&v["receiptTypeHash"]));
    assert_eq!(
        keccak256(METER_READING_TYPE),
        b256(&v["meterReadingTypeHash"])
    );
    assert_eq!(Order::eip712_encode_type(), ORDER_TYPE);
    assert_eq!(Receipt::eip712_encode_type(), RECEIPT_TYPE);
    assert_eq!(MeterReading::eip712_encode_type(), METER_READING_TYPE);
}

#[test]
fn domain_separator() {
    let v = vectors("eip712.json");
    assert_eq!(v["name"], "sealgrid");
    assert_eq!(v["version"], "1");
    assert_eq!(
        keccak256(
            "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
        ),
        b256(&v["domainTypeHash"])
    );
    assert_eq!(domain(&v).separator(), b256(&v["domainSeparator"]));
}

#[test]
fn orders() {
    let v = vectors("eip712.json");
    let cases = array(&v, "orders");
    assert!(cases.len() >= 4);
    for case in cases {
        let order = order_from_json(&case["order"]);
        assert_eq!(order.trader, address(&case["signer"]), "{}", case["name"]);
        assert_eq!(order.eip712_type_hash(), b256(&v["orderTypeHash"]));
        check_signed(&v, case, &order);
        let sig = bytes(&case["signature"]);
        assert_eq!(
            recover_order_signer(&order, &domain(&v), &sig).expect("recover"),
            order.trader
        );
        assert_eq!(
            sign_order(&signer(case), &order, &domain(&v))
                .expect("sign")
                .as_slice(),
            sig
        );
    }
}

#[test]
fn receipt() {
    let v = vectors("eip712.json");
    let case = &v["receipt"];
    let receipt = receipt_from_json(&case["receipt"]);
    assert_eq!(receipt.eip712_type_hash(), b256(&v["receiptTypeHash"]));
    check_signed(&v, case, &receipt);
}

#[test]
fn meter_reading() {
    let v = vectors("eip712.json");
    let case = &v["meterReading"];
    let reading = meter_reading_from_json(&case["meterReading"]);
    assert_eq!(reading.eip712_type_hash(), b256(&v["meterReadingTypeHash"]));
    check_signed(&v, case, &reading);
}
