//! The sponsorship service (DESIGN 3.9): ERC-7677 `pm_getPaymasterStubData` and
//! `pm_getPaymasterData` over JSON-RPC at `POST /v1/paymaster`, for the market's
//! `MarketPaymaster` on EntryPoint v0.8.
//!
//! The policy is the paymaster's own, read from the chain so the two can never disagree: the
//! sender must be a registered participant with quota left in the period, and the call must be
//! one the paymaster sponsors (`sponsored(callData)`), and every gas limit and fee must be
//! within the paymaster's caps (`limits()`, the same caps its validation enforces), the max fee
//! also within a multiple of the chain's recent base fee (the highest of the last
//! [`BASE_FEE_WINDOW_BLOCKS`] blocks), and the prefund (gas limits times the
//! max fee) within the per-operation cost cap. Only then does the service sign the operation's
//! hash (`getHash`, computed by the contract) for a validity window starting a minute before the
//! chain's latest block (never in a quota period before the one the sender's usage counts in:
//! periods never go backwards) and lasting `validity` seconds.
//!
//! Refusals are JSON-RPC errors with a reason: -32001 outside policy (not a participant, quota
//! used, a call that is not sponsored, gas or fees over their caps), -32602 invalid params
//! (malformed or truncated fields and callData), -32600 an invalid request (a body over
//! [`MAX_BODY_BYTES`], answered with HTTP 413 and the JSON-RPC error), -32700 a parse error,
//! -32601 another method, -32603 only for failures of the service itself (the chain).

use std::sync::Arc;

use alloy::sol_types::SolCall;
use alloy::{
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    signers::SignerSync,
};
use axum::{
    Json, Router,
    body::Bytes as Body,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use sealgrid_chain::{
    aa::{self, IMarketAccount, OpGas, PaymasterPart, UserOp},
    bindings::paymaster::{IMarketPaymaster::Limits, MarketPaymaster},
};
use sealgrid_keys::KeySigner;
use serde::Deserialize;
use serde_json::{Value, json};

/// Why the sponsorship service could not start.
#[derive(Debug, thiserror::Error)]
pub enum SponsorError {
    /// The paymaster, its signer, its period or the validity do not fit together, or the chain
    /// could not be read.
    #[error("sponsorship: {0}")]
    Config(String),
}

/// Result of the sponsorship service.
pub type SponsorResult<T> = Result<T, SponsorError>;

/// JSON-RPC error code of a policy refusal.
pub const POLICY_REFUSED: i64 = -32001;
/// JSON-RPC error code of invalid params (malformed fields or callData).
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC error code of an invalid request (also a body over [`MAX_BODY_BYTES`]).
pub const INVALID_REQUEST: i64 = -32600;
/// Largest request body the endpoint reads (an ERC-7677 request of a batch of market actions
/// is a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Default bound on maxFeePerGas as a multiple of the chain's recent base fee (plus the
/// operation's priority fee): room for the base fee to rise 12.5% a block for several blocks.
pub const DEFAULT_BASE_FEE_MULTIPLIER: u64 = 3;
/// Blocks over which the service takes the highest base fee as the reference for
/// [`DEFAULT_BASE_FEE_MULTIPLIER`]. A wallet sets its fees from the base fee when it builds the
/// operation; the base fee then falls up to 12.5% a block while the chain is quiet, so against
/// the latest block alone an operation estimated a few blocks earlier (2 x base + priority, as
/// alloy, viem and ethers estimate) would be refused for a fee that was sane when it was set.
pub const BASE_FEE_WINDOW_BLOCKS: u64 = 16;

/// The ERC-7677 sponsorship service of one paymaster.
#[derive(Clone, Debug)]
pub struct Sponsor {
    provider: DynProvider,
    paymaster: Address,
    entry_point: Address,
    chain_id: u64,
    period: u64,
    signer: KeySigner,
    validity: u64,
    limits: Limits,
    base_fee_multiplier: u64,
}

/// A JSON-RPC error.
#[derive(Debug)]
struct RpcError {
    code: i64,
    message: String,
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError {
        code: INVALID_PARAMS,
        message: message.into(),
    }
}

fn refused(message: impl Into<String>) -> RpcError {
    RpcError {
        code: POLICY_REFUSED,
        message: message.into(),
    }
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError {
        code: -32603,
        message: format!("internal error: {e}"),
    }
}

/// A v0.8 user operation as JSON-RPC carries it (unpacked, hex quantities).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RpcUserOp {
    sender: Address,
    nonce: U256,
    #[serde(default)]
    factory: Option<Address>,
    #[serde(default)]
    factory_data: Option<Bytes>,
    call_data: Bytes,
    call_gas_limit: U256,
    verification_gas_limit: U256,
    pre_verification_gas: U256,
    max_fee_per_gas: U256,
    max_priority_fee_per_gas: U256,
    #[serde(default)]
    paymaster_verification_gas_limit: Option<U256>,
    #[serde(default)]
    paymaster_post_op_gas_limit: Option<U256>,
}

