//! `sealgrid bench intake`: signed orders over loopback HTTP into the store, against the raw
//! signature-recovery rate of one core measured in the same run.
//!
//! The devnet is real (anvil, the demo deployment, the auction's domain and market); the
//! commitments are written into the store the way the indexer writes them, so that the run
//! measures intake rather than anvil's block production.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, U256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_clearing::bench::SplitMix64;
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet, demo_market};
use sealgrid_matcher::{ApiLimits, IntakeLimits};
use sealgrid_node::{NodeConfig, launch};
use sealgrid_store::CommitmentRow;
use sealgrid_types::{
    Order, Side, order_commitment, recover_order_signer, required_lock, sealgrid_domain, sign_order,
};

use crate::{DevkitError, DevkitResult};

/// Options of the intake benchmark.
#[derive(Clone, Debug)]
pub struct IntakeBenchOptions {
    /// The project root (for the devnet tools and deploy script).
    pub root: PathBuf,
    /// Orders to submit.
    pub orders: usize,
    /// Orders per batch request.
    pub batch: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// Store URL; a fresh SQLite file in a temporary directory if `None`.
    pub store: Option<String>,
}

fn bench_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("intake bench: {e}"))
}

/// Runs the benchmark; returns the `RESULT` lines (the last one is the verdict).
pub async fn run_intake_bench(
    opts: IntakeBenchOptions,
    mut progress: impl FnMut(&str),
) -> DevkitResult<Vec<String>> {
    if opts.orders == 0 || opts.batch == 0 || opts.clients == 0 {
        return Err(bench_err("orders, batch and clients must be positive"));
    }
    progress("starting anvil and deploying the demo contracts");
    let net = Devnet::start_with_test_verifier(&opts.root).await?;
    let tmp = tempfile::tempdir().map_err(bench_err)?;
    let store_url = opts
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", tmp.path().join("bench.db").display()));
    // The node, on loopback: intake and the API only (no settlement, no background loops).
    let mut cfg = NodeConfig::new(
        net.rpc.clone(),
        net.auction,
        DEV_KEYS[0]
            .parse::<alloy_signer_local::PrivateKeySigner>()
            .map_err(bench_err)?,
        store_url,
    );
    // The benchmark's clients share one loopback address: no per-account or per-client limit.
    cfg.intake = IntakeLimits {
        burst: u64::MAX / 2000,
        per_second: u64::MAX / 2000,
        client_chain_burst: u64::MAX / 2000,
        client_chain_per_second: u64::MAX / 2000,
        ..IntakeLimits::default()
    };
    cfg.api = ApiLimits {
        max_body_bytes: 64 << 20,
        max_batch: opts.batch.max(1),
        client_orders_burst: u64::MAX / 2000,
        client_orders_per_second: u64::MAX / 2000,
        ..ApiLimits::default()
    };
    cfg.background = false;
    let node = launch(cfg).await?;
    let (store, chain) = (node.store.clone(), node.chain.clone());
    let synced = node.indexer.sync().await?;
    let market = demo_market();
    let info = chain
        .market(market)
        .await?
        .ok_or_else(|| bench_err("demo market missing"))?;
    let now = net.now().await?;
    let interval = info.timing.next_open_interval(now + 600)?;

    progress(&format!("signing {} orders with 4 dev keys", opts.orders));
    let signers: Vec<PrivateKeySigner> = DEV_KEYS[1..]
        .iter()
        .map(|k| k.parse().map_err(bench_err))
        .collect::<DevkitResult<_>>()?;
    let domain = sealgrid_domain(net.chain_id, net.auction);
    let mut rng = SplitMix64::new(0x5ea1_6d00);
    let mut bodies = Vec::with_capacity(opts.orders);
    let mut signed = Vec::with_capacity(opts.orders);
    let mut rows = Vec::with_capacity(opts.orders);
    for j in 0..opts.orders {
        let signer = &signers[j % signers.len()];
        let side = if rng.next_u64().is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let order = Order {
            trader: signer.address(),
            market,
            interval,
            side: side.code(),
            quantityWh: 1 + rng.next_u64() % 100_000,
            limitPrice: 20_000 + (rng.next_u64() % 200_000) as i64,
            nonce: j as u64,
            salt: B256::from(U256::from(rng.next_u64()) << 128 | U256::from(j)),
        };
        let commitment = order_commitment(&order)?;
        let signature = sign_order(signer, &order, &domain)?;
        rows.push(CommitmentRow {
            market,
            interval,
            index: u32::try_from(j).map_err(bench_err)?,
            trader: order.trader,
            commitment,
            lock: required_lock(side, order.quantityWh, order.limitPrice),
            accumulator: B256::ZERO,
            block_number: synced.next_block.saturating_sub(1),
            log_index: j as u64,
            withdrawn: false,
        });
        bodies.push(serde_json::json!({
            "order": order,
            "signature": alloy_primitives::hex::encode_prefixed(signature),
        }));
        signed.push((order, signature));
    }
    store
        .record_chain_events(&rows, &[], synced.next_block, synced.synced_time)
        .await?;

    progress("measuring raw signature recovery on one core");
    let sample: Vec<(Order, [u8; 65])> = signed.iter().take(20_000).cloned().collect();
    let domain2 = domain.clone();
    let raw_rate = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let mut ok = 0usize;
        for (o, s) in &sample {
            if recover_order_signer(o, &domain2, s).is_ok_and(|a| a == o.trader) {
                ok += 1;
            }
        }
        (ok, sample.len() as f64 / t.elapsed().as_secs_f64())
    })
    .await
    .map_err(bench_err)?;
    if raw_rate.0 != signed.len().min(20_000) {
        return Err(bench_err("a signature did not recover to its trader"));
    }
    let raw_rate = raw_rate.1;

    let base = node.base_url();

    progress(&format!(
        "submitting {} orders in batches of {} from {} clients",
        opts.orders, opts.batch, opts.clients
    ));
    let batches: Vec<Vec<u8>> = bodies
        .chunks(opts.batch)
        .map(|c| serde_json::to_vec(&serde_json::json!({ "orders": c })))
        .collect::<Result<_, _>>()
        .map_err(bench_err)?;
    let queue = Arc::new(std::sync::Mutex::new(batches.into_iter()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(bench_err)?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.clients {
        let (queue, http, url) = (
            queue.clone(),
            http.clone(),
            format!("{base}/v1/orders/batch"),
        );
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some(body) = next else {
                    return Ok::<usize, String>(accepted);
                };
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
                let results = v["results"]
                    .as_array()
                    .ok_or_else(|| format!("unexpected answer {v}"))?;
                for r in results {
                    if r["ok"]["status"] == "accepted" {
                        accepted += 1;
                    } else {
                        return Err(format!("order refused: {r}"));
                    }
                }
            }
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.map_err(bench_err)?.map_err(bench_err)?;
    }
    let secs = started.elapsed().as_secs_f64();
    node.shutdown().await;
    if accepted != opts.orders {
        return Err(bench_err(format!(
            "{accepted} of {} orders accepted",
            opts.orders
        )));
    }
    let stored = store.counts().await?.1;
    if stored != opts.orders as u64 {
        return Err(bench_err(format!(
            "{stored} orders in the store, expected {}",
            opts.orders
        )));
    }
    let rate = opts.orders as f64 / secs;
    let ratio = rate / raw_rate;
    Ok(vec![
        format!(
            "RESULT intake_raw_recover rate_per_s={raw_rate:.0} sample={}",
            signed.len().min(20_000)
        ),
        format!(
            "RESULT intake orders={} batch={} clients={} store={} seconds={secs:.3} rate_per_s={rate:.0} \
             raw_recover_per_s={raw_rate:.0} ratio={ratio:.2} target_ratio=0.5 pass={}",
            opts.orders,
            opts.batch,
            opts.clients,
            store.backend(),
            ratio >= 0.5
        ),
    ])
}
