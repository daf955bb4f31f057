//! The delivery API: `POST /v1/readings` (gateway-signed meter readings) and `POST /v1/prices`
//! (oracle-signed real-time prices). Each item is checked and stored before the answer, which
//! says per item `accepted`, `duplicate` or `refused` with a stable code. A request that is not
//! JSON of the documented shape, or has more items than the limit, is refused whole (HTTP 400 /
//! 413), and so is one from a client over its rate limit (429 `client_rate_limited`); nothing
//! of such a request is stored.

use alloy::primitives::Bytes as HexBytes;
use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State, rejection::BytesRejection},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::post,
};
use sealgrid_chain::delivery::{SignedPrice, SignedReading};
use sealgrid_types::{MeterReading, RealTimePrice, TokenBuckets, client_key};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{DeliveryService, Outcome, Refusal};

/// The OpenAPI fragment of the delivery routes (merged into the node's `/openapi.json`).
pub const OPENAPI: &str = include_str!("openapi.json");

/// Limits of the delivery API.
#[derive(Clone, Copy, Debug)]
pub struct DeliveryLimits {
    /// Items per request.
    pub max_batch: usize,
    /// Bytes per request body.
    pub max_body_bytes: usize,
    /// Items (readings and prices together) one client — a network address, an IPv6 /64 —
    /// may post in a burst. Checked before any signature is recovered; a request over it is
    /// refused whole (429 `client_rate_limited`) and takes nothing from the bucket. A gateway
    /// of N meters posts N readings per interval.
    pub client_items_burst: u64,
    /// Sustained items per second per client.
    pub client_items_per_second: u64,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        Self {
            max_batch: 1_000,
            max_body_bytes: 1 << 20,
            client_items_burst: 20_000,
            client_items_per_second: 5_000,
        }
    }
}

#[derive(Clone)]
struct AppState {
    service: DeliveryService,
    limits: DeliveryLimits,
    clients: Arc<TokenBuckets<IpAddr>>,
}

/// The delivery routes over `service`. Serve them with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the per-client limit is keyed by the
/// peer's address (without it every request counts as one client).
pub fn router(service: DeliveryService, limits: DeliveryLimits) -> Router {
    Router::new()
        .route("/v1/readings", post(readings))
        .route("/v1/prices", post(prices))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(AppState {
            service,
            limits,
            clients: Arc::new(TokenBuckets::new(
                limits.client_items_burst,
                limits.client_items_per_second,
            )),
        })
}

/// The client a request comes from (see [`router`]): its limit key
/// ([`sealgrid_types::client_key`]), `0.0.0.0` without connection info.
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