fn u128_of(v: U256, field: &str) -> Result<u128, RpcError> {
    u128::try_from(v).map_err(|_| invalid(format!("{field} does not fit 128 bits")))
}

impl Sponsor {
    /// Connects to `rpc` and reads the paymaster's EntryPoint, quota period and signer, which
    /// must be `signer`.
    pub async fn connect(
        rpc: &str,
        paymaster: Address,
        signer: impl Into<KeySigner>,
        validity: u64,
    ) -> SponsorResult<Self> {
        let signer: KeySigner = signer.into();
        let bad = SponsorError::Config;
        let url = rpc.parse().map_err(|e| bad(format!("bad RPC URL: {e}")))?;
        let provider = sealgrid_chain::rpc::connect(url);
        let pm = MarketPaymaster::new(paymaster, &provider);
        let entry_point = pm
            .entryPoint()
            .call()
            .await
            .map_err(|e| bad(format!("no paymaster at {paymaster}: {e}")))?;
        let key = pm.signer().call().await.map_err(|e| bad(e.to_string()))?;
        if key != signer.address() {
            return Err(bad(format!(
                "the paymaster's signer is {key}, the service key is {}",
                signer.address()
            )));
        }
        let period: u64 = pm
            .period()
            .call()
            .await
            .map_err(|e| bad(e.to_string()))?
            .to::<u64>();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| bad(e.to_string()))?;
        if validity == 0 || validity > period {
            return Err(bad(format!(
                "validity {validity} s must be positive and at most the quota period {period} s"
            )));
        }
        let limits = pm
            .limits()
            .call()
            .await
            .map_err(|e| bad(format!("the paymaster's caps: {e}")))?;
        Ok(Self {
            provider,
            paymaster,
            entry_point,
            chain_id,
            period,
            signer,
            validity,
            limits,
            base_fee_multiplier: DEFAULT_BASE_FEE_MULTIPLIER,
        })
    }

    /// Bounds maxFeePerGas to `multiplier` times the chain's recent base fee (the highest of
    /// the last [`BASE_FEE_WINDOW_BLOCKS`] blocks) plus the
    /// operation's priority fee (default [`DEFAULT_BASE_FEE_MULTIPLIER`]; at least 1).
    pub fn with_base_fee_multiplier(mut self, multiplier: u64) -> SponsorResult<Self> {
        if multiplier == 0 {
            return Err(SponsorError::Config(
                "the base fee multiplier must be at least 1".into(),
            ));
        }
        self.base_fee_multiplier = multiplier;
        Ok(self)
    }

    /// The highest base fee of the last [`BASE_FEE_WINDOW_BLOCKS`] blocks and the next one
    /// (`eth_feeHistory`), and at least `latest` (the latest block's).
    async fn recent_base_fee(&self, latest: u128) -> Result<u128, RpcError> {
        let history = self
            .provider
            .get_fee_history(
                BASE_FEE_WINDOW_BLOCKS,
                alloy::eips::BlockNumberOrTag::Latest,
                &[],
            )
            .await
            .map_err(internal)?;
        Ok(history.base_fee_per_gas.into_iter().fold(latest, u128::max))
    }

    /// The paymaster's caps on one operation, which the service applies before signing.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The paymaster address.
    pub fn paymaster(&self) -> Address {
        self.paymaster
    }

    /// The chain it sponsors on.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// `POST /v1/paymaster`: the ERC-7677 JSON-RPC endpoint (bodies up to [`MAX_BODY_BYTES`]).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/paymaster", post(rpc))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self)
    }

    /// Answers one JSON-RPC request.
    pub async fn handle(&self, req: &Value) -> Value {
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let result = match (
            req.get("jsonrpc"),
            req.get("method").and_then(Value::as_str),
        ) {
            (Some(v), Some(m)) if v == "2.0" => {
                let params = req.get("params").and_then(Value::as_array);
                match (m, params) {
                    ("pm_getPaymasterStubData", Some(p)) => self.answer(p, true).await,
                    ("pm_getPaymasterData", Some(p)) => self.answer(p, false).await,
                    ("pm_getPaymasterStubData" | "pm_getPaymasterData", None) => Err(invalid(
                        "params must be [userOp, entryPoint, chainId, context]",
                    )),
                    (other, _) => Err(RpcError {
                        code: -32601,
                        message: format!("method {other} is not served here"),
                    }),
                }
            }
            _ => Err(RpcError {
                code: -32600,
                message: "not a JSON-RPC 2.0 request".into(),
            }),
        };
        match result {
            Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
            Err(e) => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
            }
        }
    }

    async fn answer(&self, params: &[Value], stub: bool) -> Result<Value, RpcError> {
        let [op, ep, chain, ..] = params else {
            return Err(invalid(
                "params must be [userOp, entryPoint, chainId, context]",
            ));
        };
        let op: RpcUserOp =
            serde_json::from_value(op.clone()).map_err(|e| invalid(format!("userOp: {e}")))?;
        let ep: Address =
            serde_json::from_value(ep.clone()).map_err(|e| invalid(format!("entryPoint: {e}")))?;
        if ep != self.entry_point {
            return Err(invalid(format!(
                "entryPoint {ep} is not supported (this paymaster is on {})",
                self.entry_point
            )));
        }
        let chain: U256 =
            serde_json::from_value(chain.clone()).map_err(|e| invalid(format!("chainId: {e}")))?;
        if chain != U256::from(self.chain_id) {
            return Err(invalid(format!(
                "chainId {chain} is not this chain ({})",
                self.chain_id
            )));
        }

        let calls = sponsored_calls(&op.call_data)?;
        let pm_gas = match op.paymaster_verification_gas_limit {
            Some(g) => u128_of(g, "paymasterVerificationGasLimit")?,
            None => u128::from(self.limits.paymasterVerificationGas),
        };
        let post_gas = match op.paymaster_post_op_gas_limit {
            Some(g) => u128_of(g, "paymasterPostOpGasLimit")?,
            None => u128::from(self.limits.paymasterPostOpGas),
        };
        let gas = OpGas {
            verification: u128_of(op.verification_gas_limit, "verificationGasLimit")?,
            call: u128_of(op.call_gas_limit, "callGasLimit")?,
            pre_verification: u128_of(op.pre_verification_gas, "preVerificationGas")?,
        };
        let fees = (
            u128_of(op.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
            u128_of(op.max_fee_per_gas, "maxFeePerGas")?,
        );

        // The window: a minute before the latest block, `validity` seconds long.
        let latest = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("no latest block"))?
            .header;
        let now = latest.timestamp;
        let base_fee = match latest.base_fee_per_gas {
            Some(b) => Some(self.recent_base_fee(u128::from(b)).await?),
            None => None,
        };
        check_limits(
            &self.limits,
            OpLimits {
                gas,
                paymaster: (pm_gas, post_gas),
                fees,
                calls,
            },
            base_fee.map(|b| (b, u128::from(self.base_fee_multiplier))),
        )?;
        let valid_after = self.check_policy(&op, now.saturating_sub(60)).await?;
        let valid_until = now + self.validity;
        let window = [
            &valid_until.to_be_bytes()[2..],
            &valid_after.to_be_bytes()[2..],
        ]
        .concat();
        if stub {
            // A dummy signature of the right length: validation returns "signature failed"
            // without reverting, so bundlers can estimate with it.
            let mut data = window;
            data.extend_from_slice(&[0xffu8; 64]);
            data.push(0x1b);
            return Ok(json!({
                "paymaster": self.paymaster,
                "paymasterData": Bytes::from(data),
                "paymasterVerificationGasLimit": format!("{:#x}", pm_gas),
                "paymasterPostOpGasLimit": format!("{:#x}", post_gas),
                "sponsor": {"name": "sealgrid market"},
                "isFinal": false,
            }));
        }
        let unsigned = UserOp {
            sender: op.sender,
            nonce: op.nonce,
            factory: op
                .factory
                .map(|f| (f, op.factory_data.clone().unwrap_or_default())),
            call_data: op.call_data.clone(),
            gas,
            fees,
            paymaster: Some(PaymasterPart {
                paymaster: self.paymaster,
                verification_gas: pm_gas,
                post_op_gas: post_gas,
                data: Bytes::new(),
            }),
            signature: Bytes::new(),
        };
        let hash = MarketPaymaster::new(self.paymaster, &self.provider)
            .getHash(
                aa::for_paymaster(unsigned.packed()),
                alloy::primitives::aliases::U48::from(valid_until),
                alloy::primitives::aliases::U48::from(valid_after),
            )
            .call()
            .await
            .map_err(internal)?;
        let sig = self
            .signer
            .sign_message_sync(hash.as_slice())
            .map_err(internal)?;
        let mut data = window;
        data.extend_from_slice(&sig.as_bytes());
        Ok(json!({
            "paymaster": self.paymaster,
            "paymasterData": Bytes::from(data),
        }))
    }

    /// The paymaster's policy, read from the chain. Returns the validAfter to sign: `earliest`,
    /// or the start of the period the sender's usage counts in if that is later (the paymaster
    /// refuses an operation of an earlier period).
    async fn check_policy(&self, op: &RpcUserOp, earliest: u64) -> Result<u64, RpcError> {
        let pm = MarketPaymaster::new(self.paymaster, &self.provider);
        let usage = pm.usageOf(op.sender).call().await.map_err(internal)?;
        if usage.quota == 0 {
            return Err(refused(format!(
                "{} is not a registered participant of this market",
                op.sender
            )));
        }
        let valid_after = earliest.max(usage.lastPeriod.to::<u64>().saturating_mul(self.period));
        let period = valid_after / self.period;
        let used = if usage.lastPeriod.to::<u64>() == period {
            usage.used
        } else {
            0
        };
        if used >= usage.quota {
            return Err(refused(format!(
                "{} used its quota of {} sponsored operations in this period",
                op.sender, usage.quota
            )));
        }
        let s = pm
            .sponsored(op.call_data.clone())
            .call()
            .await
            .map_err(|e| {
                if e.as_revert_data().is_some() {
                    invalid(
                        "callData: the paymaster cannot decode it (malformed ABI encoding of the account's call)",
                    )
                } else {
                    internal(e)
                }
            })?;
        if !s.ok {
            return Err(refused(format!(
                "the call to {} (selector {}) is not sponsored: only commit, claim and refund on the auction and retire on the certificates, without value",
                s.target, s.selector
            )));
        }
        Ok(valid_after)
    }
}

