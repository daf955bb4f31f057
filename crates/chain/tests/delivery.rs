//! Delivery settlement through the Rust client against a real anvil with the devnet deployment:
//! registering meters, signed readings and prices (duplicates skipped, stale revisions refused
//! before sending, forged signatures refused by the contract), settlement with a deemed
//! delivery, a resettlement with its variance in the report, and certificate issuance.

#![allow(missing_docs)]

use std::path::Path;

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use sealgrid_chain::{
    ChainError,
    bindings::{IMockToken, registry::MeterRegistry},
    delivery::{Delivery, sign_price, sign_reading},
};
use sealgrid_deploy::devnet::{DEV_BALANCING_KEY, DEV_KEYS, DEV_ORACLE_KEY, Devnet, demo_market};
use sealgrid_types::{MeterReading, RealTimePrice};

async fn devnet() -> Devnet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Devnet::start_with_test_verifier(&root)
        .await
        .expect("devnet")
}

fn key(label: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(label)).expect("key")
}

fn meter(owner: Address, gateway: Address, solar: bool) -> MeterRegistry::Meter {
    MeterRegistry::Meter {
        owner,
        device: 0,
        generator: solar,
        source: u8::from(solar),
        gateway,
        gatewayFrom: 0,
        accuracy: 1,
        site: B256::ZERO,
        zone: B256::from_slice(&[7u8; 32]),
        market: demo_market(),
    }
}

