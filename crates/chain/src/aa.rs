//! ERC-4337 v0.8 user operations of the market's smart accounts (`MarketAccount`, SimpleAccount
//! v0.8 with ERC-1271): the account's calls (`execute`, `executeBatch`), its counterfactual
//! address, the operation in both shapes (JSON-RPC unpacked for bundlers and ERC-7677 services,
//! packed for the EntryPoint), the owner's signature over the EntryPoint's hash, and `handleOps`
//! with the EntryPoint's per-operation outcome (DESIGN 3.9).

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::DynProvider,
    rpc::types::TransactionReceipt,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use serde_json::{Value, json};

use crate::{
    ChainError, ChainResult,
    bindings::entry_point::{IEntryPoint, PackedUserOperation},
};

alloy::sol! {
    /// The MarketAccount (SimpleAccount v0.8) calls.
    #[sol(rpc)]
    interface IMarketAccount {
        struct Call {
            address target;
            uint256 value;
            bytes data;
        }
        function execute(address target, uint256 value, bytes calldata data) external;
        function executeBatch(Call[] calldata calls) external;
    }

    /// The MarketAccount factory.
    #[sol(rpc)]
    interface IMarketAccountFactory {
        function createAccount(address owner, uint256 salt) external returns (address);
        function getAddress(address owner, uint256 salt) external view returns (address);
    }
}

/// The account's callData for one call without value.
pub fn execute(target: Address, data: impl Into<Bytes>) -> Bytes {
    IMarketAccount::executeCall {
        target,
        value: U256::ZERO,
        data: data.into(),
    }
    .abi_encode()
    .into()
}

/// The account's callData for calls without value, in order (one call: `execute`).
pub fn execute_all(calls: Vec<(Address, Bytes)>) -> Bytes {
    if let [(target, data)] = calls.as_slice() {
        return execute(*target, data.clone());
    }
    IMarketAccount::executeBatchCall {
        calls: calls
            .into_iter()
            .map(|(target, data)| IMarketAccount::Call {
                target,
                value: U256::ZERO,
                data,
            })
            .collect(),
    }
    .abi_encode()
    .into()
}

/// The factory's `createAccount(owner, salt)` call (the operation's factoryData).
pub fn factory_data(owner: Address, salt: U256) -> Bytes {
    IMarketAccountFactory::createAccountCall { owner, salt }
        .abi_encode()
        .into()
}

/// The counterfactual address of `owner`'s account with `salt`.
pub async fn account_address(
    provider: &DynProvider,
    factory: Address,
    owner: Address,
    salt: U256,
) -> ChainResult<Address> {
    IMarketAccountFactory::new(factory, provider)
        .getAddress(owner, salt)
        .call()
        .await
        .map_err(ChainError::from)
}

/// Gas limits of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpGas {
    /// The account's validation (and deployment, with a factory).
    pub verification: u128,
    /// The account's call.
    pub call: u128,
    /// Pre-verification gas (the bundler's overhead).
    pub pre_verification: u128,
}

/// The paymaster part of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymasterPart {
    /// The paymaster.
    pub paymaster: Address,
    /// Gas of its validation.
    pub verification_gas: u128,
    /// Gas of its postOp.
    pub post_op_gas: u128,
    /// Its data (for the market paymaster: validUntil | validAfter | signature).
    pub data: Bytes,
}

/// A v0.8 user operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserOp {
    /// The account.
    pub sender: Address,
    /// The EntryPoint nonce (192-bit key | 64-bit sequence).
    pub nonce: U256,
    /// The factory and its data while the account is not deployed.
    pub factory: Option<(Address, Bytes)>,
    /// The account's call.
    pub call_data: Bytes,
    /// Gas limits.
    pub gas: OpGas,
    /// Fees: (max priority fee, max fee) per gas.
    pub fees: (u128, u128),
    /// The paymaster, if one pays.
    pub paymaster: Option<PaymasterPart>,
    /// The account owner's signature.
    pub signature: Bytes,
}

fn quantity(v: impl std::fmt::LowerHex) -> Value {
    json!(format!("{v:#x}"))
}

fn hi_lo(hi: u128, lo: u128) -> B256 {
    B256::from((U256::from(hi) << 128) | U256::from(lo))
}

impl UserOp {
    /// The operation as JSON-RPC carries it (ERC-4337 v0.7+ unpacked form).
    pub fn to_rpc(&self) -> Value {
        let mut op = json!({
            "sender": self.sender,
            "nonce": quantity(self.nonce),
            "callData": self.call_data,
            "callGasLimit": quantity(self.gas.call),
            "verificationGasLimit": quantity(self.gas.verification),
            "preVerificationGas": quantity(self.gas.pre_verification),
            "maxFeePerGas": quantity(self.fees.1),
            "maxPriorityFeePerGas": quantity(self.fees.0),
            "signature": self.signature,
        });
        if let Some((factory, data)) = &self.factory {
            op["factory"] = json!(factory);
            op["factoryData"] = json!(data);
        }
        if let Some(p) = &self.paymaster {
            op["paymaster"] = json!(p.paymaster);
            op["paymasterVerificationGasLimit"] = quantity(p.verification_gas);
            op["paymasterPostOpGasLimit"] = quantity(p.post_op_gas);
            op["paymasterData"] = json!(p.data);
        }
        op
    }

