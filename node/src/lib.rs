#![doc = include_str!("../README.md")]

mod launch;
pub mod metrics;
mod prover;

use std::path::{Path, PathBuf};

use alloy_signer_local::PrivateKeySigner;
use sealgrid_deploy::devnet::DEV_KEYS;
use sealgrid_deploy::{DeployConfig, DeployRecord, Deployer, NetworkKind, deploy};
use sealgrid_keys::{KeySpec, LoadContext};

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

/// The variable naming the deployer's key spec (`sealgrid deploy --deployer-key`).
pub const DEPLOYER_KEY_SPEC_ENV: &str = "SEALGRID_DEPLOYER_KEY_SPEC";

/// The variable a local devnet's raw deployer key may be in (refused on other networks).
pub const DEPLOYER_RAW_KEY_ENV: &str = "SEALGRID_DEPLOYER_KEY";

/// The deployer key of a deployment of `cfg`, from a key spec like every other key:
/// `spec` (`--deployer-key`), else `$SEALGRID_DEPLOYER_KEY_SPEC`: `keystore:PATH` (password in
/// `$SEALGRID_KEYSTORE_PASSWORD` or as the spec says) on any network, `env:VAR` on a local one.
/// Without a spec a local network uses `$SEALGRID_DEPLOYER_KEY` (raw hex) or else anvil's dev
/// key 0. A PKCS#11 spec is refused (forge signs the deployment script and cannot use a token),
/// and so is `$SEALGRID_DEPLOYER_KEY` on any network but a local one.
pub fn deployer_key(cfg: &DeployConfig, spec: Option<&str>) -> OperatorResult<Deployer> {
    let local = cfg.network.kind == NetworkKind::Local;
    let raw_set = std::env::var_os(DEPLOYER_RAW_KEY_ENV).is_some_and(|v| !v.is_empty());
    if raw_set && !local {
        return Err(OperatorError::Config(format!(
            "{DEPLOYER_RAW_KEY_ENV} holds a raw key, which is refused on a {:?} network (local devnets only): \
             unset it and give the deployer key as a keystore, --deployer-key keystore:PATH \
             (or {DEPLOYER_KEY_SPEC_ENV}), with its password in $SEALGRID_KEYSTORE_PASSWORD",
            cfg.network.kind
        )));
    }
    let ctx = LoadContext::new()
        .allow_raw(local)
        .with_chain_id(Some(cfg.network.chain_id));
    let from_env = std::env::var(DEPLOYER_KEY_SPEC_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty());
    let spec = match spec.map(str::to_owned).or(from_env) {
        Some(s) => s,
        None if raw_set => format!("env:{DEPLOYER_RAW_KEY_ENV}"),
        None if local => {
            let key: PrivateKeySigner = DEV_KEYS[0]
                .parse()
                .map_err(|_| OperatorError::Config("bad dev key".into()))?;
            return Ok(Deployer::raw(key));
        }
        None => {
            return Err(OperatorError::Config(format!(
                "no deployer key: a {:?} network has no default key; give one as a keystore, \
                 --deployer-key keystore:PATH (or {DEPLOYER_KEY_SPEC_ENV}), with its password in \
                 $SEALGRID_KEYSTORE_PASSWORD",
                cfg.network.kind
            )));
        }
    };
    let spec: KeySpec = spec.parse().map_err(|e| {
        OperatorError::Config(format!(
            "deployer key: not a key spec ({e}); use keystore:PATH, or env:VAR on a local network"
        ))
    })?;
    if spec.is_raw() && !local {
        return Err(OperatorError::Config(format!(
            "deployer key: {spec} is a raw key, for local devnets only; on a {:?} network give a \
             keystore, --deployer-key keystore:PATH",
            cfg.network.kind
        )));
    }
    Ok(Deployer::load(&spec, &ctx)?)
}

/// Generates the verifiers of `cfg` with `prover` and deploys `cfg` to `rpc` with the deployer
/// key [`deployer_key`] finds without a flag; progress lines go to `say`. Call from a
/// multi-threaded runtime (keygen runs in place).
pub async fn deploy_config(
    root: &Path,
    rpc: &str,
    cfg: &DeployConfig,
    prover: &HaloProver,
    say: &mut (dyn FnMut(String) + Send),
) -> OperatorResult<DeployRecord> {
    let key = deployer_key(cfg, None)?;
    deploy_config_with(root, rpc, cfg, &key, prover, say).await
}

/// [`deploy_config`] from `key` (see [`deployer_key`]).
pub async fn deploy_config_with(
    root: &Path,
    rpc: &str,
    cfg: &DeployConfig,
    key: &Deployer,
    prover: &HaloProver,
    say: &mut (dyn FnMut(String) + Send),
) -> OperatorResult<DeployRecord> {
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
    Ok(deploy(root, rpc, cfg, key, &codes, say).await?)
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
