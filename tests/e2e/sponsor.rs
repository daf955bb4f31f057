//! ERC-4337 sponsorship on anvil: EntryPoint v0.8, a SimpleAccount factory and the market
//! paymaster deployed from forge's artifacts; the ERC-7677 service over HTTP signs a commit
//! from a counterfactual smart account (deployed by the operation itself), the operation lands
//! through `handleOps`, and the paymaster pays. Operations outside policy are refused by the
//! service with reasons.

use std::sync::Arc;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolValue},
};
use sealgrid_chain::bindings::{
    IERC20,
    entry_point::{IEntryPoint, PackedUserOperation},
    paymaster::MarketPaymaster,
};
use sealgrid_e2e::{Net, root, signer};
use sealgrid_matcher::sponsor::{POLICY_REFUSED, Sponsor};
use serde_json::{Value, json};

alloy::sol! {
    function createAccount(address owner, uint256 salt) returns (address);
    function getAddress(address owner, uint256 salt) view returns (address);
    function execute(address target, uint256 value, bytes data);
    function commit(bytes32 market, uint64 interval, bytes32 commitment, uint128 lock) returns (uint32);
    function addStake(uint32 unstakeDelaySec) payable;
    function deposit() payable;
}

fn creation_code(contract: &str) -> Vec<u8> {
    let path = root().join(format!("out/{contract}.sol/{contract}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run forge build)", path.display()));
    let v: Value = serde_json::from_str(&text).expect("artifact");
    alloy::primitives::hex::decode(v["bytecode"]["object"].as_str().expect("bytecode"))
        .expect("hex")
}