fn reading(id: B256, interval: u64, imp: u64, exp: u64, revision: u32) -> MeterReading {
    MeterReading {
        meterId: id,
        interval,
        importWh: imp,
        exportWh: exp,
        quality: 0,
        revision,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readings_prices_settlement_resettlement_and_certificates() {
    let net = devnet().await;
    let market = demo_market();
    let operator: PrivateKeySigner = DEV_KEYS[0].parse().expect("key");
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().expect("key");
    let balancing: PrivateKeySigner = DEV_BALANCING_KEY.parse().expect("key");
    let d = Delivery::connect(&net.rpc, net.delivery, operator.clone())
        .await
        .expect("connect");

    // Two sites: a consumer and a solar generator, each with its gateway.
    let (alice, bob) = (key("alice"), key("bob"));
    let (gw_a, gw_b) = (key("gateway-a"), key("gateway-b"));
    let (ma, mb) = (keccak256("meter-a"), keccak256("meter-b"));
    d.register_meter(ma, meter(alice.address(), gw_a.address(), false))
        .await
        .expect("register a");
    d.register_meter(mb, meter(bob.address(), gw_b.address(), true))
        .await
        .expect("register b");

    // Collateral for both and the balancing account.
    let mint = IMockToken::new(net.token, net.wallet(DEV_KEYS[0]).expect("wallet"));
    mint.mint(operator.address(), U256::from(10u64.pow(12)))
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("mined");
    d.approve(net.token, U256::MAX).await.expect("approve");
    for who in [alice.address(), bob.address(), balancing.address()] {
        d.deposit(net.token, who, U256::from(10u64.pow(9)))
            .await
            .expect("deposit");
    }

    // An hour boundary ahead: interval i is the first of an hour.
    let now = net.now().await.expect("now");
    let i = (now / 3600 + 1) * 12;
    net.warp((i + 2) * 300 + 1).await.expect("warp");

    let dom = d.domain().clone();
    let signed = vec![
        sign_reading(&gw_a, reading(ma, i, 4_000, 0, 0), &dom).expect("sign"),
        sign_reading(&gw_b, reading(mb, i, 0, 9_000, 0), &dom).expect("sign"),
        sign_reading(&gw_b, reading(mb, i + 1, 0, 8_000, 0), &dom).expect("sign"),
    ];
    let r = d.submit_readings(&signed).await.expect("submit");
    assert_eq!((r.stored, r.duplicates, r.txs), (3, 0, 1), "{r:?}");
    // Resubmitting is idempotent: nothing is sent.
    let r = d.submit_readings(&signed).await.expect("resubmit");
    assert_eq!((r.stored, r.duplicates, r.txs), (0, 3, 0), "{r:?}");
    // A forged reading (meter a's reading signed by meter b's gateway) is refused on-chain.
    let forged = sign_reading(&gw_b, reading(ma, i + 1, 1, 0, 0), &dom).expect("sign");
    match d.submit_readings(&[forged]).await {
        Err(ChainError::Revert { reason, .. }) => {
            assert!(reason.contains("ReadingUnauthorized"), "{reason}")
        }
        other => panic!("forged reading accepted: {other:?}"),
    }

    let price = |rev, p| {
        sign_price(
            &oracle,
            RealTimePrice {
                market,
                interval: i,
                price: p,
                revision: rev,
            },
            &dom,
        )
        .expect("sign")
    };
    assert_eq!(
        d.submit_prices(&[price(0, 80_000)]).await.expect("price").0,
        1
    );
    assert_eq!(
        d.submit_prices(&[price(0, 80_000)]).await.expect("again").0,
        0
    );

    // At the deadline: alice has no reading for i + 1... but settle interval i.
    net.warp((i + 1) * 300 + 900).await.expect("warp");
    let accounts = [alice.address(), bob.address()];
    let (n, _) = d.settle(market, i, &accounts).await.expect("settle");
    assert_eq!(n, 2);
    assert_eq!(
        d.settle(market, i, &accounts).await.expect("again").0,
        0,
        "idempotent"
    );

    // A corrected reading for alice (revision 1) and a resettlement; a stale one is refused.
    let fix = sign_reading(&gw_a, reading(ma, i, 4_500, 0, 1), &dom).expect("sign");
    assert_eq!(d.submit_readings(&[fix]).await.expect("fix").stored, 1);
    let stale = sign_reading(&gw_a, reading(ma, i, 4_100, 0, 0), &dom).expect("sign");
    let r = d.submit_readings(&[stale]).await.expect("stale");
    assert_eq!((r.stored, r.refused.len()), (0, 1), "{r:?}");
    let (changed, _) = d.resettle(market, i, &accounts).await.expect("resettle");
    assert_eq!(changed, 1);

    let report = d.report(market, i).await.expect("report");
    assert_eq!(report.price, Some((80_000, 0)));
    let a = report
        .accounts
        .iter()
        .find(|r| r.account == alice.address())
        .expect("alice");
    assert_eq!(
        (a.contracted_wh, a.metered_wh, a.imbalance_wh),
        (0, 4_500, 4_500)
    );
    assert_eq!(a.amount_milli, 4_500 * 80_000);
    assert_eq!(a.resettlements, vec![(4_000 * 80_000, 4_500 * 80_000)]);
    assert_eq!(a.variance_milli(), 500 * 80_000);
    let b = report
        .accounts
        .iter()
        .find(|r| r.account == bob.address())
        .expect("bob");
    assert_eq!(b.metered_wh, -9_000);
    assert!(b.resettlements.is_empty());
    assert_eq!(
        d.balance(net.token, alice.address())
            .await
            .expect("balance"),
        U256::from(10u64.pow(9) - 360_000),
        "alice paid 4.5 kWh at 80,000 per kWh"
    );

    // Certificates: bob's two due intervals of the hour.
    net.warp((i + 2) * 300 + 900).await.expect("warp");
    let (minted, _) = d.issue_certificates(&[mb], i / 12).await.expect("issue");
    assert_eq!(minted, 17_000);
    assert_eq!(
        d.issue_certificates(&[mb], i / 12).await.expect("again").0,
        0,
        "once"
    );
    match d.issue_certificates(&[ma], i / 12).await {
        Err(ChainError::Revert { reason, .. }) => {
            assert!(reason.contains("CertificateNotEligible"), "{reason}")
        }
        other => panic!("a consumer's meter got certificates: {other:?}"),
    }
}
