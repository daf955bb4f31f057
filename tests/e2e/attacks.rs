//! The HTTP attacks on the running matcher (issue 17, holes 8 and 9, and the devnet's clock),
//! played against a devnet over loopback with bounded load: each test fails on the code before
//! the fix and asserts that no legitimate trader lost anything.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::SubmitterConfig;
use sealgrid_matcher::{ApiLimits, IntakeLimits};
use sealgrid_node::{Pipeline, SettlementConfig};
use sealgrid_store::BatchState;
use sealgrid_types::{
    BatchStatus, ClearingProver, ProofRequest, ProveError, ProvenBatch, Side, sealgrid_domain,
    sign_order,
};

use sealgrid_devkit::harness::*;

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("matcher.db").display())
}

/// Runtime code `JUMPDEST PUSH1 0 JUMP`: every call, `isValidSignature` included, loops until
/// its gas is gone. The creation code returns it.
const GAS_BURNER_INIT: &str = "635b6000566000526004601cf3";

async fn gas_burner(net: &Net) -> Address {
    let code = alloy::primitives::hex::decode(GAS_BURNER_INIT).expect("hex");
    let account = crate::aa::deploy(net, code).await;
    use alloy::providers::Provider;
    let runtime = net.provider.get_code_at(account).await.expect("code");
    assert_eq!(
        runtime.as_ref(),
        [0x5b, 0x60, 0x00, 0x56],
        "the burner is deployed"
    );
    account
}

/// The JSON body of one forged order naming `trader`, signed by a key that is not the trader's.
fn forged(net: &Net, trader: Address, market: B256, interval: u64, n: u64) -> serde_json::Value {
    let mut o = order(
        4,
        interval,
        Side::Buy,
        1_000 + n,
        50_000,
        1_000_000 + n,
        &format!("forged-{n}"),
    );
    o.trader = trader;
    o.market = market;
    submission(&o, &sign(4, &o, net.chain_id, net.auction), None)
}

/// A validly signed order of a fresh key that never committed anything.
fn uncommitted(net: &Net, interval: u64, n: u64) -> serde_json::Value {
    let key = PrivateKeySigner::from_bytes(&keccak256(format!("stranger-{n}"))).expect("key");
    let mut o = order(
        1,
        interval,
        Side::Sell,
        2_000,
        40_000,
        n,
        &format!("stranger-{n}"),
    );
    o.trader = key.address();
    let sig = sign_order(&key, &o, &sealgrid_domain(net.chain_id, net.auction)).expect("sign");
    submission(&o, &sig, None)
}

