//! The operator's desk: the money and permission moves an operator makes by hand around a
//! running market, as library calls (the `sealgrid bond|collateral|balancing|paymaster|timelock`
//! commands are thin wrappers).
//!
//! - the operator's bond in the auction ([`Desk::bond`], [`Desk::deposit_bond`],
//!   [`Desk::withdraw_bond`]);
//! - collateral in either vault, the auction's (order locks) or the delivery settlement's
//!   (imbalances), including the market's balancing account ([`Desk::vault_balance`],
//!   [`Desk::vault_deposit`], [`Desk::vault_withdraw`], [`Desk::balancing`]);
//! - the paymaster's gas deposit at the EntryPoint and its participants and quotas
//!   ([`Desk::paymaster`], [`Desk::deposit_paymaster`], [`Desk::usage`]);
//! - actions only the timelock may take, as a [`Proposal`] (target, value, calldata,
//!   predecessor, salt, delay and the operation id) that a proposer schedules and an executor
//!   executes after the delay ([`Desk::propose`], [`Desk::schedule`], [`Desk::execute`],
//!   [`Desk::operation`]).
//!
//! Every sending call estimates first: a call that would revert is refused with the contract's
//! decoded error and nothing is sent. Deposits approve exactly the missing allowance first.

use std::sync::Arc;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolCall,
};
use serde::{Deserialize, Serialize};

use crate::{
    ChainError, ChainResult,
    bindings::{SealgridAuction, paymaster::MarketPaymaster, settlement::DeliverySettlement},
    sender::{Landed, Sender, SenderConfig, decode_revert},
};

/// The contracts' interfaces the desk needs beyond the committed ABIs.
pub mod abi {
    #![allow(missing_docs, clippy::too_many_arguments)]

    alloy::sol! {
        /// OpenZeppelin 5 `TimelockController` (the admin of every governed contract).
        #[sol(rpc)]
        #[derive(Debug)]
        interface ITimelock {
            error TimelockInvalidOperationLength(uint256 targets, uint256 payloads, uint256 values);
            error TimelockInsufficientDelay(uint256 delay, uint256 minDelay);
            error TimelockUnexpectedOperationState(bytes32 operationId, bytes32 expectedStates);
            error TimelockUnexecutedPredecessor(bytes32 predecessorId);
            error TimelockUnauthorizedCaller(address caller);
            error AccessControlUnauthorizedAccount(address account, bytes32 neededRole);
            error FailedCall();
            function PROPOSER_ROLE() external view returns (bytes32);
            function EXECUTOR_ROLE() external view returns (bytes32);
            function hasRole(bytes32 role, address account) external view returns (bool);
            function getMinDelay() external view returns (uint256);
            function getOperationState(bytes32 id) external view returns (uint8);
            function getTimestamp(bytes32 id) external view returns (uint256);
            function hashOperation(address target, uint256 value, bytes calldata data, bytes32 predecessor, bytes32 salt) external pure returns (bytes32);
            function schedule(address target, uint256 value, bytes calldata data, bytes32 predecessor, bytes32 salt, uint256 delay) external;
            function execute(address target, uint256 value, bytes calldata payload, bytes32 predecessor, bytes32 salt) external payable;
        }

        /// The ERC-20 reads and approvals of a deposit.
        #[sol(rpc)]
        #[derive(Debug)]
        interface IDeskToken {
            error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
            error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
            function balanceOf(address account) external view returns (uint256);
            function allowance(address owner, address spender) external view returns (uint256);
            function approve(address spender, uint256 amount) external returns (bool);
            function decimals() external view returns (uint8);
            function symbol() external view returns (string);
        }

        /// The collateral vault both the auction and the delivery settlement are.
        #[sol(rpc)]
        #[derive(Debug)]
        interface IVault {
            function deposit(address token, address account, uint256 amount) external;
            function withdraw(address token, address to, uint256 amount) external;
            function balanceOf(address token, address account) external view returns (uint256);
        }
    }
}

