//! Deployment from a network config (`deploy/config/*.toml`): validation, the generated
//! verifiers, `deploy/Deploy.s.sol` through forge, and the deployment record (JSON).
//!
//! The verifiers' creation code comes from the caller (the binary generates it from the
//! prover's keys), so this crate does not depend on the prover.

use std::path::{Path, PathBuf};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use serde::{Deserialize, Serialize};

use sealgrid_chain::{ChainError, ChainResult, RetryPolicy, SubmitterConfig};

mod deployer;
pub mod devnet;
mod stages;

pub use deployer::Deployer;
pub use sealgrid_types::stage_init_code;
pub use stages::{
    StageRecord, check_verifier_record, stage_code_hashes, stage_runtime, verify_record,
    verify_record_at,
};

/// Where a network sits; it decides which shortcuts the config may take.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkKind {
    /// A local anvil: mock token, insecure parameters and no timelock delay allowed.
    Local,
    /// A public chain (an L2): a real token, ceremony parameters, a timelock delay of a day or more.
    Public,
    /// A permissioned EVM chain: a real token, ceremony parameters, any timelock delay.
    Permissioned,
}

/// `[network]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// A name for records and logs.
    pub name: String,
    /// Local, public or permissioned.
    pub kind: NetworkKind,
    /// The chain id the node must report.
    pub chain_id: u64,
    /// Blocks deep before the submitter counts a transaction.
    pub confirmations: u64,
}

/// `[gas]`: the submitter's fee policy.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GasConfig {
    /// Hard cap on `maxFeePerGas` (gwei).
    pub max_fee_gwei: f64,
    /// Cap on `maxPriorityFeePerGas` (gwei).
    pub max_priority_fee_gwei: f64,
    /// Alert threshold (gwei).
    pub alert_gwei: f64,
    /// Percent added to gas estimates.
    pub margin_percent: u64,
}

/// `[roles]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RolesConfig {
    /// The market operator (the submitter's key).
    pub operator: Address,
    /// PAUSER_ROLE holder, if any.
    #[serde(default)]
    pub pauser: Option<Address>,
    /// Timelock proposers (and cancellers).
    pub proposers: Vec<Address>,
    /// Timelock executors (empty: anyone may execute a ready operation).
    #[serde(default)]
    pub executors: Vec<Address>,
    /// Timelock delay for every admin change (s).
    pub timelock_delay_s: u64,
}

/// `[token]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The payment token; omitted on local networks to deploy a mock.
    #[serde(default)]
    pub address: Option<Address>,
    /// Its decimals (for display).
    pub decimals: u8,
}

/// `[market]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Market name; id = `keccak256("sealgrid/" + name) >> 8`.
    pub name: String,
    /// Interval length (s).
    pub interval_length_s: u32,
    /// Gate closure before delivery start (s).
    pub gate_lead_s: u32,
    /// Settle window after the gate (s).
    pub settle_window_s: u32,
    /// How far ahead of the gate commits are accepted (s).
    pub commit_horizon_s: u32,
    /// Commitments per interval.
    pub max_commitments: u32,
    /// Gas the auction forwards to the verifier.
    pub verifier_gas_limit: u32,
    /// Price floor per kWh (token base units).
    pub price_floor: i64,
    /// Price cap per kWh (token base units).
    pub price_cap: i64,
    /// Minimum operator bond (base units, decimal string).
    pub min_bond: String,
    /// Slash per proven censorship (base units, decimal string).
    pub slash_amount: String,
    /// Commitments one account may make per interval (1 to 32; an update may only raise it).
    pub max_per_account: u8,
    /// Fee taken from the lock of a commitment that is withdrawn or never opened (base units,
    /// decimal string; of the form m * 10^e with m < 2048; every lock must cover it).
    pub unopened_fee: String,
    /// Bond the deployer deposits now (base units, decimal string; "0" for none).
    pub bond: String,
    /// ERC-1155 metadata URI of the intent token.
    pub intent_uri: String,
}

impl MarketConfig {
    /// The market id.
    pub fn id(&self) -> B256 {
        market_id(&self.name)
    }
}

/// The market id of `name`: `keccak256("sealgrid/" + name) >> 8` (below the field modulus).
pub fn market_id(name: &str) -> B256 {
    B256::from(U256::from_be_bytes(keccak256(format!("sealgrid/{name}")).0) >> 8)
}

/// `[verifier]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierConfig {
    /// Circuit capacities, ascending, 1 to 4 of them.
    pub capacities: Vec<usize>,
    /// A ceremony parameter file (relative paths from the config's directory); omitted on local
    /// networks for the INSECURE devnet parameters.
    #[serde(default)]
    pub params: Option<PathBuf>,
}

/// `[delivery]`: meter registry, delivery settlement and granular certificates (DESIGN 3.7-3.8).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The meter desk (REGISTRAR_ROLE of the registry: registers meters, rotates and revokes
    /// gateway keys).
    pub registrar: Address,
    /// The market's real-time price signer.
    pub oracle: Address,
    /// The market's balancing account (the counterparty of every imbalance).
    pub balancing: Address,
    /// Seconds after an interval ends until its readings are due and it settles.
    pub reading_window_s: u32,
    /// Seconds after an interval ends during which revisions post resettlements.
    pub true_up_window_s: u32,
    /// Metadata URI template of certificates, with `{id}`.
    pub certificate_uri: String,
}

