//! `sealgrid devnet`: a local market to develop against, running until Ctrl-C.

use std::{net::SocketAddr, path::PathBuf};

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use clap::Args;
use eyre::{Result, WrapErr, bail};
use sealgrid_chain::bindings::{IERC20, IMockToken};
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet};
use sealgrid_deploy::{DeployConfig, NetworkKind};

use crate::cmd::matcher::ServeArgs;
use crate::cmd::prover::params_source;
use sealgrid_node::{HaloProver, deploy_config, write_record};

#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    /// anvil's port (loopback).
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// The matcher API's listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Network config (default: deploy/config/local.toml; must be a local network).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The matcher's store (default: .sealgrid/devnet/matcher.db, emptied at every start since
    /// the chain is new too).
    #[arg(long)]
    store: Option<String>,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

impl DevnetArgs {
    pub(crate) fn run(self) -> Result<()> {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .init();
        let root = crate::cmd::checkout(self.root)?;
        let config = self
            .config
            .unwrap_or_else(|| root.join("deploy/config/local.toml"));
        let cfg = DeployConfig::load(&config)?;
        if cfg.network.kind != NetworkKind::Local {
            bail!(
                "a devnet is a local network; {} is {:?}",
                config.display(),
                cfg.network.kind
            );
        }
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        let result = rt.block_on(async move {
            eprintln!("devnet: starting anvil on 127.0.0.1:{} (chain {})", self.port, cfg.network.chain_id);
            let net = Devnet::anvil(&root, Some(self.port), Some(cfg.network.chain_id)).await?;
            let prover = HaloProver::new(
                params_source(cfg.verifier.params.clone()),
                &cfg.verifier.capacities,
            );
            let record = deploy_config(&root, &net.rpc, &cfg, &prover, &mut |line| eprintln!("deploy: {line}")).await?;
            let dir = root.join(".sealgrid/devnet");
            write_record(&dir.join("deployment.json"), &record)?;

            // Traders: anvil's dev keys 1-4, each with 10,000 mock tokens approved to the auction.
            let mint = IMockToken::new(record.token, net.wallet(DEV_KEYS[0])?);
            let mut traders = Vec::new();
            for key in &DEV_KEYS[1..] {
                let signer: PrivateKeySigner = key.parse()?;
                mint.mint(signer.address(), U256::from(10_000_000_000u64))
                    .send()
                    .await?
                    .get_receipt()
                    .await?;
                IERC20::new(record.token, net.wallet(key)?)
                    .approve(record.auction, U256::MAX)
                    .send()
                    .await?
                    .get_receipt()
                    .await?;
                traders.push((signer.address(), *key));
            }
            let store = match self.store {
                Some(s) => s,
                None => {
                    // The chain is new on every start, so is the matcher's state: a store from an
                    // earlier devnet would describe blocks of a chain that no longer exists.
                    let db = dir.join("matcher.db");
                    for suffix in ["", "-wal", "-shm"] {
                        let f = PathBuf::from(format!("{}{suffix}", db.display()));
                        if f.exists() {
                            std::fs::remove_file(&f)
                                .wrap_err_with(|| format!("removing {}", f.display()))?;
                        }
                    }
                    format!("sqlite:{}", db.display())
                }
            };
            println!("sealgrid devnet (INSECURE devnet keys and parameters; never use them elsewhere)");
            println!("  chain rpc       {} (chain id {})", net.rpc, net.chain_id);
            println!("  matcher api     http://{}/v1/orders   (openapi: /openapi.json, metrics: /metrics, health: /health)", self.listen);
            println!("  auction         {}", record.auction);
            println!("  market          {} ({})", record.market, record.market_name);
            println!("  token           {} (mock, 6 decimals)", record.token);
            println!("  verifiers       {:?} slots behind {}", cfg.verifier.capacities, record.clearing_verifier);
            println!("  delivery        registry {}, settlement {}, certificates {}", record.delivery.registry, record.delivery.settlement, record.delivery.certificates);
            if let Some(a) = record.accounts {
                println!("  erc-4337        EntryPoint {}, paymaster {}, account factory {}; sponsorship (ERC-7677) at http://{}/v1/paymaster", a.entry_point, a.paymaster, a.account_factory, self.listen);
            }
            println!("  operator        {} (anvil key 0)", record.operator);
            println!("  deployment      {}", dir.join("deployment.json").display());
            println!("  funded traders (10,000 tokens each, approved to the auction):");
            for (address, key) in &traders {
                println!("    {address}  {key}");
            }
            println!("Ctrl-C stops the devnet.");
            ServeArgs::for_devnet(
                net.rpc.clone(),
                record.auction,
                record.market,
                DEV_KEYS[0].parse().wrap_err("the devnet operator key")?,
                store,
                self.listen,
                config,
            )
            .with_devnet_sponsor(record.accounts.map(|a| a.paymaster))?
            .with_deployment(dir.join("deployment.json"))
            .serve()
            .await?;
            drop(net);
            Ok(())
        });
        // A keygen still running in the background must not hold up the exit.
        rt.shutdown_timeout(std::time::Duration::from_secs(2));
        result
    }
}
