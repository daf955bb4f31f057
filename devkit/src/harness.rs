//! The one test harness (the end-to-end tests and the matcher's integration tests): a
//! deployment on its own anvil, funded traders, a node started through
//! [`sealgrid_node::launch`] and served over loopback HTTP, and helpers to commit and open orders
//! as wallets do (the project's signer, viem and eth-account).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    ops::Deref,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
};

use alloy::providers::DynProvider;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    AuctionReader,
    bindings::{IERC20, IMockToken, ISealgridAuction, SealgridAuction},
};
use sealgrid_deploy::DeployConfig;
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet};
use sealgrid_matcher::{ApiLimits, Indexer, Intake, IntakeLimits, Scheduler, SimClock};
use sealgrid_node::{HaloProver, Node, NodeConfig, Pipeline, launch};
use sealgrid_prover::params::{ParamsSource, default_cache_dir};
use sealgrid_store::Store;
use sealgrid_types::{Order, Side, order_commitment, required_lock, sealgrid_domain, sign_order};

pub use sealgrid_deploy::devnet::{DEV_KEYS as KEYS, demo_market};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn signer(k: usize) -> PrivateKeySigner {
    DEV_KEYS[k].parse().expect("dev key")
}

/// forge runs share `out/`, `cache/` and `broadcast/`: one deployment at a time per process.
static FORGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The local config cut down to the checked-in verifiers (4 and 16 slots): no keygen at deploy.
pub fn small_local_config() -> DeployConfig {
    let mut cfg = DeployConfig::load(&root().join("deploy/config/local.toml")).expect("local.toml");
    cfg.verifier.capacities = vec![4, 16];
    cfg.market.max_commitments = 16;
    cfg.validate().expect("valid");
    cfg
}

/// The prover over the devnet parameters for the small config's capacities.
pub fn prover() -> Arc<HaloProver> {
    Arc::new(HaloProver::new(
        ParamsSource::Insecure(default_cache_dir()),
        &[4, 16],
    ))
}

/// A deployment on its own anvil.
pub struct Net {
    /// The devnet (its fields are reachable on `Net` too).
    pub net: Devnet,
    pub market: B256,
    pub cfg: Option<DeployConfig>,
}

impl Net {
    /// The real thing: contracts and the generated 4- and 16-slot verifiers from the local
    /// config; traders 1-4 get 10,000 mock tokens approved to the auction.
    pub async fn real() -> Self {
        let cfg = small_local_config();
        let _one = FORGE.lock().await;
        let mut net = Devnet::anvil(&root(), None, None).await.expect("anvil");
        let mut cfg = cfg;
        cfg.network.chain_id = net.chain_id;
        let prover = prover();
        let record =
            sealgrid_node::deploy_config(&root(), &net.rpc, &cfg, &prover, &mut |_line| {})
                .await
                .expect("deploy");
        net.auction = record.auction;
        net.token = record.token;
        net.delivery = record.delivery;
        net.accounts = record.accounts;
        let mint = IMockToken::new(record.token, net.wallet(DEV_KEYS[0]).expect("wallet"));
        for (k, key) in DEV_KEYS.iter().enumerate().skip(1) {
            mint.mint(signer(k).address(), U256::from(10_000_000_000u64))
                .send()
                .await
                .expect("mint")
                .get_receipt()
                .await
                .expect("mint receipt");
            IERC20::new(record.token, net.wallet(key).expect("wallet"))
                .approve(record.auction, U256::MAX)
                .send()
                .await
                .expect("approve")
                .get_receipt()
                .await
                .expect("approve receipt");
        }
        Self {
            net,
            market: record.market,
            cfg: Some(cfg),
        }
    }

    /// The devnet deployment with the TEST-ONLY accept-all verifier (`deploy/Demo.s.sol`):
    /// for flows where no honest proof can exist (a censoring operator) or none is needed.
    pub async fn with_test_verifier() -> Self {
        let _one = FORGE.lock().await;
        let net = Devnet::start_with_test_verifier(&root())
            .await
            .expect("devnet");
        Self {
            net,
            market: sealgrid_deploy::devnet::demo_market(),
            cfg: None,
        }
    }

