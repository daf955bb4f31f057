//! The demo's delivery phase (DESIGN 3.7–3.8): every site's revenue meter reports through its
//! gateway, the oracle posts real-time prices, every account's imbalance settles against its
//! collateral at the reading deadline, one late meter settles on an estimate and is resettled
//! when its actual reading arrives, and the solar sites' verified export becomes hourly
//! certificates.

use std::time::Instant;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    sol_types::SolEvent,
};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    SenderConfig,
    aa::IMarketAccount,
    bindings::settlement::DeliverySettlement,
    bindings::{IERC20, IMockToken, certificates::GranularCertificates, registry::MeterRegistry},
    delivery::{Delivery, sign_price, sign_reading},
    desk::Desk,
};
use sealgrid_deploy::devnet::{DEV_BALANCING_KEY, DEV_ORACLE_KEY, Devnet};
use sealgrid_store::Store;
use sealgrid_types::{MarketTiming, MeterQuality, MeterReading, RealTimePrice};

use crate::{
    DevkitError, DevkitResult,
    demo::mined,
    demo_sponsored::SmartAccounts,
    node_api::{post, price_item, reading_item, wait_for},
    pilot::{Kind, Pilot, Rng, derived_key, per_mwh},
};

/// How long the demo waits for a step of the node's delivery loop, and how often it looks.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
const POLL: std::time::Duration = std::time::Duration::from_millis(200);
/// Collateral each participant deposits, and the balancing account's funds (base units).
const COLLATERAL: u64 = 1_000_000_000;
const BALANCING_FUNDS: u64 = 1_000_000_000_000;
/// Participants depositing at once (each from its own wallet, so their nonces are apart).
const DEPOSITS_AT_ONCE: usize = 8;

fn err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("demo delivery: {e}"))
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
    /// Filled Wh per participant: (bought, sold).
    pub(crate) filled: Vec<(u64, u64)>,
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
    /// Seconds from the late reading's arrival at the node to its resettlement on-chain.
    pub seconds: f64,
}

/// The delivery phase's result.
#[derive(Clone, Debug)]
pub struct DeliverySummary {
    /// Meters registered (sites, batteries and the feeder gateway's two).
    pub meters: usize,
    /// What the feeder's gateway read and delivered (none when the pilot has fewer than three
    /// sites).
    pub feeder: Option<crate::demo_feeder::FeederSummary>,
    /// Readings stored, transactions and gas.
    pub readings: usize,
    /// Reading transactions.
    pub reading_txs: usize,
    /// Reading gas (all transactions).
    pub reading_gas: u64,
    /// Seconds from the last interval's reading deadline until the node had settled every
    /// interval (meter-to-cash).
    pub meter_to_cash_seconds: f64,
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
    /// Gas of the transactions that issued or moved certificates.
    pub certificate_gas: u64,
    /// Certificates moved from solar sellers to buyers along the fills (Wh, transfers).
    pub certificates_moved: (u128, usize),
    /// Certificates a buyer retired for itself (Wh).
    pub certificates_retired: u128,
    /// Tokens held by the settlement contract, and the rounding fees.
    pub held: U256,
    /// Rounding fees.
    pub fees: U256,
}

/// A demo meter's registration: `source` 0 for a consumer, else a generator of that source.
fn demo_meter(
    owner: Address,
    source: u8,
    gateway: Address,
    site: String,
    market: B256,
) -> MeterRegistry::Meter {
    MeterRegistry::Meter {
        owner,
        device: 0,
        generator: source != 0,
        source,
        gateway,
        gatewayFrom: 0,
        accuracy: 1,
        site: keccak256(site),
        zone: B256::right_padding_from(b"US-CAISO"),
        market,
    }
}

fn meter_id(seed: u64, n: usize) -> B256 {
    keccak256(format!("sealgrid/demo/{seed}/meter/{n}"))
}

/// The metered net import of a participant: the forecast with a few percent of error, and a
/// little noise for sites that did not trade.
fn metered(forecast: i64, kind: Kind, rng: &mut Rng) -> i64 {
    let e = rng.normal();
    match kind {
        Kind::Storage => forecast + (forecast as f64 * 0.01 * e).round() as i64,
        _ => forecast + (forecast as f64 * 0.06 * e + 40.0 * rng.normal()).round() as i64,
    }
}

