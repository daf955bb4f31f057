//! `sealgrid deploy`: contracts and the generated verifiers from a network config.

use std::path::PathBuf;

use clap::Args;
use eyre::{Result, WrapErr};
use sealgrid_deploy::DeployConfig;
use sealgrid_node::{HaloProver, deploy_config, write_record};

use crate::cmd::prover::params_source;

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// JSON-RPC endpoint of the target chain.
    #[arg(long, env = "SEALGRID_RPC_URL")]
    rpc: String,
    /// Network config (deploy/config/local.toml, public-l2.toml, permissioned.toml, or your own).
    #[arg(long)]
    config: PathBuf,
    /// Where to write the deployment record (default: .sealgrid/deployments/<network>-<chain>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

impl DeployArgs {
    pub(crate) fn run(self) -> Result<()> {
        let root = crate::cmd::checkout(self.root)?;
        let cfg = DeployConfig::load(&self.config)?;
        let prover = HaloProver::new(
            params_source(cfg.verifier.params.clone()),
            &cfg.verifier.capacities,
        );
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        let mut say = |line: String| eprintln!("deploy: {line}");
        let record = rt.block_on(deploy_config(&root, &self.rpc, &cfg, &prover, &mut say))?;
        let out = self.out.unwrap_or_else(|| {
            root.join(format!(
                ".sealgrid/deployments/{}-{}.json",
                record.network, record.chain_id
            ))
        });
        write_record(&out, &record)?;
        eprintln!("deploy: record written to {}", out.display());
        println!("{}", serde_json::to_string_pretty(&record)?);
        Ok(())
    }
}