    /// The operator's submitter (dev key 0) with the default policy.
    pub async fn submitter(&self) -> Arc<sealgrid_chain::Submitter> {
        Arc::new(
            sealgrid_chain::Submitter::connect(
                &self.net.rpc,
                self.net.auction,
                signer(0),
                sealgrid_chain::SubmitterConfig::default(),
            )
            .await
            .expect("submitter"),
        )
    }

    pub fn wallet(&self, k: usize) -> DynProvider {
        self.net.wallet(DEV_KEYS[k]).expect("wallet")
    }

    pub fn auction(&self, k: usize) -> SealgridAuction::SealgridAuctionInstance<DynProvider> {
        SealgridAuction::new(self.net.auction, self.wallet(k))
    }

    pub fn reader(&self) -> SealgridAuction::SealgridAuctionInstance<DynProvider> {
        SealgridAuction::new(self.net.auction, self.net.provider.clone())
    }

    pub async fn chain(&self) -> AuctionReader {
        AuctionReader::connect(&self.net.rpc, self.net.auction)
            .await
            .expect("reader")
    }

    pub async fn now(&self) -> u64 {
        self.net.now().await.expect("now")
    }

    pub async fn warp(&self, t: u64) {
        self.net.warp(t).await.expect("warp");
    }

    /// An interval with room for the test's commits before its gate; with its gate.
    pub async fn open_interval(&self) -> (u64, u64) {
        let info = self
            .chain()
            .await
            .market(self.market)
            .await
            .expect("market")
            .expect("exists");
        let now = self.now().await;
        let mut i = info.timing.next_open_interval(now).expect("interval");
        if info.timing.gate(i).expect("gate") < now + 120 {
            i += 1;
        }
        (i, info.timing.gate(i).expect("gate"))
    }

    /// (gate, settle deadline, delivery start) of `interval`.
    pub async fn times(&self, interval: u64) -> (u64, u64, u64) {
        let t = self
            .reader()
            .intervalTimes(self.market, interval)
            .call()
            .await
            .expect("times");
        (t.gate.to(), t.deadline.to(), t.start.to())
    }

    /// An order of trader `k`.
    pub fn order(&self, k: usize, interval: u64, side: Side, wh: u64, limit: i64, n: u64) -> Order {
        Order {
            trader: signer(k).address(),
            market: self.market,
            interval,
            side: side.code(),
            quantityWh: wh,
            limitPrice: limit,
            nonce: n,
            salt: B256::from(U256::from_be_bytes(keccak256(format!("e2e-{interval}-{n}")).0) >> 8),
        }
    }

    /// Commits `o` from trader `k` with its required lock; returns its record.
    pub async fn commit(&self, k: usize, o: &Order) -> ISealgridAuction::CommitmentRecord {
        let lock = lock_for(o);
        let index = self.commit_with_lock(k, o, lock).await;
        ISealgridAuction::CommitmentRecord {
            index,
            trader: o.trader,
            lock,
            commitment: order_commitment(o).expect("commitment"),
        }
    }

