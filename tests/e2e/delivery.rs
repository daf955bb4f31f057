//! The node's delivery service on anvil (issue 18): gateway-signed readings and oracle-signed
//! prices over `POST /v1/readings` and `/v1/prices` (the refusal corpus: each bad item refused
//! with its code and nothing of it stored), the delivery loop taking them on-chain, settling at
//! the reading deadline, issuing the hour's certificates and resettling a late reading; and
//! the node process killed (exit at a failpoint, as a power cut) at every delivery stage and
//! restarted: every account settles exactly once, certificates are issued once and moved along
//! the hour's fills once (from the solar seller, who approved the operator, to the buyers), the
//! late reading is resettled once.

use std::sync::Arc;

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use sealgrid_chain::{
    bindings::{
        IMockToken, certificates::GranularCertificates, registry::MeterRegistry,
        settlement::DeliverySettlement,
    },
    delivery::{Delivery, sign_price, sign_reading},
};
use sealgrid_deploy::devnet::{DEV_BALANCING_KEY, DEV_ORACLE_KEY};
use sealgrid_devkit::harness::{self, Matcher, Net, signer};
use sealgrid_matcher::SimClock;
use sealgrid_node::{DeliveryNodeConfig, Node, NodeConfig, Pipeline, launch};
use sealgrid_settlement::Claimer;
use sealgrid_store::{BatchState, Store};
use sealgrid_types::{Fill, MeterReading, RealTimePrice, Side, sealgrid_domain};
use serde_json::{Value, json};

const CHILD_ENV: &str = "SEALGRID_E2E_DELIVERY_CHILD";

fn key(label: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(label)).expect("key")
}

