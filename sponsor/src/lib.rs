//! The sponsorship service (DESIGN 3.9): ERC-7677 `pm_getPaymasterStubData` and
//! `pm_getPaymasterData` over JSON-RPC at `POST /v1/paymaster`, for the market's
//! `MarketPaymaster` on EntryPoint v0.8.
//!
//! The policy is the paymaster's own, read from the chain so the two can never disagree: the
//! sender must be a registered participant with quota left in the period, and the call must be
//! one the paymaster sponsors (`sponsored(callData)`). Only then does the service sign the
//! operation's hash (`getHash`, computed by the contract) for a validity window starting a
//! minute before the chain's latest block and lasting `validity` seconds. Refusals are JSON-RPC
//! errors with a reason.

use std::sync::Arc;

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::{SignerSync, local::PrivateKeySigner},
};
use axum::{Json, Router, body::Bytes as Body, extract::State, routing::post};
use sealgrid_chain::{
    aa::{self, OpGas, PaymasterPart, UserOp},
    bindings::paymaster::MarketPaymaster,
};
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

/// Gas the paymaster's validation may use (measured about 18k; bundlers estimate from it).
pub const PAYMASTER_VERIFICATION_GAS: u128 = 60_000;
/// JSON-RPC error code of a policy refusal.
pub const POLICY_REFUSED: i64 = -32001;

/// The ERC-7677 sponsorship service of one paymaster.
#[derive(Clone, Debug)]
pub struct Sponsor {
    provider: DynProvider,
    paymaster: Address,
    entry_point: Address,
    chain_id: u64,
    period: u64,
    signer: PrivateKeySigner,
    validity: u64,
}

/// A JSON-RPC error.
#[derive(Debug)]
struct RpcError {
    code: i64,
    message: String,
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError {
        code: -32602,
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
        signer: PrivateKeySigner,
        validity: u64,
    ) -> SponsorResult<Self> {
        let bad = SponsorError::Config;
        let url = rpc.parse().map_err(|e| bad(format!("bad RPC URL: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
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
        Ok(Self {
            provider,
            paymaster,
            entry_point,
            chain_id,
            period,
            signer,
            validity,
        })
    }

    /// The paymaster address.
    pub fn paymaster(&self) -> Address {
        self.paymaster
    }

    /// The chain it sponsors on.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// `POST /v1/paymaster`: the ERC-7677 JSON-RPC endpoint.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/paymaster", post(rpc))
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

        // The window: a minute before the latest block, `validity` seconds long.
        let now = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("no latest block"))?
            .header
            .timestamp;
        let valid_after = now.saturating_sub(60);
        let valid_until = now + self.validity;
        self.check_policy(&op, valid_after).await?;

        let pm_gas = match op.paymaster_verification_gas_limit {
            Some(g) => u128_of(g, "paymasterVerificationGasLimit")?,
            None => PAYMASTER_VERIFICATION_GAS,
        };
        let post_gas = match op.paymaster_post_op_gas_limit {
            Some(g) => u128_of(g, "paymasterPostOpGasLimit")?,
            None => 0,
        };
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
            gas: OpGas {
                verification: u128_of(op.verification_gas_limit, "verificationGasLimit")?,
                call: u128_of(op.call_gas_limit, "callGasLimit")?,
                pre_verification: u128_of(op.pre_verification_gas, "preVerificationGas")?,
            },
            fees: (
                u128_of(op.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
                u128_of(op.max_fee_per_gas, "maxFeePerGas")?,
            ),
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

    /// The paymaster's policy, read from the chain.
    async fn check_policy(&self, op: &RpcUserOp, valid_after: u64) -> Result<(), RpcError> {
        let pm = MarketPaymaster::new(self.paymaster, &self.provider);
        let usage = pm.usageOf(op.sender).call().await.map_err(internal)?;
        if usage.quota == 0 {
            return Err(refused(format!(
                "{} is not a registered participant of this market",
                op.sender
            )));
        }
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
            .map_err(internal)?;
        if !s.ok {
            return Err(refused(format!(
                "the call to {} (selector {}) is not sponsored: only commit, claim and refund on the auction and retire on the certificates, without value",
                s.target, s.selector
            )));
        }
        Ok(())
    }
}

async fn rpc(State(s): State<Arc<Sponsor>>, body: Body) -> Json<Value> {
    match serde_json::from_slice::<Value>(&body) {
        Ok(req) => Json(s.handle(&req).await),
        Err(e) => Json(json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32700, "message": format!("parse error: {e}")},
        })),
    }
}
