use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail};
use sealgrid_chain::AuctionReader;
use sealgrid_deploy::{DeployConfig, DeployRecord, NetworkKind};
use sealgrid_keys::KeySigner;
use sealgrid_matcher::{ApiLimits, IntakeLimits};
use sealgrid_node::{HaloProver, NodeConfig, Pipeline, SettlementConfig, SponsorConfig, launch};

use crate::cmd::prover::params_source;

#[derive(Debug, Subcommand)]
pub(crate) enum MatcherCommand {
    /// Runs the node: intake API, chain indexer, a scheduler per market clearing each interval
    /// at its gate, and (with a deployment record that has delivery contracts) delivery:
    /// readings and prices at POST /v1/readings and /v1/prices, settlement at each reading
    /// deadline, resettlement, certificates. State lives in the store; a restart resumes where
    /// it stopped.
    ///
    /// Example: `sealgrid matcher serve --rpc-url http://127.0.0.1:8545 --deployment
    /// .sealgrid/deployments/public-l2.json --config deploy/config/public-l2.toml
    /// --operator-key keystore:operator.json` (password from SEALGRID_KEYSTORE_PASSWORD).
    Serve(Box<ServeArgs>),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// JSON-RPC endpoint of the chain (default: http://127.0.0.1:8545 without a record or with
    /// a local one; a public or permissioned record needs it).
    #[arg(long, visible_alias = "rpc", env = "ETH_RPC_URL")]
    rpc_url: Option<String>,
    /// The auction contract (default: the deployment record's).
    #[arg(long, env = "SEALGRID_AUCTION", required_unless_present = "deployment")]
    auction: Option<Address>,
    /// Markets to clear (repeat or comma-separate; default: the deployment record's market).
    #[arg(
        long = "market",
        env = "SEALGRID_MARKETS",
        value_delimiter = ',',
        required_unless_present = "deployment"
    )]
    markets: Vec<B256>,
    /// A deployment record (`sealgrid deploy`): start-up refuses to serve unless the chain
    /// matches it (its auction, every verifier stage's runtime code hash, the ClearingVerifier's
    /// registered verifiers and their pinned hashes).
    #[arg(long, env = "SEALGRID_DEPLOYMENT")]
    deployment: Option<std::path::PathBuf>,
    /// The operator's key (signs receipts, settles, claims; must be the markets' operator):
    /// `keystore:PATH` (password from SEALGRID_KEYSTORE_PASSWORD), `pkcs11:MODULE?token=..&key=..`
    /// (PIN from SEALGRID_PKCS11_PIN), or on a local network `env:VAR`, a raw key in the
    /// environment. Never the key itself.
    #[arg(
        long,
        env = "SEALGRID_OPERATOR_KEY_SPEC",
        default_value = "env:SEALGRID_OPERATOR_KEY"
    )]
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
    /// Block to start indexing from on an empty store (default: the deployment record's block,
    /// else 0; with a record, another value is refused).
    #[arg(long)]
    start_block: Option<u64>,
    /// Blocks to wait before indexing a block, for reorg safety (default: the network config's
    /// confirmations, else 0; with a config, another value is refused).
    #[arg(long)]
    confirmations: Option<u64>,
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
    /// Orders per client (IP address; IPv6 by /64) in a burst, a batch counting each order;
    /// checked before any other work on a request.
    #[arg(long, default_value_t = 2_000)]
    client_orders_burst: u64,
    /// Sustained orders per second per client.
    #[arg(long, default_value_t = 500)]
    client_orders_per_second: u64,
    /// Chain calls one client's orders may cause in a burst (market look-ups, indexer syncs for
    /// commitments not yet indexed, ERC-1271 checks).
    #[arg(long, default_value_t = 32)]
    client_chain_burst: u64,
    /// Sustained chain calls per second per client.
    #[arg(long, default_value_t = 8)]
    client_chain_per_second: u64,
    /// Gas given to one ERC-1271 `isValidSignature` call of a contract trader.
    #[arg(long, default_value_t = 200_000)]
    erc1271_gas: u64,
    /// Milliseconds given to one ERC-1271 call.
    #[arg(long, default_value_t = 2_000)]
    erc1271_timeout_ms: u64,
    /// `/health` answers 503 once a scheduler is this many seconds past its gate.
    #[arg(long, default_value_t = 30)]
    late_after_s: u64,
    /// Network config (deploy/config/*.toml): with it, every cleared batch is proven (the
    /// config's verifier capacities and parameters) and settled by the submitter (its gas policy
    /// and confirmations). Without it the matcher only clears and logs.
    #[arg(long, env = "SEALGRID_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// The market paymaster (ERC-4337): with --sponsor-key, the API also serves ERC-7677
    /// sponsorship (`pm_getPaymasterStubData`, `pm_getPaymasterData`) at POST /v1/paymaster.
    #[arg(long, env = "SEALGRID_PAYMASTER", requires = "sponsor_key")]
    paymaster: Option<Address>,
    /// The sponsorship service's key (the paymaster's signer), as a key spec like
    /// --operator-key (`env:SEALGRID_SPONSOR_KEY` on a local network).
    #[arg(long, env = "SEALGRID_SPONSOR_KEY_SPEC", requires = "paymaster")]
    sponsor_key: Option<String>,
    /// Seconds a sponsorship signature stays valid (at most the paymaster's quota period).
    #[arg(long, default_value_t = 600)]
    sponsor_validity_s: u64,
    /// maxFeePerGas the sponsorship service signs: at most this many times the chain's base
    /// fee plus the operation's priority fee (the paymaster's own caps apply on top).
    #[arg(long, default_value_t = sealgrid_node::SPONSOR_BASE_FEE_MULTIPLIER)]
    sponsor_base_fee_multiplier: u64,
    /// Keys handed over in-process (`sealgrid devnet`): the operator's and the sponsor's.
    #[arg(skip)]
    preset: Option<(KeySigner, Option<KeySigner>)>,
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
            Self::Serve(a) => rt.block_on((*a).serve()),
        };
        // A keygen still running in the background must not hold up the exit.
        rt.shutdown_timeout(Duration::from_secs(2));
        result
    }
}

