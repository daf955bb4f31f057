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
    /// The pilot scenario end to end on a local anvil: 180 C&I sites with 12 MW of PV, 9 MWh of
    /// storage and an aggregator trade K intervals; wallets commit and open EIP-712 orders, the
    /// matcher clears, the prover proves, the submitter settles, claims run.
    Demo(cmd::demo::DemoArgs),
    /// Deploys the contracts and the generated verifiers from a network config and writes the
    /// deployment record. Example: `sealgrid deploy --rpc-url http://127.0.0.1:8545 --config
    /// deploy/config/local.toml` (the key comes from $SEALGRID_DEPLOYER_KEY).
    Deploy(cmd::deploy::DeployArgs),
    /// A local market to develop against: anvil from the project's toolchain, the contracts and
    /// verifiers deployed from deploy/config/local.toml, and the matcher API proving and settling
    /// every interval. Prints the endpoints and funded test accounts; runs until Ctrl-C.
    Devnet(cmd::devnet::DevnetArgs),
    /// The node: the whole market of a deployment (intake, indexer, schedulers, prove and
    /// settle, claims, sponsorship, delivery) from its record and network config alone.
    /// Example: `sealgrid node --deployment .sealgrid/deployments/public-l2.json --config
    /// deploy/config/public-l2.toml --operator-key keystore:operator.json`.
    Node(cmd::matcher::NodeArgs),
    /// The meter gateway: DLMS/COSEM meters read at every interval boundary, readings signed
    /// with the gateway's key into a durable outbox and delivered to the node.
    /// Example: `sealgrid gateway --config gateway.toml` (docs/gateways.md).
    Gateway(cmd::gateway::GatewayArgs),
    /// The deployment's device PKI: a private CA, one-time enrolment tokens, EST enrolment,
    /// server certificates, revocation and CRLs (docs/gateways.md).
    #[command(subcommand)]
    Pki(cmd::pki::PkiCommand),
    /// Meter readings: what a gateway signs (DESIGN 3.7).
    #[command(subcommand)]
    Meter(cmd::meter::MeterCommand),
    /// The operator's bond in the market: show, deposit, withdraw.
    #[command(subcommand)]
    Bond(cmd::desk::BondCommand),
    /// Free balances in the auction's and the delivery settlement's vaults.
    #[command(subcommand)]
    Collateral(cmd::desk::CollateralCommand),
    /// The market's balancing account (the counterparty of every imbalance): show, fund.
    #[command(subcommand)]
    Balancing(cmd::desk::BalancingCommand),
    /// The market paymaster: gas deposit, participants and quotas, registrar.
    #[command(subcommand)]
    Paymaster(cmd::desk::PaymasterCommand),
    /// Timelock proposals (what only governance may do): show, schedule, execute.
    #[command(subcommand)]
    Timelock(cmd::desk::TimelockCommand),
    /// Delivery settlement: reports of settled intervals (DESIGN 3.7).
    #[command(subcommand)]
    Settle(cmd::settle::SettleCommand),
    /// The market's price oracle: ISO/RTO LMP feeds signed and posted as real-time prices.
    #[command(subcommand)]
    Oracle(cmd::oracle::OracleCommand),
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
        Command::Deploy(a) => a.run(),
        Command::Devnet(a) => a.run(),
        Command::Node(a) => a.run(),
        Command::Gateway(a) => a.run(),
        Command::Pki(c) => c.run(),
        Command::Meter(c) => c.run(),
        Command::Bond(c) => c.run(),
        Command::Collateral(c) => c.run(),
        Command::Balancing(c) => c.run(),
        Command::Paymaster(c) => c.run(),
        Command::Timelock(c) => c.run(),
        Command::Settle(c) => c.run(),
        Command::Oracle(c) => c.run(),
        Command::Order(c) => c.run(),
        Command::Clear(a) => a.run(),
        Command::Bench(c) => c.run(),
        Command::Matcher(c) => c.run(),
        Command::Prover(c) => c.run(),
    }
}
