//! A real devnet for the matcher tests: anvil, the contracts deployed by `deploy/Demo.s.sol`,
//! traders committing through alloy, and a matcher served over loopback HTTP.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use sealgrid_chain::{AuctionReader, bindings::SealgridAuction, devnet};
use sealgrid_matcher::{ApiLimits, Indexer, Intake, IntakeLimits, Metrics, SimClock};
use sealgrid_store::Store;
use sealgrid_types::{Order, Side, order_commitment, required_lock, sealgrid_domain, sign_order};

pub use sealgrid_chain::devnet::{DEV_KEYS as KEYS, demo_market};

/// Serialises devnet deployments: forge runs share `out/`, `cache/` and `broadcast/`.
static FORGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn signer(k: usize) -> PrivateKeySigner {
    KEYS[k].parse().expect("dev key")
}

/// A devnet (`sealgrid_chain::devnet`) with the helpers the tests use.
pub struct Devnet {
    net: devnet::Devnet,
    pub rpc: String,
    pub chain_id: u64,
    pub auction: Address,
    pub provider: DynProvider,
}

impl Devnet {
    /// anvil on a free port with a chain id of its own, and the demo deployment on it.
    pub async fn start() -> Self {
        let net = {
            let _one = FORGE.lock().await;
            devnet::Devnet::start_with_test_verifier(&root())
                .await
                .expect("devnet")
        };
        Self {
            rpc: net.rpc.clone(),
            chain_id: net.chain_id,
            auction: net.auction,
            provider: net.provider.clone(),
            net,
        }
    }

    /// A provider that signs with dev key `k`.
    pub fn wallet(&self, k: usize) -> DynProvider {
        self.net.wallet(KEYS[k]).expect("wallet")
    }

    pub async fn now(&self) -> u64 {
        self.net.now().await.expect("chain time")
    }

    /// Mines a block at time `t`.
    pub async fn warp(&self, t: u64) {
        self.net.warp(t).await.expect("warp");
    }

    /// Commits `order` from its trader (dev key `k`) with `lock`; returns the index.
    pub async fn commit(&self, k: usize, order: &Order, lock: u128) -> u32 {
        let auction = SealgridAuction::new(self.auction, self.wallet(k));
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
        let auction = SealgridAuction::new(self.auction, self.wallet(k));
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

    pub async fn reader(&self) -> AuctionReader {
        AuctionReader::connect(&self.rpc, self.auction)
            .await
            .expect("reader")
    }

    /// The next interval open for commitments, with its gate.
    pub async fn open_interval(&self) -> (u64, u64) {
        let now = self.now().await;
        // Leave room for the test's transactions before the gate.
        let interval = (now + 300 + 120) / 300 + 1;
        (interval, interval * 300 - 300)
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

/// A running matcher: the intake pipeline, its indexer, a simulated clock, an HTTP server.
pub struct Matcher {
    pub intake: Intake,
    pub indexer: Arc<Indexer>,
    pub clock: SimClock,
    pub store: Store,
    pub base: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Matcher {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Matcher {
    pub async fn start(
        net: &Devnet,
        store_url: &str,
        limits: ApiLimits,
        intake_limits: IntakeLimits,
    ) -> Self {
        Self::start_at(net, store_url, limits, intake_limits, net.now().await).await
    }

    /// As [`Self::start`], with the matcher's clock at `now`.
    pub async fn start_at(
        net: &Devnet,
        store_url: &str,
        limits: ApiLimits,
        intake_limits: IntakeLimits,
        now: u64,
    ) -> Self {
        let store = Store::connect(store_url).await.expect("store");
        let chain = net.reader().await;
        let indexer = Arc::new(Indexer::new(chain.clone(), store.clone(), 0, 0));
        let clock = SimClock::new(now);
        let intake = Intake::new(
            chain,
            store.clone(),
            indexer.clone(),
            signer(0),
            Arc::new(clock.clone()),
            intake_limits,
            Arc::new(Metrics::default()),
        );
        let app = sealgrid_matcher::router(intake.clone(), indexer.clone(), limits);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            intake,
            indexer,
            clock,
            store,
            base,
            http: reqwest::Client::new(),
            server,
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

/// A fresh PostgreSQL database for a matcher test (see `sealgrid_store::test_utils`).
pub async fn postgres_database() -> Option<String> {
    sealgrid_store::test_utils::postgres_test_database("sealgrid_matcher").await
}
