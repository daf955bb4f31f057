//! `sealgrid prover ...`: KZG parameters and verifier export.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail};
use sealgrid_prover::params::{
    INSECURE_WARNING, ParamsSource, default_cache_dir, insecure_setup, save,
};
use sealgrid_prover::{CAPACITIES, capacity, evm};

#[derive(Debug, Subcommand)]
pub(crate) enum ProverCommand {
    /// Makes INSECURE local KZG parameters for a devnet (from a fixed public seed) and writes
    /// them in the format production ceremony files use.
    ///
    /// Example: `sealgrid prover setup --capacity 16 --out kzg_16.srs`.
    Setup(SetupArgs),
    /// Regenerates the Solidity verifier of a capacity from its verifying key.
    ///
    /// Example: `sealgrid prover export-verifier --capacity 16` (devnet parameters, written to
    /// contracts/src/verifiers/), or `--capacity 1024 --params kzg_bn254_22.srs --out V.sol`.
    ExportVerifier(ExportArgs),
    /// Lists the supported capacities and their circuit sizes.
    Capacities,
}

#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    /// The capacity whose circuit the parameters are for (sets k).
    #[arg(long, conflicts_with = "k")]
    capacity: Option<usize>,
    /// log2 of the circuit rows, directly.
    #[arg(long)]
    k: Option<u32>,
    /// Output file (default: the cache, `$SEALGRID_PROVER_CACHE` or ~/.cache/sealgrid/prover).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The capacity.
    #[arg(long)]
    capacity: usize,
    /// A ceremony parameter file (default: the insecure devnet parameters).
    #[arg(long)]
    params: Option<PathBuf>,
    /// Output file (default: contracts/src/verifiers/<name>.sol in the checkout).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The ceremony file if given, else the cached insecure devnet setup (with the warning).
pub(crate) fn params_source(file: Option<PathBuf>) -> ParamsSource {
    match file {
        Some(f) => ParamsSource::File(f),
        None => {
            eprintln!("WARNING: {INSECURE_WARNING}");
            ParamsSource::Insecure(default_cache_dir())
        }
    }
}

impl ProverCommand {
    pub(crate) fn run(self) -> Result<()> {
        match self {
            Self::Setup(a) => {
                let k = match (a.capacity, a.k) {
                    (Some(c), _) => capacity(c)?.k,
                    (None, Some(k)) if (1..=26).contains(&k) => k,
                    (None, Some(k)) => bail!("k = {k} is out of range (1..=26)"),
                    (None, None) => bail!("give --capacity N or --k K"),
                };
                eprintln!("WARNING: {INSECURE_WARNING}");
                let out = a
                    .out
                    .unwrap_or_else(|| default_cache_dir().join(format!("kzg_insecure_{k}.srs")));
                eprintln!("setup: k = {k} ({} points) ...", 1u64 << k);
                let started = std::time::Instant::now();
                let params = insecure_setup(k);
                save(&params, &out).wrap_err("writing the parameters")?;
                eprintln!("setup: done in {:.1} s", started.elapsed().as_secs_f64());
                println!("{}", out.display());
                Ok(())
            }
            Self::ExportVerifier(a) => {
                let out = match a.out {
                    Some(o) => o,
                    None => sealgrid_deploy::devnet::project_root()?
                        .join(evm::verifier_path(a.capacity)),
                };
                let source = params_source(a.params);
                eprintln!("export-verifier: capacity {} (keygen) ...", a.capacity);
                let text = evm::export_verifier(&source, a.capacity)?;
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)
                        .wrap_err_with(|| format!("creating {}", dir.display()))?;
                }
                std::fs::write(&out, text)
                    .wrap_err_with(|| format!("writing {}", out.display()))?;
                println!("{}", out.display());
                Ok(())
            }
            Self::Capacities => {
                println!("capacity  k   instances");
                for c in CAPACITIES {
                    println!(
                        "{:>8}  {:>2}  {:>9}",
                        c.slots,
                        c.k,
                        sealgrid_prover::num_instances(c.slots)
                    );
                }
                Ok(())
            }
        }
    }
}
