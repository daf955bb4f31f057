//! `sealgrid deploy`: contracts and the generated verifiers from a network config.

use std::path::PathBuf;

use clap::Args;
use eyre::{Result, WrapErr};
use sealgrid_deploy::DeployConfig;
use sealgrid_node::{HaloProver, deploy_config_with, deployer_key, write_record};

use crate::cmd::prover::params_source;

/// The part of `sealgrid deploy --help` on the deployer key and retries.
const DEPLOY_HELP: &str = "\
Deployer key: a key spec like every other key, never the key itself.
  keystore:PATH[?password-env=VAR|?password-file=FILE]   any network; password in
      $SEALGRID_KEYSTORE_PASSWORD by default. forge signs deploy/Deploy.s.sol with the same
      keystore (--keystore, --password-file).
  env:VAR   a raw hex key in VAR: local networks only.
  Without a spec a local network uses $SEALGRID_DEPLOYER_KEY (raw hex) or anvil's dev key 0;
  on public and permissioned networks $SEALGRID_DEPLOYER_KEY is refused.
  A PKCS#11 key cannot sign the forge script: deploy from a keystore, or run deploy/Deploy.s.sol
  with forge's own wallet options (--ledger, --account; docs/operations.md, \"Deployer key\").

RPC retries: requests the node rate-limits (HTTP 429, JSON-RPC 429/-32005) are retried as the
config's optional [rpc] table says (default: max_retries = 10, initial_backoff_ms = 500,
compute_units_per_second = 660).

Examples:
  sealgrid deploy --rpc-url http://127.0.0.1:8545 --config deploy/config/local.toml
  SEALGRID_KEYSTORE_PASSWORD=... sealgrid deploy --rpc-url https://l2.example \\
      --config deploy/config/public-l2.toml --deployer-key keystore:deployer.json";

#[derive(Debug, Args)]
#[command(after_help = DEPLOY_HELP)]
pub(crate) struct DeployArgs {
    /// JSON-RPC endpoint of the target chain (`--rpc` is an alias).
    #[arg(long, visible_alias = "rpc", env = "ETH_RPC_URL", value_name = "URL")]
    rpc_url: String,
    /// Network config (deploy/config/local.toml, public-l2.toml, permissioned.toml, or your own).
    #[arg(long)]
    config: PathBuf,
    /// Where to write the deployment record (default: .sealgrid/deployments/<network>-<chain>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The deployer key spec: keystore:PATH[?password-env=VAR|?password-file=FILE], or env:VAR
    /// on a local network only (default on a local network: $SEALGRID_DEPLOYER_KEY, else
    /// anvil's dev key 0).
    #[arg(long, env = "SEALGRID_DEPLOYER_KEY_SPEC", value_name = "SPEC")]
    deployer_key: Option<String>,
}

impl DeployArgs {
    pub(crate) fn run(self) -> Result<()> {
        let root = crate::cmd::checkout(self.root)?;
        let cfg = DeployConfig::load(&self.config)?;
        // The key first: a refused or unreadable key stops before any keygen or transaction.
        let key = deployer_key(&cfg, self.deployer_key.as_deref())?;
        let prover = HaloProver::new(
            params_source(cfg.verifier.params.clone()),
            &cfg.verifier.capacities,
        );
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        let mut say = |line: String| eprintln!("deploy: {line}");
        let record = rt.block_on(deploy_config_with(
            &root,
            &self.rpc_url,
            &cfg,
            &key,
            &prover,
            &mut say,
        ))?;
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