/// The number of calls of the account's callData (`execute`: one; `executeBatch`: one per
/// entry), decoded as the account will decode it. Truncated or malformed encodings of either
/// are invalid params; other selectors are left to the paymaster's policy (which refuses them).
fn sponsored_calls(call_data: &[u8]) -> Result<u128, RpcError> {
    let selector = call_data.get(..4);
    if selector == Some(IMarketAccount::executeCall::SELECTOR.as_slice()) {
        IMarketAccount::executeCall::abi_decode_validate(call_data).map_err(|e| {
            invalid(format!(
                "callData is not a well-formed execute(address,uint256,bytes): {e}"
            ))
        })?;
        return Ok(1);
    }
    if selector == Some(IMarketAccount::executeBatchCall::SELECTOR.as_slice()) {
        let batch =
            IMarketAccount::executeBatchCall::abi_decode_validate(call_data).map_err(|e| {
                invalid(format!(
                    "callData is not a well-formed executeBatch((address,uint256,bytes)[]): {e}"
                ))
            })?;
        return Ok(batch.calls.len() as u128);
    }
    Ok(1)
}

/// The gas and fee fields of an operation that the caps bound.
#[derive(Clone, Copy, Debug)]
struct OpLimits {
    gas: OpGas,
    /// (paymasterVerificationGasLimit, paymasterPostOpGasLimit).
    paymaster: (u128, u128),
    /// (maxPriorityFeePerGas, maxFeePerGas).
    fees: (u128, u128),
    calls: u128,
}

