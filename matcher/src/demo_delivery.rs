//! The demo's delivery phase (DESIGN 3.7–3.8): every site's revenue meter reports through its
//! gateway, the oracle posts real-time prices, every account's imbalance settles against its
//! collateral at the reading deadline, one late meter settles on an estimate and is resettled
//! when its actual reading arrives, and the solar sites' verified export becomes hourly
//! certificates.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    bindings::{IERC20, IMockToken, registry::MeterRegistry},
    delivery::{Delivery, SignedReading, sign_price, sign_reading},
    devnet::{DEV_BALANCING_KEY, DEV_KEYS, DEV_ORACLE_KEY, Devnet},
};
use sealgrid_clearing::bench::SplitMix64;
use sealgrid_types::{MarketTiming, MeterQuality, MeterReading, RealTimePrice};

use crate::{
    MatcherError, MatcherResult,
    pilot::{Kind, Pilot, per_mwh},
};

fn err(e: impl std::fmt::Display) -> MatcherError {
    MatcherError::Config(format!("demo delivery: {e}"))
}

/// One traded interval as the delivery phase sees it.
#[derive(Clone, Debug)]
pub(crate) struct Traded {
    /// The interval.
    pub(crate) interval: u64,
    /// The scenario's expected net import per participant (Wh; < 0 export), from its orders.
    pub(crate) forecast: Vec<i64>,
    /// The clearing price, if anything cleared.
    pub(crate) price: Option<i64>,
}

/// One interval's delivery settlement.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    /// The interval.
    pub interval: u64,
    /// The real-time price (base units per kWh).
    pub price: i64,
    /// Accounts settled.
    pub accounts: usize,
    /// Accounts settled on an estimate (deemed delivery).
    pub estimates: usize,
    /// Sum of |imbalance| over accounts (Wh).
    pub imbalance_wh: u128,
    /// What accounts paid minus what they were paid, at settlement (milli base units).
    pub net_milli: i128,
}

/// The resettlement the demo shows.
#[derive(Clone, Debug)]
pub struct Resettlement {
    /// The interval.
    pub interval: u64,
    /// The account.
    pub account: Address,
    /// Settled amount and imbalance on the estimate (milli base units, Wh).
    pub old: (i128, i128),
    /// Resettled amount and imbalance on the actual reading.
    pub new: (i128, i128),
}

/// The delivery phase's result.
#[derive(Clone, Debug)]
pub struct DeliverySummary {
    /// Meters registered (sites and batteries).
    pub meters: usize,
    /// Readings stored, transactions and gas.
    pub readings: usize,
    /// Reading transactions.
    pub reading_txs: usize,
    /// Reading gas (all transactions).
    pub reading_gas: u64,
    /// One row per interval.
    pub rows: Vec<DeliveryRow>,
    /// Settle gas (all transactions).
    pub settle_gas: u64,
    /// The late meter's resettlement.
    pub resettlement: Option<Resettlement>,
    /// Certificates issued (Wh), generators, gas.
    pub certificates_wh: u128,
    /// Solar generators.
    pub generators: usize,
    /// Issuance gas.
    pub certificate_gas: u64,
    /// Tokens held by the settlement contract, and the rounding fees.
    pub held: U256,
    /// Rounding fees.
    pub fees: U256,
}

fn derived(seed: u64, what: &str, n: usize) -> PrivateKeySigner {
    let mut salt = 0u32;
    loop {
        let k = keccak256(format!("sealgrid/demo/{seed}/{what}/{n}/{salt}"));
        if let Ok(s) = PrivateKeySigner::from_bytes(&k) {
            return s;
        }
        salt += 1;
    }
}

fn meter_id(seed: u64, n: usize) -> B256 {
    keccak256(format!("sealgrid/demo/{seed}/meter/{n}"))
}

