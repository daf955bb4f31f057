#![doc = include_str!("../README.md")]

mod claimer;
mod error;
mod request;
mod sink;

pub use claimer::Claimer;
pub use error::{SettlementError, SettlementResult};
pub use request::proof_request;
pub use sink::{SettleReport, SettleSink, Settled};