use abi::{IDeskToken, ITimelock, IVault};

/// Decodes a revert of any contract the desk calls.
fn desk_errors(data: &[u8]) -> Option<String> {
    decode_revert::<SealgridAuction::SealgridAuctionErrors>(data)
        .or_else(|| decode_revert::<DeliverySettlement::DeliverySettlementErrors>(data))
        .or_else(|| decode_revert::<MarketPaymaster::MarketPaymasterErrors>(data))
        .or_else(|| decode_revert::<ITimelock::ITimelockErrors>(data))
        .or_else(|| decode_revert::<IDeskToken::IDeskTokenErrors>(data))
}

/// The operator's bond in a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bond {
    /// The market's operator (the only account that may withdraw).
    pub operator: Address,
    /// The payment token.
    pub token: Address,
    /// The bond (base units).
    pub bond: u128,
    /// The minimum the bond may not go below while the market is open.
    pub min_bond: u128,
    /// What one proven censorship slashes.
    pub slash_amount: u128,
    /// The market's insurance account (slashed bond and unopened fees).
    pub insurance: u128,
}

/// A market's balancing account in the delivery settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balancing {
    /// The balancing account (the counterparty of every imbalance).
    pub account: Address,
    /// The payment token.
    pub token: Address,
    /// Its free balance in the settlement's vault.
    pub balance: U256,
    /// Collateral reserved for its positions settled on estimates.
    pub reserved: U256,
}

/// The paymaster's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paymaster {
    /// The paymaster.
    pub address: Address,
    /// Its gas deposit at the EntryPoint (wei).
    pub deposit_wei: U256,
    /// Its owner (the timelock).
    pub owner: Address,
    /// The account that may set participants besides the owner.
    pub registrar: Address,
    /// The sponsorship service's key.
    pub signer: Address,
    /// Seconds per quota period.
    pub period_s: u64,
}

/// A participant's sponsorship quota and usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Sponsored operations per period (0: not a participant).
    pub quota: u32,
    /// The period of the last sponsored operation.
    pub period: u64,
    /// Operations sponsored in that period.
    pub used: u32,
}

/// One call the timelock makes, with what schedules and executes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// What it does, for people.
    pub what: String,
    /// The timelock.
    pub timelock: Address,
    /// The contract the timelock calls.
    pub target: Address,
    /// Wei the call sends.
    pub value: U256,
    /// The call's calldata.
    pub calldata: Bytes,
    /// The operation that must be done first (zero: none).
    pub predecessor: B256,
    /// Tells apart otherwise equal operations.
    pub salt: B256,
    /// Seconds between scheduling and execution (at least the timelock's minimum delay).
    pub delay: u64,
    /// The operation id (`hashOperation`).
    pub id: B256,
    /// Calldata of `schedule(...)` on the timelock (what a proposer, e.g. a multisig, sends).
    pub schedule_calldata: Bytes,
    /// Calldata of `execute(...)` on the timelock (what an executor sends after the delay).
    pub execute_calldata: Bytes,
}

impl Proposal {
    /// The proposal of `data` to `target` through `timelock` (the id computed here, as
    /// `hashOperation` does: keccak256(abi.encode(target, value, data, predecessor, salt))).
    pub fn new(
        what: impl Into<String>,
        timelock: Address,
        target: Address,
        value: U256,
        calldata: Bytes,
        salt: B256,
        delay: u64,
    ) -> Self {
        use alloy::sol_types::SolValue;
        let predecessor = B256::ZERO;
        let id = alloy::primitives::keccak256(
            (target, value, calldata.clone(), predecessor, salt).abi_encode_params(),
        );
        let schedule_calldata = ITimelock::scheduleCall {
            target,
            value,
            data: calldata.clone(),
            predecessor,
            salt,
            delay: U256::from(delay),
        }
        .abi_encode()
        .into();
        let execute_calldata = ITimelock::executeCall {
            target,
            value,
            payload: calldata.clone(),
            predecessor,
            salt,
        }
        .abi_encode()
        .into();
        Self {
            what: what.into(),
            timelock,
            target,
            value,
            calldata,
            predecessor,
            salt,
            delay,
            id,
            schedule_calldata,
            execute_calldata,
        }
    }
}

