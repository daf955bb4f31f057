//! ERC-4337 fixtures shared by the sponsorship and bundler tests: EntryPoint v0.8 (from forge's
//! artifacts, or at its canonical address through the CREATE2 deployer), the MarketAccount
//! factory, the market paymaster (funded and staked), a counterfactual account registered as a
//! participant with lock money in the auction, and user operations in both shapes (JSON-RPC
//! unpacked, packed).

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolValue},
};
use sealgrid_chain::aa::{self, OpGas, PaymasterPart, UserOp};
use sealgrid_chain::bindings::{
    IERC20,
    entry_point::PackedUserOperation,
    paymaster::{IMarketPaymaster::Limits, MarketPaymaster},
};
use sealgrid_deploy::{CANONICAL_ENTRY_POINT, DeployConfig, ensure_entry_point};
use sealgrid_devkit::harness::{Net, root, signer};
use serde_json::Value;

alloy::sol! {
    function commit(bytes32 market, uint64 interval, bytes32 commitment, uint128 lock) returns (uint32);
    function addStake(uint32 unstakeDelaySec) payable;
    function deposit() payable;
}

/// Gas limits of the test operations: verification, call, pre-verification, paymaster validation
/// (within the caps of deploy/config/local.toml: a deployment needs about 182k of verification
/// gas, the first commit of an interval about 111k of call gas).
pub(crate) const GAS: (u128, u128, u128, u128) = (240_000, 200_000, 100_000, 60_000);

/// The paymaster caps of deploy/config/local.toml (`[accounts.limits]`), as the contract takes them.
pub(crate) fn config_limits() -> Limits {
    let cfg = DeployConfig::load(&root().join("deploy/config/local.toml")).expect("local.toml");
    let l = cfg.accounts.expect("[accounts]").limits;
    Limits {
        verificationGas: l.verification_gas,
        callGasPerCall: l.call_gas_per_call,
        maxCalls: l.max_calls,
        preVerificationGas: l.pre_verification_gas,
        paymasterVerificationGas: l.paymaster_verification_gas,
        paymasterPostOpGas: l.paymaster_post_op_gas,
        maxFeePerGas: l.max_fee_per_gas_wei,
        maxPriorityFeePerGas: l.max_priority_fee_per_gas_wei,
        maxCost: l.max_cost_wei,
    }
}

fn artifact_code(path: &std::path::Path, pointer: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run forge build / scripts/setup.sh)",
            path.display()
        )
    });
    let v: Value = serde_json::from_str(&text).expect("artifact");
    let hex = v
        .pointer(pointer)
        .and_then(Value::as_str)
        .expect("bytecode");
    alloy::primitives::hex::decode(hex).expect("hex")
}

/// Creation code of a contract forge built.
pub(crate) fn creation_code(contract: &str) -> Vec<u8> {
    artifact_code(
        &root().join(format!("out/{contract}.sol/{contract}.json")),
        "/bytecode/object",
    )
}

pub(crate) async fn deploy(net: &Net, code: Vec<u8>) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(code);
    let r = net
        .wallet(0)
        .send_transaction(tx)
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(r.status(), "deployment reverted");
    r.contract_address.expect("address")
}

pub(crate) async fn send(net: &Net, to: Address, data: Vec<u8>, value: U256) {
    let tx = TransactionRequest::default()
        .to(to)
        .input(data.into())
        .value(value);
    let r = net
        .wallet(0)
        .send_transaction(tx)
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(r.status(), "transaction to {to} reverted");
}

/// EntryPoint v0.8 at its canonical address (what bundlers expect), deployed as `sealgrid
/// deploy` does on local networks.
pub(crate) async fn canonical_entry_point(net: &Net) -> Address {
    ensure_entry_point(&root(), &net.wallet(0), CANONICAL_ENTRY_POINT, &mut |_| {})
        .await
        .expect("EntryPoint at its canonical address");
    CANONICAL_ENTRY_POINT
}

/// The smart-account side of a test.
pub(crate) struct Accounts {
    pub(crate) entry_point: Address,
    pub(crate) factory: Address,
    pub(crate) paymaster: Address,
    pub(crate) sponsor: PrivateKeySigner,
    pub(crate) owner: PrivateKeySigner,
    /// The counterfactual SimpleAccount of `owner` (salt 0), registered with the paymaster.
    pub(crate) account: Address,
}

