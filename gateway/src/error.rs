//! The one error type of the crate.

/// Result of this crate's operations.
pub type GatewayResult<T> = Result<T, GatewayError>;

/// Why the gateway could not start or go on. Device data that is refused is not an error of
/// the gateway: it is recorded as a device refusal and the gateway goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The config file is missing, unreadable or invalid.
    #[error("config: {0}")]
    Config(String),
    /// The outbox database failed.
    #[error("outbox: {0}")]
    Outbox(#[from] sqlx::Error),
    /// The outbox's schema could not be applied.
    #[error("outbox schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The gateway's key could not be loaded or used.
    #[error("gateway key: {0}")]
    Key(#[from] sealgrid_keys::KeyError),
    /// Signing a reading failed.
    #[error("signing: {0}")]
    Sign(String),
}