impl ServeArgs {
    /// Options for a devnet's matcher (`sealgrid devnet`): its operator key in-process.
    pub(crate) fn for_devnet(
        rpc_url: String,
        auction: Address,
        market: B256,
        operator: PrivateKeySigner,
        store: String,
        listen: SocketAddr,
        config: std::path::PathBuf,
    ) -> Self {
        Self {
            preset: Some((operator.into(), None)),
            ..Self::defaults(Some(rpc_url), auction, market, store, listen, config)
        }
    }

    /// The defaults of every option but these, the operator key from `env:SEALGRID_OPERATOR_KEY`.
    fn defaults(
        rpc_url: Option<String>,
        auction: Address,
        market: B256,
        store: String,
        listen: SocketAddr,
        config: std::path::PathBuf,
    ) -> Self {
        Self {
            rpc_url,
            auction: Some(auction),
            markets: vec![market],
            deployment: None,
            operator_key: "env:SEALGRID_OPERATOR_KEY".into(),
            store,
            listen,
            start_block: None,
            confirmations: None,
            first_interval: None,
            max_body_bytes: 1 << 20,
            max_batch: 1000,
            rate_burst: 256,
            rate_per_second: 64,
            client_orders_burst: 2_000,
            client_orders_per_second: 500,
            client_chain_burst: 32,
            client_chain_per_second: 8,
            erc1271_gas: 200_000,
            erc1271_timeout_ms: 2_000,
            late_after_s: 30,
            config: Some(config),
            paymaster: None,
            sponsor_key: None,
            sponsor_validity_s: 600,
            sponsor_base_fee_multiplier: sealgrid_node::SPONSOR_BASE_FEE_MULTIPLIER,
            preset: None,
        }
    }

