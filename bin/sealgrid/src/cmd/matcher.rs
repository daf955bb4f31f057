use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail};
use sealgrid_chain::deploy::{DeployConfig, NetworkKind};
use sealgrid_chain::{AuctionReader, Submitter};
use sealgrid_matcher::{
    ApiLimits, BatchSink, Claimer, Indexer, Intake, IntakeLimits, LogSink, Metrics, Scheduler,
    SettleSink, SystemClock,
};

use crate::cmd::prover::params_source;
use sealgrid_operator::HaloProver;
use sealgrid_store::Store;

#[derive(Debug, Subcommand)]
pub(crate) enum MatcherCommand {
    /// Runs the matcher: intake API, chain indexer, and a scheduler per market clearing each
    /// interval at its gate. State lives in the store; a restart resumes where it stopped.
    ///
    /// Example: `sealgrid matcher serve --rpc-url http://127.0.0.1:8545 --auction 0x..
    /// --market 0x.. --operator-key 0x..` (or SEALGRID_OPERATOR_KEY).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(
        long,
        env = "SEALGRID_RPC_URL",
        default_value = "http://127.0.0.1:8545"
    )]
    rpc_url: String,
    /// The auction contract.
    #[arg(long, env = "SEALGRID_AUCTION")]
    auction: Address,
    /// Markets to clear (repeat or comma-separate).
    #[arg(
        long = "market",
        env = "SEALGRID_MARKETS",
        value_delimiter = ',',
        required = true
    )]
    markets: Vec<B256>,
    /// The operator's key: signs receipts (must be the markets' operator).
    #[arg(long, env = "SEALGRID_OPERATOR_KEY", hide_env_values = true)]
    operator_key: String,
    /// Store: `sqlite:PATH` (default) or `postgres://...`.
    #[arg(
        long,
        env = "SEALGRID_STORE",
        default_value = "sqlite:.sealgrid/matcher.db"
    )]
    store: String,
    /// Listen address of the API.
    #[arg(long, env = "SEALGRID_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Block to start indexing from on an empty store (the auction's deployment block).
    #[arg(long, default_value_t = 0)]
    start_block: u64,
    /// Blocks to wait before indexing a block (reorg safety).
    #[arg(long, default_value_t = 0)]
    confirmations: u64,
    /// First interval to clear on an empty store (default: the next one still open).
    #[arg(long)]
    first_interval: Option<u64>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Most orders per batch request.
    #[arg(long, default_value_t = 1000)]
    max_batch: usize,
    /// Orders per account in a burst.
    #[arg(long, default_value_t = 256)]
    rate_burst: u64,
    /// Sustained orders per second per account.
    #[arg(long, default_value_t = 64)]
    rate_per_second: u64,
    /// Network config (deploy/config/*.toml): with it, every cleared batch is proven (the
    /// config's verifier capacities and parameters) and settled by the submitter (its gas policy
    /// and confirmations). Without it the matcher only clears and logs.
    #[arg(long, env = "SEALGRID_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// The market paymaster (ERC-4337): with --sponsor-key, the API also serves ERC-7677
    /// sponsorship (`pm_getPaymasterStubData`, `pm_getPaymasterData`) at POST /v1/paymaster.
    #[arg(long, env = "SEALGRID_PAYMASTER", requires = "sponsor_key")]
    paymaster: Option<Address>,
    /// The sponsorship service's key: the paymaster's signer.
    #[arg(
        long,
        env = "SEALGRID_SPONSOR_KEY",
        hide_env_values = true,
        requires = "paymaster"
    )]
    sponsor_key: Option<String>,
    /// Seconds a sponsorship signature stays valid (at most the paymaster's quota period).
    #[arg(long, default_value_t = 600)]
    sponsor_validity_s: u64,
}

impl MatcherCommand {
    pub(crate) fn run(self) -> Result<()> {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .init();
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        let result = match self {
            Self::Serve(a) => rt.block_on(a.serve()),
        };
        // A keygen still running in the background must not hold up the exit.
        rt.shutdown_timeout(Duration::from_secs(2));
        result
    }
}

impl ServeArgs {
    /// Options for a devnet's matcher (`sealgrid devnet`).
    pub(crate) fn for_devnet(
        rpc_url: String,
        auction: Address,
        market: B256,
        operator_key: String,
        store: String,
        listen: SocketAddr,
        config: std::path::PathBuf,
    ) -> Self {
        Self {
            rpc_url,
            auction,
            markets: vec![market],
            operator_key,
            store,
            listen,
            start_block: 0,
            confirmations: 0,
            first_interval: None,
            max_body_bytes: 1 << 20,
            max_batch: 1000,
            rate_burst: 256,
            rate_per_second: 64,
            config: Some(config),
            paymaster: None,
            sponsor_key: None,
            sponsor_validity_s: 600,
        }
    }

    /// Serves ERC-7677 sponsorship for the devnet's paymaster with the devnet sponsor key.
    pub(crate) fn with_devnet_sponsor(mut self, paymaster: Option<Address>) -> Self {
        self.sponsor_key = paymaster.map(|_| sealgrid_chain::devnet::DEV_SPONSOR_KEY.to_owned());
        self.paymaster = paymaster;
        self
    }