    /// Commits `order` from its trader (dev key `k`) with `lock`; returns the index.
    pub async fn commit_with_lock(&self, k: usize, order: &Order, lock: u128) -> u32 {
        let auction = self.auction(k);
        let commitment = order_commitment(order).expect("commitment");
        let receipt = auction
            .commit(order.market, order.interval, commitment, lock)
            .send()
            .await
            .expect("send commit")
            .get_receipt()
            .await
            .expect("commit receipt");
        assert!(receipt.status(), "commit reverted");
        receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<SealgridAuction::Committed>().ok())
            .expect("Committed event")
            .inner
            .data
            .index
    }

    /// Withdraws commitment `index` of `order` (dev key `k`).
    pub async fn withdraw(&self, k: usize, order: &Order, index: u32, lock: u128) {
        let auction = self.auction(k);
        let record = sealgrid_chain::bindings::ISealgridAuction::CommitmentRecord {
            index,
            trader: order.trader,
            lock,
            commitment: order_commitment(order).expect("commitment"),
        };
        let r = auction
            .withdrawCommitment(order.market, order.interval, record)
            .send()
            .await
            .expect("send withdraw")
            .get_receipt()
            .await
            .expect("withdraw receipt");
        assert!(r.status(), "withdraw reverted");
    }

    /// Settles `fills` at `price` and `volume` as the operator, with an empty proof (the
    /// deployment's test verifier); panics if the transaction reverts.
    pub async fn settle_unproven(
        &self,
        market: B256,
        interval: u64,
        price: i64,
        volume: u64,
        fills: &[u64],
    ) {
        let receipt = self
            .auction(0)
            .settle(
                market,
                interval,
                price,
                volume,
                Bytes::from(sealgrid_types::pack_fill_words(fills)),
                Bytes::new(),
            )
            .gas(2_000_000)
            .send()
            .await
            .expect("send settle")
            .get_receipt()
            .await
            .expect("settle receipt");
        assert!(receipt.status(), "settle reverted");
    }

    /// A trader's wealth: token balance plus free balance in the auction.
    pub async fn wealth(&self, who: Address) -> U256 {
        let token = IERC20::new(self.net.token, self.net.provider.clone())
            .balanceOf(who)
            .call()
            .await
            .expect("balance");
        let free = self
            .reader()
            .balanceOf(self.net.token, who)
            .call()
            .await
            .expect("free");
        token + free
    }
}

impl Deref for Net {
    type Target = Devnet;

    fn deref(&self) -> &Devnet {
        &self.net
    }
}

/// The calls an [`RpcCounter`] saw: (method, `eth_call` target).
type RpcCalls = Arc<std::sync::Mutex<Vec<(String, Option<Address>)>>>;

/// A JSON-RPC proxy on loopback in front of a devnet that counts the calls going through it
/// (by method, and `eth_call`s by target), to measure the chain work a client can cause.
pub struct RpcCounter {
    /// The proxy's URL (give it to the node instead of the devnet's).
    pub url: String,
    calls: RpcCalls,
    task: tokio::task::JoinHandle<()>,
}

