use std::path::PathBuf;

use clap::{Args, Subcommand};
use eyre::{Result, WrapErr};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Clearing at growing N against sorting N (price, index) pairs in the same run; target:
    /// clearing 10^6 orders within 3x that sort.
    ///
    /// Example: `sealgrid bench clearing --sizes 10000,100000,1000000`.
    Clearing(ClearingArgs),
    /// Signed orders over loopback HTTP into the store against the raw signature-recovery rate
    /// of one core; target: at least half of it. Starts its own anvil and deploys the demo
    /// contracts, so run it inside the checkout after `scripts/setup.sh`.
    ///
    /// Example: `sealgrid bench intake --orders 20000 --batch 500`.
    Intake(IntakeArgs),
    /// Proving a cleared batch of N commitments with the capacity that holds it: parameters,
    /// keys, proof, native check, and the generated verifier's gas in revm. Targets on a 2-core
    /// machine: 1,024 orders in <= 60 s, 4,096 in <= 240 s, verification <= 350k gas (missed by
    /// design: about 600k, prover/README.md).
    ///
    /// Example: `sealgrid bench prove --orders 64,256`.
    Prove(ProveArgs),
    /// Meter-to-cash on the node: signed readings over HTTP into the store, on-chain, settled
    /// by the node's loop at each reading deadline, and a late reading resettled. Targets on a
    /// 2-core machine: 2,000 readings/s of intake, every account settled within 60 s of the
    /// deadline, the late reading resettled within 60 s of its arrival.
    ///
    /// Example: `sealgrid bench delivery --accounts 1000 --intervals 3`.
    Delivery(DeliveryArgs),
    /// The gateway's DLMS path and outbox: simulated meters (tests/peers/dlms_meter.py, the
    /// Gurux stack) read once each in registers mode, then every meter's whole profile read and
    /// signed into the outbox while the node is down (an outage of `--hours`), and drained to
    /// the node once it is up. Target on a 2-core machine: 1,000 meter reads per second.
    ///
    /// Example: `sealgrid bench gateway --meters 1000 --hours 12`.
    Gateway(GatewayArgs),
    /// The gateway's charger path: OCMF records signed beforehand for `--stations` stations
    /// (`--records` each, one charging session), verified against the stations' keys on one
    /// thread and on every core, then taken through the CSMS's whole sample path into the
    /// outbox. Target on a 2-core machine: 500 OCMF verifications per second.
    ///
    /// Example: `sealgrid bench chargers --stations 500 --records 20`.
    Chargers(ChargersArgs),
    /// Device certificates through the deployment PKI: tokens issued, device keys and CSRs
    /// made, every device enrolled by EST over TLS on loopback, a tenth revoked and the CRL
    /// signed.
    ///
    /// Example: `sealgrid bench pki --devices 10000`.
    Pki(PkiArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PkiArgs {
    /// Devices to enrol.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// Enrolments in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[derive(Debug, Args)]
pub(crate) struct ChargersArgs {
    /// Charging stations.
    #[arg(long, default_value_t = 500)]
    stations: usize,
    /// OCMF records per station (a begin, aligned values, an end).
    #[arg(long, default_value_t = 20)]
    records: usize,
}

#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    /// Simulated meters.
    #[arg(long, default_value_t = 1_000)]
    meters: usize,
    /// Hours of 5-minute profile each meter holds when the node comes back.
    #[arg(long, default_value_t = 12)]
    hours: u64,
    /// Meters read at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DeliveryArgs {
    /// Accounts (one meter each).
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Intervals, settled one after the other.
    #[arg(long, default_value_t = 3)]
    intervals: usize,
    /// Readings per request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Store URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    store: Option<String>,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ProveArgs {
    /// Book sizes (commitments per batch).
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024,4096")]
    orders: Vec<usize>,
    /// A ceremony parameter file (default: the insecure devnet setup, cached).
    #[arg(long)]
    params: Option<PathBuf>,
    /// Seed of the random books.
    #[arg(long, default_value_t = 0x5ea1_6d)]
    seed: u64,
    /// The sealgrid checkout, for its solc (default: found from the current directory).
    #[arg(long)]
    root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ClearingArgs {
    /// Book sizes.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Seed of the random books.
    #[arg(long, default_value_t = 0x5ea1_6d)]
    seed: u64,
}

#[derive(Debug, Args)]
pub(crate) struct IntakeArgs {
    /// Orders to submit.
    #[arg(long, default_value_t = 20_000)]
    orders: usize,
    /// Orders per batch request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Store URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    store: Option<String>,
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

impl BenchCommand {
    pub(crate) fn run(self) -> Result<()> {
        let lines = match self {
            Self::Clearing(a) => {
                sealgrid_clearing::bench::run_clearing_bench(&a.sizes, a.seed, |m| {
                    eprintln!("bench: {m}")
                })
            }
            Self::Prove(a) => {
                let root = crate::cmd::checkout(a.root)?;
                let source = crate::cmd::prover::params_source(a.params);
                sealgrid_prover::bench::run_prove_bench(
                    &a.orders,
                    &source,
                    &root.join("tools/solc/solc"),
                    a.seed,
                    |m| eprintln!("bench: {m}"),
                )?
            }
            Self::Intake(a) => {
                let opts = sealgrid_devkit::bench::IntakeBenchOptions {
                    root: crate::cmd::checkout(a.root)?,
                    orders: a.orders,
                    batch: a.batch,
                    clients: a.clients,
                    store: a.store,
                };
                let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
                rt.block_on(sealgrid_devkit::bench::run_intake_bench(opts, |m| {
                    eprintln!("bench: {m}")
                }))?
            }
            Self::Delivery(a) => {
                let opts = sealgrid_devkit::bench_delivery::DeliveryBenchOptions {
                    root: crate::cmd::checkout(a.root)?,
                    accounts: a.accounts,
                    intervals: a.intervals,
                    batch: a.batch,
                    clients: a.clients,
                    store: a.store,
                };
                let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
                rt.block_on(sealgrid_devkit::bench_delivery::run_delivery_bench(
                    opts,
                    |m| eprintln!("bench: {m}"),
                ))?
            }
            Self::Gateway(a) => {
                let opts = sealgrid_devkit::bench_gateway::GatewayBenchOptions {
                    root: crate::cmd::checkout(a.root)?,
                    meters: a.meters,
                    hours: a.hours,
                    concurrency: a.concurrency,
                };
                let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
                rt.block_on(sealgrid_devkit::bench_gateway::run_gateway_bench(
                    opts,
                    |m| eprintln!("bench: {m}"),
                ))?
            }
            Self::Pki(a) => {
                let opts = sealgrid_devkit::bench_pki::PkiBenchOptions {
                    devices: a.devices,
                    concurrency: a.concurrency,
                };
                let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
                rt.block_on(sealgrid_devkit::bench_pki::run_pki_bench(opts, |m| {
                    eprintln!("bench: {m}")
                }))?
            }
            Self::Chargers(a) => {
                let opts = sealgrid_devkit::bench_chargers::ChargerBenchOptions {
                    stations: a.stations,
                    records: a.records,
                };
                let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
                rt.block_on(sealgrid_devkit::bench_chargers::run_charger_bench(
                    opts,
                    |m| eprintln!("bench: {m}"),
                ))?
            }
        };
        for l in lines {
            println!("{l}");
        }
        Ok(())
    }
}
