//! Intake over HTTP against a real devnet: wallet interop and the corpus of bad orders.

use alloy::primitives::{Address, B256, Bytes};
use sealgrid_matcher::{ApiLimits, IntakeLimits};
use sealgrid_node::Pipeline;
use sealgrid_types::{Receipt, Side, recover_struct_signer, sealgrid_domain};

use sealgrid_devkit::harness::*;

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("matcher.db").display())
}

/// Checks an acceptance: status, receipt fields, and that the operator (K0) signed it.
fn check_receipt(net: &Net, body: &serde_json::Value, index: u32, o: &sealgrid_types::Order) {
    let receipt = Receipt {
        market: o.market,
        interval: o.interval,
        index,
        commitment: sealgrid_types::order_commitment(o).expect("commitment"),
    };
    assert_eq!(body["receipt"]["index"], index, "{body}");
    assert_eq!(
        body["receipt"]["commitment"],
        serde_json::json!(receipt.commitment)
    );
    let sig: Bytes = serde_json::from_value(body["operatorSignature"].clone()).expect("signature");
    let signer = recover_struct_signer(&receipt, &sealgrid_domain(net.chain_id, net.auction), &sig)
        .expect("receipt signature recovers");
    assert_eq!(
        signer,
        signer_addr(0),
        "receipts are signed by the market operator"
    );
}