    /// Serves ERC-7677 sponsorship for the devnet's paymaster with the devnet sponsor key.
    pub(crate) fn with_devnet_sponsor(mut self, paymaster: Option<Address>) -> Result<Self> {
        let key: Option<PrivateKeySigner> = paymaster
            .map(|_| sealgrid_deploy::devnet::DEV_SPONSOR_KEY.parse())
            .transpose()
            .wrap_err("the devnet sponsor key")?;
        if let Some((_, sponsor)) = self.preset.as_mut() {
            *sponsor = key.map(KeySigner::from);
        }
        self.paymaster = paymaster;
        Ok(self)
    }

    /// Checks the chain against the deployment record at `path` on start-up.
    pub(crate) fn with_deployment(mut self, path: std::path::PathBuf) -> Self {
        self.deployment = Some(path);
        self
    }

    /// The auction: `--auction`, else the deployment record's.
    fn auction(&self, record: Option<&DeployRecord>) -> Result<Address> {
        match (self.auction, record) {
            (Some(a), _) => Ok(a),
            (None, Some(r)) => Ok(r.auction),
            (None, None) => bail!("give --auction or --deployment"),
        }
    }

    /// The chain endpoint: `--rpc-url`, else the local default (refused for a public or
    /// permissioned record).
    fn rpc(&self, record: Option<&DeployRecord>) -> Result<String> {
        match record {
            Some(r) => crate::cmd::desk::rpc_url(self.rpc_url.as_deref(), r),
            None => Ok(self
                .rpc_url
                .clone()
                .unwrap_or_else(|| crate::cmd::desk::LOCAL_RPC.to_owned())),
        }
    }

