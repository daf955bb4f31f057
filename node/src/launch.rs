//! The node builder: one function assembles the operator's services from one config (DESIGN §4).
//! `sealgrid matcher serve`, `sealgrid devnet`, the demo, the benchmarks and the test harness all
//! start the node through [`launch`], so they run the same wiring.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256};
use sealgrid_chain::{AuctionReader, Submitter, SubmitterConfig};
use sealgrid_keys::KeySigner;
use sealgrid_matcher::{
    ApiLimits, Clock, Indexer, Intake, IntakeLimits, LogSink, Metrics, Scheduler, SystemClock,
};
use sealgrid_settlement::{Claimer, SettleReport, SettleSink};
use sealgrid_sponsor::Sponsor;
use sealgrid_store::Store;
use sealgrid_types::{BatchSink, ClearingProver};
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use crate::{OperatorError, OperatorResult};

/// Proving and settling cleared batches.
#[derive(Clone, Debug)]
pub struct SettlementConfig {
    /// The clearing prover (DESIGN §2: injected behind the pipeline's trait).
    pub prover: Arc<dyn ClearingProver>,
    /// How the submitter sends and confirms.
    pub submitter: SubmitterConfig,
    /// Batch sizes to generate proving keys for in the background at start-up, smallest first,
    /// so that the first interval of a size does not pay for keygen inside its settle window.
    pub prepare: Vec<usize>,
}

/// What follows clearing.
#[derive(Clone, Debug, Default)]
pub enum Pipeline {
    /// Batches are cleared and logged, not proven or settled.
    #[default]
    Log,
    /// Prove and settle every batch; claim and refund at delivery.
    Settle(SettlementConfig),
    /// Hand batches to this stage instead (an operator's own pipeline, or a test's).
    Sink(Arc<dyn BatchSink>),
}

/// ERC-7677 sponsorship for the market paymaster.
#[derive(Clone, Debug)]
pub struct SponsorConfig {
    /// The paymaster.
    pub paymaster: Address,
    /// The paymaster's signer (a keystore, a PKCS#11 token, or a devnet key).
    pub key: KeySigner,
    /// Seconds a sponsorship stays valid.
    pub validity_s: u64,
    /// maxFeePerGas may be at most this many times the chain's base fee plus the priority fee
    /// (`sealgrid_sponsor::DEFAULT_BASE_FEE_MULTIPLIER` by default).
    pub base_fee_multiplier: u64,
}

/// The delivery service: readings and prices over the API, settlement at each reading
/// deadline, resettlement, certificates.
#[derive(Clone, Debug)]
pub struct DeliveryNodeConfig {
    /// The delivery contracts of the deployment.
    pub contracts: sealgrid_chain::delivery::DeliveryContracts,
    /// Limits of `POST /v1/readings` and `POST /v1/prices`.
    pub limits: sealgrid_delivery::DeliveryLimits,
    /// Run the delivery loop (every second) as a task of the node. Independent of
    /// [`NodeConfig::background`]: a demo that steps the auction itself still leaves delivery
    /// to the node.
    pub run_loop: bool,
}

impl DeliveryNodeConfig {
    /// Delivery on `contracts` with the default limits, its loop running.
    pub fn new(contracts: sealgrid_chain::delivery::DeliveryContracts) -> Self {
        Self {
            contracts,
            limits: sealgrid_delivery::DeliveryLimits::default(),
            run_loop: true,
        }
    }
}

