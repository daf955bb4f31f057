//! Harness of the end-to-end tests: a deployment on anvil, funded traders, an in-process matcher
//! served over loopback HTTP, and helpers to commit and open orders as wallets do.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use alloy::providers::DynProvider;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    AuctionReader,
    bindings::{IERC20, IMockToken, ISealgridAuction, SealgridAuction},
    deploy::DeployConfig,
    devnet::{DEV_KEYS, Devnet},
};
use sealgrid_matcher::{
    ApiLimits, BatchSink, Indexer, Intake, IntakeLimits, Metrics, Scheduler, SimClock,
};
use sealgrid_operator::HaloProver;
use sealgrid_prover::params::{ParamsSource, default_cache_dir};
use sealgrid_store::Store;
use sealgrid_types::{Order, Side, order_commitment, required_lock, sealgrid_domain, sign_order};

/// forge runs share `out/`, `cache/` and `broadcast/`: one deployment at a time per process.
static FORGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn signer(k: usize) -> PrivateKeySigner {
    DEV_KEYS[k].parse().expect("dev key")
}

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
            sealgrid_operator::deploy_config(&root(), &net.rpc, &cfg, &prover, &mut |_line| {})
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
            market: sealgrid_chain::devnet::demo_market(),
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
        let commitment = order_commitment(o).expect("commitment");
        let lock = required_lock(
            Side::try_from(o.side).expect("side"),
            o.quantityWh,
            o.limitPrice,
        );
        let receipt = self
            .auction(k)
            .commit(o.market, o.interval, commitment, lock)
            .send()
            .await
            .expect("send commit")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status(), "commit reverted");
        let index = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<SealgridAuction::Committed>().ok())
            .expect("Committed")
            .inner
            .data
            .index;
        ISealgridAuction::CommitmentRecord {
            index,
            trader: o.trader,
            lock,
            commitment,
        }
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

/// An in-process matcher served over loopback HTTP, clearing into `sink`.
pub struct Matcher {
    pub intake: Intake,
    pub scheduler_chain: AuctionReader,
    pub scheduler: Scheduler,
    pub store: Store,
    pub clock: SimClock,
    pub base: String,
    pub server: tokio::task::JoinHandle<()>,
    pub http: reqwest::Client,
}

impl Matcher {
    pub async fn start(net: &Net, store_url: &str, sink: Arc<dyn BatchSink>) -> Self {
        let store = Store::connect(store_url).await.expect("store");
        let chain = net.chain().await;
        let clock = SimClock::new(net.now().await);
        let indexer = Arc::new(Indexer::new(chain.clone(), store.clone(), 0, 0));
        let intake = Intake::new(
            chain.clone(),
            store.clone(),
            indexer.clone(),
            signer(0),
            Arc::new(clock.clone()),
            IntakeLimits::default(),
            Arc::new(Metrics::default()),
        );
        let app = sealgrid_matcher::router(intake.clone(), indexer.clone(), ApiLimits::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let scheduler = Scheduler::new(intake.clone(), chain.clone(), indexer, sink);
        Self {
            intake,
            scheduler_chain: chain,
            scheduler,
            store,
            clock,
            base,
            server,
            http: reqwest::Client::new(),
        }
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

impl Drop for Matcher {
    fn drop(&mut self) {
        self.server.abort();
    }
}
