//! The settlement service's one error type.

use alloy_primitives::B256;

/// Why a batch could not be settled, claimed or refunded (this time).
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    /// Chain access or a transaction failed.
    #[error(transparent)]
    Chain(#[from] sealgrid_chain::ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sealgrid_store::StoreError),
    /// The prover failed or refused the batch.
    #[error(transparent)]
    Prove(#[from] sealgrid_types::ProveError),
    /// A shared type refused a value (a fill word, a time).
    #[error(transparent)]
    Types(#[from] sealgrid_types::TypesError),
    /// The auction does not know the market.
    #[error("unknown market {0}")]
    UnknownMarket(B256),
    /// The store, the chain and the prover disagree about an interval.
    #[error("interval {interval}: {reason}")]
    Inconsistent {
        /// The interval.
        interval: u64,
        /// What disagrees.
        reason: String,
    },
    /// The proving task panicked or was cancelled.
    #[error("prover task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl SettlementError {
    /// Whether trying the same batch again may succeed (the node, the network or the prover was
    /// in the way); an inconsistency or a refused batch needs an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Chain(e) => e.is_retryable(),
            Self::Store(_) | Self::Task(_) => true,
            Self::Prove(e) => e.is_retryable(),
            Self::Types(_) | Self::UnknownMarket(_) | Self::Inconsistent { .. } => false,
        }
    }
}

/// Result of the settlement service.
pub type SettlementResult<T> = Result<T, SettlementError>;
