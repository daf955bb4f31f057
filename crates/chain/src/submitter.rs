//! The submitter: the operator's transactions to the auction (settles with proofs, batched
//! claims, voids and refunds), sent so that a retry can never settle or claim twice.
//!
//! - **Idempotent.** Before every (re)submission it reads the chain: an interval already settled
//!   with the same price, volume and fills root is a success ([`SettleOutcome::AlreadySettled`]);
//!   settled otherwise, voided, or past its deadline is a typed error. Claims are filtered by
//!   `isOutstanding`, so claiming twice sends nothing.
//! - **Nonces.** One local counter per submitter, read from the node's pending count when unknown
//!   and re-read after any dropped, replaced or refused transaction.
//! - **Fees.** EIP-1559 fees from the node's estimate, capped at
//!   [`SubmitterConfig::max_fee_per_gas`]; a base fee above the cap is an error (the transaction
//!   could not be included), a fee above [`SubmitterConfig::gas_price_alert`] calls the alert hook.
//!   Gas comes from `eth_estimateGas` plus a margin, which also covers the auction's
//!   `gasleft()` check before the verifier call.
//! - **Confirmations.** A transaction counts when it is [`SubmitterConfig::confirmations`] blocks
//!   deep and its block is still canonical; a transaction that a reorg drops is re-checked
//!   against the chain and sent again if still needed. One that is not mined within
//!   [`SubmitterConfig::resubmit_after`] is replaced at the same nonce with fees raised by 1/8.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolInterface,
};
use sealgrid_types::{BatchStatus, ClearedBatch, pack_fill_words};
use tokio::sync::Mutex;

use crate::{
    ChainError, ChainResult, NotSettleable,
    bindings::{ISealgridAuction, SealgridAuction},
};

/// How the submitter sends and confirms; one per network (`deploy/config/*.toml`).
#[derive(Clone, Debug)]
pub struct SubmitterConfig {
    /// Blocks a transaction must be deep (1 = mined) before it counts.
    pub confirmations: u64,
    /// Hard cap on `maxFeePerGas` (wei).
    pub max_fee_per_gas: u128,
    /// Cap on `maxPriorityFeePerGas` (wei).
    pub max_priority_fee_per_gas: u128,
    /// A fee estimate above this (wei) calls the alert hook.
    pub gas_price_alert: u128,
    /// Percent added to `eth_estimateGas`.
    pub gas_margin_percent: u64,
    /// Polling period for receipts and heads.
    pub poll: Duration,
    /// A transaction not mined after this is replaced at the same nonce with higher fees.
    pub resubmit_after: Duration,
    /// Give up on one operation after this.
    pub timeout: Duration,
    /// Claims per `claimBatch` transaction.
    pub claim_batch: usize,
}

impl Default for SubmitterConfig {
    fn default() -> Self {
        Self {
            confirmations: 1,
            max_fee_per_gas: 500_000_000_000,
            max_priority_fee_per_gas: 2_000_000_000,
            gas_price_alert: 100_000_000_000,
            gas_margin_percent: 25,
            poll: Duration::from_millis(100),
            resubmit_after: Duration::from_secs(30),
            timeout: Duration::from_secs(240),
            claim_batch: 64,
        }
    }
}

/// A fee estimate passed the alert threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasAlert {
    /// What was being sent.
    pub what: String,
    /// The estimated `maxFeePerGas` (wei).
    pub max_fee_per_gas: u128,
    /// The threshold (wei).
    pub threshold: u128,
}

/// The alert hook.
pub type AlertHook = Arc<dyn Fn(&GasAlert) + Send + Sync>;

/// A transaction that landed and is final to the configured depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed {
    /// Transaction hash.
    pub tx: B256,
    /// Block number.
    pub block: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Transactions sent for it (more than 1 after a replacement or a reorg).
    pub attempts: u32,
}

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

enum Landed {
    Confirmed(Box<TransactionReceipt>),
    /// Gone from the canonical chain (reorg) or replaced at its nonce by another transaction.
    Dropped,
}