/// Every per-order result of a batch answer is a JSON error with one of `codes`.
fn all_refused(answer: &serde_json::Value, codes: &[&str]) -> usize {
    let results = answer["results"].as_array().expect("results");
    for r in results {
        let code = r["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not refused: {r}"));
        assert!(codes.contains(&code), "unexpected {code}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    results.len()
}

async fn post_from(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = http
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("http");
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON answer"))
}

/// Hole 8: one unauthenticated batch of 1,000 orders naming a contract whose
/// `isValidSignature` burns all its gas, sent shortly before a gate. Before the fix intake held
/// the gate lock across one unbounded ERC-1271 call per order (334 s in the report): the
/// interval was cleared after its settle deadline and voided, and other traders' orders hung.
/// Now the batch is refused without a single call to the contract, the interval is cleared at
/// its gate and settles, and a legitimate order for the next interval is stored meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_naming_a_gas_burning_account_cannot_stall_the_gate() {
    let net = Net::with_test_verifier().await;
    let counter = RpcCounter::start(&net.rpc).await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::with(
        &net,
        &sqlite_url(&dir),
        MatcherOptions {
            rpc: Some(counter.url.clone()),
            ..MatcherOptions::default()
        },
    )
    .await;
    let market = demo_market();
    let (i, gate) = net.open_interval().await;
    let (cid, auction) = (net.chain_id, net.auction);

    // A legitimate crossing pair for interval i, and an order for interval i + 1.
    let buy = order(1, i, Side::Buy, 40_000, 120_000, 1, "honest-buy");
    let sell = order(3, i, Side::Sell, 30_000, 60_000, 1, "honest-sell");
    let next = order(2, i + 1, Side::Sell, 5_000, 70_000, 1, "honest-next");
    for (k, o) in [(1, &buy), (3, &sell), (2, &next)] {
        net.commit_with_lock(k, o, lock_for(o)).await;
    }
    for (k, o) in [(1, &buy), (3, &sell)] {
        let (s, got) = m
            .post(
                "/v1/orders",
                &submission(o, &sign(k, o, cid, auction), None),
            )
            .await;
        assert_eq!(
            (s, got["status"].as_str()),
            (200, Some("accepted")),
            "{got}"
        );
    }

    // The attacker: 1,000 orders for interval i naming the burner, from another address.
    let burner = gas_burner(&net).await;
    let orders: Vec<_> = (0..1_000)
        .map(|n| forged(&net, burner, market, i, n))
        .collect();
    let attack_body = serde_json::json!({ "orders": orders });
    m.clock.set(gate - 3);
    let calls_before = counter.count();
    let attacker = client_from([127, 0, 0, 2]);
    let base = m.base.clone();
    let attack = tokio::spawn(async move {
        let started = Instant::now();
        let answer = post_from(&attacker, &base, "/v1/orders/batch", &attack_body).await;
        (answer, started.elapsed())
    });

    // The gate closes while the attack is in flight (its orders passed the field checks and it
    // made its first chain call: before the fix, an ERC-1271 call per order under the gate
    // lock, about 0.1 s each on anvil): the interval is cleared at once ...
    let waiting = Instant::now();
    while counter.count() == calls_before && !attack.is_finished() {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "the attack reaches the chain or is answered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    net.warp(gate).await;
    m.clock.set(gate);
    let row = tokio::time::timeout(
        Duration::from_secs(15),
        m.scheduler.close_interval(market, i),
    )
    .await
    .expect("the gate is not held up by the attack")
    .expect("cleared");
    let b = &row.batch;
    assert_eq!((b.count, b.volume), (2, 30_000), "{b:?}");
    let price = b.price.expect("a clearing price");

    // ... and a legitimate order for the next interval is stored meanwhile.
    let (s, got) = tokio::time::timeout(
        Duration::from_secs(10),
        m.post(
            "/v1/orders",
            &submission(&next, &sign(2, &next, cid, auction), None),
        ),
    )
    .await
    .expect("other traders' intake is not held up");
    assert_eq!(
        (s, got["status"].as_str()),
        (200, Some("accepted")),
        "{got}"
    );

    // The attacker is refused, order by order, in JSON, without any call to its contract.
    let ((s, answer), took) = tokio::time::timeout(Duration::from_secs(30), attack)
        .await
        .expect("the attack request is answered in bounded time")
        .expect("task");
    assert_eq!(s, 200, "{answer}");
    assert_eq!(
        all_refused(
            &answer,
            &["bad_signature", "interval_closed", "client_rate_limited"]
        ),
        1_000
    );
    assert!(took < Duration::from_secs(20), "answered in {took:?}");
    let calls = counter.calls_since(calls_before);
    assert!(
        !calls.iter().any(|(_, to)| *to == Some(burner)),
        "no ERC-1271 call to a trader without a commitment: {calls:?}"
    );
    assert!(
        calls.len() <= 8,
        "the attack cost {} chain calls: {calls:?}",
        calls.len()
    );

    // The interval settles in its window: the honest pair's trade stands, nobody is voided.
    let (_, deadline, _) = net.times(i).await;
    assert!(net.now().await < deadline);
    net.settle_unproven(market, i, price, b.volume, &b.fills)
        .await;
    let iv = net
        .chain()
        .await
        .interval(market, i)
        .await
        .expect("interval");
    assert_eq!(iv.status, BatchStatus::Settled);
    let (s, health) = m.get("/health").await;
    assert_eq!(s, 200, "{health}");
}

/// Hole 9: forged orders naming random traders and random markets, and validly signed orders
/// of strangers without commitments, sent as fast as one client can. Before the fix each cost at
/// least one chain call (an `eth_getCode` per forged order, a market look-up per unknown market,
/// an indexer sync per request): unbounded chain work for an unauthenticated client. Now the
/// calls that client causes stay within its chain-call budget (burst + rate × time), and another
/// client is served as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_work_an_unauthenticated_client_causes_is_bounded() {
    let net = Net::with_test_verifier().await;
    let counter = RpcCounter::start(&net.rpc).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (chain_burst, chain_rate) = (16u64, 4u64);
    let m = Matcher::with(
        &net,
        &sqlite_url(&dir),
        MatcherOptions {
            rpc: Some(counter.url.clone()),
            api: ApiLimits {
                client_orders_burst: 1_000,
                client_orders_per_second: 100,
                ..ApiLimits::default()
            },
            intake: IntakeLimits {
                client_chain_burst: chain_burst,
                client_chain_per_second: chain_rate,
                ..IntakeLimits::default()
            },
            ..MatcherOptions::default()
        },
    )
    .await;
    let (i, _) = net.open_interval().await;
    let market = demo_market();

    // 16 requests of 90 orders (signed beforehand, so that the client sends as fast as it can).
    let mut requests = Vec::new();
    let mut n = 0u64;
    for _ in 0..16 {
        let mut orders = Vec::new();
        for _ in 0..30 {
            n += 1;
            let random = Address::from_slice(&keccak256(format!("trader-{n}"))[12..]);
            orders.push(forged(&net, random, market, i, n));
            let unknown = B256::from(U256::from_be_bytes(keccak256(format!("market-{n}")).0) >> 8);
            orders.push(forged(&net, random, unknown, i, n));
            orders.push(uncommitted(&net, i, n));
        }
        requests.push(serde_json::json!({ "orders": orders }));
    }
    let attacker = client_from([127, 0, 0, 2]);
    let calls_before = counter.count();
    let started = Instant::now();
    let mut refused_whole = 0;
    let mut limited = 0;
    for body in &requests {
        let (s, answer) = post_from(&attacker, &m.base, "/v1/orders/batch", body).await;
        if s == 429 {
            assert_eq!(answer["error"]["code"], "client_rate_limited", "{answer}");
            refused_whole += 1;
            continue;
        }
        assert_eq!(s, 200, "{answer}");
        all_refused(
            &answer,
            &[
                "bad_signature",
                "unknown_market",
                "commitment_not_found",
                "client_rate_limited",
            ],
        );
        limited += answer["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r["error"]["code"] == "client_rate_limited")
            .count();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let calls = counter.calls_since(calls_before);
    // Syncs are charged two calls; one that reads more than one chunk of blocks may make one
    // more, which the slack covers.
    let bound = chain_burst + (chain_rate as f64 * elapsed).ceil() as u64 + 2;
    assert!(
        calls.len() as u64 <= bound,
        "{} chain calls in {elapsed:.1} s, bound {bound}: {:?}",
        calls.len(),
        calls
    );
    assert!(
        limited > 0,
        "the chain-call budget was reached and refused orders"
    );
    eprintln!(
        "attack: {} orders in {elapsed:.1} s ({refused_whole} requests refused whole, {limited} \
         orders over the chain budget): {} chain calls, bound {bound}",
        n * 3,
        calls.len()
    );

    // Another client opens a fresh commitment (which needs an indexer sync) as usual.
    let o = order(1, i, Side::Buy, 1_000, 50_000, 1, "honest-during-attack");
    net.commit_with_lock(1, &o, lock_for(&o)).await;
    let (s, got) = m
        .post(
            "/v1/orders",
            &submission(&o, &sign(1, &o, net.chain_id, net.auction), None),
        )
        .await;
    assert_eq!(
        (s, got["status"].as_str()),
        (200, Some("accepted")),
        "{got}"
    );

    // The attacker's order budget: once a batch of 1,000 orders has taken its burst, the next
    // one is refused whole, in JSON, before any work (no chain call).
    let big = serde_json::json!({
        "orders": (0..1_000).map(|k| uncommitted(&net, i, 10_000 + k)).collect::<Vec<_>>()
    });
    let (first, _) = post_from(&attacker, &m.base, "/v1/orders/batch", &big).await;
    let calls_before = counter.count();
    let (s, answer) = post_from(&attacker, &m.base, "/v1/orders/batch", &big).await;
    assert_eq!(
        (s, answer["error"]["code"].as_str()),
        (429, Some("client_rate_limited")),
        "after a first answer {first}: {}",
        answer["error"]
    );
    assert_eq!(
        counter.count(),
        calls_before,
        "a refused request costs no chain call"
    );
}

/// A prover that counts its calls and proves nothing.
#[derive(Debug, Default)]
struct CountingProver(AtomicUsize);

impl ClearingProver for CountingProver {
    fn prove(&self, _: &ProofRequest) -> Result<ProvenBatch, ProveError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(ProveError::Failed(
            "this test's prover proves nothing".into(),
        ))
    }
}

/// The devnet mines blocks by itself: with no transaction after the gate, the chain's clock
/// still passes it and the interval is cleared (before, an idle devnet's clock stood still and
/// the scheduler waited for some transaction to land).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_devnet_clears_an_interval_at_its_gate() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::start(&net, &sqlite_url(&dir), Pipeline::Log).await;
    let (i, gate) = net.open_interval().await;
    let o = order(1, i, Side::Buy, 1_000, 50_000, 1, "idle");
    net.commit_with_lock(1, &o, lock_for(&o)).await;
    net.warp(gate - 2).await;
    m.clock.set(gate);
    let row = tokio::time::timeout(
        Duration::from_secs(20),
        m.scheduler.close_interval(demo_market(), i),
    )
    .await
    .expect("the devnet's own blocks pass the gate")
    .expect("cleared");
    assert_eq!(row.batch.count, 1);
    assert!(net.now().await >= gate);
}