/// Deploys the factory and the paymaster on `entry_point` (owned by dev key 0, with the caps of
/// deploy/config/local.toml, 10 ETH deposit, 1 ETH stake), registers the owner's counterfactual
/// account with `quota` operations per day and deposits 10 tokens of lock money for it in the
/// auction.
pub(crate) async fn accounts(net: &Net, entry_point: Address, quota: u32) -> Accounts {
    let sponsor = PrivateKeySigner::from_bytes(&keccak256("sealgrid/test/sponsor")).expect("key");
    let owner =
        PrivateKeySigner::from_bytes(&keccak256("sealgrid/test/account-owner")).expect("key");
    let factory = deploy(
        net,
        [
            creation_code("MarketAccountFactory"),
            entry_point.abi_encode(),
        ]
        .concat(),
    )
    .await;
    let args = (
        entry_point,
        signer(0).address(),
        Address::ZERO,
        sponsor.address(),
        net.net.auction,
        net.net.delivery.certificates,
        alloy::primitives::aliases::U48::from(86_400u64),
        0u32,
        config_limits(),
    )
        .abi_encode_params();
    let paymaster = deploy(net, [creation_code("MarketPaymaster"), args].concat()).await;
    send(
        net,
        paymaster,
        depositCall {}.abi_encode(),
        U256::from(10u128.pow(19)),
    )
    .await;
    send(
        net,
        paymaster,
        addStakeCall {
            unstakeDelaySec: 86_400,
        }
        .abi_encode(),
        U256::from(10u128.pow(18)),
    )
    .await;
    let account = aa::account_address(&net.net.provider, factory, owner.address(), U256::ZERO)
        .await
        .expect("getAddress");
    MarketPaymaster::new(paymaster, net.wallet(0))
        .setParticipants(vec![account], quota)
        .send()
        .await
        .expect("register")
        .get_receipt()
        .await
        .expect("mined");
    let token = net.net.token;
    IERC20::new(token, net.wallet(1))
        .approve(net.net.auction, U256::MAX)
        .send()
        .await
        .expect("approve")
        .get_receipt()
        .await
        .expect("mined");
    net.auction(1)
        .deposit(token, account, U256::from(10_000_000u64))
        .send()
        .await
        .expect("deposit")
        .get_receipt()
        .await
        .expect("mined");
    Accounts {
        entry_point,
        factory,
        paymaster,
        sponsor,
        owner,
        account,
    }
}

impl Accounts {
    /// The account's callData for a commit of `commitment` (1 token lock) to `interval`.
    pub(crate) fn commit_call(&self, net: &Net, interval: u64, commitment: u64) -> Vec<u8> {
        self.commit_bytes32(net, interval, B256::from(U256::from(commitment)), 1_000_000)
    }

    /// The account's callData for a commit of `commitment` with `lock` to `interval`.
    pub(crate) fn commit_bytes32(
        &self,
        net: &Net,
        interval: u64,
        commitment: B256,
        lock: u128,
    ) -> Vec<u8> {
        let inner = commitCall {
            market: net.market,
            interval,
            commitment,
            lock,
        }
        .abi_encode();
        aa::execute(net.net.auction, inner).to_vec()
    }

    /// The account's callData for a call the market does not sponsor (token approve).
    pub(crate) fn approve_call(&self, net: &Net) -> Vec<u8> {
        aa::execute(
            net.net.token,
            IERC20::approveCall {
                spender: self.account,
                amount: U256::from(1),
            }
            .abi_encode(),
        )
        .to_vec()
    }

    /// The operation (library form), with the factory while the account is undeployed and
    /// the market paymaster when `paymaster_data` is given; unsigned.
    fn user_op(
        &self,
        nonce: u64,
        deployed: bool,
        call_data: &[u8],
        fees: (u128, u128),
        paymaster_data: Option<&[u8]>,
    ) -> UserOp {
        UserOp {
            sender: self.account,
            nonce: U256::from(nonce),
            factory: (!deployed).then(|| {
                (
                    self.factory,
                    aa::factory_data(self.owner.address(), U256::ZERO),
                )
            }),
            call_data: Bytes::copy_from_slice(call_data),
            gas: OpGas {
                verification: GAS.0,
                call: GAS.1,
                pre_verification: GAS.2,
            },
            fees,
            paymaster: paymaster_data.map(|d| PaymasterPart {
                paymaster: self.paymaster,
                verification_gas: GAS.3,
                post_op_gas: 0,
                data: Bytes::copy_from_slice(d),
            }),
            signature: Bytes::new(),
        }
    }

    /// The operation as JSON-RPC carries it (with the factory while the account is undeployed),
    /// before any paymaster fields and signature.
    pub(crate) fn rpc_op(
        &self,
        nonce: u64,
        deployed: bool,
        call_data: &[u8],
        fees: (u128, u128),
    ) -> Value {
        self.user_op(nonce, deployed, call_data, fees, None)
            .to_rpc()
    }

    /// The packed form of an operation with `paymaster_data` (the paymaster's part after the
    /// gas limits), unsigned.
    pub(crate) fn packed(
        &self,
        nonce: u64,
        deployed: bool,
        call_data: &[u8],
        fees: (u128, u128),
        paymaster_data: &[u8],
    ) -> PackedUserOperation {
        self.user_op(nonce, deployed, call_data, fees, Some(paymaster_data))
            .packed()
    }

    /// The operation with `paymaster_data`, signed by the owner over the EntryPoint's hash.
    pub(crate) async fn signed(
        &self,
        net: &Net,
        nonce: u64,
        deployed: bool,
        call_data: &[u8],
        fees: (u128, u128),
        paymaster_data: &[u8],
    ) -> UserOp {
        let mut op = self.user_op(nonce, deployed, call_data, fees, Some(paymaster_data));
        op.sign(&net.net.provider, self.entry_point, &self.owner)
            .await
            .expect("the owner's signature");
        op
    }
}
