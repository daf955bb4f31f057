#![doc = include_str!("../README.md")]

mod launch;
mod prover;

use std::path::{Path, PathBuf};

use alloy_signer_local::PrivateKeySigner;
use sealgrid_deploy::devnet::DEV_KEYS;
use sealgrid_deploy::{DeployConfig, DeployRecord, NetworkKind, deploy};

pub use launch::{
    DeliveryNodeConfig, Node, NodeConfig, Pipeline, SettlementConfig, SponsorConfig, launch,
};
pub use prover::HaloProver;
/// Default bound of the sponsorship service on maxFeePerGas, in multiples of the base fee.
pub use sealgrid_sponsor::DEFAULT_BASE_FEE_MULTIPLIER as SPONSOR_BASE_FEE_MULTIPLIER;

/// Errors of the node and the operator wiring.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Chain access or deployment failed.
    #[error(transparent)]
    Chain(#[from] sealgrid_chain::ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sealgrid_store::StoreError),
    /// The matcher failed to start or resume.
    #[error(transparent)]
    Matcher(#[from] sealgrid_matcher::MatcherError),
    /// The sponsorship service failed to start.
    #[error(transparent)]
    Sponsor(#[from] sealgrid_sponsor::SponsorError),
    /// The delivery service failed to start.
    #[error(transparent)]
    Delivery(#[from] sealgrid_delivery::DeliveryError),
    /// The prover failed (keys, parameters, verifier generation or compilation).
    #[error("prover: {0}")]
    Prover(String),
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The configuration or environment does not allow the operation.
    #[error("{0}")]
    Config(String),
}

impl OperatorError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// Result of the operator wiring.
pub type OperatorResult<T> = Result<T, OperatorError>;

/// The deployer key: `$SEALGRID_DEPLOYER_KEY`, or anvil's dev key 0 on a local network.
pub fn deployer_key(cfg: &DeployConfig) -> OperatorResult<PrivateKeySigner> {
    match std::env::var("SEALGRID_DEPLOYER_KEY") {
        Ok(k) => k.trim().parse().map_err(|_| {
            OperatorError::Config("SEALGRID_DEPLOYER_KEY is not a private key".into())
        }),
        Err(_) if cfg.network.kind == NetworkKind::Local => DEV_KEYS[0]
            .parse()
            .map_err(|_| OperatorError::Config("bad dev key".into())),
        Err(_) => Err(OperatorError::Config(format!(
            "set SEALGRID_DEPLOYER_KEY to the deployer's private key (a {:?} network has no default key)",
            cfg.network.kind
        ))),
    }
}

/// Generates the verifiers of `cfg` with `prover` and deploys `cfg` to `rpc`; progress lines go
/// to `say`. Call from a multi-threaded runtime (keygen runs in place).
pub async fn deploy_config(
    root: &Path,
    rpc: &str,
    cfg: &DeployConfig,
    prover: &HaloProver,
    say: &mut (dyn FnMut(String) + Send),
) -> OperatorResult<DeployRecord> {
    let key = deployer_key(cfg)?;
    if let Some(p) = &cfg.verifier.params
        && !p.is_file()
    {
        return Err(OperatorError::Config(format!(
            "verifier.params: no parameter file at {}",
            p.display()
        )));
    }
    let caps = cfg.verifier.capacities.clone();
    let codes = tokio::task::block_in_place(|| prover.verifier_codes(root, &caps, &mut *say))?;
    Ok(deploy(root, rpc, cfg, &key, &codes, say).await?)
}

/// Writes a deployment record as pretty JSON, creating its directory.
pub fn write_record(path: &Path, record: &DeployRecord) -> OperatorResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| OperatorError::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(record)
        .map_err(|e| OperatorError::Config(format!("record: {e}")))?;
    std::fs::write(path, text + "\n").map_err(|e| OperatorError::io(path, e))
}