/// Everything the node needs, in one value.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// JSON-RPC endpoint of the chain.
    pub rpc_url: String,
    /// The auction contract.
    pub auction: Address,
    /// Markets to clear; each must be operated by `operator`.
    pub markets: Vec<B256>,
    /// The operator's key: signs receipts, settles, claims.
    pub operator: KeySigner,
    /// Store URL: `sqlite:PATH` or `postgres://...`.
    pub store: String,
    /// Where the API listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Block to start indexing from on an empty store.
    pub start_block: u64,
    /// Blocks to wait before indexing a block.
    pub confirmations: u64,
    /// First interval to clear on an empty store (default: the next one still open).
    pub first_interval: Option<u64>,
    /// API limits.
    pub api: ApiLimits,
    /// Intake rate limits.
    pub intake: IntakeLimits,
    /// The matcher's clock (the system clock, or a simulated one).
    pub clock: Arc<dyn Clock>,
    /// What follows clearing.
    pub pipeline: Pipeline,
    /// Serve ERC-7677 sponsorship at `POST /v1/paymaster`.
    pub sponsor: Option<SponsorConfig>,
    /// Run delivery (readings, prices, settlement, certificates) for the markets.
    pub delivery: Option<DeliveryNodeConfig>,
    /// Run the background loops (indexer, a scheduler per market, the claimer). Off, the caller
    /// drives the node's parts itself, step by step (the demo, the benchmarks, tests).
    pub background: bool,
    /// The deployment record the node runs against: when given, start-up refuses a record whose
    /// auction is not [`NodeConfig::auction`] or whose verifier stages' code hashes or adapter
    /// registration differ from the chain ([`sealgrid_deploy::verify_record`]).
    pub deployment: Option<sealgrid_deploy::DeployRecord>,
}

impl NodeConfig {
    /// A config with the defaults for everything but the chain, the auction and the key: a
    /// store at `store`, the API on a free loopback port, system time, batches only logged, no
    /// sponsorship, background loops on.
    pub fn new(
        rpc_url: impl Into<String>,
        auction: Address,
        operator: impl Into<KeySigner>,
        store: impl Into<String>,
    ) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            auction,
            markets: Vec::new(),
            operator: operator.into(),
            store: store.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            start_block: 0,
            confirmations: 0,
            first_interval: None,
            api: ApiLimits::default(),
            intake: IntakeLimits::default(),
            clock: Arc::new(SystemClock),
            pipeline: Pipeline::Log,
            sponsor: None,
            delivery: None,
            background: true,
            deployment: None,
        }
    }
}

