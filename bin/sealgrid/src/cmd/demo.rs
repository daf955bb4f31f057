//! `sealgrid demo`: the pilot scenario on a local anvil (see `sealgrid_devkit::pilot`).

use std::{path::PathBuf, sync::Arc};

use clap::Args;
use eyre::{Result, WrapErr, bail};
use sealgrid_deploy::devnet::Devnet;
use sealgrid_deploy::{DeployConfig, NetworkKind};
use sealgrid_devkit::demo::{DemoOptions, render, run_demo};

use crate::cmd::prover::params_source;
use sealgrid_node::{HaloProver, deploy_config, write_record};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// C&I sites with rooftop PV (the pilot: 180 sites, 12 MW; storage and PV scale with it).
    #[arg(long, default_value_t = 180)]
    sites: usize,
    /// 5-minute intervals to trade.
    #[arg(long, default_value_t = 3)]
    intervals: usize,
    /// Hour of day of the first interval (12 = noon: PV surplus, batteries charging; 18 =
    /// evening peak: batteries discharging).
    #[arg(long, default_value_t = 12.0)]
    start_hour: f64,
    /// Scenario seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Network config of the local deployment.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

impl DemoArgs {
    pub(crate) fn run(self) -> Result<()> {
        let max = sealgrid_devkit::pilot::MAX_SITES;
        if self.sites == 0 || self.sites > max {
            bail!(
                "--sites must be 1..={max} (one interval's orders must fit the 256-slot circuit)"
            );
        }
        if self.intervals == 0 || self.intervals > 288 {
            bail!("--intervals must be 1..=288 (one day)");
        }
        if !(0.0..24.0).contains(&self.start_hour) {
            bail!("--start-hour must be in [0, 24)");
        }
        let root = crate::cmd::checkout(self.root)?;
        let config = self
            .config
            .unwrap_or_else(|| root.join("deploy/config/local.toml"));
        let mut cfg = DeployConfig::load(&config)?;
        if cfg.network.kind != NetworkKind::Local {
            bail!(
                "the demo runs on a local network; {} is {:?}",
                config.display(),
                cfg.network.kind
            );
        }
        let prover = Arc::new(HaloProver::new(
            params_source(cfg.verifier.params.clone()),
            &cfg.verifier.capacities,
        ));
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        rt.block_on(async move {
            println!("demo: starting anvil from the project's toolchain");
            let mut net = Devnet::anvil(&root, None, None).await?;
            cfg.network.chain_id = net.chain_id;
            let record = deploy_config(&root, &net.rpc, &cfg, &prover, &mut |line| eprintln!("deploy: {line}")).await?;
            net.auction = record.auction;
            net.token = record.token;
            net.delivery = record.delivery;
            net.accounts = record.accounts;
            write_record(&root.join(".sealgrid/deployments/demo.json"), &record)?;
            println!(
                "demo: chain {} at {}; auction {}; verifiers for {:?} slots (record: .sealgrid/deployments/demo.json)",
                net.chain_id,
                net.rpc,
                net.auction,
                cfg.verifier.capacities
            );
            let opts = DemoOptions {
                sites: self.sites,
                intervals: self.intervals,
                start_hour: self.start_hour,
                seed: self.seed,
                deployment: Some(record.clone()),
                root: root.clone(),
            };
            let summary = run_demo(
                &net,
                record.market,
                prover,
                cfg.submitter_config()?,
                opts,
                |line| println!("demo: {line}"),
            )
            .await?;
            print!("{}", render(&summary));
            Ok(())
        })
    }
}
