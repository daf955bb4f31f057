//! The operator's pipeline after clearing: prove the batch, settle it through the submitter.
//! [`SettleSink`] is the [`BatchSink`] that `sealgrid matcher serve`, `sealgrid devnet` and the
//! demo plug into the scheduler.
//!
//! It is idempotent per interval, as the sink contract requires: an interval the chain already
//! holds settled with this clearing is taken without proving again; one voided, or past its
//! settle deadline, is voided (so every lock can be refunded) and taken; any other failure leaves
//! the batch with the scheduler, which offers it again.

use std::{sync::Arc, time::Instant};

use sealgrid_chain::{AuctionReader, SettleOutcome, Settlement, Submitter};
use sealgrid_store::Store;
use sealgrid_types::fills_root;
use tokio::sync::mpsc::UnboundedSender;

use crate::{BatchSink, BoxFuture, ClearedBatch, ClearingProver, proof_request};

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

/// A report per interval, for progress output and the demo's table.
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
    metrics: Option<Arc<crate::Metrics>>,
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
            metrics: None,
        }
    }

    /// Also counts settled and voided intervals in `metrics` (the matcher's `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<crate::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Also sends a [`SettleReport`] per interval to `tx`.
    pub fn with_reports(mut self, tx: UnboundedSender<SettleReport>) -> Self {
        self.reports = Some(tx);
        self
    }

    async fn run(&self, b: &ClearedBatch, proof: &mut Vec<u8>) -> Result<Settled, String> {
        if b.count == 0 {
            return Ok(Settled::Empty);
        }
        let price = b.price.unwrap_or(0);
        let root = fills_root(&b.fills).map_err(|e| e.to_string())?;
        let on_chain = self
            .chain
            .interval(b.market, b.interval)
            .await
            .map_err(|e| e.to_string())?;
        match on_chain.status {
            1 if on_chain.price == price
                && on_chain.volume == b.volume
                && on_chain.fills_root == root =>
            {
                return Ok(Settled::AlreadySettled);
            }
            1 => {
                return Err(format!(
                    "interval {} is settled on-chain with another clearing (price {}, volume {}): \
                     the store and the chain disagree",
                    b.interval, on_chain.price, on_chain.volume
                ));
            }
            2 => return Ok(Settled::Voided),
            _ => {}
        }
        let info = self
            .chain
            .market(b.market)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("unknown market {}", b.market))?;
        let deadline = info
            .timing
            .settle_deadline(b.interval)
            .map_err(|e| e.to_string())?;
        let now = self
            .chain
            .head()
            .await
            .map_err(|e| e.to_string())?
            .timestamp;
        if now >= deadline {
            return self.void(b).await;
        }

        let request = proof_request(&self.store, b, info.bounds)
            .await
            .map_err(|e| e.to_string())?;
        let prover = self.prover.clone();
        let proven = tokio::task::spawn_blocking(move || prover.prove(&request))
            .await
            .map_err(|e| format!("prover task: {e}"))??;
        if proven.fills != b.fills || proven.volume != b.volume || proven.price != price {
            return Err(format!(
                "the prover's statement for interval {} differs from the matcher's batch",
                b.interval
            ));
        }
        proof.clone_from(&proven.proof);
        let settlement = Settlement {
            market: b.market,
            interval: b.interval,
            price,
            volume: b.volume,
            fills: b.fills.clone(),
            proof: proven.proof.clone().into(),
        };
        match self.submitter.settle(&settlement).await {
            Ok(SettleOutcome::Settled(c)) => Ok(Settled::Settled {
                prove_seconds: proven.seconds,
                capacity: proven.capacity,
                proof_bytes: proven.proof.len(),
                settle_gas: c.gas_used,
                attempts: c.attempts,
            }),
            Ok(SettleOutcome::AlreadySettled) => Ok(Settled::AlreadySettled),
            Err(sealgrid_chain::ChainError::NotSettleable { reason, .. })
                if reason.contains("deadline") =>
            {
                self.void(b).await
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn void(&self, b: &ClearedBatch) -> Result<Settled, String> {
        tracing::warn!(market = %b.market, interval = b.interval, "settle window missed; voiding");
        self.submitter
            .void(b.market, b.interval)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Settled::Voided)
    }
}

