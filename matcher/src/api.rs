//! The HTTP API (axum): order intake, read endpoints, health, metrics, OpenAPI.

use std::sync::Arc;

use alloy_primitives::B256;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State, rejection::BytesRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use sealgrid_types::Fill;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Intake, IntakeError, indexer::Indexer, intake::SubmitOrder};

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// API limits.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Most orders in one batch request.
    pub max_batch: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_batch: 1_000,
        }
    }
}

#[derive(Clone, Debug)]
struct AppState {
    intake: Intake,
    indexer: Arc<Indexer>,
    limits: ApiLimits,
}

/// Builds the router from the intake pipeline and limits.
pub fn router(intake: Intake, indexer: Arc<Indexer>, limits: ApiLimits) -> Router {
    Router::new()
        .route("/v1/orders", post(submit))
        .route("/v1/orders/batch", post(submit_batch))
        .route("/v1/orders/{digest}", get(order_status))
        .route("/v1/batches/{market}/{interval}", get(batch))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(AppState {
            intake,
            indexer,
            limits,
        })
}

fn error_body(e: &IntakeError) -> Value {
    json!({ "error": { "code": e.code(), "message": e.to_string() } })
}

fn reject(e: IntakeError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(error_body(&e))).into_response()
}

fn not_found(what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": { "code": "not_found", "message": what } })),
    )
        .into_response()
}

fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    limits: ApiLimits,
) -> Result<Bytes, IntakeError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            IntakeError::BodyTooLarge {
                limit: limits.max_body_bytes,
            }
        } else {
            IntakeError::Malformed(r.body_text())
        }
    })
}

async fn submit(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let req = body_bytes(body, s.limits).and_then(|b| {
        serde_json::from_slice::<SubmitOrder>(&b).map_err(|e| IntakeError::Malformed(e.to_string()))
    });
    let r = match req {
        Ok(req) => s.intake.submit(req).await,
        Err(e) => {
            s.intake.metrics().record_intake(Err(e.code()));
            Err(e)
        }
    };
    match r {
        Ok(a) => (StatusCode::OK, Json(a)).into_response(),
        Err(e) => reject(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    orders: Vec<Value>,
}

async fn submit_batch(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let req = body_bytes(body, s.limits).and_then(|b| {
        serde_json::from_slice::<BatchRequest>(&b)
            .map_err(|e| IntakeError::Malformed(e.to_string()))
    });
    let req = match req {
        Ok(r) if r.orders.len() > s.limits.max_batch => {
            return reject(IntakeError::BatchTooLarge {
                got: r.orders.len(),
                limit: s.limits.max_batch,
            });
        }
        Ok(r) => r,
        Err(e) => return reject(e),
    };
    // Each order stands alone: one bad order does not affect the others.
    let mut parsed = Vec::with_capacity(req.orders.len());
    let mut slots = Vec::with_capacity(req.orders.len());
    for v in req.orders {
        match serde_json::from_value::<SubmitOrder>(v) {
            Ok(o) => {
                slots.push(None);
                parsed.push(o);
            }
            Err(e) => {
                let e = IntakeError::Malformed(e.to_string());
                s.intake.metrics().record_intake(Err(e.code()));
                slots.push(Some(error_body(&e)));
            }
        }
    }
    let mut outcomes = s.intake.submit_batch(parsed).await.into_iter();
    let results: Vec<Value> = slots
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| match outcomes.next() {
                Some(Ok(a)) => json!({ "ok": a }),
                Some(Err(e)) => error_body(&e),
                None => error_body(&IntakeError::Unavailable("order not processed".into())),
            })
        })
        .collect();
    (StatusCode::OK, Json(json!({ "results": results }))).into_response()
}

/// Fill word to a JSON description.
/// (A zero fill carries no side in its word and reads as a buy of 0 Wh.)
fn describe_fill(word: u64) -> Value {
    let (side, wh) = match Fill::decode(word) {
        Ok(Fill::Excluded) => return json!({ "excluded": true, "filledWh": 0 }),
        Ok(Fill::Zero) => ("buy", 0),
        Ok(Fill::Buy(wh)) => ("buy", wh),
        Ok(Fill::Sell(wh)) => ("sell", wh),
        // The store only holds words the scheduler encoded; say so rather than guess.
        Err(e) => return json!({ "excluded": false, "invalid": e.to_string() }),
    };
    json!({ "excluded": false, "side": side, "filledWh": wh })
}

