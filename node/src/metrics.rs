//! The node's metrics. One Prometheus recorder per process ([`exporter`]) receives what every
//! service records through the `metrics` facade; the node renders it at `GET /metrics`, together
//! with what only the node sees: settle reports (prove time, gate to settled), the latency of
//! every intake request, how late each scheduler is past its gate, and the balances the
//! operator must keep up (gas, bond, paymaster deposit, balancing account), read from the chain
//! every [`CHAIN_GAUGES_PERIOD`].
//!
//! `deploy/alerts/sealgrid.rules.yml` alerts on these names; [`all`] lists every one of them
//! and a test checks that the rules use no other.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, U256};
use axum::{
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sealgrid_chain::desk::{Desk, format_units};
use sealgrid_matcher::{Clock, Metrics};
use sealgrid_settlement::{SettleReport, Settled};
use sealgrid_store::Store;
use sealgrid_types::{Metric, MetricKind};

/// Proving time of a settled interval, seconds.
pub const PROVE_SECONDS: &str = "sealgrid_prove_seconds";
/// Gate closure (hand-off) to the settle confirmed on-chain, seconds.
pub const GATE_TO_SETTLED_SECONDS: &str = "sealgrid_gate_to_settled_seconds";
/// Intake request latency by route, seconds.
pub const INTAKE_SECONDS: &str = "sealgrid_intake_seconds";
/// Intervals proven and settled by this node.
pub const INTERVALS_SETTLED_TOTAL: &str = "sealgrid_intervals_settled_total";
/// Intervals voided because their settle window passed.
pub const INTERVALS_VOIDED_TOTAL: &str = "sealgrid_intervals_voided_total";
/// Gas of the latest settle transaction.
pub const LAST_SETTLE_GAS: &str = "sealgrid_last_settle_gas";
/// Seconds a market's scheduler is past the gate of the interval it is closing.
pub const GATE_LAG_SECONDS: &str = "sealgrid_gate_lag_seconds";
/// Delivery passes that failed (each is retried a second later).
pub const DELIVERY_PASS_FAILURES_TOTAL: &str = "sealgrid_delivery_pass_failures_total";
/// The operator's gas balance, in the chain's native unit (ETH).
pub const OPERATOR_BALANCE_ETH: &str = "sealgrid_operator_balance_eth";
/// The operator's bond per market, token units.
pub const BOND: &str = "sealgrid_bond";
/// The minimum bond per market, token units.
pub const BOND_MINIMUM: &str = "sealgrid_bond_minimum";
/// What one proven censorship slashes from the bond, token units.
pub const BOND_SLASH: &str = "sealgrid_bond_slash";
/// The paymaster's EntryPoint deposit, ETH.
pub const PAYMASTER_DEPOSIT_ETH: &str = "sealgrid_paymaster_deposit_eth";
/// The balancing account's free balance per market, token units.
pub const BALANCING_BALANCE: &str = "sealgrid_balancing_balance";
/// The balancing account's reserved collateral per market, token units.
pub const BALANCING_RESERVED: &str = "sealgrid_balancing_reserved";
/// When the chain gauges were last read successfully, unix seconds.
pub const CHAIN_GAUGES_TIMESTAMP: &str = "sealgrid_chain_gauges_timestamp_seconds";
/// Failed reads of the chain gauges.
pub const CHAIN_GAUGE_FAILURES_TOTAL: &str = "sealgrid_chain_gauge_failures_total";
/// Rows in the store, by table.
pub const STORE_ROWS: &str = "sealgrid_store_rows";

/// How often the node reads the balances behind its chain gauges.
pub const CHAIN_GAUGES_PERIOD: Duration = Duration::from_secs(30);

/// Every metric the node itself records.
pub const NAMES: &[Metric] = &[
    Metric::histogram(
        PROVE_SECONDS,
        "Proving time of a settled interval, seconds.",
    ),
    Metric::histogram(
        GATE_TO_SETTLED_SECONDS,
        "Gate closure (hand-off) to the settle confirmed on-chain, seconds.",
    ),
    Metric::histogram(INTAKE_SECONDS, "Intake request latency by route, seconds."),
    Metric::counter(
        INTERVALS_SETTLED_TOTAL,
        "Intervals proven and settled by this node.",
    ),
    Metric::counter(
        INTERVALS_VOIDED_TOTAL,
        "Intervals voided because their settle window passed (the locks are refundable).",
    ),
    Metric::gauge(LAST_SETTLE_GAS, "Gas of the latest settle transaction."),
    Metric::gauge(
        GATE_LAG_SECONDS,
        "Seconds a market's scheduler is past the gate of the interval it is closing (0: on time).",
    ),
    Metric::counter(
        DELIVERY_PASS_FAILURES_TOTAL,
        "Delivery passes that failed (retried a second later).",
    ),
    Metric::gauge(
        OPERATOR_BALANCE_ETH,
        "The operator's gas balance, in the chain's native unit.",
    ),
    Metric::gauge(BOND, "The operator's bond per market, token units."),
    Metric::gauge(BOND_MINIMUM, "The minimum bond per market, token units."),
    Metric::gauge(
        BOND_SLASH,
        "What one proven censorship slashes from the bond, token units.",
    ),
    Metric::gauge(
        PAYMASTER_DEPOSIT_ETH,
        "The market paymaster's EntryPoint deposit, in the chain's native unit.",
    ),
    Metric::gauge(
        BALANCING_BALANCE,
        "The balancing account's free balance in the delivery settlement, token units.",
    ),
    Metric::gauge(
        BALANCING_RESERVED,
        "The balancing account's collateral reserved for positions settled on estimates, token units.",
    ),
    Metric::gauge(
        CHAIN_GAUGES_TIMESTAMP,
        "When the chain gauges were last read successfully, unix seconds.",
    ),
    Metric::counter(
        CHAIN_GAUGE_FAILURES_TOTAL,
        "Failed reads of the chain gauges (RPC errors).",
    ),
    Metric::gauge(STORE_ROWS, "Rows in the store, by table."),
];

/// Every metric the node exports: the matcher's, the delivery service's and its own.
pub fn all() -> impl Iterator<Item = &'static Metric> {
    sealgrid_matcher::metrics::NAMES
        .iter()
        .chain(sealgrid_delivery::metrics::NAMES)
        .chain(NAMES)
}

