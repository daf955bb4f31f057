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
    /// The node returned no block where one must exist.
    #[error("block {0} not found")]
    MissingBlock(String),
}

/// Result of chain access.
pub type ChainResult<T> = Result<T, ChainError>;