fn meter(owner: Address, gateway: Address, solar: bool, market: B256) -> MeterRegistry::Meter {
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
        market,
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

fn item(r: MeterReading, sig: [u8; 65]) -> Value {
    json!({ "reading": r, "signature": harness::hex(&sig) })
}

async fn node(net: &Net, store: &str, run_loop: bool) -> Node {
    let mut cfg = NodeConfig::new(net.net.rpc.clone(), net.net.auction, signer(0), store);
    cfg.markets = vec![net.market];
    cfg.clock = Arc::new(SimClock::new(net.now().await));
    cfg.background = false;
    cfg.delivery = Some(DeliveryNodeConfig {
        run_loop,
        ..DeliveryNodeConfig::new(net.net.delivery)
    });
    launch(cfg).await.expect("node")
}

async fn post(base: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

/// The results of a 200 answer, in order: (status, code).
fn results(v: &Value) -> Vec<(String, Option<String>)> {
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {v}"))
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Two registered meters (a consumer, a solar generator) and one more for the revocation case,
/// owned by the funded traders 1, 2 and 3 (alice, bob, carol: bob's meter is the solar one).
struct Site {
    d: Delivery,
    meters: [B256; 3],
    gateways: [PrivateKeySigner; 3],
    owners: [Address; 3],
}

async fn site(net: &Net) -> Site {
    let d = Delivery::connect(&net.net.rpc, net.net.delivery, signer(0))
        .await
        .expect("delivery");
    let meters = [keccak256("m-a"), keccak256("m-b"), keccak256("m-c")];
    let gateways = [key("gw-a"), key("gw-b"), key("gw-c")];
    let owners = [
        signer(1).address(),
        signer(2).address(),
        signer(3).address(),
    ];
    for k in 0..3 {
        d.register_meter(
            meters[k],
            meter(owners[k], gateways[k].address(), k == 1, net.market),
        )
        .await
        .expect("register");
    }
    Site {
        d,
        meters,
        gateways,
        owners,
    }
}

/// An interval starting an hour, and the chain moved past the end of the one after it.
async fn hour_ahead(net: &Net) -> u64 {
    let i = (net.now().await / 3600 + 1) * 12;
    net.warp((i + 2) * 300 + 1).await;
    i
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_and_prices_api_refuses_the_corpus_and_stores_nothing_of_it() {
    let net = Net::with_test_verifier().await;
    let s = site(&net).await;
    let i = hour_ahead(&net).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite:{}", tmp.path().join("n.db").display());
    let node = node(&net, &url, false).await;
    let svc = node.delivery.clone().expect("delivery");
    assert_eq!(svc.run_once().await.expect("pass").meters, 3);
    let base = node.base_url();
    let dom = svc.domain().clone();
    let sign = |k: usize, r: MeterReading| {
        sign_reading(&s.gateways[k], r, &dom)
            .expect("sign")
            .signature
    };
    let [ma, mb, mc] = s.meters;

    // One request: one good reading and one of each refusal that an item alone can earn.
    let wrong_domain = sealgrid_domain(net.net.chain_id, net.net.auction);
    let forged_domain = sign_reading(&s.gateways[2], reading(mc, i, 5, 0, 0), &wrong_domain)
        .expect("sign")
        .signature;
    let mut high = reading(mb, i + 1, 0, 0, 0);
    high.importWh = 1 << 48;
    let mut quality = reading(mc, i + 1, 1, 0, 0);
    quality.quality = 7;
    let unregistered = keccak256("not a meter");
    let corpus = vec![
        (
            item(
                reading(ma, i, 4_000, 0, 2),
                sign(0, reading(ma, i, 4_000, 0, 2)),
            ),
            "accepted",
            None,
        ),
        (
            item(
                reading(mb, i, 0, 9_000, 0),
                sign(0, reading(mb, i, 0, 9_000, 0)),
            ),
            "refused",
            Some("unauthorized"),
        ),
        (
            item(reading(mc, i, 5, 0, 0), forged_domain),
            "refused",
            Some("unauthorized"),
        ),
        (
            item(
                reading(unregistered, i, 1, 0, 0),
                sign(0, reading(unregistered, i, 1, 0, 0)),
            ),
            "refused",
            Some("unknown_meter"),
        ),
        (
            item(
                reading(ma, i + 5, 1, 0, 0),
                sign(0, reading(ma, i + 5, 1, 0, 0)),
            ),
            "refused",
            Some("early"),
        ),
        (
            item(reading(ma, 1, 1, 0, 0), sign(0, reading(ma, 1, 1, 0, 0))),
            "refused",
            Some("late"),
        ),
        (
            item(high.clone(), sign(1, high)),
            "refused",
            Some("out_of_range"),
        ),
        (
            item(quality.clone(), sign(2, quality)),
            "refused",
            Some("bad_quality"),
        ),
        (
            item(
                reading(mb, i - 1, 0, 1, 17),
                sign(1, reading(mb, i - 1, 0, 1, 17)),
            ),
            "refused",
            Some("revision_jump"),
        ),
        (
            json!({"reading": {"meterId": "0x12"}, "signature": "0x00"}),
            "refused",
            Some("malformed"),
        ),
        (
            item(reading(ma, i - 2, 1, 0, 0), [0u8; 65]),
            "refused",
            Some("bad_signature"),
        ),
        (
            item(
                reading(ma, i, 4_000, 0, 2),
                sign(0, reading(ma, i, 4_000, 0, 2)),
            ),
            "refused",
            Some("duplicate_in_request"),
        ),
    ];
    let body = json!({ "readings": corpus.iter().map(|c| c.0.clone()).collect::<Vec<_>>() });
    let (status, v) = post(&base, "/v1/readings", body.to_string().into_bytes()).await;
    assert_eq!(status, 200, "{v}");
    let got = results(&v);
    for (k, (want, (status, code))) in corpus.iter().map(|c| (c.1, c.2)).zip(&got).enumerate() {
        assert_eq!(
            (status.as_str(), code.as_deref()),
            (want.0, want.1),
            "item {k}: {}",
            v["results"][k]
        );
    }
    assert_eq!(
        (v["accepted"].as_u64(), v["refused"].as_u64()),
        (Some(1), Some(11))
    );
    let store = svc.store().clone();
    assert_eq!(
        store.reading_counts().await.expect("counts"),
        (1, 0, 0, 0),
        "only the good one is stored"
    );

    // Against what is stored: the same again, other values at the same revision, a lower one.
    for (r, k, want) in [
        (reading(ma, i, 4_000, 0, 2), 0, ("duplicate", None)),
        (
            reading(ma, i, 4_001, 0, 2),
            0,
            ("refused", Some("conflict")),
        ),
        (
            reading(ma, i, 4_000, 0, 1),
            0,
            ("refused", Some("stale_revision")),
        ),
        (
            reading(ma, i, 4_000, 0, 19),
            0,
            ("refused", Some("revision_jump")),
        ),
    ] {
        let body = json!({ "readings": [item(r.clone(), sign(k, r))] });
        let (status, v) = post(&base, "/v1/readings", body.to_string().into_bytes()).await;
        assert_eq!(status, 200, "{v}");
        let (st, code) = &results(&v)[0];
        assert_eq!((st.as_str(), code.as_deref()), want, "{v}");
    }
    // A revoked gateway key.
    let registry = MeterRegistry::new(net.net.delivery.registry, net.wallet(0));
    registry
        .revokeGateway(mc)
        .send()
        .await
        .expect("revoke")
        .get_receipt()
        .await
        .expect("mined");
    // The node learns of the revocation from the registry's event (its loop's indexer); the
    // same pass takes the accepted reading on-chain.
    let pass = svc.run_once().await.expect("pass");
    assert_eq!(pass.readings, 1, "{pass:?}");
    let r = reading(mc, i + 1, 1, 0, 0);
    let body = json!({ "readings": [item(r.clone(), sign(2, r))] });
    let (_, v) = post(&base, "/v1/readings", body.to_string().into_bytes()).await;
    assert_eq!(results(&v)[0].1.as_deref(), Some("revoked_key"), "{v}");

    // Whole requests refused: malformed JSON, the wrong shape, too many items.
    let (status, v) = post(&base, "/v1/readings", b"{\"readings\": [".to_vec()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("malformed")),
        "{v}"
    );
    let (status, v) = post(&base, "/v1/readings", b"{\"meters\": []}".to_vec()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("malformed")),
        "{v}"
    );
    let many: Vec<Value> = (0..1_001u64)
        .map(|n| {
            let r = reading(mb, i - 3 - n, 0, 1, 0);
            item(r.clone(), sign(1, r))
        })
        .collect();
    let (status, v) = post(
        &base,
        "/v1/readings",
        json!({ "readings": many }).to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("batch_too_large")),
        "{v}"
    );
    assert_eq!(
        store.reading_counts().await.expect("counts"),
        (0, 1, 0, 0),
        "nothing more stored"
    );

    // Prices: the oracle's, another key's, another market's, out of bounds.
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().expect("oracle");
    let price = |who: &PrivateKeySigner, market: B256, p: i64| {
        let signed = sign_price(
            who,
            RealTimePrice {
                market,
                interval: i,
                price: p,
                revision: 0,
            },
            &dom,
        )
        .expect("sign");
        json!({ "price": signed.price, "signature": harness::hex(&signed.signature) })
    };
    let cfg = DeliverySettlement::new(net.net.delivery.settlement, net.net.provider.clone())
        .marketConfig(net.market)
        .call()
        .await
        .expect("config");
    for (body, want) in [
        (price(&oracle, net.market, 80_000), ("accepted", None)),
        (
            price(&key("mallory"), net.market, 80_000),
            ("refused", Some("not_oracle")),
        ),
        (
            price(&oracle, keccak256("elsewhere"), 80_000),
            ("refused", Some("unknown_market")),
        ),
        (
            price(&oracle, net.market, cfg.rtCap.saturating_add(1)),
            ("refused", Some("price_out_of_bounds")),
        ),
        (price(&oracle, net.market, 80_000), ("duplicate", None)),
    ] {
        let (status, v) = post(
            &base,
            "/v1/prices",
            json!({ "prices": [body] }).to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let (st, code) = &results(&v)[0];
        assert_eq!((st.as_str(), code.as_deref()), want, "{v}");
    }

    // The loop takes the accepted reading and price on-chain; the document lists the routes.
    let pass = svc.run_once().await.expect("pass");
    assert_eq!((pass.readings, pass.prices), (0, 1), "{pass:?}");
    assert_eq!(
        s.d.reading(ma, i)
            .await
            .expect("read")
            .map(|r| (r.importWh, r.revision)),
        Some((4_000, 2))
    );
    assert_eq!(
        s.d.price_of(net.market, i).await.expect("price"),
        Some((80_000, 0))
    );
    assert_eq!(store.reading_counts().await.expect("counts"), (0, 1, 0, 0));

    // Pairing: the first reading of an even interval waits for the next interval of its
    // meter (one storage slot, one cold write); an odd one whose partner is on-chain goes.
    let post_one = |r: MeterReading, k: usize| {
        let body = json!({ "readings": [item(r.clone(), sign(k, r))] });
        let base = base.clone();
        async move {
            let (_, v) = post(&base, "/v1/readings", body.to_string().into_bytes()).await;
            assert_eq!(v["accepted"], 1, "{v}");
        }
    };
    post_one(reading(mb, i, 0, 6_000, 0), 1).await;
    let pass = svc.run_once().await.expect("pass");
    assert_eq!(pass.readings, 0, "a lone even interval waits: {pass:?}");
    assert_eq!(store.reading_counts().await.expect("counts"), (1, 1, 0, 0));
    post_one(reading(ma, i + 1, 2_000, 0, 0), 0).await;
    let pass = svc.run_once().await.expect("pass");
    assert_eq!(pass.readings, 1, "an odd interval goes at once: {pass:?}");
    post_one(reading(mb, i + 1, 0, 7_000, 0), 1).await;
    let pass = svc.run_once().await.expect("pass");
    assert_eq!(pass.readings, 2, "the pair goes together: {pass:?}");
    assert_eq!(store.reading_counts().await.expect("counts"), (0, 4, 0, 0));
    let stored = net
        .net
        .provider
        .get_logs(
            &Filter::new()
                .from_block(0)
                .address(net.net.delivery.settlement)
                .event_signature(DeliverySettlement::ReadingStored::SIGNATURE_HASH)
                .topic1(mb),
        )
        .await
        .expect("logs");
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(
        stored[0].transaction_hash, stored[1].transaction_hash,
        "both intervals of the slot in one submitReadings"
    );
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    for p in ["/v1/readings", "/v1/prices", "/v1/orders"] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the node's openapi.json"
        );
    }
    node.shutdown().await;
}

