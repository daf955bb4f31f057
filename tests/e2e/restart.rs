//! The matcher process killed mid-interval (at each failpoint of the scheduler) and restarted:
//! the interval still settles exactly once, with a real proof.

use std::sync::Arc;

use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use sealgrid_chain::{SubmitterConfig, bindings::SealgridAuction};
use sealgrid_devkit::harness::{self, Matcher, Net, prover, signer};
use sealgrid_matcher::SimClock;
use sealgrid_node::{NodeConfig, Pipeline, SettlementConfig, launch};
use sealgrid_settlement::Claimer;
use sealgrid_store::{BatchState, Store};
use sealgrid_types::{BatchStatus, Side};

const CHILD_ENV: &str = "SEALGRID_E2E_CHILD";

/// Not a test on its own: the matcher process of `a_matcher_killed_mid_interval_settles_once`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of a_matcher_killed_mid_interval_settles_once"]
async fn child() {
    let spec = std::env::var(CHILD_ENV).expect("run by the restart test only");
    let v: serde_json::Value = serde_json::from_str(&spec).expect("spec");
    let s = |k: &str| v[k].as_str().expect(k).to_owned();
    let mut cfg = NodeConfig::new(
        s("rpc"),
        s("auction").parse().expect("auction"),
        signer(0),
        s("store"),
    );
    cfg.clock = Arc::new(SimClock::new(v["now"].as_u64().expect("now")));
    cfg.pipeline = Pipeline::Settle(SettlementConfig {
        prover: prover(),
        submitter: SubmitterConfig::default(),
        prepare: Vec::new(),
    });
    cfg.background = false;
    let node = launch(cfg).await.expect("node");
    let scheduler = node.scheduler.clone();
    scheduler.resume_handoffs().await.expect("resume");
    scheduler
        .close_interval(
            s("market").parse().expect("market"),
            v["interval"].as_u64().expect("i"),
        )
        .await
        .expect("close");
}

fn run_child(spec: &serde_json::Value, failpoint: Option<&str>) -> i32 {
    harness::run_child("restart::child", CHILD_ENV, spec, failpoint)
}

async fn settled_events(net: &Net, interval: u64) -> usize {
    let filter = Filter::new()
        .address(net.net.auction)
        .from_block(0)
        .event_signature(SealgridAuction::Settled::SIGNATURE_HASH);
    net.net
        .provider
        .get_logs(&filter)
        .await
        .expect("logs")
        .iter()
        .filter_map(|l| l.log_decode::<SealgridAuction::Settled>().ok())
        .filter(|e| e.inner.data.interval == interval)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matcher_killed_mid_interval_settles_once() {
    let net = Net::real().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut stores = Vec::new();
    let mut last_interval = 0;
    for failpoint in ["before_save", "after_save", "after_handoff"] {
        let (interval, gate) = net.open_interval().await;
        let store_url = format!(
            "sqlite:{}",
            tmp.path().join(format!("{failpoint}.db")).display()
        );
        {
            // Orders are committed and opened before the gate; that matcher then stops.
            let m = Matcher::start(&net, &store_url, Pipeline::Log).await;
            let book = [
                (1, Side::Buy, 30_000, 120_000),
                (2, Side::Sell, 20_000, 60_000),
                (3, Side::Sell, 25_000, 90_000),
            ];
            for (n, (k, side, wh, limit)) in book.into_iter().enumerate() {
                let o = net.order(k, interval, side, wh, limit, 100 + n as u64);
                net.commit(k, &o).await;
                m.open(&net, k, &o).await;
            }
            m.store.close().await;
        }
        net.warp(gate).await;
        let spec = serde_json::json!({
            "store": store_url, "rpc": net.net.rpc, "auction": net.net.auction,
            "market": net.market, "interval": interval, "now": gate,
        });
        assert_eq!(
            run_child(&spec, Some(failpoint)),
            86,
            "{failpoint}: killed at the failpoint"
        );
        let expected_before = usize::from(failpoint == "after_handoff");
        assert_eq!(
            settled_events(&net, interval).await,
            expected_before,
            "{failpoint}: settled before the kill only when killed after the hand-off"
        );
        assert_eq!(
            run_child(&spec, None),
            0,
            "{failpoint}: the restarted matcher finishes"
        );
        assert_eq!(
            settled_events(&net, interval).await,
            1,
            "{failpoint}: settled once"
        );
        let store = Store::connect(&store_url).await.expect("store");
        let b = store
            .batch(net.market, interval)
            .await
            .expect("get")
            .expect("batch");
        // The pipeline recorded the outcome: a restart resumes from it, never re-settles.
        assert_eq!(b.state, BatchState::Settled, "{failpoint}");
        let b = b.batch;
        let on_chain = net
            .chain()
            .await
            .interval(net.market, interval)
            .await
            .expect("iv");
        assert_eq!(
            (on_chain.status, Some(on_chain.price), on_chain.volume),
            (BatchStatus::Settled, b.price, b.volume)
        );
        // A third start changes nothing.
        assert_eq!(run_child(&spec, None), 0);
        assert_eq!(settled_events(&net, interval).await, 1, "{failpoint}");
        store.close().await;
        stores.push(store_url);
        last_interval = interval;
    }

    // Delivery: the operator's claimer claims every commitment of the three intervals.
    let (_, _, start) = net.times(last_interval).await;
    net.warp(start).await;
    let submitter = net.submitter().await;
    for url in &stores {
        let store = Store::connect(url).await.expect("store");
        let claimer = Claimer::new(store.clone(), net.chain().await, submitter.clone());
        assert_eq!(claimer.run_once().await.expect("claims"), 1, "{url}");
        // The store records the interval claimed: the next pass (or a restart) has no work.
        assert_eq!(claimer.run_once().await.expect("again"), 0, "{url}");
        assert!(
            store
                .batches_in(BatchState::Claimed)
                .await
                .expect("claimed")
                .len()
                == 1,
            "{url}"
        );
    }
    let token = net.net.token;
    let ledger = net.reader().ledger(token).call().await.expect("ledger");
    assert_eq!(
        ledger.poolMilli, 0,
        "every fill claimed: the clearing pool is empty"
    );
}