/// Where a timelock operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationState {
    /// Never scheduled (or cancelled).
    Unset,
    /// Scheduled, its delay not over.
    Waiting,
    /// Its delay is over: an executor may execute it.
    Ready,
    /// Executed.
    Done,
}

/// A timelock operation's state and the time it is ready from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The operation id.
    pub id: B256,
    /// Its state.
    pub state: OperationState,
    /// Unix time it is (or was) ready from; 0 when unset, 1 when done.
    pub ready_at: u64,
}

/// What an admin action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The key may take it: sent and confirmed.
    Sent(Box<TransactionReceipt>),
    /// The key is a proposer of the timelock: scheduled; execute it after the delay.
    Scheduled(Proposal),
    /// Only the timelock may take it and the key cannot schedule it: the proposal to submit.
    Proposed(Proposal),
}

/// The desk's client: reads over `rpc`, and sends from one key when it has one.
#[derive(Clone, Debug)]
pub struct Desk {
    provider: DynProvider,
    sender: Option<Arc<Sender>>,
}

impl Desk {
    /// A client that only reads (through the retry layer, [`crate::rpc`]).
    ///
    /// # Errors
    /// A bad URL.
    pub fn read_only(rpc: &str) -> ChainResult<Self> {
        Ok(Self {
            provider: crate::rpc::connect(crate::rpc::rpc_url(rpc)?),
            sender: None,
        })
    }

    /// A client sending from `signer`.
    ///
    /// # Errors
    /// A bad URL, RPC errors.
    pub async fn connect(
        rpc: &str,
        signer: impl Into<sealgrid_keys::KeySigner>,
        cfg: SenderConfig,
    ) -> ChainResult<Self> {
        let sender = Sender::connect(rpc, signer, cfg).await?;
        Ok(Self {
            provider: sender.provider().clone(),
            sender: Some(Arc::new(sender)),
        })
    }

    /// The sending account (`None` for a read-only client).
    pub fn from(&self) -> Option<Address> {
        self.sender.as_ref().map(|s| s.address())
    }

    /// The provider (reads).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id of the endpoint.
    ///
    /// # Errors
    /// RPC errors.
    pub async fn chain_id(&self) -> ChainResult<u64> {
        Ok(self.provider.get_chain_id().await?)
    }

