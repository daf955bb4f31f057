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
    /// outbox.
    pub async fn pass(&self, outbox: &Outbox, now: u64) -> GatewayResult<ForwardReport> {
        let pending = outbox.pending(self.batch).await?;
        if pending.is_empty() {
            return Ok(ForwardReport::default());
        }
        let mut body = String::from("{\"readings\":[");
        for (i, p) in pending.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&p.item);
        }
        body.push_str("]}");
        let deferred = |retry_after| ForwardReport {
            deferred: pending.len(),
            retry_after,
            ..ForwardReport::default()
        };
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
                return Ok(deferred(None));
            }
        };
        let status = response.status();
        if status.as_u16() == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            return Ok(deferred(Some(wait)));
        }
        if !status.is_success() {
            tracing::warn!(%status, "the node did not take the batch; readings stay in the outbox");
            return Ok(deferred(None));
        }
        let answer: Value = match response.json().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "the node's answer is not JSON; readings stay in the outbox");
                return Ok(deferred(None));
            }
        };
        let Some(results) = matched(&pending, &answer) else {
            tracing::warn!(
                "the node's answer does not match the batch; readings stay in the outbox"
            );
            return Ok(deferred(None));
        };
        let refused = results
            .iter()
            .filter(|(_, d)| matches!(d, Delivered::Refused { .. }))
            .count();
        for (seq, d) in &results {
            if let Delivered::Refused { code, message } = d {
                tracing::warn!(seq, code, message, "the node refused a reading");
            }
        }
        outbox.delivered(&results, now).await?;
        Ok(ForwardReport {
            answered: results.len(),
            refused,
            deferred: 0,
            retry_after: None,
        })
    }
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