async fn deploy(net: &Net, code: Vec<u8>) -> Address {
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

async fn send(net: &Net, k: usize, to: Address, data: Vec<u8>, value: U256) {
    let tx = TransactionRequest::default()
        .to(to)
        .input(data.into())
        .value(value);
    let r = net
        .wallet(k)
        .send_transaction(tx)
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(r.status(), "transaction to {to} reverted");
}

fn hex_u(v: u128) -> String {
    format!("{v:#x}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sponsored_commit_from_a_new_smart_account() {
    let net = Net::with_test_verifier().await;
    let sponsor_key =
        PrivateKeySigner::from_bytes(&keccak256("sealgrid/test/sponsor")).expect("key");
    let owner =
        PrivateKeySigner::from_bytes(&keccak256("sealgrid/test/account-owner")).expect("key");

    // EntryPoint v0.8, the factory and the paymaster.
    let entry_point = deploy(&net, creation_code("EntryPoint")).await;
    let factory = deploy(
        &net,
        [
            creation_code("SimpleAccountFactory"),
            entry_point.abi_encode(),
        ]
        .concat(),
    )
    .await;
    let certificates = net.net.delivery.certificates;
    let args = (
        entry_point,
        sponsor_key.address(),
        net.net.auction,
        certificates,
        alloy::primitives::aliases::U48::from(86_400u64),
    )
        .abi_encode_params();
    let paymaster = deploy(&net, [creation_code("MarketPaymaster"), args].concat()).await;
    send(
        &net,
        0,
        paymaster,
        depositCall {}.abi_encode(),
        U256::from(10u128.pow(19)),
    )
    .await;
    send(
        &net,
        0,
        paymaster,
        addStakeCall {
            unstakeDelaySec: 86_400,
        }
        .abi_encode(),
        U256::from(10u128.pow(18)),
    )
    .await;

    // The counterfactual account of `owner` is registered before it exists, and its lock money
    // is deposited in the auction for it.
    let ep = IEntryPoint::new(entry_point, net.wallet(1));
    let ret = net
        .wallet(0)
        .call(
            TransactionRequest::default().to(factory).input(
                getAddressCall {
                    owner: owner.address(),
                    salt: U256::ZERO,
                }
                .abi_encode()
                .into(),
            ),
        )
        .await
        .expect("getAddress");
    let account = Address::from_slice(&ret[12..32]);
    MarketPaymaster::new(paymaster, net.wallet(0))
        .setParticipants(vec![account], 2)
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

    // The service over HTTP.
    let service = Arc::new(
        Sponsor::connect(&net.net.rpc, paymaster, sponsor_key.clone(), 600)
            .await
            .expect("sponsor"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!(
        "http://{}/v1/paymaster",
        listener.local_addr().expect("addr")
    );
    let app = service.clone().router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let call = |method: &'static str, params: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.post(&base)
                .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
                .send()
                .await
                .expect("post")
                .json::<Value>()
                .await
                .expect("json")
        }
    };

    let (interval, _) = net.open_interval().await;
    let commitment = alloy::primitives::B256::from(U256::from(12345u64));
    let inner = commitCall {
        market: net.market,
        interval,
        commitment,
        lock: 1_000_000,
    }
    .abi_encode();
    let call_data = executeCall {
        target: net.net.auction,
        value: U256::ZERO,
        data: inner.into(),
    }
    .abi_encode();
    let factory_data = createAccountCall {
        owner: owner.address(),
        salt: U256::ZERO,
    }
    .abi_encode();
    let fees = (1_000_000_000u128, 5_000_000_000u128);
    let mut op = json!({
        "sender": account,
        "nonce": "0x0",
        "factory": factory,
        "factoryData": Bytes::from(factory_data.clone()),
        "callData": Bytes::from(call_data.clone()),
        "callGasLimit": hex_u(300_000),
        "verificationGasLimit": hex_u(500_000),
        "preVerificationGas": hex_u(80_000),
        "maxFeePerGas": hex_u(fees.1),
        "maxPriorityFeePerGas": hex_u(fees.0),
        "signature": "0x",
    });
    let chain = format!("{:#x}", net.net.chain_id);

    let stub = call(
        "pm_getPaymasterStubData",
        json!([op, entry_point, chain, {}]),
    )
    .await;
    let stub = &stub["result"];
    assert_eq!(
        stub["paymaster"].as_str().map(str::to_lowercase),
        Some(paymaster.to_string().to_lowercase())
    );
    assert_eq!(stub["isFinal"], false);
    op["paymasterVerificationGasLimit"] = stub["paymasterVerificationGasLimit"].clone();
    op["paymasterPostOpGasLimit"] = stub["paymasterPostOpGasLimit"].clone();
    let data = call("pm_getPaymasterData", json!([op, entry_point, chain, {}])).await;
    let pm_data: Bytes = serde_json::from_value(data["result"]["paymasterData"].clone())
        .unwrap_or_else(|e| panic!("{e}: {data}"));
    assert_eq!(pm_data.len(), 6 + 6 + 65);

    // The account owner signs the EntryPoint's hash; a bundler (dev key 1) submits it.
    let pm_gas: u128 = u128::from_str_radix(
        stub["paymasterVerificationGasLimit"]
            .as_str()
            .expect("gas")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    let word =
        |hi: u128, lo: u128| alloy::primitives::B256::from(U256::from(hi) << 128 | U256::from(lo));
    let mut packed = PackedUserOperation {
        sender: account,
        nonce: U256::ZERO,
        initCode: [factory.as_slice(), &factory_data].concat().into(),
        callData: call_data.into(),
        accountGasLimits: word(500_000, 300_000),
        preVerificationGas: U256::from(80_000),
        gasFees: word(fees.0, fees.1),
        paymasterAndData: [
            paymaster.as_slice(),
            &pm_gas.to_be_bytes(),
            &0u128.to_be_bytes(),
            &pm_data,
        ]
        .concat()
        .into(),
        signature: Bytes::new(),
    };
    let hash = ep.getUserOpHash(packed.clone()).call().await.expect("hash");
    packed.signature = owner
        .sign_hash_sync(&hash)
        .expect("sign")
        .as_bytes()
        .to_vec()
        .into();
    let deposit_before = ep.balanceOf(paymaster).call().await.expect("deposit");
    let r = ep
        .handleOps(vec![packed], signer(1).address())
        .gas(2_000_000)
        .send()
        .await
        .expect("handleOps")
        .get_receipt()
        .await
        .expect("mined");
    assert!(r.status(), "handleOps reverted");
    let count = net
        .reader()
        .getInterval(net.market, interval)
        .call()
        .await
        .expect("interval")
        .count;
    assert_eq!(count, 1, "the sponsored commit landed");
    assert!(
        !net.net
            .provider
            .get_code_at(account)
            .await
            .expect("code")
            .is_empty(),
        "the operation deployed the account"
    );
    assert!(
        ep.balanceOf(paymaster).call().await.expect("deposit") < deposit_before,
        "the paymaster paid"
    );

    // Outside policy: another target, a stranger, another EntryPoint or chain, a bad request.
    let mut bad = op.clone();
    bad["callData"] = json!(Bytes::from(
        executeCall {
            target: token,
            value: U256::ZERO,
            data: IERC20::approveCall {
                spender: account,
                amount: U256::from(1)
            }
            .abi_encode()
            .into(),
        }
        .abi_encode()
    ));
    let e = call("pm_getPaymasterData", json!([bad, entry_point, chain, {}])).await;
    assert_eq!(e["error"]["code"], POLICY_REFUSED, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not sponsored"),
        "{e}"
    );
    let mut stranger = op.clone();
    stranger["sender"] = json!(signer(3).address());
    let e = call(
        "pm_getPaymasterStubData",
        json!([stranger, entry_point, chain, {}]),
    )
    .await;
    assert_eq!(e["error"]["code"], POLICY_REFUSED, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not a registered participant"),
        "{e}"
    );
    let e = call("pm_getPaymasterData", json!([op, factory, chain, {}])).await;
    assert_eq!(e["error"]["code"], -32602, "{e}");
    let e = call("pm_getPaymasterData", json!([op, entry_point, "0x1", {}])).await;
    assert_eq!(e["error"]["code"], -32602, "{e}");
    let e = call("eth_sendUserOperation", json!([op, entry_point])).await;
    assert_eq!(e["error"]["code"], -32601, "{e}");
    let raw = http
        .post(&base)
        .body("{not json")
        .send()
        .await
        .expect("post")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(raw["error"]["code"], -32700, "{raw}");

    // The quota: 2 per period, one used; the second is signed, the third refused.
    op["nonce"] = json!("0x1");
    let e = call("pm_getPaymasterData", json!([op, entry_point, chain, {}])).await;
    assert!(e["result"]["paymasterData"].is_string(), "{e}");
    let usage = MarketPaymaster::new(paymaster, net.net.provider.clone())
        .usageOf(account)
        .call()
        .await
        .expect("usage");
    assert_eq!((usage.quota, usage.used), (2, 1));
    let _ = service; // kept alive for the server
}
