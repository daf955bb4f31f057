//! The pipeline's types and traits (DESIGN §2): a cleared batch as it flows from the matcher's
//! scheduler to the submitter, the prover's request and answer, and the two trait boundaries the
//! node connects — [`BatchSink`] (what comes after clearing) and [`ClearingProver`] — so that the
//! matcher, the prover and the settlement service never import each other.

use std::{error::Error as StdError, future::Future, pin::Pin};

use alloy_primitives::B256;

use crate::{MarketBounds, Order, SequenceEntry, TypesResult, fills_root};

/// A boxed future, so that the pipeline's traits can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed error cause carried by the pipeline's errors.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// One interval's clearing as it is persisted, proven and settled: the public part of a batch.
/// The opened orders (private) stay in the store; the prover reads them through a
/// [`ProofRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearedBatch {
    /// Market id.
    pub market: B256,
    /// Interval index.
    pub interval: u64,
    /// Number of commitments in the interval's on-chain sequence.
    pub count: u32,
    /// The contract's accumulator over the sequence.
    pub accumulator: B256,
    /// The clearing price p*, `None` when nothing cleared.
    pub price: Option<i64>,
    /// The cleared volume V* in Wh.
    pub volume: u64,
    /// One fill word per commitment, in commitment order (docs/encoding.md, "Fill words").
    pub fills: Vec<u64>,
}

impl ClearedBatch {
    /// The price the settle transaction carries: p*, or 0 when nothing cleared.
    pub fn settle_price(&self) -> i64 {
        self.price.unwrap_or(0)
    }

    /// Whether the interval had no commitment at all (nothing to prove or settle).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The Merkle root of the fill words, as the contract stores it.
    pub fn fills_root(&self) -> TypesResult<B256> {
        fills_root(&self.fills)
    }

    /// Whether `(price, volume, root)` read from the chain is exactly this clearing.
    pub fn matches(&self, price: i64, volume: u64, root: B256) -> TypesResult<bool> {
        Ok(price == self.settle_price() && volume == self.volume && root == self.fills_root()?)
    }
}

/// One commitment of a cleared interval as the prover needs it: the on-chain sequence entry
/// (commitment, committer, lock: what the accumulator binds) and, if it was opened to the
/// operator, the order with its salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofSlot {
    /// The entry as committed on-chain.
    pub entry: SequenceEntry,
    /// The opened order, or `None` if it was never opened or was withdrawn (excluded).
    pub opening: Option<Order>,
}

impl ProofSlot {
    /// An opened slot.
    pub fn opened(entry: SequenceEntry, order: Order) -> Self {
        Self {
            entry,
            opening: Some(order),
        }
    }

    /// An opened slot for `order`, committed by its trader with `lock`: the entry's commitment is
    /// computed from the order (for tests, benchmarks and simulations that make their own books).
    ///
    /// # Errors
    /// If the order's market or salt is not a field element.
    pub fn committed(order: Order, lock: u128) -> TypesResult<Self> {
        let entry = SequenceEntry {
            commitment: crate::order_commitment(&order)?,
            committer: order.trader,
            lock,
        };
        Ok(Self::opened(entry, order))
    }

    /// An excluded slot (never opened, or withdrawn).
    pub fn excluded(entry: SequenceEntry) -> Self {
        Self {
            entry,
            opening: None,
        }
    }
}

/// The private input of a proof: the interval's whole sequence in on-chain order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofRequest {
    /// Market id.
    pub market: B256,
    /// Interval index.
    pub interval: u64,
    /// The market's price bounds (part of the proven statement).
    pub bounds: MarketBounds,
    /// Every commitment, by index.
    pub slots: Vec<ProofSlot>,
}

/// A proven batch: the proof and the statement it proves.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenBatch {
    /// The proof bytes.
    pub proof: Vec<u8>,
    /// p* (0 when nothing clears).
    pub price: i64,
    /// V* in Wh.
    pub volume: u64,
    /// The fill words the proof is for.
    pub fills: Vec<u64>,
    /// The circuit capacity used.
    pub capacity: usize,
    /// Seconds spent proving.
    pub seconds: f64,
}

