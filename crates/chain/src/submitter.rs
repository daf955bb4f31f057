//! The submitter: the operator's transactions to the auction (settles with proofs, batched
//! claims, voids and refunds), sent so that a retry can never settle or claim twice.
//!
//! - **Idempotent.** Before every (re)submission it reads the chain: an interval already settled
//!   with the same price, volume and fills root is a success ([`SettleOutcome::AlreadySettled`]);
//!   settled otherwise, voided, or past its deadline is a typed error. Claims are filtered by
//!   `isOutstanding`, so claiming twice sends nothing.
//! - **One transaction path.** Every transaction goes through a [`Sender`] (nonces, capped
//!   fees with the alert hook, gas margin, replacement, confirmations to depth, reorg detection;
//!   its module says how). Gas from `eth_estimateGas` plus the margin also covers the auction's
//!   `gasleft()` check before the verifier call. A transaction that a reorg drops is re-checked
//!   against the chain here and sent again only if still needed.

use std::sync::Arc;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use sealgrid_types::{BatchStatus, ClearedBatch, pack_fill_words};

use crate::{
    ChainError, ChainResult, NotSettleable,
    bindings::{ISealgridAuction, SealgridAuction},
    sender::{Landed, RevertDecoder, Sender, decode_revert},
};

pub use crate::sender::{AlertHook, Confirmed, GasAlert};

/// How the submitter sends and confirms: the [`Sender`]'s configuration (with its
/// `claim_batch`).
pub type SubmitterConfig = crate::sender::SenderConfig;

/// The auction's errors, for refused estimates.
const AUCTION_ERRORS: RevertDecoder = decode_revert::<SealgridAuction::SealgridAuctionErrors>;

/// Where an interval stands for a settle ([`Submitter::settle_state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleState {
    /// A settle can land until `deadline` (chain time).
    Open {
        /// The settle deadline.
        deadline: u64,
    },
    /// The chain already holds exactly this clearing.
    AlreadySettled,
    /// The interval is void: every lock is refundable.
    Voided,
    /// The interval has no commitments: there is nothing to settle.
    Empty,
    /// The gate has not closed yet.
    BeforeGate {
        /// The gate closure.
        gate: u64,
        /// Chain time.
        now: u64,
    },
    /// The settle window has passed: the interval can only be voided.
    PastDeadline {
        /// The settle deadline.
        deadline: u64,
        /// Chain time.
        now: u64,
    },
}

impl SettleState {
    /// What a settle attempt makes of this state: `None` to send, `Some` when the chain already
    /// answers it, an error when no settle can land.
    fn outcome(self, interval: u64) -> ChainResult<Option<SettleOutcome>> {
        let reason = match self {
            Self::Open { .. } => return Ok(None),
            Self::AlreadySettled => return Ok(Some(SettleOutcome::AlreadySettled)),
            Self::Voided => NotSettleable::Voided,
            Self::Empty => NotSettleable::Empty,
            Self::BeforeGate { gate, now } => NotSettleable::BeforeGate { gate, now },
            Self::PastDeadline { deadline, now } => NotSettleable::PastDeadline { deadline, now },
        };
        Err(ChainError::NotSettleable { interval, reason })
    }
}

/// What [`Submitter::settle`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettleOutcome {
    /// This call's transaction settled the interval.
    Settled(Confirmed),
    /// The interval was already settled with exactly this price, volume and fills root.
    AlreadySettled,
}

/// Sends the operator's transactions to one auction. Cheap to share behind an `Arc`; calls are
/// serialised on the nonce.
pub struct Submitter {
    sender: Arc<Sender>,
    auction: Address,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter")
            .field("auction", &self.auction)
            .field("sender", &self.sender)
            .finish()
    }
}

impl Submitter {
    /// A submitter signing with `signer` over `rpc_url`, with a [`Sender`] of its own. The
    /// default alert hook logs a warning.
    pub async fn connect(
        rpc_url: &str,
        auction: Address,
        signer: impl Into<sealgrid_keys::KeySigner>,
        cfg: SubmitterConfig,
    ) -> ChainResult<Self> {
        let sender = Sender::connect(rpc_url, signer, cfg).await?;
        Self::connect_with(auction, Arc::new(sender)).await
    }

    /// A submitter sending through `sender`, which other clients of the same key (the delivery
    /// client) may share: one nonce counter for all of them.
    pub async fn connect_with(auction: Address, sender: Arc<Sender>) -> ChainResult<Self> {
        if sender.provider().get_code_at(auction).await?.is_empty() {
            return Err(ChainError::NoContract(auction));
        }
        if sender.config().claim_batch == 0 {
            return Err(ChainError::Submit("claim_batch must be at least 1".into()));
        }
        Ok(Self { sender, auction })
    }

