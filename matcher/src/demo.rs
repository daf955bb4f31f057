//! `sealgrid demo`: one interval end to end on a local devnet, through the real services.
//!
//! anvil and the demo deployment; four traders commit on-chain with alloy, sign EIP-712
//! orders and open them to the matcher over HTTP; the scheduler clears at the gate; the
//! prover (plugged in by the binary) proves the clearing; the auction refuses the proof for any
//! other statement and accepts it for the committed book; the operator claims every fill for the
//! traders. The settle and claim calls here are the seed of the submitter.

use std::{path::PathBuf, sync::Arc};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::{
    AuctionReader,
    bindings::{EnergyIntentToken, ISealgridAuction, SealgridAuction},
    devnet::{DEV_KEYS, Devnet, demo_market},
};
use sealgrid_store::Store;
use sealgrid_types::{
    Order, Receipt, Side, TokenKind, fills_proof, order_commitment, pack_fill_words,
    recover_struct_signer, required_lock, sealgrid_domain, sign_order, token_id,
};

use crate::{
    ApiLimits, ClearingProver, Indexer, Intake, IntakeLimits, LogSink, MatcherError, MatcherResult,
    Metrics, Scheduler, SimClock, proof_request,
};

fn demo_err(e: impl std::fmt::Display) -> MatcherError {
    MatcherError::Config(format!("demo: {e}"))
}

/// The demo's orders: (trader key, side, Wh, limit per kWh, opened to the matcher).
const BOOK: [(usize, Side, u64, i64, bool); 9] = [
    (1, Side::Buy, 40_000, 120_000, true),
    (2, Side::Buy, 25_000, 90_000, true),
    (3, Side::Sell, 30_000, 60_000, true),
    (4, Side::Sell, 50_000, 100_000, true),
    (1, Side::Buy, 12_000, 105_000, true),
    (2, Side::Sell, 8_000, 95_000, true),
    (3, Side::Buy, 6_000, 80_000, true),
    (4, Side::Sell, 15_000, 130_000, true),
    // Committed but never opened: the matcher must exclude it, and its lock comes back.
    (3, Side::Buy, 9_000, 150_000, false),
];

/// Sends a contract call and waits for its receipt; a revert is an error naming `what`.
async fn mined<P, D>(
    call: alloy::contract::CallBuilder<P, D>,
    what: &str,
) -> MatcherResult<alloy::rpc::types::TransactionReceipt>
where
    P: alloy::providers::Provider,
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
        return Err(demo_err(format!("{what} reverted")));
    }
    Ok(receipt)
}

