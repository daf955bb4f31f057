//! `sealgrid settle report` against a real anvil: an interval settled on an estimate for a late
//! meter, then resettled when its reading arrives, as the table and the JSON show it; and the
//! refusals of bad arguments.

#![allow(missing_docs)]

use std::{
    path::Path,
    process::{Command, Output},
};

use alloy_primitives::{B256, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    bindings::{IMockToken, registry::MeterRegistry},
    delivery::{Delivery, sign_price, sign_reading},
};
use sealgrid_deploy::devnet::{DEV_KEYS, DEV_ORACLE_KEY, Devnet, demo_market};
use sealgrid_types::{MeterReading, RealTimePrice};

fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["settle", "report"])
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("sealgrid settle report")
}

/// Deploys the devnet, settles one interval for one account (a late meter: deemed delivery),
/// then resettles it on the actual reading. Returns the devnet, the interval and the account.
async fn settled_then_resettled() -> (Devnet, u64, PrivateKeySigner) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let net = Devnet::start_with_test_verifier(&root)
        .await
        .expect("devnet");
    let operator: PrivateKeySigner = DEV_KEYS[0].parse().expect("key");
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().expect("key");
    let d = Delivery::connect(&net.rpc, net.delivery, operator.clone())
        .await
        .expect("connect");
    let site = PrivateKeySigner::from_bytes(&keccak256("site")).expect("key");
    let gateway = PrivateKeySigner::from_bytes(&keccak256("gateway")).expect("key");
    let meter = keccak256("meter");
    d.register_meter(
        meter,
        MeterRegistry::Meter {
            owner: site.address(),
            device: 0,
            generator: false,
            source: 0,
            gateway: gateway.address(),
            gatewayFrom: 0,
            accuracy: 2,
            site: B256::ZERO,
            zone: B256::ZERO,
            market: demo_market(),
        },
    )
    .await
    .expect("register");
    IMockToken::new(net.token, net.wallet(DEV_KEYS[0]).expect("wallet"))
        .mint(operator.address(), U256::from(10u64.pow(9)))
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("mined");
    d.approve(net.token, U256::MAX).await.expect("approve");
    d.deposit(net.token, site.address(), U256::from(10u64.pow(8)))
        .await
        .expect("deposit");
    let i = net.now().await.expect("now") / 300 + 1;
    net.warp((i + 1) * 300 + 1).await.expect("warp");
    let dom = d.domain().clone();
    let price = RealTimePrice {
        market: demo_market(),
        interval: i,
        price: 95_000,
        revision: 0,
    };
    d.submit_prices(&[sign_price(&oracle, price, &dom).expect("sign")])
        .await
        .expect("price");
    net.warp((i + 1) * 300 + 900).await.expect("warp");
    d.settle(demo_market(), i, &[site.address()])
        .await
        .expect("settle");
    let reading = MeterReading {
        meterId: meter,
        interval: i,
        importWh: 2_000,
        exportWh: 0,
        quality: 0,
        revision: 0,
    };
    d.submit_readings(&[sign_reading(&gateway, reading, &dom).expect("sign")])
        .await
        .expect("reading");
    d.resettle(demo_market(), i, &[site.address()])
        .await
        .expect("resettle");
    (net, i, site)
}

#[test]
fn report_shows_the_estimate_and_the_resettlement() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (net, i, site) = rt.block_on(settled_then_resettled());
    let settlement = net.delivery.settlement.to_string();
    let interval = i.to_string();
    let market = demo_market().to_string();
    let args = [
        "--rpc",
        &net.rpc,
        "--settlement",
        &settlement,
        "--market",
        &market,
        "--interval",
        &interval,
    ];

    let out = report(&[&args[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["interval"], i);
    assert_eq!(json["price"], serde_json::json!([95_000, 0]));
    let rows = json["accounts"].as_array().expect("accounts");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        row["account"].as_str().map(str::to_lowercase),
        Some(site.address().to_string().to_lowercase())
    );
    assert_eq!(row["metered_wh"], 2_000);
    assert_eq!(row["imbalance_wh"], 2_000);
    assert_eq!(row["amount_milli"], 2_000 * 95_000);
    assert_eq!(
        row["estimate"], false,
        "the actual reading replaced the estimate"
    );
    assert_eq!(
        row["resettlements"],
        serde_json::json!([[0, 2_000 * 95_000]]),
        "settled at 0 on deemed delivery, then 190,000 base units"
    );

    // The table, by market name.
    let mut named = args.to_vec();
    named[5] = "demo/feeder-7";
    let out = report(&named);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("real-time price 95000 per kWh (revision 0)"),
        "{text}"
    );
    assert!(
        text.contains("190000.000"),
        "the amount in base units: {text}"
    );
    assert!(text.contains("190000.000 (1x)"), "the variance: {text}");
    assert!(text.contains("1 accounts"), "{text}");

    // Refusals: no contract at the address, a bad market id, nothing to read from.
    let mut nowhere = args.to_vec();
    nowhere[3] = "0x0000000000000000000000000000000000000001";
    let out = report(&nowhere);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no contract"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bad = args.to_vec();
    bad[5] = "0x1234";
    let out = report(&bad);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a 32-byte id"));
    let out = report(&["--rpc", &net.rpc, "--interval", &interval]);
    assert!(
        !out.status.success(),
        "neither --deployment nor --settlement"
    );
}
