use std::path::PathBuf;

use clap::Args;
use eyre::{Result, WrapErr};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The sealgrid checkout (default: found from the current directory, or $SEALGRID_ROOT).
    #[arg(long)]
    root: Option<PathBuf>,
}

impl DemoArgs {
    pub(crate) fn run(self) -> Result<()> {
        let root = crate::cmd::checkout(self.root)?;
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        // The demo market's verifiers are generated from the devnet parameters.
        let prover = std::sync::Arc::new(crate::cmd::prover::HaloProver::new(
            crate::cmd::prover::params_source(None),
            sealgrid_prover::evm::CHECKED_IN,
        ));
        rt.block_on(sealgrid_matcher::demo::run_demo(root, prover, |line| {
            println!("demo: {line}")
        }))?;
        Ok(())
    }
}