fn signer_addr(k: usize) -> Address {
    signer(k).address()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_signed_orders_are_accepted_and_resubmission_is_idempotent() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::with(
        &net,
        &sqlite_url(&dir),
        MatcherOptions {
            markets: vec![net.market],
            ..MatcherOptions::default()
        },
    )
    .await;
    let (i, _) = net.open_interval().await;

    // Three independent signers: alloy (ours), viem (npm), eth-account (PyPI).
    let cases = [
        ("alloy", 1, Side::Buy, 120_000),
        ("viem", 2, Side::Sell, 60_000),
        ("eth-account", 3, Side::Buy, -20),
    ];
    for (n, (wallet, k, side, limit)) in cases.into_iter().enumerate() {
        let o = order(
            k,
            i,
            side,
            10_000 + n as u64,
            limit,
            100 + n as u64,
            &format!("wallet-{wallet}"),
        );
        let index = net.commit_with_lock(k, &o, lock_for(&o)).await;
        let sig = match wallet {
            "alloy" => sign(k, &o, net.chain_id, net.auction),
            w => wallet_sign(w, k, &o, net.chain_id, net.auction),
        };
        assert_eq!(
            sig,
            sign(k, &o, net.chain_id, net.auction),
            "{wallet} signs the same bytes as alloy"
        );
        let body = submission(&o, &sig, Some((net.chain_id, net.auction)));
        let (status, first) = m.post("/v1/orders", &body).await;
        assert_eq!(status, 200, "{wallet}: {first}");
        assert_eq!(first["status"], "accepted");
        check_receipt(&net, &first, index, &o);

        // The same order again: the same receipt, marked duplicate, nothing new stored.
        let (status, again) = m.post("/v1/orders", &body).await;
        assert_eq!(status, 200);
        assert_eq!(again["status"], "duplicate");
        assert_eq!(again["operatorSignature"], first["operatorSignature"]);

        let digest = first["digest"].as_str().expect("digest");
        let (status, text) = m.get(&format!("/v1/orders/{digest}")).await;
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["status"], "accepted");
        assert!(
            v.get("limitPrice").is_none() && v.get("quantityWh").is_none(),
            "no private fields: {v}"
        );
    }
    assert_eq!(m.store.counts().await.expect("counts").1, 3);

    // One recorder per process: the other tests of this binary count into it too, so the
    // counters are at least what this test did.
    let (status, metrics) = m.get("/metrics").await;
    assert_eq!(status, 200);
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    assert!(value("sealgrid_intake_total{result=\"ok\",status=\"accepted\"}") >= 3.0);
    assert!(value("sealgrid_intake_total{result=\"ok\",status=\"duplicate\"}") >= 3.0);
    assert!(
        value("sealgrid_intake_seconds_count{route=\"/v1/orders\"}") >= 6.0,
        "every request's latency is measured"
    );
    assert!(
        metrics.contains("# HELP sealgrid_intake_total"),
        "described"
    );
    // The balances the operator must keep up, read from the chain at start-up.
    let mut metrics = metrics;
    for _ in 0..50 {
        if metrics.contains("sealgrid_chain_gauges_timestamp_seconds ") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        metrics = m.get("/metrics").await.1;
    }
    let desk = sealgrid_chain::desk::Desk::read_only(&net.rpc).expect("desk");
    let bond = desk.bond(net.auction, net.market).await.expect("bond");
    let (decimals, _) = desk.token(bond.token).await.expect("token");
    let gauge = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    let market = format!("{{market=\"{}\"}}", net.market);
    assert_eq!(
        gauge(&format!("sealgrid_bond{market}")),
        bond.bond as f64 / 10f64.powi(i32::from(decimals)),
        "the bond gauge is the chain's bond in token units"
    );
    assert_eq!(
        gauge(&format!("sealgrid_bond_minimum{market}")),
        bond.min_bond as f64 / 10f64.powi(i32::from(decimals))
    );
    let eth = desk.eth_balance(signer_addr(0)).await.expect("balance");
    let eth = eth.to::<u128>() as f64 / 1e18;
    let shown = gauge("sealgrid_operator_balance_eth");
    assert!(
        shown > 0.0 && (shown - eth).abs() < 1.0,
        "operator gas {shown} vs {eth}"
    );
    let (status, health) = m.get("/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_orders_are_rejected_with_their_code_and_nothing_accepted_is_affected() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let limits = ApiLimits {
        max_body_bytes: 16 * 1024,
        max_batch: 8,
        ..ApiLimits::default()
    };
    let m = Matcher::with_limits(&net, &sqlite_url(&dir), limits, IntakeLimits::default()).await;
    let (i, gate) = net.open_interval().await;
    let (cid, auction) = (net.chain_id, net.auction);

    // One good order, accepted first.
    let good = order(1, i, Side::Buy, 40_000, 120_000, 1, "good");
    let good_index = net.commit_with_lock(1, &good, lock_for(&good)).await;
    let good_body = submission(&good, &sign(1, &good, cid, auction), Some((cid, auction)));
    let (status, accepted) = m.post("/v1/orders", &good_body).await;
    assert_eq!(status, 200, "{accepted}");

    let mut corpus: Vec<(&str, u16, serde_json::Value)> = Vec::new();

    // Tampered field: signed for 40 kWh, submitted as 50 kWh.
    let mut tampered = good.clone();
    tampered.quantityWh = 50_000;
    corpus.push((
        "bad_signature",
        401,
        submission(&tampered, &sign(1, &good, cid, auction), None),
    ));

    // Signed for another chain / another contract, with the domain sent along.
    let o = order(2, i, Side::Sell, 1_000, 50_000, 1, "chain");
    corpus.push((
        "wrong_chain_id",
        400,
        submission(&o, &sign(2, &o, 1, auction), Some((1, auction))),
    ));
    let other = Address::repeat_byte(0x42);
    corpus.push((
        "wrong_verifying_contract",
        400,
        submission(&o, &sign(2, &o, cid, other), Some((cid, other))),
    ));
    // ... and without the domain: the signature simply is not the trader's in our domain.
    corpus.push((
        "bad_signature",
        401,
        submission(&o, &sign(2, &o, 1, auction), None),
    ));

    // Replayed nonce: another committed order of the same trader with the good order's nonce.
    let replay = order(1, i, Side::Buy, 1_000, 100_000, good.nonce, "replay");
    net.commit_with_lock(1, &replay, lock_for(&replay)).await;
    corpus.push((
        "nonce_reused",
        409,
        submission(&replay, &sign(1, &replay, cid, auction), None),
    ));

    // Closed interval: its gate is in the past.
    let closed = order(2, i - 10, Side::Sell, 1_000, 50_000, 7, "closed");
    corpus.push((
        "interval_closed",
        409,
        submission(&closed, &sign(2, &closed, cid, auction), None),
    ));

    // Unknown market.
    let mut unknown = order(2, i, Side::Sell, 1_000, 50_000, 8, "unknown");
    unknown.market = B256::with_last_byte(9);
    corpus.push((
        "unknown_market",
        404,
        submission(&unknown, &sign(2, &unknown, cid, auction), None),
    ));

    // Price above the cap (5,000,000) and quantity zero.
    let pricey = order(2, i, Side::Sell, 1_000, 6_000_000, 9, "pricey");
    corpus.push((
        "price_out_of_bounds",
        400,
        submission(&pricey, &sign(2, &pricey, cid, auction), None),
    ));
    let zero = order(2, i, Side::Sell, 0, 50_000, 10, "zero");
    corpus.push((
        "invalid_field",
        400,
        submission(&zero, &sign(2, &zero, cid, auction), None),
    ));

    // Signed but never committed.
    let missing = order(3, i, Side::Buy, 1_000, 50_000, 11, "missing");
    corpus.push((
        "commitment_not_found",
        404,
        submission(&missing, &sign(3, &missing, cid, auction), None),
    ));

    // Someone else's copy of a commitment does not open it.
    let copied = order(3, i, Side::Buy, 1_000, 50_000, 12, "copied");
    net.commit_with_lock(4, &copied, lock_for(&copied)).await;
    corpus.push((
        "commitment_not_found",
        404,
        submission(&copied, &sign(3, &copied, cid, auction), None),
    ));

    // Lock below the order's worst case.
    let short = order(3, i, Side::Buy, 10_000, 100_000, 13, "short");
    net.commit_with_lock(3, &short, lock_for(&short) - 1).await;
    corpus.push((
        "insufficient_lock",
        422,
        submission(&short, &sign(3, &short, cid, auction), None),
    ));

    // Withdrawn before the gate.
    let gone = order(4, i, Side::Sell, 1_000, 50_000, 14, "gone");
    let gone_index = net.commit_with_lock(4, &gone, lock_for(&gone)).await;
    net.withdraw(4, &gone, gone_index, lock_for(&gone)).await;
    corpus.push((
        "commitment_withdrawn",
        409,
        submission(&gone, &sign(4, &gone, cid, auction), None),
    ));

    // Wrong domain name in the request.
    let mut wrong_name = submission(&o, &sign(2, &o, cid, auction), Some((cid, auction)));
    wrong_name["domain"]["name"] = "uniswap".into();
    corpus.push(("wrong_domain", 400, wrong_name));

    // Shapes: unknown field, missing signature, bad signature length.
    let mut extra = good_body.clone();
    extra["extra"] = 1.into();
    corpus.push(("malformed_request", 400, extra));
    // ... inside the order too (it was silently accepted there).
    let mut extra_in_order = good_body.clone();
    extra_in_order["order"]["maxPrice"] = 1.into();
    corpus.push(("malformed_request", 400, extra_in_order));
    corpus.push((
        "malformed_request",
        400,
        serde_json::json!({ "order": good }),
    ));
    corpus.push(("bad_signature", 401, submission(&o, &[1, 2, 3], None)));

    for (code, status, body) in &corpus {
        let (got_status, got) = m.post("/v1/orders", body).await;
        assert_eq!(got["error"]["code"], *code, "expected {code}, got {got}");
        assert_eq!(got_status, *status, "{code}: {got}");
        assert!(
            got["error"]["message"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }

    // Raw bodies: malformed JSON and an oversized body.
    let (s, got) = m.post_raw("/v1/orders", b"{\"order\": ".to_vec()).await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (400, Some("malformed_request")),
        "{got}"
    );
    let (s, got) = m.post_raw("/v1/orders", vec![b' '; 17 * 1024]).await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{got}"
    );

    // Batch: per-order results in order; a too-large batch is refused as a whole.
    let mut inner_extra = good_body.clone();
    inner_extra["order"]["note"] = "hi".into();
    let batch =
        serde_json::json!({ "orders": [good_body, corpus[0].2, { "nope": 1 }, inner_extra] });
    let (s, got) = m.post("/v1/orders/batch", &batch).await;
    assert_eq!(s, 200, "{got}");
    let results = got["results"].as_array().expect("results");
    assert_eq!(results[0]["ok"]["status"], "duplicate");
    assert_eq!(results[1]["error"]["code"], "bad_signature");
    assert_eq!(results[2]["error"]["code"], "malformed_request");
    assert_eq!(results[3]["error"]["code"], "malformed_request", "{got}");
    assert!(
        results[3]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field `note`")),
        "{got}"
    );
    let nine = serde_json::json!({ "orders": vec![good_body.clone(); 9] });
    let (s, got) = m.post("/v1/orders/batch", &nine).await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (400, Some("batch_too_large"))
    );

    // Nothing accepted before is affected: one order stored, same receipt on resubmission.
    assert_eq!(m.store.counts().await.expect("counts").1, 1);
    let (s, again) = m.post("/v1/orders", &good_body).await;
    assert_eq!((s, again["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(again["operatorSignature"], accepted["operatorSignature"]);
    assert_eq!(again["receipt"]["index"], good_index);

    // After the gate (matcher clock), even valid new orders are refused; resubmission of an
    // accepted one still returns its receipt.
    let late = order(2, i, Side::Sell, 1_000, 50_000, 15, "late");
    net.commit_with_lock(2, &late, lock_for(&late)).await;
    m.clock.set(gate);
    let (s, got) = m
        .post(
            "/v1/orders",
            &submission(&late, &sign(2, &late, cid, auction), None),
        )
        .await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (409, Some("interval_closed")),
        "{got}"
    );
    let (s, again) = m.post("/v1/orders", &good_body).await;
    assert_eq!((s, again["status"].as_str()), (200, Some("duplicate")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_over_their_rate_are_refused() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::with_limits(
        &net,
        &sqlite_url(&dir),
        ApiLimits::default(),
        IntakeLimits {
            burst: 2,
            per_second: 0,
            ..IntakeLimits::default()
        },
    )
    .await;
    let (i, _) = net.open_interval().await;
    let o = order(1, i, Side::Buy, 1_000, 1_000, 1, "rate");
    net.commit_with_lock(1, &o, lock_for(&o)).await;
    let body = submission(&o, &sign(1, &o, net.chain_id, net.auction), None);
    assert_eq!(m.post("/v1/orders", &body).await.0, 200);
    assert_eq!(m.post("/v1/orders", &body).await.0, 200);
    let (s, got) = m.post("/v1/orders", &body).await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{got}"
    );
    // Another account is unaffected.
    let o2 = order(2, i, Side::Sell, 1_000, 1_000, 1, "rate2");
    net.commit_with_lock(2, &o2, lock_for(&o2)).await;
    let body2 = submission(&o2, &sign(2, &o2, net.chain_id, net.auction), None);
    assert_eq!(m.post("/v1/orders", &body2).await.0, 200);
}

/// Refusals of the read API are client errors in the JSON error shape: a malformed market or
/// interval in the path, and an interval beyond what any market can have (it was answered 503
/// `unavailable`, as if the store had failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batch_paths_are_json_client_errors() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::start(&net, &sqlite_url(&dir), Pipeline::Log).await;
    let market = demo_market();
    for (path, code) in [
        (
            format!("/v1/batches/{market}/{}", 1u64 << 63),
            "invalid_field",
        ),
        (
            format!("/v1/batches/{market}/{}", u64::MAX),
            "invalid_field",
        ),
        (format!("/v1/batches/{market}/five"), "malformed_request"),
        (format!("/v1/batches/{market}/-1"), "malformed_request"),
        ("/v1/batches/0x1234/5".to_owned(), "malformed_request"),
    ] {
        let (status, text) = m.get(&path).await;
        assert_eq!(status, 400, "{path}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
        assert_eq!(v["error"]["code"], code, "{path}: {text}");
    }
    // The largest storable interval is a valid query: not cleared, 404 in the same shape.
    let (status, text) = m.get(&format!("/v1/batches/{market}/{}", i64::MAX)).await;
    assert_eq!(status, 404, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["error"]["code"], "not_found");
}

/// Every refusal of a path, on every route, is in the JSON error shape: segments that do not
/// decode or parse, routes that do not exist, methods a route does not take (axum answered the
/// first in text/plain and the others with an empty body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_refusal_is_a_json_error() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::start(&net, &sqlite_url(&dir), Pipeline::Log).await;
    let market = demo_market();
    for (method, path, status, code) in [
        ("GET", "/v1/orders/%FF".to_owned(), 400, "malformed_request"),
        (
            "GET",
            "/v1/orders/0x12".to_owned(),
            400,
            "malformed_request",
        ),
        (
            "GET",
            format!("/v1/orders/{}", B256::ZERO),
            404,
            "not_found",
        ),
        (
            "GET",
            "/v1/batches/%FF/1".to_owned(),
            400,
            "malformed_request",
        ),
        (
            "GET",
            format!("/v1/batches/{market}/%FF"),
            400,
            "malformed_request",
        ),
        ("GET", "/v1/nothing".to_owned(), 404, "not_found"),
        ("GET", "/v1/orders".to_owned(), 405, "method_not_allowed"),
        ("POST", "/health".to_owned(), 405, "method_not_allowed"),
    ] {
        let r = m
            .http
            .request(method.parse().expect("method"), format!("{}{path}", m.base))
            .send()
            .await
            .expect("http");
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        let text = r.text().await.expect("body");
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        assert_eq!(v["error"]["code"], code, "{method} {path}: {text}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
}

/// A sell that did not fill is reported as a sell of 0 Wh (its fill word carries no side, and
/// was reported as `"side":"buy"`); the public batch view does not say which side it was on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfilled_sell_is_reported_as_a_sell() {
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::start(&net, &sqlite_url(&dir), Pipeline::Log).await;
    let (i, gate) = net.open_interval().await;
    let (cid, auction) = (net.chain_id, net.auction);
    // The buy crosses the cheap sell; the dear sell fills nothing.
    let buy = order(1, i, Side::Buy, 10_000, 100_000, 1, "fill-buy");
    let cheap = order(2, i, Side::Sell, 10_000, 50_000, 1, "fill-cheap");
    let dear = order(3, i, Side::Sell, 10_000, 900_000, 1, "fill-dear");
    let mut digests = Vec::new();
    for (k, o) in [(1, &buy), (2, &cheap), (3, &dear)] {
        net.commit_with_lock(k, o, lock_for(o)).await;
        let (s, got) = m
            .post(
                "/v1/orders",
                &submission(o, &sign(k, o, cid, auction), None),
            )
            .await;
        assert_eq!(s, 200, "{got}");
        digests.push(got["digest"].as_str().expect("digest").to_owned());
    }
    net.warp(gate).await;
    m.clock.set(gate);
    let row = m
        .scheduler
        .close_interval(demo_market(), i)
        .await
        .expect("cleared");
    assert_eq!(row.batch.fills[2], 0, "the dear sell filled nothing");
    let fill =
        |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("json")["fill"].clone();
    let (s, text) = m.get(&format!("/v1/orders/{}", digests[2])).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(
        fill(&text),
        serde_json::json!({ "excluded": false, "side": "sell", "filledWh": 0 }),
        "{text}"
    );
    let (_, text) = m.get(&format!("/v1/orders/{}", digests[1])).await;
    assert_eq!(fill(&text)["side"], "sell");
    assert_eq!(fill(&text)["filledWh"], 10_000);
    let (_, text) = m.get(&format!("/v1/orders/{}", digests[0])).await;
    assert_eq!(fill(&text)["side"], "buy");
    let (s, text) = m.get(&format!("/v1/batches/{}/{i}", demo_market())).await;
    assert_eq!(s, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        v["fills"][2],
        serde_json::json!({ "excluded": false, "side": null, "filledWh": 0 }),
        "{text}"
    );
}

#[test]
fn openapi_documents_every_route() {
    let doc: serde_json::Value =
        serde_json::from_str(sealgrid_matcher::api::OPENAPI).expect("valid JSON");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/v1/orders",
        "/v1/orders/batch",
        "/v1/orders/{digest}",
        "/v1/batches/{market}/{interval}",
        "/health",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} missing from openapi.json");
    }
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("codes");
    for c in [
        "bad_signature",
        "nonce_reused",
        "body_too_large",
        "insufficient_lock",
        "rate_limited",
        "client_rate_limited",
        "method_not_allowed",
    ] {
        assert!(codes.iter().any(|x| x == c), "{c} missing");
    }
}

