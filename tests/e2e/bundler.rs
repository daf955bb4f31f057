//! A real ERC-4337 bundler: alto (`@pimlico/alto`, pinned in package.json) against anvil, with
//! EntryPoint v0.8 at its canonical address. A sponsored UserOperation deploys a smart account
//! and commits an order through it; the bundler lands it and the market paymaster pays.
//! Operations outside policy are refused: the service will not sign them, and the bundler
//! refuses the ones signed anyway (wrong target, used-up quota) or wrongly (bad, expired).

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Bytes, aliases::U48},
    providers::Provider,
    signers::{SignerSync, local::PrivateKeySigner},
};
use sealgrid_chain::bindings::{entry_point::IEntryPoint, paymaster::MarketPaymaster};
use sealgrid_devkit::harness::{Net, root};
use sealgrid_sponsor::Sponsor;
use serde_json::{Value, json};

use crate::aa::{Accounts, accounts, canonical_entry_point, config_limits};

/// anvil's dev keys 8 and 9: the bundler's executor and utility accounts.
const EXECUTOR_KEY: &str = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97";
const UTILITY_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";

struct Alto(Child);

impl Drop for Alto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts alto on a free loopback port (its wildcard listen is rewritten to 127.0.0.1 by
/// tools/alto/loopback.cjs) and waits until it answers.
async fn alto(net: &Net) -> (Alto, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let root = root();
    let child = Command::new("node")
        .arg("--require")
        .arg(root.join("tools/alto/loopback.cjs"))
        .arg(root.join("node_modules/@pimlico/alto/esm/cli/alto.js"))
        .args([
            "--entrypoints",
            &sealgrid_deploy::CANONICAL_ENTRY_POINT.to_string(),
            "--executor-private-keys",
            EXECUTOR_KEY,
            "--utility-private-key",
            UTILITY_KEY,
            "--rpc-url",
            &net.net.rpc,
            "--port",
            &port.to_string(),
            "--safe-mode",
            "false",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alto (scripts/setup.sh installs it)");
    let mut alto = Alto(child);
    let url = format!("http://127.0.0.1:{port}/rpc");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let r = http
            .post(&url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_supportedEntryPoints", "params": []}))
            .send()
            .await;
        if let Ok(r) = r
            && let Ok(v) = r.json::<Value>().await
            && v["result"].is_array()
        {
            return (alto, url);
        }
        if let Ok(Some(status)) = alto.0.try_wait() {
            panic!("alto exited: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "alto did not answer within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .expect("post")
        .json::<Value>()
        .await
        .expect("json")
}

/// Sponsorship data signed directly with the service key (to show that the bundler and the
/// EntryPoint refuse what the service would not sign): validUntil | validAfter | signature.
async fn signed_directly(
    net: &Net,
    aa: &Accounts,
    key: &PrivateKeySigner,
    nonce: u64,
    call_data: &[u8],
    fees: (u128, u128),
    window: (u64, u64),
) -> Vec<u8> {
    let packed = aa.packed(nonce, true, call_data, fees, &[]);
    let hash = MarketPaymaster::new(aa.paymaster, net.net.provider.clone())
        .getHash(
            sealgrid_chain::aa::for_paymaster(packed),
            U48::from(window.0),
            U48::from(window.1),
        )
        .call()
        .await
        .expect("getHash");
    let sig = key.sign_message_sync(hash.as_slice()).expect("sign");
    [
        &window.0.to_be_bytes()[2..],
        &window.1.to_be_bytes()[2..],
        &sig.as_bytes()[..],
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alto_lands_a_sponsored_commit_and_refuses_operations_outside_policy() {
    let net = Net::with_test_verifier().await;
    let entry_point = canonical_entry_point(&net).await;
    let aa = accounts(&net, entry_point, 1).await;
    let service = Arc::new(
        Sponsor::connect(&net.net.rpc, aa.paymaster, aa.sponsor.clone(), 600)
            .await
            .expect("sponsor"),
    );
    let (_alto, url) = alto(&net).await;
    let base_fee = net
        .net
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("block")
        .expect("latest")
        .header
        .base_fee_per_gas
        .unwrap_or(1_000_000_000);
    // Within the service's bound of 3 x the base fee plus the priority fee, with room for the base
    // fee to move.
    let fees = (1_000_000_000u128, u128::from(base_fee) * 2 + 1_000_000_000);
    let chain = format!("{:#x}", net.net.chain_id);
    let (interval, _) = net.open_interval().await;

    // 0. What a sponsored commit that deploys the account needs, as the bundler measures it
    //    (eth_estimateUserOperationGas with the service's stub data and a well-formed dummy
    //    signature): every figure fits the paymaster's caps (deploy/config/local.toml), and
    //    preVerificationGas, which only the bundler can measure, with its headroom.
    let call_data = aa.commit_call(&net, interval, 777);
    let mut est = aa.rpc_op(0, false, &call_data, fees);
    let stub = service
        .handle(&json!({"jsonrpc": "2.0", "id": 1, "method": "pm_getPaymasterStubData", "params": [est, entry_point, chain, {}]}))
        .await;
    for k in [
        "paymaster",
        "paymasterData",
        "paymasterVerificationGasLimit",
        "paymasterPostOpGasLimit",
    ] {
        est[k] = stub["result"][k].clone();
    }
    let dummy = aa
        .owner
        .sign_hash_sync(&alloy::primitives::B256::repeat_byte(1))
        .expect("sign");
    est["signature"] = json!(Bytes::from(dummy.as_bytes().to_vec()));
    let e = rpc(
        &url,
        "eth_estimateUserOperationGas",
        json!([est, entry_point]),
    )
    .await;
    let q = |k: &str| {
        e["result"][k]
            .as_str()
            .and_then(|h| u128::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            .unwrap_or_else(|| panic!("alto's estimate has no {k}: {e}"))
    };
    let limits = config_limits();
    let estimate = [
        (
            "verificationGasLimit",
            q("verificationGasLimit"),
            u128::from(limits.verificationGas),
        ),
        (
            "callGasLimit",
            q("callGasLimit"),
            u128::from(limits.callGasPerCall),
        ),
        (
            "preVerificationGas",
            q("preVerificationGas"),
            u128::from(limits.preVerificationGas),
        ),
    ];
    for (field, need, cap) in estimate {
        eprintln!("alto estimates {field} {need} (cap {cap})");
        assert!(
            need <= cap,
            "alto's {field} {need} is over the cap {cap}: {e}"
        );
    }
    let pvg = q("preVerificationGas");
    assert!(
        pvg * 5 <= u128::from(limits.preVerificationGas) * 4,
        "the preVerificationGas cap leaves 25% headroom over alto's {pvg}"
    );

    // 1. A sponsored commit that also deploys the account.
    let op = aa.rpc_op(0, false, &call_data, fees);
    let answer = service
        .handle(&json!({"jsonrpc": "2.0", "id": 1, "method": "pm_getPaymasterData", "params": [op, entry_point, chain, {}]}))
        .await;
    let pm_data: Bytes = serde_json::from_value(answer["result"]["paymasterData"].clone())
        .unwrap_or_else(|e| panic!("{e}: {answer}"));
    let op = aa
        .signed(&net, 0, false, &call_data, fees, &pm_data)
        .await
        .to_rpc();
    let deposit = IEntryPoint::new(entry_point, net.net.provider.clone());
    let before = deposit
        .balanceOf(aa.paymaster)
        .call()
        .await
        .expect("deposit");
    let sent = rpc(&url, "eth_sendUserOperation", json!([op, entry_point])).await;
    let hash = sent["result"]
        .as_str()
        .unwrap_or_else(|| panic!("alto refused the sponsored operation: {sent}"))
        .to_owned();
    let started = Instant::now();
    let receipt = loop {
        let r = rpc(&url, "eth_getUserOperationReceipt", json!([hash])).await;
        if !r["result"].is_null() {
            break r["result"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no receipt within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(receipt["success"], true, "{receipt}");
    assert_eq!(
        receipt["paymaster"].as_str().map(str::to_lowercase),
        Some(aa.paymaster.to_string().to_lowercase())
    );
    let count = net
        .reader()
        .getInterval(net.market, interval)
        .call()
        .await
        .expect("interval")
        .count;
    assert_eq!(count, 1, "the sponsored commit landed");
    assert!(
        deposit
            .balanceOf(aa.paymaster)
            .call()
            .await
            .expect("deposit")
            < before,
        "the paymaster paid"
    );

    // 2. The quota (1 per period) is used: the service refuses, and an operation signed anyway
    //    is refused by the bundler's simulation.
    let call_data = aa.commit_call(&net, interval, 778);
    let op = aa.rpc_op(1, true, &call_data, fees);
    let answer = service
        .handle(&json!({"jsonrpc": "2.0", "id": 2, "method": "pm_getPaymasterData", "params": [op, entry_point, chain, {}]}))
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("quota"),
        "{answer}"
    );
    let now = net.now().await;
    let window = (now + 600, now - 60);
    let refused = |what: &'static str, expect: &'static str, r: Value| {
        let message = r["error"]["message"].as_str().unwrap_or("").to_owned();
        assert!(
            r["result"].is_null() && message.contains(expect),
            "{what}: expected a refusal with {expect:?}, got {r}"
        );
    };
    let pm = signed_directly(&net, &aa, &aa.sponsor, 1, &call_data, fees, window).await;
    let op2 = aa
        .signed(&net, 1, true, &call_data, fees, &pm)
        .await
        .to_rpc();
    refused(
        "quota",
        "AA33",
        rpc(&url, "eth_sendUserOperation", json!([op2, entry_point])).await,
    );

    // 3. A bad signature (the account owner's, not the sponsor's) and an expired one.
    MarketPaymaster::new(aa.paymaster, net.wallet(0))
        .setParticipants(vec![aa.account], 5)
        .send()
        .await
        .expect("raise quota")
        .get_receipt()
        .await
        .expect("mined");
    let pm = signed_directly(&net, &aa, &aa.owner, 1, &call_data, fees, window).await;
    let op3 = aa
        .signed(&net, 1, true, &call_data, fees, &pm)
        .await
        .to_rpc();
    refused(
        "bad signature",
        "AA34",
        rpc(&url, "eth_sendUserOperation", json!([op3, entry_point])).await,
    );
    let pm = signed_directly(
        &net,
        &aa,
        &aa.sponsor,
        1,
        &call_data,
        fees,
        (now - 10, now - 100),
    )
    .await;
    let op4 = aa
        .signed(&net, 1, true, &call_data, fees, &pm)
        .await
        .to_rpc();
    refused(
        "expired",
        "AA32",
        rpc(&url, "eth_sendUserOperation", json!([op4, entry_point])).await,
    );

    // 4. Another target (token approve), signed anyway.
    let approve = aa.approve_call(&net);
    let pm = signed_directly(&net, &aa, &aa.sponsor, 1, &approve, fees, window).await;
    let op5 = aa.signed(&net, 1, true, &approve, fees, &pm).await.to_rpc();
    refused(
        "wrong target",
        "AA33",
        rpc(&url, "eth_sendUserOperation", json!([op5, entry_point])).await,
    );

    // Nothing of that landed.
    let count = net
        .reader()
        .getInterval(net.market, interval)
        .call()
        .await
        .expect("interval")
        .count;
    assert_eq!(count, 1);
}
