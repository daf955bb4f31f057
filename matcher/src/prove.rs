//! The hand-off to a clearing prover, behind a trait: the matcher never imports the prover; the
//! binary plugs one in (DESIGN §2).

use alloy_primitives::B256;
use std::collections::HashMap;

use sealgrid_store::{BatchRow, Store, StoredOrder};
use sealgrid_types::{EXCLUDED_FLAG, MarketBounds, Order};

use crate::error::{MatcherError, MatcherResult};

/// One commitment of a cleared interval as the prover needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofSlot {
    /// The opened order (with its salt).
    Opened(Order),
    /// Never opened or withdrawn: only the on-chain commitment.
    Excluded(B256),
}

/// The private input of a proof: the interval's whole sequence in on-chain order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofRequest {
    /// Market id.
    pub market: B256,
    /// Interval index.
    pub interval: u64,
    /// The market's price bounds (part of the proven statement).
    pub bounds: MarketBounds,
    /// Every commitment, by index.
    pub slots: Vec<ProofSlot>,
}

/// A proven batch: what the settle transaction carries.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenBatch {
    /// The proof bytes.
    pub proof: Vec<u8>,
    /// p* (0 when nothing clears).
    pub price: i64,
    /// V* in Wh.
    pub volume: u64,
    /// The fill words the proof is for.
    pub fills: Vec<u64>,
    /// The circuit capacity used.
    pub capacity: usize,
    /// Seconds spent proving.
    pub seconds: f64,
}

/// Proves cleared batches. `prove` is CPU-bound; call it from a blocking task.
pub trait ClearingProver: Send + Sync + std::fmt::Debug {
    /// Proves `request`, or says why not.
    fn prove(&self, request: &ProofRequest) -> Result<ProvenBatch, String>;

    /// Gets ready to prove batches of up to `count` commitments (e.g. generates proving keys),
    /// so that the first interval does not pay for it inside its settle window. CPU-bound.
    fn prepare(&self, count: usize) -> Result<(), String> {
        let _ = count;
        Ok(())
    }
}

/// Builds the proof request of a cleared batch from the store: a slot is opened when the batch
/// did not exclude it and the store holds its opening; its commitment comes from the indexed
/// chain events otherwise.
pub async fn proof_request(
    store: &Store,
    batch: &BatchRow,
    bounds: MarketBounds,
) -> MatcherResult<ProofRequest> {
    let commitments = store.commitments(batch.market, batch.interval).await?;
    let orders = store.orders(batch.market, batch.interval).await?;
    if commitments.len() != batch.fills.len() {
        return Err(MatcherError::Config(format!(
            "batch of {} fill words but {} indexed commitments",
            batch.fills.len(),
            commitments.len()
        )));
    }
    let mut opened: HashMap<usize, &StoredOrder> =
        orders.iter().map(|o| (o.index as usize, o)).collect();
    let mut slots = Vec::with_capacity(commitments.len());
    for (k, c) in commitments.iter().enumerate() {
        let slot = match opened.remove(&k) {
            Some(o) if batch.fills[k] != EXCLUDED_FLAG => ProofSlot::Opened(Order {
                trader: o.trader,
                market: o.market,
                interval: o.interval,
                side: o.side,
                quantityWh: o.quantity_wh,
                limitPrice: o.limit_price,
                nonce: o.nonce,
                salt: o.salt,
            }),
            _ => ProofSlot::Excluded(c.commitment),
        };
        slots.push(slot);
    }
    Ok(ProofRequest {
        market: batch.market,
        interval: batch.interval,
        bounds,
        slots,
    })
}