/// The pipeline voids, without proving, an interval whose settle deadline has passed on the
/// chain's clock even though no block has been mined since (the chain would date any settle
/// after the deadline). Before, it judged by the latest block, proved, and sent a settle that
/// could only revert, again and again, instead of voiding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settle_deadline_passed_on_the_chain_clock_voids_without_proving() {
    use alloy::providers::Provider;
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let prover = Arc::new(CountingProver::default());
    let pipeline = Pipeline::Settle(SettlementConfig {
        prover: prover.clone(),
        submitter: SubmitterConfig::default(),
        prepare: Vec::new(),
    });
    let mut m = Matcher::start(&net, &sqlite_url(&dir), pipeline).await;
    let mut reports = m.node.take_reports().expect("reports");
    let (i, gate) = net.open_interval().await;
    let buy = order(1, i, Side::Buy, 10_000, 100_000, 1, "late-buy");
    let sell = order(2, i, Side::Sell, 10_000, 50_000, 1, "late-sell");
    let traders = [signer(1).address(), signer(2).address()];
    let mut before = Vec::new();
    for t in traders {
        before.push(net.wealth(t).await);
    }
    for (k, o) in [(1, &buy), (2, &sell)] {
        net.commit_with_lock(k, o, lock_for(o)).await;
        m.open(&net, k, o).await;
    }
    net.warp(gate).await;

    // The chain stops mining by itself (as an idle devnet did) and its clock moves past the
    // settle deadline: the latest block is before it, the next one would be after it.
    let (_, deadline, _) = net.times(i).await;
    let _: serde_json::Value = net
        .provider
        .raw_request("evm_setAutomine".into(), (true,))
        .await
        .expect("automine only");
    let now = net.now().await;
    let _: serde_json::Value = net
        .provider
        .raw_request("evm_increaseTime".into(), (deadline - now + 5,))
        .await
        .expect("increase time");
    assert!(net.now().await < deadline, "no block since");

    m.clock.set(gate);
    let row = tokio::time::timeout(
        Duration::from_secs(30),
        m.scheduler.close_interval(demo_market(), i),
    )
    .await
    .expect("closed in time")
    .expect("cleared");
    assert_eq!(row.batch.volume, 10_000);
    let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("a report in time")
        .expect("report");
    assert_eq!(report.outcome, sealgrid_settlement::Settled::Voided);
    assert_eq!(prover.0.load(Ordering::SeqCst), 0, "nothing was proven");
    let iv = net
        .chain()
        .await
        .interval(demo_market(), i)
        .await
        .expect("interval");
    assert_eq!(iv.status, BatchStatus::Voided);
    let stored = m
        .store
        .batch(demo_market(), i)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(stored.state, BatchState::Voided);

    // Nobody loses: every lock is refundable, and refunded once.
    let submitter = m.node.submitter.clone().expect("submitter");
    let records: Vec<_> = [(1usize, &buy), (2, &sell)]
        .iter()
        .enumerate()
        .map(
            |(index, (_, o))| sealgrid_chain::bindings::ISealgridAuction::CommitmentRecord {
                index: index as u32,
                trader: o.trader,
                lock: lock_for(o),
                commitment: sealgrid_types::order_commitment(o).expect("commitment"),
            },
        )
        .collect();
    submitter
        .refund(demo_market(), i, records)
        .await
        .expect("refund");
    for (t, b) in traders.iter().zip(&before) {
        assert_eq!(net.wealth(*t).await, *b, "{t} is whole again");
    }
}