    /// (start block, confirmations) of the indexer: the flags where given, else the record's
    /// deployment block and the config's confirmations; a flag that contradicts them is
    /// refused (indexing from another block misses or repeats the auction's history, fewer
    /// confirmations than the network's undo its reorg safety).
    fn indexing(&self, record: Option<&DeployRecord>) -> Result<(u64, u64)> {
        let start = match (self.start_block, record) {
            (Some(b), Some(r)) if b != r.block => bail!(
                "--start-block {b} contradicts the deployment record (deployed at block {}); leave it out",
                r.block
            ),
            (Some(b), _) => b,
            (None, Some(r)) => r.block,
            (None, None) => 0,
        };
        let config = self.config.as_deref().map(DeployConfig::load).transpose()?;
        let confirmations = match (self.confirmations, &config) {
            (Some(c), Some(d)) if c != d.network.confirmations => bail!(
                "--confirmations {c} contradicts the network config ({} in {}); leave it out",
                d.network.confirmations,
                self.config
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            (Some(c), _) => c,
            (None, Some(d)) => d.network.confirmations,
            (None, None) => 0,
        };
        Ok((start, confirmations))
    }

    /// The node's config from the options (and the deployment record, if any).
    fn node_config(&self, record: Option<DeployRecord>) -> Result<NodeConfig> {
        // Raw keys from the environment only on a local network (the config's or the record's).
        let local = match (&self.config, &record) {
            (Some(path), _) => DeployConfig::load(path)?.network.kind == NetworkKind::Local,
            (None, Some(r)) => r.kind == NetworkKind::Local,
            (None, None) => false,
        };
        let operator = match &self.preset {
            Some((k, _)) => k.clone(),
            None => crate::cmd::keys::load(&self.operator_key, "--operator-key", local)?,
        };
        let (start_block, confirmations) = self.indexing(record.as_ref())?;
        let mut cfg = NodeConfig::new(
            self.rpc(record.as_ref())?,
            self.auction(record.as_ref())?,
            operator,
            self.store.clone(),
        );
        cfg.markets = match (&record, self.markets.is_empty()) {
            (Some(r), true) => vec![r.market],
            _ => self.markets.clone(),
        };
        // The record's delivery contracts: the node takes readings and prices and settles them.
        if let Some(r) = &record
            && r.delivery.settlement != Address::ZERO
        {
            cfg.delivery = Some(sealgrid_node::DeliveryNodeConfig::new(r.delivery));
        }
        cfg.deployment = record;
        cfg.listen = self.listen;
        cfg.start_block = start_block;
        cfg.confirmations = confirmations;
        cfg.first_interval = self.first_interval;
        cfg.api = ApiLimits {
            max_body_bytes: self.max_body_bytes,
            max_batch: self.max_batch,
            client_orders_burst: self.client_orders_burst,
            client_orders_per_second: self.client_orders_per_second,
            late_after_s: self.late_after_s,
        };
        cfg.intake = IntakeLimits {
            burst: self.rate_burst,
            per_second: self.rate_per_second,
            client_chain_burst: self.client_chain_burst,
            client_chain_per_second: self.client_chain_per_second,
            erc1271_gas: self.erc1271_gas,
            erc1271_timeout: Duration::from_millis(self.erc1271_timeout_ms),
        };
        cfg.pipeline = match &self.config {
            None => Pipeline::Log,
            Some(path) => {
                let deploy = DeployConfig::load(path)?;
                let prover = Arc::new(HaloProver::new(
                    params_source(deploy.verifier.params.clone()),
                    &deploy.verifier.capacities,
                ));
                tracing::info!(capacities = ?deploy.verifier.capacities,
                    confirmations = deploy.network.confirmations,
                    "cleared batches are proven and settled");
                Pipeline::Settle(SettlementConfig {
                    prover,
                    submitter: deploy.submitter_config()?,
                    prepare: deploy.verifier.capacities.clone(),
                })
            }
        };
        let preset_sponsor = self.preset.as_ref().and_then(|(_, s)| s.clone());
        if let Some(paymaster) = self.paymaster {
            let key = match (preset_sponsor, &self.sponsor_key) {
                (Some(k), _) => k,
                (None, Some(spec)) => crate::cmd::keys::load(spec, "--sponsor-key", local)?,
                (None, None) => bail!("--paymaster needs --sponsor-key"),
            };
            cfg.sponsor = Some(SponsorConfig {
                paymaster,
                key,
                validity_s: self.sponsor_validity_s,
                base_fee_multiplier: self.sponsor_base_fee_multiplier,
            });
        }
        Ok(cfg)
    }

    pub(crate) async fn serve(self) -> Result<()> {
        let record = self
            .deployment
            .as_deref()
            .map(crate::cmd::read_record)
            .transpose()?;
        let rpc = self.rpc(record.as_ref())?;
        if let Some(path) = &self.config {
            let deploy = DeployConfig::load(path)?;
            let chain_id = AuctionReader::connect(&rpc, self.auction(record.as_ref())?)
                .await
                .wrap_err("connecting to the chain")?
                .chain_id();
            if deploy.network.kind != NetworkKind::Local && deploy.network.chain_id != chain_id {
                bail!(
                    "{} is for chain {}, the node is chain {chain_id}",
                    path.display(),
                    deploy.network.chain_id,
                );
            }
        }
        let what = self.deployment.clone();
        let mut node = launch(self.node_config(record)?).await.map_err(|e| {
            let e = eyre::Report::new(e);
            match &what {
                Some(p) => e.wrap_err(format!(
                    "starting the node (deployment record {})",
                    p.display()
                )),
                None => e,
            }
        })?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
            _ = node.stopped() => tracing::warn!("a node task stopped; shutting down"),
        }
        node.shutdown().await;
        Ok(())
    }
}

