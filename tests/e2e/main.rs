//! End-to-end tests (see tests/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod aa;
mod attacks;
mod bundler;
mod charger;
mod delivery;
mod flows;
mod gateway;
mod intake;
mod restart;
mod scheduler;
mod sim;
mod sponsor;
