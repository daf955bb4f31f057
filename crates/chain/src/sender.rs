//! The one transaction path: every on-chain write of one account (the submitter's settles,
//! claims, voids and refunds, and the delivery client's readings, prices, settlements and
//! certificates) goes through a [`Sender`].
//!
//! - **Nonces.** One local counter per sender, read from the node's pending count when unknown
//!   and re-read after any dropped, replaced or refused transaction. Transactions are serialised
//!   on it: share one `Arc<Sender>` between every client that sends from the same key.
//! - **Fees.** EIP-1559 fees from the node's estimate, capped at
//!   [`SenderConfig::max_fee_per_gas`]; a base fee above the cap is an error (the transaction
//!   could not be included) and nothing is sent; a fee above [`SenderConfig::gas_price_alert`]
//!   calls the alert hook. Gas comes from `eth_estimateGas` plus a margin; an estimate that
//!   reverts is refused with the error decoded by the caller's [`RevertDecoder`].
//! - **Confirmations.** A transaction counts when it is [`SenderConfig::confirmations`] blocks
//!   deep and its block is still canonical. One that is not mined within
//!   [`SenderConfig::resubmit_after`] is replaced at the same nonce with fees raised by 1/8, and
//!   every hash sent at that nonce is followed (whichever version lands, lands).
//! - **Reorgs.** [`Sender::land`] reports a transaction a reorg dropped as [`Landed::Dropped`]
//!   for callers that re-check the chain before sending again (the submitter);
//!   [`Sender::send`] re-broadcasts the same signed transaction at the same nonce, so a call is
//!   never executed twice.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use alloy::{
    eips::BlockNumberOrTag,
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder, TransactionResponse},
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::{SolCall, SolInterface},
};
use tokio::sync::Mutex;

/// How long a transaction whose nonce was used is looked for before it counts as dropped.
const DROP_GRACE: Duration = Duration::from_secs(5);

use sealgrid_keys::KeySigner;

use crate::{ChainError, ChainResult};

/// How a sender sends and confirms; one per network (`deploy/config/*.toml`).
#[derive(Clone, Debug)]
pub struct SenderConfig {
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
    /// Claims per `claimBatch` transaction (the submitter's batches; the sender ignores it).
    pub claim_batch: usize,
}

