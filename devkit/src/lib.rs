#![doc = include_str!("../README.md")]

pub mod bench;
pub mod bench_chargers;
pub mod bench_delivery;
pub mod bench_gateway;
pub mod bench_pki;
pub mod demo;
mod demo_delivery;
pub mod demo_feeder;
mod demo_sponsored;
pub mod harness;
mod node_api;
pub mod peers;
pub mod pilot;

/// Why the demo, a benchmark or a harness step failed.
#[derive(Debug, thiserror::Error)]
pub enum DevkitError {
    /// Chain access failed.
    #[error(transparent)]
    Chain(#[from] sealgrid_chain::ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sealgrid_store::StoreError),
    /// The matcher failed.
    #[error(transparent)]
    Matcher(#[from] sealgrid_matcher::MatcherError),
    /// The node failed to start (boxed: it is the largest cause by far).
    #[error(transparent)]
    Node(Box<sealgrid_node::OperatorError>),
    /// The settlement service failed.
    #[error(transparent)]
    Settlement(#[from] sealgrid_settlement::SettlementError),
    /// A shared type refused a value.
    #[error(transparent)]
    Types(#[from] sealgrid_types::TypesError),
    /// The sponsorship service failed.
    #[error(transparent)]
    Sponsor(#[from] sealgrid_sponsor::SponsorError),
    /// A step of the scenario did not go as it must.
    #[error("{0}")]
    Demo(String),
}

/// Result of the devkit.
pub type DevkitResult<T> = Result<T, DevkitError>;

impl From<sealgrid_node::OperatorError> for DevkitError {
    fn from(e: sealgrid_node::OperatorError) -> Self {
        Self::Node(Box::new(e))
    }
}