/// Bucket bounds (seconds) of the latency histograms.
const BUCKETS: &[(&str, &[f64])] = &[
    (
        PROVE_SECONDS,
        &[
            1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0,
        ],
    ),
    (
        GATE_TO_SETTLED_SECONDS,
        &[
            5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 600.0,
        ],
    ),
    (
        sealgrid_delivery::metrics::READING_TO_SETTLED_SECONDS,
        &[
            1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0,
        ],
    ),
    (
        sealgrid_delivery::metrics::RESETTLE_SECONDS,
        &[
            1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0,
        ],
    ),
    (
        INTAKE_SECONDS,
        &[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    (
        sealgrid_matcher::metrics::CLEAR_SECONDS,
        &[0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    ),
];

static EXPORTER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed as the global `metrics` recorder on first use
/// (every node of a process shares it: counters add up across them).
pub fn exporter() -> &'static PrometheusHandle {
    EXPORTER.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in BUCKETS {
            builder = match builder.set_buckets_for_metric(Matcher::Full((*name).into()), buckets) {
                Ok(b) => b,
                // Unreachable with the constant buckets above; summaries are the fallback.
                Err(e) => {
                    tracing::warn!(metric = name, error = %e, "histogram buckets refused");
                    PrometheusBuilder::new()
                }
            };
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "another metrics recorder is installed: /metrics shows only what reaches this one"
            );
        }
        for m in all() {
            match m.kind {
                MetricKind::Counter => metrics::describe_counter!(m.name, m.help),
                MetricKind::Gauge => metrics::describe_gauge!(m.name, m.help),
                MetricKind::Histogram => {
                    metrics::describe_histogram!(m.name, metrics::Unit::Seconds, m.help)
                }
            }
        }
        handle
    })
}

