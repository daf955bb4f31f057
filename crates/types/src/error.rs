//! The crate's one error type.

use alloy_primitives::U256;

/// Result alias for this crate.
pub type TypesResult<T> = Result<T, TypesError>;

/// Everything that can be wrong with a value entering one of sealgrid's encodings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TypesError {
    /// A value that must be hashed as a BN254 scalar is not below the field modulus `r`
    /// (it is rejected, never reduced).
    #[error("{what} {value:#x} is not below the BN254 scalar field modulus")]
    NotInField {
        /// Which value (`"market"`, `"salt"`, `"field element"`, ...).
        what: &'static str,
        /// The offending value.
        value: U256,
    },
    /// A commitment's lock is above `MAX_LOCK = 2^93 - 1` (it could not be bound into the
    /// accumulator).
    #[error("lock {lock} is above the maximum 2^93 - 1")]
    LockTooLarge {
        /// The offending lock in base units.
        lock: u128,
    },
    /// An order's quantity is zero.
    #[error("order quantity is zero")]
    ZeroQuantity,
    /// An order's quantity is above `MAX_QUANTITY_WH = 2^48 - 1`.
    #[error("order quantity {quantity_wh} Wh is above the maximum 2^48 - 1")]
    QuantityTooLarge {
        /// The offending quantity in Wh.
        quantity_wh: u64,
    },
    /// An order's limit price is outside the market's `[price_floor, price_cap]`.
    #[error("limit price {price} is outside the market bounds [{floor}, {cap}]")]
    PriceOutOfBounds {
        /// The offending limit price.
        price: i64,
        /// The market's price floor.
        floor: i64,
        /// The market's price cap.
        cap: i64,
    },
    /// A side code other than 0 (buy) or 1 (sell).
    #[error("side {0} is neither 0 (buy) nor 1 (sell)")]
    InvalidSide(u8),
    /// An interval status code other than 0 (open), 1 (settled), 2 (voided).
    #[error("interval status {0} is not 0, 1 or 2")]
    InvalidStatus(u8),
    /// A meter-reading quality code other than 0 (actual), 1 (estimated), 2 (substituted).
    #[error("meter quality {0} is not 0, 1 or 2")]
    InvalidMeterQuality(u8),
    /// A market timing configuration breaks one of its rules.
    #[error("invalid market timing: {0}")]
    InvalidTiming(&'static str),
    /// A time for an interval does not fit in `u64` seconds (or falls before the Unix epoch).
    #[error("time of interval {interval} overflows")]
    TimeOverflow {
        /// The interval whose time was asked for.
        interval: u64,
    },
    /// A 64-bit fill word breaks the fill-word layout.
    #[error("fill word {word:#018x} is malformed: {reason}")]
    InvalidFillWord {
        /// The offending word.
        word: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A fill quantity of zero (use `Fill::Zero`) or above `MAX_QUANTITY_WH`.
    #[error("fill quantity {wh} Wh is not in 1..=2^48 - 1")]
    InvalidFillQuantity {
        /// The offending quantity in Wh.
        wh: u64,
    },
    /// A fill index at or beyond the number of fills.
    #[error("fill index {index} is out of range for {count} fills")]
    FillIndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The number of fills.
        count: u64,
    },
    /// Packed fills whose length is not a multiple of 8 bytes.
    #[error("packed fills of {len} bytes are not whole 8-byte words")]
    MalformedFills {
        /// The length in bytes.
        len: usize,
    },
    /// More fill words than a `uint32` index can address.
    #[error("{count} fill words are more than 2^32")]
    TooManyFills {
        /// The number of words given.
        count: usize,
    },
    /// A token kind other than 0 (bought) or 1 (sold), or a token id with stray bits.
    #[error("invalid energy-intent token id {0:#x}")]
    InvalidTokenId(U256),
    /// A signature that is not 65 bytes `r ‖ s ‖ v` with `v` 27 or 28 and a low `s`
    /// (what the contracts accept).
    #[error("malformed signature: {0}")]
    MalformedSignature(&'static str),
    /// Recovering the signer from a signature failed.
    #[error("signature recovery failed: {0}")]
    Recovery(#[from] alloy_primitives::SignatureError),
    /// The local signer failed.
    #[error("signing failed: {0}")]
    Signer(#[from] alloy_signer::Error),
}
