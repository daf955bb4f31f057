//! `sealgrid demo`: the pilot scenario ([`crate::pilot`]) end to end on a local devnet, through
//! the real services.
//!
//! For each of K intervals, on an accelerated chain clock: every participant's wallet commits its
//! order on-chain (alloy), signs it with EIP-712 and opens it to the matcher over HTTP, and
//! checks the operator's signed receipt; the chain is moved to the gate; the scheduler clears;
//! the node's settlement pipeline proves the clearing (the binary's prover) and the submitter settles it,
//! checked on-chain by the generated verifier. The first interval also carries a commitment that
//! is never opened (excluded, its lock refunded) and shows that the verifier refuses the same
//! proof for another price. After the last interval the operator claims every commitment in
//! batches, and the demo checks that the clearing pool is back to zero and that the auction's
//! token balance equals free balances + bond + fees. Then delivery settles
//! ([`crate::demo_delivery`]): signed meter readings for every site, real-time prices, imbalance
//! settlement, an estimate for a late meter and its resettlement, and hourly certificates.

use std::{collections::HashMap, sync::Arc, time::Instant};

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
};
use alloy_primitives::{Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    AuctionReader, SubmitterConfig,
    bindings::{IClearingVerifier, IERC20, IMockToken, ISealgridAuction, SealgridAuction},
};
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet};
use sealgrid_matcher::{IntakeLimits, SimClock};
use sealgrid_node::{NodeConfig, Pipeline, SettlementConfig, launch};
use sealgrid_settlement::Settled;
use sealgrid_types::{
    BatchStatus, ClearedBatch, ClearingProver, Fill, Order, Receipt, Side, fills_proof,
    lock_with_fee, order_commitment, pack_fill_words, recover_struct_signer, required_lock,
    sealgrid_domain, sign_order,
};

use crate::{
    DevkitError, DevkitResult,
    demo_sponsored::SmartAccounts,
    pilot::{Kind, Pilot},
};

fn demo_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("demo: {e}"))
}

/// What to run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// C&I sites (the pilot has 180).
    pub sites: usize,
    /// Intervals to trade.
    pub intervals: usize,
    /// Hour of day of the first interval (12.0 = noon).
    pub start_hour: f64,
    /// Scenario seed.
    pub seed: u64,
    /// The deployment record of the chain (`sealgrid demo` passes the one it wrote): the node
    /// checks the verifiers' code and every market's verifier against it on start-up.
    pub deployment: Option<sealgrid_deploy::DeployRecord>,
    /// The checkout: its `.venv` runs the feeder's device peers (`tests/peers`).
    pub root: std::path::PathBuf,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            sites: 180,
            intervals: 3,
            start_hour: 12.0,
            seed: 7,
            deployment: None,
            root: crate::harness::root(),
        }
    }
}

/// One interval's row of the demo table.
#[derive(Clone, Debug)]
pub struct IntervalRow {
    /// The interval index.
    pub interval: u64,
    /// Hour of day in the scenario.
    pub hour: f64,
    /// Commitments.
    pub orders: usize,
    /// Clearing price (base units per kWh), if anything cleared.
    pub price: Option<i64>,
    /// Cleared volume (Wh).
    pub volume: u64,
    /// Proving time (s) and circuit capacity.
    pub prove: Option<(f64, usize)>,
    /// Settle gas.
    pub settle_gas: u64,
    /// Gate closure to settle confirmed (wall-clock s).
    pub latency: f64,
}

pub use crate::demo_delivery::{DeliveryRow, DeliverySummary, Resettlement};
pub use crate::demo_sponsored::SponsoredSummary;

/// The demo's result.
#[derive(Clone, Debug)]
pub struct DemoSummary {
    /// One row per interval.
    pub rows: Vec<IntervalRow>,
    /// Gas of all claim transactions.
    pub claim_gas: u64,
    /// Claim transactions.
    pub claim_txs: usize,
    /// Rounding fees accrued (milli base units).
    pub fees_milli: u128,
    /// Delivery settlement of the traded intervals.
    pub delivery: DeliverySummary,
    /// The sponsored smart-account traders (when the deployment has `[accounts]`).
    pub sponsored: Option<SponsoredSummary>,
}