/// `/health` reports a scheduler that is late for its gate: 503, with the late gate in JSON;
/// healthy again once the interval is cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_scheduler_late_for_its_gate() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::with(
        &net,
        &sqlite_url(&dir),
        MatcherOptions {
            api: ApiLimits {
                late_after_s: 30,
                ..ApiLimits::default()
            },
            ..MatcherOptions::default()
        },
    )
    .await;
    let (i, gate) = net.open_interval().await;
    let market = demo_market();
    let (s, body) = m.get("/health").await;
    assert_eq!(s, 200, "{body}");

    // The matcher's clock passes the gate while the chain has not reached it: the scheduler
    // waits for the chain, late.
    m.clock.set(gate + 31);
    let scheduler = m.scheduler.clone();
    let closing = tokio::spawn(async move { scheduler.close_interval(market, i).await });
    let mut late = None;
    for _ in 0..100 {
        let (s, body) = m.get("/health").await;
        if s == 503 {
            late = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = late.expect("/health turned 503");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["status"], "late", "{v}");
    let gates = v["scheduler"].as_array().expect("scheduler");
    assert_eq!(gates.len(), 1, "{v}");
    assert_eq!(gates[0]["interval"], i);
    assert_eq!(gates[0]["gate"], gate);
    assert_eq!(gates[0]["late"], true);
    assert_eq!(gates[0]["secondsPastGate"], 31);

    net.warp(gate).await;
    tokio::time::timeout(Duration::from_secs(20), closing)
        .await
        .expect("cleared once the chain passed the gate")
        .expect("task")
        .expect("cleared");
    let (s, body) = m.get("/health").await;
    assert_eq!(s, 200, "{body}");
}