/// Runs the delivery phase for the traded intervals (all claimed, the chain at or after the
/// last one's start).
#[allow(clippy::too_many_arguments)] // the demo's state, handed over from the trading phase
pub(crate) async fn run_delivery(
    root: &std::path::Path,
    net: &Devnet,
    node: &sealgrid_node::Node,
    market: B256,
    timing: &MarketTiming,
    pilot: &Pilot,
    traded: &[Traded],
    seed: u64,
    smart: Option<&mut SmartAccounts>,
    say: &mut impl FnMut(String),
) -> DevkitResult<DeliverySummary> {
    let (Some(first), Some(last)) = (traded.first(), traded.last()) else {
        return Err(err("nothing was traded"));
    };
    if net.delivery.settlement == Address::ZERO {
        return Err(err("the deployment has no delivery contracts"));
    }
    let oracle: PrivateKeySigner = DEV_ORACLE_KEY.parse().map_err(err)?;
    let balancing: PrivateKeySigner = DEV_BALANCING_KEY.parse().map_err(err)?;
    // The node runs delivery: its client sends the operator's meter registrations through the
    // node's own sender (one nonce counter); sites and the oracle post to its API.
    let svc = node
        .delivery
        .as_ref()
        .ok_or_else(|| err("the node runs no delivery"))?;
    let d = svc.client().clone();
    let base = node.base_url();
    let http = reqwest::Client::new();
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
        let (id, gateway) = (meter_id(seed, n), derived_key(seed, "gateway", n));
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
            demo_meter(
                p.trader(),
                source,
                gateway.address(),
                format!("sealgrid/demo/{seed}/site/{n}"),
                market,
            ),
        )
        .await?;
        meters.push(Some((id, gateway)));
    }
    // The feeder's gateway: a DLMS/COSEM revenue meter and an EV charging station, second
    // meters of two sites (their owners' other meters keep reporting as above), with the
    // feeder gateway's key.
    let owners: Vec<usize> = meters
        .iter()
        .enumerate()
        .filter(|(n, m)| m.is_some() && pilot.participants[*n].kind != Kind::Storage)
        .map(|(n, _)| n)
        .skip(1)
        .take(2)
        .collect();
    let feeder = match owners[..] {
        [dlms_owner, charger_owner] => {
            let f = crate::demo_feeder::Feeder {
                key: derived_key(seed, "feeder-gateway", 0),
                dlms: keccak256(format!("sealgrid/demo/{seed}/feeder/dlms")),
                charger: keccak256(format!("sealgrid/demo/{seed}/feeder/charger")),
            };
            for (id, owner, what) in [
                (f.dlms, dlms_owner, "dlms"),
                (f.charger, charger_owner, "charger"),
            ] {
                d.register_meter(
                    id,
                    demo_meter(
                        pilot.participants[owner].trader(),
                        0,
                        f.key.address(),
                        format!("sealgrid/demo/{seed}/site/{owner}/{what}"),
                        market,
                    ),
                )
                .await?;
            }
            Some((f, dlms_owner, charger_owner))
        }
        _ => None,
    };
    let registered = meters.iter().flatten().count() + 2 * usize::from(feeder.is_some());
    say(format!(
        "delivery: {registered} meters registered with their gateway keys ({} solar generators)",
        generators.len()
    ));

    // Collateral, with the operator desk as the CLI makes the calls: the balancing account
    // funds itself (`sealgrid balancing fund`) and every participant deposits its own from its
    // wallet (`sealgrid collateral deposit --vault delivery [--for ACCOUNT]`).
    fund_collateral(net, market, pilot, &balancing).await?;
    say(format!(
        "delivery: {} participants deposited {:.0} tokens of collateral each into the settlement and the balancing account {:.0} (operator desk: collateral deposit, balancing fund)",
        pilot.participants.len(),
        COLLATERAL as f64 / 1e6,
        BALANCING_FUNDS as f64 / 1e6
    ));

    // Solar sellers opt in to passing their certificates along the fills: each approves the
    // operator on the certificates contract before its hours are issued (a seller's own
    // action); the node's loop moves them.
    let approvals = approve_operator(net, &d, pilot, traded).await?;
    say(format!(
        "delivery: {approvals} solar sellers approved the operator to move their certificates along the fills"
    ));

    // After the last interval: readings of every meter (one withheld: the late meter) and the
    // oracle's real-time prices.
    net.warp(timing.start(last.interval)? + u64::from(timing.interval_length()) + 1)
        .await?;
    let late = meters
        .iter()
        .position(Option::is_some)
        .ok_or_else(|| err("no meters"))?;
    // The feeder's gateway reads its meters over the last intervals (at most 10) and delivers
    // to the node.
    let mut feeder_summary = None;
    if let Some((f, dlms_owner, charger_owner)) = &feeder {
        let from = first.interval.max(
            last.interval
                .saturating_sub(crate::demo_feeder::MAX_INTERVALS - 1),
        );
        let wall = sealgrid_gateway::unix_now();
        let offset =
            i64::try_from(net.now().await?).map_err(err)? - i64::try_from(wall).map_err(err)?;
        let s = crate::demo_feeder::run(
            root,
            f,
            dom.clone(),
            &base,
            market,
            &traded
                .iter()
                .filter_map(|t| Some((t.interval, t.price?)))
                .collect(),
            from,
            last.interval,
            u64::from(timing.interval_length()),
            offset,
            seed,
        )
        .await?;
        say(format!(
            "delivery: the feeder's gateway read a DLMS/COSEM meter (site {dlms_owner}: load profile over the wrapper, LLS; {} readings) and a charging station (site {charger_owner}: OCPP 2.0.1, Security Profile 3 with a certificate enrolled from the device CA; {} OCMF records verified against its meter's key, {} readings; told its session's cost at the cleared prices: {} running, {} final), signed them with its key and delivered them: {} accepted by the node{}",
            s.dlms_readings,
            s.charger_records,
            s.charger_readings,
            s.cost_updates
                .iter()
                .map(|c| format!("{c:.6}"))
                .collect::<Vec<_>>()
                .join(", "),
            s.total_cost.map_or("none".into(), |c| format!("{c:.6}")),
            s.accepted,
            if s.refusals.is_empty() {
                String::new()
            } else {
                format!("; refused: {}", s.refusals.join("; "))
            }
        ));
        feeder_summary = Some(s);
    }
    let mut signed = Vec::new();
    let mut late_reading = None;
    for (step, t) in traded.iter().enumerate() {
        // Seeded by the step, not the interval number (which follows the wall clock), so that
        // every run of the same scenario reads the same.
        let mut rng = Rng::new(seed ^ (step as u64 + 1).rotate_left(17));
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
    // Each site's gateway posts its readings to the node (batches of up to 1,000 per request).
    let mut accepted = 0;
    for chunk in signed.chunks(1_000) {
        accepted += post(
            &http,
            &base,
            "readings",
            chunk.iter().map(reading_item).collect(),
        )
        .await?;
    }
    say(format!(
        "delivery: {accepted} signed readings accepted by the node (POST /v1/readings); meter of participant {late} is late for interval {}",
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
    post(
        &http,
        &base,
        "prices",
        prices.iter().map(price_item).collect(),
    )
    .await?;
    say(format!(
        "delivery: the oracle posted {} real-time prices (POST /v1/prices)",
        prices.len()
    ));

    // The reading deadline of the last interval: settle every account of every interval.
    let (window, _) = d.windows().await?;
    net.warp(
        timing.start(last.interval)? + u64::from(timing.interval_length()) + u64::from(window),
    )
    .await?;
    let accounts: Vec<Address> = pilot.participants.iter().map(|p| p.trader()).collect();
    let deadline = Instant::now();
    let store = svc.store().clone();
    for t in traded {
        wait_for(
            &format!("interval {} to settle", t.interval),
            LIMIT,
            POLL,
            || async {
                Ok(matches!(
                    store.delivery_interval(market, t.interval).await?,
                    Some((_, Some(_)))
                ))
            },
        )
        .await?;
    }
    let meter_to_cash = deadline.elapsed().as_secs_f64();
    say(format!(
        "delivery: the node settled {} intervals {meter_to_cash:.1} s after the last reading deadline (meter-to-cash)",
        traded.len()
    ));
    let stored = svc.store().reading_counts().await?;
    let reading_tx = gas_of(net, DeliverySettlement::ReadingStored::SIGNATURE_HASH, None).await?;
    let settle_tx = gas_of(
        net,
        DeliverySettlement::Settled::SIGNATURE_HASH,
        Some(market),
    )
    .await?;
    let settle_gas = settle_tx.1;
    let mut rows = Vec::new();
    for (t, price) in traded.iter().zip(&rt) {
        let report = d.report(market, t.interval).await?;
        let row = DeliveryRow {
            interval: t.interval,
            price: *price,
            accounts: report.accounts.len(),
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
        let account = pilot.participants[late].trader();
        let before = d.position(market, first.interval, account).await?;
        let arrived = Instant::now();
        post(&http, &base, "readings", vec![reading_item(&s)]).await?;
        wait_for("the late reading to be resettled", LIMIT, POLL, || async {
            let p = d.position(market, first.interval, account).await?;
            Ok(p.flags & sealgrid_chain::delivery::FLAG_ESTIMATE == 0)
        })
        .await?;
        let resettle_seconds = arrived.elapsed().as_secs_f64();
        let changed = 1;
        let after = d.position(market, first.interval, account).await?;
        let imbalance = |p: &sealgrid_chain::bindings::settlement::DeliverySettlement::Position| {
            i128::try_from(p.metered).unwrap_or(0) - i128::try_from(p.contracted).unwrap_or(0)
        };
        let r = Resettlement {
            interval: first.interval,
            account,
            old: (before.amountMilli, imbalance(&before)),
            new: (after.amountMilli, imbalance(&after)),
            seconds: resettle_seconds,
        };
        say(format!(
            "delivery: the late meter's actual reading arrived ({} Wh import, {} Wh export): {changed} account resettled by the node {:.1} s later, imbalance {} -> {} Wh, variance {:+.6} tokens",
            s.reading.importWh,
            s.reading.exportWh,
            r.seconds,
            r.old.1,
            r.new.1,
            (r.new.0 - r.old.0) as f64 / 1e9
        ));
        resettlement = Some(r);
    }

    // The node issues each hour's certificates for the solar sites' verified export as its
    // intervals settle (and again after a late generator reading).
    let hours: std::collections::BTreeSet<u64> = traded
        .iter()
        .map(|t| t.interval * u64::from(timing.interval_length()) / 3600)
        .collect();
    wait_for("the hours' certificates", LIMIT, POLL, || async {
        Ok(store.hours_to_issue(market).await?.is_empty())
    })
    .await?;
    let mut certificates_wh = 0;
    for h in &hours {
        certificates_wh += store.issued(market, *h).await?.unwrap_or(0);
    }
    say(format!(
        "delivery: the node issued {:.1} kWh of hourly solar certificates to {} generators",
        certificates_wh as f64 / 1000.0,
        generators.len(),
    ));

    // Certificates follow the fills: the node moves each approved solar seller's certificates
    // of the hour, up to what it sold in the hour, to the hour's buyers pro rata to what they
    // bought. The demo waits for the node's loop and reads what it moved.
    let operator = d
        .sender()
        .ok_or_else(|| err("the node's delivery client is read-only"))?;
    let transfers = moved_by_node(net, &store, market, operator, &hours).await?;
    let moved: u128 = transfers.iter().map(|t| t.2).sum();
    let moves = transfers.len();
    let certificate_gas = gas_of(
        net,
        GranularCertificates::TransferSingle::SIGNATURE_HASH,
        None,
    )
    .await?
    .1;
    // The largest single receipt is retired by its buyer, for itself (a trader's action).
    let retired = retire_largest(net, &d, pilot, &transfers, smart).await?;
    say(format!(
        "delivery: {:.1} kWh of certificates moved from solar sellers to buyers along the fills ({moves} transfers); a buyer retired {:.1} kWh for itself",
        moved as f64 / 1000.0,
        retired as f64 / 1000.0
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
        feeder: feeder_summary,
        readings: usize::try_from(stored.1).unwrap_or(usize::MAX)
            + usize::from(resettlement.is_some()),
        reading_txs: reading_tx.0,
        reading_gas: reading_tx.1,
        meter_to_cash_seconds: meter_to_cash,
        rows,
        settle_gas,
        resettlement,
        certificates_wh,
        generators: generators.len(),
        certificate_gas,
        certificates_moved: (moved, moves),
        certificates_retired: retired,
        held,
        fees,
    })
}

/// A wallet provider of `key` on the devnet.
fn wallet(net: &Devnet, key: &PrivateKeySigner) -> DevkitResult<DynProvider> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(net.rpc.parse().map_err(err)?)
        .erased())
}

/// Deposits the delivery collateral through the operator desk ([`Desk`]), each payer with its
/// own key: the balancing account funds itself ([`Desk::balancing`] and
/// [`Desk::vault_deposit`], as `sealgrid balancing fund` does), and every participant deposits
/// [`COLLATERAL`] for its trading account (its smart account, if it has one) from its wallet
/// (`sealgrid collateral deposit --vault delivery --for ACCOUNT`). The devnet's mock token is
/// the faucet: each payer mints what it deposits. The operator's key is not used, so nothing
/// here competes with the node's sender for the operator's nonces.
async fn fund_collateral(
    net: &Devnet,
    market: B256,
    pilot: &Pilot,
    balancing: &PrivateKeySigner,
) -> DevkitResult<()> {
    let settlement = net.delivery.settlement;
    let desk = Desk::connect(&net.rpc, balancing.clone(), SenderConfig::default()).await?;
    let b = desk.balancing(settlement, market).await?;
    if b.account != balancing.address() {
        return Err(err(format!(
            "the market's balancing account is {}, not the devnet's balancing key",
            b.account
        )));
    }
    let funds = U256::from(BALANCING_FUNDS);
    mined(IMockToken::new(b.token, wallet(net, balancing)?).mint(b.account, funds)).await?;
    deposit_once(&desk, settlement, b.token, b.account, funds).await?;
    let payers: Vec<(PrivateKeySigner, Address)> = pilot
        .participants
        .iter()
        .map(|p| (p.key.clone(), p.trader()))
        .collect();
    for chunk in payers.chunks(DEPOSITS_AT_ONCE) {
        let mut tasks = tokio::task::JoinSet::new();
        for (key, account) in chunk.iter().cloned() {
            let (rpc, token, amount) = (net.rpc.clone(), b.token, U256::from(COLLATERAL));
            let provider = wallet(net, &key)?;
            tasks.spawn(async move {
                mined(IMockToken::new(token, provider).mint(key.address(), amount)).await?;
                let desk = Desk::connect(&rpc, key, SenderConfig::default()).await?;
                let balance = deposit_once(&desk, settlement, token, account, amount).await?;
                if balance < amount {
                    return Err(err(format!(
                        "{account} holds {balance} in the settlement after depositing {amount}"
                    )));
                }
                DevkitResult::Ok(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(err)??;
        }
    }
    Ok(())
}

/// [`Desk::vault_deposit`] of `amount` for `account`, checked on the chain when it fails: the
/// sender treats a transaction whose receipt the node has not returned yet, while its nonce is
/// already used, as dropped and estimates it again (anvil under load is late with receipts),
/// and the estimate of a deposit that did land fails for want of the allowance it used. A
/// failure after which the account holds the deposit counts as the deposit; nothing is sent
/// twice on purpose.
async fn deposit_once(
    desk: &Desk,
    vault: Address,
    token: Address,
    account: Address,
    amount: U256,
) -> DevkitResult<U256> {
    let before = desk.vault_balance(vault, token, account).await?;
    match desk.vault_deposit(vault, token, account, amount).await {
        Ok(balance) => Ok(balance),
        Err(e) => {
            let now = desk.vault_balance(vault, token, account).await?;
            if now >= before.saturating_add(amount) {
                Ok(now)
            } else {
                Err(e.into())
            }
        }
    }
}

/// Every solar site that sold in a traded interval approves the operator (the node's sender)
/// on the certificates contract, once: `setApprovalForAll(operator, true)`, from its wallet or
/// through its smart account. Returns how many approved.
async fn approve_operator(
    net: &Devnet,
    d: &Delivery,
    pilot: &Pilot,
    traded: &[Traded],
) -> DevkitResult<usize> {
    let operator = d
        .sender()
        .ok_or_else(|| err("the node's delivery client is read-only"))?;
    let certificates = d.contracts().certificates;
    let mut pending = Vec::new();
    for (k, p) in pilot.participants.iter().enumerate() {
        let solar = !matches!(p.kind, Kind::Storage | Kind::Aggregator) && p.pv_kw > 0.0;
        let sold = traded
            .iter()
            .any(|t| t.filled.get(k).is_some_and(|f| f.1 > 0));
        if !solar || !sold {
            continue;
        }
        let provider = wallet(net, &p.key)?;
        let contract = GranularCertificates::new(certificates, provider.clone());
        let approve = contract.setApprovalForAll(operator, true);
        let sent = match p.account {
            // Approvals are not market actions the paymaster sponsors: the owner sends it
            // through its account (SimpleAccount lets the owner call execute directly) and
            // pays for it.
            Some(account) => IMarketAccount::new(account, provider)
                .execute(certificates, U256::ZERO, approve.calldata().clone())
                .send()
                .await
                .map_err(err)?,
            None => approve.send().await.map_err(err)?,
        };
        pending.push((p.trader(), sent));
    }
    let approvals = pending.len();
    let certs = GranularCertificates::new(certificates, net.provider.clone());
    for (seller, sent) in pending {
        let receipt = sent.get_receipt().await.map_err(err)?;
        let approved = certs
            .isApprovedForAll(seller, operator)
            .call()
            .await
            .map_err(err)?;
        if !receipt.status() || !approved {
            return Err(err(format!(
                "{seller}'s approval of the operator did not land (tx {})",
                receipt.transaction_hash
            )));
        }
    }
    Ok(approvals)
}

/// Waits (at most [`LIMIT`]) until the node's delivery loop has moved the certificates of every
/// hour in `hours` along its fills, then reads what it moved: the transfers by the operator
/// between holders on the chain, as (to, id, Wh), checked against the Wh the node recorded per
/// seller in its store (`certificate_moves`).
async fn moved_by_node(
    net: &Devnet,
    store: &Store,
    market: B256,
    operator: Address,
    hours: &std::collections::BTreeSet<u64>,
) -> DevkitResult<Vec<(Address, U256, u128)>> {
    wait_for(
        "the node's delivery loop to move the hours' certificates along the fills",
        LIMIT,
        POLL,
        || async {
            Ok(store.hours_to_issue(market).await?.is_empty()
                && store.hours_to_move(market).await?.is_empty())
        },
    )
    .await?;
    let mut recorded = 0u128;
    for h in hours {
        recorded += store
            .certificates_moved(market, *h)
            .await?
            .values()
            .sum::<u128>();
    }
    let filter = alloy::rpc::types::Filter::new()
        .address(net.delivery.certificates)
        .event_signature(GranularCertificates::TransferSingle::SIGNATURE_HASH)
        .topic1(operator.into_word())
        .from_block(0);
    let mut transfers = Vec::new();
    for log in net.provider.get_logs(&filter).await.map_err(err)? {
        let Ok(e) = log.log_decode::<GranularCertificates::TransferSingle>() else {
            continue;
        };
        let e = e.inner.data;
        let hour = (e.id & U256::from(u64::MAX)).to::<u64>();
        // Mints (from zero) are the issuance; burns are retirements.
        if e.from == Address::ZERO || e.to == Address::ZERO || !hours.contains(&hour) {
            continue;
        }
        transfers.push((e.to, e.id, u128::try_from(e.value).map_err(err)?));
    }
    let on_chain: u128 = transfers.iter().map(|t| t.2).sum();
    if on_chain != recorded {
        return Err(err(format!(
            "the node recorded {recorded} Wh of certificates moved, the chain shows {on_chain} Wh"
        )));
    }
    Ok(transfers)
}

/// The largest single receipt of `transfers` is retired by its buyer, for itself: the largest
/// that went to a smart account if any did (a sponsored operation), else the largest. Returns
/// the Wh retired.
async fn retire_largest(
    net: &Devnet,
    d: &Delivery,
    pilot: &Pilot,
    transfers: &[(Address, U256, u128)],
    smart: Option<&mut SmartAccounts>,
) -> DevkitResult<u128> {
    let is_smart = |to: Address| pilot.participants.iter().any(|p| p.account == Some(to));
    let pick = transfers
        .iter()
        .filter(|t| smart.is_some() && is_smart(t.0))
        .max_by_key(|t| t.2)
        .or_else(|| transfers.iter().max_by_key(|t| t.2));
    let Some(&(to, id, wh)) = pick else {
        return Ok(0);
    };
    let buyer = pilot
        .participants
        .iter()
        .find(|p| p.trader() == to)
        .ok_or_else(|| err("unknown buyer"))?;
    let certificates =
        GranularCertificates::new(d.contracts().certificates, wallet(net, &buyer.key)?);
    let retire = certificates.retire(
        id,
        U256::from(wh),
        to,
        keccak256("sealgrid/demo/scope-2 claim"),
    );
    match (buyer.account, smart) {
        (Some(account), Some(s)) => {
            s.act(
                &buyer.key,
                account,
                d.contracts().certificates,
                retire.calldata().clone(),
            )
            .await?;
            s.summary.retirements += 1;
        }
        _ => {
            mined(retire).await?;
        }
    }
    Ok(wh)
}

/// The transactions that emitted `event` from the delivery contracts (for `market`, when
/// given, as the first topic) and their gas: (transactions, gas).
async fn gas_of(net: &Devnet, event: B256, market: Option<B256>) -> DevkitResult<(usize, u64)> {
    let mut filter = alloy::rpc::types::Filter::new()
        .address(vec![net.delivery.settlement, net.delivery.certificates])
        .event_signature(event)
        .from_block(0);
    if let Some(m) = market {
        filter = filter.topic1(m);
    }
    let logs = net.provider.get_logs(&filter).await.map_err(err)?;
    let txs: std::collections::BTreeSet<B256> =
        logs.iter().filter_map(|l| l.transaction_hash).collect();
    let mut gas = 0;
    for h in &txs {
        if let Some(r) = net
            .provider
            .get_transaction_receipt(*h)
            .await
            .map_err(err)?
        {
            gas += r.gas_used;
        }
    }
    Ok((txs.len(), gas))
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
        "delivery summary: {} meters; {} readings in {} txs ({} gas per reading); settle {} gas; meter-to-cash {:.1} s after the reading deadline",
        s.meters,
        s.readings,
        s.reading_txs,
        s.reading_gas / s.readings.max(1) as u64,
        s.settle_gas,
        s.meter_to_cash_seconds
    );
    if let Some(f) = &s.feeder {
        let _ = write!(
            out,
            "; feeder gateway: {} DLMS and {} charger readings ({} OCMF records verified), {} accepted",
            f.dlms_readings, f.charger_readings, f.charger_records, f.accepted
        );
    }
    if let Some(r) = &s.resettlement {
        let _ = write!(
            out,
            "; resettlement of interval {} {:.1} s after the late reading arrived: imbalance {} -> {} Wh, variance {:+.6} tokens",
            r.interval,
            r.seconds,
            r.old.1,
            r.new.1,
            (r.new.0 - r.old.0) as f64 / 1e9
        );
    }
    let _ = writeln!(
        out,
        "; certificates {:.1} kWh to {} solar generators, {:.1} kWh moved to buyers in {} transfers, {:.1} kWh retired; settlement holds {} (fees {})",
        s.certificates_wh as f64 / 1000.0,
        s.generators,
        s.certificates_moved.0 as f64 / 1000.0,
        s.certificates_moved.1,
        s.certificates_retired as f64 / 1000.0,
        s.held,
        s.fees
    );
    out
}