/// Not a test on its own: the node process of `delivery_resumes_after_a_kill_at_every_stage`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of delivery_resumes_after_a_kill_at_every_stage"]
async fn delivery_child() {
    let spec = std::env::var(CHILD_ENV).expect("run by the delivery restart test only");
    let v: Value = serde_json::from_str(&spec).expect("spec");
    let s = |k: &str| v[k].as_str().expect(k).to_owned();
    let mut cfg = NodeConfig::new(
        s("rpc"),
        s("auction").parse().expect("auction"),
        signer(0),
        s("store"),
    );
    cfg.markets = vec![s("market").parse().expect("market")];
    cfg.background = false;
    cfg.delivery = Some(DeliveryNodeConfig {
        run_loop: false,
        ..DeliveryNodeConfig::new(serde_json::from_value(v["delivery"].clone()).expect("contracts"))
    });
    let node = launch(cfg).await.expect("node");
    let svc = node.delivery.clone().expect("delivery");
    for _ in 0..3 {
        svc.run_once().await.expect("pass");
    }
}

/// The first interval of an hour whose gate is still ahead of the chain by two minutes.
async fn next_hour(net: &Net) -> u64 {
    let now = net.now().await;
    let mut i = (now / 3600 + 1) * 12;
    if i * 300 - 300 < now + 120 {
        i += 12;
    }
    i
}