alloy::sol! {
    #[sol(rpc)]
    contract ERC1271Wallet {
        function execute(address target, bytes data) external returns (bytes);
    }
}

/// Deploys the TEST-ONLY ERC-1271 account (contracts/test/utils/ERC1271Wallet.sol) owned by
/// dev key `owner`, funds it with payment tokens and approves the auction from it.
async fn smart_account(net: &Net, owner: usize) -> Address {
    use alloy::{
        network::TransactionBuilder,
        providers::Provider,
        rpc::types::TransactionRequest,
        sol_types::{SolCall, SolValue},
    };
    let artifact = root().join("out/ERC1271Wallet.sol/ERC1271Wallet.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&artifact).expect("run forge build"))
            .expect("artifact");
    let code: Bytes = serde_json::from_value(json["bytecode"]["object"].clone()).expect("bytecode");
    let mut init = code.to_vec();
    init.extend(signer(owner).address().abi_encode());
    let wallet = net.wallet(owner);
    let receipt = wallet
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .expect("deploy")
        .get_receipt()
        .await
        .expect("receipt");
    let account = receipt.contract_address.expect("created");
    let auction = sealgrid_chain::bindings::SealgridAuction::new(net.auction, net.provider.clone());
    let token: Address = {
        let (p, ..) = {
            let r = auction
                .getMarket(demo_market())
                .call()
                .await
                .expect("market");
            (r.p, r.seq)
        };
        p.token
    };
    let erc20 = sealgrid_chain::bindings::IERC20::new(token, wallet.clone());
    let r = erc20
        .transfer(account, alloy::primitives::U256::from(100_000_000u64))
        .send()
        .await
        .expect("fund");
    assert!(r.get_receipt().await.expect("receipt").status());
    let approve = sealgrid_chain::bindings::IERC20::approveCall {
        spender: net.auction,
        amount: alloy::primitives::U256::MAX,
    };
    let acct = ERC1271Wallet::new(account, wallet);
    let r = acct
        .execute(token, approve.abi_encode().into())
        .send()
        .await
        .expect("approve");
    assert!(r.get_receipt().await.expect("receipt").status());
    account
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_accounts_open_orders_through_erc1271() {
    use alloy::sol_types::SolCall;
    let net = Net::with_test_verifier().await;
    let dir = tempfile::tempdir().expect("tmp");
    let m = Matcher::start(&net, &sqlite_url(&dir), Pipeline::Log).await;
    let (i, _) = net.open_interval().await;
    let account = smart_account(&net, 1).await;

    // The account commits (through its owner) ...
    let mut o = order(1, i, Side::Buy, 2_000, 50_000, 1, "erc1271");
    o.trader = account;
    let commitment = sealgrid_types::order_commitment(&o).expect("commitment");
    let call = sealgrid_chain::bindings::SealgridAuction::commitCall {
        market: o.market,
        interval: o.interval,
        commitment,
        lock: lock_for(&o),
    };
    let acct = ERC1271Wallet::new(account, net.wallet(1));
    let r = acct
        .execute(net.auction, call.abi_encode().into())
        .send()
        .await
        .expect("commit");
    assert!(
        r.get_receipt().await.expect("receipt").status(),
        "commit through the account"
    );

    // ... and its owner's EIP-712 signature opens the order: no EOA recovers to the account,
    // so intake asks the account (ERC-1271).
    let body = submission(&o, &sign(1, &o, net.chain_id, net.auction), None);
    let (s, got) = m.post("/v1/orders", &body).await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["status"], "accepted");
    check_receipt(&net, &got, 0, &o);

    // A signature by someone else is refused by the account.
    let mut o2 = order(1, i, Side::Buy, 2_000, 50_000, 2, "erc1271-other");
    o2.trader = account;
    let (s, got) = m
        .post(
            "/v1/orders",
            &submission(&o2, &sign(2, &o2, net.chain_id, net.auction), None),
        )
        .await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (401, Some("bad_signature")),
        "{got}"
    );
}