impl ProvenBatch {
    /// Whether the proof is for exactly `batch`'s clearing.
    pub fn proves(&self, batch: &ClearedBatch) -> bool {
        self.price == batch.settle_price()
            && self.volume == batch.volume
            && self.fills == batch.fills
    }
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// No configured circuit capacity holds the batch.
    #[error("no configured capacity holds {count} commitments")]
    NoCapacity {
        /// Commitments in the batch.
        count: usize,
    },
    /// The batch is not a statement the circuit can prove (an opening that does not match its
    /// commitment, bounds, a field overflow): proving it again cannot succeed.
    #[error("the batch cannot be proven: {0}")]
    InvalidBatch(#[source] BoxError),
    /// Keys, parameters or proving failed; another attempt may succeed.
    #[error("proving failed: {0}")]
    Failed(#[source] BoxError),
}

impl ProveError {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// Proves cleared batches (DESIGN §2: the node injects the halo2 prover through this trait).
/// `prove` is CPU-bound; call it from a blocking task.
pub trait ClearingProver: Send + Sync + std::fmt::Debug {
    /// Proves `request`.
    fn prove(&self, request: &ProofRequest) -> Result<ProvenBatch, ProveError>;

    /// Gets ready to prove batches of up to `count` commitments (e.g. generates proving keys),
    /// so that the first interval does not pay for it inside its settle window. CPU-bound.
    fn prepare(&self, count: usize) -> Result<(), ProveError> {
        let _ = count;
        Ok(())
    }
}

/// Why the stage after clearing did not take a batch.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct SinkError {
    retryable: bool,
    #[source]
    source: BoxError,
}

impl SinkError {
    /// A failure that may pass (the chain, the store or the prover was unavailable): the batch is
    /// offered again.
    pub fn retryable(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: true,
            source: source.into(),
        }
    }

    /// A failure that offering the batch again will not mend (the store and the chain disagree,
    /// the batch cannot be proven): it needs an operator.
    pub fn fatal(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: false,
            source: source.into(),
        }
    }

    /// Whether offering the batch again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// The next stage after clearing. `accept` must be idempotent per `(market, interval)`: after a
/// crash between a successful `accept` and the store noting it, the batch is offered again.
pub trait BatchSink: Send + Sync + std::fmt::Debug {
    /// Takes a batch; an error means "not taken".
    fn accept<'a>(&'a self, batch: &'a ClearedBatch) -> BoxFuture<'a, Result<(), SinkError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> ClearedBatch {
        ClearedBatch {
            market: B256::repeat_byte(1),
            interval: 7,
            count: 2,
            accumulator: B256::repeat_byte(2),
            price: Some(-5),
            volume: 10,
            fills: vec![10, crate::SELL_FLAG | 10],
        }
    }

    #[test]
    fn a_batch_matches_only_its_own_clearing() {
        let b = batch();
        let root = b.fills_root().expect("root");
        assert!(b.matches(-5, 10, root).expect("matches"));
        assert!(!b.matches(-4, 10, root).expect("price"));
        assert!(!b.matches(-5, 9, root).expect("volume"));
        assert!(!b.matches(-5, 10, B256::ZERO).expect("root"));
        let empty = ClearedBatch {
            price: None,
            volume: 0,
            fills: vec![0, 0],
            ..b
        };
        assert_eq!(empty.settle_price(), 0, "nothing cleared settles at 0");
    }

    #[test]
    fn a_proof_proves_only_the_batch_it_was_made_for() {
        let b = batch();
        let proven = ProvenBatch {
            proof: vec![1],
            price: -5,
            volume: 10,
            fills: b.fills.clone(),
            capacity: 4,
            seconds: 0.1,
        };
        assert!(proven.proves(&b));
        let mut other = b.clone();
        other.fills[1] = 0;
        assert!(!proven.proves(&other));
    }

    #[test]
    fn errors_say_whether_to_retry() {
        assert!(SinkError::retryable("node down").is_retryable());
        assert!(!SinkError::fatal("store and chain disagree").is_retryable());
        assert!(ProveError::Failed("keygen".into()).is_retryable());
        assert!(!ProveError::InvalidBatch("bad opening".into()).is_retryable());
        assert!(!ProveError::NoCapacity { count: 5000 }.is_retryable());
    }
}
