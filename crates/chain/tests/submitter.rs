//! The submitter against a real anvil with the devnet deployment (accept-all verifier: these
//! tests are about sending, not proofs): idempotent settles, a reorg that drops the settle,
//! batched idempotent claims, the fee cap and alert, the settle window, voids and refunds.

#![allow(missing_docs)]

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy::{
    primitives::{B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use sealgrid_chain::{
    ChainError, GasAlert, NotSettleable, SettleOutcome, Submitter, SubmitterConfig,
    bindings::{ISealgridAuction, SealgridAuction},
};
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet, demo_market};
use sealgrid_types::{
    ClearedBatch, Order, SELL_FLAG, Side, fills_proof, order_commitment, required_lock,
};

/// A clearing and the proof the tests settle it with.
#[derive(Clone, Debug)]
struct Settlement {
    market: B256,
    interval: u64,
    price: i64,
    volume: u64,
    fills: Vec<u64>,
    proof: Bytes,
}

impl Settlement {
    /// The batch the submitter settles (the submitter reads neither count nor accumulator).
    fn batch(&self) -> ClearedBatch {
        ClearedBatch {
            market: self.market,
            interval: self.interval,
            count: self.fills.len() as u32,
            accumulator: B256::ZERO,
            price: Some(self.price),
            volume: self.volume,
            fills: self.fills.clone(),
        }
    }
}

/// forge runs share `out/`, `cache/` and `broadcast/`: one deployment at a time.
static FORGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn devnet() -> Devnet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let _one = FORGE.lock().await;
    Devnet::start_with_test_verifier(&root)
        .await
        .expect("devnet")
}

/// An interval with a buy of 5 kWh (trader 1) and a sell of 5 kWh (trader 2) committed, the
/// chain at its gate; returns the interval, the records and the matching settlement.
async fn committed_interval(
    net: &Devnet,
) -> (u64, Vec<ISealgridAuction::CommitmentRecord>, Settlement) {
    let market = demo_market();
    let reader = SealgridAuction::new(net.auction, net.provider.clone());
    let now = net.now().await.expect("now");
    let m = reader.getMarket(market).call().await.expect("market").p;
    let len = u64::from(m.intervalLength.to::<u32>());
    let lead = u64::from(m.gateLead.to::<u32>());
    let interval = (now + lead) / len + 2;
    let mut records = Vec::new();
    for (k, side, limit) in [(1usize, Side::Buy, 120_000i64), (2, Side::Sell, 50_000)] {
        let trader: PrivateKeySigner = DEV_KEYS[k].parse().expect("key");
        let order = Order {
            trader: trader.address(),
            market,
            interval,
            side: side.code(),
            quantityWh: 5_000,
            limitPrice: limit,
            nonce: k as u64,
            salt: B256::from(U256::from_be_bytes(keccak256([k as u8]).0) >> 8),
        };
        let commitment = order_commitment(&order).expect("commitment");
        let lock = required_lock(side, 5_000, limit);
        let auction = SealgridAuction::new(net.auction, net.wallet(DEV_KEYS[k]).expect("wallet"));
        let r = auction
            .commit(market, interval, commitment, lock)
            .send()
            .await
            .expect("send")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(r.status());
        records.push(ISealgridAuction::CommitmentRecord {
            index: records.len() as u32,
            trader: order.trader,
            lock,
            commitment,
        });
    }
    let times = reader
        .intervalTimes(market, interval)
        .call()
        .await
        .expect("times");
    net.warp(times.gate.to::<u64>()).await.expect("warp");
    let settlement = Settlement {
        market,
        interval,
        price: 80_000,
        volume: 5_000,
        fills: vec![5_000, SELL_FLAG | 5_000],
        proof: Bytes::from_static(b"accept-all verifier"),
    };
    (interval, records, settlement)
}

