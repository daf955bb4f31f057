use alloy_primitives::{Address, B256};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or refused a statement.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A migration could not be applied.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A JSON column could not be written or read.
    #[error("json column: {0}")]
    Json(#[from] serde_json::Error),
    /// The URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported store URL `{0}` (use sqlite:PATH or postgres://...)")]
    UnsupportedUrl(String),
    /// A stored value does not fit its type: the database was edited by hand or is corrupt.
    #[error("corrupt store value: {0}")]
    Corrupt(&'static str),
    /// A number does not fit the column it goes into.
    #[error("{field} = {value} is out of range for the store")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value, in decimal.
        value: String,
    },
    /// The trader's nonce was already used by a different order.
    #[error("nonce {nonce} of {trader} was already used by order {existing}")]
    NonceReused {
        /// The trader.
        trader: Address,
        /// The nonce.
        nonce: u64,
        /// Digest of the order that holds the nonce.
        existing: B256,
    },
    /// The commitment index was already opened by a different order.
    #[error("commitment {index} of interval {interval} in market {market} is already opened")]
    IndexTaken {
        /// The market.
        market: B256,
        /// The interval.
        interval: u64,
        /// The commitment index.
        index: u32,
    },
    /// A withdrawal refers to a commitment the store has not seen.
    #[error("withdrawal of unknown commitment {index} of interval {interval} in market {market}")]
    UnknownCommitment {
        /// The market.
        market: B256,
        /// The interval.
        interval: u64,
        /// The commitment index.
        index: u32,
    },
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;