/// What the hour's trading is: bob (trader 2, the solar meter) sells 6,500 Wh in interval `i`,
/// alice (1) and carol (3) buy 4,000 and 2,500.
const BOOK: [(usize, Side, u64, i64); 3] = [
    (2, Side::Sell, 6_500, 50_000),
    (1, Side::Buy, 4_000, 120_000),
    (3, Side::Buy, 2_500, 120_000),
];

/// Trades interval `i` (before its gate): the orders are committed and opened to a matcher on
/// `url`, cleared at the gate and settled on-chain (accept-all verifier); the store then holds
/// the batch settled. Returns the fills by trader.
async fn trade(net: &Net, url: &str, i: u64) -> Vec<(Address, Fill)> {
    let m = Matcher::start(net, url, Pipeline::Log).await;
    for (n, (k, side, wh, limit)) in BOOK.into_iter().enumerate() {
        let o = net.order(k, i, side, wh, limit, 500 + n as u64);
        net.commit(k, &o).await;
        m.open(net, k, &o).await;
    }
    let (gate, _, _) = net.times(i).await;
    net.warp(gate).await;
    m.clock.set(gate);
    let b = m
        .scheduler
        .close_interval(net.market, i)
        .await
        .expect("close")
        .batch;
    let price = b.price.expect("the book crosses");
    net.settle_unproven(net.market, i, price, b.volume, &b.fills)
        .await;
    assert!(
        m.store
            .advance_batch(net.market, i, BatchState::Settled, gate)
            .await
            .expect("advance"),
        "the batch is recorded settled"
    );
    let fills = m
        .store
        .commitments(net.market, i)
        .await
        .expect("commitments")
        .iter()
        .map(|c| {
            let w = b.fills[c.index as usize];
            (c.trader, Fill::decode(w).expect("fill"))
        })
        .collect();
    m.store.close().await;
    m.node.shutdown().await;
    fills
}

