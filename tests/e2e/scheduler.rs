//! The scheduler against a real devnet: clearing at the gate, settling the result on-chain, and
//! restarts after a crash at every stage.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use alloy::primitives::B256;
use sealgrid_matcher::{Intake, SimClock};
use sealgrid_node::{NodeConfig, Pipeline, launch};
use sealgrid_store::{BatchState, Store};
use sealgrid_types::{
    BatchSink, BatchStatus, BoxFuture, ClearedBatch, EXCLUDED_FLAG, Order, SELL_FLAG, Side,
    SinkError, fills_root,
};

use sealgrid_devkit::harness::{self, *};

/// Records every batch offered, and keeps the effect once per interval (the idempotence the
/// sink contract asks for).
#[derive(Debug, Default)]
struct RecordingSink {
    offers: Mutex<Vec<(B256, u64)>>,
    taken: Mutex<Vec<ClearedBatch>>,
}

impl BatchSink for RecordingSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.offers.lock().unwrap().push((b.market, b.interval));
            let mut taken = self.taken.lock().unwrap();
            if !taken
                .iter()
                .any(|t| (t.market, t.interval) == (b.market, b.interval))
            {
                taken.push(b.clone());
            }
            Ok(())
        })
    }
}

/// A sink in a file, for the crash tests' child processes: one line per offer in
/// `<path>.offers`, one line per interval (idempotent) in `<path>`.
#[derive(Debug)]
struct FileSink(PathBuf);

impl BatchSink for FileSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let line = format!(
                "{} {} {:?} {} {:?}\n",
                b.market, b.interval, b.price, b.volume, b.fills
            );
            let offers = self.0.with_extension("offers");
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&offers)
                .map_err(SinkError::retryable)?;
            f.write_all(line.as_bytes()).map_err(SinkError::retryable)?;
            let done = std::fs::read_to_string(&self.0).unwrap_or_default();
            let key = format!("{} {} ", b.market, b.interval);
            if !done.lines().any(|l| l.starts_with(&key)) {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.0)
                    .map_err(SinkError::retryable)?;
                f.write_all(line.as_bytes()).map_err(SinkError::retryable)?;
                f.sync_all().map_err(SinkError::retryable)?;
            }
            Ok(())
        })
    }
}

/// The demo book plus an unopened commitment and a withdrawn one. Returns the opened orders
/// with their keys, and the expected fill words.
async fn commit_book(net: &Net, i: u64) -> (Vec<(usize, Order)>, Vec<u64>) {
    let book = [
        (1, Side::Buy, 40_000, 120_000),
        (2, Side::Buy, 25_000, 90_000),
        (3, Side::Sell, 30_000, 60_000),
        (4, Side::Sell, 50_000, 100_000),
    ];
    let mut opened = Vec::new();
    for (n, (k, side, q, l)) in book.into_iter().enumerate() {
        let o = order(
            k,
            i,
            side,
            q,
            l,
            i * 10 + n as u64,
            &format!("book-{i}-{n}"),
        );
        assert_eq!(net.commit_with_lock(k, &o, lock_for(&o)).await, n as u32);
        opened.push((k, o));
    }
    let unopened = order(
        1,
        i,
        Side::Buy,
        5_000,
        200_000,
        i * 10 + 8,
        &format!("unopened-{i}"),
    );
    assert_eq!(
        net.commit_with_lock(1, &unopened, lock_for(&unopened))
            .await,
        4
    );
    let withdrawn = order(
        2,
        i,
        Side::Sell,
        5_000,
        1,
        i * 10 + 9,
        &format!("withdrawn-{i}"),
    );
    assert_eq!(
        net.commit_with_lock(2, &withdrawn, lock_for(&withdrawn))
            .await,
        5
    );
    net.withdraw(2, &withdrawn, 5, lock_for(&withdrawn)).await;
    let expected = vec![
        40_000,
        0,
        SELL_FLAG | 30_000,
        SELL_FLAG | 10_000,
        EXCLUDED_FLAG,
        EXCLUDED_FLAG,
    ];
    (opened, expected)
}

