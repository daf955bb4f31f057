//! The one transaction path under the delivery client, against a real anvil with the devnet
//! deployment: a reorg that drops a delivery write (a deposit: repeating it would move the
//! collateral twice) lands it exactly once, the fee cap refuses before sending, and one sender
//! shared by the submitter and delivery clients keeps one nonce counter for concurrent writes;
//! behind an endpoint whose receipts lag behind its nonces (a node under load, a load-balanced
//! endpoint), a write is followed until its receipt shows instead of being sent again.

#![allow(missing_docs)]

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
    transports::RpcError,
};
use axum::{Json, Router, extract::State, routing::post};
use sealgrid_chain::{
    ChainError, Sender, SenderConfig, Submitter,
    bindings::{IMockToken, settlement::DeliverySettlement},
    delivery::Delivery,
};
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet};
use serde_json::{Value, json};

/// forge runs share `out/`, `cache/` and `broadcast/`: one deployment at a time.
static FORGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn devnet() -> Devnet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let _one = FORGE.lock().await;
    Devnet::start_with_test_verifier(&root)
        .await
        .expect("devnet")
}

fn operator() -> PrivateKeySigner {
    DEV_KEYS[0].parse().expect("key")
}

async fn sender(net: &Devnet, cfg: SenderConfig) -> Arc<Sender> {
    Arc::new(
        Sender::connect(&net.rpc, operator(), cfg)
            .await
            .expect("sender"),
    )
}

/// Mints test tokens to the operator and approves the settlement contract, with a client of
/// its own (default configuration).
async fn funded(net: &Devnet) {
    IMockToken::new(net.token, net.wallet(DEV_KEYS[0]).expect("wallet"))
        .mint(operator().address(), U256::from(10u64.pow(12)))
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("mined");
    Delivery::connect(&net.rpc, net.delivery, operator())
        .await
        .expect("connect")
        .approve(net.token, U256::MAX)
        .await
        .expect("approve");
}

async fn deposits(net: &Devnet, account: Address) -> usize {
    let filter = Filter::new()
        .address(net.delivery.settlement)
        .from_block(0)
        .event_signature(DeliverySettlement::Deposited::SIGNATURE_HASH);
    net.provider
        .get_logs(&filter)
        .await
        .expect("logs")
        .iter()
        .filter_map(|l| l.log_decode::<DeliverySettlement::Deposited>().ok())
        .filter(|e| e.inner.data.account == account)
        .count()
}

