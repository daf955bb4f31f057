//! Device → gateway → node → chain → settled (issue 19): a simulated DLMS/COSEM meter on the
//! Gurux stack (`tests/peers/dlms_meter.py`) is read by the gateway over HDLC with low-level
//! security; its readings are signed with the gateway's key into the outbox, held there while
//! the node is down (a WAN outage), delivered once it is up (and again after a lost answer:
//! duplicates, no double effect), taken on-chain by the node, and settled at the reading
//! deadline on exactly the energy the meter's profile holds.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    primitives::{B256, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use sealgrid_chain::{
    bindings::{IMockToken, registry::MeterRegistry, settlement::DeliverySettlement},
    delivery::{Delivery, sign_price},
};
use sealgrid_deploy::devnet::{DEV_BALANCING_KEY, DEV_ORACLE_KEY};
use sealgrid_devkit::{
    harness::{self, Net, signer},
    peers::DlmsSimulator,
};
use sealgrid_dlms::{Authentication, Obis, Settings, Transport};
use sealgrid_gateway::{Forwarder, Gateway, Meter, MeterOutcome, Mode, Outbox, Rule};
use sealgrid_keys::KeySigner;
use sealgrid_matcher::SimClock;
use sealgrid_node::{DeliveryNodeConfig, NodeConfig, launch};
use sealgrid_types::RealTimePrice;
use serde_json::{Value, json};

