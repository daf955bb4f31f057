//! `sealgrid bench delivery`: meter-to-cash on the node (issue 18's targets).
//!
//! A real devnet (anvil, the demo deployment) with `accounts` registered meters, each with its
//! own gateway key. For each of `intervals` intervals, in chain time: the interval ends, every
//! gateway's signed reading is posted to the node's `POST /v1/readings` (concurrently, in
//! batches; one meter's first reading is withheld), the oracle's price to `POST /v1/prices`,
//! the node takes each pair of intervals on-chain together (one storage slot per meter), the
//! chain reaches each reading deadline, and the node's own loop settles every account. Then the withheld reading arrives and the node resettles it.
//!
//! Printed: the intake rate (signed readings per second over HTTP into the store), the
//! deadline → settled latency per interval (worst and mean), the late reading → resettled
//! latency, and a verdict against the targets (2,000 readings/s; 60 s; 60 s).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    bindings::registry::MeterRegistry,
    delivery::{Delivery, FLAG_ESTIMATE, SignedReading, sign_price, sign_reading},
};
use sealgrid_deploy::devnet::{DEV_KEYS, DEV_ORACLE_KEY, Devnet, demo_market};
use sealgrid_node::{DeliveryNodeConfig, NodeConfig, launch};
use sealgrid_types::{MeterReading, RealTimePrice};

use crate::{
    DevkitError, DevkitResult,
    node_api::{post, price_item, reading_item, wait_for},
};

/// Options of the delivery benchmark.
#[derive(Clone, Debug)]
pub struct DeliveryBenchOptions {
    /// The project root (for the devnet tools and deploy script).
    pub root: PathBuf,
    /// Accounts, one meter each.
    pub accounts: usize,
    /// Intervals settled one after the other.
    pub intervals: usize,
    /// Readings per request.
    pub batch: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// Store URL; a fresh SQLite file in a temporary directory if `None`.
    pub store: Option<String>,
}

fn bench_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("delivery bench: {e}"))
}

/// How long the bench waits for a step of the node's loop, and how often it looks.
const LIMIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(100);

/// Intake target (signed readings per second).
pub const TARGET_INTAKE_PER_S: f64 = 2_000.0;
/// Settlement and resettlement targets (seconds).
pub const TARGET_SETTLE_S: f64 = 60.0;

