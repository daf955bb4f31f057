#![doc = include_str!("../README.md")]

pub mod api;
pub mod bench;
mod clock;
pub mod demo;
mod demo_delivery;
mod demo_sponsored;
mod error;
mod indexer;
mod intake;
mod metrics;
pub mod pilot;
pub mod pipeline;
pub mod prove;
mod scheduler;
mod sink;
pub mod sponsor;

pub use api::{ApiLimits, router};
pub use clock::{BoxFuture, Clock, SimClock, SystemClock};
pub use error::{IntakeError, MatcherError, MatcherResult};
pub use indexer::{Indexer, SyncState};
pub use intake::{Accepted, Intake, IntakeLimits, ReceiptJson, SignedDomain, SubmitOrder};
pub use metrics::Metrics;
pub use pipeline::{Claimer, SettleReport, SettleSink, Settled};
pub use prove::{ClearingProver, ProofRequest, ProofSlot, ProvenBatch, proof_request};
pub use scheduler::Scheduler;
pub use sink::{BatchSink, ClearedBatch, LogSink};