    /// Replaces the gas-price alert hook (of the sender, for every client sharing it).
    pub fn with_alert(self, alert: AlertHook) -> Self {
        self.sender.set_alert(alert);
        self
    }

    /// The sending account.
    pub fn address(&self) -> Address {
        self.sender.address()
    }

    /// The configuration.
    pub fn config(&self) -> &SubmitterConfig {
        self.sender.config()
    }

    /// The sender it sends through (share it with other clients of the same key).
    pub fn sender(&self) -> &Arc<Sender> {
        &self.sender
    }

    fn auction(&self) -> SealgridAuction::SealgridAuctionInstance<DynProvider> {
        SealgridAuction::new(self.auction, self.sender.provider().clone())
    }

    /// Sends `tx` through the sender, counting the transactions sent into `attempts`.
    async fn land(
        &self,
        what: &str,
        tx: TransactionRequest,
        attempts: &mut u32,
    ) -> ChainResult<Landed> {
        let landed = self.sender.land(what, tx, AUCTION_ERRORS).await?;
        *attempts += match &landed {
            Landed::Confirmed { sent, .. } | Landed::Dropped { sent } => *sent,
        };
        Ok(landed)
    }

    /// Settles `batch` with `proof` exactly once: returns when the settle is confirmed, or when
    /// the chain already holds this very clearing.
    ///
    /// # Errors
    /// [`ChainError::SettledDifferently`] if another clearing was settled,
    /// [`ChainError::NotSettleable`] if the interval is voided, empty, before its gate or past
    /// its deadline ([`SettleState`] says which), a revert of the settle (e.g. an invalid proof),
    /// fee-cap and RPC errors.
    pub async fn settle(&self, batch: &ClearedBatch, proof: &Bytes) -> ChainResult<SettleOutcome> {
        let what = format!("settle {}/{}", batch.market, batch.interval);
        let deadline = tokio::time::Instant::now() + self.config().timeout;
        let mut attempts = 0u32;
        loop {
            if let Some(outcome) = self.settle_state(batch).await?.outcome(batch.interval)? {
                return Ok(outcome);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ChainError::Timeout(what));
            }
            let tx = self
                .auction()
                .settle(
                    batch.market,
                    batch.interval,
                    batch.settle_price(),
                    batch.volume,
                    Bytes::from(pack_fill_words(&batch.fills)),
                    proof.clone(),
                )
                .into_transaction_request();
            match self.land(&what, tx, &mut attempts).await {
                Ok(Landed::Confirmed { receipt: r, .. }) if r.status() => {
                    return Ok(SettleOutcome::Settled(Confirmed::new(&r, attempts)));
                }
                Ok(Landed::Confirmed { receipt: r, .. }) => {
                    // Reverted on-chain: someone else may have settled first; the state says.
                    if let Some(outcome) =
                        self.settle_state(batch).await?.outcome(batch.interval)?
                    {
                        return Ok(outcome);
                    }
                    return Err(ChainError::Reverted {
                        what,
                        tx: r.transaction_hash,
                    });
                }
                Ok(Landed::Dropped { .. }) => {
                    tracing::warn!(%what, "settle dropped (reorg or replaced); checking the chain");
                }
                Err(e @ ChainError::Revert { .. }) => {
                    // The estimate reverted: re-read the state for a clear answer.
                    if let Some(outcome) =
                        self.settle_state(batch).await?.outcome(batch.interval)?
                    {
                        return Ok(outcome);
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Where `batch`'s interval stands for a settle, as the chain says: the one place that
    /// judges whether a settle can still land (the settlement pipeline asks it before proving,
    /// [`Self::settle`] before and after every transaction).
    ///
    /// # Errors
    /// [`ChainError::SettledDifferently`] if the chain holds another clearing; RPC errors.
    pub async fn settle_state(&self, batch: &ClearedBatch) -> ChainResult<SettleState> {
        let iv = self
            .auction()
            .getInterval(batch.market, batch.interval)
            .call()
            .await?;
        match BatchStatus::try_from(iv.status).map_err(ChainError::Types)? {
            BatchStatus::Unsettled => {}
            BatchStatus::Settled => {
                if batch
                    .matches(iv.price, iv.volume, iv.fillsRoot)
                    .map_err(ChainError::Types)?
                {
                    return Ok(SettleState::AlreadySettled);
                }
                return Err(ChainError::SettledDifferently {
                    interval: batch.interval,
                    price: iv.price,
                    volume: iv.volume,
                });
            }
            BatchStatus::Voided => return Ok(SettleState::Voided),
        }
        if iv.count == 0 {
            return Ok(SettleState::Empty);
        }
        let times = self
            .auction()
            .intervalTimes(batch.market, batch.interval)
            .call()
            .await?;
        let now = self.now().await?;
        let (gate, deadline) = (times.gate.to::<u64>(), times.deadline.to::<u64>());
        if now < gate {
            return Ok(SettleState::BeforeGate { gate, now });
        }
        if now >= deadline {
            return Ok(SettleState::PastDeadline { deadline, now });
        }
        Ok(SettleState::Open { deadline })
    }

    /// Claims every record of `claims` that is still outstanding, in transactions of at most
    /// [`SubmitterConfig::claim_batch`] claims. Claiming again sends nothing.
    pub async fn claim(
        &self,
        market: B256,
        interval: u64,
        claims: Vec<ISealgridAuction::Claim>,
    ) -> ChainResult<Vec<Confirmed>> {
        self.consume(
            market,
            interval,
            claims,
            |c| &c.record,
            "claimBatch",
            |chunk| {
                self.auction()
                    .claimBatch(market, interval, chunk)
                    .into_transaction_request()
            },
        )
        .await
    }

    /// Marks an interval that missed its deadline void (a no-op if it already is).
    pub async fn void(&self, market: B256, interval: u64) -> ChainResult<Option<Confirmed>> {
        let mut attempts = 0u32;
        loop {
            let iv = self.auction().getInterval(market, interval).call().await?;
            if iv.status == BatchStatus::Voided.code() {
                return Ok(None);
            }
            let what = format!("voidInterval {market}/{interval}");
            let tx = self
                .auction()
                .voidInterval(market, interval)
                .into_transaction_request();
            match self.land(&what, tx, &mut attempts).await? {
                Landed::Confirmed { receipt: r, .. } if r.status() => {
                    return Ok(Some(Confirmed::new(&r, attempts)));
                }
                Landed::Confirmed { receipt: r, .. } => {
                    return Err(ChainError::Reverted {
                        what,
                        tx: r.transaction_hash,
                    });
                }
                Landed::Dropped { .. } => {}
            }
        }
    }

    /// Refunds every record of a voided interval that is still outstanding, in batches.
    pub async fn refund(
        &self,
        market: B256,
        interval: u64,
        records: Vec<ISealgridAuction::CommitmentRecord>,
    ) -> ChainResult<Vec<Confirmed>> {
        self.consume(
            market,
            interval,
            records,
            |r| r,
            "refundBatch",
            |chunk| {
                self.auction()
                    .refundBatch(market, interval, chunk)
                    .into_transaction_request()
            },
        )
        .await
    }

    /// Sends `items` whose commitment record is still outstanding in batches of
    /// [`SubmitterConfig::claim_batch`] until none is left: the chain, not this process, says
    /// what is done, so a repeat (or a batch a reorg dropped) sends only what is missing.
    async fn consume<T: Clone>(
        &self,
        market: B256,
        interval: u64,
        items: Vec<T>,
        record: impl Fn(&T) -> &ISealgridAuction::CommitmentRecord,
        name: &str,
        batch_tx: impl Fn(Vec<T>) -> TransactionRequest,
    ) -> ChainResult<Vec<Confirmed>> {
        let mut done = Vec::new();
        let mut attempts = 0u32;
        let deadline = tokio::time::Instant::now() + self.config().timeout;
        loop {
            let mut todo = Vec::new();
            for item in &items {
                if self
                    .auction()
                    .isOutstanding(market, interval, record(item).clone())
                    .call()
                    .await?
                {
                    todo.push(item.clone());
                }
            }
            let Some(chunk) = todo.chunks(self.config().claim_batch).next() else {
                return Ok(done);
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(ChainError::Timeout(format!(
                    "{name} of {market}/{interval}"
                )));
            }
            let what = format!("{name} {market}/{interval} ({} records)", chunk.len());
            match self
                .land(&what, batch_tx(chunk.to_vec()), &mut attempts)
                .await?
            {
                Landed::Confirmed { receipt: r, .. } if r.status() => {
                    done.push(Confirmed::new(&r, attempts));
                    attempts = 0;
                }
                Landed::Confirmed { receipt: r, .. } => {
                    return Err(ChainError::Reverted {
                        what,
                        tx: r.transaction_hash,
                    });
                }
                Landed::Dropped { .. } => tracing::warn!(%what, "dropped; checking the chain"),
            }
        }
    }

    /// The chain time a transaction sent now lands at, at the earliest: the pending block's
    /// timestamp where the node builds one (it already counts time that passed since the latest
    /// block, which on an idle chain can be long before), never before the latest block's. A
    /// settle is judged against this time, so an interval whose deadline has passed is voided,
    /// not proven for a settle that can only revert.
    async fn now(&self) -> ChainResult<u64> {
        let provider = self.sender.provider();
        let latest = provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::MissingBlock("latest".into()))?
            .header
            .timestamp;
        // Nodes without a pending block answer null or an error: the latest block then.
        let pending = provider
            .get_block_by_number(BlockNumberOrTag::Pending)
            .await
            .ok()
            .flatten()
            .map_or(0, |b| b.header.timestamp);
        Ok(latest.max(pending))
    }
}
