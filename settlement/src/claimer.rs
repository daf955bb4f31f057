//! Claims and refunds on the traders' behalf once intervals are final.

use std::sync::Arc;

use sealgrid_chain::{
    AuctionReader, Submitter,
    bindings::ISealgridAuction::{Claim, CommitmentRecord},
};
use sealgrid_store::{BatchRow, BatchState, Store};
use sealgrid_types::{BatchStatus, fills_proof};

use crate::{SettlementError, SettlementResult};

/// The lifecycle states with work left for the claimer.
const OPEN: [BatchState; 3] = [
    BatchState::HandedOff,
    BatchState::Settled,
    BatchState::Voided,
];

/// Claims and refunds on the traders' behalf once intervals are final: for every batch whose
/// delivery has started, a settled interval is claimed and a voided one refunded, in batches.
/// Anyone may claim for anyone and proceeds go to the trader, so the operator does it for
/// everyone; the submitter skips records already consumed (by the trader, a dispute or an
/// earlier pass), so a repeat re-sends nothing. The store records `claimed` / `refunded`, so a
/// restart never scans finished intervals again.
#[derive(Debug)]
pub struct Claimer {
    store: Store,
    chain: AuctionReader,
    submitter: Arc<Submitter>,
}

impl Claimer {
    /// A claimer sending through `submitter`.
    pub fn new(store: Store, chain: AuctionReader, submitter: Arc<Submitter>) -> Self {
        Self {
            store,
            chain,
            submitter,
        }
    }

    /// One pass over the batches with work left; returns how many intervals it completed.
    ///
    /// # Errors
    /// Chain, store and submitter errors; the intervals done before the error stay done.
    pub async fn run_once(&self) -> SettlementResult<usize> {
        let batches = self.store.batches_in_any(&OPEN).await?;
        let now = self.chain.head().await?.timestamp;
        let mut completed = 0;
        for row in batches {
            if self.complete(&row, now).await? {
                completed += 1;
            }
        }
        Ok(completed)
    }

    /// Claims or refunds one interval if it is due; returns whether it is now done.
    async fn complete(&self, row: &BatchRow, now: u64) -> SettlementResult<bool> {
        let b = &row.batch;
        if b.is_empty() {
            return self.finish(row, BatchState::Claimed, now).await;
        }
        let info = self
            .chain
            .market(b.market)
            .await?
            .ok_or(SettlementError::UnknownMarket(b.market))?;
        let start = info.timing.start(b.interval)?;
        let iv = self.chain.interval(b.market, b.interval).await?;
        let records: Vec<CommitmentRecord> = self
            .store
            .commitments(b.market, b.interval)
            .await?
            .into_iter()
            .map(|c| CommitmentRecord {
                index: c.index,
                trader: c.trader,
                lock: c.lock,
                commitment: c.commitment,
            })
            .collect();
        let (sent, done) = match iv.status {
            BatchStatus::Settled if now >= start => {
                let claims = records
                    .into_iter()
                    .map(|r| {
                        let word = *b.fills.get(r.index as usize).ok_or_else(|| {
                            SettlementError::Inconsistent {
                                interval: b.interval,
                                reason: format!("no fill word for commitment {}", r.index),
                            }
                        })?;
                        let proof = fills_proof(&b.fills, r.index)?;
                        Ok(Claim {
                            record: r,
                            word,
                            proof,
                        })
                    })
                    .collect::<SettlementResult<Vec<_>>>()?;
                let sent = self.submitter.claim(b.market, b.interval, claims).await?;
                (sent, BatchState::Claimed)
            }
            BatchStatus::Voided => {
                // A dispute may void an interval the pipeline recorded as settled.
                self.store
                    .advance_batch(b.market, b.interval, BatchState::Voided, now)
                    .await?;
                let sent = self.submitter.refund(b.market, b.interval, records).await?;
                (sent, BatchState::Refunded)
            }
            _ => return Ok(false),
        };
        tracing::info!(market = %b.market, interval = b.interval, txs = sent.len(),
            status = ?iv.status, "claimed or refunded every outstanding commitment");
        self.finish(row, done, now).await?;
        Ok(true)
    }

    /// Records the final state, through `settled` for a batch the pipeline handed off before
    /// this store recorded outcomes.
    async fn finish(&self, row: &BatchRow, to: BatchState, now: u64) -> SettlementResult<bool> {
        let b = &row.batch;
        if to == BatchState::Claimed && row.state == BatchState::HandedOff {
            self.store
                .advance_batch(b.market, b.interval, BatchState::Settled, now)
                .await?;
        }
        Ok(self
            .store
            .advance_batch(b.market, b.interval, to, now)
            .await?)
    }
}
