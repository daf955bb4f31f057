//! One module per subcommand, each with its arguments and a `run`.

pub(crate) mod bench;
pub(crate) mod clear;
pub(crate) mod demo;
pub(crate) mod matcher;
pub(crate) mod order;
pub(crate) mod prover;
