//! Real proofs: native verification, the checked-in generated verifier in revm, tampering, and
//! the checked-in verifiers being current.
#![allow(missing_docs)]

mod common;

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256};
use common::*;
use sealgrid_prover::evm::{self, EvmVerifier};
use sealgrid_prover::params::{ParamsSource, default_cache_dir};
use sealgrid_prover::{Fr, Witness, capacity, keys};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn source() -> ParamsSource {
    ParamsSource::Insecure(default_cache_dir())
}

fn checked_in_verifier(slots: usize) -> EvmVerifier {
    let src = std::fs::read_to_string(root().join(evm::verifier_path(slots)))
        .expect("checked-in verifier");
    let stages = evm::compile(&src, &root().join("tools/solc/solc")).expect("solc");
    assert!(stages.len() > 1, "the {slots}-slot verifier is staged");
    EvmVerifier::deploy(&stages).expect("every stage deploys under EIP-170")
}

#[test]
fn proofs_verify_natively_and_in_revm() {
    let cap = capacity(4).expect("capacity");
    let params = source().get(cap.k).expect("params");
    let keys = keys::keygen(&params, cap.slots).expect("keygen");
    let mut evm = checked_in_verifier(cap.slots);
    let wanted = [
        "crossing",
        "tie with leftover",
        "negative prices",
        "one-sided",
        "all excluded",
    ];
    for (name, b) in named_batches()
        .into_iter()
        .filter(|(n, _)| wanted.contains(n))
    {
        let w = Witness::new(&b).expect("witness");
        let proof = keys::prove(&params, &keys, &w).expect("prove");
        assert_eq!(
            proof.instances,
            w.statement.instances(cap.slots).expect("instances")
        );
        assert!(
            keys::verify(&params, keys.vk(), &proof.instances, &proof.bytes),
            "{name}: native"
        );
        let gas = evm
            .verify(&proof.instances, &proof.bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        println!(
            "{name}: proof {} bytes, verifier gas {gas}",
            proof.bytes.len()
        );
        assert!(gas < 700_000, "{name}: {gas} gas");

        // Another statement with the same proof: the price, one fill word, the accumulator.
        for i in [6usize, 8, 2] {
            let mut bad = proof.instances.clone();
            bad[i] += Fr::from(1u64);
            assert!(
                !keys::verify(&params, keys.vk(), &bad, &proof.bytes),
                "{name}: instance {i}"
            );
            assert!(
                evm.verify(&bad, &proof.bytes).is_err(),
                "{name}: revm instance {i}"
            );
        }
        let mut corrupt = proof.bytes.clone();
        corrupt[100] ^= 1;
        assert!(
            !keys::verify(&params, keys.vk(), &proof.instances, &corrupt),
            "{name}: corrupt"
        );
        assert!(
            evm.verify(&proof.instances, &corrupt).is_err(),
            "{name}: revm corrupt"
        );
    }

    // A wrong statement proven with a correct witness does not verify.
    let w = Witness::new(&named_batches().swap_remove(0).1).expect("witness");
    let forged =
        keys::prove_with(&params, &keys, &w, |inst| inst[6] += Fr::from(1u64)).expect("prove");
    assert!(!keys::verify(
        &params,
        keys.vk(),
        &forged.instances,
        &forged.bytes
    ));
    assert!(evm.verify(&forged.instances, &forged.bytes).is_err());
}

/// The checked-in verifiers are exactly what `sealgrid prover export-verifier` generates now.
#[test]
fn checked_in_verifiers_are_current() {
    for &slots in evm::CHECKED_IN {
        let generated = evm::export_verifier(&source(), slots).expect("export");
        let path = root().join(evm::verifier_path(slots));
        let checked_in = std::fs::read_to_string(&path).expect("checked-in verifier");
        assert!(
            generated == checked_in,
            "{} is stale: run `sealgrid prover export-verifier --capacity {slots}`",
            path.display()
        );
    }
}

/// `contracts/test/vectors/clearing-proof-4.json`, the proof the forge tests feed the
/// ClearingVerifier adapter, still verifies against the current key (regenerated with
/// `SEALGRID_WRITE_VECTORS=1`).
#[test]
fn forge_vector_is_current() {
    let cap = capacity(4).expect("capacity");
    let params = source().get(cap.k).expect("params");
    let keys = keys::keygen(&params, cap.slots).expect("keygen");
    let path = root().join("contracts/test/vectors/clearing-proof-4.json");
    if std::env::var_os("SEALGRID_WRITE_VECTORS").is_some() {
        let w = Witness::new(&named_batches().swap_remove(0).1).expect("witness");
        let proof = keys::prove(&params, &keys, &w).expect("prove");
        let s = &w.statement;
        let json = serde_json::json!({
            "market": s.market.to_string(),
            "interval": s.interval,
            "accumulator": s.accumulator.to_string(),
            "count": s.count,
            "priceFloor": s.price_floor,
            "priceCap": s.price_cap,
            "clearingPrice": s.price,
            "volume": s.volume,
            "fills": format!("0x{}", hex::encode(s.fills.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<_>>())),
            "proof": format!("0x{}", hex::encode(&proof.bytes)),
            "commitments": w.slots.iter().map(|s| s.commitment.to_string()).collect::<Vec<_>>(),
            "committers": w.slots.iter().map(|s| Address::from_word(B256::from(s.committer)).to_string()).collect::<Vec<_>>(),
            "locks": w.slots.iter().map(|s| format!("{:#x}", s.lock)).collect::<Vec<_>>(),
        });
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json).expect("json") + "\n",
        )
        .expect("write");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("vector")).expect("json");
    let w = Witness::new(&named_batches().swap_remove(0).1).expect("witness");
    let proof =
        hex::decode(v["proof"].as_str().expect("proof").trim_start_matches("0x")).expect("hex");
    assert_eq!(
        v["accumulator"].as_str(),
        Some(w.statement.accumulator.to_string().as_str())
    );
    let instances = w.statement.instances(cap.slots).expect("instances");
    assert!(
        keys::verify(&params, keys.vk(), &instances, &proof),
        "vector is stale: SEALGRID_WRITE_VECTORS=1"
    );
}