/// The paymaster's caps (`IMarketPaymaster.Limits`, as its validation applies them), and
/// maxFeePerGas at most `multiplier` times the chain's `base` fee plus the operation's
/// priority fee (`base_fee`: `None` on a chain without one).
fn check_limits(l: &Limits, op: OpLimits, base_fee: Option<(u128, u128)>) -> Result<(), RpcError> {
    let over = |what: &str, value: u128, cap: u128| -> Result<(), RpcError> {
        if value > cap {
            Err(refused(format!(
                "{what} {value} is over this paymaster's cap of {cap}"
            )))
        } else {
            Ok(())
        }
    };
    let max_calls = u128::from(l.maxCalls);
    if op.calls > max_calls {
        return Err(refused(format!(
            "{} calls in one operation: at most {max_calls} are sponsored",
            op.calls
        )));
    }
    over(
        "verificationGasLimit",
        op.gas.verification,
        u128::from(l.verificationGas),
    )?;
    over(
        "callGasLimit",
        op.gas.call,
        u128::from(l.callGasPerCall) * op.calls.max(1),
    )?;
    over(
        "preVerificationGas",
        op.gas.pre_verification,
        u128::from(l.preVerificationGas),
    )?;
    over(
        "paymasterVerificationGasLimit",
        op.paymaster.0,
        u128::from(l.paymasterVerificationGas),
    )?;
    over(
        "paymasterPostOpGasLimit",
        op.paymaster.1,
        u128::from(l.paymasterPostOpGas),
    )?;
    let (priority, max_fee) = op.fees;
    over("maxFeePerGas", max_fee, l.maxFeePerGas)?;
    over("maxPriorityFeePerGas", priority, l.maxPriorityFeePerGas)?;
    if let Some((base, multiplier)) = base_fee {
        let bound = base.saturating_mul(multiplier).saturating_add(priority);
        if max_fee > bound {
            return Err(refused(format!(
                "maxFeePerGas {max_fee} is over {multiplier} x the chain's recent base fee {base} (the highest of the last {BASE_FEE_WINDOW_BLOCKS} blocks) plus the priority fee {priority} ({bound})"
            )));
        }
    }
    // Within the caps the sum is below 2^65 (the call cap is two u32 values multiplied); the
    // product saturates rather than wrap (and is then over any cap).
    let prefund = (op.gas.verification
        + op.gas.call
        + op.gas.pre_verification
        + op.paymaster.0
        + op.paymaster.1)
        .saturating_mul(max_fee);
    if prefund > l.maxCost {
        return Err(refused(format!(
            "the operation's prefund (gas limits x maxFeePerGas) {prefund} wei is over this paymaster's cap of {} wei per operation",
            l.maxCost
        )));
    }
    Ok(())
}