/// The canonical EntryPoint v0.8 address (deterministic deployment; bundlers expect it).
pub const CANONICAL_ENTRY_POINT: Address =
    alloy::primitives::address!("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108");

fn canonical_entry_point() -> Address {
    CANONICAL_ENTRY_POINT
}

/// `[accounts]` (optional): the market paymaster that sponsors participants' ERC-4337
/// operations (DESIGN 3.9).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// The EntryPoint v0.8 (default: the canonical address; on local networks it is deployed
    /// there when absent).
    #[serde(default = "canonical_entry_point")]
    pub entry_point: Address,
    /// The sponsorship service key's address (the paymaster's signer).
    pub sponsor: Address,
    /// Length of a quota period in seconds.
    pub quota_period_s: u64,
    /// Deposit the deployer puts in the EntryPoint for the paymaster (wei, decimal string).
    pub deposit_wei: String,
    /// Stake the deployer adds for the paymaster (wei, decimal string).
    pub stake_wei: String,
    /// Unstake delay of that stake in seconds.
    pub unstake_delay_s: u32,
    /// `[accounts.limits]`: the caps on one sponsored operation.
    pub limits: PaymasterLimits,
}

/// `[accounts.limits]`: the caps on the gas and fees of one sponsored operation, enforced by
/// the paymaster on-chain (immutable) and by the sponsorship service (`IMarketPaymaster.Limits`;
/// docs/operations.md, "Sponsored gas"). The worst case one operation costs the deposit is
/// [`PaymasterLimits::worst_case_wei`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymasterLimits {
    /// Cap on verificationGasLimit (the account's validation, its deployment included).
    pub verification_gas: u32,
    /// Cap on callGasLimit per sponsored call.
    pub call_gas_per_call: u32,
    /// Most sponsored calls in one operation.
    pub max_calls: u32,
    /// Cap on preVerificationGas (on rollups it carries the L1 data fee: set it per chain).
    pub pre_verification_gas: u32,
    /// Cap on paymasterVerificationGasLimit.
    pub paymaster_verification_gas: u32,
    /// Cap on paymasterPostOpGasLimit (the paymaster has no postOp: 0).
    pub paymaster_post_op_gas: u32,
    /// Cap on maxFeePerGas (wei).
    pub max_fee_per_gas_wei: u128,
    /// Cap on maxPriorityFeePerGas (wei).
    pub max_priority_fee_per_gas_wei: u128,
    /// Cap on an operation's prefund: its gas limits times its maxFeePerGas (wei).
    pub max_cost_wei: u128,
}

impl PaymasterLimits {
    /// The most gas one operation can be charged for: every gas limit at its cap.
    pub fn max_gas(&self) -> u128 {
        u128::from(self.verification_gas)
            + u128::from(self.call_gas_per_call) * u128::from(self.max_calls)
            + u128::from(self.pre_verification_gas)
            + u128::from(self.paymaster_verification_gas)
            + u128::from(self.paymaster_post_op_gas)
    }

    /// The most one sponsored operation can take from the deposit:
    /// `min(max_cost, max_gas * max_fee_per_gas)` (the EntryPoint never charges more than the
    /// prefund, which is the gas limits times maxFeePerGas).
    pub fn worst_case_wei(&self) -> u128 {
        self.max_cost_wei
            .min(self.max_gas().saturating_mul(self.max_fee_per_gas_wei))
    }

    fn check(&self) -> ChainResult<()> {
        if [
            self.verification_gas,
            self.call_gas_per_call,
            self.max_calls,
            self.pre_verification_gas,
            self.paymaster_verification_gas,
        ]
        .contains(&0)
            || self.max_fee_per_gas_wei == 0
            || self.max_cost_wei == 0
        {
            return Err(bad(
                "accounts.limits: every gas cap but paymaster_post_op_gas, max_fee_per_gas_wei and max_cost_wei must be positive",
            ));
        }
        if self.max_priority_fee_per_gas_wei > self.max_fee_per_gas_wei {
            return Err(bad(
                "accounts.limits.max_priority_fee_per_gas_wei is above max_fee_per_gas_wei",
            ));
        }
        Ok(())
    }
}

/// A deployment config (`deploy/config/*.toml`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// `[network]`.
    pub network: NetworkConfig,
    /// `[gas]`.
    pub gas: GasConfig,
    /// `[roles]`.
    pub roles: RolesConfig,
    /// `[token]`.
    pub token: TokenConfig,
    /// `[market]`.
    pub market: MarketConfig,
    /// `[verifier]`.
    pub verifier: VerifierConfig,
    /// `[delivery]`.
    pub delivery: DeliveryConfig,
    /// `[accounts]` (optional).
    #[serde(default)]
    pub accounts: Option<AccountsConfig>,
    /// `[rpc]` (optional): how requests to the node are retried when it rate-limits
    /// (`max_retries`, `initial_backoff_ms`, `compute_units_per_second`; default
    /// [`RetryPolicy::DEFAULT`]: 10, 500 ms, 660 CU/s).
    #[serde(default)]
    pub rpc: RetryPolicy,
}

