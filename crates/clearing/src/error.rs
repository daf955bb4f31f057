//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong while reading a book or clearing it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClearingError {
    /// The cleared volume V* does not fit in a `u64` of Wh (the sums themselves are `u128`).
    #[error("cleared volume {volume} Wh exceeds u64::MAX")]
    VolumeOverflow {
        /// The cleared volume V*, in Wh.
        volume: u128,
    },
    /// The order book JSON is malformed, has an unknown or missing field, an unknown side, or a
    /// value out of range (e.g. a negative quantity); `line`/`column` are 1-based, 0 if unknown.
    #[error("invalid order book at line {line}, column {column}: {message}")]
    InvalidBook {
        /// 1-based line of the offending input (0 when not known).
        line: usize,
        /// 1-based column of the offending input (0 when not known).
        column: usize,
        /// serde_json's description of the problem.
        message: String,
    },
    /// The brute-force reference engine was given limits spanning more integer prices than it
    /// is willing to enumerate (it evaluates V(p) at every one of them).
    #[error("reference engine: limit prices {low}..={high} span more than {max} integer prices")]
    PriceRangeTooWide {
        /// The lowest limit price in the book.
        low: i64,
        /// The highest limit price in the book.
        high: i64,
        /// The widest span the reference engine enumerates.
        max: u64,
    },
    /// A clearing has fewer fills than the sequence has opened orders (it is not the clearing of
    /// that sequence).
    #[error("a clearing with {fills} fills for a sequence of {orders} opened orders")]
    FillsMismatch {
        /// Opened orders in the sequence.
        orders: usize,
        /// Fills in the clearing.
        fills: usize,
    },
    /// A fill does not fit a fill word's 48-bit quantity.
    #[error("a fill of {wh} Wh does not fit a fill word (at most 2^48 - 1)")]
    FillTooLarge {
        /// The fill in Wh.
        wh: u64,
    },
}

/// `Result` with a [`ClearingError`].
pub type ClearingResult<T> = Result<T, ClearingError>;

impl From<serde_json::Error> for ClearingError {
    fn from(err: serde_json::Error) -> Self {
        let line = err.line();
        let column = err.column();
        Self::InvalidBook {
            line,
            column,
            message: err.to_string(),
        }
    }
}
