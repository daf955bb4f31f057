/// Errors of chain access.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC URL does not parse.
    #[error("bad RPC URL `{url}`: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node could not be reached or answered with an error.
    #[error("rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// A contract call failed (reverted or could not be decoded).
    #[error("contract call: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// A log of the auction could not be decoded.
    #[error("undecodable log in block {block:?}: {reason}")]
    BadLog {
        /// Its block.
        block: Option<u64>,
        /// Why.
        reason: String,
    },
    /// There is no contract code at the auction address.
    #[error("no contract at {0}")]
    NoContract(alloy::primitives::Address),
    /// The contract holds market parameters the off-chain code cannot use.
    #[error("market {market}: {reason}")]
    BadMarket {
        /// The market.
        market: alloy::primitives::B256,
        /// Why.
        reason: String,
    },
    /// The local devnet could not be started or deployed.
    #[error("devnet: {0}")]
    Devnet(String),
    /// A transaction would revert (its gas estimate failed with this auction error).
    #[error("{what} would revert: {reason}")]
    Revert {
        /// What was sent.
        what: String,
        /// The decoded revert.
        reason: String,
    },
    /// A transaction was mined but reverted.
    #[error("{what} reverted in tx {tx}")]
    Reverted {
        /// What was sent.
        what: String,
        /// The transaction.
        tx: alloy::primitives::B256,
    },
    /// The interval is settled with another clearing.
    #[error(
        "interval {interval} is already settled with another clearing (price {price}, volume {volume} Wh)"
    )]
    SettledDifferently {
        /// The interval.
        interval: u64,
        /// The price on-chain.
        price: i64,
        /// The volume on-chain.
        volume: u64,
    },
    /// A shared type refused a value read from the chain (an unknown status code, a fill word).
    #[error(transparent)]
    Types(#[from] sealgrid_types::TypesError),
    /// The interval cannot be settled.
    #[error("interval {interval} cannot be settled: {reason}")]
    NotSettleable {
        /// The interval.
        interval: u64,
        /// Why.
        reason: NotSettleable,
    },
    /// The base fee is above the configured cap: no transaction could be included.
    #[error("base fee {base_fee} wei is above the fee cap {cap} wei")]
    FeeCapExceeded {
        /// The latest base fee.
        base_fee: u128,
        /// The cap.
        cap: u128,
    },
    /// An operation did not complete in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A deployment config is invalid.
    #[error("config: {0}")]
    Config(String),
    /// The submitter is misconfigured or got unusable input.
    #[error("submitter: {0}")]
    Submit(String),
    /// The node returned no block where one must exist.
    #[error("block {0} not found")]
    MissingBlock(String),
    /// A contract's runtime code is not the code expected for it (a verifier stage against the
    /// generated code or a deployment record): another contract, or a tampered record.
    #[error(transparent)]
    CodeHashMismatch(Box<CodeHashMismatch>),
}

/// Which contract's runtime code differs from what was expected ([`ChainError::CodeHashMismatch`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} at {address} has runtime code hash {actual}, expected {expected}")]
pub struct CodeHashMismatch {
    /// Which contract.
    pub what: String,
    /// Its address.
    pub address: alloy::primitives::Address,
    /// The expected keccak256 of its runtime code.
    pub expected: alloy::primitives::B256,
    /// keccak256 of the code found there.
    pub actual: alloy::primitives::B256,
}

impl From<CodeHashMismatch> for ChainError {
    fn from(e: CodeHashMismatch) -> Self {
        Self::CodeHashMismatch(Box::new(e))
    }
}

/// Result of chain access.
pub type ChainResult<T> = Result<T, ChainError>;

impl ChainError {
    /// Whether the same call may succeed later: the node, the network or the fee market was in
    /// the way. Reverts, refused settles, bad configuration and bad data are not retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Rpc(_)
                | Self::Contract(_)
                | Self::Timeout(_)
                | Self::FeeCapExceeded { .. }
                | Self::MissingBlock(_)
        )
    }

    /// Whether a contract's code is not what it was expected to be ([`Self::CodeHashMismatch`]).
    pub fn is_code_hash_mismatch(&self) -> bool {
        matches!(self, Self::CodeHashMismatch(_))
    }
}

/// Why an interval cannot be settled ([`ChainError::NotSettleable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotSettleable {
    /// It is void.
    #[error("voided")]
    Voided,
    /// It has no commitments.
    #[error("no commitments")]
    Empty,
    /// Its gate has not closed.
    #[error("its gate {gate} is not reached (chain time {now})")]
    BeforeGate {
        /// The gate closure.
        gate: u64,
        /// Chain time.
        now: u64,
    },
    /// Its settle window has passed: it can only be voided.
    #[error("its settle deadline {deadline} has passed (chain time {now})")]
    PastDeadline {
        /// The settle deadline.
        deadline: u64,
        /// Chain time.
        now: u64,
    },
}
