//! Gate-closure scheduling: clear every interval of every market once its gate has closed,
//! persist the result, hand it to the pipeline. Every step is recorded in the store, so a
//! restart resumes exactly where the previous run stopped.

use std::{sync::Arc, time::Duration};

use alloy_primitives::B256;
use sealgrid_chain::AuctionReader;
use sealgrid_clearing::{BookOrder, clear_sequence};
use sealgrid_store::{BatchRow, BatchState};
use sealgrid_types::{BatchSink, ClearedBatch, Side};

use crate::{Intake, MatcherError, MatcherResult, indexer::Indexer, metrics::Closing};

/// How often to poll the chain while waiting for blocks past a gate.
const POLL: Duration = Duration::from_millis(100);

/// Named crash points for the restart tests: with `SEALGRID_FAILPOINT=<name>` the process exits
/// (code 86) when it reaches that point, as a power cut would stop it.
fn failpoint(name: &str) {
    if std::env::var("SEALGRID_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: exiting");
        std::process::exit(86);
    }
}

/// The scheduler of one matcher.
#[derive(Debug)]
pub struct Scheduler {
    intake: Intake,
    chain: AuctionReader,
    indexer: Arc<Indexer>,
    sink: Arc<dyn BatchSink>,
}

impl Scheduler {
    /// A scheduler clearing into `sink`.
    pub fn new(
        intake: Intake,
        chain: AuctionReader,
        indexer: Arc<Indexer>,
        sink: Arc<dyn BatchSink>,
    ) -> Self {
        Self {
            intake,
            chain,
            indexer,
            sink,
        }
    }

    /// The first interval to clear for `market`: the one after the last cleared, or on a fresh
    /// store the first whose gate is still ahead (`first` overrides that).
    pub async fn next_interval(&self, market: B256, first: Option<u64>) -> MatcherResult<u64> {
        if let Some(last) = self.intake.store().last_cleared(market).await? {
            return Ok(last + 1);
        }
        if let Some(first) = first {
            return Ok(first);
        }
        let m = self.market(market).await?;
        Ok(m.timing.next_open_interval(self.intake.clock().now())?)
    }

    async fn market(&self, market: B256) -> MatcherResult<sealgrid_chain::MarketInfo> {
        self.intake
            .market(market)
            .await
            .map_err(|e| MatcherError::Config(format!("market {market}: {e}")))
    }

    /// Runs forever for `market`, starting at [`Self::next_interval`].
    pub async fn run_market(&self, market: B256, first: Option<u64>) -> MatcherResult<()> {
        let mut next = self.next_interval(market, first).await?;
        loop {
            self.close_interval(market, next).await?;
            self.resume_handoffs().await?;
            next += 1;
        }
    }