async fn count_events(net: &Net, sig: B256) -> Vec<alloy::rpc::types::Log> {
    let filter = Filter::new()
        .address(vec![
            net.net.delivery.settlement,
            net.net.delivery.certificates,
        ])
        .from_block(0)
        .event_signature(sig);
    net.net.provider.get_logs(&filter).await.expect("logs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_a_kill_at_every_stage() {
    for failpoint in [
        "delivery_after_start_settle",
        "delivery_after_settle",
        "delivery_after_issue",
        "delivery_after_move",
        "delivery_after_resettle",
    ] {
        let net = Net::with_test_verifier().await;
        let s = site(&net).await;
        // Collateral for the owners and the balancing account.
        let balancing: PrivateKeySigner = DEV_BALANCING_KEY.parse().expect("key");
        let mint = IMockToken::new(net.net.token, net.wallet(0));
        mint.mint(signer(0).address(), U256::from(10u64.pow(12)))
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("mined");
        s.d.approve(net.net.token, U256::MAX)
            .await
            .expect("approve");
        for who in s.owners.iter().chain([&balancing.address()]) {
            s.d.deposit(net.net.token, *who, U256::from(10u64.pow(9)))
                .await
                .expect("deposit");
        }
        let i = next_hour(&net).await;
        let tmp = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite:{}", tmp.path().join("n.db").display());
        let [ma, mb, _] = s.meters;
        // The hour trades: bob sells what alice and carol buy, and opts in to passing his
        // certificates along the fills (approves the operator on the certificates contract).
        let fills = trade(&net, &url, i).await;
        assert_eq!(
            fills,
            vec![
                (s.owners[1], Fill::Sell(6_500)),
                (s.owners[0], Fill::Buy(4_000)),
                (s.owners[2], Fill::Buy(2_500)),
            ],
            "{failpoint}: the book fills whole"
        );
        let certificates =
            GranularCertificates::new(net.net.delivery.certificates, net.net.provider.clone());
        let approve = GranularCertificates::new(net.net.delivery.certificates, net.wallet(2))
            .setApprovalForAll(signer(0).address(), true)
            .send()
            .await
            .expect("approve")
            .get_receipt()
            .await
            .expect("mined");
        assert!(approve.status());
        // After the end of the interval after it; the operator claims the fills (intents).
        net.warp((i + 2) * 300 + 1).await;
        {
            let store = Store::connect(&url).await.expect("store");
            let claimer = Claimer::new(store.clone(), net.chain().await, net.submitter().await);
            assert_eq!(claimer.run_once().await.expect("claims"), 1, "{failpoint}");
            store.close().await;
        }
        let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().expect("oracle");
        let late = {
            // Readings of both intervals (meter a's first one late) and prices, through the API.
            let n = node(&net, &url, false).await;
            let svc = n.delivery.clone().expect("delivery");
            let dom = svc.domain().clone();
            let sign = |k: usize, r: MeterReading| {
                item(
                    r.clone(),
                    sign_reading(&s.gateways[k], r, &dom)
                        .expect("sign")
                        .signature,
                )
            };
            let body = json!({ "readings": [
                sign(1, reading(mb, i, 0, 9_000, 0)),
                sign(1, reading(mb, i + 1, 0, 8_000, 0)),
                sign(0, reading(ma, i + 1, 3_000, 0, 0)),
            ]});
            let (_, v) = post(&n.base_url(), "/v1/readings", body.to_string().into_bytes()).await;
            assert_eq!(v["accepted"], 3, "{v}");
            let prices: Vec<Value> = [i, i + 1]
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
            let (_, v) = post(
                &n.base_url(),
                "/v1/prices",
                json!({ "prices": prices }).to_string().into_bytes(),
            )
            .await;
            assert_eq!(v["accepted"], 2, "{v}");
            let late = sign(0, reading(ma, i, 4_000, 0, 0));
            n.shutdown().await;
            late
        };
        // The reading deadline of both intervals.
        let (window, _) = s.d.windows().await.expect("windows");
        net.warp((i + 2) * 300 + u64::from(window) + 1).await;
        let spec = json!({
            "rpc": net.net.rpc, "auction": net.net.auction.to_string(), "store": url,
            "market": net.market.to_string(), "delivery": net.net.delivery,
        });
        let run =
            |f: Option<&str>| harness::run_child("delivery::delivery_child", CHILD_ENV, &spec, f);
        let hour = i * 300 / 3600;
        let id = (U256::from(s.d.device_of(mb).await.expect("device")) << 64) | U256::from(hour);
        let balances = || async {
            let mut out = Vec::new();
            for o in s.owners {
                let b = certificates.balanceOf(o, id).call().await.expect("balance");
                out.push(u128::try_from(b).expect("wh"));
            }
            out
        };
        if failpoint == "delivery_after_resettle" {
            assert_eq!(run(None), 0, "settle, issue and move");
        } else {
            assert_eq!(
                run(Some(failpoint)),
                86,
                "{failpoint}: the child stops there"
            );
            if failpoint == "delivery_after_move" {
                // Killed between the transfer and its record: the chain has moved, the store
                // holds only the plan.
                assert_eq!(balances().await, [4_000, 10_500, 2_500], "moved on-chain");
                let due = Store::connect(&url).await.expect("store");
                let h = due.hours_to_move(net.market).await.expect("hours");
                assert!(
                    h.len() == 1 && h[0].hour == hour && h[0].plan.is_some(),
                    "the plan is left unfinished: {h:?}"
                );
                assert!(
                    due.certificates_moved(net.market, hour)
                        .await
                        .expect("moved")
                        .is_empty()
                );
                due.close().await;
            }
            assert_eq!(run(None), 0, "{failpoint}: the restarted node finishes");
        }
        // Every account of both intervals settled exactly once.
        let settled = count_events(&net, DeliverySettlement::Settled::SIGNATURE_HASH).await;
        let mut per: Vec<(u64, Address)> = settled
            .iter()
            .map(|l| {
                let e = l
                    .log_decode::<DeliverySettlement::Settled>()
                    .expect("settled");
                (e.inner.interval, e.inner.account)
            })
            .collect();
        per.sort();
        let before = per.len();
        per.dedup();
        assert_eq!(before, per.len(), "{failpoint}: an account settled twice");
        for iv in [i, i + 1] {
            for o in s.owners {
                assert!(
                    per.contains(&(iv, o)),
                    "{failpoint}: {o} not settled for {iv}"
                );
            }
        }
        // The hour's certificates: issued once, the generator's verified export.
        let mints: u128 = count_events(&net, GranularCertificates::TransferSingle::SIGNATURE_HASH)
            .await
            .iter()
            .filter_map(|l| l.log_decode::<GranularCertificates::TransferSingle>().ok())
            .filter(|e| e.inner.from == Address::ZERO)
            .map(|e| u128::try_from(e.inner.value).expect("wh"))
            .sum();
        assert_eq!(mints, 17_000, "{failpoint}: certificates of the hour");
        let store = Store::connect(&url).await.expect("store");
        assert_eq!(
            store
                .issued(net.market, i * 300 / 3600)
                .await
                .expect("issued"),
            Some(17_000)
        );
        // Meter a's reading was estimated; its actual reading arrives late and is resettled.
        let position = |iv| s.d.position(net.market, iv, s.owners[0]);
        assert_ne!(
            position(i).await.expect("position").flags & 2,
            0,
            "{failpoint}: settled on an estimate"
        );
        {
            let n = node(&net, &url, false).await;
            let (_, v) = post(
                &n.base_url(),
                "/v1/readings",
                json!({ "readings": [late] }).to_string().into_bytes(),
            )
            .await;
            assert_eq!(v["accepted"], 1, "{v}");
            n.shutdown().await;
        }
        if failpoint == "delivery_after_resettle" {
            assert_eq!(
                run(Some(failpoint)),
                86,
                "{failpoint}: the child stops there"
            );
        }
        assert_eq!(run(None), 0, "{failpoint}: the late reading");
        let resettled = count_events(&net, DeliverySettlement::Resettled::SIGNATURE_HASH).await;
        let alice: Vec<_> = resettled
            .iter()
            .filter_map(|l| l.log_decode::<DeliverySettlement::Resettled>().ok())
            .filter(|e| e.inner.account == s.owners[0] && e.inner.interval == i)
            .collect();
        assert_eq!(
            alice.len(),
            1,
            "{failpoint}: the late reading resettled once"
        );
        let p = position(i).await.expect("position");
        assert_eq!(
            (p.metered.to_string(), p.flags & 2),
            ("4000".to_owned(), 0),
            "{failpoint}: on the actual reading"
        );
        assert!(store.resettle_queue().await.expect("queue").is_empty());
        // The hour's certificates moved along the fills exactly once: bob passed on what he
        // sold (6,500 of his 17,000 Wh), pro rata to what alice and carol bought, and the store
        // records what the chain shows.
        assert_eq!(
            balances().await,
            [4_000, 10_500, 2_500],
            "{failpoint}: alice, bob, carol"
        );
        let moves: Vec<(Address, Address, u128)> =
            count_events(&net, GranularCertificates::TransferSingle::SIGNATURE_HASH)
                .await
                .iter()
                .filter_map(|l| l.log_decode::<GranularCertificates::TransferSingle>().ok())
                .filter(|e| e.inner.from != Address::ZERO && e.inner.id == id)
                .map(|e| {
                    (
                        e.inner.from,
                        e.inner.to,
                        u128::try_from(e.inner.value).expect("wh"),
                    )
                })
                .collect();
        assert_eq!(
            moves,
            vec![
                (s.owners[1], s.owners[0], 4_000),
                (s.owners[1], s.owners[2], 2_500)
            ],
            "{failpoint}: one transfer per buyer, none twice"
        );
        assert_eq!(
            store
                .certificates_moved(net.market, hour)
                .await
                .expect("moved"),
            std::collections::HashMap::from([(s.owners[1], 6_500)]),
            "{failpoint}: the store's moved total is the chain's"
        );
        assert!(
            store
                .hours_to_move(net.market)
                .await
                .expect("hours")
                .is_empty(),
            "{failpoint}: nothing left to move"
        );
        store.close().await;
    }
}