    async fn sink(
        &self,
        store: &Store,
        chain: &AuctionReader,
        operator: &PrivateKeySigner,
        metrics: &Arc<Metrics>,
    ) -> Result<(Arc<dyn BatchSink>, Option<Arc<Claimer>>)> {
        let Some(path) = &self.config else {
            tracing::warn!("no --config: batches are cleared and logged, not proven or settled");
            return Ok((Arc::new(LogSink), None));
        };
        let cfg = DeployConfig::load(path)?;
        if cfg.network.kind != NetworkKind::Local && cfg.network.chain_id != chain.chain_id() {
            bail!(
                "{} is for chain {}, the node is chain {}",
                path.display(),
                cfg.network.chain_id,
                chain.chain_id()
            );
        }
        let prover = Arc::new(HaloProver::new(
            params_source(cfg.verifier.params.clone()),
            &cfg.verifier.capacities,
        ));
        // Proving keys for every capacity, smallest first, in the background: the first
        // interval of a capacity then does not pay for keygen inside its settle window.
        {
            let prover = prover.clone();
            let capacities = cfg.verifier.capacities.clone();
            tokio::task::spawn_blocking(move || {
                for c in capacities {
                    let started = std::time::Instant::now();
                    match sealgrid_matcher::ClearingProver::prepare(prover.as_ref(), c) {
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
        let submitter = Submitter::connect(
            &self.rpc_url,
            self.auction,
            operator.clone(),
            cfg.submitter_config()?,
        )
        .await?;
        tracing::info!(capacities = ?cfg.verifier.capacities, confirmations = cfg.network.confirmations,
            "cleared batches are proven and settled");
        let submitter = Arc::new(submitter);
        let claimer = Claimer::new(store.clone(), chain.clone(), submitter.clone());
        Ok((
            Arc::new(
                SettleSink::new(store.clone(), chain.clone(), prover, submitter)
                    .with_metrics(metrics.clone()),
            ),
            Some(Arc::new(claimer)),
        ))
    }

    pub(crate) async fn serve(self) -> Result<()> {
        let operator: PrivateKeySigner = self
            .operator_key
            .trim()
            .parse()
            .wrap_err("invalid operator key")?;
        if let Some(path) = self.store.strip_prefix("sqlite:")
            && let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        }
        let store = Store::connect(&self.store)
            .await
            .wrap_err("opening the store")?;
        let chain = AuctionReader::connect(&self.rpc_url, self.auction)
            .await
            .wrap_err("connecting to the chain")?;
        for m in &self.markets {
            let Some(info) = chain.market(*m).await? else {
                bail!("the auction has no market {m}")
            };
            if info.operator != operator.address() {
                bail!(
                    "market {m} is operated by {}, not by the operator key's {}",
                    info.operator,
                    operator.address()
                );
            }
        }
        tracing::info!(store = store.backend(), chain = chain.chain_id(), auction = %self.auction, "matcher starting");
        let indexer = Arc::new(Indexer::new(
            chain.clone(),
            store.clone(),
            self.start_block,
            self.confirmations,
        ));
        let limits = IntakeLimits {
            burst: self.rate_burst,
            per_second: self.rate_per_second,
        };
        let metrics = Arc::new(Metrics::default());
        let (sink, claimer) = self.sink(&store, &chain, &operator, &metrics).await?;
        let intake = Intake::new(
            chain.clone(),
            store,
            indexer.clone(),
            operator,
            Arc::new(SystemClock),
            limits,
            metrics,
        );
        let scheduler = Arc::new(Scheduler::new(intake.clone(), chain, indexer.clone(), sink));
        let resumed = scheduler.resume_handoffs().await?;
        if resumed > 0 {
            tracing::info!(resumed, "handed off batches left from the last run");
        }

        let mut tasks = tokio::task::JoinSet::new();
        let idx = indexer.clone();
        tasks.spawn(async move {
            loop {
                if let Err(e) = idx.sync().await {
                    tracing::warn!(error = %e, "indexer pass failed; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        if let Some(claimer) = claimer {
            // Claims at delivery start, refunds of voided intervals, for every trader.
            tasks.spawn(async move {
                loop {
                    if let Err(e) = claimer.run_once().await {
                        tracing::warn!(error = %e, "claim pass failed; retrying");
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            });
        }
        for m in self.markets.clone() {
            let (s, first) = (scheduler.clone(), self.first_interval);
            tasks.spawn(async move {
                loop {
                    match s.run_market(m, first).await {
                        Ok(()) => return,
                        Err(e) => {
                            tracing::error!(market = %m, error = %e, "scheduler stopped; restarting in 5 s");
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                    }
                }
            });
        }
        let mut app = sealgrid_matcher::router(
            intake,
            indexer,
            ApiLimits {
                max_body_bytes: self.max_body_bytes,
                max_batch: self.max_batch,
            },
        );
        if let (Some(paymaster), Some(key)) = (self.paymaster, &self.sponsor_key) {
            let key: alloy_signer_local::PrivateKeySigner =
                key.trim().parse().wrap_err("invalid --sponsor-key")?;
            let sponsor = sealgrid_matcher::sponsor::Sponsor::connect(
                &self.rpc_url,
                paymaster,
                key,
                self.sponsor_validity_s,
            )
            .await?;
            tracing::info!(%paymaster, "ERC-7677 sponsorship at POST /v1/paymaster");
            app = app.merge(std::sync::Arc::new(sponsor).router());
        }
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .wrap_err_with(|| format!("binding {}", self.listen))?;
        tracing::info!(listen = %self.listen, "API listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down");
            })
            .await
            .wrap_err("serving the API")?;
        tasks.shutdown().await;
        Ok(())
    }
}
