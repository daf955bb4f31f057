//! Follows the auction's `Committed` / `CommitmentWithdrawn` events into the store.

use sealgrid_chain::{AuctionReader, ChainEvent};
use sealgrid_store::{CommitmentRow, INDEXER_CURSOR, INDEXER_SYNCED_TIME, Store, Withdrawal};
use tokio::{sync::Mutex, time::Instant};

use crate::MatcherResult;

/// Blocks read per `eth_getLogs` call.
const CHUNK: u64 = 2_000;

/// Copies auction events from the chain into the store, block range by block range. Each range
/// is written with the cursor in one transaction, so a crash never loses or repeats a range.
#[derive(Debug)]
pub struct Indexer {
    chain: AuctionReader,
    store: Store,
    start_block: u64,
    confirmations: u64,
    // One sync at a time; callers that arrive during a sync wait and then see its result.
    // Holds when the last sync started and what it reached.
    gate: Mutex<Option<(Instant, SyncState)>>,
}

/// How far the store has followed the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncState {
    /// The next block to read.
    pub next_block: u64,
    /// Timestamp of the last block read (0 before the first).
    pub synced_time: u64,
}

impl Indexer {
    /// An indexer that starts at `start_block` on an empty store (the auction's deployment
    /// block) and only reads blocks `confirmations` deep.
    pub fn new(chain: AuctionReader, store: Store, start_block: u64, confirmations: u64) -> Self {
        Self {
            chain,
            store,
            start_block,
            confirmations,
            gate: Mutex::new(None),
        }
    }

    /// The current progress.
    pub async fn state(&self) -> MatcherResult<SyncState> {
        Ok(SyncState {
            next_block: self
                .store
                .cursor(INDEXER_CURSOR)
                .await?
                .unwrap_or(self.start_block),
            synced_time: self.store.cursor(INDEXER_SYNCED_TIME).await?.unwrap_or(0),
        })
    }

    /// Reads every confirmed block not yet read. Returns the new state.
    pub async fn sync(&self) -> MatcherResult<SyncState> {
        let mut last = self.gate.lock().await;
        let started = Instant::now();
        let state = self.sync_once().await?;
        *last = Some((started, state));
        Ok(state)
    }

    /// As [`Self::sync`], unless a sync that started at or after `since` has completed: then its
    /// state, without another chain call. Requests that arrive together share one sync (at most
    /// one runs, and one waits, whatever the number of requests).
    pub async fn sync_since(&self, since: Instant) -> MatcherResult<SyncState> {
        let mut last = self.gate.lock().await;
        if let Some((started, state)) = *last
            && started >= since
        {
            return Ok(state);
        }
        let started = Instant::now();
        let state = self.sync_once().await?;
        *last = Some((started, state));
        Ok(state)
    }

    async fn sync_once(&self) -> MatcherResult<SyncState> {
        let head = self.chain.head().await?;
        let Some(last) = head.number.checked_sub(self.confirmations) else {
            return self.state().await;
        };
        let mut state = self.state().await?;
        while state.next_block <= last {
            let to = last.min(state.next_block.saturating_add(CHUNK - 1));
            let events = self.chain.events(state.next_block, to).await?;
            let mut commitments = Vec::new();
            let mut withdrawals = Vec::new();
            for e in events {
                match e {
                    ChainEvent::Committed {
                        market,
                        interval,
                        index,
                        trader,
                        commitment,
                        lock,
                        accumulator,
                        block,
                        log_index,
                    } => commitments.push(CommitmentRow {
                        market,
                        interval,
                        index,
                        trader,
                        commitment,
                        lock,
                        accumulator,
                        block_number: block,
                        log_index,
                        withdrawn: false,
                    }),
                    ChainEvent::Withdrawn {
                        market,
                        interval,
                        index,
                    } => {
                        // A withdrawal in the same range as its commitment: apply in order.
                        if let Some(c) = commitments.iter_mut().find(|c| {
                            c.market == market && c.interval == interval && c.index == index
                        }) {
                            c.withdrawn = true;
                        } else {
                            withdrawals.push(Withdrawal {
                                market,
                                interval,
                                index,
                            });
                        }
                    }
                }
            }
            let time = if to == head.number {
                head.timestamp
            } else {
                self.chain.block_time(to).await?
            };
            self.store
                .record_chain_events(&commitments, &withdrawals, to + 1, time)
                .await?;
            state = SyncState {
                next_block: to + 1,
                synced_time: time,
            };
        }
        Ok(state)
    }
}