    /// The packed form the EntryPoint takes.
    pub fn packed(&self) -> PackedUserOperation {
        PackedUserOperation {
            sender: self.sender,
            nonce: self.nonce,
            initCode: self
                .factory
                .as_ref()
                .map(|(f, d)| [f.as_slice(), d].concat().into())
                .unwrap_or_default(),
            callData: self.call_data.clone(),
            accountGasLimits: hi_lo(self.gas.verification, self.gas.call),
            preVerificationGas: U256::from(self.gas.pre_verification),
            gasFees: hi_lo(self.fees.0, self.fees.1),
            paymasterAndData: self
                .paymaster
                .as_ref()
                .map(|p| {
                    [
                        p.paymaster.as_slice(),
                        &p.verification_gas.to_be_bytes(),
                        &p.post_op_gas.to_be_bytes(),
                        &p.data,
                    ]
                    .concat()
                    .into()
                })
                .unwrap_or_default(),
            signature: self.signature.clone(),
        }
    }

    /// Signs the operation with the account owner's key: an ECDSA signature over the
    /// EntryPoint's `getUserOpHash` (EIP-712 in v0.8), as SimpleAccount checks it. Returns the
    /// hash.
    pub async fn sign(
        &mut self,
        provider: &DynProvider,
        entry_point: Address,
        owner: &PrivateKeySigner,
    ) -> ChainResult<B256> {
        let hash = IEntryPoint::new(entry_point, provider)
            .getUserOpHash(self.packed())
            .call()
            .await?;
        let sig = owner
            .sign_hash_sync(&hash)
            .map_err(|e| ChainError::Submit(format!("signing a user operation: {e}")))?;
        self.signature = sig.as_bytes().to_vec().into();
        Ok(hash)
    }
}

/// The same packed operation as the market paymaster's binding names it (for `getHash`).
pub fn for_paymaster(
    p: PackedUserOperation,
) -> crate::bindings::paymaster::MarketPaymaster::PackedUserOperation {
    crate::bindings::paymaster::MarketPaymaster::PackedUserOperation {
        sender: p.sender,
        nonce: p.nonce,
        initCode: p.initCode,
        callData: p.callData,
        accountGasLimits: p.accountGasLimits,
        preVerificationGas: p.preVerificationGas,
        gasFees: p.gasFees,
        paymasterAndData: p.paymasterAndData,
        signature: p.signature,
    }
}

/// The EntryPoint's account of one operation (`UserOperationEvent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpOutcome {
    /// The operation's hash.
    pub hash: B256,
    /// The account.
    pub sender: Address,
    /// Who paid: the paymaster, or zero when the account paid.
    pub paymaster: Address,
    /// Whether the account's call succeeded.
    pub success: bool,
    /// Wei charged (to the paymaster's deposit, or the account's).
    pub gas_cost: U256,
    /// Gas charged.
    pub gas_used: U256,
}

/// Gas limit of a `handleOps` transaction for `ops`: every limit the operations name, and
/// room for the EntryPoint's own work.
fn bundle_gas(ops: &[PackedUserOperation]) -> u64 {
    let lo = |w: &B256| u128::from_be_bytes(w[16..].try_into().unwrap_or([0; 16]));
    let hi = |w: &B256| u128::from_be_bytes(w[..16].try_into().unwrap_or([0; 16]));
    let total: u128 = ops
        .iter()
        .map(|op| {
            let pm = op.paymasterAndData.get(20..52).map_or(0, |g| {
                let w = B256::from_slice(g);
                hi(&w) + lo(&w)
            });
            hi(&op.accountGasLimits)
                + lo(&op.accountGasLimits)
                + u128::try_from(op.preVerificationGas).unwrap_or(u128::MAX / 4)
                + pm
        })
        .fold(100_000u128, u128::saturating_add);
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// Sends `ops` in one `handleOps` from the bundler account `from` (which receives the fees)
/// and returns the receipt and every operation's outcome. The bundle is simulated first: a
/// validation failure is refused with the EntryPoint's reason (`FailedOp`, e.g. AA33 / AA34)
/// and nothing is sent.
pub async fn handle_ops(
    bundler: &DynProvider,
    from: Address,
    entry_point: Address,
    ops: Vec<PackedUserOperation>,
) -> ChainResult<(TransactionReceipt, Vec<OpOutcome>)> {
    let n = ops.len();
    let what = format!("handleOps of {n} user operations");
    let gas = bundle_gas(&ops);
    let ep = IEntryPoint::new(entry_point, bundler);
    let call = ep.handleOps(ops, from).from(from).gas(gas);
    if let Err(e) = call.call().await {
        let reason = match e.as_decoded_interface_error::<IEntryPoint::IEntryPointErrors>() {
            Some(IEntryPoint::IEntryPointErrors::FailedOp(f)) => {
                format!("operation {}: {}", f.opIndex, f.reason)
            }
            Some(IEntryPoint::IEntryPointErrors::FailedOpWithRevert(f)) => {
                format!("operation {}: {} ({})", f.opIndex, f.reason, f.inner)
            }
            None => e.to_string(),
        };
        return Err(ChainError::Revert { what, reason });
    }
    let receipt = call
        .send()
        .await?
        .get_receipt()
        .await
        .map_err(|e| ChainError::Submit(format!("{what}: {e}")))?;
    if !receipt.status() {
        return Err(ChainError::Reverted {
            what,
            tx: receipt.transaction_hash,
        });
    }
    let outcomes: Vec<OpOutcome> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<IEntryPoint::UserOperationEvent>().ok())
        .map(|l| {
            let e = l.inner.data;
            OpOutcome {
                hash: e.userOpHash,
                sender: e.sender,
                paymaster: e.paymaster,
                success: e.success,
                gas_cost: e.actualGasCost,
                gas_used: e.actualGasUsed,
            }
        })
        .collect();
    if outcomes.len() != n {
        return Err(ChainError::Submit(format!(
            "{what} reported {} outcomes in {}",
            outcomes.len(),
            receipt.transaction_hash
        )));
    }
    Ok((receipt, outcomes))
}