const PASSWORD: &str = "e2e-dlms";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn events(net: &Net, sig: B256) -> Vec<alloy::rpc::types::Log> {
    net.net
        .provider
        .get_logs(
            &Filter::new()
                .address(net.net.delivery.settlement)
                .event_signature(sig)
                .from_block(0),
        )
        .await
        .expect("logs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dlms_meter_read_by_the_gateway_settles_on_chain() {
    // Away from a 5-minute boundary, so the profile keeps its shape during the test.
    let wall = sealgrid_gateway::unix_now();
    if wall % 300 > 270 {
        tokio::time::sleep(Duration::from_secs(300 - wall % 300 + 2)).await;
    }
    let wall = sealgrid_gateway::unix_now();
    let start = wall / 300 * 300 - 4 * 300;
    let start_s = start.to_string();
    let args = ["--start", start_s.as_str(), "--seed", "11"];
    let sim = DlmsSimulator::start(
        &root(),
        &[&args[..], &["--interface", "hdlc", "--password", PASSWORD]].concat(),
    )
    .expect("simulator");
    let port = sim.ports[0];

    let net = Net::with_test_verifier().await;
    let gateway_key = PrivateKeySigner::from_bytes(&keccak256("e2e-gateway")).expect("key");
    let meter_id = keccak256("e2e-dlms-meter");
    let (d, owner) = register_and_fund(&net, meter_id, gateway_key.address()).await;
    // Chain time at least the gateway's: the meter's last interval has ended on-chain too.
    net.warp(net.now().await.max(wall) + 1).await;

    let tmp = tempfile::tempdir().expect("tmp");
    let outbox_url = format!("sqlite:{}", tmp.path().join("gw.db").display());
    let (node, svc, base) = delivery_node(&net, tmp.path()).await;

    // The gateway reads the meter: 4 profile entries, the first a base: 3 readings.
    let gw = Gateway::new(
        KeySigner::Local(gateway_key.clone()),
        svc.domain().clone(),
        Outbox::open(&outbox_url).await.expect("outbox"),
        Rule::default(),
    );
    let meter = Meter {
        id: meter_id,
        address: ([127, 0, 0, 1], port).into(),
        mode: Mode::Profile,
        settings: Settings {
            transport: Transport::Hdlc,
            client: 17,
            auth: Authentication::Low(PASSWORD.as_bytes().to_vec()),
            ..Settings::default()
        },
        profile: Obis::LOAD_PROFILE,
        import: Obis::ACTIVE_IMPORT,
        export: Obis::ACTIVE_EXPORT,
    };
    assert_eq!(
        gw.read_meter(&meter, sealgrid_gateway::unix_now())
            .await
            .expect("read"),
        MeterOutcome::Signed(3)
    );

    // What the gateway signed (kept to replay an answer lost in the outage below).
    let signed: Vec<String> = gw
        .outbox()
        .pending(10)
        .await
        .expect("pending")
        .into_iter()
        .map(|p| p.item)
        .collect();
    assert_eq!(signed.len(), 3);

    // A WAN outage: the node's address refuses connections; everything stays pending.
    let unreachable = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let down = Forwarder::new(&unreachable, 500)
        .expect("forwarder")
        .pass(gw.outbox(), 0)
        .await
        .expect("pass");
    assert_eq!((down.deferred, down.answered), (3, 0));
    assert_eq!(gw.outbox().counts().await.expect("counts").pending, 3);

    // The node is back: the outbox drains, every reading accepted.
    let forwarder = Forwarder::new(&base, 500).expect("forwarder");
    let up = forwarder.pass(gw.outbox(), 1).await.expect("pass");
    assert_eq!((up.answered, up.refused, up.deferred), (3, 0, 0));
    let c = gw.outbox().counts().await.expect("counts");
    assert_eq!((c.accepted, c.pending), (3, 0));
    // An answer lost in the outage: the same readings again are duplicates at the node.
    let again = reqwest::Client::new()
        .post(format!("{base}/v1/readings"))
        .header("content-type", "application/json")
        .body(format!("{{\"readings\":[{}]}}", signed.join(",")))
        .send()
        .await
        .expect("post")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        (again["accepted"].clone(), again["duplicates"].clone()),
        (json!(0), json!(3)),
        "{again}"
    );

    // Prices for the three intervals, then the reading deadline: the node settles them.
    let entries = DlmsSimulator::expected(&root(), &args, start, wall).expect("--expect");
    assert_eq!(entries.len(), 4);
    let intervals: Vec<u64> = entries[..3].iter().map(|(t, _, _)| t / 300).collect();
    price_and_settle(&net, &d, &svc, &base, &intervals).await;

    // On-chain: the readings as the gateway signed them, and each interval settled on the
    // meter's energy (import − export of consecutive profile entries).
    let stored = stored_readings(&net, meter_id).await;
    let want: Vec<(u64, u64, u64)> = entries
        .windows(2)
        .map(|w| (w[0].0 / 300, w[1].1 - w[0].1, w[1].2 - w[0].2))
        .collect();
    let mut stored_sorted = stored.clone();
    stored_sorted.sort_unstable();
    assert_eq!(
        stored_sorted, want,
        "the readings on-chain are the meter's profile deltas"
    );
    let mut settled_sorted = settled_for(&net, owner).await;
    settled_sorted.sort_unstable();
    let want_settled: Vec<(u64, i128)> = want
        .iter()
        .map(|(i, imp, exp)| (*i, i128::from(*imp) - i128::from(*exp)))
        .collect();
    assert_eq!(
        settled_sorted, want_settled,
        "settled once each, on the metered energy"
    );
    node.shutdown().await;
}

/// A node on `net` (store in `dir`) with delivery intake and no loops of its own (the test
/// runs the delivery passes): the node, its delivery service and its API base URL.
pub(crate) async fn delivery_node(
    net: &Net,
    dir: &std::path::Path,
) -> (
    sealgrid_node::Node,
    sealgrid_delivery::DeliveryService,
    String,
) {
    let url = format!("sqlite:{}", dir.join("n.db").display());
    let mut cfg = NodeConfig::new(net.net.rpc.clone(), net.net.auction, signer(0), &url);
    cfg.markets = vec![net.market];
    cfg.clock = Arc::new(SimClock::new(net.now().await));
    cfg.background = false;
    cfg.delivery = Some(DeliveryNodeConfig {
        run_loop: false,
        ..DeliveryNodeConfig::new(net.net.delivery)
    });
    let node = launch(cfg).await.expect("node");
    let svc = node.delivery.clone().expect("delivery");
    let base = node.base_url();
    (node, svc, base)
}