/// Sends the operator's transactions to one auction. Cheap to share behind an `Arc`; calls are
/// serialised on the nonce.
pub struct Submitter {
    provider: DynProvider,
    auction: Address,
    from: Address,
    cfg: SubmitterConfig,
    nonce: Mutex<Option<u64>>,
    alert: AlertHook,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter")
            .field("auction", &self.auction)
            .field("from", &self.from)
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Submitter {
    /// A submitter signing with `signer` over `rpc_url`. The default alert hook logs a warning.
    pub async fn connect(
        rpc_url: &str,
        auction: Address,
        signer: PrivateKeySigner,
        cfg: SubmitterConfig,
    ) -> ChainResult<Self> {
        let url = rpc_url.parse().map_err(|e| ChainError::BadUrl {
            url: rpc_url.to_owned(),
            reason: format!("{e}"),
        })?;
        let from = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        if provider.get_code_at(auction).await?.is_empty() {
            return Err(ChainError::NoContract(auction));
        }
        if cfg.claim_batch == 0 || cfg.confirmations == 0 {
            return Err(ChainError::Submit(
                "claim_batch and confirmations must be at least 1".into(),
            ));
        }
        Ok(Self {
            provider,
            auction,
            from,
            cfg,
            nonce: Mutex::new(None),
            alert: Arc::new(|a: &GasAlert| {
                tracing::warn!(
                    what = %a.what,
                    max_fee_per_gas = a.max_fee_per_gas,
                    threshold = a.threshold,
                    "gas price above the alert threshold"
                );
            }),
        })
    }

    /// Replaces the gas-price alert hook.
    pub fn with_alert(mut self, alert: AlertHook) -> Self {
        self.alert = alert;
        self
    }

    /// The sending account.
    pub fn address(&self) -> Address {
        self.from
    }

    /// The configuration.
    pub fn config(&self) -> &SubmitterConfig {
        &self.cfg
    }

    fn auction(&self) -> SealgridAuction::SealgridAuctionInstance<DynProvider> {
        SealgridAuction::new(self.auction, self.provider.clone())
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
        let deadline = tokio::time::Instant::now() + self.cfg.timeout;
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
                Ok(Landed::Confirmed(r)) if r.status() => {
                    return Ok(SettleOutcome::Settled(confirmed(&r, attempts)));
                }
                Ok(Landed::Confirmed(r)) => {
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
                Ok(Landed::Dropped) => {
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
                Landed::Confirmed(r) if r.status() => return Ok(Some(confirmed(&r, attempts))),
                Landed::Confirmed(r) => {
                    return Err(ChainError::Reverted {
                        what,
                        tx: r.transaction_hash,
                    });
                }
                Landed::Dropped => {}
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
        let deadline = tokio::time::Instant::now() + self.cfg.timeout;
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
            let Some(chunk) = todo.chunks(self.cfg.claim_batch).next() else {
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
                Landed::Confirmed(r) if r.status() => {
                    done.push(confirmed(&r, attempts));
                    attempts = 0;
                }
                Landed::Confirmed(r) => {
                    return Err(ChainError::Reverted {
                        what,
                        tx: r.transaction_hash,
                    });
                }
                Landed::Dropped => tracing::warn!(%what, "dropped; checking the chain"),
            }
        }
    }

    async fn now(&self) -> ChainResult<u64> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::MissingBlock("latest".into()))?
            .header
            .timestamp)
    }

    /// Gas, fees and nonce for `tx`, then send it and follow it to the configured depth.
    async fn land(
        &self,
        what: &str,
        tx: TransactionRequest,
        attempts: &mut u32,
    ) -> ChainResult<Landed> {
        let tx = tx.with_from(self.from).with_to(self.auction);
        let estimate = match self.provider.estimate_gas(tx.clone()).await {
            Ok(g) => g,
            Err(e) => return Err(revert_error(what, e)),
        };
        let gas = estimate.saturating_mul(100 + self.cfg.gas_margin_percent) / 100;
        let (mut max_fee, mut tip) = self.fees(what).await?;
        let mut nonce_guard = self.nonce.lock().await;
        let nonce = match *nonce_guard {
            Some(n) => n,
            None => {
                self.provider
                    .get_transaction_count(self.from)
                    .pending()
                    .await?
            }
        };
        let started = tokio::time::Instant::now();
        loop {
            let request = tx
                .clone()
                .with_nonce(nonce)
                .with_gas_limit(gas)
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(tip);
            *attempts += 1;
            let hash = match self.provider.send_transaction(request).await {
                Ok(p) => *p.tx_hash(),
                Err(e) => {
                    *nonce_guard = None;
                    let text = e.to_string();
                    if text.contains("nonce too low") || text.contains("already known") {
                        // Our nonce is stale (another process, or a landed replacement): the
                        // caller re-checks the chain and tries again.
                        return Ok(Landed::Dropped);
                    }
                    return Err(e.into());
                }
            };
            *nonce_guard = Some(nonce + 1);
            let sent = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(self.cfg.poll).await;
                if let Some(receipt) = self.provider.get_transaction_receipt(hash).await? {
                    return match self.confirm(receipt).await? {
                        Some(r) => Ok(Landed::Confirmed(Box::new(r))),
                        None => {
                            *nonce_guard = None;
                            Ok(Landed::Dropped)
                        }
                    };
                }
                // Not mined: a different transaction at this nonce may have landed.
                let mined = self
                    .provider
                    .get_transaction_count(self.from)
                    .latest()
                    .await?;
                if mined > nonce {
                    *nonce_guard = None;
                    return Ok(Landed::Dropped);
                }
                if started.elapsed() >= self.cfg.timeout {
                    *nonce_guard = None;
                    return Err(ChainError::Timeout(what.to_owned()));
                }
                if sent.elapsed() >= self.cfg.resubmit_after {
                    // Replace at the same nonce with fees raised by 1/8 (the node's minimum bump
                    // is 10%), within the cap.
                    let bumped = max_fee + max_fee / 8 + 1;
                    if bumped > self.cfg.max_fee_per_gas {
                        tracing::warn!(%what, "not mined and the fee cap leaves no room to bump");
                    } else {
                        max_fee = bumped;
                        tip = (tip + tip / 8 + 1).min(max_fee);
                        tracing::warn!(%what, max_fee, "not mined; replacing with higher fees");
                        break;
                    }
                }
            }
        }
    }

    /// Follows a mined receipt to the configured depth; `None` if its block left the chain.
    async fn confirm(
        &self,
        receipt: TransactionReceipt,
    ) -> ChainResult<Option<TransactionReceipt>> {
        let (Some(block), Some(hash)) = (receipt.block_number, receipt.block_hash) else {
            return Ok(None);
        };
        let started = tokio::time::Instant::now();
        loop {
            let head = self.provider.get_block_number().await?;
            // Still there, in the same block?
            let Some(again) = self
                .provider
                .get_transaction_receipt(receipt.transaction_hash)
                .await?
            else {
                return Ok(None);
            };
            if again.block_hash != Some(hash) {
                return Ok(None);
            }
            if head + 1 >= block + self.cfg.confirmations {
                let canonical = self
                    .provider
                    .get_block_by_number(BlockNumberOrTag::Number(block))
                    .await?
                    .map(|b| b.header.hash);
                return Ok((canonical == Some(hash)).then_some(again));
            }
            if started.elapsed() >= self.cfg.timeout {
                return Err(ChainError::Timeout(format!(
                    "{} confirmations of {}",
                    self.cfg.confirmations, receipt.transaction_hash
                )));
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    /// EIP-1559 fees within the caps; alerts above the threshold.
    async fn fees(&self, what: &str) -> ChainResult<(u128, u128)> {
        let est = self.provider.estimate_eip1559_fees().await?;
        if est.max_fee_per_gas > self.cfg.gas_price_alert {
            (self.alert)(&GasAlert {
                what: what.to_owned(),
                max_fee_per_gas: est.max_fee_per_gas,
                threshold: self.cfg.gas_price_alert,
            });
        }
        let base = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .and_then(|b| b.header.base_fee_per_gas)
            .map_or(0, u128::from);
        if base > self.cfg.max_fee_per_gas {
            return Err(ChainError::FeeCapExceeded {
                base_fee: base,
                cap: self.cfg.max_fee_per_gas,
            });
        }
        let tip = est
            .max_priority_fee_per_gas
            .min(self.cfg.max_priority_fee_per_gas);
        let max_fee = est
            .max_fee_per_gas
            .max(base + tip)
            .min(self.cfg.max_fee_per_gas);
        Ok((max_fee, tip.min(max_fee)))
    }
}

fn confirmed(r: &TransactionReceipt, attempts: u32) -> Confirmed {
    Confirmed {
        tx: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
        attempts,
    }
}

/// An estimate that failed: a decoded auction error when the node returned revert data.
fn revert_error(what: &str, e: alloy::transports::TransportError) -> ChainError {
    let data = e.as_error_resp().and_then(|r| r.as_revert_data());
    match data {
        Some(d) => {
            let reason = SealgridAuction::SealgridAuctionErrors::abi_decode(&d)
                .map(|err| format!("{err:?}"))
                .unwrap_or_else(|_| format!("revert data {d}"));
            ChainError::Revert {
                what: what.to_owned(),
                reason,
            }
        }
        None => e.into(),
    }
}