impl Default for SenderConfig {
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

/// Turns the revert data of a failed estimate into a message (`None`: not an error the caller
/// knows). Each caller passes the decoder of the contracts it calls ([`decode_revert`]).
pub type RevertDecoder = fn(&[u8]) -> Option<String>;

/// The [`RevertDecoder`] of one contract's errors: `decode_revert::<X::XErrors>`.
pub fn decode_revert<E: SolInterface + std::fmt::Debug>(data: &[u8]) -> Option<String> {
    E::abi_decode(data).ok().map(|e| format!("{e:?}"))
}

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

impl Confirmed {
    /// The confirmation of `receipt` after `attempts` transactions.
    pub fn new(receipt: &TransactionReceipt, attempts: u32) -> Self {
        Self {
            tx: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            attempts,
        }
    }
}

/// What became of one transaction [`Sender::land`] sent.
#[derive(Clone, Debug)]
pub enum Landed {
    /// Mined, [`SenderConfig::confirmations`] deep and still canonical; it may have reverted
    /// (`receipt.status()`).
    Confirmed {
        /// The receipt.
        receipt: Box<TransactionReceipt>,
        /// Transactions sent (more than 1 after a replacement).
        sent: u32,
    },
    /// Not on the canonical chain: a reorg dropped its block, or another transaction took its
    /// nonce, or the node refused the nonce. The caller re-checks the chain before sending again
    /// (a node may still re-include a transaction a reorg dropped).
    Dropped {
        /// Transactions sent.
        sent: u32,
    },
}

/// A signed-to-be transaction at its nonce, with every hash sent at that nonce.
struct InFlight {
    nonce: u64,
    request: TransactionRequest,
    hashes: Vec<B256>,
}

/// One account's transactions to any contract. Cheap to share behind an `Arc`; transactions
/// are serialised on the nonce.
pub struct Sender {
    provider: DynProvider,
    wallet: EthereumWallet,
    from: Address,
    chain_id: u64,
    cfg: SenderConfig,
    nonce: Mutex<Option<u64>>,
    alert: RwLock<AlertHook>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("from", &self.from)
            .field("chain_id", &self.chain_id)
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// A sender signing with `signer` over `rpc_url`. The default alert hook logs a warning.
    ///
    /// # Errors
    /// A bad URL, `confirmations` of 0, RPC errors.
    pub async fn connect(
        rpc_url: &str,
        signer: impl Into<KeySigner>,
        cfg: SenderConfig,
    ) -> ChainResult<Self> {
        let signer: KeySigner = signer.into();
        let url = rpc_url.parse().map_err(|e| ChainError::BadUrl {
            url: rpc_url.to_owned(),
            reason: format!("{e}"),
        })?;
        if cfg.confirmations == 0 {
            return Err(ChainError::Submit(
                "confirmations must be at least 1".into(),
            ));
        }
        let from = signer.address();
        let wallet = EthereumWallet::new(signer);
        let provider = crate::rpc::connect_with_wallet(url, wallet.clone());
        let chain_id = provider.get_chain_id().await?;
        Ok(Self {
            provider,
            wallet,
            from,
            chain_id,
            cfg,
            nonce: Mutex::new(None),
            alert: RwLock::new(Arc::new(|a: &GasAlert| {
                tracing::warn!(
                    what = %a.what,
                    max_fee_per_gas = a.max_fee_per_gas,
                    threshold = a.threshold,
                    "gas price above the alert threshold"
                );
            })),
        })
    }

    /// Replaces the gas-price alert hook.
    pub fn with_alert(self, alert: AlertHook) -> Self {
        self.set_alert(alert);
        self
    }

    /// Replaces the gas-price alert hook of a shared sender (for every client sharing it).
    pub fn set_alert(&self, alert: AlertHook) {
        *self.alert.write().unwrap_or_else(|e| e.into_inner()) = alert;
    }

    /// The sending account.
    pub fn address(&self) -> Address {
        self.from
    }

    /// The configuration.
    pub fn config(&self) -> &SenderConfig {
        &self.cfg
    }

    /// The provider (it signs with the sender's key; use it for reads, send through
    /// [`Self::land`] or [`Self::send`]).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Gas, fees and nonce for `tx` (which names its `to`), then sends it and follows it to the
    /// configured depth, replacing it at the same nonce if it is not mined in time.
    ///
    /// For callers that re-check the chain after a [`Landed::Dropped`] before sending again.
    ///
    /// # Errors
    /// [`ChainError::Revert`] if the estimate reverts (decoded with `decode`, nothing is sent),
    /// [`ChainError::FeeCapExceeded`], [`ChainError::Timeout`], RPC errors.
    pub async fn land(
        &self,
        what: &str,
        tx: TransactionRequest,
        decode: RevertDecoder,
    ) -> ChainResult<Landed> {
        let mut slot = self.nonce.lock().await;
        let mut flight = self.prepare(what, tx, decode, &mut slot).await?;
        let mut sent = 0;
        let landed = self.follow(what, &mut flight, &mut sent).await;
        track(&mut slot, flight.nonce, landed)
    }

