//! The HTTP API (axum): order intake, read endpoints, health, OpenAPI. (`/metrics` is the
//! node's: it renders every service's metrics.)

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use alloy_primitives::B256;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, State,
        rejection::{BytesRejection, PathRejection},
    },
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use sealgrid_types::{Fill, Side};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ClientLimit, Intake, IntakeError, indexer::Indexer, intake::SubmitOrder};
use sealgrid_types::{TokenBuckets, client_key};

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// API limits.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Most orders in one batch request.
    pub max_batch: usize,
    /// Orders one client (network address; an IPv6 /64) may submit in a burst, a batch
    /// counting each of its orders. Checked before any other work on the request.
    pub client_orders_burst: u64,
    /// Sustained orders per second per client.
    pub client_orders_per_second: u64,
    /// `/health` reports the scheduler late (503) once the interval it is closing is this many
    /// seconds past its gate and not yet cleared.
    pub late_after_s: u64,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_batch: 1_000,
            client_orders_burst: 2_000,
            client_orders_per_second: 500,
            late_after_s: 30,
        }
    }
}

#[derive(Clone, Debug)]
struct AppState {
    intake: Intake,
    indexer: Arc<Indexer>,
    limits: ApiLimits,
    clients: Arc<TokenBuckets<IpAddr>>,
    openapi: Arc<str>,
}

/// Builds the router from the intake pipeline and limits. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the per-client limits are keyed by the
/// peer's address (without it every request counts as one unknown client).
///
/// `/openapi.json` serves `openapi` when given (the node's document: this one merged with the
/// other services' routes), else [`OPENAPI`].
pub fn router(
    intake: Intake,
    indexer: Arc<Indexer>,
    limits: ApiLimits,
    openapi: Option<String>,
) -> Router {
    Router::new()
        .route("/v1/orders", post(submit))
        .route("/v1/orders/batch", post(submit_batch))
        .route("/v1/orders/{digest}", get(order_status))
        .route("/v1/batches/{market}/{interval}", get(batch))
        .route("/health", get(health))
        .route("/openapi.json", get(serve_openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(AppState {
            intake,
            indexer,
            limits,
            clients: Arc::new(TokenBuckets::new(
                limits.client_orders_burst,
                limits.client_orders_per_second,
            )),
            openapi: Arc::from(openapi.unwrap_or_else(|| OPENAPI.to_owned())),
        })
}

/// The client a request comes from: the peer's IP address (an IPv6 address by its /64, the
/// block one subscriber holds; an IPv4-mapped one as IPv4), or `0.0.0.0` when the server was
/// not given the connection info.
struct Client(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Self(client_key(ip)))
    }
}

/// Takes `orders` from the client's order bucket, or refuses the whole request.
fn admit(s: &AppState, client: IpAddr, orders: usize) -> Result<(), IntakeError> {
    let n = u64::try_from(orders.max(1)).unwrap_or(u64::MAX);
    if s.clients.allow_n(client, n) {
        Ok(())
    } else {
        Err(IntakeError::ClientRateLimited {
            client,
            limit: ClientLimit::Orders,
        })
    }
}

async fn no_route() -> Response {
    not_found("no such route".into())
}

async fn wrong_method() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "error": { "code": "method_not_allowed",
            "message": "this route does not take that method" } })),
    )
        .into_response()
}