impl RpcCounter {
    /// A proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: &str) -> Self {
        use axum::{body::Bytes, extract::State, routing::post};
        async fn forward(
            State((calls, upstream, http)): State<(RpcCalls, String, reqwest::Client)>,
            body: Bytes,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let requests = match &v {
                serde_json::Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            {
                let mut calls = calls.lock().unwrap();
                for r in requests {
                    let method = r["method"].as_str().unwrap_or("?").to_owned();
                    let to = (method == "eth_call")
                        .then(|| r["params"][0]["to"].as_str().and_then(|t| t.parse().ok()))
                        .flatten();
                    calls.push((method, to));
                }
            }
            let answer = http
                .post(&upstream)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match answer {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let bytes = r.bytes().await.unwrap_or_default();
                    (
                        axum::http::StatusCode::from_u16(status)
                            .unwrap_or(axum::http::StatusCode::BAD_GATEWAY),
                        [("content-type", "application/json")],
                        bytes,
                    )
                        .into_response()
                }
                Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
        let calls: RpcCalls = Arc::default();
        let app = axum::Router::new().route("/", post(forward)).with_state((
            calls.clone(),
            upstream.to_owned(),
            reqwest::Client::new(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, calls, task }
    }

    /// Calls so far.
    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Calls so far, from the `from`-th on: (method, `eth_call` target).
    pub fn calls_since(&self, from: usize) -> Vec<(String, Option<Address>)> {
        self.calls.lock().unwrap()[from..].to_vec()
    }
}

impl Drop for RpcCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP client whose requests come from loopback address `ip` (e.g. `127.0.0.2`): another
/// client, as far as the API's per-client limits are concerned.
pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .build()
        .expect("client")
}

/// How to start a [`Matcher`].
#[derive(Clone, Debug)]
pub struct MatcherOptions {
    /// The node's JSON-RPC endpoint (default: the devnet's), e.g. an [`RpcCounter`].
    pub rpc: Option<String>,
    /// API limits.
    pub api: ApiLimits,
    /// Intake rate limits.
    pub intake: IntakeLimits,
    /// The matcher's clock starts here (default: chain time).
    pub now: Option<u64>,
    /// What follows clearing.
    pub pipeline: Pipeline,
    /// The node's markets (default none: intake only; with markets the node also checks their
    /// operator at start-up and reports their bonds in `/metrics`).
    pub markets: Vec<B256>,
}

impl Default for MatcherOptions {
    fn default() -> Self {
        Self {
            rpc: None,
            api: ApiLimits::default(),
            intake: IntakeLimits::default(),
            now: None,
            pipeline: Pipeline::Log,
            markets: Vec::new(),
        }
    }
}

/// The node (dev key 0 as operator) on a simulated clock, served over loopback HTTP, stepped by
/// the test (no background loops).
pub struct Matcher {
    pub node: Node,
    pub intake: Intake,
    pub indexer: Arc<Indexer>,
    pub scheduler: Arc<Scheduler>,
    pub store: Store,
    pub clock: SimClock,
    pub base: String,
    pub http: reqwest::Client,
}

impl Matcher {
    /// A node over `store_url` clearing into `pipeline`.
    pub async fn start(net: &Net, store_url: &str, pipeline: Pipeline) -> Self {
        Self::with(
            net,
            store_url,
            MatcherOptions {
                pipeline,
                ..MatcherOptions::default()
            },
        )
        .await
    }

    /// A node over `store_url` with these limits, only logging batches.
    pub async fn with_limits(
        net: &Net,
        store_url: &str,
        api: ApiLimits,
        intake: IntakeLimits,
    ) -> Self {
        Self::with(
            net,
            store_url,
            MatcherOptions {
                api,
                intake,
                ..MatcherOptions::default()
            },
        )
        .await
    }

    /// A node over `store_url` with `opts`.
    pub async fn with(net: &Net, store_url: &str, opts: MatcherOptions) -> Self {
        let now = match opts.now {
            Some(t) => t,
            None => net.now().await,
        };
        let clock = SimClock::new(now);
        let rpc = opts.rpc.clone().unwrap_or_else(|| net.rpc.clone());
        let mut cfg = NodeConfig::new(rpc, net.auction, signer(0), store_url);
        cfg.api = opts.api;
        cfg.intake = opts.intake;
        cfg.clock = Arc::new(clock.clone());
        cfg.pipeline = opts.pipeline;
        cfg.markets = opts.markets;
        cfg.background = false;
        let node = launch(cfg).await.expect("node");
        Self {
            intake: node.intake.clone(),
            indexer: node.indexer.clone(),
            scheduler: node.scheduler.clone(),
            store: node.store.clone(),
            base: node.base_url(),
            node,
            clock,
            http: reqwest::Client::new(),
        }
    }

    /// POSTs JSON to `path`; returns status and body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.post_raw(path, serde_json::to_vec(body).expect("json"))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("http");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("http");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// Opens `o` (trader `k`) over HTTP; returns the operator's receipt signature.
    pub async fn open(&self, net: &Net, k: usize, o: &Order) -> Bytes {
        let domain = sealgrid_domain(net.net.chain_id, net.net.auction);
        let signature = sign_order(&signer(k), o, &domain).expect("sign");
        let body = serde_json::json!({
            "order": o,
            "signature": alloy_primitives::hex::encode_prefixed(signature),
        });
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/v1/orders", self.base))
            .json(&body)
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["status"], "accepted", "{answer}");
        serde_json::from_value(answer["operatorSignature"].clone()).expect("receipt signature")
    }
}

/// An order of trader `k` (salt derived from `tag`).
pub fn order(
    k: usize,
    interval: u64,
    side: Side,
    quantity_wh: u64,
    limit_price: i64,
    nonce: u64,
    tag: &str,
) -> Order {
    Order {
        trader: signer(k).address(),
        market: demo_market(),
        interval,
        side: side.code(),
        quantityWh: quantity_wh,
        limitPrice: limit_price,
        nonce,
        salt: B256::from(U256::from_be_bytes(keccak256(tag).0) >> 8),
    }
}

pub fn lock_for(o: &Order) -> u128 {
    required_lock(
        Side::try_from(o.side).expect("side"),
        o.quantityWh,
        o.limitPrice,
    )
}

/// The JSON body of `POST /v1/orders`.
pub fn submission(
    o: &Order,
    signature: &[u8],
    domain: Option<(u64, Address)>,
) -> serde_json::Value {
    let mut v = serde_json::json!({ "order": o, "signature": format!("0x{}", hex(signature)) });
    if let Some((chain_id, contract)) = domain {
        v["domain"] = serde_json::json!({
            "name": "sealgrid", "version": "1", "chainId": chain_id, "verifyingContract": contract
        });
    }
    v
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Signs with the project's own signer (alloy).
pub fn sign(k: usize, o: &Order, chain_id: u64, auction: Address) -> Vec<u8> {
    sign_order(&signer(k), o, &sealgrid_domain(chain_id, auction))
        .expect("sign")
        .to_vec()
}

/// Runs a wallet tool (`node tools/wallets/sign-order.mjs` or eth-account's script) on one
/// order and returns the signature bytes.
pub fn wallet_sign(tool: &str, k: usize, o: &Order, chain_id: u64, auction: Address) -> Vec<u8> {
    let root = root();
    let (program, script) = match tool {
        "viem" => (
            PathBuf::from("node"),
            root.join("tools/wallets/sign-order.mjs"),
        ),
        "eth-account" => (
            root.join(".venv/bin/python"),
            root.join("tools/wallets/sign_order.py"),
        ),
        other => panic!("unknown wallet {other}"),
    };
    let request = serde_json::json!([{
        "key": KEYS[k],
        "chainId": chain_id,
        "verifyingContract": auction,
        "order": {
            "trader": o.trader, "market": o.market, "interval": o.interval.to_string(),
            "side": o.side, "quantityWh": o.quantityWh.to_string(),
            "limitPrice": o.limitPrice.to_string(), "nonce": o.nonce.to_string(), "salt": o.salt,
        },
    }]);
    let mut child = Command::new(&program)
        .arg(&script)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", program.display()));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("write");
    }
    let out = child.wait_with_output().expect("wallet tool");
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sigs: Vec<String> = serde_json::from_slice(&out.stdout).expect("signatures");
    let s = sigs[0].trim_start_matches("0x");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs the ignored test `test` of the current test binary as a child process with `spec` in
/// the environment variable `env` and, if given, `SEALGRID_FAILPOINT=failpoint` (the process
/// exits with 86 there, as a power cut would stop it). Returns the exit code; prints the child's
/// output when it is neither 0 nor 86.
pub fn run_child(test: &str, env: &str, spec: &serde_json::Value, failpoint: Option<&str>) -> i32 {
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(env, spec.to_string())
    .env_remove("SEALGRID_FAILPOINT");
    if let Some(f) = failpoint {
        cmd.env("SEALGRID_FAILPOINT", f);
    }
    let out = cmd.output().expect("child");
    if !matches!(out.status.code(), Some(0 | 86)) {
        eprintln!(
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.code().unwrap_or(-1)
}

/// A fresh PostgreSQL database for a test (see `sealgrid_store::test_utils`), or `None` (the
/// test is skipped with a message) when no server is configured.
pub async fn postgres_database(prefix: &str) -> Option<String> {
    sealgrid_store::test_utils::postgres_test_database(prefix).await
}
