//! The operator's desk (`sealgrid bond|collateral|balancing|paymaster|timelock`): money and
//! permission moves around a running market, against a deployment record. Thin wrappers of
//! [`sealgrid_chain::desk::Desk`].
//!
//! Every command takes `--deployment FILE` and `--rpc-url URL` (or `ETH_RPC_URL`; a local
//! record defaults to `http://127.0.0.1:8545`) and checks that the endpoint is the record's
//! chain. Keys come from key specs (`--key keystore:PATH`, `pkcs11:...`, or `env:VAR` on a
//! local network). Reads print text, or JSON with `--json`.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use clap::Subcommand;
use eyre::{Result, WrapErr, bail, eyre};
use sealgrid_chain::desk::{Action, Desk, Proposal, format_units, parse_units};
use sealgrid_deploy::{DeployRecord, NetworkKind};

/// The RPC endpoint of a local record when none is given.
pub(crate) const LOCAL_RPC: &str = "http://127.0.0.1:8545";

/// The deployment a desk command acts on and the chain endpoint.
#[derive(Debug, clap::Args)]
pub(crate) struct At {
    /// The deployment record (written by `sealgrid deploy`).
    #[arg(long, env = "SEALGRID_DEPLOYMENT")]
    deployment: PathBuf,
    /// JSON-RPC endpoint of the record's chain (default on a local record:
    /// http://127.0.0.1:8545).
    #[arg(long, visible_alias = "rpc", env = "ETH_RPC_URL")]
    rpc_url: Option<String>,
}

impl At {
    /// The deployment record's path.
    pub(crate) fn deployment(&self) -> &Path {
        &self.deployment
    }

    /// The record and the endpoint to reach its chain.
    pub(crate) fn resolve(&self) -> Result<(DeployRecord, String)> {
        let record = crate::cmd::read_record(&self.deployment)?;
        let rpc = rpc_url(self.rpc_url.as_deref(), &record)?;
        Ok((record, rpc))
    }

    /// The record and a desk sending with `key` (a key spec), or read-only without one.
    pub(crate) async fn desk(&self, key: Option<&str>) -> Result<(DeployRecord, Desk)> {
        let (record, rpc) = self.resolve()?;
        let desk = match key {
            Some(spec) => {
                let local = record.kind == NetworkKind::Local;
                let signer = crate::cmd::keys::load(spec, "--key", local)?;
                Desk::connect(&rpc, signer, sealgrid_chain::SenderConfig::default()).await
            }
            None => Desk::read_only(&rpc),
        }
        .wrap_err_with(|| format!("connecting to {rpc}"))?;
        check_chain(&desk, &record, &rpc).await?;
        Ok((record, desk))
    }
}

/// The endpoint: the flag or `ETH_RPC_URL`, else the local default on a local record.
pub(crate) fn rpc_url(given: Option<&str>, record: &DeployRecord) -> Result<String> {
    match given {
        Some(u) => Ok(u.to_owned()),
        None if record.kind == NetworkKind::Local => Ok(LOCAL_RPC.to_owned()),
        None => bail!(
            "the deployment is on {} (chain {}): give its endpoint with --rpc-url or ETH_RPC_URL",
            record.network,
            record.chain_id
        ),
    }
}