/// A path segment that did not parse, in the JSON error shape (axum's own rejection answers
/// in text/plain).
fn bad_path(r: &PathRejection) -> Response {
    reject(IntakeError::Malformed(format!("path: {}", r.body_text())))
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

async fn submit(
    State(s): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req = body_bytes(body, s.limits).and_then(|b| {
        serde_json::from_slice::<SubmitOrder>(&b).map_err(|e| IntakeError::Malformed(e.to_string()))
    });
    let req = req.and_then(|r| admit(&s, client, 1).map(|()| r));
    let r = match req {
        Ok(req) => s.intake.submit_from(Some(client), req).await,
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

async fn submit_batch(
    State(s): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Response {
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
        Ok(r) => match admit(&s, client, r.orders.len()) {
            Ok(()) => r,
            Err(e) => {
                s.intake.metrics().record_intake(Err(e.code()));
                return reject(e);
            }
        },
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
    let mut outcomes = s
        .intake
        .submit_batch_from(Some(client), parsed)
        .await
        .into_iter();
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

/// Fill word to a JSON description. A zero fill carries no side in its word: `side` is the
/// order's own side when the caller knows it (`order_side`), and `null` otherwise (the public
/// batch view does not say which side an unfilled order was on).
fn describe_fill(word: u64, order_side: Option<u8>) -> Value {
    let (side, wh) = match Fill::decode(word) {
        Ok(Fill::Excluded) => return json!({ "excluded": true, "filledWh": 0 }),
        Ok(Fill::Zero) => (
            order_side
                .and_then(|c| Side::try_from(c).ok())
                .map(side_name),
            0,
        ),
        Ok(Fill::Buy(wh)) => (Some("buy"), wh),
        Ok(Fill::Sell(wh)) => (Some("sell"), wh),
        // The store only holds words the scheduler encoded; say so rather than guess.
        Err(e) => return json!({ "excluded": false, "invalid": e.to_string() }),
    };
    json!({ "excluded": false, "side": side, "filledWh": wh })
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

async fn order_status(
    State(s): State<AppState>,
    digest: Result<Path<String>, PathRejection>,
) -> Response {
    let digest = match digest {
        Ok(Path(d)) => d,
        Err(r) => return bad_path(&r),
    };
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
                .map_or(Value::Null, |w| describe_fill(*w, Some(o.side))),
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
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let (market, interval) = match path {
        Ok(Path(p)) => p,
        Err(r) => return bad_path(&r),
    };
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
            "fills": row.batch.fills.iter().map(|w| describe_fill(*w, None)).collect::<Vec<_>>(),
            "clearedAt": row.cleared_at,
            "handedAt": row.handed_at,
        }))
        .into_response(),
        Ok(None) => not_found(format!("interval {interval} of {market} is not cleared")),
        Err(e) => reject(IntakeError::Unavailable(e.to_string())),
    }
}

/// Healthy (200) when the store and the indexer answer and no scheduler is late for its gate:
/// a market's scheduler is late once the interval it is closing is more than
/// [`ApiLimits::late_after_s`] past its gate and not cleared. Otherwise 503, with
/// `status` `degraded` (store or indexer) or `late`, and the late gates in `scheduler`.
async fn health(State(s): State<AppState>) -> Response {
    let store = s.intake.store();
    let db = store.ping().await;
    let idx = s.indexer.state().await;
    let now = s.intake.clock().now();
    let closing = s.intake.metrics().closing();
    let mut late = false;
    let scheduler: Vec<Value> = closing
        .iter()
        .map(|c| {
            let behind = now.saturating_sub(c.gate);
            let is_late = now >= c.gate.saturating_add(s.limits.late_after_s);
            late |= is_late;
            json!({ "market": c.market, "interval": c.interval, "gate": c.gate,
                "late": is_late, "secondsPastGate": behind })
        })
        .collect();
    let ok = db.is_ok() && idx.is_ok();
    let status = match (ok, late) {
        (false, _) => "degraded",
        (true, true) => "late",
        (true, false) => "ok",
    };
    let body = json!({
        "status": status,
        "store": { "backend": store.backend(), "ok": db.is_ok() },
        "chainId": s.intake.domain().chain_id,
        "auction": s.intake.domain().verifying_contract,
        "operator": s.intake.operator(),
        "indexer": idx.ok().map(|i| json!({ "nextBlock": i.next_block, "syncedTime": i.synced_time })),
        "scheduler": scheduler,
        "now": now,
    });
    let code = if ok && !late {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn serve_openapi(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        s.openapi.to_string(),
    )
        .into_response()
}