/// A running node. Dropping it stops its tasks; [`Node::shutdown`] stops them and waits.
#[derive(Debug)]
pub struct Node {
    /// The store.
    pub store: Store,
    /// The auction reader.
    pub chain: AuctionReader,
    /// The chain indexer.
    pub indexer: Arc<Indexer>,
    /// Order intake.
    pub intake: Intake,
    /// The gate scheduler.
    pub scheduler: Arc<Scheduler>,
    /// The matcher's metrics.
    pub metrics: Arc<Metrics>,
    /// The submitter (with settlement).
    pub submitter: Option<Arc<Submitter>>,
    /// The claimer (with settlement).
    pub claimer: Option<Arc<Claimer>>,
    /// The delivery service (with [`NodeConfig::delivery`]).
    pub delivery: Option<sealgrid_delivery::DeliveryService>,
    /// Where the API listens.
    pub addr: SocketAddr,
    reports: Option<mpsc::UnboundedReceiver<SettleReport>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Node {
    /// The API's base URL (`http://ADDR`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The settle reports, one per interval (taken once; metrics are updated either way).
    pub fn take_reports(&mut self) -> Option<mpsc::UnboundedReceiver<SettleReport>> {
        self.reports.take()
    }

    /// Resolves when the API server or a background loop has stopped by itself.
    pub async fn stopped(&mut self) {
        let _ = self.tasks.join_next().await;
    }

    /// Stops the API (gracefully) and every background loop, and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        // Give the API its graceful shutdown, then cancel what remains.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.shutdown().await;
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Assembles and starts the node: store, indexer, intake, the scheduler over the settlement
/// pipeline (or a logging sink), the claimer, sponsorship and the API; with
/// [`NodeConfig::background`], the indexer, a scheduler per market and the claimer run as
/// tasks. Batches left cleared by a previous run are handed off again first.
///
/// # Errors
/// A store or chain that cannot be opened, a deployment record the chain disagrees with
/// ([`NodeConfig::deployment`]: its verifiers' code, and every market's verifier must be its
/// clearing verifier), a market unknown to the auction or operated by another key, a
/// sponsorship service that cannot start, an address that cannot be bound.
pub async fn launch(cfg: NodeConfig) -> OperatorResult<Node> {
    if let Some(path) = cfg.store.strip_prefix("sqlite:")
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| OperatorError::io(dir, e))?;
    }
    // The process's recorder, before any service records.
    crate::metrics::exporter();
    let store = Store::connect(&cfg.store).await?;
    let chain = AuctionReader::connect(&cfg.rpc_url, cfg.auction).await?;
    if let Some(record) = &cfg.deployment {
        if record.auction != cfg.auction {
            return Err(OperatorError::Config(format!(
                "the deployment record's auction is {}, the node runs {}",
                record.auction, cfg.auction
            )));
        }
        sealgrid_deploy::verify_record(chain.provider(), record).await?;
        tracing::info!(
            verifiers = record.verifiers.len(),
            "deployment record matches the chain"
        );
    }
    for m in &cfg.markets {
        let Some(info) = chain.market(*m).await? else {
            return Err(OperatorError::Config(format!(
                "the auction has no market {m}"
            )));
        };
        if info.operator != cfg.operator.address() {
            return Err(OperatorError::Config(format!(
                "market {m} is operated by {}, not by the operator key's {}",
                info.operator,
                cfg.operator.address()
            )));
        }
        // The record's verifiers were checked against the chain above; the market must settle
        // through them, or the proofs the node makes would be checked by code nobody pinned.
        if let Some(record) = &cfg.deployment
            && info.verifier != record.clearing_verifier
        {
            return Err(OperatorError::Config(format!(
                "market {m} settles through verifier {}, not the deployment record's clearing verifier {}",
                info.verifier, record.clearing_verifier
            )));
        }
    }
    tracing::info!(store = store.backend(), chain = chain.chain_id(), auction = %cfg.auction, "node starting");
    let indexer = Arc::new(Indexer::new(
        chain.clone(),
        store.clone(),
        cfg.start_block,
        cfg.confirmations,
    ));
    let metrics = Arc::new(Metrics::default());
    let (stop, _) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let (sink, submitter, claimer, reports): (Arc<dyn BatchSink>, _, _, _) = match &cfg.pipeline {
        Pipeline::Log => {
            tracing::warn!("no settlement: batches are cleared and logged, not proven or settled");
            (Arc::new(LogSink), None, None, None)
        }
        Pipeline::Sink(sink) => (sink.clone(), None, None, None),
        Pipeline::Settle(s) => {
            prepare_keys(&s.prover, &s.prepare);
            let submitter = Arc::new(
                Submitter::connect(
                    &cfg.rpc_url,
                    cfg.auction,
                    cfg.operator.clone(),
                    s.submitter.clone(),
                )
                .await?,
            );
            let (tx, mut rx) = mpsc::unbounded_channel::<SettleReport>();
            let (out, reports) = mpsc::unbounded_channel::<SettleReport>();
            // Every report updates the metrics, then goes on to whoever takes them.
            let mut stopping = stop.subscribe();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        r = rx.recv() => match r {
                            Some(r) => {
                                crate::metrics::record_settle(&r);
                                let _ = out.send(r);
                            }
                            None => return,
                        },
                        () = stop_requested(&mut stopping) => return,
                    }
                }
            });
            let sink = SettleSink::new(
                store.clone(),
                chain.clone(),
                s.prover.clone(),
                submitter.clone(),
            )
            .with_reports(tx);
            let claimer = Arc::new(Claimer::new(
                store.clone(),
                chain.clone(),
                submitter.clone(),
            ));
            (
                Arc::new(sink) as Arc<dyn BatchSink>,
                Some(submitter),
                Some(claimer),
                Some(reports),
            )
        }
    };
    let intake = Intake::new(
        chain.clone(),
        store.clone(),
        indexer.clone(),
        cfg.operator.clone(),
        cfg.clock.clone(),
        cfg.intake,
        metrics.clone(),
    );
    let scheduler = Arc::new(Scheduler::new(
        intake.clone(),
        chain.clone(),
        indexer.clone(),
        sink,
    ));

    let delivery = match &cfg.delivery {
        Some(d) => {
            // One nonce counter for the operator's key: the submitter's sender when there is one.
            let sender = match &submitter {
                Some(s) => s.sender().clone(),
                None => Arc::new(
                    sealgrid_chain::Sender::connect(
                        &cfg.rpc_url,
                        cfg.operator.clone(),
                        sealgrid_chain::SenderConfig::default(),
                    )
                    .await?,
                ),
            };
            let svc = sealgrid_delivery::DeliveryService::connect(
                store.clone(),
                d.contracts,
                sender,
                cfg.markets.clone(),
                cfg.start_block,
                cfg.confirmations,
            )
            .await?;
            tracing::info!(settlement = %d.contracts.settlement, "delivery at POST /v1/readings and /v1/prices");
            Some(svc)
        }
        None => None,
    };
    let openapi = openapi_document(delivery.is_some())?;
    let mut app = sealgrid_matcher::router(intake.clone(), indexer.clone(), cfg.api, Some(openapi));
    if let (Some(svc), Some(d)) = (&delivery, &cfg.delivery) {
        app = app.merge(sealgrid_delivery::router(svc.clone(), d.limits));
    }
    app = app.merge(
        axum::Router::new()
            .route("/metrics", axum::routing::get(crate::metrics::render))
            .with_state(crate::metrics::Scrape {
                store: store.clone(),
                metrics: metrics.clone(),
                clock: cfg.clock.clone(),
                markets: cfg.markets.clone(),
            }),
    );
    if let Some(sp) = &cfg.sponsor {
        let sponsor = Sponsor::connect(&cfg.rpc_url, sp.paymaster, sp.key.clone(), sp.validity_s)
            .await?
            .with_base_fee_multiplier(sp.base_fee_multiplier)?;
        tracing::info!(paymaster = %sp.paymaster, "ERC-7677 sponsorship at POST /v1/paymaster");
        app = app.merge(Arc::new(sponsor).router());
    }
    let app = app.layer(axum::middleware::from_fn(crate::metrics::intake_latency));
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| OperatorError::Config(format!("binding {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| OperatorError::Config(format!("listen address: {e}")))?;
    let mut stopping = stop.subscribe();
    tasks.spawn(async move {
        // With the peer's address: the API's per-client limits are keyed by it.
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop_requested(&mut stopping).await })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    tracing::info!(%addr, "API listening");

    if let (Some(svc), Some(d)) = (&delivery, &cfg.delivery)
        && d.run_loop
    {
        let svc = svc.clone();
        tasks.spawn(every(Duration::from_secs(1), stop.subscribe(), move || {
            let svc = svc.clone();
            async move {
                match svc.run_once().await {
                    Ok(p) => {
                        sealgrid_delivery::metrics::record_pass(&p);
                        if p != sealgrid_delivery::Pass::default() {
                            tracing::debug!(pass = ?p, "delivery pass");
                        }
                    }
                    Err(e) => {
                        crate::metrics::delivery_pass_failed();
                        tracing::warn!(error = %e, "delivery pass failed; retrying");
                    }
                }
            }
        }));
    }
    // Histograms drain into their buckets; the balances behind the operator's gauges.
    tasks.spawn(every(Duration::from_secs(10), stop.subscribe(), || async {
        crate::metrics::exporter().run_upkeep();
    }));
    let gauges = crate::metrics::ChainGauges {
        desk: sealgrid_chain::desk::Desk::read_only(&cfg.rpc_url)?,
        operator: cfg.operator.address(),
        auction: cfg.auction,
        markets: cfg.markets.clone(),
        settlement: cfg.delivery.as_ref().map(|d| d.contracts.settlement),
        paymaster: cfg.sponsor.as_ref().map(|s| s.paymaster).or_else(|| {
            cfg.deployment
                .as_ref()
                .and_then(|r| r.accounts.as_ref())
                .map(|a| a.paymaster)
        }),
    };
    let decimals = Arc::new(tokio::sync::Mutex::new(std::collections::HashMap::new()));
    tasks.spawn(every(
        crate::metrics::CHAIN_GAUGES_PERIOD,
        stop.subscribe(),
        move || {
            let (gauges, decimals) = (gauges.clone(), decimals.clone());
            async move { gauges.update(&mut *decimals.lock().await).await }
        },
    ));
    if cfg.background {
        let resumed = scheduler.resume_handoffs().await?;
        if resumed > 0 {
            tracing::info!(resumed, "handed off batches left from the last run");
        }
        let idx = indexer.clone();
        tasks.spawn(every(Duration::from_secs(1), stop.subscribe(), move || {
            let idx = idx.clone();
            async move {
                if let Err(e) = idx.sync().await {
                    tracing::warn!(error = %e, "indexer pass failed; retrying");
                }
            }
        }));
        if let Some(c) = &claimer {
            // Claims at delivery start, refunds of voided intervals, for every trader.
            let c = c.clone();
            tasks.spawn(every(Duration::from_secs(10), stop.subscribe(), move || {
                let c = c.clone();
                async move {
                    if let Err(e) = c.run_once().await {
                        tracing::warn!(error = %e, retryable = e.is_retryable(), "claim pass failed; retrying");
                    }
                }
            }));
        }
        for m in cfg.markets.clone() {
            let (s, first) = (scheduler.clone(), cfg.first_interval);
            let mut stopping = stop.subscribe();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        r = s.run_market(m, first) => match r {
                            Ok(()) => return,
                            Err(e) => {
                                tracing::error!(market = %m, error = %e, retryable = e.is_retryable(),
                                    "scheduler stopped; restarting in 5 s");
                                tokio::time::sleep(Duration::from_secs(5)).await;
                            }
                        },
                        () = stop_requested(&mut stopping) => return,
                    }
                }
            });
        }
    }
    Ok(Node {
        store,
        chain,
        indexer,
        intake,
        scheduler,
        metrics,
        submitter,
        claimer,
        delivery,
        addr,
        reports,
        stop,
        tasks,
    })
}