struct Committed {
    who: usize,
    order: Order,
    record: ISealgridAuction::CommitmentRecord,
}

/// The deployment the demo runs on: `net` with the auction of the local config.
pub async fn run_demo(
    net: &Devnet,
    market: alloy_primitives::B256,
    prover: Arc<dyn ClearingProver>,
    submitter_cfg: SubmitterConfig,
    opts: DemoOptions,
    mut say: impl FnMut(String),
) -> DevkitResult<DemoSummary> {
    let mut pilot = Pilot::new(opts.sites, opts.seed);
    let mut smart = SmartAccounts::setup(net, &mut pilot, &mut say).await?;
    let chain = AuctionReader::connect(&net.rpc, net.auction).await?;
    let info = chain
        .market(market)
        .await?
        .ok_or_else(|| demo_err("the demo market is missing"))?;
    let token = info.token;
    let operator: PrivateKeySigner = DEV_KEYS[0].parse().map_err(demo_err)?;
    let op_wallet = net.wallet(DEV_KEYS[0])?;

    // Fund every participant: gas money, and 10,000 tokens (1M for the aggregator) deposited
    // into the auction by the operator, so that no site needs an approval transaction.
    say(format!(
        "funding {} participants ({} sites, {} storage, 1 aggregator)",
        pilot.participants.len(),
        opts.sites,
        pilot.participants.len() - opts.sites - 1
    ));
    let amounts: Vec<U256> = pilot
        .participants
        .iter()
        .map(|p| {
            U256::from(if p.kind == Kind::Aggregator {
                1_000_000_000_000u64
            } else {
                10_000_000_000u64
            })
        })
        .collect();
    let total: U256 = amounts.iter().copied().sum();
    let mint = IMockToken::new(token, op_wallet.clone());
    mined(mint.mint(operator.address(), total)).await?;
    mined(IERC20::new(token, op_wallet.clone()).approve(net.auction, total)).await?;
    let op_auction = SealgridAuction::new(net.auction, op_wallet.clone());
    let mut last = None;
    for (p, amount) in pilot.participants.iter().zip(&amounts) {
        let _: serde_json::Value = net
            .provider
            .raw_request(
                "anvil_setBalance".into(),
                (p.key.address(), U256::from(10u128.pow(20))),
            )
            .await
            .map_err(demo_err)?;
        last = Some(
            op_auction
                .deposit(token, p.trader(), *amount)
                .send()
                .await
                .map_err(demo_err)?,
        );
    }
    if let Some(pending) = last {
        pending.get_receipt().await.map_err(demo_err)?;
    }
    if let Some(s) = smart.as_mut() {
        s.snapshot_balances(&pilot).await?;
    }
    let wallets: Vec<DynProvider> = pilot
        .participants
        .iter()
        .map(|p| {
            let url = net.rpc.parse().map_err(demo_err)?;
            Ok(ProviderBuilder::new()
                .wallet(EthereumWallet::from(p.key.clone()))
                .connect_http(url)
                .erased())
        })
        .collect::<DevkitResult<_>>()?;

    // The node: store, indexer, intake API, scheduler and the prove-and-settle pipeline, stepped
    // by the demo on its simulated clock (no background loops).
    let tmp = tempfile::tempdir().map_err(demo_err)?;
    let clock = SimClock::new(net.now().await?);
    // Proving keys for the largest interval this scenario can have, before the first gate.
    let most = pilot.participants.len() + 2;
    say(format!(
        "preparing the prover for up to {most} commitments per interval (keygen) ..."
    ));
    let started = Instant::now();
    {
        let prover = prover.clone();
        tokio::task::spawn_blocking(move || prover.prepare(most))
            .await
            .map_err(demo_err)?
            .map_err(demo_err)?;
    }
    say(format!(
        "prover ready in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let mut cfg = NodeConfig::new(
        net.rpc.clone(),
        net.auction,
        operator.clone(),
        format!("sqlite:{}", tmp.path().join("matcher.db").display()),
    );
    cfg.markets = vec![market];
    cfg.deployment = opts.deployment.clone();
    // Every site's wallet sends from the same loopback address: the per-client chain-work
    // budget (issue 17, hole 9) is sized for one client per address, not a whole feeder.
    cfg.intake = IntakeLimits {
        burst: 1_000,
        per_second: 1_000,
        client_chain_burst: 100_000,
        client_chain_per_second: 100_000,
        ..IntakeLimits::default()
    };
    cfg.clock = Arc::new(clock.clone());
    cfg.pipeline = Pipeline::Settle(SettlementConfig {
        prover,
        submitter: submitter_cfg,
        prepare: Vec::new(),
    });
    cfg.background = false;
    // Delivery is the node's own work (its loop runs although the demo steps the auction):
    // sites and the oracle only post to its API.
    if net.delivery.settlement != alloy_primitives::Address::ZERO {
        cfg.delivery = Some(sealgrid_node::DeliveryNodeConfig::new(net.delivery));
    }
    let mut node = launch(cfg).await?;
    let base = node.base_url();
    let mut reports = node
        .take_reports()
        .ok_or_else(|| demo_err("the node has no settle reports"))?;
    let scheduler = node.scheduler.clone();
    let submitter = node
        .submitter
        .clone()
        .ok_or_else(|| demo_err("the node has no submitter"))?;
    say(format!(
        "matcher API on {base}; operator {}",
        operator.address()
    ));

    let domain = sealgrid_domain(net.chain_id, net.auction);
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut settled: Vec<(u64, Vec<Committed>, Vec<u64>)> = Vec::new();
    let mut traded: Vec<crate::demo_delivery::Traded> = Vec::new();
    for step in 0..opts.intervals {
        let hour = opts.start_hour + step as f64 * 5.0 / 60.0;
        if step == 0 && 3600 % info.timing.interval_length() == 0 {
            // The first interval starts at a whole hour of chain time, its gate 90 s ahead:
            // the intervals then fall into the same (hourly) certificate periods on every run,
            // and with the scenario's seeds every run of the same options gives the same
            // figures.
            let now = net.now().await?;
            let lead = u64::from(info.timing.gate_lead());
            let start = (now + lead + 91).div_ceil(3600) * 3600;
            net.warp(start - lead - 90).await?;
            clock.set(start - lead - 90);
        }
        let now = net.now().await?;
        let mut interval = info.timing.next_open_interval(now)?;
        if info.timing.gate(interval)? < now + 60 {
            interval += 1;
        }
        let gate = info.timing.gate(interval)?;
        let intents = pilot.intents(hour);
        // What each participant expects to import (export < 0): its meter reads near this.
        let mut forecast = vec![0i64; pilot.participants.len()];
        for i in &intents {
            if pilot.participants[i.who].kind != Kind::Aggregator {
                let q = i64::try_from(i.quantity_wh).map_err(demo_err)?;
                forecast[i.who] += if i.side == Side::Buy { q } else { -q };
            }
        }
        say(format!(
            "interval {interval} ({}): {} orders; committing on-chain ...",
            clock_label(hour),
            intents.len()
        ));

        // Every lock covers the interval's fee for unopened commitments (zero on the devnet).
        let fee = chain.commit_limits(market, interval).await?.unopened_fee;
        // Commit: one task per participant (its orders in sequence, for its nonces).
        let mut by_who: HashMap<usize, Vec<(usize, Order, u128)>> = HashMap::new();
        for (n, i) in intents.iter().enumerate() {
            let order = Order {
                trader: pilot.participants[i.who].trader(),
                market,
                interval,
                side: i.side.code(),
                quantityWh: i.quantity_wh,
                limitPrice: i.limit,
                nonce: interval * 1_000 + n as u64,
                salt: Pilot::salt(opts.seed, interval, n),
            };
            let lock = lock_with_fee(required_lock(i.side, i.quantity_wh, i.limit), fee);
            by_who.entry(i.who).or_default().push((n, order, lock));
        }
        // The first interval also gets a commitment that is never opened.
        let unopened = if step == 0 {
            let who = pilot.participants.len() - 1;
            let order = Order {
                trader: pilot.participants[who].trader(),
                market,
                interval,
                side: Side::Buy.code(),
                quantityWh: 9_000,
                limitPrice: 150_000,
                nonce: interval * 1_000 + 999,
                salt: Pilot::salt(opts.seed, interval, 999),
            };
            by_who.entry(who).or_default().push((
                usize::MAX,
                order,
                lock_with_fee(required_lock(Side::Buy, 9_000, 150_000), fee),
            ));
            true
        } else {
            false
        };
        // Sites with smart accounts commit through one sponsored bundle; the others from
        // their wallets, concurrently.
        let mut sponsored_orders = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (who, orders) in by_who {
            if pilot.participants[who].account.is_some() {
                sponsored_orders.push((who, orders));
                continue;
            }
            let auction = SealgridAuction::new(net.auction, wallets[who].clone());
            tasks.spawn(async move {
                let mut out = Vec::new();
                for (n, order, lock) in orders {
                    let commitment = order_commitment(&order).map_err(demo_err)?;
                    let receipt =
                        mined(auction.commit(order.market, order.interval, commitment, lock))
                            .await?;
                    let index = receipt
                        .inner
                        .logs()
                        .iter()
                        .find_map(|l| l.log_decode::<SealgridAuction::Committed>().ok())
                        .ok_or_else(|| demo_err("commit without a Committed event"))?
                        .inner
                        .data
                        .index;
                    out.push((
                        n,
                        Committed {
                            who,
                            record: ISealgridAuction::CommitmentRecord {
                                index,
                                trader: order.trader,
                                lock,
                                commitment,
                            },
                            order,
                        },
                    ));
                }
                Ok::<_, DevkitError>(out)
            });
        }
        let mut committed: Vec<(usize, Committed)> = Vec::new();
        let sponsored_count = sponsored_orders.len();
        if let Some(s) = smart.as_mut() {
            sponsored_orders.sort_by_key(|(who, _)| *who);
            for c in s.commit(&pilot, sponsored_orders).await? {
                committed.push((
                    c.n,
                    Committed {
                        who: c.who,
                        record: ISealgridAuction::CommitmentRecord {
                            index: c.index,
                            trader: c.order.trader,
                            lock: c.lock,
                            commitment: c.commitment,
                        },
                        order: c.order,
                    },
                ));
            }
        }
        while let Some(r) = tasks.join_next().await {
            committed.extend(r.map_err(demo_err)??);
        }
        committed.sort_by_key(|(_, c)| c.record.index);
        if net.now().await? >= gate {
            return Err(demo_err(format!(
                "committing took past the gate of interval {interval}"
            )));
        }

        // Open to the matcher: EIP-712 signatures over HTTP; every receipt is checked.
        let mut opens = tokio::task::JoinSet::new();
        for (n, c) in &committed {
            if *n == usize::MAX {
                continue;
            }
            let key = pilot.participants[c.who].key.clone();
            let (order, index, commitment) = (c.order.clone(), c.record.index, c.record.commitment);
            let (http, base, domain, op) = (
                http.clone(),
                base.clone(),
                domain.clone(),
                operator.address(),
            );
            let chain_id = net.chain_id;
            let verifying = net.auction;
            opens.spawn(async move {
                let signature = sign_order(&key, &order, &domain)?;
                let body = serde_json::json!({
                    "order": order,
                    "signature": alloy_primitives::hex::encode_prefixed(signature),
                    "domain": { "name": "sealgrid", "version": "1", "chainId": chain_id, "verifyingContract": verifying },
                });
                let answer: serde_json::Value = http
                    .post(format!("{base}/v1/orders"))
                    .json(&body)
                    .send()
                    .await
                    .map_err(demo_err)?
                    .json()
                    .await
                    .map_err(demo_err)?;
                if answer["status"] != "accepted" {
                    return Err(demo_err(format!("order refused: {answer}")));
                }
                let sig: Bytes = serde_json::from_value(answer["operatorSignature"].clone())
                    .map_err(demo_err)?;
                let r = Receipt {
                    market: order.market,
                    interval: order.interval,
                    index,
                    commitment,
                };
                if recover_struct_signer(&r, &domain, &sig)? != op {
                    return Err(demo_err("a receipt not signed by the operator"));
                }
                Ok::<_, DevkitError>(())
            });
        }
        while let Some(r) = opens.join_next().await {
            r.map_err(demo_err)??;
        }
        say(format!(
            "interval {interval}: {} commitments on-chain ({} smart accounts in one sponsored bundle), {} opened to the matcher with operator-signed receipts{}",
            committed.len(),
            sponsored_count,
            committed.len() - usize::from(unopened),
            if unopened {
                " (one committed but never opened)"
            } else {
                ""
            }
        ));

        // Gate closure: clear, prove, settle.
        net.warp(gate).await?;
        clock.set(gate);
        let started = Instant::now();
        say(format!(
            "interval {interval}: gate closed; clearing, proving ({} slots) and settling ...",
            committed.len()
        ));
        let batch = scheduler.close_interval(market, interval).await?.batch;
        let latency = started.elapsed().as_secs_f64();
        let report = tokio::time::timeout(std::time::Duration::from_secs(10), reports.recv())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| demo_err(format!("no settle report for interval {interval}")))?;
        let (prove, settle_gas) = match report.outcome {
            Settled::Settled {
                prove_seconds,
                capacity,
                settle_gas,
                ..
            } => (Some((prove_seconds, capacity)), settle_gas),
            other => {
                return Err(demo_err(format!(
                    "interval {interval} was not settled with a proof: {other:?}"
                )));
            }
        };
        let onchain = chain.interval(market, interval).await?;
        if onchain.status != BatchStatus::Settled {
            return Err(demo_err(format!(
                "interval {interval} is not settled on-chain"
            )));
        }
        if step == 0 && batch.volume > 0 {
            refuse_forgery(net, &info, &batch, &onchain, &report.proof, &mut say).await?;
        }
        let fills = batch
            .fills
            .iter()
            .map(|w| Fill::decode(*w))
            .collect::<Result<Vec<_>, _>>()?;
        for (k, fill) in fills.iter().enumerate() {
            if let Some((_, c)) = committed.get(k) {
                match *fill {
                    Fill::Buy(q) => pilot.apply_fill(c.who, Side::Buy, q),
                    Fill::Sell(q) => pilot.apply_fill(c.who, Side::Sell, q),
                    Fill::Zero | Fill::Excluded => {}
                }
            }
        }
        let row = IntervalRow {
            interval,
            hour,
            orders: committed.len(),
            price: batch.price,
            volume: batch.volume,
            prove,
            settle_gas,
            latency,
        };
        say(format!(
            "interval {interval}: settled in {latency:.1} s from the gate: price {} per MWh, {:.1} kWh, proof {:.1} s ({} slots), settle {} gas",
            row.price
                .map_or("-".into(), |p| format!("{:.2}", p as f64 / 1_000.0)),
            row.volume as f64 / 1000.0,
            prove.map_or(0.0, |p| p.0),
            prove.map_or(0, |p| p.1),
            settle_gas
        ));
        let mut filled = vec![(0u64, 0u64); pilot.participants.len()];
        for (k, fill) in fills.iter().enumerate() {
            if let Some((_, c)) = committed.get(k) {
                match *fill {
                    Fill::Buy(q) => filled[c.who].0 += q,
                    Fill::Sell(q) => filled[c.who].1 += q,
                    Fill::Zero | Fill::Excluded => {}
                }
            }
        }
        traded.push(crate::demo_delivery::Traded {
            interval,
            forecast,
            price: row.price,
            filled,
        });
        rows.push(row);
        settled.push((
            interval,
            committed.into_iter().map(|(_, c)| c).collect(),
            batch.fills.clone(),
        ));
    }

    // Delivery: the operator claims every commitment for the traders, in batches.
    let last_start = match settled.last() {
        Some((i, _, _)) => info.timing.start(*i)?,
        None => net.now().await?,
    };
    net.warp(last_start.max(net.now().await? + 1)).await?;
    let (mut claim_gas, mut claim_txs) = (0u64, 0usize);
    for (interval, committed, fills) in &settled {
        let claims = committed
            .iter()
            .enumerate()
            .map(|(k, c)| {
                Ok(ISealgridAuction::Claim {
                    record: c.record.clone(),
                    word: fills[k],
                    proof: fills_proof(fills, u32::try_from(k).map_err(demo_err)?)?,
                })
            })
            .collect::<DevkitResult<Vec<_>>>()?;
        let sent = submitter.claim(market, *interval, claims).await?;
        claim_txs += sent.len();
        claim_gas += sent.iter().map(|c| c.gas_used).sum::<u64>();
    }
    say(format!(
        "claimed every commitment of {} intervals in {claim_txs} transactions ({claim_gas} gas)",
        settled.len()
    ));

    // Money: the pool is empty, and the auction holds exactly free balances + bond + fees.
    let reader = SealgridAuction::new(net.auction, net.provider.clone());
    let ledger = reader.ledger(token).call().await.map_err(demo_err)?;
    if ledger.poolMilli != 0 {
        return Err(demo_err(format!(
            "the clearing pool is {} milli-units after every claim",
            ledger.poolMilli
        )));
    }
    let mut free = U256::ZERO;
    for a in pilot
        .participants
        .iter()
        .map(|p| p.trader())
        .chain([operator.address()])
    {
        free += reader.balanceOf(token, a).call().await.map_err(demo_err)?;
    }
    let held = IERC20::new(token, net.provider.clone())
        .balanceOf(net.auction)
        .call()
        .await
        .map_err(demo_err)?;
    let bond = U256::from(chain.market(market).await?.map_or(0, |m| m.bond));
    let lhs = held * U256::from(1000u32);
    let rhs = (free + bond) * U256::from(1000u32) + U256::from(ledger.feesMilli);
    if lhs != rhs {
        return Err(demo_err(format!(
            "money is not conserved: 1000 x held {held} != 1000 x (free {free} + bond {bond}) + fees {} milli",
            ledger.feesMilli
        )));
    }
    say(format!(
        "money conserved: the auction holds {held} = free balances {free} + bond {bond} + fees {} milli-units; clearing pool 0",
        ledger.feesMilli
    ));
    if let Some(s) = smart.as_mut() {
        let spent = s.trading_done().await?;
        if !spent.is_zero() {
            return Err(demo_err(format!(
                "the smart accounts and their owners spent {spent} wei of their own while trading"
            )));
        }
    }

    let delivery = crate::demo_delivery::run_delivery(
        &opts.root,
        net,
        &node,
        market,
        &info.timing,
        &pilot,
        &traded,
        opts.seed,
        smart.as_mut(),
        &mut say,
    )
    .await?;
    node.shutdown().await;
    let sponsored = match smart.as_mut() {
        Some(s) => Some(s.finish().await?),
        None => None,
    };
    Ok(DemoSummary {
        rows,
        claim_gas,
        claim_txs,
        fees_milli: ledger.feesMilli,
        delivery,
        sponsored,
    })
}

