//! What the demo and the delivery benchmark do against a node's delivery API: signed readings
//! and prices as request items, a post that answers the node's counts, and polling the node's
//! store until a step is done.

use std::time::{Duration, Instant};

use sealgrid_chain::delivery::{SignedPrice, SignedReading};
use serde_json::Value;

use crate::{DevkitError, DevkitResult};

fn api_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("node API: {e}"))
}

/// A signed reading as an item of `POST /v1/readings`.
pub(crate) fn reading_item(s: &SignedReading) -> Value {
    serde_json::json!({ "reading": s.reading, "signature": alloy::primitives::hex::encode_prefixed(s.signature) })
}

/// A signed price as an item of `POST /v1/prices`.
pub(crate) fn price_item(p: &SignedPrice) -> Value {
    serde_json::json!({ "price": p.price, "signature": alloy::primitives::hex::encode_prefixed(p.signature) })
}

/// Posts items to the node's `/v1/{what}` (`readings` or `prices`); none may be refused.
/// Returns how many were accepted (the rest were duplicates).
pub(crate) async fn post(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    items: Vec<Value>,
) -> DevkitResult<u64> {
    let answer: Value = http
        .post(format!("{base}/v1/{what}"))
        .json(&serde_json::json!({ what: items }))
        .send()
        .await
        .map_err(api_err)?
        .json()
        .await
        .map_err(api_err)?;
    if answer["refused"].as_u64() != Some(0) {
        return Err(api_err(format!("the node refused {what}: {answer}")));
    }
    answer["accepted"]
        .as_u64()
        .ok_or_else(|| api_err(format!("the node answered {answer}")))
}

/// Polls `done` every `every` until it holds, for at most `limit`.
pub(crate) async fn wait_for<F, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    done: F,
) -> DevkitResult<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = DevkitResult<bool>>,
{
    let started = Instant::now();
    while !done().await? {
        if started.elapsed() > limit {
            return Err(api_err(format!("waited {} s for {what}", limit.as_secs())));
        }
        tokio::time::sleep(every).await;
    }
    Ok(())
}