/// Unit normal from splitmix64 (Box-Muller).
fn normal(rng: &mut SplitMix64) -> f64 {
    let u = ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(1e-12);
    let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The metered net import of a participant: the forecast with a few percent of error, and a
/// little noise for sites that did not trade.
fn metered(forecast: i64, kind: Kind, rng: &mut SplitMix64) -> i64 {
    let e = normal(rng);
    match kind {
        Kind::Storage => forecast + (forecast as f64 * 0.01 * e).round() as i64,
        _ => forecast + (forecast as f64 * 0.06 * e + 40.0 * normal(rng)).round() as i64,
    }
}

/// Runs the delivery phase for the traded intervals (all claimed, the chain at or after the
/// last one's start).
pub(crate) async fn run_delivery(
    net: &Devnet,
    market: B256,
    timing: &MarketTiming,
    pilot: &Pilot,
    traded: &[Traded],
    seed: u64,
    say: &mut impl FnMut(String),
) -> MatcherResult<DeliverySummary> {
    let (Some(first), Some(last)) = (traded.first(), traded.last()) else {
        return Err(err("nothing was traded"));
    };
    if net.delivery.settlement == Address::ZERO {
        return Err(err("the deployment has no delivery contracts"));
    }
    let operator: PrivateKeySigner = DEV_KEYS[0].parse().map_err(err)?;
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().map_err(err)?;
    let balancing: PrivateKeySigner = DEV_BALANCING_KEY.parse().map_err(err)?;
    let d = Delivery::connect(&net.rpc, net.delivery, operator.clone()).await?;
    let dom = d.domain().clone();
    let token = net.token;

    // Meters: one revenue meter per site and battery, with its own gateway key. Sites with
    // rooftop PV are solar generators (certificate eligible); the aggregator has no meter.
    let mut meters: Vec<Option<(B256, PrivateKeySigner)>> = Vec::new();
    let mut generators = Vec::new();
    for (n, p) in pilot.participants.iter().enumerate() {
        if p.kind == Kind::Aggregator {
            meters.push(None);
            continue;
        }
        let (id, gateway) = (meter_id(seed, n), derived(seed, "gateway", n));
        let source = match p.kind {
            Kind::Storage => 6,
            _ if p.pv_kw > 0.0 => 1,
            _ => 0,
        };
        if source == 1 {
            generators.push(id);
        }
        d.register_meter(
            id,
            MeterRegistry::Meter {
                owner: p.key.address(),
                device: 0,
                generator: source != 0,
                source,
                gateway: gateway.address(),
                gatewayFrom: 0,
                accuracy: 1,
                site: keccak256(format!("sealgrid/demo/{seed}/site/{n}")),
                zone: B256::right_padding_from(b"US-CAISO"),
                market,
            },
        )
        .await?;
        meters.push(Some((id, gateway)));
    }
    let registered = meters.iter().flatten().count();
    say(format!(
        "delivery: {registered} meters registered with their gateway keys ({} solar generators)",
        generators.len()
    ));

    // Collateral for every account and the balancing account.
    let total = U256::from(1_000_000_000_000u64 + 1_000_000_000 * pilot.participants.len() as u64);
    let mint = IMockToken::new(token, net.wallet(DEV_KEYS[0])?);
    mint.mint(operator.address(), total)
        .send()
        .await
        .map_err(err)?
        .get_receipt()
        .await
        .map_err(err)?;
    d.approve(token, total).await?;
    d.deposit(token, balancing.address(), U256::from(1_000_000_000_000u64))
        .await?;
    for p in &pilot.participants {
        d.deposit(token, p.key.address(), U256::from(1_000_000_000u64))
            .await?;
    }

    // After the last interval: readings of every meter (one withheld: the late meter) and the
    // oracle's real-time prices.
    net.warp(timing.start(last.interval)? + u64::from(timing.interval_length()) + 1)
        .await?;
    let late = meters
        .iter()
        .position(Option::is_some)
        .ok_or_else(|| err("no meters"))?;
    let mut signed = Vec::new();
    let mut late_reading = None;
    for t in traded {
        let mut rng = SplitMix64::new(seed ^ t.interval.rotate_left(17));
        for (n, m) in meters.iter().enumerate() {
            let Some((id, gateway)) = m else { continue };
            let net_wh = metered(t.forecast[n], pilot.participants[n].kind, &mut rng);
            let reading = MeterReading {
                meterId: *id,
                interval: t.interval,
                importWh: u64::try_from(net_wh.max(0)).map_err(err)?,
                exportWh: u64::try_from((-net_wh).max(0)).map_err(err)?,
                quality: MeterQuality::Actual as u8,
                revision: 0,
            };
            let s = sign_reading(gateway, reading, &dom)?;
            if n == late && t.interval == first.interval {
                late_reading = Some(s);
            } else {
                signed.push(s);
            }
        }
    }
    let stored = d.submit_readings(&signed).await?;
    if !stored.refused.is_empty() {
        return Err(err(format!("readings refused: {:?}", stored.refused)));
    }
    say(format!(
        "delivery: {} signed readings stored in {} transactions ({} gas per reading); meter of participant {late} is late for interval {}",
        stored.stored,
        stored.txs,
        stored.gas / stored.stored.max(1) as u64,
        first.interval
    ));
    let mut rt = Vec::new();
    let prices: Vec<_> = traded
        .iter()
        .map(|t| {
            // The real-time price: the clearing price plus a 12 per MWh imbalance premium.
            let price = t.price.unwrap_or(per_mwh(70)) + per_mwh(12);
            rt.push(price);
            sign_price(
                &oracle,
                RealTimePrice {
                    market,
                    interval: t.interval,
                    price,
                    revision: 0,
                },
                &dom,
            )
        })
        .collect::<Result<_, _>>()?;
    d.submit_prices(&prices).await?;

    // The reading deadline of the last interval: settle every account of every interval.
    let (window, _) = d.windows().await?;
    net.warp(
        timing.start(last.interval)? + u64::from(timing.interval_length()) + u64::from(window),
    )
    .await?;
    let accounts: Vec<Address> = pilot.participants.iter().map(|p| p.key.address()).collect();
    let mut rows = Vec::new();
    let mut settle_gas = 0;
    for (t, price) in traded.iter().zip(&rt) {
        let (n, gas) = d.settle(market, t.interval, &accounts).await?;
        settle_gas += gas;
        let report = d.report(market, t.interval).await?;
        let row = DeliveryRow {
            interval: t.interval,
            price: *price,
            accounts: n,
            estimates: report.accounts.iter().filter(|a| a.estimate).count(),
            imbalance_wh: report
                .accounts
                .iter()
                .map(|a| a.imbalance_wh.unsigned_abs())
                .sum(),
            net_milli: report.net_amount_milli(),
        };
        say(format!(
            "delivery: interval {} settled for {} accounts at the real-time price {:.2} per MWh: {:.1} kWh of imbalance, net {:.2} paid by accounts, {} on an estimate",
            t.interval,
            row.accounts,
            *price as f64 / 1000.0,
            row.imbalance_wh as f64 / 1000.0,
            row.net_milli as f64 / 1e9,
            row.estimates
        ));
        rows.push(row);
    }

    // The late meter reports: the estimate is replaced and the variance posted.
    let mut resettlement = None;
    if let Some(s) = late_reading {
        let account = pilot.participants[late].key.address();
        let before = d.position(market, first.interval, account).await?;
        d.submit_readings(std::slice::from_ref::<SignedReading>(&s))
            .await?;
        let (changed, _) = d.resettle(market, first.interval, &accounts).await?;
        let after = d.position(market, first.interval, account).await?;
        let imbalance = |p: &sealgrid_chain::bindings::settlement::DeliverySettlement::Position| {
            i128::try_from(p.metered).unwrap_or(0) - i128::try_from(p.contracted).unwrap_or(0)
        };
        let r = Resettlement {
            interval: first.interval,
            account,
            old: (before.amountMilli, imbalance(&before)),
            new: (after.amountMilli, imbalance(&after)),
        };
        say(format!(
            "delivery: the late meter's actual reading arrived ({} Wh import, {} Wh export): {changed} account resettled, imbalance {} -> {} Wh, variance {:+.6} tokens",
            s.reading.importWh,
            s.reading.exportWh,
            r.old.1,
            r.new.1,
            (r.new.0 - r.old.0) as f64 / 1e9
        ));
        resettlement = Some(r);
    }

    // Certificates for the solar sites' verified export, hour by hour.
    let (mut certificates_wh, mut certificate_gas) = (0, 0);
    let hours: std::collections::BTreeSet<u64> = traded
        .iter()
        .map(|t| t.interval * u64::from(timing.interval_length()) / 3600)
        .collect();
    for h in hours {
        let (wh, gas) = d.issue_certificates(&generators, h).await?;
        certificates_wh += wh;
        certificate_gas += gas;
    }
    say(format!(
        "delivery: {:.1} kWh of hourly solar certificates issued to {} generators ({} gas)",
        certificates_wh as f64 / 1000.0,
        generators.len(),
        certificate_gas
    ));

    // Money: the settlement contract holds exactly the balances plus fees.
    let mut sum = d.fees(token).await?;
    let fees = sum;
    for a in accounts.iter().chain([&balancing.address()]) {
        sum += d.balance(token, *a).await?;
    }
    let held = IERC20::new(token, net.provider.clone())
        .balanceOf(net.delivery.settlement)
        .call()
        .await
        .map_err(err)?;
    if held != sum {
        return Err(err(format!(
            "money is not conserved in delivery settlement: holds {held}, balances + fees {sum}"
        )));
    }
    say(format!(
        "delivery: money conserved: the settlement holds {held} = balances + fees ({fees})"
    ));
    Ok(DeliverySummary {
        meters: registered,
        readings: stored.stored + usize::from(resettlement.is_some()),
        reading_txs: stored.txs,
        reading_gas: stored.gas,
        rows,
        settle_gas,
        resettlement,
        certificates_wh,
        generators: generators.len(),
        certificate_gas,
        held,
        fees,
    })
}

/// The delivery lines of the demo's summary.
pub(crate) fn render(s: &DeliverySummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "delivery  interval  rt price/MWh  accounts  estimates  |imbalance| kWh  net paid by accounts"
    );
    for r in &s.rows {
        let _ = writeln!(
            out,
            "          {:>8}  {:>12.2}  {:>8}  {:>9}  {:>15.1}  {:>20.6}",
            r.interval,
            r.price as f64 / 1000.0,
            r.accounts,
            r.estimates,
            r.imbalance_wh as f64 / 1000.0,
            r.net_milli as f64 / 1e9
        );
    }
    let _ = write!(
        out,
        "delivery summary: {} meters; {} readings in {} txs ({} gas per reading); settle {} gas",
        s.meters,
        s.readings,
        s.reading_txs,
        s.reading_gas / s.readings.max(1) as u64,
        s.settle_gas
    );
    if let Some(r) = &s.resettlement {
        let _ = write!(
            out,
            "; resettlement of interval {}: imbalance {} -> {} Wh, variance {:+.6} tokens",
            r.interval,
            r.old.1,
            r.new.1,
            (r.new.0 - r.old.0) as f64 / 1e9
        );
    }
    let _ = writeln!(
        out,
        "; certificates {:.1} kWh to {} solar generators; settlement holds {} (fees {})",
        s.certificates_wh as f64 / 1000.0,
        s.generators,
        s.held,
        s.fees
    );
    out
}
