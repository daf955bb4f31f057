//! Checks that run the Node tools: vectors are current, viem recovers our signatures.

use std::io::Write;
use std::process::Stdio;

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolStruct;
use rand::Rng;
use sealgrid_types::{
    FIELD_MODULUS, MeterReading, Order, Receipt, sealgrid_domain, sign_order, sign_struct,
};
use serde_json::{Value, json};

use crate::util::{address, b256, meter_reading_to_json, node, order_to_json, receipt_to_json};

/// The committed vectors equal what `generate.mjs` produces now.
#[test]
fn vectors_are_current() {
    let out = node()
        .args(["tools/vectors/generate.mjs", "--check"])
        .output()
        .expect("run node tools/vectors/generate.mjs --check");
    assert!(
        out.status.success(),
        "generate.mjs --check failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn random_field(rng: &mut impl Rng) -> B256 {
    B256::from(U256::from_be_bytes(rng.random::<[u8; 32]>()) % FIELD_MODULUS)
}

/// Runs verify-signature.mjs over `requests`; returns its answers.
fn viem_recover(requests: &Value) -> Vec<Value> {
    let mut child = node()
        .arg("tools/vectors/verify-signature.mjs")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node tools/vectors/verify-signature.mjs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(requests.to_string().as_bytes())
        .expect("write requests");
    let out = child.wait_with_output().expect("wait for node");
    assert!(
        out.status.success(),
        "verify-signature.mjs failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    answers.as_array().expect("array answer").clone()
}

/// Fresh random orders (and a receipt and a reading) signed by our signer: viem recovers the
/// same address and computes the same struct hash and digest.
#[test]
fn viem_recovers_our_signatures() {
    let mut rng = rand::rng();
    let chain_id: u64 = rng.random_range(1..=u64::from(u32::MAX));
    let contract = Address::from(rng.random::<[u8; 20]>());
    let domain = sealgrid_domain(chain_id, contract);

    let mut requests = Vec::new();
    let mut expected: Vec<(Address, B256, B256)> = Vec::new();
    for _ in 0..6 {
        let signer = PrivateKeySigner::random();
        let order = Order {
            trader: signer.address(),
            market: random_field(&mut rng),
            interval: rng.random(),
            side: rng.random_range(0..=1),
            quantityWh: rng.random_range(1..=sealgrid_types::MAX_QUANTITY_WH),
            limitPrice: rng.random(),
            nonce: rng.random(),
            salt: random_field(&mut rng),
        };
        let signature = sign_order(&signer, &order, &domain).expect("sign");
        requests.push(json!({
            "chainId": chain_id,
            "verifyingContract": contract.to_checksum(None),
            "primaryType": "Order",
            "message": order_to_json(&order),
            "signature": format!("0x{}", hex::encode(signature)),
        }));
        expected.push((
            signer.address(),
            order.eip712_hash_struct(),
            order.eip712_signing_hash(&domain),
        ));
    }

    let operator = PrivateKeySigner::random();
    let receipt = Receipt {
        market: random_field(&mut rng),
        interval: rng.random(),
        index: rng.random(),
        commitment: random_field(&mut rng),
    };
    let signature = sign_struct(&operator, &receipt, &domain).expect("sign");
    requests.push(json!({
        "chainId": chain_id,
        "verifyingContract": contract.to_checksum(None),
        "primaryType": "Receipt",
        "message": receipt_to_json(&receipt),
        "signature": format!("0x{}", hex::encode(signature)),
    }));
    expected.push((
        operator.address(),
        receipt.eip712_hash_struct(),
        receipt.eip712_signing_hash(&domain),
    ));

    let gateway = PrivateKeySigner::random();
    let reading = MeterReading {
        meterId: B256::from(rng.random::<[u8; 32]>()),
        interval: rng.random(),
        importWh: rng.random(),
        exportWh: rng.random(),
        quality: rng.random_range(0..=2),
        revision: rng.random(),
    };
    let signature = sign_struct(&gateway, &reading, &domain).expect("sign");
    requests.push(json!({
        "chainId": chain_id,
        "verifyingContract": contract.to_checksum(None),
        "primaryType": "MeterReading",
        "message": meter_reading_to_json(&reading),
        "signature": format!("0x{}", hex::encode(signature)),
    }));
    expected.push((
        gateway.address(),
        reading.eip712_hash_struct(),
        reading.eip712_signing_hash(&domain),
    ));

    let answers = viem_recover(&Value::Array(requests));
    assert_eq!(answers.len(), expected.len());
    for (answer, (signer, struct_hash, digest)) in answers.iter().zip(expected) {
        assert_eq!(address(&answer["signer"]), signer, "{answer}");
        assert_eq!(b256(&answer["structHash"]), struct_hash, "{answer}");
        assert_eq!(b256(&answer["digest"]), digest, "{answer}");
    }
}