/// Runs the benchmark; returns the `RESULT` lines (the last one is the verdict).
pub async fn run_delivery_bench(
    opts: DeliveryBenchOptions,
    mut progress: impl FnMut(&str),
) -> DevkitResult<Vec<String>> {
    if opts.accounts == 0 || opts.intervals == 0 || opts.batch == 0 || opts.clients == 0 {
        return Err(bench_err(
            "accounts, intervals, batch and clients must be positive",
        ));
    }
    progress("starting anvil and deploying the demo contracts");
    let net = Devnet::start_with_test_verifier(&opts.root).await?;
    let tmp = tempfile::tempdir().map_err(bench_err)?;
    let store_url = opts
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", tmp.path().join("bench.db").display()));
    let market = demo_market();
    let operator: PrivateKeySigner = DEV_KEYS[0].parse().map_err(bench_err)?;
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().map_err(bench_err)?;

    // The node: delivery with its own loop; the auction half idle.
    let mut cfg = NodeConfig::new(net.rpc.clone(), net.auction, operator, store_url.clone());
    cfg.markets = vec![market];
    cfg.background = false;
    cfg.delivery = Some(DeliveryNodeConfig::new(net.delivery));
    let node = launch(cfg).await?;
    let svc = node
        .delivery
        .clone()
        .ok_or_else(|| bench_err("the node runs no delivery"))?;
    let d: Delivery = svc.client().clone();
    let store = svc.store().clone();
    let base = node.base_url();

    progress(&format!(
        "registering {} meters (one gateway key each)",
        opts.accounts
    ));
    // Registered from a plain wallet of the operator's key, pipelined (the node has nothing to
    // send yet): the node's sender would wait for each confirmation.
    let registry = MeterRegistry::new(net.delivery.registry, net.wallet(DEV_KEYS[0])?);
    let mut meters = Vec::with_capacity(opts.accounts);
    let mut last = None;
    for n in 0..opts.accounts {
        let id = keccak256(format!("sealgrid/bench/meter/{n}"));
        let gateway =
            PrivateKeySigner::from_bytes(&keccak256(format!("sealgrid/bench/gateway/{n}")))
                .map_err(bench_err)?;
        let owner = PrivateKeySigner::from_bytes(&keccak256(format!("sealgrid/bench/owner/{n}")))
            .map_err(bench_err)?
            .address();
        let meter = MeterRegistry::Meter {
            owner,
            device: 0,
            generator: n % 2 == 1,
            source: u8::from(n % 2 == 1),
            gateway: gateway.address(),
            gatewayFrom: 0,
            accuracy: 1,
            site: B256::ZERO,
            zone: B256::right_padding_from(b"US-CAISO"),
            market,
        };
        last = Some(
            registry
                .registerMeter(id, meter)
                .gas(400_000)
                .send()
                .await
                .map_err(bench_err)?,
        );
        meters.push((id, gateway, owner));
    }
    if let Some(p) = last {
        let r = p.get_receipt().await.map_err(bench_err)?;
        if !r.status() {
            return Err(bench_err("a meter registration reverted"));
        }
    }
    let (window, _) = d.windows().await?;
    let dom = svc.domain().clone();
    let len = svc.interval_length();
    let now = net.now().await?;
    let first = (now / 3600 + 1) * (3600 / len);

    let http = reqwest::Client::new();
    let (mut intake_readings, mut intake_secs) = (0usize, 0f64);
    let mut settle = Vec::new();
    let mut late = None;
    // Intervals in pairs (2k, 2k + 1), as they share a storage slot per meter: each interval's
    // readings are posted when it ends, the pair goes on-chain together, then each interval
    // reaches its reading deadline and the node's loop settles it. A last interval without its
    // partner waits for it until shortly before its deadline (the node's pairing hold), so its
    // readings go on-chain in the same pass that settles it.
    let steps: Vec<usize> = (0..opts.intervals).collect();
    for pair in steps.chunks(2) {
        for &step in pair {
            let interval = first + step as u64;
            // The interval ends: every gateway signs its reading (before the clock starts).
            net.warp((interval + 1) * len + 1).await?;
            // The node reads chain time at most once a second: let it see the warp.
            tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
            let mut signed = Vec::with_capacity(meters.len());
            for (n, (id, gateway, _)) in meters.iter().enumerate() {
                let wh = 500 + (n as u64 * 37 + step as u64 * 11) % 1_500;
                let r = MeterReading {
                    meterId: *id,
                    interval,
                    importWh: if n % 2 == 0 { wh } else { 0 },
                    exportWh: if n % 2 == 1 { wh } else { 0 },
                    quality: 0,
                    revision: 0,
                };
                let s = sign_reading(gateway, r, &dom)?;
                if step == 0 && n == 0 {
                    late = Some(s);
                } else {
                    signed.push(s);
                }
            }
            let started = Instant::now();
            post_concurrently(&http, &base, &signed, opts.batch, opts.clients).await?;
            let posted = started.elapsed().as_secs_f64();
            intake_secs += posted;
            intake_readings += signed.len();
            progress(&format!(
                "interval {interval}: {} readings accepted in {posted:.2} s over HTTP",
                signed.len(),
            ));
            let price = sign_price(
                &oracle,
                RealTimePrice {
                    market,
                    interval,
                    price: 82_000,
                    revision: 0,
                },
                &dom,
            )?;
            post_all(&http, &base, "prices", vec![price_item(&price)]).await?;
        }
        if pair.len() == 2 {
            // The node takes the pair on-chain without waiting for the deadline.
            wait_for("the readings to go on-chain", LIMIT, POLL, || async {
                Ok(store.reading_counts().await?.0 == 0)
            })
            .await?;
        }
        for &step in pair {
            let interval = first + step as u64;
            // The reading deadline: the node's loop settles every account by itself.
            net.warp((interval + 1) * len + u64::from(window)).await?;
            let due = Instant::now();
            wait_for("the interval to settle", LIMIT, POLL, || async {
                Ok(matches!(
                    store.delivery_interval(market, interval).await?,
                    Some((_, Some(_)))
                ))
            })
            .await?;
            let secs = due.elapsed().as_secs_f64();
            progress(&format!(
                "interval {interval}: settled {secs:.1} s after its deadline"
            ));
            settle.push(secs);
        }
    }
    // The withheld reading arrives: the node resettles its owner.
    let late = late.ok_or_else(|| bench_err("no late reading"))?;
    let owner = meters[0].2;
    let arrived = Instant::now();
    post_all(&http, &base, "readings", vec![reading_item(&late)]).await?;
    wait_for("the late reading to be resettled", LIMIT, POLL, || async {
        let p = d.position(market, first, owner).await?;
        Ok(p.flags & FLAG_ESTIMATE == 0)
    })
    .await?;
    let resettle = arrived.elapsed().as_secs_f64();
    node.shutdown().await;

    let rate = intake_readings as f64 / intake_secs.max(1e-9);
    let worst = settle.iter().copied().fold(0.0, f64::max);
    let mean = settle.iter().sum::<f64>() / settle.len() as f64;
    let backend = if store_url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let met =
        rate >= TARGET_INTAKE_PER_S && worst <= TARGET_SETTLE_S && resettle <= TARGET_SETTLE_S;
    Ok(vec![
        format!(
            "RESULT delivery_intake readings={intake_readings} batch={} clients={} store={backend} seconds={intake_secs:.3} rate_per_s={rate:.0}",
            opts.batch, opts.clients
        ),
        format!(
            "RESULT delivery_settle accounts={} intervals={} worst_s={worst:.2} mean_s={mean:.2}",
            opts.accounts, opts.intervals
        ),
        format!("RESULT delivery_resettle seconds={resettle:.2}"),
        format!(
            "RESULT delivery target_intake_per_s={TARGET_INTAKE_PER_S:.0} target_settle_s={TARGET_SETTLE_S:.0} met={met}"
        ),
    ])
}