/// Sends a call and waits for its receipt; a revert is an error.
pub(crate) async fn mined<P, D>(
    call: alloy::contract::CallBuilder<P, D>,
) -> DevkitResult<alloy::rpc::types::TransactionReceipt>
where
    P: Provider,
    D: alloy::contract::CallDecoder,
{
    let receipt = call
        .send()
        .await
        .map_err(demo_err)?
        .get_receipt()
        .await
        .map_err(demo_err)?;
    if !receipt.status() {
        return Err(demo_err(format!(
            "tx {} reverted",
            receipt.transaction_hash
        )));
    }
    Ok(receipt)
}

fn clock_label(hour: f64) -> String {
    let minutes = (hour * 60.0).round() as u64;
    format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
}

/// The generated verifier accepts the proof for the settled statement and refuses it for the
/// price + 1 (an eth_call; nothing is sent).
async fn refuse_forgery(
    net: &Devnet,
    info: &sealgrid_chain::MarketInfo,
    batch: &ClearedBatch,
    onchain: &sealgrid_chain::IntervalInfo,
    proof: &[u8],
    say: &mut impl FnMut(String),
) -> DevkitResult<()> {
    let verifier = IClearingVerifier::new(info.verifier, net.provider.clone());
    let statement = |price: i64| IClearingVerifier::Statement {
        market: batch.market,
        interval: batch.interval,
        accumulator: U256::from_be_bytes(onchain.accumulator.0),
        count: batch.count,
        priceFloor: info.bounds.price_floor,
        priceCap: info.bounds.price_cap,
        clearingPrice: price,
        volume: batch.volume,
        fills: Bytes::from(pack_fill_words(&batch.fills)),
    };
    let price = batch.price.unwrap_or(0);
    let proof = Bytes::copy_from_slice(proof);
    let honest = verifier
        .verifyClearing(statement(price), proof.clone())
        .call()
        .await
        .map_err(demo_err)?;
    let forged = verifier
        .verifyClearing(statement(price + 1), proof)
        .call()
        .await;
    if !honest || matches!(forged, Ok(true)) {
        return Err(demo_err(format!(
            "the verifier answered {honest} for the settled statement and {forged:?} for price + 1"
        )));
    }
    say(format!(
        "the verifier at {} accepts the proof for price {price} and refuses it for price {}",
        info.verifier,
        price + 1
    ));
    Ok(())
}