fn bad(reason: impl Into<String>) -> ChainError {
    ChainError::Config(reason.into())
}

fn amount(field: &str, s: &str) -> ChainResult<u128> {
    s.parse::<u128>().map_err(|_| {
        bad(format!(
            "market.{field} = {s:?} is not an amount in base units"
        ))
    })
}

fn gwei(field: &str, g: f64) -> ChainResult<u128> {
    if !g.is_finite() || !(0.0..=1e9).contains(&g) {
        return Err(bad(format!("gas.{field} = {g} is not a fee in gwei")));
    }
    Ok((g * 1e9).round() as u128)
}

/// Capacities the circuit supports (`sealgrid prover capacities`).
pub const SUPPORTED_CAPACITIES: [usize; 6] = [4, 16, 64, 256, 1024, 4096];

impl DeployConfig {
    /// Reads and validates a config file; a relative `verifier.params` is resolved against the
    /// file's directory.
    pub fn load(path: &Path) -> ChainResult<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("reading {}: {e}", path.display())))?;
        let mut cfg: Self =
            toml::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        if let Some(p) = &cfg.verifier.params
            && p.is_relative()
        {
            cfg.verifier.params = Some(path.parent().unwrap_or(Path::new(".")).join(p));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the config as a whole; every problem is a [`ChainError::Config`] naming the field.
    pub fn validate(&self) -> ChainResult<()> {
        let m = &self.market;
        let local = self.network.kind == NetworkKind::Local;
        if self.network.confirmations == 0 {
            return Err(bad("network.confirmations must be at least 1"));
        }
        if m.interval_length_s == 0 || m.commit_horizon_s == 0 || m.max_commitments == 0 {
            return Err(bad(
                "market.interval_length_s, commit_horizon_s and max_commitments must be positive",
            ));
        }
        // The auction keeps at least 60 s between the settle deadline and delivery for disputes.
        if m.settle_window_s == 0
            || u64::from(m.settle_window_s) + u64::from(sealgrid_types::MIN_DISPUTE_WINDOW)
                > u64::from(m.gate_lead_s)
        {
            return Err(bad(format!(
                "market.settle_window_s = {} must be positive and leave {} s before delivery: at most gate_lead_s - {} = {}",
                m.settle_window_s,
                sealgrid_types::MIN_DISPUTE_WINDOW,
                sealgrid_types::MIN_DISPUTE_WINDOW,
                i64::from(m.gate_lead_s) - i64::from(sealgrid_types::MIN_DISPUTE_WINDOW)
            )));
        }
        if m.price_floor >= m.price_cap {
            return Err(bad(format!(
                "market.price_floor {} must be below price_cap {}",
                m.price_floor, m.price_cap
            )));
        }
        let min_bond = amount("min_bond", &m.min_bond)?;
        amount("slash_amount", &m.slash_amount)?;
        if m.max_per_account == 0
            || usize::from(m.max_per_account) > sealgrid_types::MAX_PER_ACCOUNT
        {
            return Err(bad(format!(
                "market.max_per_account = {} must be 1 to {}",
                m.max_per_account,
                sealgrid_types::MAX_PER_ACCOUNT
            )));
        }
        if m.max_commitments > u32::from(u16::MAX) {
            return Err(bad(format!(
                "market.max_commitments = {} exceeds 65535",
                m.max_commitments
            )));
        }
        let fee = amount("unopened_fee", &m.unopened_fee)?;
        if sealgrid_types::encode_fee(fee).is_none() || fee > sealgrid_types::MAX_LOCK {
            return Err(bad(format!(
                "market.unopened_fee = {fee} must be m * 10^e with m < 2048 (about three significant digits) and at most the largest lock"
            )));
        }
        let bond = amount("bond", &m.bond)?;
        if bond != 0 && bond < min_bond {
            return Err(bad(format!(
                "market.bond {bond} is below min_bond {min_bond}"
            )));
        }
        let caps = &self.verifier.capacities;
        if caps.is_empty() || caps.len() > 4 || caps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad(
                "verifier.capacities must list 1 to 4 capacities in ascending order",
            ));
        }
        if let Some(c) = caps.iter().find(|c| !SUPPORTED_CAPACITIES.contains(c)) {
            return Err(bad(format!(
                "verifier.capacities: {c} is not a circuit capacity (supported: {SUPPORTED_CAPACITIES:?})"
            )));
        }
        if caps.last().is_some_and(|c| *c < m.max_commitments as usize) {
            return Err(bad(format!(
                "market.max_commitments = {} exceeds the largest verifier capacity {:?}: such intervals could never be proven",
                m.max_commitments,
                caps.last()
            )));
        }
        if m.verifier_gas_limit < 650_000 {
            return Err(bad(format!(
                "market.verifier_gas_limit = {} is too low: a clearing proof takes 500k-600k gas to verify inside the settle",
                m.verifier_gas_limit
            )));
        }
        let d = &self.delivery;
        if d.reading_window_s == 0 || d.reading_window_s >= d.true_up_window_s {
            return Err(bad(format!(
                "delivery.reading_window_s = {} must be positive and below true_up_window_s = {}",
                d.reading_window_s, d.true_up_window_s
            )));
        }
        if 3600 % m.interval_length_s != 0 {
            return Err(bad(format!(
                "market.interval_length_s = {} must divide an hour (hourly certificates)",
                m.interval_length_s
            )));
        }
        if [d.registrar, d.oracle, d.balancing].contains(&Address::ZERO) {
            return Err(bad(
                "delivery.registrar, oracle and balancing must be nonzero addresses",
            ));
        }
        if let Some(a) = &self.accounts {
            if a.sponsor == Address::ZERO || a.quota_period_s == 0 || a.quota_period_s >= 1 << 48 {
                return Err(bad(
                    "accounts.sponsor must be nonzero and accounts.quota_period_s in 1..2^48",
                ));
            }
            for (field, v) in [("deposit_wei", &a.deposit_wei), ("stake_wei", &a.stake_wei)] {
                v.parse::<u128>().map_err(|_| {
                    bad(format!("accounts.{field} = {v:?} is not an amount in wei"))
                })?;
            }
            a.limits.check()?;
        }
        let r = &self.rpc;
        if r.max_retries > 100 || r.initial_backoff_ms > 60_000 || r.compute_units_per_second == 0 {
            return Err(bad(format!(
                "rpc: max_retries = {} must be at most 100, initial_backoff_ms = {} at most 60000 and compute_units_per_second = {} positive",
                r.max_retries, r.initial_backoff_ms, r.compute_units_per_second
            )));
        }
        gwei("max_fee_gwei", self.gas.max_fee_gwei)?;
        gwei("max_priority_fee_gwei", self.gas.max_priority_fee_gwei)?;
        gwei("alert_gwei", self.gas.alert_gwei)?;
        if self.roles.proposers.is_empty() {
            return Err(bad(
                "roles.proposers: the timelock needs at least one proposer",
            ));
        }
        if !local {
            if self.token.address.is_none() {
                return Err(bad(
                    "token.address is required: a mock token is for local networks only",
                ));
            }
            if self.verifier.params.is_none() {
                return Err(bad(
                    "verifier.params is required: the INSECURE devnet parameters are for local networks only",
                ));
            }
            if self.network.kind == NetworkKind::Public && self.roles.timelock_delay_s < 86_400 {
                return Err(bad(format!(
                    "roles.timelock_delay_s = {} is below one day, the minimum on a public network",
                    self.roles.timelock_delay_s
                )));
            }
        }
        Ok(())
    }

    /// The submitter settings of this network.
    pub fn submitter_config(&self) -> ChainResult<SubmitterConfig> {
        Ok(SubmitterConfig {
            confirmations: self.network.confirmations,
            max_fee_per_gas: gwei("max_fee_gwei", self.gas.max_fee_gwei)?,
            max_priority_fee_per_gas: gwei(
                "max_priority_fee_gwei",
                self.gas.max_priority_fee_gwei,
            )?,
            gas_price_alert: gwei("alert_gwei", self.gas.alert_gwei)?,
            gas_margin_percent: self.gas.margin_percent,
            ..SubmitterConfig::default()
        })
    }
}