/// What `GET /metrics` reads besides the recorder.
#[derive(Clone, Debug)]
pub(crate) struct Scrape {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) markets: Vec<B256>,
}

/// `GET /metrics`: the store's row counts and each scheduler's gate lag, then the exposition.
pub(crate) async fn render(State(s): State<Scrape>) -> Response {
    if let Ok((c, o, b)) = s.store.counts().await {
        for (table, n) in [("commitments", c), ("orders", o), ("batches", b)] {
            metrics::gauge!(STORE_ROWS, "table" => table).set(n as f64);
        }
    }
    let now = s.clock.now();
    let closing = s.metrics.closing();
    for m in &s.markets {
        let lag = closing
            .iter()
            .find(|c| c.market == *m)
            .map_or(0, |c| now.saturating_sub(c.gate));
        metrics::gauge!(GATE_LAG_SECONDS, "market" => m.to_string()).set(lag as f64);
    }
    let handle = exporter();
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// The intake routes whose latency is measured.
const INTAKE_ROUTES: &[&str] = &[
    "/v1/orders",
    "/v1/orders/batch",
    "/v1/readings",
    "/v1/prices",
    "/v1/paymaster",
];

/// Middleware: the latency of every intake request (`POST` to an intake route), whatever its
/// answer.
pub(crate) async fn intake_latency(req: Request, next: Next) -> Response {
    let route = (req.method() == Method::POST)
        .then(|| INTAKE_ROUTES.iter().find(|r| **r == req.uri().path()))
        .flatten();
    let started = Instant::now();
    let response = next.run(req).await;
    if let Some(route) = route {
        metrics::histogram!(INTAKE_SECONDS, "route" => *route)
            .record(started.elapsed().as_secs_f64());
    }
    response
}

/// Records one settle report.
pub(crate) fn record_settle(r: &SettleReport) {
    match &r.outcome {
        Settled::Settled {
            prove_seconds,
            settle_gas,
            ..
        } => {
            metrics::counter!(INTERVALS_SETTLED_TOTAL).increment(1);
            metrics::histogram!(PROVE_SECONDS).record(*prove_seconds);
            metrics::histogram!(GATE_TO_SETTLED_SECONDS).record(r.seconds);
            metrics::gauge!(LAST_SETTLE_GAS).set(*settle_gas as f64);
        }
        Settled::Voided => metrics::counter!(INTERVALS_VOIDED_TOTAL).increment(1),
        Settled::AlreadySettled | Settled::Empty => {}
    }
}

/// Counts a failed delivery pass.
pub(crate) fn delivery_pass_failed() {
    metrics::counter!(DELIVERY_PASS_FAILURES_TOTAL).increment(1);
}

/// The balances behind the chain gauges.
#[derive(Clone, Debug)]
pub(crate) struct ChainGauges {
    pub(crate) desk: Desk,
    pub(crate) operator: Address,
    pub(crate) auction: Address,
    pub(crate) markets: Vec<B256>,
    /// The delivery settlement (balancing accounts), with delivery.
    pub(crate) settlement: Option<Address>,
    /// The market paymaster, with sponsorship or an accounts deployment.
    pub(crate) paymaster: Option<Address>,
}

impl ChainGauges {
    /// Reads every balance and sets its gauge; the first error stops the pass (counted, and the
    /// timestamp gauge goes stale, which the rules alert on).
    pub(crate) async fn update(&self, decimals: &mut HashMap<Address, u8>) {
        match self.read(decimals).await {
            Ok(()) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                metrics::gauge!(CHAIN_GAUGES_TIMESTAMP).set(now);
            }
            Err(e) => {
                metrics::counter!(CHAIN_GAUGE_FAILURES_TOTAL).increment(1);
                tracing::warn!(error = %e, "reading the operator's balances failed; retrying");
            }
        }
    }

    async fn read(&self, decimals: &mut HashMap<Address, u8>) -> sealgrid_chain::ChainResult<()> {
        let d = &self.desk;
        let eth = units(d.eth_balance(self.operator).await?, 18);
        metrics::gauge!(OPERATOR_BALANCE_ETH).set(eth);
        for m in &self.markets {
            let market = m.to_string();
            let bond = d.bond(self.auction, *m).await?;
            let dec = self.decimals(decimals, bond.token).await?;
            for (name, v) in [
                (BOND, bond.bond),
                (BOND_MINIMUM, bond.min_bond),
                (BOND_SLASH, bond.slash_amount),
            ] {
                metrics::gauge!(name, "market" => market.clone()).set(units(U256::from(v), dec));
            }
            if let Some(settlement) = self.settlement {
                let b = d.balancing(settlement, *m).await?;
                let dec = self.decimals(decimals, b.token).await?;
                metrics::gauge!(BALANCING_BALANCE, "market" => market.clone())
                    .set(units(b.balance, dec));
                metrics::gauge!(BALANCING_RESERVED, "market" => market).set(units(b.reserved, dec));
            }
        }
        if let Some(p) = self.paymaster {
            let deposit = d.paymaster(p).await?.deposit_wei;
            metrics::gauge!(PAYMASTER_DEPOSIT_ETH).set(units(deposit, 18));
        }
        Ok(())
    }

    async fn decimals(
        &self,
        cache: &mut HashMap<Address, u8>,
        token: Address,
    ) -> sealgrid_chain::ChainResult<u8> {
        if let Some(d) = cache.get(&token) {
            return Ok(*d);
        }
        let (d, _) = self.desk.token(token).await?;
        cache.insert(token, d);
        Ok(d)
    }
}