    /// Sends `call` to `to` and returns its receipt once confirmed; a call that would revert is
    /// refused with the error `decode` finds and nothing is sent, one mined but reverted is
    /// [`ChainError::Reverted`].
    ///
    /// A call is never executed twice: when a reorg drops the transaction and the account's
    /// nonce is still free, the same signed transaction is broadcast again at the same nonce
    /// (at most one of them can be included); only when another transaction took the nonce
    /// (so this one can never land) is the call sent again at a new nonce. (After a
    /// [`ChainError::Timeout`] a transaction may still be pending: a caller that retries then
    /// must check the chain first.) Use it for calls
    /// whose unchanged re-broadcast is still what the caller wants after a reorg, without
    /// re-reading the chain in between (the delivery calls). Calls built from chain state a
    /// reorg can change (a settle another clearing may overtake, claims filtered by
    /// `isOutstanding`) use [`Self::land`] and re-check.
    ///
    /// # Errors
    /// As [`Self::land`], and [`ChainError::Reverted`].
    pub async fn send<C: SolCall>(
        &self,
        what: &str,
        to: Address,
        call: C,
        decode: RevertDecoder,
    ) -> ChainResult<TransactionReceipt> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode());
        let deadline = tokio::time::Instant::now() + self.cfg.timeout;
        let mut slot = self.nonce.lock().await;
        let mut flight = self.prepare(what, tx.clone(), decode, &mut slot).await?;
        let mut sent = 0;
        loop {
            let landed = self.follow(what, &mut flight, &mut sent).await;
            match track(&mut slot, flight.nonce, landed)? {
                Landed::Confirmed { receipt, .. } if receipt.status() => return Ok(*receipt),
                Landed::Confirmed { receipt, .. } => {
                    return Err(ChainError::Reverted {
                        what: what.to_owned(),
                        tx: receipt.transaction_hash,
                    });
                }
                Landed::Dropped { .. } => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ChainError::Timeout(what.to_owned()));
            }
            let mined = self
                .provider
                .get_transaction_count(self.from)
                .latest()
                .await?;
            if mined <= flight.nonce {
                tracing::warn!(%what, nonce = flight.nonce, "dropped by a reorg; sending it again at its nonce");
            } else if self.known_mined(&flight).await? {
                // The nonce is ours after all (mined again after a reorg, or a lagging
                // node): follow it instead of executing the call a second time.
                tracing::warn!(%what, nonce = flight.nonce, "mined after all; following it");
            } else {
                tracing::warn!(%what, nonce = flight.nonce, "its nonce was taken; sending it at a new one");
                flight = self.prepare(what, tx.clone(), decode, &mut slot).await?;
            }
        }
    }

    /// Estimates gas (with the margin) and fees and picks the nonce.
    async fn prepare(
        &self,
        what: &str,
        tx: TransactionRequest,
        decode: RevertDecoder,
        slot: &mut Option<u64>,
    ) -> ChainResult<InFlight> {
        let tx = tx.with_from(self.from);
        let estimate = match self.provider.estimate_gas(tx.clone()).await {
            Ok(g) => g,
            Err(e) => return Err(revert_error(what, e, decode)),
        };
        let gas = estimate.saturating_mul(100 + self.cfg.gas_margin_percent) / 100;
        let (max_fee, tip) = self.fees(what).await?;
        let nonce = match *slot {
            Some(n) => n,
            None => {
                self.provider
                    .get_transaction_count(self.from)
                    .pending()
                    .await?
            }
        };
        let request = tx
            .with_chain_id(self.chain_id)
            .with_nonce(nonce)
            .with_gas_limit(gas)
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(tip);
        Ok(InFlight {
            nonce,
            request,
            hashes: Vec::new(),
        })
    }

    /// Broadcasts `flight` and follows every hash sent at its nonce until one is confirmed, the
    /// nonce goes to another transaction, or a reorg drops the one that was mined.
    async fn follow(
        &self,
        what: &str,
        flight: &mut InFlight,
        sent: &mut u32,
    ) -> ChainResult<Landed> {
        let started = tokio::time::Instant::now();
        let mut broadcast = true;
        let mut sent_at = started;
        loop {
            if broadcast {
                broadcast = false;
                let envelope = flight
                    .request
                    .clone()
                    .build(&self.wallet)
                    .await
                    .map_err(|e| {
                        ChainError::Submit(format!("{what}: signing the transaction: {e}"))
                    })?;
                let hash = *envelope.tx_hash();
                *sent += 1;
                sent_at = tokio::time::Instant::now();
                if let Err(e) = self.provider.send_tx_envelope(envelope).await {
                    let text = e.to_string();
                    // "already known": this very transaction is pending (follow it); "nonce too
                    // low": the nonce is used (by one of ours if a receipt shows up below).
                    if !text.contains("already known") && !text.contains("nonce too low") {
                        return Err(e.into());
                    }
                }
                if !flight.hashes.contains(&hash) {
                    flight.hashes.push(hash);
                }
            }
            tokio::time::sleep(self.cfg.poll).await;
            if let Some(landed) = self.mined(flight, *sent).await? {
                return Ok(landed);
            }
            // Not mined: a different transaction at this nonce may have landed.
            let mined = self
                .provider
                .get_transaction_count(self.from)
                .latest()
                .await?;
            if mined > flight.nonce {
                // One of ours may have been mined since the receipts were read. A node under
                // load can count the nonce before it serves the receipt: calling the
                // transaction dropped then would send the call again at a new nonce and
                // execute it twice. So it is dropped only once no hash of ours is known mined
                // and the grace period has passed.
                let grace = tokio::time::Instant::now() + DROP_GRACE.max(self.cfg.poll * 4);
                loop {
                    if let Some(landed) = self.mined(flight, *sent).await? {
                        return Ok(landed);
                    }
                    let known = self.known_mined(flight).await?;
                    if !known && tokio::time::Instant::now() >= grace {
                        return Ok(Landed::Dropped { sent: *sent });
                    }
                    if started.elapsed() >= self.cfg.timeout {
                        return Err(ChainError::Timeout(what.to_owned()));
                    }
                    tokio::time::sleep(self.cfg.poll).await;
                }
            }
            if started.elapsed() >= self.cfg.timeout {
                return Err(ChainError::Timeout(what.to_owned()));
            }
            if sent_at.elapsed() >= self.cfg.resubmit_after {
                // Replace at the same nonce with fees raised by 1/8 (the node's minimum bump
                // is 10%), within the cap.
                let max_fee = flight.request.max_fee_per_gas.unwrap_or_default();
                let tip = flight.request.max_priority_fee_per_gas.unwrap_or_default();
                let bumped = max_fee + max_fee / 8 + 1;
                if bumped > self.cfg.max_fee_per_gas {
                    tracing::warn!(%what, "not mined and the fee cap leaves no room to bump");
                    sent_at = tokio::time::Instant::now();
                } else {
                    tracing::warn!(%what, max_fee = bumped, "not mined; replacing with higher fees");
                    flight.request.max_fee_per_gas = Some(bumped);
                    flight.request.max_priority_fee_per_gas = Some((tip + tip / 8 + 1).min(bumped));
                    broadcast = true;
                }
            }
        }
    }

    /// Whether the node reports a hash of `flight` in a block (its receipt may lag).
    async fn known_mined(&self, flight: &InFlight) -> ChainResult<bool> {
        for hash in &flight.hashes {
            if let Some(tx) = self.provider.get_transaction_by_hash(*hash).await?
                && tx.block_number().is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The outcome of the first hash of `flight` with a receipt, followed to the configured
    /// depth; `None` while none is mined.
    async fn mined(&self, flight: &InFlight, sent: u32) -> ChainResult<Option<Landed>> {
        for hash in &flight.hashes {
            if let Some(receipt) = self.provider.get_transaction_receipt(*hash).await? {
                return Ok(Some(match self.confirm(receipt).await? {
                    Some(r) => Landed::Confirmed {
                        receipt: Box::new(r),
                        sent,
                    },
                    None => Landed::Dropped { sent },
                }));
            }
        }
        Ok(None)
    }

    /// Follows a mined receipt to the configured depth; `None` if its block left the chain.
    ///
    /// A receipt that goes missing again is not taken for a reorg on its own: a node under
    /// load (or one backend of a load-balanced endpoint) can serve a block before its
    /// receipts. Only another block at that height, or no block there for the grace period
    /// ([`DROP_GRACE`]), drops it; a reorg that mines it again in another block is followed
    /// there.
    async fn confirm(
        &self,
        receipt: TransactionReceipt,
    ) -> ChainResult<Option<TransactionReceipt>> {
        let (Some(mut block), Some(mut hash)) = (receipt.block_number, receipt.block_hash) else {
            return Ok(None);
        };
        let tx = receipt.transaction_hash;
        let started = tokio::time::Instant::now();
        let grace = DROP_GRACE.max(self.cfg.poll * 4);
        let mut missing: Option<tokio::time::Instant> = None;
        loop {
            let head = self.provider.get_block_number().await?;
            match self.provider.get_transaction_receipt(tx).await? {
                Some(again) if again.block_hash == Some(hash) => {
                    missing = None;
                    if head + 1 >= block + self.cfg.confirmations {
                        let canonical = self.block_hash(block).await?;
                        if canonical == Some(hash) {
                            return Ok(Some(again));
                        }
                        if canonical.is_some() {
                            return Ok(None);
                        }
                    }
                }
                Some(again) => match (again.block_number, again.block_hash) {
                    // Mined again in another block (a reorg): follow it there.
                    (Some(b), Some(h)) => {
                        tracing::warn!(%tx, from = block, to = b, "mined again in another block after a reorg");
                        (block, hash, missing) = (b, h, None);
                    }
                    _ => return Ok(None),
                },
                None => match self.block_hash(block).await? {
                    Some(other) if other != hash => return Ok(None),
                    // Our block is canonical, or the node has no block at that height yet.
                    at => {
                        let since = *missing.get_or_insert_with(tokio::time::Instant::now);
                        if at.is_none() && since.elapsed() >= grace {
                            return Ok(None);
                        }
                        tracing::debug!(%tx, block, "receipt not served (yet); waiting");
                    }
                },
            }
            if started.elapsed() >= self.cfg.timeout {
                return Err(ChainError::Timeout(format!(
                    "{} confirmations of {tx}",
                    self.cfg.confirmations
                )));
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    /// The hash of the canonical block at `number`, if the node has one.
    async fn block_hash(&self, number: u64) -> ChainResult<Option<B256>> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .map(|b| b.header.hash))
    }

    /// EIP-1559 fees within the caps; alerts above the threshold.
    async fn fees(&self, what: &str) -> ChainResult<(u128, u128)> {
        let est = self.provider.estimate_eip1559_fees().await?;
        if est.max_fee_per_gas > self.cfg.gas_price_alert {
            let alert = self.alert.read().unwrap_or_else(|e| e.into_inner()).clone();
            alert(&GasAlert {
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

/// The nonce counter after `landed` at `nonce`: the next one after a confirmed transaction,
/// unknown (re-read from the node) after a drop or an error.
fn track(slot: &mut Option<u64>, nonce: u64, landed: ChainResult<Landed>) -> ChainResult<Landed> {
    *slot = match landed {
        Ok(Landed::Confirmed { .. }) => Some(nonce + 1),
        _ => None,
    };
    landed
}

/// An estimate that failed: the caller's decoded error when the node returned revert data.
fn revert_error(
    what: &str,
    e: alloy::transports::TransportError,
    decode: RevertDecoder,
) -> ChainError {
    match e.as_error_resp().and_then(|r| r.as_revert_data()) {
        Some(d) => ChainError::Revert {
            what: what.to_owned(),
            reason: decode(&d).unwrap_or_else(|| format!("revert data {d}")),
        },
        None => e.into(),
    }
}
