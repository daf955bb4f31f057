//! The committed ABIs in `abi/` must equal what forge builds from `contracts/src`: regenerate
//! them with `scripts/abi.sh` after changing a contract's interface.

#![allow(missing_docs)]

use std::path::Path;

fn check(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let artifact = root.join(format!("out/{name}.sol/{name}.json"));
    let Ok(text) = std::fs::read_to_string(&artifact) else {
        assert!(
            std::env::var("SEALGRID_REQUIRE_ARTIFACTS").is_err(),
            "{} is missing: run forge build",
            artifact.display()
        );
        eprintln!("skipping {name}: no forge artifact (run forge build)");
        return;
    };
    let built: serde_json::Value = serde_json::from_str(&text).expect("artifact json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(format!("crates/chain/abi/{name}.json")))
            .expect("committed abi"),
    )
    .expect("abi json");
    assert_eq!(
        built["abi"], committed,
        "crates/chain/abi/{name}.json is stale: run scripts/abi.sh"
    );
}

#[test]
fn auction_abi_is_current() {
    check("SealgridAuction");
}

#[test]
fn intent_token_abi_is_current() {
    check("EnergyIntentToken");
}

#[test]
fn delivery_abis_are_current() {
    check("MeterRegistry");
    check("DeliverySettlement");
    check("GranularCertificates");
}

#[test]
fn paymaster_abi_is_current() {
    check("MarketPaymaster");
}
