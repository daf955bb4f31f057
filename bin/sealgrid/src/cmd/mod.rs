//! One module per subcommand, each with its arguments and a `run`.

pub(crate) mod bench;
pub(crate) mod clear;
pub(crate) mod demo;
pub(crate) mod deploy;
pub(crate) mod desk;
pub(crate) mod devnet;
pub(crate) mod gateway;
pub(crate) mod keys;
pub(crate) mod matcher;
pub(crate) mod meter;
pub(crate) mod oracle;
pub(crate) mod order;
pub(crate) mod pki;
pub(crate) mod prover;
pub(crate) mod settle;

/// The sealgrid checkout: `root` if given, else found from the current directory (or
/// `$SEALGRID_ROOT`).
/// Logs (`RUST_LOG`, default `info`) to stderr, so that stdout carries only a command's
/// result.
pub(crate) fn stderr_logs() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
}

pub(crate) fn checkout(root: Option<std::path::PathBuf>) -> eyre::Result<std::path::PathBuf> {
    match root {
        Some(r) => Ok(r),
        None => Ok(sealgrid_deploy::devnet::project_root()?),
    }
}

/// Reads a deployment record (written by `sealgrid deploy`, `sealgrid devnet` and the demo).
pub(crate) fn read_record(path: &std::path::Path) -> eyre::Result<sealgrid_deploy::DeployRecord> {
    use eyre::WrapErr;
    let text =
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .wrap_err_with(|| format!("{} is not a deployment record", path.display()))
}