async fn order_status(State(s): State<AppState>, Path(digest): Path<String>) -> Response {
    let Ok(digest) = digest.parse::<B256>() else {
        return reject(IntakeError::Malformed(
            "digest must be 32 bytes of hex".into(),
        ));
    };
    let store = s.intake.store();
    let o = match store.order(digest).await {
        Ok(Some(o)) => o,
        Ok(None) => return not_found(format!("no order {digest}")),
        Err(e) => return reject(IntakeError::Unavailable(e.to_string())),
    };
    let batch = match store.batch(o.market, o.interval).await {
        Ok(b) => b,
        Err(e) => return reject(IntakeError::Unavailable(e.to_string())),
    };
    // Only what the trader and the public may know: no limit price or quantity.
    let (status, fill) = match &batch {
        None => ("accepted", Value::Null),
        Some(b) => (
            "cleared",
            b.batch
                .fills
                .get(o.index as usize)
                .map_or(Value::Null, |w| describe_fill(*w)),
        ),
    };
    Json(json!({
        "digest": o.digest,
        "market": o.market,
        "interval": o.interval,
        "index": o.index,
        "trader": o.trader,
        "status": status,
        "fill": fill,
        "clearingPrice": batch.as_ref().and_then(|b| b.batch.price),
        "receivedAt": o.received_at,
    }))
    .into_response()
}

/// The largest interval index the store holds (intervals are stored as signed 64-bit integers;
/// `2^63 - 1` five-minute intervals is far past any real one).
const MAX_INTERVAL: u64 = i64::MAX as u64;

async fn batch(
    State(s): State<AppState>,
    // Both segments are parsed here, so every refusal has the JSON error shape (axum's own
    // path rejection answers in text/plain).
    Path((market, interval)): Path<(String, String)>,
) -> Response {
    let Ok(market) = market.parse::<B256>() else {
        return reject(IntakeError::Malformed(
            "market must be 32 bytes of hex".into(),
        ));
    };
    let Ok(interval) = interval.parse::<u64>() else {
        return reject(IntakeError::Malformed(
            "interval must be a non-negative integer".into(),
        ));
    };
    if interval > MAX_INTERVAL {
        return reject(IntakeError::InvalidField(format!(
            "interval {interval} is above the largest interval {MAX_INTERVAL}"
        )));
    }
    match s.intake.store().batch(market, interval).await {
        Ok(Some(row)) => Json(json!({
            "market": row.batch.market,
            "interval": row.batch.interval,
            "state": row.state.as_str(),
            "count": row.batch.count,
            "accumulator": row.batch.accumulator,
            "cleared": row.batch.price.is_some(),
            "price": row.batch.price,
            "volume": row.batch.volume,
            "fillWords": row.batch.fills,
            "fills": row.batch.fills.iter().map(|w| describe_fill(*w)).collect::<Vec<_>>(),
            "clearedAt": row.cleared_at,
            "handedAt": row.handed_at,
        }))
        .into_response(),
        Ok(None) => not_found(format!("interval {interval} of {market} is not cleared")),
        Err(e) => reject(IntakeError::Unavailable(e.to_string())),
    }
}

async fn health(State(s): State<AppState>) -> Response {
    let store = s.intake.store();
    let db = store.ping().await;
    let idx = s.indexer.state().await;
    let ok = db.is_ok() && idx.is_ok();
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "store": { "backend": store.backend(), "ok": db.is_ok() },
        "chainId": s.intake.domain().chain_id,
        "auction": s.intake.domain().verifying_contract,
        "operator": s.intake.operator(),
        "indexer": idx.ok().map(|i| json!({ "nextBlock": i.next_block, "syncedTime": i.synced_time })),
        "now": s.intake.clock().now(),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let totals = s.intake.store().counts().await.ok();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.intake.metrics().render(totals),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