/// `sealgrid node`: the whole market from the deployment record and the network config alone.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// The deployment record (`sealgrid deploy`): the auction, the market, the delivery
    /// contracts, the paymaster and the block indexing starts from.
    #[arg(long, env = "SEALGRID_DEPLOYMENT")]
    deployment: std::path::PathBuf,
    /// The network config the deployment was made from (deploy/config/*.toml): the prover's
    /// capacities and parameters, the submitter's gas policy and confirmations.
    #[arg(long, env = "SEALGRID_CONFIG")]
    config: std::path::PathBuf,
    /// JSON-RPC endpoint of the chain, which must report the record's chain id (default on a
    /// local record: http://127.0.0.1:8545).
    #[arg(long, visible_alias = "rpc", env = "ETH_RPC_URL")]
    rpc_url: Option<String>,
    /// The operator's key spec (see `matcher serve --operator-key`).
    #[arg(
        long,
        env = "SEALGRID_OPERATOR_KEY_SPEC",
        default_value = "env:SEALGRID_OPERATOR_KEY"
    )]
    operator_key: String,
    /// The sponsorship service's key spec; with it, and a record with a paymaster, the node
    /// serves ERC-7677 sponsorship.
    #[arg(long, env = "SEALGRID_SPONSOR_KEY_SPEC")]
    sponsor_key: Option<String>,
    /// Store: `sqlite:PATH` or `postgres://...`.
    #[arg(
        long,
        env = "SEALGRID_STORE",
        default_value = "sqlite:.sealgrid/node.db"
    )]
    store: String,
    /// Listen address of the API.
    #[arg(long, env = "SEALGRID_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Must equal the record's auction if given (the record decides).
    #[arg(long)]
    auction: Option<Address>,
    /// Must equal the record's market if given.
    #[arg(long)]
    market: Option<B256>,
    /// Must equal the config's confirmations if given.
    #[arg(long)]
    confirmations: Option<u64>,
    /// Must equal the record's deployment block if given.
    #[arg(long)]
    start_block: Option<u64>,
}

impl NodeArgs {
    pub(crate) fn run(self) -> Result<()> {
        MatcherCommand::Serve(Box::new(self.into_serve()?)).run()
    }

    /// The serve options the record and config determine; a flag that contradicts them is
    /// refused.
    fn into_serve(self) -> Result<ServeArgs> {
        let record = crate::cmd::read_record(&self.deployment)?;
        let deploy = DeployConfig::load(&self.config)?;
        let from_record = |flag: &str, given: String, recorded: String| -> Result<()> {
            if given != recorded {
                bail!(
                    "{flag} {given} contradicts the deployment record ({recorded} in {}); leave it out",
                    self.deployment.display()
                );
            }
            Ok(())
        };
        if let Some(a) = self.auction {
            from_record("--auction", a.to_string(), record.auction.to_string())?;
        }
        if let Some(m) = self.market {
            from_record("--market", m.to_string(), record.market.to_string())?;
        }
        if let Some(b) = self.start_block {
            from_record("--start-block", b.to_string(), record.block.to_string())?;
        }
        if let Some(c) = self.confirmations
            && c != deploy.network.confirmations
        {
            bail!(
                "--confirmations {c} contradicts the network config ({} in {}); leave it out",
                deploy.network.confirmations,
                self.config.display()
            );
        }
        if record.kind != deploy.network.kind {
            bail!(
                "{} is a {:?} network's record, {} a {:?} network's config",
                self.deployment.display(),
                record.kind,
                self.config.display(),
                deploy.network.kind
            );
        }
        let paymaster = record.accounts.map(|a| a.paymaster);
        if paymaster.is_some() && self.sponsor_key.is_none() {
            tracing::warn!(
                "the record has a paymaster but no --sponsor-key was given: no sponsorship"
            );
        }
        let mut serve = ServeArgs::defaults(
            self.rpc_url,
            record.auction,
            record.market,
            self.store,
            self.listen,
            self.config,
        );
        serve.operator_key = self.operator_key;
        serve.deployment = Some(self.deployment);
        serve.start_block = Some(record.block);
        serve.confirmations = Some(deploy.network.confirmations);
        if let (Some(p), Some(k)) = (paymaster, self.sponsor_key) {
            serve.paymaster = Some(p);
            serve.sponsor_key = Some(k);
        }
        Ok(serve)
    }
}
