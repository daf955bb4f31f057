//! The prover's private input, read from the store.

use std::collections::HashMap;

use sealgrid_store::{Store, StoredOrder};
use sealgrid_types::{
    ClearedBatch, Fill, MarketBounds, Order, ProofRequest, ProofSlot, SequenceEntry,
};

use crate::{SettlementError, SettlementResult};

/// Builds the proof request of a cleared batch from the store: a slot is opened when the batch
/// did not exclude it and the store holds its opening; its commitment comes from the indexed
/// chain events otherwise.
///
/// # Errors
/// [`SettlementError::Inconsistent`] when the store's sequence does not match the batch; store
/// errors.
pub async fn proof_request(
    store: &Store,
    batch: &ClearedBatch,
    bounds: MarketBounds,
) -> SettlementResult<ProofRequest> {
    let commitments = store.commitments(batch.market, batch.interval).await?;
    let orders = store.orders(batch.market, batch.interval).await?;
    if commitments.len() != batch.fills.len() {
        return Err(SettlementError::Inconsistent {
            interval: batch.interval,
            reason: format!(
                "batch of {} fill words but {} indexed commitments",
                batch.fills.len(),
                commitments.len()
            ),
        });
    }
    let mut opened: HashMap<usize, &StoredOrder> =
        orders.iter().map(|o| (o.index as usize, o)).collect();
    let mut slots = Vec::with_capacity(commitments.len());
    for (k, c) in commitments.iter().enumerate() {
        let excluded = Fill::decode(batch.fills[k])? == Fill::Excluded;
        let entry = SequenceEntry {
            commitment: c.commitment,
            committer: c.trader,
            lock: c.lock,
        };
        let slot = match opened.remove(&k) {
            Some(o) if !excluded => ProofSlot::opened(
                entry,
                Order {
                    trader: o.trader,
                    market: o.market,
                    interval: o.interval,
                    side: o.side,
                    quantityWh: o.quantity_wh,
                    limitPrice: o.limit_price,
                    nonce: o.nonce,
                    salt: o.salt,
                },
            ),
            _ => ProofSlot::excluded(entry),
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