async fn open_all(intake: &Intake, net: &Net, opened: &[(usize, Order)]) {
    for (k, o) in opened {
        let req =
            serde_json::from_value(submission(o, &sign(*k, o, net.chain_id, net.auction), None))
                .expect("request");
        intake.submit(req).await.expect("accepted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clears_at_the_gate_and_the_contract_accepts_the_result() {
    let dir = tempfile::tempdir().expect("tmp");
    clears_at_the_gate(&format!("sqlite:{}", dir.path().join("m.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clears_at_the_gate_on_postgres() {
    let Some(url) = postgres_database("sealgrid_matcher").await else {
        return;
    };
    clears_at_the_gate(&url).await;
}

async fn clears_at_the_gate(url: &str) {
    let net = Net::with_test_verifier().await;
    let url = url.to_owned();
    let sink = Arc::new(RecordingSink::default());
    let m = Matcher::start(&net, &url, Pipeline::Sink(sink.clone())).await;
    let (i, gate) = net.open_interval().await;
    let (opened, expected) = commit_book(&net, i).await;
    open_all(&m.intake, &net, &opened).await;

    let scheduler = m.scheduler.clone();
    let market = demo_market();

    // Before the gate the scheduler waits.
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        scheduler.close_interval(market, i),
    )
    .await;
    assert!(early.is_err(), "must not clear before the gate");
    assert!(m.store.batch(market, i).await.expect("get").is_none());

    net.warp(gate).await;
    m.clock.set(gate);
    let row = scheduler.close_interval(market, i).await.expect("cleared");
    let batch = &row.batch;
    assert_eq!(batch.fills, expected);
    assert_eq!(
        (batch.price, batch.volume, batch.count),
        (Some(110_000), 40_000, 6)
    );
    assert_eq!(row.state, BatchState::HandedOff);
    assert_eq!(sink.taken.lock().unwrap().len(), 1);

    // Running the interval again changes nothing and offers nothing.
    let again = scheduler.close_interval(market, i).await.expect("again");
    assert_eq!(again, row);
    assert_eq!(sink.offers.lock().unwrap().len(), 1);

    // The read API shows it.
    let (s, text) = m.get(&format!("/v1/batches/{market}/{i}")).await;
    assert_eq!(s, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["price"], 110_000);
    assert_eq!(v["fillWords"], serde_json::json!(expected));

    // The operator settles it on-chain; the contract checks the fills against its sequence.
    net.settle_unproven(market, i, 110_000, 40_000, &batch.fills)
        .await;
    let onchain = net
        .chain()
        .await
        .interval(market, i)
        .await
        .expect("interval");
    assert_eq!(onchain.status, BatchStatus::Settled);
    assert_eq!(onchain.fills_root, fills_root(&batch.fills).expect("root"));
    assert_eq!(onchain.accumulator, batch.accumulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_without_commitments_clears_to_nothing() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite:{}", dir.path().join("m.db").display());
    let sink = Arc::new(RecordingSink::default());
    let m = Matcher::start(&net, &url, Pipeline::Sink(sink)).await;
    let (i, gate) = net.open_interval().await;
    net.warp(gate).await;
    m.clock.set(gate);
    let b = m
        .scheduler
        .close_interval(demo_market(), i)
        .await
        .expect("cleared")
        .batch;
    assert_eq!((b.count, b.price, b.volume, b.fills.len()), (0, None, 0, 0));
}

const CHILD_ENV: &str = "SEALGRID_IT_CHILD";

/// Not a test on its own: the crash test runs it in child processes (see below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of a_crash_at_any_stage_resumes_to_the_same_result"]
async fn crash_child() {
    let spec = std::env::var(CHILD_ENV).expect("run by the crash test only");
    let v: serde_json::Value = serde_json::from_str(&spec).expect("child spec");
    let sink = Arc::new(FileSink(PathBuf::from(v["sink"].as_str().unwrap())));
    let mut cfg = NodeConfig::new(
        v["rpc"].as_str().unwrap(),
        v["auction"].as_str().unwrap().parse().unwrap(),
        signer(0),
        v["store"].as_str().unwrap(),
    );
    cfg.clock = Arc::new(SimClock::new(v["now"].as_u64().unwrap()));
    cfg.pipeline = Pipeline::Sink(sink);
    cfg.background = false;
    let node = launch(cfg).await.expect("node");
    let scheduler = node.scheduler.clone();
    scheduler.resume_handoffs().await.expect("resume");
    scheduler
        .close_interval(demo_market(), v["interval"].as_u64().unwrap())
        .await
        .expect("close");
}

fn run_child(spec: &serde_json::Value, failpoint: Option<&str>) -> i32 {
    harness::run_child("scheduler::crash_child", CHILD_ENV, spec, failpoint)
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_stage_resumes_to_the_same_result() {
    let net = Net::with_test_verifier().await;
    let (i, gate) = net.open_interval().await;
    let (opened, expected) = commit_book(&net, i).await;
    let dir = tempfile::tempdir().expect("tmp");

    let mut reference = None;
    for failpoint in [
        None,
        Some("before_save"),
        Some("after_save"),
        Some("after_handoff"),
    ] {
        let name = failpoint.unwrap_or("clean");
        let store_url = format!("sqlite:{}", dir.path().join(format!("{name}.db")).display());
        let sink = dir.path().join(format!("{name}.sink"));
        {
            // Orders are opened (before the gate) by a matcher that then stops.
            let m = Matcher::with(
                &net,
                &store_url,
                MatcherOptions {
                    now: Some(gate - 60),
                    ..MatcherOptions::default()
                },
            )
            .await;
            open_all(&m.intake, &net, &opened).await;
            m.store.close().await;
        }
        if net.now().await < gate {
            net.warp(gate).await;
        }
        let spec = serde_json::json!({
            "store": store_url, "rpc": net.rpc, "auction": net.auction, "now": gate,
            "interval": i, "sink": sink,
        });
        if let Some(f) = failpoint {
            assert_eq!(
                run_child(&spec, Some(f)),
                86,
                "{f}: the child must stop at the failpoint"
            );
        }
        assert_eq!(
            run_child(&spec, None),
            0,
            "{name}: the restarted child must finish"
        );

        let store = Store::connect(&store_url).await.expect("store");
        let b = store
            .batch(demo_market(), i)
            .await
            .expect("get")
            .expect("batch");
        assert_eq!(b.state, BatchState::HandedOff, "{name}");
        let b = b.batch;
        assert_eq!(b.fills, expected, "{name}");
        let effect = lines(&sink);
        assert_eq!(
            effect.len(),
            1,
            "{name}: the batch takes effect once: {effect:?}"
        );
        let offers = lines(&sink.with_extension("offers"));
        // A crash after the sink took the batch but before the store noted it re-offers once
        // (at least once, idempotent sink); every other stage offers exactly once.
        let expected_offers = if failpoint == Some("after_handoff") {
            2
        } else {
            1
        };
        assert_eq!(offers.len(), expected_offers, "{name}: {offers:?}");
        let key = (b.price, b.volume, b.fills.clone(), effect[0].clone());
        match &reference {
            None => reference = Some(key),
            Some(r) => assert_eq!(*r, key, "{name}: same result as the clean run"),
        }
        // A third start does nothing more.
        assert_eq!(run_child(&spec, None), 0);
        assert_eq!(
            lines(&sink.with_extension("offers")).len(),
            expected_offers,
            "{name}"
        );
    }
}