/// `amount` base units of a `decimals`-decimal token as a number (gauges are floats).
fn units(amount: U256, decimals: u8) -> f64 {
    format_units(amount, decimals).parse().unwrap_or(f64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for m in all() {
            assert!(m.name.starts_with("sealgrid_"), "{}", m.name);
            assert!(seen.insert(m.name), "{} is listed twice", m.name);
            assert!(!m.help.is_empty(), "{} has no help", m.name);
        }
        for (name, buckets) in BUCKETS {
            assert!(
                all().any(|m| m.name == *name && m.kind == MetricKind::Histogram),
                "buckets for {name}, which is no histogram"
            );
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}");
        }
    }

    #[test]
    fn units_convert_exactly_enough_for_gauges() {
        assert_eq!(units(U256::from(12_500_000u64), 6), 12.5);
        assert_eq!(units(U256::from(10u64).pow(U256::from(18)), 18), 1.0);
        assert_eq!(units(U256::ZERO, 6), 0.0);
    }

    /// The alert rules use only metrics the node exports (and Prometheus's own `up`).
    #[test]
    fn alert_rules_use_only_exported_metrics() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/alerts/sealgrid.rules.yml"
        );
        let rules = std::fs::read_to_string(path).expect("deploy/alerts/sealgrid.rules.yml");
        let mut used = 0;
        for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let Some(rest) = word.strip_prefix("sealgrid_") else {
                continue;
            };
            if rest.is_empty() || word.chars().any(|c| c.is_ascii_uppercase()) {
                continue;
            }
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .filter(|b| all().any(|m| m.name == *b && m.kind == MetricKind::Histogram))
                .unwrap_or(word);
            assert!(
                all().any(|m| m.name == base),
                "the alert rules use {word}, which no service exports"
            );
            used += 1;
        }
        assert!(used >= 10, "the rules name only {used} metrics");
    }
}