/// One generated verifier's creation code.
#[derive(Clone, Debug)]
pub struct VerifierCode {
    /// Its circuit capacity.
    pub capacity: usize,
    /// Its circuit's k.
    pub k: u32,
    /// Creation bytecode of each stage (from `solc --bin`), the entry first. Every stage but
    /// the last takes the next stage's address and runtime code hash as its constructor
    /// arguments ([`stage_init_code`]).
    pub stages: Vec<Vec<u8>>,
}

/// A deployed verifier in the record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifierRecord {
    /// Circuit capacity.
    pub capacity: usize,
    /// Circuit k.
    pub k: u32,
    /// Address of its entry stage (the one the ClearingVerifier adapter registers).
    pub address: Address,
    /// keccak256 of the entry's runtime code, as the adapter pins it.
    pub code_hash: B256,
    /// Every stage in call order, the entry first (prover/src/evm.rs), with its runtime code
    /// hash: computed from the generated code last stage first and checked against the chain at
    /// deployment; auditors recompute them with [`stage_code_hashes`] from
    /// `sealgrid prover export-verifier`, and the node checks them on start-up
    /// ([`verify_record`]).
    pub stages: Vec<StageRecord>,
}

/// The ERC-4337 part of a deployment record.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountsRecord {
    /// The EntryPoint v0.8.
    pub entry_point: Address,
    /// The market paymaster.
    pub paymaster: Address,
    /// The MarketAccount factory (counterfactual ERC-1271 smart accounts).
    pub account_factory: Address,
}