/// Runs the demo, reporting each step through `say`.
pub async fn run_demo(
    root: PathBuf,
    prover: Arc<dyn ClearingProver>,
    mut say: impl FnMut(String),
) -> MatcherResult<()> {
    say(
        "starting anvil and deploying token, intent token, auction, timelock and the demo market"
            .into(),
    );
    let net = Devnet::start(&root).await?;
    say(format!(
        "chain {} at {}; auction {}",
        net.chain_id, net.rpc, net.auction
    ));

    let tmp = tempfile::tempdir().map_err(demo_err)?;
    let store = Store::connect(&format!(
        "sqlite:{}",
        tmp.path().join("matcher.db").display()
    ))
    .await?;
    let chain = AuctionReader::connect(&net.rpc, net.auction).await?;
    let market = demo_market();
    let info = chain
        .market(market)
        .await?
        .ok_or_else(|| demo_err("the demo market is missing"))?;
    let now = net.now().await?;
    // One interval of room so that every commit lands before the gate.
    let interval = info.timing.next_open_interval(now)? + 1;
    let gate = info.timing.gate(interval)?;
    let start = info.timing.start(interval)?;

    let clock = SimClock::new(now);
    let indexer = Arc::new(Indexer::new(chain.clone(), store.clone(), 0, 0));
    let operator: PrivateKeySigner = DEV_KEYS[0].parse().map_err(demo_err)?;
    let intake = Intake::new(
        chain.clone(),
        store.clone(),
        indexer.clone(),
        operator.clone(),
        Arc::new(clock.clone()),
        IntakeLimits::default(),
        Arc::new(Metrics::default()),
    );
    let app = crate::router(intake.clone(), indexer.clone(), ApiLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(demo_err)?;
    let base = format!("http://{}", listener.local_addr().map_err(demo_err)?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    say(format!(
        "matcher API on {base}; interval {interval}: gate {gate}, delivery from {start}"
    ));

    // Commit on-chain, then open to the matcher with an EIP-712 signature.
    let domain = sealgrid_domain(net.chain_id, net.auction);
    let http = reqwest::Client::new();
    let mut records = Vec::new();
    for (n, (k, side, q, limit, open)) in BOOK.into_iter().enumerate() {
        let trader: PrivateKeySigner = DEV_KEYS[k].parse().map_err(demo_err)?;
        let order = Order {
            trader: trader.address(),
            market,
            interval,
            side: side.code(),
            quantityWh: q,
            limitPrice: limit,
            nonce: interval * 100 + n as u64,
            salt: B256::from(
                U256::from_be_bytes(
                    alloy_primitives::keccak256(format!("demo-salt-{interval}-{n}")).0,
                ) >> 8,
            ),
        };
        let commitment = order_commitment(&order)?;
        let lock = required_lock(side, q, limit);
        let auction = SealgridAuction::new(net.auction, net.wallet(DEV_KEYS[k])?);
        mined(
            auction.commit(market, interval, commitment, lock),
            &format!("commit {n}"),
        )
        .await?;
        let index = u32::try_from(n).map_err(demo_err)?;
        records.push(ISealgridAuction::CommitmentRecord {
            index,
            trader: order.trader,
            lock,
            commitment,
        });
        let what = format!("{:?} {} kWh at limit {}", side, q as f64 / 1000.0, limit);
        if !open {
            say(format!(
                "commitment {index}: {} commits ({what}) but never opens it",
                order.trader
            ));
            continue;
        }
        let signature = sign_order(&trader, &order, &domain)?;
        let body = serde_json::json!({
            "order": order,
            "signature": alloy_primitives::hex::encode_prefixed(signature),
            "domain": { "name": "sealgrid", "version": "1", "chainId": net.chain_id, "verifyingContract": net.auction },
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
            return Err(demo_err(format!("order {n} refused: {answer}")));
        }
        let sig: Bytes =
            serde_json::from_value(answer["operatorSignature"].clone()).map_err(demo_err)?;
        let r = Receipt {
            market,
            interval,
            index,
            commitment,
        };
        let signer = recover_struct_signer(&r, &domain, &sig)?;
        if signer != operator.address() {
            return Err(demo_err("receipt not signed by the operator"));
        }
        say(format!(
            "commitment {index}: {} commits and opens {what}; receipt signed by {signer}",
            order.trader
        ));
    }

    // Gate closure: the scheduler clears.
    net.warp(gate).await?;
    clock.set(gate);
    let scheduler = Scheduler::new(
        intake.clone(),
        chain.clone(),
        indexer.clone(),
        Arc::new(LogSink),
    );
    let batch = scheduler.close_interval(market, interval).await?;
    say(format!(
        "gate closed; cleared {} commitments: price {} per kWh, volume {} kWh",
        batch.count,
        batch.price.map_or("-".into(), |p| p.to_string()),
        batch.volume as f64 / 1000.0
    ));
    for (k, w) in batch.fills.iter().enumerate() {
        say(format!("  fill {k}: {}", describe(*w)));
    }

    // Prove the clearing over the committed sequence (openings from the store, the excluded
    // commitment from the indexed chain events).
    let request = proof_request(&store, &batch, info.bounds).await?;
    say(format!(
        "proving the clearing of {} commitments (halo2, KZG on BN254) ...",
        request.slots.len()
    ));
    let proven = {
        let prover = prover.clone();
        tokio::task::spawn_blocking(move || prover.prove(&request))
            .await
            .map_err(demo_err)?
            .map_err(demo_err)?
    };
    if proven.fills != batch.fills
        || proven.volume != batch.volume
        || proven.price != batch.price.unwrap_or(0)
    {
        return Err(demo_err(
            "the prover's statement differs from the matcher's batch",
        ));
    }
    say(format!(
        "proved in {:.1} s with the {}-slot circuit: {} proof bytes",
        proven.seconds,
        proven.capacity,
        proven.proof.len()
    ));

    let op = SealgridAuction::new(net.auction, net.wallet(DEV_KEYS[0])?);
    let fills = Bytes::from(pack_fill_words(&batch.fills));
    let proof = Bytes::from(proven.proof.clone());
    // The same proof for another price must be refused (simulated, not sent).
    if batch.volume > 0 {
        let forged = op
            .settle(
                market,
                interval,
                proven.price + 1,
                batch.volume,
                fills.clone(),
                proof.clone(),
            )
            .gas(3_000_000)
            .call()
            .await;
        match forged {
            Err(e) if e.to_string().contains("revert") => say(format!(
                "the auction refuses the proof for price {} (AuctionInvalidProof)",
                proven.price + 1
            )),
            Err(e) => return Err(demo_err(format!("forged settle failed oddly: {e}"))),
            Ok(_) => return Err(demo_err("the auction accepted a proof for another price")),
        }
    }
    let settle = mined(
        op.settle(market, interval, proven.price, batch.volume, fills, proof)
            .gas(3_000_000),
        "settle",
    )
    .await?;
    let onchain = chain.interval(market, interval).await?;
    say(format!(
        "settled on-chain in tx {} ({} gas); fills root {}",
        settle.transaction_hash, settle.gas_used, onchain.fills_root
    ));

    // Delivery starts: the operator claims every commitment for the traders.
    net.warp(start).await?;
    let mut claims = Vec::new();
    for (k, r) in records.iter().enumerate() {
        let index = u32::try_from(k).map_err(demo_err)?;
        let proof = fills_proof(&batch.fills, index)?;
        claims.push(ISealgridAuction::Claim {
            record: r.clone(),
            word: batch.fills[k],
            proof,
        });
    }
    let claimed = mined(op.claimBatch(market, interval, claims), "claimBatch").await?;
    say(format!(
        "claimed {} commitments in one tx ({} gas)",
        records.len(),
        claimed.gas_used
    ));

    let reader = SealgridAuction::new(net.auction, net.provider.clone());
    let intents = EnergyIntentToken::new(
        reader.intents().call().await.map_err(demo_err)?,
        net.provider.clone(),
    );
    let token = info.token;
    for key in &DEV_KEYS[1..] {
        let who: PrivateKeySigner = key.parse().map_err(demo_err)?;
        let a: Address = who.address();
        let free = reader.balanceOf(token, a).call().await.map_err(demo_err)?;
        let bought = intents
            .balanceOf(a, token_id(info.seq, interval, TokenKind::Bought))
            .call()
            .await
            .map_err(demo_err)?;
        let sold = intents
            .balanceOf(a, token_id(info.seq, interval, TokenKind::Sold))
            .call()
            .await
            .map_err(demo_err)?;
        say(format!(
            "trader {a}: free balance {free}, intents bought {bought} Wh, sold {sold} Wh"
        ));
    }
    let ledger = reader.ledger(token).call().await.map_err(demo_err)?;
    if ledger.poolMilli != 0 {
        return Err(demo_err(format!(
            "the clearing pool is {} milli-units after every claim",
            ledger.poolMilli
        )));
    }
    say(format!(
        "clearing pool back to 0; rounding fees {} milli-units. Interval {interval} done.",
        ledger.feesMilli
    ));
    server.abort();
    Ok(())
}

fn describe(word: u64) -> String {
    use sealgrid_types::{EXCLUDED_FLAG, FILL_QUANTITY_MASK, SELL_FLAG};
    if word & EXCLUDED_FLAG != 0 {
        "excluded (never opened)".into()
    } else if word == 0 {
        "no fill".into()
    } else if word & SELL_FLAG != 0 {
        format!("sells {} Wh", word & FILL_QUANTITY_MASK)
    } else {
        format!("buys {} Wh", word & FILL_QUANTITY_MASK)
    }
}
