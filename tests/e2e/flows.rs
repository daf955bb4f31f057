//! Whole flows on anvil: one interval with a real proof, a missed settle window, a dispute.

use std::sync::Arc;

use alloy_primitives::{Bytes, U256};
use sealgrid_chain::{SettleOutcome, Submitter, SubmitterConfig, bindings::ISealgridAuction};
use sealgrid_devkit::{
    demo::{DemoOptions, run_demo},
    harness::{Matcher, Net, prover, signer, small_local_config},
};
use sealgrid_node::{Pipeline, SettlementConfig};
use sealgrid_settlement::Settled;
use sealgrid_types::{
    BatchSink, BatchStatus, BoxFuture, ClearedBatch, ClearingProver, EXCLUDED_FLAG, ProofRequest,
    ProveError, ProvenBatch, SELL_FLAG, Side, SinkError, fills_proof,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_interval_with_a_real_proof() {
    let net = Net::real().await;
    let cfg = small_local_config();
    let mut lines = Vec::new();
    let summary = run_demo(
        &net.net,
        net.market,
        prover(),
        cfg.submitter_config().expect("submitter config"),
        DemoOptions {
            sites: 6,
            intervals: 1,
            start_hour: 12.0,
            seed: 11,
            deployment: None,
            root: sealgrid_devkit::harness::root(),
        },
        |l| lines.push(l),
    )
    .await
    .unwrap_or_else(|e| panic!("demo failed: {e}\n{}", lines.join("\n")));
    assert_eq!(summary.rows.len(), 1);
    let row = &summary.rows[0];
    assert!(row.volume > 0, "something cleared: {row:?}");
    let (seconds, capacity) = row.prove.expect("proven");
    assert!(seconds > 0.0 && capacity == 16, "{row:?}");
    assert!(
        row.settle_gas > 300_000,
        "the settle ran the verifier: {row:?}"
    );
    let on_chain = net
        .chain()
        .await
        .interval(net.market, row.interval)
        .await
        .expect("interval");
    assert_eq!(on_chain.status, BatchStatus::Settled);
    assert_eq!(Some(on_chain.price), row.price);
    assert!(summary.claim_txs >= 1);
    assert!(
        lines.iter().any(|l| l.contains("refuses it for price")),
        "the forged statement was checked: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("money conserved")),
        "{lines:?}"
    );
    // Sponsored traders: three sites trade through smart accounts; the paymaster paid for
    // every operation and the accounts and their owners spent nothing while trading.
    let sp = summary
        .sponsored
        .as_ref()
        .expect("the local config has [accounts]");
    assert_eq!(sp.accounts, 3, "{sp:?}");
    assert!(sp.commits >= 1 && sp.operations >= 1, "{sp:?}");
    assert!(sp.bundles <= sp.operations, "{sp:?}");
    assert!(
        sp.paid_wei > U256::ZERO && sp.op_gas > 0 && sp.bundle_gas > 0,
        "{sp:?}"
    );
    assert_eq!(sp.self_paid_wei, U256::ZERO, "{sp:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("smart accounts in one sponsored bundle")),
        "{lines:?}"
    );
    // Delivery: every account settled, the late meter on an estimate and then resettled,
    // certificates for the solar sites, money conserved in the settlement contract.
    let d = &summary.delivery;
    assert_eq!(d.rows.len(), 1);
    assert_eq!(d.rows[0].interval, row.interval);
    // The node settles every account with a meter (6 sites and a battery) and every account
    // with a fill (the aggregator, when it traded in the interval).
    assert_eq!(
        d.meters,
        6 + 1 + 2,
        "6 sites, a battery and the feeder gateway's two"
    );
    // The feeder's gateway: a DLMS meter and a charging station read, verified, signed and
    // accepted by the node for the traded interval.
    let f = d.feeder.as_ref().expect("the feeder gateway ran");
    assert_eq!(f.refusals, Vec::<String>::new(), "{f:?}");
    assert_eq!((f.dlms_readings, f.charger_readings), (1, 1), "{f:?}");
    assert_eq!(f.charger_records, 3, "begin, one clock-aligned, end: {f:?}");
    assert_eq!(f.accepted, 2, "{f:?}");
    // The station was told its session's cost at the interval's cleared price: while it ran
    // and in the answer to its end, equal to the cost computed here from its energy.
    let expected = f.expected_cost.expect("the traded interval cleared");
    assert!(expected > 0.0, "{f:?}");
    assert_eq!(f.total_cost, Some(expected), "{f:?}");
    assert_eq!(f.cost_updates.last(), Some(&expected), "{f:?}");
    assert!(
        // The feeder's meters are second meters of two sites: 7 metered accounts.
        d.rows[0].accounts == 7 || d.rows[0].accounts == 7 + 1,
        "every metered account, and the aggregator if it filled: {:?}",
        d.rows[0]
    );
    assert_eq!(d.rows[0].estimates, 1, "the late meter");
    let r = d.resettlement.as_ref().expect("resettled");
    assert_eq!(r.old.1, 0, "deemed delivery has no imbalance");
    assert_ne!(r.new, r.old, "the actual reading changed the settlement");
    assert!(d.certificates_wh > 0, "{d:?}");
    assert!(
        d.certificates_moved.0 > 0 && d.certificates_retired > 0,
        "certificates followed the fills and one holding was retired: {d:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("delivery: money conserved")),
        "{lines:?}"
    );
}

/// A prover that must not be called (test double).
#[derive(Debug)]
struct NoProver;

impl ClearingProver for NoProver {
    fn prove(&self, _: &ProofRequest) -> Result<ProvenBatch, ProveError> {
        panic!("the pipeline must not prove an interval past its deadline")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_settle_window_voids_and_refunds_every_lock() {
    let net = Net::with_test_verifier().await;
    let (interval, gate) = net.open_interval().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let store_url = format!("sqlite:{}", tmp.path().join("m.db").display());
    let pipeline = Pipeline::Settle(SettlementConfig {
        prover: Arc::new(NoProver),
        submitter: SubmitterConfig::default(),
        prepare: Vec::new(),
    });
    let mut m = Matcher::start(&net, &store_url, pipeline).await;
    let submitter = m.node.submitter.clone().expect("submitter");
    let mut reports = m.node.take_reports().expect("reports");

    let traders = [1usize, 2, 3, 4];
    let mut before = Vec::new();
    for k in traders {
        before.push(net.wealth(signer(k).address()).await);
    }
    let mut records = Vec::new();
    for (n, k) in traders.into_iter().enumerate() {
        let side = if k % 2 == 0 { Side::Sell } else { Side::Buy };
        let o = net.order(k, interval, side, 10_000, 100_000, n as u64);
        records.push(net.commit(k, &o).await);
        m.open(&net, k, &o).await;
    }
    for ((k, b), r) in traders.iter().zip(&before).zip(&records) {
        assert_eq!(
            net.wealth(signer(*k).address()).await,
            *b - U256::from(r.lock),
            "trader {k}'s lock is taken"
        );
    }
    assert!(records.iter().any(|r| r.lock > 0), "buyers lock money");

    // The operator is down through the whole settle window.
    let (_, deadline, _) = net.times(interval).await;
    net.warp(deadline).await;
    m.clock.set(gate);
    let batch = m
        .scheduler
        .close_interval(net.market, interval)
        .await
        .expect("close")
        .batch;
    assert_eq!(batch.count, 4);
    let report = tokio::time::timeout(std::time::Duration::from_secs(10), reports.recv())
        .await
        .expect("a report in time")
        .expect("report");
    assert_eq!(report.outcome, Settled::Voided);
    assert_eq!(
        net.chain()
            .await
            .interval(net.market, interval)
            .await
            .expect("iv")
            .status,
        BatchStatus::Voided
    );

    // Every lock comes back, and only once.
    let refunds = submitter
        .refund(net.market, interval, records.clone())
        .await
        .expect("refund");
    assert_eq!(refunds.len(), 1);
    assert!(
        submitter
            .refund(net.market, interval, records)
            .await
            .expect("again")
            .is_empty()
    );
    for (k, b) in traders.iter().zip(&before) {
        assert_eq!(
            net.wealth(signer(*k).address()).await,
            *b,
            "trader {k} is whole again"
        );
    }
    // A late settle is refused before anything is sent.
    let late = ClearedBatch {
        price: Some(100_000),
        volume: 0,
        fills: vec![0; 4],
        ..batch
    };
    assert!(submitter.settle(&late, &Bytes::new()).await.is_err());
}

/// An operator's sink that settles the honest clearing except that it marks one opened order
/// excluded (a censoring operator; accept-all verifier, as no honest proof exists for it).
#[derive(Debug)]
struct CensoringSink {
    submitter: Arc<Submitter>,
    victim: u32,
    fills: tokio::sync::Mutex<Vec<u64>>,
}

impl BatchSink for CensoringSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let mut fills = b.fills.clone();
            fills[self.victim as usize] = EXCLUDED_FLAG;
            let s = ClearedBatch {
                price: Some(0),
                volume: 0,
                fills: fills
                    .iter()
                    .map(|w| if *w == EXCLUDED_FLAG { *w } else { 0 })
                    .collect(),
                ..b.clone()
            };
            *self.fills.lock().await = s.fills.clone();
            match self
                .submitter
                .settle(&s, &Bytes::from_static(b"accept-all"))
                .await
            {
                Ok(SettleOutcome::Settled(_)) => Ok(()),
                r => Err(SinkError::fatal(format!("{r:?}"))),
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excluded_order_disputed_voids_and_slashes() {
    let net = Net::with_test_verifier().await;
    let (interval, gate) = net.open_interval().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let submitter = net.submitter().await;
    let sink = Arc::new(CensoringSink {
        submitter: submitter.clone(),
        victim: 1,
        fills: tokio::sync::Mutex::new(Vec::new()),
    });
    let store_url = format!("sqlite:{}", tmp.path().join("m.db").display());
    let m = Matcher::start(&net, &store_url, Pipeline::Sink(sink.clone())).await;

    let buy = net.order(1, interval, Side::Buy, 20_000, 120_000, 1);
    let sell = net.order(2, interval, Side::Sell, 20_000, 50_000, 2);
    let r_buy = net.commit(1, &buy).await;
    let r_sell = net.commit(2, &sell).await;
    m.open(&net, 1, &buy).await;
    let receipt = m.open(&net, 2, &sell).await;

    net.warp(gate).await;
    m.clock.set(gate);
    m.scheduler
        .close_interval(net.market, interval)
        .await
        .expect("close");
    let fills = sink.fills.lock().await.clone();
    assert_eq!(
        fills[1], EXCLUDED_FLAG,
        "the operator excluded the opened sell"
    );
    let iv = net
        .chain()
        .await
        .interval(net.market, interval)
        .await
        .expect("iv");
    assert_eq!(iv.status, BatchStatus::Settled, "settled (censoring)");

    // The victim disputes before delivery with the matcher's signed receipt.
    let bond_before = net
        .reader()
        .getMarket(net.market)
        .call()
        .await
        .expect("market")
        .bond;
    let slash = net
        .reader()
        .getMarket(net.market)
        .call()
        .await
        .expect("market")
        .p
        .slashAmount;
    let wealth_before = net.wealth(sell.trader).await;
    let insurance_before = net
        .reader()
        .insurance(net.market)
        .call()
        .await
        .expect("insurance");
    let d = ISealgridAuction::Dispute {
        index: r_sell.index,
        order: sealgrid_chain::bindings::OrderLib::Order {
            trader: sell.trader,
            market: sell.market,
            interval: sell.interval,
            side: sell.side,
            quantityWh: sell.quantityWh,
            limitPrice: sell.limitPrice,
            nonce: sell.nonce,
            salt: sell.salt,
        },
        lock: r_sell.lock,
        proof: fills_proof(&fills, r_sell.index).expect("proof"),
        receipt,
    };
    let r = net
        .auction(2)
        .dispute(net.market, interval, d)
        .send()
        .await
        .expect("dispute")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(r.status(), "dispute accepted");
    let iv = net
        .chain()
        .await
        .interval(net.market, interval)
        .await
        .expect("iv");
    assert_eq!(iv.status, BatchStatus::Voided, "voided for censorship");
    let bond_after = net
        .reader()
        .getMarket(net.market)
        .call()
        .await
        .expect("market")
        .bond;
    assert_eq!(bond_before - bond_after, slash, "bond slashed");
    assert_eq!(
        net.wealth(sell.trader).await,
        wealth_before + U256::from(r_sell.lock),
        "the censored trader gets its lock back whole"
    );
    // The slash goes to the market's insurance account (paid out only by governance), not to
    // whoever disputes: a trader colluding with the operator cannot farm the bond.
    let insurance_after = net
        .reader()
        .insurance(net.market)
        .call()
        .await
        .expect("insurance");
    assert_eq!(
        insurance_after - insurance_before,
        slash,
        "the slash is in the insurance account"
    );
    // The other commitment is refunded: the interval is void.
    let refunds = submitter
        .refund(net.market, interval, vec![r_buy])
        .await
        .expect("refund");
    assert_eq!(refunds.len(), 1);
    let _ = SELL_FLAG;
}