    /// Offers every batch that was cleared but not yet accepted to the sink again (after a
    /// restart, or after the sink failed). Returns how many were handed off.
    pub async fn resume_handoffs(&self) -> MatcherResult<usize> {
        let pending = self.intake.store().batches_in(BatchState::Cleared).await?;
        let mut n = 0;
        for b in pending {
            if self.hand_off(&b.batch).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Waits for the gate of `interval`, then clears, persists and hands off its batch. If the
    /// batch already exists (a restart), only the missing steps run.
    pub async fn close_interval(&self, market: B256, interval: u64) -> MatcherResult<BatchRow> {
        let m = self.market(market).await?;
        let gate = m.timing.gate(interval)?;
        let metrics = self.intake.metrics();
        metrics.record_closing(Closing {
            market,
            interval,
            gate,
        });
        self.intake.clock().sleep_until(gate).await;
        let store = self.intake.store();
        let batch = match store.batch(market, interval).await? {
            Some(b) => {
                metrics.record_closed(market, interval);
                b
            }
            None => {
                self.wait_for_chain(gate).await?;
                // Orders still in flight finish; every later one sees the gate closed.
                drop(self.intake.close_for_clearing().await);
                let b = self.clear(market, interval).await?;
                failpoint("before_save");
                let saved = store.save_batch(&b, self.intake.clock().now()).await?;
                metrics.record_closed(market, interval);
                failpoint("after_save");
                saved
            }
        };
        if batch.state == BatchState::Cleared {
            self.hand_off(&batch.batch).await?;
        }
        Ok(store.batch(market, interval).await?.unwrap_or(batch))
    }

    /// Waits until the store holds every block up to one at or after `gate`: no commitment for
    /// the interval can be missing after that.
    async fn wait_for_chain(&self, gate: u64) -> MatcherResult<()> {
        loop {
            let s = self.indexer.sync().await?;
            if s.synced_time >= gate {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clears `(market, interval)` from the store; does not persist.
    pub async fn clear(&self, market: B256, interval: u64) -> MatcherResult<ClearedBatch> {
        let started = std::time::Instant::now();
        let store = self.intake.store();
        let onchain = self.chain.interval(market, interval).await?;
        let commitments = store.commitments(market, interval).await?;
        let inconsistent = |reason: String| MatcherError::Inconsistent {
            market,
            interval,
            reason,
        };
        if commitments.len() != onchain.count as usize {
            return Err(inconsistent(format!(
                "store has {} commitments, chain has {}",
                commitments.len(),
                onchain.count
            )));
        }
        if let Some(last) = commitments.last()
            && last.accumulator != onchain.accumulator
        {
            return Err(inconsistent("accumulator differs from the chain".into()));
        }
        let orders = store.orders(market, interval).await?;
        let mut opened = orders.iter().peekable();
        // The interval's sequence: per commitment, its order if opened and not withdrawn.
        let mut sequence = Vec::with_capacity(commitments.len());
        for (k, c) in commitments.iter().enumerate() {
            if c.index as usize != k {
                return Err(inconsistent(format!(
                    "commitment index {} at position {k}",
                    c.index
                )));
            }
            let order = opened.next_if(|o| o.index == c.index);
            match order {
                Some(o) if !c.withdrawn => {
                    if o.commitment != c.commitment {
                        return Err(inconsistent(format!(
                            "order at {} opens another commitment",
                            c.index
                        )));
                    }
                    sequence.push(Some(BookOrder {
                        side: Side::try_from(o.side)?,
                        quantity_wh: o.quantity_wh,
                        limit_price: o.limit_price,
                    }));
                }
                _ => sequence.push(None),
            }
        }
        let result = clear_sequence(&sequence)?;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.intake.metrics().record_cleared(interval, micros);
        tracing::info!(%market, interval, count = commitments.len(),
            opened = sequence.iter().flatten().count(), price = ?result.clearing.price,
            volume = result.clearing.volume, micros, "interval cleared");
        Ok(ClearedBatch {
            market,
            interval,
            count: onchain.count,
            accumulator: onchain.accumulator,
            price: result.clearing.price,
            volume: result.clearing.volume,
            fills: result.fills,
        })
    }

    /// Offers one batch to the sink and records acceptance. Returns false if the sink failed
    /// (the batch stays `cleared` and is offered again by [`Self::resume_handoffs`]).
    async fn hand_off(&self, b: &ClearedBatch) -> MatcherResult<bool> {
        match self.sink.accept(b).await {
            Ok(()) => {
                failpoint("after_handoff");
                self.intake
                    .store()
                    .mark_handed_off(b.market, b.interval, self.intake.clock().now())
                    .await?;
                self.intake.metrics().record_handoff(true);
                Ok(true)
            }
            Err(e) => {
                self.intake.metrics().record_handoff(false);
                if e.is_retryable() {
                    tracing::warn!(market = %b.market, interval = b.interval, error = %e, "hand-off failed; will retry");
                } else {
                    tracing::error!(market = %b.market, interval = b.interval, error = %e,
                        "hand-off failed and needs an operator; offered again on the next pass");
                }
                Ok(false)
            }
        }
    }
}
