//! The delivery service's metrics, recorded through the `metrics` facade (the node installs
//! the Prometheus exporter and serves `/metrics`). Every name is in [`NAMES`].

use sealgrid_types::Metric;

use alloy::primitives::B256;

use crate::{Outcome, Pass};

/// Readings and prices submitted, by kind and result.
pub const INTAKE_TOTAL: &str = "sealgrid_delivery_intake_total";
/// Readings the chain refused after intake accepted them.
pub const CHAIN_REFUSED_TOTAL: &str = "sealgrid_delivery_chain_refused_total";
/// Market intervals settled.
pub const SETTLED_TOTAL: &str = "sealgrid_delivery_settled_total";
/// Market intervals resettled.
pub const RESETTLED_TOTAL: &str = "sealgrid_delivery_resettled_total";
/// Reading deadline to delivery settled (meter-to-cash), seconds.
pub const READING_TO_SETTLED_SECONDS: &str = "sealgrid_reading_to_settled_seconds";
/// Late or corrected reading (or revised price) landed to resettled, seconds.
pub const RESETTLE_SECONDS: &str = "sealgrid_resettle_seconds";
/// Certificates issued, Wh.
pub const CERTIFICATES_ISSUED_WH_TOTAL: &str = "sealgrid_certificates_issued_wh_total";
/// Certificates moved along fills, Wh.
pub const CERTIFICATES_MOVED_WH_TOTAL: &str = "sealgrid_certificates_moved_wh_total";

/// Every metric the delivery service records.
pub const NAMES: &[Metric] = &[
    Metric::counter(
        INTAKE_TOTAL,
        "Readings and prices submitted, by kind and result (accepted, duplicate, refused with its code).",
    ),
    Metric::counter(
        CHAIN_REFUSED_TOTAL,
        "Readings the chain refused after intake accepted them.",
    ),
    Metric::counter(SETTLED_TOTAL, "Market intervals settled."),
    Metric::counter(RESETTLED_TOTAL, "Market intervals resettled."),
    Metric::histogram(
        READING_TO_SETTLED_SECONDS,
        "Reading deadline to delivery settled (meter-to-cash), seconds.",
    ),
    Metric::histogram(
        RESETTLE_SECONDS,
        "Late or corrected reading (or revised price) landed to resettled, seconds.",
    ),
    Metric::counter(
        CERTIFICATES_ISSUED_WH_TOTAL,
        "Granular certificates issued, Wh.",
    ),
    Metric::counter(
        CERTIFICATES_MOVED_WH_TOTAL,
        "Granular certificates moved from sellers to buyers along the fills, Wh.",
    ),
];

/// Counts the outcomes of one intake request of `kind` (`"reading"` or `"price"`).
pub(crate) fn intake<'a>(kind: &'static str, out: impl IntoIterator<Item = &'a Outcome>) {
    for o in out {
        match o {
            Outcome::Accepted => {
                ::metrics::counter!(INTAKE_TOTAL, "kind" => kind, "result" => "accepted")
                    .increment(1);
            }
            Outcome::Duplicate => {
                ::metrics::counter!(INTAKE_TOTAL, "kind" => kind, "result" => "duplicate")
                    .increment(1);
            }
            Outcome::Refused { code, .. } => {
                ::metrics::counter!(INTAKE_TOTAL, "kind" => kind, "result" => "refused", "code" => code.code())
                    .increment(1);
            }
        }
    }
}

/// Seconds from `since` (unix seconds) to now, 0 if `since` is ahead of this machine's clock.
pub(crate) fn seconds_since(since: u64) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    (now - since as f64).max(0.0)
}

/// An interval settled, `latency_s` after its reading deadline.
pub(crate) fn settled(latency_s: f64) {
    ::metrics::counter!(SETTLED_TOTAL).increment(1);
    ::metrics::histogram!(READING_TO_SETTLED_SECONDS).record(latency_s);
}

/// An interval resettled, `latency_s` after the first change queued it.
pub(crate) fn resettled(latency_s: f64) {
    ::metrics::counter!(RESETTLED_TOTAL).increment(1);
    ::metrics::histogram!(RESETTLE_SECONDS).record(latency_s);
}

/// Counts what one pass of the delivery loop took on-chain that the pass itself reports:
/// readings the chain refused, certificates issued and moved. (Settlement and resettlement
/// are recorded where they happen, with their latencies.)
pub fn record_pass(p: &Pass) {
    if p.refused > 0 {
        ::metrics::counter!(CHAIN_REFUSED_TOTAL).increment(p.refused as u64);
    }
    let wh = |v: &[(B256, u64, u128)]| {
        v.iter()
            .map(|(_, _, wh)| u64::try_from(*wh).unwrap_or(u64::MAX))
            .fold(0u64, u64::saturating_add)
    };
    let (issued, moved) = (wh(&p.issued), wh(&p.moved));
    if issued > 0 {
        ::metrics::counter!(CERTIFICATES_ISSUED_WH_TOTAL).increment(issued);
    }
    if moved > 0 {
        ::metrics::counter!(CERTIFICATES_MOVED_WH_TOTAL).increment(moved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Refusal;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn intake_outcomes_are_counted_by_kind_and_code() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        ::metrics::with_local_recorder(&recorder, || {
            let reading = [
                Some(Outcome::Accepted),
                Some(Outcome::Accepted),
                Some(Outcome::Duplicate),
                Some(Outcome::Refused {
                    code: Refusal::Conflict,
                    message: String::new(),
                }),
                None,
            ];
            intake("reading", reading.iter().flatten());
            intake("price", &[Outcome::Accepted]);
            settled(12.5);
            resettled(3.0);
            record_pass(&Pass {
                refused: 2,
                moved: vec![(B256::ZERO, 3, 1000), (B256::ZERO, 4, 500)],
                ..Pass::default()
            });
        });
        let mut seen = Vec::new();
        for (k, _, _, v) in snapshotter.snapshot().into_vec() {
            let key = k.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            assert!(
                NAMES.iter().any(|m| m.name == key.name()),
                "{} is not in NAMES",
                key.name()
            );
            seen.push((key.name().to_owned(), labels.join(","), v));
        }
        let get = |name: &str, labels: &str| {
            seen.iter()
                .find(|(n, l, _)| n == name && l == labels)
                .map(|(_, _, v)| v)
        };
        assert_eq!(
            get(INTAKE_TOTAL, "kind=reading,result=accepted"),
            Some(&DebugValue::Counter(2))
        );
        assert_eq!(
            get(INTAKE_TOTAL, "kind=reading,result=duplicate"),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            get(
                INTAKE_TOTAL,
                &format!(
                    "kind=reading,result=refused,code={}",
                    Refusal::Conflict.code()
                )
            ),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            get(INTAKE_TOTAL, "kind=price,result=accepted"),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(get(SETTLED_TOTAL, ""), Some(&DebugValue::Counter(1)));
        assert_eq!(
            get(CERTIFICATES_MOVED_WH_TOTAL, ""),
            Some(&DebugValue::Counter(1500))
        );
        assert_eq!(
            get(CERTIFICATES_ISSUED_WH_TOTAL, ""),
            None,
            "nothing issued"
        );
        assert_eq!(get(CHAIN_REFUSED_TOTAL, ""), Some(&DebugValue::Counter(2)));
        match get(READING_TO_SETTLED_SECONDS, "") {
            Some(DebugValue::Histogram(h)) => assert_eq!(h.len(), 1),
            other => panic!("meter-to-cash not recorded: {other:?}"),
        }
    }
}