/// Posts `signed` in batches from `clients` concurrent clients; every reading must be accepted.
async fn post_concurrently(
    http: &reqwest::Client,
    base: &str,
    signed: &[SignedReading],
    batch: usize,
    clients: usize,
) -> DevkitResult<()> {
    let chunks: Vec<Vec<serde_json::Value>> = signed
        .chunks(batch)
        .map(|c| c.iter().map(reading_item).collect())
        .collect();
    let per = chunks.len().div_ceil(clients).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for group in chunks.chunks(per).map(<[_]>::to_vec) {
        let (http, base) = (http.clone(), base.to_owned());
        tasks.spawn(async move {
            for items in group {
                post_all(&http, &base, "readings", items).await?;
            }
            Ok::<_, DevkitError>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(bench_err)??;
    }
    Ok(())
}

/// Posts items; every one must be accepted (no duplicates either: the bench's are all new).
async fn post_all(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    items: Vec<serde_json::Value>,
) -> DevkitResult<()> {
    let n = items.len() as u64;
    let accepted = post(http, base, what, items).await?;
    if accepted != n {
        return Err(bench_err(format!(
            "the node accepted {accepted} of {n} {what} (a --store that already holds an \
             earlier run's readings answers duplicates: give the bench an empty database)"
        )));
    }
    Ok(())
}