    /// The latest block's hash (the default salt of a proposal).
    ///
    /// # Errors
    /// RPC errors, a chain without blocks.
    pub async fn latest_hash(&self) -> ChainResult<B256> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::Submit("the chain has no latest block".into()))?;
        Ok(block.header.hash)
    }

    fn sender(&self, what: &str) -> ChainResult<&Sender> {
        self.sender
            .as_deref()
            .ok_or_else(|| ChainError::Submit(format!("{what}: a read-only client cannot send")))
    }

    async fn send<C: SolCall>(
        &self,
        what: &str,
        to: Address,
        call: C,
    ) -> ChainResult<TransactionReceipt> {
        self.sender(what)?.send(what, to, call, desk_errors).await
    }

    /// Sends `value` wei with `data` to `to`. A transaction a reorg drops is not sent again:
    /// the caller re-reads the chain (a deposit must not be made twice).
    async fn send_value(
        &self,
        what: &str,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> ChainResult<TransactionReceipt> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(data)
            .with_value(value);
        match self.sender(what)?.land(what, tx, desk_errors).await? {
            Landed::Confirmed { receipt, .. } if receipt.status() => Ok(*receipt),
            Landed::Confirmed { receipt, .. } => Err(ChainError::Reverted {
                what: what.to_owned(),
                tx: receipt.transaction_hash,
            }),
            Landed::Dropped { .. } => Err(ChainError::Submit(format!(
                "{what}: the transaction was dropped (a reorg or a replaced nonce); read the \
                 chain before sending it again"
            ))),
        }
    }

    /// Checks `a` holds code (a wrong record or RPC would otherwise read zeros).
    async fn contract(&self, a: Address) -> ChainResult<()> {
        if self.provider.get_code_at(a).await?.is_empty() {
            return Err(ChainError::NoContract(a));
        }
        Ok(())
    }

    /// The token's decimals and symbol.
    ///
    /// # Errors
    /// No contract at `token`, RPC errors.
    pub async fn token(&self, token: Address) -> ChainResult<(u8, String)> {
        self.contract(token).await?;
        let t = IDeskToken::new(token, &self.provider);
        let decimals = t.decimals().call().await?;
        let symbol = t.symbol().call().await.unwrap_or_else(|_| "tokens".into());
        Ok((decimals, symbol))
    }

    /// The token balance of `account` (in its wallet, not a vault).
    ///
    /// # Errors
    /// RPC errors.
    pub async fn wallet_balance(&self, token: Address, account: Address) -> ChainResult<U256> {
        Ok(IDeskToken::new(token, &self.provider)
            .balanceOf(account)
            .call()
            .await?)
    }

    /// The native (gas) balance of `account`, wei.
    ///
    /// # Errors
    /// RPC errors.
    pub async fn eth_balance(&self, account: Address) -> ChainResult<U256> {
        Ok(self.provider.get_balance(account).await?)
    }

    /// Approves `spender` for what it is missing of `amount` (nothing when the allowance
    /// covers it).
    async fn allow(&self, token: Address, spender: Address, amount: U256) -> ChainResult<()> {
        let from = self.sender("approve")?.address();
        let t = IDeskToken::new(token, &self.provider);
        if t.allowance(from, spender).call().await? >= amount {
            return Ok(());
        }
        self.send(
            "approve",
            token,
            IDeskToken::approveCall { spender, amount },
        )
        .await?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Bond
    // -----------------------------------------------------------------------------------

    /// The operator's bond in `market`.
    ///
    /// # Errors
    /// No auction at `auction`, an unknown market, RPC errors.
    pub async fn bond(&self, auction: Address, market: B256) -> ChainResult<Bond> {
        self.contract(auction).await?;
        let a = SealgridAuction::new(auction, &self.provider);
        let m = a.getMarket(market).call().await?;
        let insurance = a.insurance(market).call().await?;
        Ok(Bond {
            operator: m.p.operator,
            token: m.p.token,
            bond: m.bond,
            min_bond: m.p.minBond,
            slash_amount: m.p.slashAmount,
            insurance,
        })
    }

    /// Adds `amount` to the bond of `market` from the sender's wallet (anyone may); returns
    /// the new bond.
    ///
    /// # Errors
    /// A zero amount, a revert (e.g. not enough tokens: nothing is sent), RPC errors.
    pub async fn deposit_bond(
        &self,
        auction: Address,
        market: B256,
        amount: u128,
    ) -> ChainResult<u128> {
        if amount == 0 {
            return Err(ChainError::Submit(
                "the bond deposit must be nonzero".into(),
            ));
        }
        let b = self.bond(auction, market).await?;
        self.allow(b.token, auction, U256::from(amount)).await?;
        self.send(
            "depositBond",
            auction,
            SealgridAuction::depositBondCall { market, amount },
        )
        .await?;
        Ok(self.bond(auction, market).await?.bond)
    }

    /// Withdraws `amount` of the bond to `to` (the market's operator only; while the market is
    /// open the bond may not go below its minimum); returns the new bond.
    ///
    /// # Errors
    /// A revert (not the operator, below the minimum: nothing is sent), RPC errors.
    pub async fn withdraw_bond(
        &self,
        auction: Address,
        market: B256,
        to: Address,
        amount: u128,
    ) -> ChainResult<u128> {
        self.send(
            "withdrawBond",
            auction,
            SealgridAuction::withdrawBondCall { market, to, amount },
        )
        .await?;
        Ok(self.bond(auction, market).await?.bond)
    }

    // -----------------------------------------------------------------------------------
    // Vaults (the auction's and the delivery settlement's collateral)
    // -----------------------------------------------------------------------------------

    /// `account`'s free balance of `token` in `vault`.
    ///
    /// # Errors
    /// No contract at `vault`, RPC errors.
    pub async fn vault_balance(
        &self,
        vault: Address,
        token: Address,
        account: Address,
    ) -> ChainResult<U256> {
        self.contract(vault).await?;
        Ok(IVault::new(vault, &self.provider)
            .balanceOf(token, account)
            .call()
            .await?)
    }

    /// Deposits `amount` of `token` from the sender's wallet into `vault` as `account`'s
    /// free balance (anyone may fund any account); returns the account's new balance.
    ///
    /// # Errors
    /// A zero amount or account, a revert (nothing is sent), RPC errors.
    pub async fn vault_deposit(
        &self,
        vault: Address,
        token: Address,
        account: Address,
        amount: U256,
    ) -> ChainResult<U256> {
        if amount.is_zero() || account == Address::ZERO {
            return Err(ChainError::Submit(
                "a deposit needs a nonzero amount and account".into(),
            ));
        }
        self.contract(vault).await?;
        self.allow(token, vault, amount).await?;
        self.send(
            "deposit",
            vault,
            IVault::depositCall {
                token,
                account,
                amount,
            },
        )
        .await?;
        self.vault_balance(vault, token, account).await
    }

    /// Withdraws `amount` of the sender's free balance in `vault` to `to`; returns the
    /// sender's new balance.
    ///
    /// # Errors
    /// A revert (not enough free balance, debts: nothing is sent), RPC errors.
    pub async fn vault_withdraw(
        &self,
        vault: Address,
        token: Address,
        to: Address,
        amount: U256,
    ) -> ChainResult<U256> {
        let from = self.sender("withdraw")?.address();
        self.send(
            "withdraw",
            vault,
            IVault::withdrawCall { token, to, amount },
        )
        .await?;
        self.vault_balance(vault, token, from).await
    }

    /// The balancing account of `market` in the delivery settlement at `settlement`.
    ///
    /// # Errors
    /// No settlement, a market without delivery, RPC errors.
    pub async fn balancing(&self, settlement: Address, market: B256) -> ChainResult<Balancing> {
        self.contract(settlement).await?;
        let s = DeliverySettlement::new(settlement, &self.provider);
        let cfg = s.marketConfig(market).call().await?;
        if cfg.token == Address::ZERO {
            return Err(ChainError::BadMarket {
                market,
                reason: "the delivery settlement does not know this market".into(),
            });
        }
        let balance = s.balanceOf(cfg.token, cfg.balancing).call().await?;
        let reserved = s.reserved(market, cfg.balancing).call().await?;
        Ok(Balancing {
            account: cfg.balancing,
            token: cfg.token,
            balance,
            reserved,
        })
    }

    /// Seconds of a delivery interval (the settlement's, the same for every market).
    ///
    /// # Errors
    /// No settlement, RPC errors.
    pub async fn interval_length(&self, settlement: Address) -> ChainResult<u64> {
        self.contract(settlement).await?;
        let s = DeliverySettlement::new(settlement, &self.provider);
        let len = s.intervalLength().call().await?;
        u64::try_from(len).map_err(|_| ChainError::BadMarket {
            market: B256::ZERO,
            reason: format!("interval length {len} out of range"),
        })
    }

    // -----------------------------------------------------------------------------------
    // Paymaster
    // -----------------------------------------------------------------------------------

    /// The paymaster's deposit, owner, registrar and signer.
    ///
    /// # Errors
    /// No paymaster, RPC errors.
    pub async fn paymaster(&self, paymaster: Address) -> ChainResult<Paymaster> {
        self.contract(paymaster).await?;
        let p = MarketPaymaster::new(paymaster, &self.provider);
        Ok(Paymaster {
            address: paymaster,
            deposit_wei: p.getDeposit().call().await?,
            owner: p.owner().call().await?,
            registrar: p.registrar().call().await?,
            signer: p.signer().call().await?,
            period_s: p.period().call().await?.to::<u64>(),
        })
    }

    /// Adds `wei` to the paymaster's EntryPoint deposit (anyone may); returns the new deposit.
    ///
    /// # Errors
    /// A zero amount, a revert, a dropped transaction (re-read before sending again), RPC
    /// errors.
    pub async fn deposit_paymaster(&self, paymaster: Address, wei: U256) -> ChainResult<U256> {
        if wei.is_zero() {
            return Err(ChainError::Submit(
                "the paymaster deposit must be nonzero".into(),
            ));
        }
        self.contract(paymaster).await?;
        self.send_value(
            "paymaster deposit",
            paymaster,
            MarketPaymaster::depositCall {}.abi_encode().into(),
            wei,
        )
        .await?;
        Ok(self.paymaster(paymaster).await?.deposit_wei)
    }

    /// `account`'s quota and usage.
    ///
    /// # Errors
    /// RPC errors.
    pub async fn usage(&self, paymaster: Address, account: Address) -> ChainResult<Usage> {
        let u = MarketPaymaster::new(paymaster, &self.provider)
            .usageOf(account)
            .call()
            .await?;
        Ok(Usage {
            quota: u.quota,
            period: u.lastPeriod.to::<u64>(),
            used: u.used,
        })
    }

    /// Sets the sponsorship quota of `accounts` (0 removes them). The registrar sends it
    /// itself; otherwise only the paymaster's owner (the timelock) may, see [`Self::admin`].
    ///
    /// # Errors
    /// As [`Self::admin`].
    pub async fn set_participants(
        &self,
        paymaster: Address,
        accounts: Vec<Address>,
        quota: u32,
        salt: B256,
    ) -> ChainResult<Action> {
        if accounts.is_empty() {
            return Err(ChainError::Submit("no accounts given".into()));
        }
        let p = self.paymaster(paymaster).await?;
        let what = format!(
            "paymaster {paymaster}: quota {quota} for {} accounts",
            accounts.len()
        );
        let data: Bytes = MarketPaymaster::setParticipantsCall { accounts, quota }
            .abi_encode()
            .into();
        let direct = self.from() == Some(p.registrar);
        self.admin(&what, p.owner, paymaster, data, direct, salt)
            .await
    }

    /// Makes `registrar` the paymaster's registrar (the owner, the timelock, only).
    ///
    /// # Errors
    /// As [`Self::admin`].
    pub async fn set_registrar(
        &self,
        paymaster: Address,
        registrar: Address,
        salt: B256,
    ) -> ChainResult<Action> {
        if registrar == Address::ZERO {
            return Err(ChainError::Submit("the registrar must be nonzero".into()));
        }
        let p = self.paymaster(paymaster).await?;
        let data: Bytes = MarketPaymaster::setRegistrarCall {
            registrar_: registrar,
        }
        .abi_encode()
        .into();
        let what = format!("paymaster {paymaster}: registrar {registrar}");
        self.admin(&what, p.owner, paymaster, data, false, salt)
            .await
    }

    // -----------------------------------------------------------------------------------
    // Timelock
    // -----------------------------------------------------------------------------------

    /// An action on `target` that `timelock` governs: sent directly when `direct` (the key
    /// holds the role itself); scheduled when the key is a proposer of the timelock (with its
    /// minimum delay); otherwise the [`Proposal`] to hand to a proposer.
    ///
    /// # Errors
    /// No timelock, a scheduling or sending revert (nothing is sent), RPC errors.
    pub async fn admin(
        &self,
        what: &str,
        timelock: Address,
        target: Address,
        data: Bytes,
        direct: bool,
        salt: B256,
    ) -> ChainResult<Action> {
        if direct {
            let tx = self.send_value(what, target, data, U256::ZERO).await?;
            return Ok(Action::Sent(Box::new(tx)));
        }
        let proposal = self.propose(what, timelock, target, data, salt).await?;
        match self.from() {
            Some(from) if self.is_proposer(timelock, from).await? => {
                self.schedule(&proposal).await?;
                Ok(Action::Scheduled(proposal))
            }
            _ => Ok(Action::Proposed(proposal)),
        }
    }

    /// The proposal of `data` to `target` through `timelock`, with the timelock's minimum
    /// delay.
    ///
    /// # Errors
    /// No timelock, RPC errors.
    pub async fn propose(
        &self,
        what: &str,
        timelock: Address,
        target: Address,
        data: Bytes,
        salt: B256,
    ) -> ChainResult<Proposal> {
        self.contract(timelock).await?;
        let t = ITimelock::new(timelock, &self.provider);
        let delay = t.getMinDelay().call().await?;
        let delay = u64::try_from(delay).map_err(|_| {
            ChainError::Submit(format!("timelock {timelock}: a delay of {delay} s"))
        })?;
        let p = Proposal::new(what, timelock, target, U256::ZERO, data, salt, delay);
        // The id computed here must be the timelock's: a different hashing would strand the
        // operation.
        let onchain = t
            .hashOperation(p.target, p.value, p.calldata.clone(), p.predecessor, p.salt)
            .call()
            .await?;
        if onchain != p.id {
            return Err(ChainError::Submit(format!(
                "timelock {timelock}: operation id {onchain} differs from {}",
                p.id
            )));
        }
        Ok(p)
    }

    /// Whether `account` is a proposer of `timelock`.
    ///
    /// # Errors
    /// RPC errors.
    pub async fn is_proposer(&self, timelock: Address, account: Address) -> ChainResult<bool> {
        let t = ITimelock::new(timelock, &self.provider);
        let role = t.PROPOSER_ROLE().call().await?;
        Ok(t.hasRole(role, account).call().await?)
    }

    /// Schedules `p` (the sender must be a proposer).
    ///
    /// # Errors
    /// A revert (not a proposer, already scheduled, a delay below the minimum: nothing is
    /// sent), RPC errors.
    pub async fn schedule(&self, p: &Proposal) -> ChainResult<TransactionReceipt> {
        self.send_value(
            &format!("schedule {}", p.what),
            p.timelock,
            p.schedule_calldata.clone(),
            U256::ZERO,
        )
        .await
    }

    /// Executes `p` (its delay over; the sender must be an executor unless the role is open).
    ///
    /// # Errors
    /// A revert (not ready, already done, the call itself reverts: nothing is sent), RPC
    /// errors.
    pub async fn execute(&self, p: &Proposal) -> ChainResult<TransactionReceipt> {
        self.send_value(
            &format!("execute {}", p.what),
            p.timelock,
            p.execute_calldata.clone(),
            p.value,
        )
        .await
    }

    /// The state of operation `id` of `timelock`.
    ///
    /// # Errors
    /// No timelock, RPC errors.
    pub async fn operation(&self, timelock: Address, id: B256) -> ChainResult<Operation> {
        self.contract(timelock).await?;
        let t = ITimelock::new(timelock, &self.provider);
        let state = match t.getOperationState(id).call().await? {
            0 => OperationState::Unset,
            1 => OperationState::Waiting,
            2 => OperationState::Ready,
            3 => OperationState::Done,
            s => {
                return Err(ChainError::Submit(format!(
                    "timelock {timelock}: unknown operation state {s}"
                )));
            }
        };
        let ready_at = t.getTimestamp(id).call().await?;
        Ok(Operation {
            id,
            state,
            ready_at: ready_at.try_into().unwrap_or(u64::MAX),
        })
    }
}