/// The deployment record, written as JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeployRecord {
    /// Network name.
    pub network: String,
    /// Network kind.
    pub kind: NetworkKind,
    /// Chain id.
    pub chain_id: u64,
    /// First block of the deployment.
    pub block: u64,
    /// The deployer.
    pub deployer: Address,
    /// The auction.
    pub auction: Address,
    /// The intent token.
    pub intents: Address,
    /// The payment token.
    pub token: Address,
    /// The ClearingVerifier adapter.
    pub clearing_verifier: Address,
    /// The timelock (admin of auction and intent token).
    pub timelock: Address,
    /// The market id.
    pub market: B256,
    /// The market name.
    pub market_name: String,
    /// The operator.
    pub operator: Address,
    /// Parameters the verifiers come from ("INSECURE devnet" or the ceremony file).
    pub params: String,
    /// The generated verifiers.
    pub verifiers: Vec<VerifierRecord>,
    /// The meter registry, delivery settlement and certificates.
    pub delivery: sealgrid_chain::delivery::DeliveryContracts,
    /// The ERC-4337 contracts, when `[accounts]` is configured.
    #[serde(default)]
    pub accounts: Option<AccountsRecord>,
}

/// Deploys `cfg` to `rpc` with `deployer`: the verifiers from `verifiers` (one per configured
/// capacity, in order), then `deploy/Deploy.s.sol` (signed by forge with the same key: see
/// [`Deployer`]). Requests are retried as `cfg.rpc` says. `say` gets progress lines.
///
/// # Errors
/// A raw deployer key off a local network is a [`ChainError::Config`], as is every config
/// problem; chain and forge failures as they come.
pub async fn deploy(
    root: &Path,
    rpc: &str,
    cfg: &DeployConfig,
    deployer: &Deployer,
    verifiers: &[VerifierCode],
    mut say: impl FnMut(String),
) -> ChainResult<DeployRecord> {
    cfg.validate()?;
    if deployer.is_raw() && cfg.network.kind != NetworkKind::Local {
        return Err(bad(format!(
            "a raw deployer key is for local networks only; deploy to a {:?} network from a keystore (keystore:PATH)",
            cfg.network.kind
        )));
    }
    // What forge signs with: checked (password readable) before anything is sent.
    let forge_signer = deployer.forge_wallet()?;
    let provider: DynProvider = sealgrid_chain::rpc::connect_with_wallet_and_policy(
        sealgrid_chain::rpc::rpc_url(rpc)?,
        EthereumWallet::new(deployer.signer().clone()),
        &cfg.rpc,
    );
    let chain_id = provider.get_chain_id().await?;
    if chain_id != cfg.network.chain_id {
        return Err(bad(format!(
            "the node at {rpc} is chain {chain_id}, the config is for chain {} ({})",
            cfg.network.chain_id, cfg.network.name
        )));
    }
    let caps: Vec<usize> = verifiers.iter().map(|v| v.capacity).collect();
    if caps != cfg.verifier.capacities {
        return Err(bad(format!(
            "verifier code for capacities {caps:?}, the config wants {:?}",
            cfg.verifier.capacities
        )));
    }
    let block = provider.get_block_number().await? + 1;

    let mut records = Vec::new();
    for v in verifiers {
        // The last stage first: each stage is constructed with the next one's address and the
        // runtime code hash computed for it from the generated code, and the chain's code of
        // every stage must be what was computed.
        let mut next: Option<(Address, alloy::primitives::Bytes)> = None;
        let mut stages = Vec::with_capacity(v.stages.len());
        for (i, creation) in v.stages.iter().enumerate().rev() {
            let what = format!("stage {} of the {}-slot verifier", i + 1, v.capacity);
            let pinned = next.as_ref().map(|(a, c)| (*a, c.as_ref()));
            let expected = stage_runtime(creation, pinned)?;
            let init = stage_init_code(creation, pinned.map(|(a, c)| (a, keccak256(c))));
            let tx = TransactionRequest::default().with_deploy_code(init);
            let receipt = provider
                .send_transaction(tx)
                .await?
                .get_receipt()
                .await
                .map_err(|e| ChainError::Devnet(format!("deploying a verifier: {e}")))?;
            let address = receipt
                .contract_address
                .filter(|_| receipt.status())
                .ok_or_else(|| {
                    ChainError::Devnet(format!(
                        "deploying {what} failed in tx {}",
                        receipt.transaction_hash
                    ))
                })?;
            let code = provider.get_code_at(address).await?;
            let code_hash = keccak256(&expected);
            if keccak256(&code) != code_hash {
                return Err(sealgrid_chain::CodeHashMismatch {
                    what,
                    address,
                    expected: code_hash,
                    actual: keccak256(&code),
                }
                .into());
            }
            stages.push(StageRecord { address, code_hash });
            next = Some((address, expected));
        }
        stages.reverse();
        let Some(&entry) = stages.first() else {
            return Err(bad(format!("no code for the {}-slot verifier", v.capacity)));
        };
        say(format!(
            "verifier for {} slots at {} ({} stages, entry code hash {})",
            v.capacity,
            entry.address,
            stages.len(),
            entry.code_hash
        ));
        records.push(VerifierRecord {
            capacity: v.capacity,
            k: v.k,
            address: entry.address,
            code_hash: entry.code_hash,
            stages,
        });
    }

    let m = &cfg.market;
    let join = |xs: &[String]| xs.join(",");
    let mut env: Vec<(&str, String)> = forge_signer.env.clone();
    env.extend([
        (
            "SG_TOKEN",
            cfg.token.address.unwrap_or(Address::ZERO).to_string(),
        ),
        ("SG_INTENT_URI", m.intent_uri.clone()),
        (
            "SG_PAUSER",
            cfg.roles.pauser.unwrap_or(Address::ZERO).to_string(),
        ),
        ("SG_MARKET", m.id().to_string()),
        ("SG_BOND", m.bond.clone()),
        ("SG_TIMELOCK_DELAY", cfg.roles.timelock_delay_s.to_string()),
        ("SG_OPERATOR", cfg.roles.operator.to_string()),
        ("SG_INTERVAL_LENGTH", m.interval_length_s.to_string()),
        ("SG_GATE_LEAD", m.gate_lead_s.to_string()),
        ("SG_SETTLE_WINDOW", m.settle_window_s.to_string()),
        ("SG_COMMIT_HORIZON", m.commit_horizon_s.to_string()),
        ("SG_MAX_COMMITMENTS", m.max_commitments.to_string()),
        ("SG_VERIFIER_GAS_LIMIT", m.verifier_gas_limit.to_string()),
        ("SG_PRICE_FLOOR", m.price_floor.to_string()),
        ("SG_PRICE_CAP", m.price_cap.to_string()),
        ("SG_MIN_BOND", m.min_bond.clone()),
        ("SG_SLASH_AMOUNT", m.slash_amount.clone()),
        ("SG_MAX_PER_ACCOUNT", m.max_per_account.to_string()),
        ("SG_UNOPENED_FEE", m.unopened_fee.clone()),
        (
            "SG_CAPACITIES",
            join(&caps.iter().map(ToString::to_string).collect::<Vec<_>>()),
        ),
        (
            "SG_VERIFIERS",
            join(
                &records
                    .iter()
                    .map(|r| r.address.to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "SG_VERIFIER_CODEHASHES",
            join(
                &records
                    .iter()
                    .map(|r| r.code_hash.to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
    ]);
    let d = &cfg.delivery;
    env.extend([
        ("SG_REGISTRAR", d.registrar.to_string()),
        ("SG_ORACLE", d.oracle.to_string()),
        ("SG_BALANCING", d.balancing.to_string()),
        ("SG_READING_WINDOW", d.reading_window_s.to_string()),
        ("SG_TRUE_UP_WINDOW", d.true_up_window_s.to_string()),
        ("SG_CERTIFICATE_URI", d.certificate_uri.clone()),
    ]);
    if let Some(a) = &cfg.accounts {
        if cfg.network.kind == NetworkKind::Local {
            ensure_entry_point(root, &provider, a.entry_point, &mut say).await?;
        } else if provider.get_code_at(a.entry_point).await?.is_empty() {
            return Err(bad(format!(
                "accounts.entry_point {} has no code on chain {chain_id}",
                a.entry_point
            )));
        }
        env.extend([
            ("SG_ENTRY_POINT", a.entry_point.to_string()),
            ("SG_SPONSOR", a.sponsor.to_string()),
            ("SG_QUOTA_PERIOD", a.quota_period_s.to_string()),
            ("SG_PAYMASTER_DEPOSIT", a.deposit_wei.clone()),
            ("SG_PAYMASTER_STAKE", a.stake_wei.clone()),
            ("SG_UNSTAKE_DELAY", a.unstake_delay_s.to_string()),
        ]);
        let l = &a.limits;
        env.extend([
            ("SG_PM_VERIFICATION_GAS", l.verification_gas.to_string()),
            ("SG_PM_CALL_GAS_PER_CALL", l.call_gas_per_call.to_string()),
            ("SG_PM_MAX_CALLS", l.max_calls.to_string()),
            (
                "SG_PM_PRE_VERIFICATION_GAS",
                l.pre_verification_gas.to_string(),
            ),
            (
                "SG_PM_PAYMASTER_VERIFICATION_GAS",
                l.paymaster_verification_gas.to_string(),
            ),
            (
                "SG_PM_PAYMASTER_POST_OP_GAS",
                l.paymaster_post_op_gas.to_string(),
            ),
            ("SG_PM_MAX_FEE_PER_GAS", l.max_fee_per_gas_wei.to_string()),
            (
                "SG_PM_MAX_PRIORITY_FEE_PER_GAS",
                l.max_priority_fee_per_gas_wei.to_string(),
            ),
            ("SG_PM_MAX_COST", l.max_cost_wei.to_string()),
        ]);
    }
    // An empty list is "unset" for the script's envOr defaults.
    let proposers = join(
        &cfg.roles
            .proposers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    );
    env.push(("SG_PROPOSERS", proposers));
    if !cfg.roles.executors.is_empty() {
        env.push((
            "SG_EXECUTORS",
            join(
                &cfg.roles
                    .executors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
        ));
    }
    say(format!(
        "running deploy/Deploy.s.sol on chain {chain_id} ({}) as {} ({} key)",
        cfg.network.name,
        deployer.address(),
        deployer.kind()
    ));
    let json = devnet::ForgeScript {
        file: "Deploy.s.sol",
        contract: "Deploy",
        signature: None,
        env,
        wallet: forge_signer.args.clone(),
    }
    .run(root, rpc, chain_id, deployer.address())?;
    drop(forge_signer);
    let created = |name: &str| devnet::created(&json, name);
    let token = match cfg.token.address {
        Some(a) => a,
        None => created("MockERC20")?,
    };
    let record = DeployRecord {
        network: cfg.network.name.clone(),
        kind: cfg.network.kind,
        chain_id,
        block,
        deployer: deployer.address(),
        auction: created("SealgridAuction")?,
        intents: created("EnergyIntentToken")?,
        token,
        clearing_verifier: created("ClearingVerifier")?,
        timelock: created("TimelockController")?,
        market: m.id(),
        market_name: m.name.clone(),
        operator: cfg.roles.operator,
        params: cfg.verifier.params.as_ref().map_or_else(
            || "INSECURE devnet (fixed public seed)".to_owned(),
            |p| p.display().to_string(),
        ),
        verifiers: records,
        delivery: sealgrid_chain::delivery::DeliveryContracts {
            registry: created("MeterRegistry")?,
            settlement: created("DeliverySettlement")?,
            certificates: created("GranularCertificates")?,
        },
        accounts: match &cfg.accounts {
            Some(a) => Some(AccountsRecord {
                entry_point: a.entry_point,
                paymaster: created("MarketPaymaster")?,
                account_factory: created("MarketAccountFactory")?,
            }),
            None => None,
        },
    };
    verify_record(&provider, &record).await?;
    Ok(record)
}

/// Deploys EntryPoint v0.8 from the `@account-abstraction/contracts` artifact through the
/// deterministic deployment proxy with the canonical salt, unless code is already at
/// `expected` (local networks only; `provider` sends from a funded key).
pub async fn ensure_entry_point(
    root: &Path,
    provider: &DynProvider,
    expected: Address,
    say: &mut impl FnMut(String),
) -> ChainResult<()> {
    if !provider.get_code_at(expected).await?.is_empty() {
        return Ok(());
    }
    if expected != CANONICAL_ENTRY_POINT {
        return Err(bad(format!(
            "accounts.entry_point {expected} has no code, and only the canonical EntryPoint can be deployed here"
        )));
    }
    let path = root.join("node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ChainError::Devnet(format!("{}: {e} (run scripts/setup.sh)", path.display()))
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ChainError::Devnet(format!("EntryPoint artifact: {e}")))?;
    let code = v["bytecode"]
        .as_str()
        .and_then(|h| alloy::primitives::hex::decode(h).ok())
        .ok_or_else(|| ChainError::Devnet("EntryPoint artifact has no bytecode".into()))?;
    let salt = alloy::primitives::b256!(
        "0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9"
    );
    let tx = TransactionRequest::default()
        .to(alloy::primitives::address!(
            "0x4e59b44847b379578588920ca78fbf26c0b4956c"
        ))
        .input([salt.as_slice(), &code].concat().into());
    let receipt = provider
        .send_transaction(tx)
        .await?
        .get_receipt()
        .await
        .map_err(|e| ChainError::Devnet(format!("deploying the EntryPoint: {e}")))?;
    if !receipt.status() || provider.get_code_at(expected).await?.is_empty() {
        return Err(ChainError::Devnet(format!(
            "the EntryPoint did not land at {expected} (tx {})",
            receipt.transaction_hash
        )));
    }
    say(format!(
        "EntryPoint v0.8 deployed at its canonical address {expected}"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> DeployConfig {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../deploy/config/{name}.toml"));
        DeployConfig::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn refused(cfg: &DeployConfig, needle: &str) {
        match cfg.validate() {
            Err(ChainError::Config(m)) => {
                assert!(m.contains(needle), "{m:?} should name {needle:?}")
            }
            r => panic!("expected a config error naming {needle:?}, got {r:?}"),
        }
    }

    #[test]
    fn shipped_configs_are_valid() {
        let local = shipped("local");
        assert_eq!(local.network.kind, NetworkKind::Local);
        assert_eq!(local.market.id(), devnet::demo_market());
        let l2 = shipped("public-l2");
        assert_eq!(l2.network.kind, NetworkKind::Public);
        let params = l2.verifier.params.clone().expect("params");
        assert!(
            params.ends_with("deploy/config/params/perpetual-powers-of-tau-k20.srs"),
            "{params:?}"
        );
        let p = shipped("permissioned");
        let sub = p.submitter_config().expect("submitter config");
        assert_eq!((sub.max_fee_per_gas, sub.confirmations), (0, 1));
        let sub = l2.submitter_config().expect("submitter config");
        assert_eq!(sub.max_fee_per_gas, 500_000_000);
        assert_eq!(sub.confirmations, 10);
        // [rpc]: spelled out on the public L2, the defaults where omitted.
        assert_eq!(l2.rpc, RetryPolicy::DEFAULT);
        assert_eq!(local.rpc, RetryPolicy::DEFAULT);
    }

    #[test]
    fn the_rpc_table_is_optional_partial_and_checked() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/local.toml"),
        )
        .expect("local.toml");
        let with = |rpc: &str| -> Result<DeployConfig, String> {
            toml::from_str::<DeployConfig>(&format!("{text}\n[rpc]\n{rpc}\n"))
                .map_err(|e| e.to_string())
        };
        let c = with("max_retries = 3").expect("partial table");
        assert_eq!(
            c.rpc,
            RetryPolicy {
                max_retries: 3,
                ..RetryPolicy::DEFAULT
            }
        );
        c.validate().expect("valid");
        let e = with("max_retry = 3").expect_err("typo");
        assert!(e.contains("max_retry"), "{e}");
        let c = with("compute_units_per_second = 0").expect("parses");
        refused(&c, "compute_units_per_second");
        let c = with("initial_backoff_ms = 600000").expect("parses");
        refused(&c, "initial_backoff_ms");
    }

    #[test]
    fn bad_configs_are_refused_naming_the_field() {
        let local = shipped("local");
        let l2 = shipped("public-l2");
        let mut c = l2.clone();
        c.token.address = None;
        refused(&c, "token.address");
        let mut c = l2.clone();
        c.verifier.params = None;
        refused(&c, "verifier.params");
        let mut c = l2.clone();
        c.roles.timelock_delay_s = 3600;
        refused(&c, "timelock_delay_s");
        let mut c = local.clone();
        c.verifier.capacities = vec![16, 4];
        refused(&c, "ascending");
        let mut c = local.clone();
        c.verifier.capacities = vec![4, 16, 100];
        refused(&c, "not a circuit capacity");
        let mut c = local.clone();
        c.verifier.capacities = vec![4, 16];
        refused(&c, "max_commitments");
        let mut c = local.clone();
        c.market.settle_window_s = c.market.gate_lead_s - 59;
        refused(&c, "settle_window_s");
        let mut c = local.clone();
        c.market.price_floor = c.market.price_cap;
        refused(&c, "price_floor");
        let mut c = local.clone();
        c.market.min_bond = "lots".into();
        refused(&c, "min_bond");
        let mut c = local.clone();
        c.market.max_per_account = 0;
        refused(&c, "max_per_account");
        let mut c = local.clone();
        c.market.max_per_account = 33;
        refused(&c, "max_per_account");
        let mut c = local.clone();
        c.market.unopened_fee = "123456".into();
        refused(&c, "unopened_fee");
        let mut c = local.clone();
        c.market.max_commitments = 65_536;
        refused(&c, "max_commitments");
        let mut c = local.clone();
        c.market.bond = "1".into();
        refused(&c, "below min_bond");
        let mut c = local.clone();
        c.gas.max_fee_gwei = -1.0;
        refused(&c, "max_fee_gwei");
        let mut c = local.clone();
        c.roles.proposers.clear();
        refused(&c, "proposers");
        let mut c = local.clone();
        c.market.verifier_gas_limit = 100_000;
        refused(&c, "verifier_gas_limit");
        let mut c = local.clone();
        c.delivery.reading_window_s = c.delivery.true_up_window_s;
        refused(&c, "delivery.reading_window_s");
        let mut c = local.clone();
        c.delivery.oracle = Address::ZERO;
        refused(&c, "delivery.registrar, oracle and balancing");
        let mut c = local.clone();
        c.market.interval_length_s = 420;
        refused(&c, "divide an hour");
        let mut c = local.clone();
        if let Some(a) = c.accounts.as_mut() {
            a.limits.max_cost_wei = 0;
        }
        refused(&c, "accounts.limits");
        let mut c = local.clone();
        if let Some(a) = c.accounts.as_mut() {
            a.limits.max_priority_fee_per_gas_wei = a.limits.max_fee_per_gas_wei + 1;
        }
        refused(&c, "max_priority_fee_per_gas_wei");
        let mut c = local;
        c.network.confirmations = 0;
        refused(&c, "confirmations");
    }

    #[test]
    fn the_default_paymaster_caps_and_their_worst_case() {
        let l = shipped("local").accounts.expect("[accounts]").limits;
        // docs/operations.md, "Sponsored gas": 250k + 8 x 200k + 100k + 60k = 2.01M gas, at
        // 100 gwei 0.201 ETH, so the 0.05 ETH prefund cap binds.
        assert_eq!(l.max_gas(), 2_010_000);
        assert_eq!(l.worst_case_wei(), 50_000_000_000_000_000);
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("sealgrid-deploy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let local = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/local.toml"),
        )
        .expect("local.toml");
        let typo = dir.join("typo.toml");
        std::fs::write(
            &typo,
            local.replace("confirmations = 1", "confirmation = 1"),
        )
        .expect("write");
        let e = DeployConfig::load(&typo).expect_err("typo");
        assert!(e.to_string().contains("confirmation"), "{e}");
        let e = DeployConfig::load(&dir.join("missing.toml")).expect_err("missing");
        assert!(e.to_string().contains("missing.toml"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
