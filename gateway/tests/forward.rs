//! The forwarder against a node that refuses whole requests: a batch poisoned by one item the
//! node cannot parse (400) and batches over the node's size limit (413) are sent again in
//! halves; the poisoned item is marked refused `malformed_request` and every other reading is
//! delivered once, oldest first.

use std::sync::{Arc, Mutex};

use alloy_primitives::B256;
use axum::{Json, Router, http::StatusCode, routing::post};
use sealgrid_gateway::{Forwarder, Outbox, SignedItem};
use serde_json::{Value, json};

/// Request sizes the node saw.
type Seen = Arc<Mutex<Vec<usize>>>;

async fn node(limit: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/v1/readings",
        post(move |Json(body): Json<Value>| {
            let s = s.clone();
            async move {
                let items = body["readings"].as_array().cloned().unwrap_or_default();
                s.lock().expect("seen").push(items.len());
                if items.len() > limit {
                    return (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Json(json!({"message": "too many"})),
                    );
                }
                if items.iter().any(|i| i.get("reading").is_none()) {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"code": "malformed", "message": "readings[0]: no reading"})),
                    );
                }
                let results: Vec<Value> = items
                    .iter()
                    .map(|i| {
                        let r = &i["reading"];
                        json!({"meterId": r["meterId"], "interval": r["interval"],
                               "revision": r["revision"], "status": "accepted"})
                    })
                    .collect();
                (StatusCode::OK, Json(json!({"results": results})))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, seen)
}

fn item(meter: B256, interval: u64) -> SignedItem {
    SignedItem {
        interval,
        revision: 0,
        item: json!({"reading": {"meterId": meter, "interval": interval, "revision": 0},
                     "signature": "0x00"})
        .to_string(),
    }
}

#[tokio::test]
async fn a_poisoned_batch_is_split_and_only_the_bad_item_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let outbox = Outbox::open(&format!("sqlite:{}", dir.path().join("o.db").display()))
        .await
        .expect("outbox");
    let meter = B256::repeat_byte(3);
    let mut items: Vec<SignedItem> = (100..110).map(|i| item(meter, i)).collect();
    // The seventh is not a reading at all.
    items[6].item = json!({"bogus": true}).to_string();
    outbox
        .record(&meter, None, &items, 1)
        .await
        .expect("record");

    // The node takes at most 4 per request: 10 → 413 → 5 → 413 → 2+3 ...; the poisoned
    // item's request is 400 until it is alone.
    let (base, seen) = node(4).await;
    let r = Forwarder::new(&base, 500)
        .expect("forwarder")
        .pass(&outbox, 2)
        .await
        .expect("pass");
    assert_eq!((r.answered, r.refused, r.deferred), (10, 1, 0), "{r:?}");
    let c = outbox.counts().await.expect("counts");
    assert_eq!((c.accepted, c.refused, c.pending), (9, 1, 0));
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(seen[0], 10);
    assert!(
        seen.iter().all(|n| *n >= 1) && seen.contains(&1),
        "{seen:?}"
    );
    // Nothing left: a second pass sends nothing.
    let again = Forwarder::new(&base, 500)
        .expect("forwarder")
        .pass(&outbox, 3)
        .await
        .expect("pass");
    assert_eq!(again.answered, 0);
}

#[tokio::test]
async fn an_unreachable_node_leaves_everything_pending() {
    let dir = tempfile::tempdir().expect("tmp");
    let outbox = Outbox::open(&format!("sqlite:{}", dir.path().join("o.db").display()))
        .await
        .expect("outbox");
    let meter = B256::repeat_byte(4);
    let items: Vec<SignedItem> = (1..4).map(|i| item(meter, i)).collect();
    outbox
        .record(&meter, None, &items, 1)
        .await
        .expect("record");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let r = Forwarder::new(&closed, 500)
        .expect("f")
        .pass(&outbox, 2)
        .await
        .expect("pass");
    assert_eq!((r.answered, r.deferred), (0, 3));
    assert_eq!(outbox.counts().await.expect("counts").pending, 3);
}
