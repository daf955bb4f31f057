use alloy_primitives::{Address, B256, Bytes};
use sealgrid_types::ClearedBatch;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{StoreError, StoreResult};

/// A commitment as the auction emitted it (`Committed`), with its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentRow {
    /// The market.
    pub market: B256,
    /// The delivery interval.
    pub interval: u64,
    /// Position in the interval's on-chain sequence.
    pub index: u32,
    /// The committing account.
    pub trader: Address,
    /// The Poseidon commitment.
    pub commitment: B256,
    /// The lock, in payment-token base units.
    pub lock: u128,
    /// The accumulator after this commitment.
    pub accumulator: B256,
    /// Block of the event.
    pub block_number: u64,
    /// Log index of the event in its block.
    pub log_index: u64,
    /// Withdrawn by the trader before the gate.
    pub withdrawn: bool,
}

/// A `CommitmentWithdrawn` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    /// The market.
    pub market: B256,
    /// The delivery interval.
    pub interval: u64,
    /// The commitment index.
    pub index: u32,
}

/// An order opened to the operator, with the operator's receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrder {
    /// EIP-712 digest of the order in the auction's domain.
    pub digest: B256,
    /// The market.
    pub market: B256,
    /// The delivery interval.
    pub interval: u64,
    /// The commitment index the order opens.
    pub index: u32,
    /// The trader.
    pub trader: Address,
    /// 0 = buy, 1 = sell.
    pub side: u8,
    /// Quantity in Wh.
    pub quantity_wh: u64,
    /// Limit price per kWh.
    pub limit_price: i64,
    /// The trader's nonce.
    pub nonce: u64,
    /// The blinding salt.
    pub salt: B256,
    /// The Poseidon commitment.
    pub commitment: B256,
    /// The trader's signature.
    pub signature: Bytes,
    /// The operator's EIP-712 signature over the receipt.
    pub receipt_signature: Bytes,
    /// When the matcher accepted it (unix seconds).
    pub received_at: u64,
}

/// Whether [`crate::Store::insert_order`] stored a new order or found the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored now.
    Inserted,
    /// The same order was stored before; here it is, with its original receipt.
    Existing(Box<StoredOrder>),
}

/// Where a cleared batch is in its lifecycle. The store records every step, so a restart
/// resumes from the last one and never revisits finished work:
///
/// ```text
/// cleared ──▶ handed_off ──▶ settled ──▶ claimed
///    │             │            │
///    └─────────────┴────────────┴──▶ voided ──▶ refunded
/// ```
///
/// (`settled` and `voided` may follow `cleared` directly: the pipeline records its outcome
/// before the scheduler notes the hand-off; a dispute voids a settled batch.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchState {
    /// Cleared and persisted; not yet accepted by the proving pipeline.
    Cleared,
    /// Accepted by the proving pipeline; its outcome is not recorded yet.
    HandedOff,
    /// Settled on-chain with this clearing (or nothing to settle: no commitments).
    Settled,
    /// Void on-chain (missed settle window, or a proven dispute): every lock is refundable.
    Voided,
    /// Final: every outstanding commitment was claimed (or there was none).
    Claimed,
    /// Final: every outstanding commitment of the voided interval was refunded.
    Refunded,
}

impl BatchState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Cleared,
        Self::HandedOff,
        Self::Settled,
        Self::Voided,
        Self::Claimed,
        Self::Refunded,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cleared => "cleared",
            Self::HandedOff => "handed_off",
            Self::Settled => "settled",
            Self::Voided => "voided",
            Self::Claimed => "claimed",
            Self::Refunded => "refunded",
        }
    }

    /// Whether nothing remains to be done for the batch.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Claimed | Self::Refunded)
    }

    /// The states a batch may move to `self` from.
    pub fn predecessors(self) -> &'static [Self] {
        match self {
            Self::Cleared => &[],
            Self::HandedOff => &[Self::Cleared],
            Self::Settled => &[Self::Cleared, Self::HandedOff],
            Self::Voided => &[Self::Cleared, Self::HandedOff, Self::Settled],
            Self::Claimed => &[Self::Settled],
            Self::Refunded => &[Self::Voided],
        }
    }

    pub(crate) fn parse(s: &str) -> StoreResult<Self> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or(StoreError::Corrupt("batches.status"))
    }
}