impl BatchSink for SettleSink {
    fn accept<'a>(&'a self, b: &'a ClearedBatch) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut proof = Vec::new();
            let outcome = self.run(b, &mut proof).await.inspect_err(|e| {
                tracing::error!(market = %b.market, interval = b.interval, error = %e, "settle failed; will retry");
            })?;
            tracing::info!(market = %b.market, interval = b.interval, ?outcome, "interval done");
            let seconds = started.elapsed().as_secs_f64();
            if let Some(m) = &self.metrics {
                match &outcome {
                    Settled::Settled {
                        prove_seconds,
                        settle_gas,
                        ..
                    } => m.record_settled(
                        (prove_seconds * 1000.0) as u64,
                        *settle_gas,
                        (seconds * 1000.0) as u64,
                    ),
                    Settled::Voided => m.record_voided(),
                    Settled::AlreadySettled | Settled::Empty => {}
                }
            }
            if let Some(tx) = &self.reports {
                let _ = tx.send(SettleReport {
                    batch: b.clone(),
                    outcome,
                    seconds,
                    proof,
                });
            }
            Ok(())
        })
    }
}

/// Claims and refunds on the traders' behalf once intervals are final: for every handed-off
/// batch whose delivery has started, a settled interval is claimed and a voided one refunded,
/// in batches. Anyone may claim for anyone and proceeds go to the trader, so the operator does
/// it for everyone; the submitter skips records already consumed (by the trader, a dispute or an
/// earlier pass), so a restart re-sends nothing.
#[derive(Debug)]
pub struct Claimer {
    store: Store,
    chain: AuctionReader,
    submitter: Arc<Submitter>,
    done: tokio::sync::Mutex<std::collections::HashSet<(alloy_primitives::B256, u64)>>,
}

impl Claimer {
    /// A claimer sending through `submitter`.
    pub fn new(store: Store, chain: AuctionReader, submitter: Arc<Submitter>) -> Self {
        Self {
            store,
            chain,
            submitter,
            done: tokio::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// One pass over the handed-off batches; returns how many intervals it completed.
    pub async fn run_once(&self) -> Result<usize, String> {
        let batches = self
            .store
            .batches_in(sealgrid_store::BatchState::HandedOff)
            .await
            .map_err(|e| e.to_string())?;
        let now = self
            .chain
            .head()
            .await
            .map_err(|e| e.to_string())?
            .timestamp;
        let mut completed = 0;
        for b in batches {
            let key = (b.market, b.interval);
            if self.done.lock().await.contains(&key) {
                continue;
            }
            if b.count == 0 {
                self.done.lock().await.insert(key);
                continue;
            }
            let info = self
                .chain
                .market(b.market)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("unknown market {}", b.market))?;
            let start = info.timing.start(b.interval).map_err(|e| e.to_string())?;
            let iv = self
                .chain
                .interval(b.market, b.interval)
                .await
                .map_err(|e| e.to_string())?;
            let records: Vec<_> = self
                .store
                .commitments(b.market, b.interval)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(
                    |c| sealgrid_chain::bindings::ISealgridAuction::CommitmentRecord {
                        index: c.index,
                        trader: c.trader,
                        lock: c.lock,
                        commitment: c.commitment,
                    },
                )
                .collect();
            let sent = match iv.status {
                1 if now >= start => {
                    let claims = records
                        .into_iter()
                        .map(|r| {
                            let word = *b
                                .fills
                                .get(r.index as usize)
                                .ok_or_else(|| format!("no fill word for index {}", r.index))?;
                            let proof = sealgrid_types::fills_proof(&b.fills, r.index)
                                .map_err(|e| e.to_string())?;
                            Ok(sealgrid_chain::bindings::ISealgridAuction::Claim {
                                record: r,
                                word,
                                proof,
                            })
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    self.submitter
                        .claim(b.market, b.interval, claims)
                        .await
                        .map_err(|e| e.to_string())?
                }
                2 => self
                    .submitter
                    .refund(b.market, b.interval, records)
                    .await
                    .map_err(|e| e.to_string())?,
                _ => continue,
            };
            tracing::info!(market = %b.market, interval = b.interval, txs = sent.len(),
                status = iv.status, "claimed or refunded every outstanding commitment");
            self.done.lock().await.insert(key);
            completed += 1;
        }
        Ok(completed)
    }
}