/// The node's OpenAPI document: the matcher's, with the delivery routes and schemas when the
/// node runs delivery.
fn openapi_document(delivery: bool) -> OperatorResult<String> {
    let bad = |e: serde_json::Error| OperatorError::Config(format!("openapi: {e}"));
    let mut doc: serde_json::Value =
        serde_json::from_str(sealgrid_matcher::api::OPENAPI).map_err(bad)?;
    if delivery {
        let extra: serde_json::Value =
            serde_json::from_str(sealgrid_delivery::OPENAPI).map_err(bad)?;
        for key in ["paths", "components/schemas"] {
            let pointer = format!("/{key}");
            if let (Some(to), Some(from)) = (
                doc.pointer_mut(&pointer).and_then(|v| v.as_object_mut()),
                extra.pointer(&pointer).and_then(|v| v.as_object()),
            ) {
                to.extend(from.clone());
            }
        }
    }
    serde_json::to_string(&doc).map_err(bad)
}

/// Resolves once a stop is requested (or the node handle is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before anything else is awaited.
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs `pass` every `period` until `stop` turns true.
async fn every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, pass: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        pass().await;
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            () = stop_requested(&mut stop) => return,
        }
    }
}

/// Generates proving keys for `sizes` in the background, smallest first.
fn prepare_keys(prover: &Arc<dyn ClearingProver>, sizes: &[usize]) {
    let (prover, mut sizes) = (prover.clone(), sizes.to_vec());
    if sizes.is_empty() {
        return;
    }
    sizes.sort_unstable();
    tokio::task::spawn_blocking(move || {
        for c in sizes {
            let started = std::time::Instant::now();
            match prover.prepare(c) {
                Ok(()) => tracing::info!(
                    capacity = c,
                    seconds = started.elapsed().as_secs_f64(),
                    "proving keys ready"
                ),
                Err(e) => {
                    tracing::warn!(capacity = c, error = %e, "proving keys not prepared; they are made at first use")
                }
            }
        }
    });
}