/// A cleared interval as the store holds it: the batch and where it is in its lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRow {
    /// The cleared batch.
    pub batch: ClearedBatch,
    /// Lifecycle state.
    pub state: BatchState,
    /// When it was cleared (unix seconds).
    pub cleared_at: u64,
    /// When the proving pipeline accepted it.
    pub handed_at: Option<u64>,
}

pub(crate) fn to_i64(field: &'static str, v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange {
        field,
        value: v.to_string(),
    })
}

pub(crate) fn to_u64(what: &'static str, v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

fn to_u32(what: &'static str, v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

pub(crate) fn b256(what: &'static str, v: Vec<u8>) -> StoreResult<B256> {
    B256::try_from(v.as_slice()).map_err(|_| StoreError::Corrupt(what))
}

pub(crate) fn address(what: &'static str, v: Vec<u8>) -> StoreResult<Address> {
    Address::try_from(v.as_slice()).map_err(|_| StoreError::Corrupt(what))
}

pub(crate) fn commitment_from<R>(r: &R) -> StoreResult<CommitmentRow>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(CommitmentRow {
        market: b256("commitments.market", r.try_get("market")?)?,
        interval: to_u64("commitments.interval_idx", r.try_get("interval_idx")?)?,
        index: to_u32("commitments.idx", r.try_get("idx")?)?,
        trader: address("commitments.trader", r.try_get("trader")?)?,
        commitment: b256("commitments.commitment", r.try_get("commitment")?)?,
        lock: r
            .try_get::<String, _>("lock_amount")?
            .parse()
            .map_err(|_| StoreError::Corrupt("commitments.lock_amount"))?,
        accumulator: b256("commitments.accumulator", r.try_get("accumulator")?)?,
        block_number: to_u64("commitments.block_number", r.try_get("block_number")?)?,
        log_index: to_u64("commitments.log_index", r.try_get("log_index")?)?,
        withdrawn: r.try_get("withdrawn")?,
    })
}

pub(crate) fn order_from<R>(r: &R) -> StoreResult<StoredOrder>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredOrder {
        digest: b256("orders.digest", r.try_get("digest")?)?,
        market: b256("orders.market", r.try_get("market")?)?,
        interval: to_u64("orders.interval_idx", r.try_get("interval_idx")?)?,
        index: to_u32("orders.idx", r.try_get("idx")?)?,
        trader: address("orders.trader", r.try_get("trader")?)?,
        side: u8::try_from(r.try_get::<i64, _>("side")?)
            .map_err(|_| StoreError::Corrupt("orders.side"))?,
        quantity_wh: to_u64("orders.quantity_wh", r.try_get("quantity_wh")?)?,
        limit_price: r.try_get("limit_price")?,
        nonce: r
            .try_get::<String, _>("nonce")?
            .parse()
            .map_err(|_| StoreError::Corrupt("orders.nonce"))?,
        salt: b256("orders.salt", r.try_get("salt")?)?,
        commitment: b256("orders.commitment", r.try_get("commitment")?)?,
        signature: Bytes::from(r.try_get::<Vec<u8>, _>("signature")?),
        receipt_signature: Bytes::from(r.try_get::<Vec<u8>, _>("receipt_signature")?),
        received_at: to_u64("orders.received_at", r.try_get("received_at")?)?,
    })
}

pub(crate) fn batch_from<R>(r: &R) -> StoreResult<BatchRow>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let handed: Option<i64> = r.try_get("handed_at")?;
    Ok(BatchRow {
        batch: ClearedBatch {
            market: b256("batches.market", r.try_get("market")?)?,
            interval: to_u64("batches.interval_idx", r.try_get("interval_idx")?)?,
            count: to_u32("batches.count", r.try_get("count")?)?,
            accumulator: b256("batches.accumulator", r.try_get("accumulator")?)?,
            price: r.try_get("price")?,
            volume: to_u64("batches.volume", r.try_get("volume")?)?,
            fills: serde_json::from_str(&r.try_get::<String, _>("fills")?)?,
        },
        state: BatchState::parse(&r.try_get::<String, _>("status")?)?,
        cleared_at: to_u64("batches.cleared_at", r.try_get("cleared_at")?)?,
        handed_at: handed.map(|h| to_u64("batches.handed_at", h)).transpose()?,
    })
}
