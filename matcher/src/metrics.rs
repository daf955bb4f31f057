//! Counters for the Prometheus endpoint, rendered in the text exposition format.

use alloy_primitives::B256;
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

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

/// The matcher's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    intake: Mutex<BTreeMap<(&'static str, String), u64>>,
    closing: Mutex<BTreeMap<B256, Closing>>,
    batches_cleared: AtomicU64,
    batches_handed_off: AtomicU64,
    handoff_failures: AtomicU64,
    last_cleared_interval: AtomicU64,
    last_clear_micros: AtomicU64,
    intervals_settled: AtomicU64,
    intervals_voided: AtomicU64,
    last_prove_millis: AtomicU64,
    last_settle_gas: AtomicU64,
    last_settled_millis: AtomicU64,
}

impl Metrics {
    /// Counts one intake outcome: `Ok(status)` or `Err(code)`.
    pub fn record_intake(&self, outcome: Result<&str, &'static str>) {
        let key = match outcome {
            Ok(status) => ("ok", status.to_owned()),
            Err(code) => ("rejected", code.to_owned()),
        };
        *self
            .intake
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
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
        self.batches_cleared.fetch_add(1, Ordering::Relaxed);
        self.last_cleared_interval
            .store(interval, Ordering::Relaxed);
        self.last_clear_micros.store(micros, Ordering::Relaxed);
    }

    /// Counts a batch accepted by the pipeline, or a failed attempt.
    pub fn record_handoff(&self, ok: bool) {
        if ok {
            self.batches_handed_off.fetch_add(1, Ordering::Relaxed);
        } else {
            self.handoff_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an interval settled with a proof: proving time, settle gas and hand-off to
    /// confirmed settle time.
    pub fn record_settled(&self, prove_millis: u64, settle_gas: u64, settled_millis: u64) {
        self.intervals_settled.fetch_add(1, Ordering::Relaxed);
        self.last_prove_millis
            .store(prove_millis, Ordering::Relaxed);
        self.last_settle_gas.store(settle_gas, Ordering::Relaxed);
        self.last_settled_millis
            .store(settled_millis, Ordering::Relaxed);
    }

    /// Counts an interval voided because its settle window passed.
    pub fn record_voided(&self) {
        self.intervals_voided.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text, with store totals `(commitments, orders, batches)`.
    pub fn render(&self, totals: Option<(u64, u64, u64)>) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP sealgrid_intake_total Orders submitted, by result."
        );
        let _ = writeln!(s, "# TYPE sealgrid_intake_total counter");
        for ((result, what), n) in self.intake.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let label = if *result == "ok" { "status" } else { "code" };
            let _ = writeln!(
                s,
                "sealgrid_intake_total{{result=\"{result}\",{label}=\"{what}\"}} {n}"
            );
        }
        let counters = [
            (
                "sealgrid_batches_cleared_total",
                "Intervals cleared.",
                &self.batches_cleared,
            ),
            (
                "sealgrid_batches_handed_off_total",
                "Batches accepted by the proving pipeline.",
                &self.batches_handed_off,
            ),
            (
                "sealgrid_handoff_failures_total",
                "Failed hand-off attempts (retried).",
                &self.handoff_failures,
            ),
            (
                "sealgrid_intervals_settled_total",
                "Intervals proven and settled by this process.",
                &self.intervals_settled,
            ),
            (
                "sealgrid_intervals_voided_total",
                "Intervals voided because the settle window passed (an alert condition).",
                &self.intervals_voided,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let gauges = [
            (
                "sealgrid_last_cleared_interval",
                "Latest interval cleared.",
                &self.last_cleared_interval,
            ),
            (
                "sealgrid_last_clear_microseconds",
                "Duration of the latest clearing.",
                &self.last_clear_micros,
            ),
            (
                "sealgrid_last_prove_milliseconds",
                "Proving time of the latest settled interval.",
                &self.last_prove_millis,
            ),
            (
                "sealgrid_last_settle_gas",
                "Gas of the latest settle transaction.",
                &self.last_settle_gas,
            ),
            (
                "sealgrid_last_settle_latency_milliseconds",
                "Hand-off (gate) to confirmed settle of the latest interval.",
                &self.last_settled_millis,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        if let Some((c, o, b)) = totals {
            let _ = writeln!(
                s,
                "# HELP sealgrid_store_rows Rows in the store, by table.\n# TYPE sealgrid_store_rows gauge"
            );
            let _ = writeln!(s, "sealgrid_store_rows{{table=\"commitments\"}} {c}");
            let _ = writeln!(s, "sealgrid_store_rows{{table=\"orders\"}} {o}");
            let _ = writeln!(s, "sealgrid_store_rows{{table=\"batches\"}} {b}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::default();
        m.record_intake(Ok("accepted"));
        m.record_intake(Ok("accepted"));
        m.record_intake(Err("bad_signature"));
        m.record_cleared(7, 1500);
        let text = m.render(Some((3, 2, 1)));
        assert!(
            text.contains("sealgrid_intake_total{result=\"ok\",status=\"accepted\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("sealgrid_intake_total{result=\"rejected\",code=\"bad_signature\"} 1")
        );
        assert!(text.contains("sealgrid_batches_cleared_total 1"));
        assert!(text.contains("sealgrid_last_cleared_interval 7"));
        assert!(text.contains("sealgrid_store_rows{table=\"orders\"} 2"));
        m.record_settled(13_800, 393_317, 15_000);
        m.record_voided();
        let text = m.render(None);
        assert!(
            text.contains("sealgrid_intervals_settled_total 1"),
            "{text}"
        );
        assert!(text.contains("sealgrid_intervals_voided_total 1"));
        assert!(text.contains("sealgrid_last_settle_gas 393317"));
        assert!(text.contains("sealgrid_last_settle_latency_milliseconds 15000"));
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