async fn rpc(State(s): State<Arc<Sponsor>>, body: Result<Body, BytesRejection>) -> Response {
    let error = |code: i64, message: String| json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(error(
                    INVALID_REQUEST,
                    format!("request body over {MAX_BODY_BYTES} bytes"),
                )),
            )
                .into_response();
        }
        Err(r) => {
            return Json(error(INVALID_REQUEST, r.body_text())).into_response();
        }
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(req) => Json(s.handle(&req).await).into_response(),
        Err(e) => Json(error(-32700, format!("parse error: {e}"))).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Address;

    fn limits() -> Limits {
        Limits {
            verificationGas: 250_000,
            callGasPerCall: 200_000,
            maxCalls: 8,
            preVerificationGas: 100_000,
            paymasterVerificationGas: 60_000,
            paymasterPostOpGas: 0,
            maxFeePerGas: 100_000_000_000,
            maxPriorityFeePerGas: 5_000_000_000,
            maxCost: 50_000_000_000_000_000,
        }
    }

    fn op() -> OpLimits {
        OpLimits {
            gas: OpGas {
                verification: 100_000,
                call: 150_000,
                pre_verification: 60_000,
            },
            paymaster: (60_000, 0),
            fees: (1_000_000_000, 3_000_000_000),
            calls: 1,
        }
    }

    fn refusal(r: Result<(), RpcError>, needle: &str) {
        match r {
            Err(e) => {
                assert_eq!(e.code, POLICY_REFUSED, "{}", e.message);
                assert!(
                    e.message.contains(needle),
                    "{} should name {needle}",
                    e.message
                );
            }
            Ok(()) => panic!("expected a refusal naming {needle}"),
        }
    }

    const BASE: Option<(u128, u128)> = Some((1_000_000_000, 3));

    #[test]
    fn every_gas_field_and_fee_is_capped() {
        let l = limits();
        assert!(check_limits(&l, op(), BASE).is_ok());
        // What the old service signed: 5M of every gas field and a max fee of 10^15 wei.
        let mut o = op();
        o.gas = OpGas {
            verification: 5_000_000,
            call: 5_000_000,
            pre_verification: 5_000_000,
        };
        o.fees.1 = 1_000_000_000_000_000;
        refusal(check_limits(&l, o, BASE), "verificationGasLimit");
        type Set = fn(&mut OpLimits);
        let cases: [(&str, Set); 7] = [
            ("verificationGasLimit", |o| o.gas.verification = 250_001),
            ("callGasLimit", |o| o.gas.call = 200_001),
            ("preVerificationGas", |o| o.gas.pre_verification = 100_001),
            ("paymasterVerificationGasLimit", |o| o.paymaster.0 = 60_001),
            ("paymasterPostOpGasLimit", |o| o.paymaster.1 = 1),
            ("maxPriorityFeePerGas", |o| o.fees.0 = 5_000_000_001),
            ("maxFeePerGas", |o| o.fees.1 = 100_000_000_001),
        ];
        for (field, set) in cases {
            let mut o = op();
            set(&mut o);
            refusal(check_limits(&l, o, None), field);
        }
        // The paymaster's own limits at 2^128 - 1 (the old default) are refused too.
        let mut o = op();
        o.paymaster = (u128::MAX, u128::MAX);
        refusal(check_limits(&l, o, None), "paymasterVerificationGasLimit");
    }

    #[test]
    fn call_gas_scales_with_the_calls_up_to_the_most() {
        let l = limits();
        let mut o = op();
        o.calls = 3;
        o.gas.call = 600_000;
        assert!(check_limits(&l, o, BASE).is_ok());
        o.gas.call = 600_001;
        refusal(check_limits(&l, o, BASE), "callGasLimit");
        o.calls = 9;
        o.gas.call = 100_000;
        refusal(check_limits(&l, o, BASE), "at most 8");
    }

    #[test]
    fn max_fee_follows_the_chains_base_fee_and_the_prefund_is_capped() {
        let l = limits();
        let mut o = op();
        // 3 x 1 gwei + 1 gwei priority = 4 gwei.
        o.fees.1 = 4_000_000_000;
        assert!(check_limits(&l, o, BASE).is_ok());
        o.fees.1 = 4_000_000_001;
        refusal(check_limits(&l, o, BASE), "base fee");
        // Without a base fee only the caps apply.
        assert!(check_limits(&l, o, None).is_ok());
        // Every gas field at its cap at the fee cap: 610k x 100 gwei = 0.061 ETH > 0.05 ETH.
        let o = OpLimits {
            gas: OpGas {
                verification: 250_000,
                call: 200_000,
                pre_verification: 100_000,
            },
            paymaster: (60_000, 0),
            fees: (5_000_000_000, 100_000_000_000),
            calls: 1,
        };
        refusal(check_limits(&l, o, None), "prefund");
    }

    #[test]
    fn truncated_call_data_is_invalid_params_not_an_internal_error() {
        let full = aa::execute(Address::repeat_byte(3), vec![1, 2, 3, 4, 5]);
        assert_eq!(sponsored_calls(&full).ok(), Some(1));
        // Cut inside the selector's arguments, the offset, the length and the inner call's
        // bytes (its last 27 bytes are padding, which neither decoder requires).
        for cut in [5, 36, 68, 100, 132, full.len() - 28] {
            match sponsored_calls(&full[..cut]) {
                Err(e) => {
                    assert_eq!(e.code, INVALID_PARAMS, "{}", e.message);
                    assert!(
                        e.message.contains("execute(address,uint256,bytes)"),
                        "{}",
                        e.message
                    );
                }
                Ok(n) => panic!("callData cut at {cut} accepted as {n} calls"),
            }
        }
        let batch = aa::execute_all(vec![
            (Address::repeat_byte(3), vec![1].into()),
            (Address::repeat_byte(3), vec![2].into()),
        ]);
        assert_eq!(sponsored_calls(&batch).ok(), Some(2));
        match sponsored_calls(&batch[..batch.len() - 33]) {
            Err(e) => assert_eq!(e.code, INVALID_PARAMS),
            Ok(n) => panic!("a truncated batch accepted as {n} calls"),
        }
        // Another selector is the policy's to refuse (not a decoding question).
        assert_eq!(sponsored_calls(&[0xde, 0xad, 0xbe, 0xef]).ok(), Some(1));
    }
}
