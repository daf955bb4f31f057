//! `sealgrid`: the one binary of the project. It parses arguments and calls library crates.

mod cmd;

use clap::{Parser, Subcommand};
use eyre::Result;

/// sealgrid: a sealed-bid peer-to-peer energy market on an EVM chain.
#[derive(Debug, Parser)]
#[command(name = "sealgrid", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One interval end to end on a local anvil: real contracts, wallets' EIP-712 orders opened
    /// to the matcher over HTTP, clearing at the gate, settle and claims on-chain.
    Demo(cmd::demo::DemoArgs),
    /// Orders: commitments and EIP-712 signatures.
    #[command(subcommand)]
    Order(cmd::order::OrderCommand),
    /// Clears a book with the market's rule (DESIGN §3.5): a what-if tool for operators.
    Clear(cmd::clear::ClearArgs),
    /// Benchmarks; each prints final `RESULT name key=value ...` lines.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// The batch matcher: intake API, chain indexer, gate-closure scheduler.
    #[command(subcommand)]
    Matcher(cmd::matcher::MatcherCommand),
    /// The clearing prover: KZG parameters and the generated on-chain verifiers.
    #[command(subcommand)]
    Prover(cmd::prover::ProverCommand),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Demo(a) => a.run(),
        Command::Order(c) => c.run(),
        Command::Clear(a) => a.run(),
        Command::Bench(c) => c.run(),
        Command::Matcher(c) => c.run(),
        Command::Prover(c) => c.run(),
    }
}
