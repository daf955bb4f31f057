//! The matcher's metrics, recorded through the `metrics` facade: whoever runs the matcher
//! installs the recorder (the node installs the Prometheus exporter and serves `/metrics`);
//! without one they cost nothing. Every name is listed in [`NAMES`] with its help text.

use alloy_primitives::B256;
use sealgrid_types::Metric;
use std::{collections::BTreeMap, sync::Mutex};

/// Orders submitted, by result (`result="ok",status=...` or `result="rejected",code=...`).
pub const INTAKE_TOTAL: &str = "sealgrid_intake_total";
/// Intervals cleared.
pub const BATCHES_CLEARED_TOTAL: &str = "sealgrid_batches_cleared_total";
/// Batches accepted by the proving pipeline.
pub const BATCHES_HANDED_OFF_TOTAL: &str = "sealgrid_batches_handed_off_total";
/// Failed hand-off attempts (each is retried).
pub const HANDOFF_FAILURES_TOTAL: &str = "sealgrid_handoff_failures_total";
/// The latest interval cleared.
pub const LAST_CLEARED_INTERVAL: &str = "sealgrid_last_cleared_interval";
/// How long clearing one interval took.
pub const CLEAR_SECONDS: &str = "sealgrid_clear_seconds";

/// Every metric the matcher records.
pub const NAMES: &[Metric] = &[
    Metric::counter(INTAKE_TOTAL, "Orders submitted, by result."),
    Metric::counter(BATCHES_CLEARED_TOTAL, "Intervals cleared."),
    Metric::counter(
        BATCHES_HANDED_OFF_TOTAL,
        "Batches accepted by the proving pipeline.",
    ),
    Metric::counter(
        HANDOFF_FAILURES_TOTAL,
        "Failed hand-off attempts to the proving pipeline (retried).",
    ),
    Metric::gauge(LAST_CLEARED_INTERVAL, "The latest interval cleared."),
    Metric::histogram(CLEAR_SECONDS, "Time to clear one interval, seconds."),
];

/// An interval a market's scheduler is closing: waiting for its gate, for the chain to pass it,
/// or for the intake in flight to finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closing {
    /// The market.
    pub market: B256,
    /// The interval.
    pub interval: u64,
    /// Its gate closure (unix seconds).
    pub gate: u64,
}

/// The matcher's recording points, and the intervals its schedulers are closing (which
/// `/health` and the node's gate-lag gauge read).
#[derive(Debug, Default)]
pub struct Metrics {
    closing: Mutex<BTreeMap<B256, Closing>>,
}

impl Metrics {
    /// Counts one intake outcome: `Ok(status)` or `Err(code)`.
    pub fn record_intake(&self, outcome: Result<&str, &'static str>) {
        match outcome {
            Ok(status) => {
                ::metrics::counter!(INTAKE_TOTAL, "result" => "ok", "status" => status.to_owned())
                    .increment(1);
            }
            Err(code) => {
                ::metrics::counter!(INTAKE_TOTAL, "result" => "rejected", "code" => code)
                    .increment(1);
            }
        }
    }

    /// The scheduler of `c.market` starts closing `c.interval`.
    pub fn record_closing(&self, c: Closing) {
        self.closing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(c.market, c);
    }

    /// The scheduler of `market` has cleared (and stored) `interval`.
    pub fn record_closed(&self, market: B256, interval: u64) {
        let mut closing = self.closing.lock().unwrap_or_else(|p| p.into_inner());
        if closing.get(&market).is_some_and(|c| c.interval == interval) {
            closing.remove(&market);
        }
    }

    /// The intervals the schedulers are closing now, one per market at most.
    pub fn closing(&self) -> Vec<Closing> {
        self.closing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .copied()
            .collect()
    }

    /// Counts a cleared batch and how long clearing took.
    pub fn record_cleared(&self, interval: u64, micros: u64) {
        ::metrics::counter!(BATCHES_CLEARED_TOTAL).increment(1);
        ::metrics::gauge!(LAST_CLEARED_INTERVAL).set(interval as f64);
        ::metrics::histogram!(CLEAR_SECONDS).record(micros as f64 / 1e6);
    }

    /// Counts a batch accepted by the pipeline, or a failed attempt.
    pub fn record_handoff(&self, ok: bool) {
        if ok {
            ::metrics::counter!(BATCHES_HANDED_OFF_TOTAL).increment(1);
        } else {
            ::metrics::counter!(HANDOFF_FAILURES_TOTAL).increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn records_counters_with_labels() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        ::metrics::with_local_recorder(&recorder, || {
            let m = Metrics::default();
            m.record_intake(Ok("accepted"));
            m.record_intake(Ok("accepted"));
            m.record_intake(Err("bad_signature"));
            m.record_cleared(7, 1500);
            m.record_handoff(false);
        });
        let values: Vec<(String, Vec<String>, DebugValue)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(k, _, _, v)| {
                let key = k.key();
                let labels = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (key.name().to_owned(), labels, v)
            })
            .collect();
        let find = |name: &str, labels: &[&str]| {
            values
                .iter()
                .find(|(n, l, _)| {
                    n == name && l.iter().map(String::as_str).eq(labels.iter().copied())
                })
                .map(|(_, _, v)| v)
        };
        assert_eq!(
            find(INTAKE_TOTAL, &["result=ok", "status=accepted"]),
            Some(&DebugValue::Counter(2))
        );
        assert_eq!(
            find(INTAKE_TOTAL, &["result=rejected", "code=bad_signature"]),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find(BATCHES_CLEARED_TOTAL, &[]),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find(HANDOFF_FAILURES_TOTAL, &[]),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find(BATCHES_HANDED_OFF_TOTAL, &[]),
            None,
            "never handed off"
        );
        match find(CLEAR_SECONDS, &[]) {
            Some(DebugValue::Histogram(h)) => assert_eq!(h.len(), 1),
            other => panic!("clear time not recorded: {other:?}"),
        }
        for (name, ..) in &values {
            assert!(
                NAMES.iter().any(|m| m.name == name),
                "{name} is not in NAMES"
            );
        }
    }

    #[test]
    fn closing_intervals_are_tracked_per_market_until_cleared() {
        let m = Metrics::default();
        let (a, b) = (B256::with_last_byte(1), B256::with_last_byte(2));
        let c = |market, interval| Closing {
            market,
            interval,
            gate: interval * 300,
        };
        m.record_closing(c(a, 7));
        m.record_closing(c(b, 9));
        m.record_closed(a, 6);
        assert_eq!(
            m.closing().len(),
            2,
            "another interval's close changes nothing"
        );
        m.record_closed(a, 7);
        assert_eq!(m.closing(), vec![c(b, 9)]);
        m.record_closing(c(b, 10));
        assert_eq!(m.closing(), vec![c(b, 10)], "one interval per market");
    }
}
