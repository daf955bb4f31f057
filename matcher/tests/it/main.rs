//! Matcher integration tests against anvil with the real contracts (one binary, STYLE.md).

#![allow(missing_docs, unreachable_pub, clippy::unwrap_used)]

mod harness;
mod intake;
mod scheduler;