/// Registers `meter_id` (owned by `signer(1)`, read by `gateway`) in the net's market and
/// funds the owner and the balancing account. Returns the delivery client and the owner.
pub(crate) async fn register_and_fund(
    net: &Net,
    meter_id: B256,
    gateway: alloy::primitives::Address,
) -> (Delivery, alloy::primitives::Address) {
    let owner = signer(1).address();
    let d = Delivery::connect(&net.net.rpc, net.net.delivery, signer(0))
        .await
        .expect("delivery");
    d.register_meter(
        meter_id,
        MeterRegistry::Meter {
            owner,
            device: 0,
            generator: false,
            source: 0,
            gateway,
            gatewayFrom: 0,
            accuracy: 1,
            site: B256::ZERO,
            zone: B256::from_slice(&[7u8; 32]),
            market: net.market,
        },
    )
    .await
    .expect("register");
    // Collateral for the owner and the balancing account.
    let balancing: PrivateKeySigner = DEV_BALANCING_KEY.parse().expect("key");
    IMockToken::new(net.net.token, net.wallet(0))
        .mint(signer(0).address(), U256::from(10u64.pow(12)))
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("mined");
    d.approve(net.net.token, U256::MAX).await.expect("approve");
    for who in [owner, balancing.address()] {
        d.deposit(net.net.token, who, U256::from(10u64.pow(9)))
            .await
            .expect("deposit");
    }
    (d, owner)
}

/// Posts oracle prices for `intervals`, warps past the reading deadline of the last and runs
/// the node's delivery passes.
pub(crate) async fn price_and_settle(
    net: &Net,
    d: &Delivery,
    svc: &sealgrid_delivery::DeliveryService,
    base: &str,
    intervals: &[u64],
) {
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().expect("oracle");
    let dom = svc.domain().clone();
    let prices: Vec<Value> = intervals
        .iter()
        .map(|iv| {
            let p = sign_price(
                &oracle,
                RealTimePrice {
                    market: net.market,
                    interval: *iv,
                    price: 80_000,
                    revision: 0,
                },
                &dom,
            )
            .expect("sign");
            json!({ "price": p.price, "signature": harness::hex(&p.signature) })
        })
        .collect();
    let v = reqwest::Client::new()
        .post(format!("{base}/v1/prices"))
        .json(&json!({ "prices": prices }))
        .send()
        .await
        .expect("post")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(v["accepted"], intervals.len(), "{v}");
    let (window, _) = d.windows().await.expect("windows");
    let last = *intervals.iter().max().expect("an interval");
    net.warp((last + 1) * 300 + u64::from(window) + 1).await;
    for _ in 0..6 {
        svc.run_once().await.expect("pass");
    }
}

/// The readings stored on-chain for `meter_id`: `(interval, import, export)`.
pub(crate) async fn stored_readings(net: &Net, meter_id: B256) -> Vec<(u64, u64, u64)> {
    events(net, DeliverySettlement::ReadingStored::SIGNATURE_HASH)
        .await
        .iter()
        .filter_map(|l| l.log_decode::<DeliverySettlement::ReadingStored>().ok())
        .filter(|e| e.inner.meterId == meter_id)
        .map(|e| (e.inner.interval, e.inner.importWh, e.inner.exportWh))
        .collect()
}

/// The settlements of `owner`'s account: `(interval, metered Wh)`.
pub(crate) async fn settled_for(net: &Net, owner: alloy::primitives::Address) -> Vec<(u64, i128)> {
    events(net, DeliverySettlement::Settled::SIGNATURE_HASH)
        .await
        .iter()
        .filter_map(|l| l.log_decode::<DeliverySettlement::Settled>().ok())
        .filter(|e| e.inner.account == owner)
        .map(|e| {
            (
                e.inner.interval,
                i128::try_from(e.inner.metered).expect("metered"),
            )
        })
        .collect()
}