async fn nonce(net: &Devnet) -> u64 {
    net.provider
        .get_transaction_count(operator().address())
        .pending()
        .await
        .expect("nonce")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_drops_a_delivery_write_lands_it_exactly_once() {
    let net = devnet().await;
    funded(&net).await;
    let account = PrivateKeySigner::from_bytes(&keccak256("site"))
        .expect("key")
        .address();
    let amount = U256::from(1_000_000u64);
    let d = Delivery::connect_with(
        net.delivery,
        sender(
            &net,
            SenderConfig {
                confirmations: 3,
                poll: Duration::from_millis(20),
                ..SenderConfig::default()
            },
        )
        .await,
    )
    .await
    .expect("connect");
    let before = nonce(&net).await;
    let snapshot: U256 = net
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("snapshot");
    let task = {
        let (d, token) = (d.clone(), net.token);
        tokio::spawn(async move { d.deposit(token, account, amount).await })
    };
    // Wait for the deposit to be mined (one block deep, short of 3 confirmations) ...
    for _ in 0..500 {
        if d.balance(net.token, account).await.expect("balance") == amount {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(deposits(&net, account).await, 1, "deposit mined");
    // ... then drop its block: the chain goes back to before the deposit.
    let reverted: bool = net
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("revert");
    assert!(reverted);
    assert_eq!(
        d.balance(net.token, account).await.expect("balance"),
        U256::ZERO,
        "deposit reorged out"
    );
    // New blocks keep coming.
    let miner = {
        let p = net.provider.clone();
        tokio::spawn(async move {
            loop {
                let _: Result<serde_json::Value, _> = p.raw_request("evm_mine".into(), ()).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("deposit finishes")
        .expect("task")
        .expect("deposit");
    miner.abort();
    assert_eq!(
        d.balance(net.token, account).await.expect("balance"),
        amount,
        "deposited once, not twice"
    );
    assert_eq!(deposits(&net, account).await, 1);
    assert_eq!(
        nonce(&net).await,
        before + 1,
        "one transaction on the chain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_path_respects_the_fee_cap() {
    let net = devnet().await;
    let d = Delivery::connect_with(
        net.delivery,
        sender(
            &net,
            SenderConfig {
                max_fee_per_gas: 1,
                ..SenderConfig::default()
            },
        )
        .await,
    )
    .await
    .expect("connect");
    let before = nonce(&net).await;
    // A cap under the base fee: nothing could be included, so nothing is sent.
    match d.approve(net.token, U256::MAX).await {
        Err(ChainError::FeeCapExceeded { cap, base_fee }) => {
            assert_eq!(cap, 1);
            assert!(base_fee > 1);
        }
        r => panic!("expected FeeCapExceeded, got {r:?}"),
    }
    assert_eq!(nonce(&net).await, before, "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_sender_keeps_one_nonce_counter() {
    let net = devnet().await;
    funded(&net).await;
    let shared = sender(&net, SenderConfig::default()).await;
    let submitter = Submitter::connect_with(net.auction, shared.clone())
        .await
        .expect("submitter");
    assert_eq!(submitter.address(), operator().address());
    let d = Delivery::connect_with(net.delivery, submitter.sender().clone())
        .await
        .expect("connect");
    let before = nonce(&net).await;
    // Concurrent writes from clients of one sender: serialised on its counter, none refused.
    let writes: Vec<_> = (0..6u8)
        .map(|k| {
            let (d, token) = (d.clone(), net.token);
            tokio::spawn(async move {
                let to = PrivateKeySigner::from_bytes(&keccak256([k])).expect("key");
                d.deposit(token, to.address(), U256::from(1_000u64)).await
            })
        })
        .collect();
    for w in writes {
        w.await.expect("task").expect("deposit");
    }
    assert_eq!(nonce(&net).await, before + 6);
}

/// How the lagging endpoint hides a mined transaction's receipt.
#[derive(Clone, Copy, Debug)]
enum Lag {
    /// No receipt for this long after the node has mined it (eth_getTransactionCount and
    /// eth_getTransactionByHash already show it).
    First(Duration),
    /// The receipt once, then none for this long.
    Flap(Duration),
}

#[derive(Clone)]
struct Lagging {
    upstream: DynProvider,
    lag: Lag,
    /// First time a receipt was seen upstream, per transaction hash.
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Lagging {
    async fn answer(&self, req: &Value) -> Value {
        let method = req["method"].as_str().unwrap_or_default().to_owned();
        let params = req.get("params").cloned().unwrap_or(json!([]));
        let out: Result<Value, _> = self
            .upstream
            .raw_request(method.clone().into(), params.clone())
            .await;
        let result = match out {
            Ok(v) => v,
            Err(RpcError::ErrorResp(e)) => {
                return json!({"jsonrpc": "2.0", "id": req["id"], "error": {
                    "code": e.code, "message": e.message, "data": e.data,
                }});
            }
            Err(e) => {
                return json!({"jsonrpc": "2.0", "id": req["id"], "error": {
                    "code": -32603, "message": e.to_string(),
                }});
            }
        };
        let result = if method == "eth_getTransactionReceipt" && !result.is_null() {
            let hash = params[0].as_str().unwrap_or_default().to_owned();
            let now = Instant::now();
            let (first, since) = {
                let mut seen = self.seen.lock().expect("lock");
                match seen.get(&hash) {
                    Some(t) => (false, now.duration_since(*t)),
                    None => {
                        seen.insert(hash, now);
                        (true, Duration::ZERO)
                    }
                }
            };
            match self.lag {
                Lag::First(d) if since < d => Value::Null,
                Lag::Flap(d) if !first && since < d => Value::Null,
                _ => result,
            }
        } else {
            result
        };
        json!({"jsonrpc": "2.0", "id": req["id"], "result": result})
    }
}

async fn lagging_handle(State(l): State<Lagging>, Json(req): Json<Value>) -> Json<Value> {
    Json(match req.as_array() {
        Some(batch) => {
            let mut out = Vec::with_capacity(batch.len());
            for r in batch {
                out.push(l.answer(r).await);
            }
            Value::Array(out)
        }
        None => l.answer(&req).await,
    })
}

/// A JSON-RPC endpoint on a free loopback port in front of `net`'s anvil that hides receipts
/// as `lag` says.
async fn lagging(net: &Devnet, lag: Lag) -> String {
    let upstream = ProviderBuilder::new()
        .connect_http(net.rpc.parse().expect("url"))
        .erased();
    let app = Router::new()
        .route("/", post(lagging_handle))
        .with_state(Lagging {
            upstream,
            lag,
            seen: Arc::default(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A deposit through `lag`'s endpoint lands exactly once: one transaction, one event.
async fn deposit_behind(lag: Lag) {
    let net = devnet().await;
    funded(&net).await;
    let account = PrivateKeySigner::from_bytes(&keccak256(format!("{lag:?}")))
        .expect("key")
        .address();
    let amount = U256::from(2_000_000u64);
    let url = lagging(&net, lag).await;
    let sender = Arc::new(
        Sender::connect(
            &url,
            operator(),
            SenderConfig {
                poll: Duration::from_millis(50),
                ..SenderConfig::default()
            },
        )
        .await
        .expect("sender"),
    );
    let d = Delivery::connect_with(net.delivery, sender)
        .await
        .expect("connect");
    let before = nonce(&net).await;
    tokio::time::timeout(
        Duration::from_secs(60),
        d.deposit(net.token, account, amount),
    )
    .await
    .expect("deposit finishes")
    .expect("deposit");
    assert_eq!(
        d.balance(net.token, account).await.expect("balance"),
        amount,
        "{lag:?}: deposited once, not twice"
    );
    assert_eq!(deposits(&net, account).await, 1, "{lag:?}");
    assert_eq!(nonce(&net).await, before + 1, "{lag:?}: one transaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_lags_behind_its_nonce_is_waited_for_not_sent_again() {
    // Longer than the drop grace: the transaction is known mined, so it is followed.
    deposit_behind(Lag::First(Duration::from_secs(7))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_goes_missing_while_confirming_is_not_a_reorg() {
    deposit_behind(Lag::Flap(Duration::from_secs(3))).await;
}