async fn check_chain(desk: &Desk, record: &DeployRecord, rpc: &str) -> Result<()> {
    let id = desk
        .chain_id()
        .await
        .wrap_err_with(|| format!("reading the chain id from {rpc}"))?;
    if id != record.chain_id {
        bail!(
            "{rpc} is chain {id}, the deployment record is for chain {} ({})",
            record.chain_id,
            record.network
        );
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().wrap_err("starting the runtime")
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A salt for a new timelock proposal: the given one, or the latest block's hash (a proposal
/// made again later is a new operation; one made from the same file is the same).
async fn salt(desk: &Desk, given: Option<B256>) -> Result<B256> {
    match given {
        Some(s) => Ok(s),
        None => Ok(desk.latest_hash().await?),
    }
}

/// Prints what an admin action did; a proposal goes to `out` too when given.
fn report(action: Action, out: Option<&Path>) -> Result<()> {
    let write = |p: &Proposal| -> Result<()> {
        if let Some(path) = out {
            std::fs::write(path, serde_json::to_string_pretty(p)? + "\n")
                .wrap_err_with(|| format!("writing {}", path.display()))?;
            eprintln!("proposal written to {}", path.display());
        }
        Ok(())
    };
    match action {
        Action::Sent(tx) => {
            println!(
                "sent in tx {} (block {:?})",
                tx.transaction_hash, tx.block_number
            );
        }
        Action::Scheduled(p) => {
            write(&p)?;
            eprintln!(
                "scheduled on timelock {} as operation {}: execute it in {} s with `sealgrid \
                 timelock execute --proposal FILE`",
                p.timelock, p.id, p.delay
            );
            print_json(&p)?;
        }
        Action::Proposed(p) => {
            write(&p)?;
            eprintln!(
                "only timelock {} may do this and the key is not its proposer: a proposer sends \
                 `schedule_calldata` to the timelock (or runs `sealgrid timelock schedule \
                 --proposal FILE`), then an executor sends `execute_calldata` after {} s",
                p.timelock, p.delay
            );
            print_json(&p)?;
        }
    }
    Ok(())
}

/// Parses `--amount` in the token's units.
async fn token_amount(desk: &Desk, token: Address, text: &str) -> Result<(U256, u8, String)> {
    let (decimals, symbol) = desk.token(token).await?;
    let amount = parse_units(text, decimals).map_err(|e| eyre!("--amount: {e}"))?;
    if amount.is_zero() {
        bail!("--amount must be above zero");
    }
    Ok((amount, decimals, symbol))
}

fn u128_of(v: U256, what: &str) -> Result<u128> {
    u128::try_from(v).map_err(|_| eyre!("{what} does not fit 128 bits"))
}

// ---------------------------------------------------------------------------------------------
// bond
// ---------------------------------------------------------------------------------------------

/// `sealgrid bond ...`: the operator's bond in the deployment's market.
#[derive(Debug, Subcommand)]
pub(crate) enum BondCommand {
    /// Shows the bond, its minimum, the slash per proven censorship and the insurance account.
    Show {
        #[command(flatten)]
        at: At,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Adds to the bond from the key's wallet (approving the auction for the amount).
    ///
    /// Example: `sealgrid bond deposit --deployment FILE --amount 500 --key keystore:op.json`.
    Deposit {
        #[command(flatten)]
        at: At,
        /// Amount in token units (e.g. 500 or 12.5), converted with the token's decimals.
        #[arg(long)]
        amount: String,
        /// Key spec of the account paying.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
    /// Withdraws from the bond (the market's operator only; not below the minimum while the
    /// market is open).
    Withdraw {
        #[command(flatten)]
        at: At,
        /// Amount in token units.
        #[arg(long)]
        amount: String,
        /// Where the tokens go (default: the operator).
        #[arg(long)]
        to: Option<Address>,
        /// The operator's key spec.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
}

impl BondCommand {
    pub(crate) fn run(self) -> Result<()> {
        runtime()?.block_on(async move {
            match self {
                Self::Show { at, json } => {
                    let (record, desk) = at.desk(None).await?;
                    let b = desk.bond(record.auction, record.market).await?;
                    if json {
                        return print_json(&serde_json::json!({
                            "market": record.market,
                            "operator": b.operator,
                            "token": b.token,
                            "bond": b.bond.to_string(),
                            "min_bond": b.min_bond.to_string(),
                            "slash_amount": b.slash_amount.to_string(),
                            "insurance": b.insurance.to_string(),
                        }));
                    }
                    let (d, sym) = desk.token(b.token).await?;
                    let f = |v: u128| format!("{} {sym}", format_units(U256::from(v), d));
                    println!(
                        "market {}\n  operator   {}\n  bond       {}\n  minimum    {}\n  slash      {} per proven censorship\n  insurance  {}",
                        record.market,
                        b.operator,
                        f(b.bond),
                        f(b.min_bond),
                        f(b.slash_amount),
                        f(b.insurance)
                    );
                    if b.bond < b.min_bond {
                        println!("  WARNING: the bond is below its minimum");
                    }
                    Ok(())
                }
                Self::Deposit { at, amount, key } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let (amount, d, sym) = token_amount(&desk, record.token, &amount).await?;
                    let bond = desk
                        .deposit_bond(record.auction, record.market, u128_of(amount, "--amount")?)
                        .await?;
                    println!(
                        "bond of market {}: {} {sym} (deposited {})",
                        record.market,
                        format_units(U256::from(bond), d),
                        format_units(amount, d)
                    );
                    Ok(())
                }
                Self::Withdraw {
                    at,
                    amount,
                    to,
                    key,
                } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let (amount, d, sym) = token_amount(&desk, record.token, &amount).await?;
                    let to = to.or(desk.from()).ok_or_else(|| eyre!("--to is needed"))?;
                    let bond = desk
                        .withdraw_bond(record.auction, record.market, to, u128_of(amount, "--amount")?)
                        .await?;
                    println!(
                        "bond of market {}: {} {sym} ({} withdrawn to {to})",
                        record.market,
                        format_units(U256::from(bond), d),
                        format_units(amount, d)
                    );
                    Ok(())
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// collateral and the balancing account
// ---------------------------------------------------------------------------------------------

/// Which vault: the auction's (order locks) or the delivery settlement's (imbalances).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Vault {
    /// The auction: free balances that order locks draw on.
    Auction,
    /// The delivery settlement: collateral for imbalances.
    Delivery,
}

impl Vault {
    fn address(self, record: &DeployRecord) -> Address {
        match self {
            Self::Auction => record.auction,
            Self::Delivery => record.delivery.settlement,
        }
    }
}

/// `sealgrid collateral ...`: free balances in the auction's and the delivery settlement's
/// vaults.
#[derive(Debug, Subcommand)]
pub(crate) enum CollateralCommand {
    /// Shows an account's free balance in both vaults and in its wallet.
    Show {
        #[command(flatten)]
        at: At,
        /// The account.
        #[arg(long)]
        account: Address,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Deposits from the key's wallet as an account's free balance (anyone may fund anyone).
    ///
    /// Example: `sealgrid collateral deposit --deployment FILE --vault delivery --amount 250
    /// --key keystore:site.json`.
    Deposit {
        #[command(flatten)]
        at: At,
        /// The vault.
        #[arg(long, value_enum)]
        vault: Vault,
        /// Amount in token units.
        #[arg(long)]
        amount: String,
        /// The account credited (default: the key's own).
        #[arg(long = "for")]
        account: Option<Address>,
        /// Key spec of the account paying.
        #[arg(long, env = "SEALGRID_KEY_SPEC", default_value = "env:SEALGRID_KEY")]
        key: String,
    },
    /// Withdraws the key's free balance from a vault.
    Withdraw {
        #[command(flatten)]
        at: At,
        /// The vault.
        #[arg(long, value_enum)]
        vault: Vault,
        /// Amount in token units.
        #[arg(long)]
        amount: String,
        /// Where the tokens go (default: the key's own wallet).
        #[arg(long)]
        to: Option<Address>,
        /// Key spec of the account withdrawing.
        #[arg(long, env = "SEALGRID_KEY_SPEC", default_value = "env:SEALGRID_KEY")]
        key: String,
    },
}

impl CollateralCommand {
    pub(crate) fn run(self) -> Result<()> {
        runtime()?.block_on(async move {
            match self {
                Self::Show { at, account, json } => {
                    let (record, desk) = at.desk(None).await?;
                    let auction = desk.vault_balance(record.auction, record.token, account).await?;
                    let delivery = desk
                        .vault_balance(record.delivery.settlement, record.token, account)
                        .await?;
                    let wallet = desk.wallet_balance(record.token, account).await?;
                    if json {
                        return print_json(&serde_json::json!({
                            "account": account,
                            "token": record.token,
                            "auction": auction.to_string(),
                            "delivery": delivery.to_string(),
                            "wallet": wallet.to_string(),
                        }));
                    }
                    let (d, sym) = desk.token(record.token).await?;
                    println!(
                        "account {account}\n  auction vault   {} {sym}\n  delivery vault  {} {sym}\n  wallet          {} {sym}",
                        format_units(auction, d),
                        format_units(delivery, d),
                        format_units(wallet, d)
                    );
                    Ok(())
                }
                Self::Deposit {
                    at,
                    vault,
                    amount,
                    account,
                    key,
                } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let (amount, d, sym) = token_amount(&desk, record.token, &amount).await?;
                    let account = account.or(desk.from()).ok_or_else(|| eyre!("--for is needed"))?;
                    let balance = desk
                        .vault_deposit(vault.address(&record), record.token, account, amount)
                        .await?;
                    println!(
                        "{account} in the {vault:?} vault: {} {sym} (deposited {})",
                        format_units(balance, d),
                        format_units(amount, d)
                    );
                    Ok(())
                }
                Self::Withdraw {
                    at,
                    vault,
                    amount,
                    to,
                    key,
                } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let (amount, d, sym) = token_amount(&desk, record.token, &amount).await?;
                    let to = to.or(desk.from()).ok_or_else(|| eyre!("--to is needed"))?;
                    let balance = desk
                        .vault_withdraw(vault.address(&record), record.token, to, amount)
                        .await?;
                    println!(
                        "withdrew {} {sym} to {to}; left in the {vault:?} vault: {} {sym}",
                        format_units(amount, d),
                        format_units(balance, d)
                    );
                    Ok(())
                }
            }
        })
    }
}

/// `sealgrid balancing ...`: the market's balancing account (the counterparty of every
/// imbalance) in the delivery settlement.
#[derive(Debug, Subcommand)]
pub(crate) enum BalancingCommand {
    /// Shows the balancing account, its free balance and its reserves.
    Show {
        #[command(flatten)]
        at: At,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Funds the balancing account from the key's wallet.
    ///
    /// Example: `sealgrid balancing fund --deployment FILE --amount 100000 --key
    /// keystore:treasury.json`.
    Fund {
        #[command(flatten)]
        at: At,
        /// Amount in token units.
        #[arg(long)]
        amount: String,
        /// Key spec of the account paying.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
}

impl BalancingCommand {
    pub(crate) fn run(self) -> Result<()> {
        runtime()?.block_on(async move {
            match self {
                Self::Show { at, json } => {
                    let (record, desk) = at.desk(None).await?;
                    let b = desk
                        .balancing(record.delivery.settlement, record.market)
                        .await?;
                    if json {
                        return print_json(&serde_json::json!({
                            "market": record.market,
                            "account": b.account,
                            "token": b.token,
                            "balance": b.balance.to_string(),
                            "reserved": b.reserved.to_string(),
                        }));
                    }
                    let (d, sym) = desk.token(b.token).await?;
                    println!(
                        "balancing account of market {}\n  account   {}\n  balance   {} {sym}\n  reserved  {} {sym}",
                        record.market,
                        b.account,
                        format_units(b.balance, d),
                        format_units(b.reserved, d)
                    );
                    Ok(())
                }
                Self::Fund { at, amount, key } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let b = desk
                        .balancing(record.delivery.settlement, record.market)
                        .await?;
                    let (amount, d, sym) = token_amount(&desk, b.token, &amount).await?;
                    let balance = desk
                        .vault_deposit(record.delivery.settlement, b.token, b.account, amount)
                        .await?;
                    println!(
                        "balancing account {}: {} {sym} (funded {})",
                        b.account,
                        format_units(balance, d),
                        format_units(amount, d)
                    );
                    Ok(())
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// paymaster
// ---------------------------------------------------------------------------------------------

/// `sealgrid paymaster ...`: the market paymaster's gas deposit and its participants.
#[derive(Debug, Subcommand)]
pub(crate) enum PaymasterCommand {
    /// Shows the paymaster's deposit, owner, registrar and signer, and an account's quota.
    Show {
        #[command(flatten)]
        at: At,
        /// Also show this participant's quota and usage.
        #[arg(long)]
        account: Option<Address>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Adds to the paymaster's gas deposit at the EntryPoint (anyone may).
    Deposit {
        #[command(flatten)]
        at: At,
        /// Amount in ether (e.g. 0.5).
        #[arg(long)]
        eth: String,
        /// Key spec of the account paying.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
    /// Sets the sponsored operations per period of accounts (0 removes them). The registrar
    /// sends it itself; a timelock proposer schedules it; anyone else gets the proposal.
    Participants {
        #[command(flatten)]
        at: At,
        /// An account (repeat the flag for several).
        #[arg(long = "account", required = true)]
        accounts: Vec<Address>,
        /// Operations per period.
        #[arg(long)]
        quota: u32,
        #[command(flatten)]
        proposal: ProposalArgs,
        /// Key spec of the paymaster's registrar (the operator) or a timelock proposer.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
    /// Makes an account the paymaster's registrar (timelock only: scheduled when the key is a
    /// proposer, else printed as a proposal).
    SetRegistrar {
        #[command(flatten)]
        at: At,
        /// The new registrar.
        #[arg(long)]
        registrar: Address,
        #[command(flatten)]
        proposal: ProposalArgs,
        /// Key spec of a proposer (any key: a non-proposer gets the proposal printed).
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
}

/// How a timelock proposal is made.
#[derive(Debug, clap::Args)]
pub(crate) struct ProposalArgs {
    /// The proposal's salt (default: the latest block hash, so each proposal is new).
    #[arg(long)]
    salt: Option<B256>,
    /// Also write the proposal as JSON to this file (for `sealgrid timelock execute`).
    #[arg(long)]
    proposal_out: Option<PathBuf>,
}

fn paymaster_of(record: &DeployRecord) -> Result<Address> {
    record
        .accounts
        .as_ref()
        .map(|a| a.paymaster)
        .ok_or_else(|| eyre!("the deployment has no paymaster ([accounts] was not configured)"))
}

impl PaymasterCommand {
    pub(crate) fn run(self) -> Result<()> {
        runtime()?.block_on(async move {
            match self {
                Self::Show { at, account, json } => {
                    let (record, desk) = at.desk(None).await?;
                    let p = desk.paymaster(paymaster_of(&record)?).await?;
                    let usage = match account {
                        Some(a) => Some((a, desk.usage(p.address, a).await?)),
                        None => None,
                    };
                    if json {
                        let mut v = serde_json::json!({
                            "paymaster": p.address,
                            "deposit_wei": p.deposit_wei.to_string(),
                            "owner": p.owner,
                            "registrar": p.registrar,
                            "signer": p.signer,
                            "period_s": p.period_s,
                        });
                        if let Some((a, u)) = usage {
                            v["participant"] = serde_json::json!({
                                "account": a, "quota": u.quota, "period": u.period, "used": u.used,
                            });
                        }
                        return print_json(&v);
                    }
                    println!(
                        "paymaster {}\n  deposit    {} ETH\n  owner      {}\n  registrar  {}\n  signer     {}\n  period     {} s",
                        p.address,
                        format_units(p.deposit_wei, 18),
                        p.owner,
                        p.registrar,
                        p.signer,
                        p.period_s
                    );
                    if let Some((a, u)) = usage {
                        println!(
                            "  {a}: quota {} per period, {} used in period {}",
                            u.quota, u.used, u.period
                        );
                    }
                    Ok(())
                }
                Self::Deposit { at, eth, key } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let wei = parse_units(&eth, 18).map_err(|e| eyre!("--eth: {e}"))?;
                    if wei.is_zero() {
                        bail!("--eth must be above zero");
                    }
                    let deposit = desk.deposit_paymaster(paymaster_of(&record)?, wei).await?;
                    println!(
                        "paymaster deposit: {} ETH (added {})",
                        format_units(deposit, 18),
                        format_units(wei, 18)
                    );
                    Ok(())
                }
                Self::Participants {
                    at,
                    accounts,
                    quota,
                    proposal,
                    key,
                } => {
                    if accounts.contains(&Address::ZERO) {
                        bail!("--account: the zero address cannot be a participant");
                    }
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let salt = salt(&desk, proposal.salt).await?;
                    let action = desk
                        .set_participants(paymaster_of(&record)?, accounts, quota, salt)
                        .await?;
                    report(action, proposal.proposal_out.as_deref())
                }
                Self::SetRegistrar {
                    at,
                    registrar,
                    proposal,
                    key,
                } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let salt = salt(&desk, proposal.salt).await?;
                    let action = desk
                        .set_registrar(paymaster_of(&record)?, registrar, salt)
                        .await?;
                    report(action, proposal.proposal_out.as_deref())
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// timelock
// ---------------------------------------------------------------------------------------------

/// `sealgrid timelock ...`: proposals the other desk commands print, scheduled and executed.
#[derive(Debug, Subcommand)]
pub(crate) enum TimelockCommand {
    /// Shows an operation's state (unset, waiting, ready, done) and when it is ready.
    Show {
        #[command(flatten)]
        at: At,
        /// The proposal file (or give --id).
        #[arg(long, conflicts_with = "id")]
        proposal: Option<PathBuf>,
        /// The operation id.
        #[arg(long)]
        id: Option<B256>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Schedules a proposal (the key must be a proposer of the timelock).
    Schedule {
        #[command(flatten)]
        at: At,
        /// The proposal file (JSON, as the desk commands print it).
        #[arg(long)]
        proposal: PathBuf,
        /// Key spec of a proposer.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
    /// Executes a scheduled proposal whose delay is over (the key must be an executor).
    Execute {
        #[command(flatten)]
        at: At,
        /// The proposal file.
        #[arg(long)]
        proposal: PathBuf,
        /// Key spec of an executor.
        #[arg(
            long,
            env = "SEALGRID_OPERATOR_KEY_SPEC",
            default_value = "env:SEALGRID_OPERATOR_KEY"
        )]
        key: String,
    },
}

/// Reads a proposal file and checks it is for the record's timelock and self-consistent.
fn read_proposal(path: &Path, record: &DeployRecord) -> Result<Proposal> {
    let text =
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let p: Proposal = serde_json::from_str(&text)
        .wrap_err_with(|| format!("{} is not a timelock proposal", path.display()))?;
    let again = Proposal::new(
        p.what.clone(),
        p.timelock,
        p.target,
        p.value,
        p.calldata.clone(),
        p.salt,
        p.delay,
    );
    if p.predecessor != B256::ZERO || again != p {
        bail!(
            "{}: the proposal's id or calldata do not match its fields (edited?)",
            path.display()
        );
    }
    if p.timelock != record.timelock {
        bail!(
            "{}: the proposal is for timelock {}, the deployment's is {}",
            path.display(),
            p.timelock,
            record.timelock
        );
    }
    Ok(p)
}

impl TimelockCommand {
    pub(crate) fn run(self) -> Result<()> {
        runtime()?.block_on(async move {
            match self {
                Self::Show {
                    at,
                    proposal,
                    id,
                    json,
                } => {
                    let (record, desk) = at.desk(None).await?;
                    let id = match (proposal, id) {
                        (Some(path), _) => read_proposal(&path, &record)?.id,
                        (None, Some(id)) => id,
                        (None, None) => bail!("give --proposal FILE or --id ID"),
                    };
                    let op = desk.operation(record.timelock, id).await?;
                    if json {
                        return print_json(&op);
                    }
                    println!(
                        "operation {id} on timelock {}: {:?}{}",
                        record.timelock,
                        op.state,
                        if op.ready_at > 1 {
                            format!(" (ready from unix time {})", op.ready_at)
                        } else {
                            String::new()
                        }
                    );
                    Ok(())
                }
                Self::Schedule { at, proposal, key } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let p = read_proposal(&proposal, &record)?;
                    let tx = desk.schedule(&p).await?;
                    println!(
                        "scheduled operation {} ({}) in tx {}: executable in {} s",
                        p.id, p.what, tx.transaction_hash, p.delay
                    );
                    Ok(())
                }
                Self::Execute { at, proposal, key } => {
                    let (record, desk) = at.desk(Some(&key)).await?;
                    let p = read_proposal(&proposal, &record)?;
                    let tx = desk.execute(&p).await?;
                    println!(
                        "executed operation {} ({}) in tx {}",
                        p.id, p.what, tx.transaction_hash
                    );
                    Ok(())
                }
            }
        })
    }
}
