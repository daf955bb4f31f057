//! `sealgrid settle ...`: delivery settlement (DESIGN 3.7) as finance reads it.

use std::path::PathBuf;

use alloy_primitives::{Address, B256};
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail};
use sealgrid_chain::delivery::{Delivery, SettlementReport};
use sealgrid_deploy::{DeployRecord, market_id};

#[derive(Debug, Subcommand)]
pub(crate) enum SettleCommand {
    /// Prints the delivery settlement of one market interval: per account the contracted and
    /// metered energy, the imbalance, the real-time price, the amount charged or paid, whether
    /// it was settled on an estimate, and every resettlement variance since.
    ///
    /// Example: `sealgrid settle report --deployment .sealgrid/deployments/demo.json
    /// --interval 5984463` (add `--json` for machines).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// JSON-RPC endpoint of the chain (default on a local record: http://127.0.0.1:8545).
    #[arg(long = "rpc-url", visible_alias = "rpc", env = "ETH_RPC_URL")]
    rpc: Option<String>,
    /// A deployment record (written by `sealgrid deploy` and `sealgrid demo`): the settlement
    /// contract and the market come from it, once the chain is checked to match it (every
    /// verifier stage's code hash, the adapter's registered verifiers).
    #[arg(long, required_unless_present = "settlement")]
    deployment: Option<PathBuf>,
    /// The delivery settlement contract (instead of --deployment).
    #[arg(long, conflicts_with = "deployment")]
    settlement: Option<Address>,
    /// The market: its id (0x..., 32 bytes) or its name (e.g. demo/feeder-7). Default: the
    /// deployment's market.
    #[arg(long)]
    market: Option<String>,
    /// The delivery interval index (unix start / interval length).
    #[arg(long)]
    interval: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl SettleCommand {
    pub(crate) fn run(self) -> Result<()> {
        match self {
            Self::Report(a) => a.run(),
        }
    }
}

fn parse_market(s: &str) -> Result<B256> {
    if s.starts_with("0x") {
        return s
            .parse::<B256>()
            .wrap_err_with(|| format!("--market {s:?} is not a 32-byte id"));
    }
    if s.is_empty() {
        bail!("--market is empty");
    }
    Ok(market_id(s))
}

impl ReportArgs {
    fn run(self) -> Result<()> {
        let record: Option<DeployRecord> = self
            .deployment
            .as_deref()
            .map(crate::cmd::read_record)
            .transpose()?;
        let settlement = match (&record, self.settlement) {
            (_, Some(a)) => a,
            (Some(r), None) => r.delivery.settlement,
            (None, None) => bail!("give --deployment or --settlement"),
        };
        let market = match (&self.market, &record) {
            (Some(m), _) => parse_market(m)?,
            (None, Some(r)) => r.market,
            (None, None) => bail!("--market is required with --settlement"),
        };
        let rpc = match (&record, &self.rpc) {
            (Some(r), given) => crate::cmd::desk::rpc_url(given.as_deref(), r)?,
            (None, Some(u)) => u.clone(),
            (None, None) => bail!("--rpc-url (or ETH_RPC_URL) is required with --settlement"),
        };
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        if let (Some(r), Some(p)) = (&record, &self.deployment) {
            // The record must describe this chain's contracts before anything is read through it.
            rt.block_on(sealgrid_deploy::verify_record_at(&rpc, r))
                .wrap_err_with(|| format!("{} does not match the chain", p.display()))?;
        }
        let report = rt.block_on(async {
            let d = Delivery::reader(&rpc, settlement).await?;
            d.report(market, self.interval).await
        })?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", table(&report));
        }
        Ok(())
    }
}

fn kwh(wh: i128) -> String {
    format!("{:.3}", wh as f64 / 1000.0)
}

/// Milli base units as base units with three decimals, exactly.
fn units(milli: i128) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let m = milli.unsigned_abs();
    format!("{sign}{}.{:03}", m / 1000, m % 1000)
}

fn table(r: &SettlementReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "market {} interval {}: real-time price {}",
        r.market,
        r.interval,
        r.price.map_or_else(
            || "not posted".to_owned(),
            |(p, rev)| format!("{p} per kWh (revision {rev})")
        )
    );
    if r.accounts.is_empty() {
        let _ = writeln!(s, "no account is settled for this interval yet");
        return s;
    }
    let _ = writeln!(
        s,
        "{:<42}  {:>14}  {:>14}  {:>14}  {:>10}  {:>20}  {:>5}  {:>18}",
        "account",
        "contracted kWh",
        "metered kWh",
        "imbalance kWh",
        "price/kWh",
        "amount (base units)",
        "flags",
        "variance"
    );
    for a in &r.accounts {
        let flags = format!(
            "{}{}",
            if a.estimate { "E" } else { "" },
            if a.not_actual { "Q" } else { "" }
        );
        let _ = writeln!(
            s,
            "{:<42}  {:>14}  {:>14}  {:>14}  {:>10}  {:>20}  {:>5}  {:>18}",
            a.account.to_checksum(None),
            kwh(a.contracted_wh),
            kwh(a.metered_wh),
            kwh(a.imbalance_wh),
            a.price,
            units(a.amount_milli),
            if flags.is_empty() { "-".into() } else { flags },
            if a.resettlements.is_empty() {
                "-".to_owned()
            } else {
                format!("{} ({}x)", units(a.variance_milli()), a.resettlements.len())
            }
        );
    }
    let _ = writeln!(
        s,
        "{} accounts; net paid by accounts {} base units; {} on an estimate; resettlement variance {} base units",
        r.accounts.len(),
        units(r.net_amount_milli()),
        r.accounts.iter().filter(|a| a.estimate).count(),
        units(r.variance_milli())
    );
    let _ = writeln!(
        s,
        "amount > 0: the account paid the balancing account; flags: E settled on an estimate (deemed delivery), Q estimated or substituted readings"
    );
    s
}
