//! Errors of the matcher: intake rejections carry a stable code for API clients.

use std::net::IpAddr;

use alloy_primitives::{Address, B256};

/// Which per-client (network address) limit a request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientLimit {
    /// Orders per second (a batch counts each of its orders).
    Orders,
    /// Chain calls per second that its orders would cause (market look-ups, indexer syncs for
    /// missing commitments, ERC-1271 checks).
    ChainCalls,
}

impl std::fmt::Display for ClientLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Orders => "too many orders",
            Self::ChainCalls => "orders that need too many chain calls",
        })
    }
}

/// Why an order was refused at intake. Each variant has a stable machine code
/// ([`IntakeError::code`]) and an HTTP status ([`IntakeError::status`]).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The body is not valid JSON of the expected shape.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The body exceeds the size limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A batch holds more orders than allowed.
    #[error("batch of {got} orders exceeds the limit of {limit}")]
    BatchTooLarge {
        /// Orders in the batch.
        got: usize,
        /// The limit.
        limit: usize,
    },
    /// The signed domain names another chain.
    #[error("signed for chain {got}, this market runs on chain {expected}")]
    WrongChainId {
        /// Chain id in the request's domain.
        got: u64,
        /// Our chain id.
        expected: u64,
    },
    /// The signed domain names another verifying contract.
    #[error("signed for verifying contract {got}, this market's auction is {expected}")]
    WrongVerifyingContract {
        /// Contract in the request's domain.
        got: Address,
        /// Our auction.
        expected: Address,
    },
    /// The signed domain's name or version is not `sealgrid` / `1`.
    #[error("signed domain must be name \"sealgrid\", version \"1\"")]
    WrongDomain,
    /// The signature is malformed or does not come from the order's trader (EOA recovery and
    /// ERC-1271 both failed).
    #[error("signature is not the trader's: {0}")]
    BadSignature(String),
    /// The auction does not know the market.
    #[error("unknown market {0}")]
    UnknownMarket(B256),
    /// The market is closed to new orders.
    #[error("market {0} is closed")]
    MarketClosed(B256),
    /// The interval's gate has closed (or the interval is not a valid one).
    #[error("interval {interval} closed at {gate}; now {now}")]
    IntervalClosed {
        /// The interval.
        interval: u64,
        /// Its gate closure.
        gate: u64,
        /// Matcher time.
        now: u64,
    },
    /// A field is out of range (zero or too large quantity, side, market or salt not below the
    /// field modulus).
    #[error("invalid field: {0}")]
    InvalidField(String),
    /// The limit price is outside the market's floor and cap.
    #[error("limit price {price} outside [{floor}, {cap}]")]
    PriceOutOfBounds {
        /// The limit price.
        price: i64,
        /// The market's floor.
        floor: i64,
        /// The market's cap.
        cap: i64,
    },
    /// No on-chain commitment of this trader matches the order.
    #[error("no commitment {commitment} by {trader} in interval {interval} on-chain")]
    CommitmentNotFound {
        /// The trader.
        trader: Address,
        /// The interval.
        interval: u64,
        /// The recomputed commitment.
        commitment: B256,
    },
    /// The matching commitment was withdrawn.
    #[error("commitment {index} was withdrawn")]
    CommitmentWithdrawn {
        /// Its index.
        index: u32,
    },
    /// The lock on-chain does not cover the order's worst case.
    #[error("lock {lock} is below the {required} this order needs")]
    InsufficientLock {
        /// The lock.
        lock: u128,
        /// What the order needs.
        required: u128,
    },
    /// The trader's nonce belongs to another order.
    #[error("nonce {nonce} was already used by order {existing}")]
    NonceReused {
        /// The nonce.
        nonce: u64,
        /// The order holding it.
        existing: B256,
    },
    /// The commitment was already opened by a different order.
    #[error("commitment {index} is already opened by another order")]
    AlreadyOpened {
        /// Its index.
        index: u32,
    },
    /// The account sent too many requests.
    #[error("rate limit: {0} is sending too many orders")]
    RateLimited(Address),
    /// The client (network address) is over one of its limits; nothing was done for the order.
    #[error("rate limit: {client} is sending {limit}")]
    ClientRateLimited {
        /// The client's address.
        client: IpAddr,
        /// Which limit.
        limit: ClientLimit,
    },
    /// The chain or the store failed; the order was not stored and may be retried.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

impl IntakeError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_request",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BatchTooLarge { .. } => "batch_too_large",
            Self::WrongChainId { .. } => "wrong_chain_id",
            Self::WrongVerifyingContract { .. } => "wrong_verifying_contract",
            Self::WrongDomain => "wrong_domain",
            Self::BadSignature(_) => "bad_signature",
            Self::UnknownMarket(_) => "unknown_market",
            Self::MarketClosed(_) => "market_closed",
            Self::IntervalClosed { .. } => "interval_closed",
            Self::InvalidField(_) => "invalid_field",
            Self::PriceOutOfBounds { .. } => "price_out_of_bounds",
            Self::CommitmentNotFound { .. } => "commitment_not_found",
            Self::CommitmentWithdrawn { .. } => "commitment_withdrawn",
            Self::InsufficientLock { .. } => "insufficient_lock",
            Self::NonceReused { .. } => "nonce_reused",
            Self::AlreadyOpened { .. } => "already_opened",
            Self::RateLimited(_) => "rate_limited",
            Self::ClientRateLimited { .. } => "client_rate_limited",
            Self::Unavailable(_) => "unavailable",
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::InvalidField(_) | Self::PriceOutOfBounds { .. } => 400,
            Self::WrongChainId { .. } | Self::WrongVerifyingContract { .. } | Self::WrongDomain => {
                400
            }
            Self::BatchTooLarge { .. } => 400,
            Self::BadSignature(_) => 401,
            Self::UnknownMarket(_) | Self::CommitmentNotFound { .. } => 404,
            Self::MarketClosed(_)
            | Self::IntervalClosed { .. }
            | Self::CommitmentWithdrawn { .. } => 409,
            Self::NonceReused { .. } | Self::AlreadyOpened { .. } => 409,
            Self::BodyTooLarge { .. } => 413,
            Self::InsufficientLock { .. } => 422,
            Self::RateLimited(_) | Self::ClientRateLimited { .. } => 429,
            Self::Unavailable(_) => 503,
        }
    }
}

/// Errors of the matcher's background work (indexer, scheduler, hand-off).
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// Chain access failed.
    #[error(transparent)]
    Chain(#[from] sealgrid_chain::ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sealgrid_store::StoreError),
    /// Clearing failed.
    #[error(transparent)]
    Clearing(#[from] sealgrid_clearing::ClearingError),
    /// A shared type rejected a value.
    #[error(transparent)]
    Types(#[from] sealgrid_types::TypesError),
    /// The store and the chain disagree about an interval's sequence.
    #[error("interval {interval} of {market}: {reason}")]
    Inconsistent {
        /// The market.
        market: B256,
        /// The interval.
        interval: u64,
        /// What disagrees.
        reason: String,
    },
    /// Configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

impl MatcherError {
    /// Whether the same step may succeed later (the chain or the store was unavailable); an
    /// inconsistency, bad data or a bad configuration needs an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Chain(e) => e.is_retryable(),
            Self::Store(_) => true,
            Self::Clearing(_) | Self::Types(_) | Self::Inconsistent { .. } | Self::Config(_) => {
                false
            }
        }
    }
}

/// Result of matcher background work.
pub type MatcherResult<T> = Result<T, MatcherError>;
