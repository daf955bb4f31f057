//! The prover's error type.

use alloy_primitives::B256;

/// Everything that can go wrong building a witness, a key, a proof or a verifier.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    /// The batch has more commitments than the largest supported capacity (or than asked for).
    #[error("batch of {count} commitments exceeds capacity {capacity}")]
    TooManyCommitments {
        /// Commitments in the batch.
        count: usize,
        /// The capacity asked for.
        capacity: usize,
    },
    /// No supported capacity holds this many commitments.
    #[error("no supported capacity holds {count} commitments (largest is {largest})")]
    NoCapacity {
        /// Commitments in the batch.
        count: usize,
        /// The largest supported capacity.
        largest: usize,
    },
    /// A capacity that is not in [`crate::CAPACITIES`].
    #[error("unsupported capacity {0} (supported: {list})", list = crate::capacity::list())]
    UnsupportedCapacity(usize),
    /// An opened order cannot be part of this batch (wrong market or interval, out of range).
    #[error("slot {index}: opened order rejected: {reason}")]
    InvalidOpening {
        /// Commitment index of the slot.
        index: usize,
        /// Why.
        reason: String,
    },
    /// An excluded commitment is not a field element.
    #[error("slot {index}: commitment {commitment} is not below the BN254 scalar field modulus")]
    CommitmentNotInField {
        /// Commitment index of the slot.
        index: usize,
        /// The commitment.
        commitment: B256,
    },
    /// The market's price bounds are inverted.
    #[error("price floor {floor} above price cap {cap}")]
    InvalidBounds {
        /// Price floor.
        floor: i64,
        /// Price cap.
        cap: i64,
    },
    /// The market id is not below the field modulus.
    #[error("market id {0} is not below the BN254 scalar field modulus")]
    MarketNotInField(B256),
    /// The clearing engine refused the book.
    #[error("clearing engine: {0}")]
    Clearing(#[from] sealgrid_clearing::ClearingError),
    /// The circuit's native twin and the reference engine disagree (a bug; never expected).
    #[error("native twin disagrees with the clearing engine: {0}")]
    NativeMismatch(String),
    /// A statement's fills do not match its count, or a fill word is malformed.
    #[error("invalid statement: {0}")]
    InvalidStatement(String),
    /// The witness does not satisfy the circuit (proving failed).
    #[error("proof generation failed: {0}")]
    Proving(String),
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    Keygen(String),
    /// A parameter, key or verifier file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A parameter or key file has the wrong content.
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Compiling the generated verifier failed.
    #[error("compiling the verifier with solc failed: {0}")]
    Solc(String),
    /// Deploying or calling the verifier in revm failed.
    #[error("revm: {0}")]
    Evm(String),
}

/// The prover's result type.
pub type ProverResult<T> = Result<T, ProverError>;

impl ProverError {
    /// Whether the error is in the batch itself (too many commitments, a bad opening, bounds,
    /// values outside the field): proving the same batch again cannot succeed.
    pub fn is_invalid_batch(&self) -> bool {
        matches!(
            self,
            Self::TooManyCommitments { .. }
                | Self::NoCapacity { .. }
                | Self::InvalidOpening { .. }
                | Self::CommitmentNotInField { .. }
                | Self::InvalidBounds { .. }
                | Self::MarketNotInField(_)
                | Self::Clearing(_)
                | Self::NativeMismatch(_)
                | Self::InvalidStatement(_)
        )
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
