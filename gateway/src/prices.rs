//! The market's cleared prices to charging stations, as the cost of their transactions.
//!
//! After each gate closure the node clears the interval and publishes its uniform price
//! (`GET /v1/batches/{market}/{interval}`: payment-token base units per kWh, DESIGN §1). A
//! gateway serving chargers for a market (`[ocpp] market`) fetches the cleared price of every
//! interval its stations' transactions meter energy in, and tells each station what its
//! energy is worth at those prices:
//! - while a transaction runs, `CostUpdated` (OCPP 2.0.1 §I) with its running `totalCost`,
//!   whenever that changes (a new record, a newly cleared interval);
//! - in the answer to the transaction's `Ended` event, `totalCost`, when every interval it
//!   metered energy in has a cleared price.
//!
//! The cost (DECIDED, [`running_cost`]): the energy between consecutive checked readings of
//! the transaction belongs to the interval it was metered in — a reading on the 5-minute grid
//! counts at its boundary, as for the signed readings — split evenly (the remainder on the
//! last) when two readings are more than one interval apart; each interval's energy `E` Wh at
//! its price `p` is worth `ceil(E * p / 1000)` base units (the payer's rounding, DESIGN §1),
//! and the cost is their sum, shown in token units (`cost_decimals`, the payment token's
//! decimals). It is the energy's value in this market at the cleared prices, the tariff signal
//! the market gives, not the station owner's bill: what an account pays is its settlement
//! (fills at the cleared price, imbalance at the real-time price). An interval that did not
//! clear has no price: no cost is sent until it has one (never a guess).
//!
//! Charging profiles (`SetChargingProfile`) set power limits, not prices; price-responsive
//! limits belong to the flexibility programmes (OpenADR), not here.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use alloy_primitives::B256;

use crate::error::{GatewayError, GatewayResult};

/// Fetches and keeps cleared prices from the node.
#[derive(Debug)]
pub struct PriceFeed {
    http: reqwest::Client,
    node: String,
    market: B256,
    interval_s: u64,
    decimals: u32,
    every: Duration,
    /// Cleared prices seen (a cleared price does not change).
    cleared: Mutex<HashMap<u64, i64>>,
}