async fn submitter(net: &Devnet, cfg: SubmitterConfig) -> Submitter {
    Submitter::connect(
        &net.rpc,
        net.auction,
        DEV_KEYS[0]
            .parse::<alloy::signers::local::PrivateKeySigner>()
            .expect("operator key"),
        cfg,
    )
    .await
    .expect("submitter")
}

async fn settled_events(net: &Devnet, interval: u64) -> usize {
    let filter = Filter::new()
        .address(net.auction)
        .from_block(0)
        .event_signature(SealgridAuction::Settled::SIGNATURE_HASH);
    net.provider
        .get_logs(&filter)
        .await
        .expect("logs")
        .iter()
        .filter_map(|l| l.log_decode::<SealgridAuction::Settled>().ok())
        .filter(|e| e.inner.data.interval == interval)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_is_idempotent_and_refuses_another_clearing() {
    let net = devnet().await;
    let (interval, _, s) = committed_interval(&net).await;
    let sub = submitter(&net, SubmitterConfig::default()).await;

    let first = sub.settle(&s.batch(), &s.proof).await.expect("settle");
    let SettleOutcome::Settled(c) = first else {
        panic!("expected a settle, got {first:?}")
    };
    assert_eq!(c.attempts, 1);
    assert!(c.gas_used > 0);
    // A retry (e.g. after a crash) sends nothing.
    assert_eq!(
        sub.settle(&s.batch(), &s.proof).await.expect("retry"),
        SettleOutcome::AlreadySettled
    );
    assert_eq!(settled_events(&net, interval).await, 1);

    // Another clearing for the same interval is refused, before sending anything.
    let other = Settlement {
        price: s.price + 1,
        ..s.clone()
    };
    match sub.settle(&other.batch(), &other.proof).await {
        Err(ChainError::SettledDifferently { price, volume, .. }) => {
            assert_eq!((price, volume), (s.price, s.volume));
        }
        r => panic!("expected SettledDifferently, got {r:?}"),
    }
    assert_eq!(settled_events(&net, interval).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_drops_the_settle_is_resubmitted_once() {
    let net = devnet().await;
    let (interval, _, s) = committed_interval(&net).await;
    let snapshot: U256 = net
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("snapshot");
    let sub = Arc::new(
        submitter(
            &net,
            SubmitterConfig {
                confirmations: 3,
                poll: Duration::from_millis(20),
                ..SubmitterConfig::default()
            },
        )
        .await,
    );
    let task = {
        let sub = sub.clone();
        let s = s.clone();
        tokio::spawn(async move { sub.settle(&s.batch(), &s.proof).await })
    };
    // Wait for the settle to be mined (one block deep, short of 3 confirmations) ...
    let reader = SealgridAuction::new(net.auction, net.provider.clone());
    for _ in 0..500 {
        if reader
            .getInterval(s.market, interval)
            .call()
            .await
            .expect("interval")
            .status
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(settled_events(&net, interval).await, 1, "settle mined");
    // ... then drop its block: the chain goes back to before the settle.
    let reverted: bool = net
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("revert");
    assert!(reverted);
    assert_eq!(
        settled_events(&net, interval).await,
        0,
        "settle reorged out"
    );
    // New blocks keep coming.
    let miner = {
        let p = net.provider.clone();
        tokio::spawn(async move {
            loop {
                let _: Result<serde_json::Value, _> = p.raw_request("evm_mine".into(), ()).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let outcome = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("settle finishes")
        .expect("task")
        .expect("settle");
    miner.abort();
    let SettleOutcome::Settled(c) = outcome else {
        panic!("expected the resubmission to settle, got {outcome:?}")
    };
    assert_eq!(c.attempts, 2, "sent once, dropped, sent again");
    assert_eq!(settled_events(&net, interval).await, 1);
    let head = net.provider.get_block_number().await.expect("head");
    assert!(head + 1 >= c.block + 3, "confirmed 3 deep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_batched_and_never_sent_twice() {
    let net = devnet().await;
    let (interval, records, s) = committed_interval(&net).await;
    let sub = submitter(
        &net,
        SubmitterConfig {
            claim_batch: 1,
            ..SubmitterConfig::default()
        },
    )
    .await;
    sub.settle(&s.batch(), &s.proof).await.expect("settle");
    let times = SealgridAuction::new(net.auction, net.provider.clone())
        .intervalTimes(s.market, interval)
        .call()
        .await
        .expect("times");
    net.warp(times.start.to::<u64>()).await.expect("warp");
    let claims: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(k, r)| ISealgridAuction::Claim {
            record: r.clone(),
            word: s.fills[k],
            proof: fills_proof(&s.fills, k as u32).expect("proof"),
        })
        .collect();
    let sent = sub
        .claim(s.market, interval, claims.clone())
        .await
        .expect("claims");
    assert_eq!(sent.len(), 2, "two claims in batches of one");
    let again = sub.claim(s.market, interval, claims).await.expect("again");
    assert!(again.is_empty(), "nothing left to claim: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_cap_alert_and_settle_window() {
    let net = devnet().await;
    let (interval, records, s) = committed_interval(&net).await;

    // A cap under the base fee: nothing could be included, so nothing is sent.
    let capped = submitter(
        &net,
        SubmitterConfig {
            max_fee_per_gas: 1,
            ..SubmitterConfig::default()
        },
    )
    .await;
    match capped.settle(&s.batch(), &s.proof).await {
        Err(ChainError::FeeCapExceeded { cap, base_fee }) => {
            assert_eq!(cap, 1);
            assert!(base_fee > 1);
        }
        r => panic!("expected FeeCapExceeded, got {r:?}"),
    }
    assert_eq!(settled_events(&net, interval).await, 0);

    // A low alert threshold calls the hook, and the settle still goes through.
    let alerts = Arc::new(AtomicUsize::new(0));
    let seen = alerts.clone();
    let alerting = submitter(
        &net,
        SubmitterConfig {
            gas_price_alert: 1,
            ..SubmitterConfig::default()
        },
    )
    .await
    .with_alert(Arc::new(move |a: &GasAlert| {
        assert_eq!(a.threshold, 1);
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    // An invalid settle (unbalanced fills) is refused at the estimate, with the auction's error.
    let bad = Settlement {
        fills: vec![5_000, SELL_FLAG | 4_000],
        ..s.clone()
    };
    match alerting.settle(&bad.batch(), &bad.proof).await {
        Err(ChainError::Revert { reason, .. }) => {
            assert!(reason.contains("AuctionFillsDoNotBalance"), "{reason}");
        }
        r => panic!("expected a revert, got {r:?}"),
    }
    // Past the deadline: not settleable, and the interval can be voided and refunded.
    let times = SealgridAuction::new(net.auction, net.provider.clone())
        .intervalTimes(s.market, interval)
        .call()
        .await
        .expect("times");
    net.warp(times.deadline.to::<u64>()).await.expect("warp");
    match alerting.settle(&s.batch(), &s.proof).await {
        Err(ChainError::NotSettleable {
            reason: NotSettleable::PastDeadline { deadline, now },
            ..
        }) => {
            assert_eq!(deadline, times.deadline.to::<u64>());
            assert!(now >= deadline);
        }
        r => panic!("expected NotSettleable, got {r:?}"),
    }
    assert!(
        alerting
            .void(s.market, interval)
            .await
            .expect("void")
            .is_some()
    );
    assert!(
        alerting
            .void(s.market, interval)
            .await
            .expect("void again")
            .is_none()
    );
    let refunds = alerting
        .refund(s.market, interval, records.clone())
        .await
        .expect("refund");
    assert_eq!(refunds.len(), 1, "both records in one batch");
    assert!(
        alerting
            .refund(s.market, interval, records)
            .await
            .expect("again")
            .is_empty()
    );
    assert!(alerts.load(Ordering::SeqCst) >= 1, "the alert hook ran");
}