/// Parses a decimal amount of a token with `decimals` ("250", "12.5") into base units.
///
/// # Errors
/// Not a non-negative decimal number, more fraction digits than the token has, overflow.
pub fn parse_units(text: &str, decimals: u8) -> Result<U256, String> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (t.contains('.') && !digits(frac)) {
        return Err(format!(
            "`{text}` is not a decimal amount (e.g. 250 or 12.5)"
        ));
    }
    if frac.len() > usize::from(decimals) {
        return Err(format!(
            "`{text}` has {} fraction digits; the token has {decimals}",
            frac.len()
        ));
    }
    let scale = U256::from(10u8).pow(U256::from(decimals));
    let whole: U256 = whole
        .parse()
        .map_err(|_| format!("`{text}` is too large"))?;
    let frac_units = if frac.is_empty() {
        U256::ZERO
    } else {
        let f: U256 = frac
            .parse()
            .map_err(|_| format!("`{text}`: bad fraction"))?;
        f * U256::from(10u8).pow(U256::from(usize::from(decimals) - frac.len()))
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Formats base units of a token with `decimals` ("12.5").
pub fn format_units(amount: U256, decimals: u8) -> String {
    let scale = U256::from(10u8).pow(U256::from(decimals));
    let (whole, frac) = (amount / scale, amount % scale);
    if frac.is_zero() {
        return whole.to_string();
    }
    let f = format!("{frac:0>width$}", width = usize::from(decimals));
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_and_refuse_bad_amounts() {
        assert_eq!(parse_units("250", 6), Ok(U256::from(250_000_000u64)));
        assert_eq!(parse_units("12.5", 6), Ok(U256::from(12_500_000u64)));
        assert_eq!(parse_units("0.000001", 6), Ok(U256::from(1u64)));
        assert_eq!(
            parse_units("1", 18),
            Ok(U256::from(10u64).pow(U256::from(18)))
        );
        for bad in ["", "-1", "1.", ".5", "1e6", "0x10", "1.2.3", " 1 2"] {
            assert!(parse_units(bad, 6).is_err(), "{bad:?}");
        }
        assert!(
            parse_units("0.0000001", 6)
                .err()
                .unwrap_or_default()
                .contains("fraction digits")
        );
        let max = "1".repeat(80);
        assert!(
            parse_units(&max, 6)
                .err()
                .unwrap_or_default()
                .contains("too large")
        );
        for (v, d) in [(12_500_000u64, 6), (250_000_000, 6), (1, 6), (0, 6), (7, 0)] {
            let s = format_units(U256::from(v), d);
            assert_eq!(parse_units(&s, d), Ok(U256::from(v)), "{s}");
        }
        assert_eq!(format_units(U256::from(12_500_000u64), 6), "12.5");
    }

    #[test]
    fn a_proposal_carries_the_timelocks_schedule_and_execute_calls() {
        // The id is checked against a live timelock's hashOperation in Desk::propose (and in
        // bin/sealgrid/tests/desk.rs); here the calldata a multisig would send.
        let p = Proposal::new(
            "x",
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            U256::ZERO,
            Bytes::from_static(&[0xde, 0xad]),
            B256::repeat_byte(3),
            60,
        );
        let s = ITimelock::scheduleCall::abi_decode(&p.schedule_calldata).expect("schedule");
        assert_eq!(
            (s.target, s.value, s.data, s.predecessor, s.salt, s.delay),
            (
                p.target,
                p.value,
                p.calldata.clone(),
                B256::ZERO,
                p.salt,
                U256::from(60)
            )
        );
        let e = ITimelock::executeCall::abi_decode(&p.execute_calldata).expect("execute");
        assert_eq!(
            (e.target, e.payload, e.salt),
            (p.target, p.calldata.clone(), p.salt)
        );
        let other = Proposal::new(
            "x",
            p.timelock,
            p.target,
            p.value,
            p.calldata.clone(),
            B256::repeat_byte(4),
            60,
        );
        assert_ne!(p.id, other.id, "the salt tells equal calls apart");
    }
}
