#![doc = include_str!("../README.md")]

pub mod api;
mod clock;
mod error;
mod indexer;
mod intake;
pub mod metrics;
mod scheduler;
mod sink;

pub use crate::metrics::{Closing, Metrics};
pub use api::{ApiLimits, router};
pub use clock::{Clock, SimClock, SystemClock};
pub use error::{ClientLimit, IntakeError, MatcherError, MatcherResult};
pub use indexer::{Indexer, SyncState};
pub use intake::{Accepted, Intake, IntakeLimits, ReceiptJson, SignedDomain, SubmitOrder};
pub use scheduler::Scheduler;
pub use sink::LogSink;