/// The demo's table and summary, as printed.
pub fn render(summary: &DemoSummary) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "interval    time   orders  price/MWh  volume kWh  prove s  slots  settle gas  gate->settled s"
    );
    for r in &summary.rows {
        let _ = writeln!(
            s,
            "{:>8}  {:>5}  {:>6}  {:>9}  {:>10.1}  {:>7.1}  {:>5}  {:>10}  {:>15.1}",
            r.interval,
            clock_label(r.hour),
            r.orders,
            r.price
                .map_or("-".into(), |p| format!("{:.2}", p as f64 / 1_000.0)),
            r.volume as f64 / 1000.0,
            r.prove.map_or(0.0, |p| p.0),
            r.prove.map_or(0, |p| p.1),
            r.settle_gas,
            r.latency
        );
    }
    let n = summary.rows.len().max(1) as f64;
    let orders: usize = summary.rows.iter().map(|r| r.orders).sum();
    let volume: u64 = summary.rows.iter().map(|r| r.volume).sum();
    let prove: f64 = summary
        .rows
        .iter()
        .filter_map(|r| r.prove.map(|p| p.0))
        .sum();
    let latency_max = summary.rows.iter().map(|r| r.latency).fold(0.0, f64::max);
    let gas: u64 = summary.rows.iter().map(|r| r.settle_gas).sum();
    let _ = writeln!(
        s,
        "summary: {} intervals settled with verified proofs; {orders} orders; {:.1} kWh traded; \
         prove {:.1} s mean; settle {} gas mean; gate->settled {:.1} s mean, {:.1} s max; \
         claims {} gas in {} txs; rounding fees {} milli-units",
        summary.rows.len(),
        volume as f64 / 1000.0,
        prove / n,
        gas / summary.rows.len().max(1) as u64,
        summary.rows.iter().map(|r| r.latency).sum::<f64>() / n,
        latency_max,
        summary.claim_gas,
        summary.claim_txs,
        summary.fees_milli
    );
    if let Some(sp) = &summary.sponsored {
        s.push_str(&crate::demo_sponsored::render(sp));
    }
    s.push_str(&crate::demo_delivery::render(&summary.delivery));
    s
}
