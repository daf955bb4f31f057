//! Prove and settle each cleared batch: the [`BatchSink`] the node plugs into the scheduler.
//!
//! It is idempotent per interval, as the sink contract requires: an interval the chain already
//! holds settled with this clearing is taken without proving again; one voided, or past its
//! settle deadline, is voided (so every lock can be refunded) and taken; any other failure leaves
//! the batch with the scheduler, which offers it again. Each outcome is recorded in the store.

use std::{sync::Arc, time::Instant};

use alloy_primitives::Bytes;
use sealgrid_chain::{
    AuctionReader, ChainError, NotSettleable, SettleOutcome, SettleState, Submitter,
};
use sealgrid_store::{BatchState, Store};
use sealgrid_types::{BatchSink, BoxFuture, ClearedBatch, ClearingProver, SinkError};
use tokio::sync::mpsc::UnboundedSender;

use crate::{SettlementError, SettlementResult, proof_request};

/// What happened to one interval.
#[derive(Clone, Debug, PartialEq)]
pub enum Settled {
    /// Proven and settled now.
    Settled {
        /// Proving time (s).
        prove_seconds: f64,
        /// The circuit capacity used.
        capacity: usize,
        /// Proof size (bytes).
        proof_bytes: usize,
        /// Gas of the settle transaction.
        settle_gas: u64,
        /// Transactions sent for the settle (more than one after a reorg or replacement).
        attempts: u32,
    },
    /// The chain already held this clearing (a retry after a restart).
    AlreadySettled,
    /// Nothing was committed: nothing to settle.
    Empty,
    /// The settle window passed: the interval is void and every lock refundable.
    Voided,
}

impl Settled {
    /// The lifecycle state the store records for this outcome.
    pub fn state(&self) -> BatchState {
        match self {
            Self::Settled { .. } | Self::AlreadySettled => BatchState::Settled,
            // Nothing is outstanding in an interval without commitments.
            Self::Empty => BatchState::Claimed,
            Self::Voided => BatchState::Voided,
        }
    }
}

/// A report per interval, for metrics, progress output and the demo's table.
#[derive(Clone, Debug, PartialEq)]
pub struct SettleReport {
    /// The batch.
    pub batch: ClearedBatch,
    /// What happened.
    pub outcome: Settled,
    /// Wall-clock seconds from the hand-off to the settle confirmed.
    pub seconds: f64,
    /// The proof settled with (empty when none was made).
    pub proof: Vec<u8>,
}

/// Proves and settles each cleared batch.
#[derive(Debug)]
pub struct SettleSink {
    store: Store,
    chain: AuctionReader,
    prover: Arc<dyn ClearingProver>,
    submitter: Arc<Submitter>,
    reports: Option<UnboundedSender<SettleReport>>,
}

impl SettleSink {
    /// A sink proving with `prover` and settling with `submitter`.
    pub fn new(
        store: Store,
        chain: AuctionReader,
        prover: Arc<dyn ClearingProver>,
        submitter: Arc<Submitter>,
    ) -> Self {
        Self {
            store,
            chain,
            prover,
            submitter,
            reports: None,
        }
    }

    /// Also sends a [`SettleReport`] per interval to `tx`.
    pub fn with_reports(mut self, tx: UnboundedSender<SettleReport>) -> Self {
        self.reports = Some(tx);
        self
    }

    async fn run(&self, b: &ClearedBatch, proof: &mut Vec<u8>) -> SettlementResult<Settled> {
        if b.is_empty() {
            return Ok(Settled::Empty);
        }
        match self.submitter.settle_state(b).await? {
            SettleState::Open { .. } => {}
            SettleState::AlreadySettled => return Ok(Settled::AlreadySettled),
            SettleState::Voided => return Ok(Settled::Voided),
            SettleState::Empty => return Ok(Settled::Empty),
            SettleState::PastDeadline { .. } => return self.void(b).await,
            SettleState::BeforeGate { gate, now } => {
                return Err(ChainError::NotSettleable {
                    interval: b.interval,
                    reason: NotSettleable::BeforeGate { gate, now },
                }
                .into());
            }
        }
        let info = self
            .chain
            .market(b.market)
            .await?
            .ok_or(SettlementError::UnknownMarket(b.market))?;
        let request = proof_request(&self.store, b, info.bounds).await?;
        let prover = self.prover.clone();
        let proven = tokio::task::spawn_blocking(move || prover.prove(&request)).await??;
        if !proven.proves(b) {
            return Err(SettlementError::Inconsistent {
                interval: b.interval,
                reason: "the prover's statement differs from the matcher's batch".into(),
            });
        }
        proof.clone_from(&proven.proof);
        match self
            .submitter
            .settle(b, &Bytes::from(proven.proof.clone()))
            .await
        {
            Ok(SettleOutcome::Settled(c)) => Ok(Settled::Settled {
                prove_seconds: proven.seconds,
                capacity: proven.capacity,
                proof_bytes: proven.proof.len(),
                settle_gas: c.gas_used,
                attempts: c.attempts,
            }),
            Ok(SettleOutcome::AlreadySettled) => Ok(Settled::AlreadySettled),
            // The window closed while proving or sending.
            Err(ChainError::NotSettleable {
                reason: NotSettleable::PastDeadline { .. },
                ..
            }) => self.void(b).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn void(&self, b: &ClearedBatch) -> SettlementResult<Settled> {
        tracing::warn!(market = %b.market, interval = b.interval, "settle window missed; voiding");
        self.submitter.void(b.market, b.interval).await?;
        Ok(Settled::Voided)
    }
}

impl BatchSink for SettleSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut proof = Vec::new();
            let outcome = match self.run(b, &mut proof).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::error!(market = %b.market, interval = b.interval, error = %e,
                        retryable = e.is_retryable(), "settle failed");
                    return Err(if e.is_retryable() {
                        SinkError::retryable(e)
                    } else {
                        SinkError::fatal(e)
                    });
                }
            };
            let now = self
                .chain
                .head()
                .await
                .map_err(SinkError::retryable)?
                .timestamp;
            self.store
                .advance_batch(b.market, b.interval, outcome.state(), now)
                .await
                .map_err(SinkError::retryable)?;
            tracing::info!(market = %b.market, interval = b.interval, ?outcome, "interval done");
            if let Some(tx) = &self.reports {
                let _ = tx.send(SettleReport {
                    batch: b.clone(),
                    outcome,
                    seconds: started.elapsed().as_secs_f64(),
                    proof,
                });
            }
            Ok(())
        })
    }
}
