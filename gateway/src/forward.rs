//! Delivery of the outbox to the node's `POST /v1/readings`, oldest first.

use std::time::Duration;

use serde_json::Value;

use crate::{
    error::GatewayResult,
    outbox::{Delivered, Outbox, Pending},
};

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardReport {
    /// Readings answered by the node (accepted, duplicate or refused).
    pub answered: usize,
    /// Of those, refused.
    pub refused: usize,
    /// Readings left pending because the node could not be reached or was not ready.
    pub deferred: usize,
    /// How long the node asked to wait (HTTP 429 `Retry-After`).
    pub retry_after: Option<Duration>,
}

/// Posts pending readings to a node.
#[derive(Clone, Debug)]
pub struct Forwarder {
    http: reqwest::Client,
    url: String,
    batch: u32,
}

impl Forwarder {
    /// A forwarder to the node at `base` (its API root), `batch` readings per request.
    pub fn new(base: &str, batch: u32) -> GatewayResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| crate::GatewayError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            url: format!("{}/v1/readings", base.trim_end_matches('/')),
            batch,
        })
    }

    /// Sends one batch of the outbox. An unreachable or failing node leaves everything
    /// pending (the report says how many); only the node's per-reading answers change the
    /// outbox. A batch the node refuses whole — `400` (one item it cannot even parse poisons
    /// the request) or `413` (too large) — is sent again in halves, down to single readings;
    /// a single reading the node answers `400` or `413` is marked refused
    /// (`malformed_request` / `too_large`, with the node's message), so one bad item never
    /// holds the outbox back.
    pub async fn pass(&self, outbox: &Outbox, now: u64) -> GatewayResult<ForwardReport> {
        let pending = outbox.pending(self.batch).await?;
        if pending.is_empty() {
            return Ok(ForwardReport::default());
        }
        let mut queue = std::collections::VecDeque::from([(0, pending.len())]);
        let mut results = Vec::new();
        let mut report = ForwardReport::default();
        while let Some((from, to)) = queue.pop_front() {
            let chunk = &pending[from..to];
            match self.post(chunk).await {
                Post::Answered(r) => results.extend(r),
                Post::Deferred(retry_after) => {
                    report.deferred = pending.len() - from;
                    report.retry_after = retry_after;
                    break;
                }
                Post::Whole { code, message } if chunk.len() == 1 => {
                    tracing::warn!(seq = chunk[0].seq, code, %message, "the node refused a reading's request");
                    results.push((
                        chunk[0].seq,
                        Delivered::Refused {
                            code: code.to_owned(),
                            message,
                        },
                    ));
                }
                Post::Whole { code, .. } => {
                    tracing::warn!(
                        readings = chunk.len(),
                        code,
                        "the node refused a whole batch; sending it in halves"
                    );
                    let mid = from + chunk.len() / 2;
                    queue.push_front((mid, to));
                    queue.push_front((from, mid));
                }
            }
        }
        report.refused = results
            .iter()
            .filter(|(_, d)| matches!(d, Delivered::Refused { .. }))
            .count();
        for (seq, d) in &results {
            if let Delivered::Refused { code, message } = d {
                tracing::warn!(seq, code, message, "the node refused a reading");
            }
        }
        report.answered = results.len();
        if !results.is_empty() {
            outbox.delivered(&results, now).await?;
        }
        Ok(report)
    }

    /// Posts `items` in one request.
    async fn post(&self, items: &[Pending]) -> Post {
        let mut body = String::from("{\"readings\":[");
        for (i, p) in items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&p.item);
        }
        body.push_str("]}");
        let response = match self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "node unreachable; readings stay in the outbox");
                return Post::Deferred(None);
            }
        };
        let status = response.status();
        match status.as_u16() {
            429 => {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse::<u64>().ok())
                    .map_or(Duration::from_secs(1), Duration::from_secs);
                return Post::Deferred(Some(wait));
            }
            400 | 413 => {
                let code = if status.as_u16() == 400 {
                    "malformed_request"
                } else {
                    "too_large"
                };
                let text = response.text().await.unwrap_or_default();
                let message = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| text.chars().take(300).collect());
                return Post::Whole { code, message };
            }
            _ => {}
        }
        if !status.is_success() {
            tracing::warn!(%status, "the node did not take the batch; readings stay in the outbox");
            return Post::Deferred(None);
        }
        let answer: Value = match response.json().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "the node's answer is not JSON; readings stay in the outbox");
                return Post::Deferred(None);
            }
        };
        match matched(items, &answer) {
            Some(r) => Post::Answered(r),
            None => {
                tracing::warn!(
                    "the node's answer does not match the batch; readings stay in the outbox"
                );
                Post::Deferred(None)
            }
        }
    }
}

/// What one request gave.
enum Post {
    /// One answer per reading.
    Answered(Vec<(i64, Delivered)>),
    /// Not answered: try later (after the node's `Retry-After`, if it gave one).
    Deferred(Option<Duration>),
    /// The request was refused whole (`400` or `413`).
    Whole { code: &'static str, message: String },
}

/// The answer's results paired with the batch, when there is one per reading, in order, each
/// naming the reading it answers.
fn matched(pending: &[Pending], answer: &Value) -> Option<Vec<(i64, Delivered)>> {
    let results = answer.get("results")?.as_array()?;
    if results.len() != pending.len() {
        return None;
    }
    pending
        .iter()
        .zip(results)
        .map(|(p, r)| {
            let item: Value = serde_json::from_str(&p.item).ok()?;
            for key in ["meterId", "interval", "revision"] {
                if item.pointer(&format!("/reading/{key}")) != r.get(key) {
                    return None;
                }
            }
            let d = match r.get("status")?.as_str()? {
                "accepted" => Delivered::Accepted,
                "duplicate" => Delivered::Duplicate,
                "refused" => Delivered::Refused {
                    code: r.get("code")?.as_str()?.to_string(),
                    message: r
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                },
                _ => return None,
            };
            Some((p.seq, d))
        })
        .collect()
}
