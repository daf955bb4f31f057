//! The retry layer every provider goes through (`sealgrid_chain::rpc`), against a local
//! JSON-RPC server that rate-limits its first answers.

#![allow(missing_docs)]

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use alloy::providers::Provider;
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::post};
use sealgrid_chain::{
    RetryPolicy,
    rpc::{connect_with_policy, rpc_url},
};
use serde_json::{Value, json};

/// What the server answers to request number `n` (from 0) with id `id`.
type Script = fn(usize, &Value) -> (StatusCode, Value);

#[derive(Clone)]
struct Server {
    seen: Arc<AtomicUsize>,
    script: Script,
}

async fn handle(State(s): State<Server>, Json(req): Json<Value>) -> impl IntoResponse {
    let n = s.seen.fetch_add(1, Ordering::SeqCst);
    let (status, body) = (s.script)(n, &req["id"]);
    (status, Json(body))
}

/// Serves `script` on a free loopback port: the URL and the count of requests seen.
async fn serve(script: Script) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route("/", post(handle)).with_state(Server {
        seen: seen.clone(),
        script,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn result(id: &Value, value: Value) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"jsonrpc": "2.0", "id": id, "result": value}),
    )
}

fn error(id: &Value, code: i64, message: &str) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

/// Fast retries for the tests (the defaults wait 500 ms).
fn policy(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_backoff_ms: 10,
        ..RetryPolicy::DEFAULT
    }
}

fn http_429_twice(n: usize, id: &Value) -> (StatusCode, Value) {
    if n < 2 {
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "too many requests"}),
        )
    } else {
        result(id, json!("0x7a69"))
    }
}

fn rpc_rate_limited_twice(n: usize, id: &Value) -> (StatusCode, Value) {
    match n {
        0 => error(id, 429, "Too Many Requests"),
        1 => error(id, -32005, "rate limited"),
        _ => result(id, json!("0x2a")),
    }
}

fn reverts(_: usize, id: &Value) -> (StatusCode, Value) {
    error(id, 3, "execution reverted")
}

#[tokio::test]
async fn http_429_is_retried_until_the_node_answers() {
    let (url, seen) = serve(http_429_twice).await;
    let provider = connect_with_policy(rpc_url(&url).expect("url"), &policy(10));
    assert_eq!(provider.get_chain_id().await.expect("retried"), 31_337);
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two 429s, then the answer");
}

#[tokio::test]
async fn json_rpc_rate_limit_errors_are_retried() {
    let (url, seen) = serve(rpc_rate_limited_twice).await;
    let provider = connect_with_policy(rpc_url(&url).expect("url"), &policy(10));
    assert_eq!(provider.get_block_number().await.expect("retried"), 42);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "429, -32005, then the answer"
    );
}

#[tokio::test]
async fn without_retries_a_rate_limit_fails() {
    let (url, seen) = serve(http_429_twice).await;
    let provider = connect_with_policy(rpc_url(&url).expect("url"), &policy(0));
    let e = provider.get_chain_id().await.expect_err("no retries");
    assert!(e.to_string().contains("429"), "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    // Fewer retries than rate-limited answers fail too.
    let (url, seen) = serve(http_429_twice).await;
    let provider = connect_with_policy(rpc_url(&url).expect("url"), &policy(1));
    provider
        .get_chain_id()
        .await
        .expect_err("one retry is not enough");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_revert_is_not_retried() {
    let (url, seen) = serve(reverts).await;
    let provider = connect_with_policy(rpc_url(&url).expect("url"), &policy(10));
    let e = provider.get_chain_id().await.expect_err("reverts");
    assert!(e.to_string().contains("execution reverted"), "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "asked once");
}

#[test]
fn the_default_policy_and_bad_urls() {
    assert_eq!(
        RetryPolicy::default(),
        RetryPolicy {
            max_retries: 10,
            initial_backoff_ms: 500,
            compute_units_per_second: 660,
        }
    );
    assert_eq!(RetryPolicy::NONE.max_retries, 0);
    let e = rpc_url("not a url").expect_err("bad");
    assert!(e.to_string().contains("not a url"), "{e}");
}