/// The EntryPoint nonce of `sender` for key 0.
pub async fn nonce(
    provider: &DynProvider,
    entry_point: Address,
    sender: Address,
) -> ChainResult<U256> {
    Ok(IEntryPoint::new(entry_point, provider)
        .getNonce(sender, alloy::primitives::aliases::U192::ZERO)
        .call()
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> UserOp {
        UserOp {
            sender: Address::repeat_byte(1),
            nonce: U256::from(5),
            factory: Some((Address::repeat_byte(2), Bytes::from(vec![9, 9]))),
            call_data: execute(Address::repeat_byte(3), vec![1, 2, 3, 4]),
            gas: OpGas {
                verification: 7,
                call: 8,
                pre_verification: 9,
            },
            fees: (10, 11),
            paymaster: Some(PaymasterPart {
                paymaster: Address::repeat_byte(4),
                verification_gas: 12,
                post_op_gas: 13,
                data: Bytes::from(vec![0xaa]),
            }),
            signature: Bytes::from(vec![0xbb]),
        }
    }

    #[test]
    fn packs_as_the_entry_point_reads_it() {
        let p = op().packed();
        assert_eq!(p.initCode.len(), 22);
        assert_eq!(&p.initCode[..20], Address::repeat_byte(2).as_slice());
        assert_eq!(
            U256::from_be_bytes(p.accountGasLimits.0) >> 128,
            U256::from(7)
        );
        assert_eq!(
            U256::from_be_bytes(p.accountGasLimits.0) & U256::from(u128::MAX),
            U256::from(8)
        );
        assert_eq!(U256::from_be_bytes(p.gasFees.0) >> 128, U256::from(10));
        // paymaster (20) | validation gas (16) | postOp gas (16) | data
        assert_eq!(p.paymasterAndData.len(), 20 + 16 + 16 + 1);
        assert_eq!(p.paymasterAndData[35], 12);
        assert_eq!(p.paymasterAndData[51], 13);
        assert_eq!(p.paymasterAndData[52], 0xaa);
        let bare = UserOp {
            factory: None,
            paymaster: None,
            ..op()
        }
        .packed();
        assert!(bare.initCode.is_empty() && bare.paymasterAndData.is_empty());
    }

    #[test]
    fn rpc_form_names_every_field() {
        let v = op().to_rpc();
        assert_eq!(v["nonce"], "0x5");
        assert_eq!(v["paymasterVerificationGasLimit"], "0xc");
        assert_eq!(v["factoryData"], "0x0909");
        assert_eq!(v["maxFeePerGas"], "0xb");
        assert_eq!(v["maxPriorityFeePerGas"], "0xa");
    }

    #[test]
    fn one_call_is_execute_more_are_a_batch() {
        let one = execute_all(vec![(Address::repeat_byte(3), Bytes::from(vec![1]))]);
        assert_eq!(&one[..4], IMarketAccount::executeCall::SELECTOR.as_slice());
        let two = execute_all(vec![
            (Address::repeat_byte(3), Bytes::from(vec![1])),
            (Address::repeat_byte(3), Bytes::from(vec![2])),
        ]);
        assert_eq!(
            &two[..4],
            IMarketAccount::executeBatchCall::SELECTOR.as_slice()
        );
        let decoded = IMarketAccount::executeBatchCall::abi_decode(&two).expect("decode");
        assert_eq!(decoded.calls.len(), 2);
    }
}