/// Takes `n` items from the client's bucket, or the whole request's refusal.
fn admit(s: &AppState, client: IpAddr, n: usize) -> Result<(), Box<Response>> {
    let n = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
    if s.clients.allow_n(client, n) {
        Ok(())
    } else {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "client_rate_limited",
            format!(
                "{client} is over its limit of {} items per second (burst {}); nothing of this request was stored",
                s.limits.client_items_per_second, s.limits.client_items_burst
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        Err(Box::new(r))
    }
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// The body as a list of items under `field`, or the whole request's refusal.
fn items(
    body: Result<Bytes, BytesRejection>,
    field: &str,
    limits: DeliveryLimits,
) -> Result<Vec<Value>, Box<Response>> {
    let body = body.map_err(|r| {
        Box::new(if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body over {} bytes", limits.max_body_bytes),
            )
        } else {
            error(StatusCode::BAD_REQUEST, "malformed", r.body_text())
        })
    })?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("not JSON: {e}"),
        )
    })?;
    let list = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get(field))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("the body must be {{\"{field}\": [...]}}"),
            ))
        })?;
    if list.len() > limits.max_batch {
        return Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "{} items in one request; at most {} are taken",
                list.len(),
                limits.max_batch
            ),
        )));
    }
    Ok(list.clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingItem {
    reading: MeterReading,
    signature: HexBytes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceItem {
    price: RealTimePrice,
    signature: HexBytes,
}

fn signature(b: &HexBytes) -> Result<[u8; 65], String> {
    <[u8; 65]>::try_from(b.as_ref()).map_err(|_| format!("{} signature bytes, not 65", b.len()))
}

fn answer(outcomes: Vec<(Value, Outcome)>) -> Response {
    let (mut accepted, mut duplicates, mut refused) = (0, 0, 0);
    let results: Vec<Value> = outcomes
        .into_iter()
        .map(|(id, o)| {
            match &o {
                Outcome::Accepted => accepted += 1,
                Outcome::Duplicate => duplicates += 1,
                Outcome::Refused { .. } => refused += 1,
            }
            let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
            if let (Some(obj), Some(id)) = (v.as_object_mut(), id.as_object()) {
                obj.extend(id.clone());
            }
            v
        })
        .collect();
    (
        StatusCode::OK,
        Json(json!({
            "accepted": accepted, "duplicates": duplicates, "refused": refused,
            "results": results,
        })),
    )
        .into_response()
}

/// Runs `accept` over the items that parsed, and answers with one result per item.
async fn handle<T, F, Fut>(
    list: Vec<Value>,
    parse: impl Fn(Value) -> Result<(Value, T), (Value, String)>,
    accept: F,
) -> Response
where
    F: FnOnce(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = crate::DeliveryResult<Vec<Outcome>>>,
{
    let mut slots: Vec<(Value, Option<Outcome>)> = Vec::with_capacity(list.len());
    let mut good = Vec::new();
    for v in list {
        match parse(v) {
            Ok((id, t)) => {
                slots.push((id, None));
                good.push(t);
            }
            Err((id, why)) => slots.push((
                id,
                Some(Outcome::Refused {
                    code: Refusal::Malformed,
                    message: why,
                }),
            )),
        }
    }
    let outcomes = match accept(good).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "delivery intake failed; nothing stored");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("nothing was stored: {e}"),
            );
        }
    };
    let mut outcomes = outcomes.into_iter();
    let all = slots
        .into_iter()
        .map(|(id, o)| {
            let o = o.or_else(|| outcomes.next()).unwrap_or(Outcome::Refused {
                code: Refusal::Malformed,
                message: "not processed".into(),
            });
            (id, o)
        })
        .collect();
    answer(all)
}

async fn readings(
    State(s): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let list = match items(body, "readings", s.limits)
        .and_then(|l| admit(&s, client, l.len()).map(|()| l))
    {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let parse = |v: Value| {
        let id = json!({
            "meterId": v.pointer("/reading/meterId").cloned().unwrap_or(Value::Null),
            "interval": v.pointer("/reading/interval").cloned().unwrap_or(Value::Null),
            "revision": v.pointer("/reading/revision").cloned().unwrap_or(Value::Null),
        });
        let item: ReadingItem =
            serde_json::from_value(v).map_err(|e| (id.clone(), e.to_string()))?;
        let signature = signature(&item.signature).map_err(|e| (id.clone(), e))?;
        Ok((
            id,
            SignedReading {
                reading: item.reading,
                signature,
            },
        ))
    };
    let service = s.service.clone();
    handle(list, parse, |good| async move {
        service.accept_readings(good).await
    })
    .await
}

async fn prices(
    State(s): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let list = match items(body, "prices", s.limits)
        .and_then(|l| admit(&s, client, l.len()).map(|()| l))
    {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let parse = |v: Value| {
        let id = json!({
            "market": v.pointer("/price/market").cloned().unwrap_or(Value::Null),
            "interval": v.pointer("/price/interval").cloned().unwrap_or(Value::Null),
            "revision": v.pointer("/price/revision").cloned().unwrap_or(Value::Null),
        });
        let item: PriceItem = serde_json::from_value(v).map_err(|e| (id.clone(), e.to_string()))?;
        let signature = signature(&item.signature).map_err(|e| (id.clone(), e))?;
        Ok((
            id,
            SignedPrice {
                price: item.price,
                signature,
            },
        ))
    };
    let service = s.service.clone();
    handle(list, parse, |good| async move {
        service.accept_prices(good).await
    })
    .await
}