impl PriceFeed {
    /// Prices of `market` from the node at `node` (its API base URL), intervals `interval_s`
    /// long, costs shown with `decimals` decimals, looked for every `every`.
    pub fn new(
        node: &str,
        market: B256,
        interval_s: u64,
        decimals: u32,
        every: Duration,
    ) -> GatewayResult<Self> {
        if interval_s == 0 || decimals > 18 {
            return Err(GatewayError::Config(
                "prices: the interval must be positive and cost_decimals at most 18".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| GatewayError::Config(format!("prices: HTTP client: {e}")))?;
        Ok(Self {
            http,
            node: node.trim_end_matches('/').to_owned(),
            market,
            interval_s,
            decimals,
            every,
            cleared: Mutex::default(),
        })
    }

    /// How often the CSMS looks for new prices and costs.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// The interval length (s).
    pub fn interval_s(&self) -> u64 {
        self.interval_s
    }

    /// The cleared price of `interval` already fetched, if any.
    pub fn known(&self, interval: u64) -> Option<i64> {
        self.cleared.lock().ok()?.get(&interval).copied()
    }

    /// The cleared price of `interval`: from what was fetched, else from the node. `None`
    /// while the interval is not cleared (or the node does not answer: it is asked again
    /// next time).
    pub async fn price(&self, interval: u64) -> Option<i64> {
        if let Some(p) = self.known(interval) {
            return Some(p);
        }
        let url = format!("{}/v1/batches/{}/{interval}", self.node, self.market);
        let answer = match self.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => None,
            Ok(r) => {
                tracing::warn!(%url, status = %r.status(), "price lookup refused");
                None
            }
            Err(e) => {
                tracing::warn!(%url, error = %e, "price lookup failed");
                None
            }
        }?;
        let price = answer
            .get("cleared")
            .and_then(serde_json::Value::as_bool)
            .filter(|c| *c)
            .and_then(|_| answer.get("price"))
            .and_then(serde_json::Value::as_i64)?;
        if let Ok(mut c) = self.cleared.lock() {
            c.insert(interval, price);
        }
        Some(price)
    }

    /// The running cost of readings `points` (see [`running_cost`]), fetching the prices it
    /// needs; `None` while an interval it needs has no cleared price.
    pub async fn cost(&self, points: &[(u64, u64)]) -> Option<i128> {
        for interval in intervals_metered(points, self.interval_s) {
            self.price(interval).await?;
        }
        running_cost(points, self.interval_s, |i| self.known(i)).ok()
    }

    /// `base` base units in token units with the feed's decimals (for `totalCost`).
    pub fn units(&self, base: i128) -> f64 {
        base as f64 / 10f64.powi(self.decimals as i32)
    }
}

/// The intervals in which energy was metered between consecutive `points` (see
/// [`running_cost`]).
pub fn intervals_metered(points: &[(u64, u64)], interval_s: u64) -> Vec<u64> {
    let mut out: Vec<u64> = energy_by_interval(points, interval_s)
        .into_iter()
        .filter(|(_, wh)| *wh > 0)
        .map(|(i, _)| i)
        .collect();
    out.dedup();
    out
}

/// Energy (Wh) by interval, in order, between consecutive readings `(t, Wh)` (times already
/// on the grid where the reading counts for a boundary): between `a` and `b`, the intervals
/// from `a`'s to the one ending at or after `b`; one interval takes it all, `k` take
/// `floor(Δ/k)` each and the remainder on the last. Readings going backwards or out of order
/// give nothing for that step (the checks refuse them before they are stored).
fn energy_by_interval(points: &[(u64, u64)], interval_s: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for w in points.windows(2) {
        let ((ta, wa), (tb, wb)) = (w[0], w[1]);
        if tb < ta || wb < wa {
            continue;
        }
        let delta = wb - wa;
        let first = ta / interval_s;
        let last = if tb > ta {
            (tb - 1) / interval_s
        } else {
            first
        };
        let k = last - first + 1;
        for (j, i) in (first..=last).enumerate() {
            let share = if j as u64 + 1 == k {
                delta - (delta / k) * (k - 1)
            } else {
                delta / k
            };
            match out.last_mut() {
                Some((li, e)) if *li == i => *e += share,
                _ => out.push((i, share)),
            }
        }
    }
    out
}

/// The cost of readings `points` (`(t, Wh)` in order) at the cleared price of each interval
/// (`price(interval)`, base units per kWh): `Σ ceil(E_i * p_i / 1000)` base units; `Err` with
/// the first interval that has energy and no price (an interval without energy costs nothing,
/// cleared or not).
pub fn running_cost(
    points: &[(u64, u64)],
    interval_s: u64,
    price: impl Fn(u64) -> Option<i64>,
) -> Result<i128, u64> {
    let mut total = 0i128;
    for (interval, wh) in energy_by_interval(points, interval_s) {
        if wh == 0 {
            continue;
        }
        let p = price(interval).ok_or(interval)?;
        let value = i128::from(wh) * i128::from(p);
        // ceil(value / 1000) for either sign.
        total += value.div_euclid(1000) + i128::from(value.rem_euclid(1000) != 0);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn energy_goes_to_the_interval_it_was_metered_in() {
        // begin at 300 (its boundary), clock-aligned at 600 and 900, end counted at 1200.
        let points = [(300, 1_000), (600, 1_400), (900, 2_000), (1200, 2_050)];
        assert_eq!(
            energy_by_interval(&points, 300),
            vec![(1, 400), (2, 600), (3, 50)]
        );
        let prices = HashMap::from([(1u64, 70_000i64), (2, 80_000), (3, -10_000)]);
        // 400*70 + 600*80 + ceil(50*-10) = 28_000 + 48_000 - 500
        assert_eq!(
            running_cost(&points, 300, |i| prices.get(&i).copied()),
            Ok(75_500)
        );
        assert_eq!(
            running_cost(&points, 300, |i| (i != 2).then_some(1)),
            Err(2)
        );
        // A reading mid-interval: the energy so far is in its interval.
        assert_eq!(
            energy_by_interval(&[(300, 0), (450, 10)], 300),
            vec![(1, 10)]
        );
        // Two intervals apart: split, remainder last; rounding up per interval.
        assert_eq!(
            energy_by_interval(&[(300, 0), (900, 7)], 300),
            vec![(1, 3), (2, 4)]
        );
        assert_eq!(running_cost(&[(300, 0), (900, 7)], 300, |_| Some(1)), Ok(2));
        // No energy, no price needed: the end reading's interval after the last clock-aligned
        // one, when the register did not move.
        assert_eq!(
            running_cost(&[(300, 5), (600, 9), (900, 9)], 300, |i| (i == 1)
                .then_some(1_000)),
            Ok(4)
        );
    }

    proptest! {
        /// Energy is conserved by the split, and at one price the cost is within the rounding
        /// (one base unit per interval) above the whole energy's value.
        #[test]
        fn split_conserves_energy(
            steps in prop::collection::vec((0u64..1_500, 0u64..5_000), 1..20),
            p in -100_000i64..1_000_000,
        ) {
            let mut points = vec![(3_000u64, 10_000u64)];
            for (dt, de) in steps {
                let (t, w) = *points.last().expect("one point at least");
                points.push((t + dt, w + de));
            }
            let total: u64 = energy_by_interval(&points, 300).iter().map(|(_, e)| e).sum();
            let (t0, w0) = points[0];
            let (t1, w1) = *points.last().expect("one point at least");
            prop_assert_eq!(total, w1 - w0);
            let cost = running_cost(&points, 300, |_| Some(p)).expect("one price for all");
            let exact = i128::from(total) * i128::from(p);
            let n = i128::try_from(energy_by_interval(&points, 300).len()).expect("small");
            let metered = intervals_metered(&points, 300);
            prop_assert!(metered.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(cost * 1000 >= exact && cost * 1000 < exact + 1000 * n.max(1));
            prop_assert!(metered.iter().all(|i| *i >= t0 / 300 && *i <= t1 / 300));
        }
    }
}
