//! The demo's sponsored traders (DESIGN 3.9): a few sites trade through ERC-4337 smart accounts
//! (`MarketAccount`, counterfactual until their first operation) and never pay gas.
//!
//! Their orders name the account as trader and are signed by the owner's key, which the matcher
//! checks through ERC-1271. Each interval, every such site's commits go into one user operation
//! (`execute` or `executeBatch` of `commit`). The sponsorship service ([`Sponsor`], in process,
//! the same code `matcher serve --paymaster` serves) applies the paymaster's policy and signs.
//! The owner signs the EntryPoint's hash, and an in-process bundler (dev key 8) sends all of the
//! interval's operations in one `handleOps`. A real bundler (alto) is exercised by the test suite
//! (`tests/e2e/bundler.rs`).

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use sealgrid_chain::{
    SenderConfig,
    aa::{self, OpGas, PaymasterPart, UserOp},
    bindings::{SealgridAuction, entry_point::IEntryPoint},
    desk::{Action, Desk},
};
use sealgrid_deploy::devnet::{DEV_BUNDLER_KEY, DEV_KEYS, DEV_SPONSOR_KEY, Devnet};
use sealgrid_sponsor::Sponsor;
use sealgrid_types::{Order, order_commitment};

use crate::{
    DevkitError, DevkitResult,
    pilot::{Kind, Pilot},
};

fn err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("demo (sponsored accounts): {e}"))
}

/// Sponsored operations per account per day in the demo's policy (a day has 288 intervals).
pub(crate) const DEMO_QUOTA: u32 = 400;
/// Sites that trade through smart accounts (spread over the fleet).
pub(crate) const SMART_SITES: usize = 3;

/// What the sponsored traders did.
#[derive(Clone, Debug, Default)]
pub struct SponsoredSummary {
    /// Smart accounts trading.
    pub accounts: usize,
    /// User operations that landed.
    pub operations: usize,
    /// `handleOps` transactions.
    pub bundles: usize,
    /// Commits inside those operations.
    pub commits: usize,
    /// Certificate retirements inside them.
    pub retirements: usize,
    /// Gas the EntryPoint charged the paymaster, over all operations (with each operation's
    /// pre-verification gas and the penalty on unused call gas).
    pub op_gas: u128,
    /// Gas of the `handleOps` transactions (what the chain spent, account deployments included).
    pub bundle_gas: u64,
    /// Wei the paymaster's EntryPoint deposit went down by.
    pub paid_wei: U256,
    /// Wei the smart accounts and their owners spent themselves while trading (must be 0).
    pub self_paid_wei: U256,
}

/// A site's orders of an interval: (participant, [(order number, order, lock)]).
pub(crate) type SiteOrders = (usize, Vec<(usize, Order, u128)>);

/// One site's commits of an interval, as they landed.
pub(crate) struct SmartCommit {
    pub(crate) n: usize,
    pub(crate) who: usize,
    pub(crate) order: Order,
    pub(crate) lock: u128,
    pub(crate) index: u32,
    pub(crate) commitment: B256,
}

/// The smart-account side of the demo.
pub(crate) struct SmartAccounts {
    provider: DynProvider,
    entry_point: Address,
    factory: Address,
    paymaster: Address,
    auction: Address,
    sponsor: Sponsor,
    bundler: DynProvider,
    bundler_address: Address,
    deposit_before: U256,
    balances_before: Vec<(Address, U256)>,
    pub(crate) summary: SponsoredSummary,
}

impl SmartAccounts {
    /// Gives up to [`SMART_SITES`] sites a counterfactual MarketAccount (owner: the site's key,
    /// salt 0) and registers the accounts with the paymaster. `None` when the deployment has no
    /// `[accounts]`.
    pub(crate) async fn setup(
        net: &Devnet,
        pilot: &mut Pilot,
        say: &mut impl FnMut(String),
    ) -> DevkitResult<Option<Self>> {
        let Some(rec) = net.accounts else {
            say("the deployment has no [accounts]: every trader uses its own wallet".into());
            return Ok(None);
        };
        let sites: Vec<usize> = (0..pilot.participants.len())
            .filter(|k| {
                !matches!(
                    pilot.participants[*k].kind,
                    Kind::Storage | Kind::Aggregator
                )
            })
            .collect();
        let m = sites.len().min(SMART_SITES);
        let chosen: Vec<usize> = (0..m).map(|j| sites[j * sites.len() / m]).collect();
        let mut accounts = Vec::new();
        for &k in &chosen {
            let owner = pilot.participants[k].key.address();
            let account =
                aa::account_address(&net.provider, rec.account_factory, owner, U256::ZERO).await?;
            pilot.participants[k].account = Some(account);
            accounts.push(account);
        }
        // The operator, the paymaster's registrar, registers the accounts with the operator
        // desk, as `sealgrid paymaster participants --account .. --quota ..` does.
        if !accounts.is_empty() {
            let operator: PrivateKeySigner = DEV_KEYS[0].parse().map_err(err)?;
            let desk = Desk::connect(&net.rpc, operator, SenderConfig::default()).await?;
            let salt = desk.latest_hash().await?;
            match desk
                .set_participants(rec.paymaster, accounts.clone(), DEMO_QUOTA, salt)
                .await?
            {
                Action::Sent(_) => {}
                other => {
                    return Err(err(format!(
                        "the operator is not the paymaster's registrar: {other:?}"
                    )));
                }
            }
        }
        let sponsor_key: PrivateKeySigner = DEV_SPONSOR_KEY.parse().map_err(err)?;
        let sponsor = Sponsor::connect(&net.rpc, rec.paymaster, sponsor_key, 600).await?;
        let bundler_key: PrivateKeySigner = DEV_BUNDLER_KEY.parse().map_err(err)?;
        let bundler_address = bundler_key.address();
        let bundler = ProviderBuilder::new()
            .wallet(EthereumWallet::from(bundler_key))
            .connect_http(net.rpc.parse().map_err(err)?)
            .erased();
        let deposit_before = IEntryPoint::new(rec.entry_point, &net.provider)
            .balanceOf(rec.paymaster)
            .call()
            .await
            .map_err(err)?;
        say(format!(
            "{} sites trade through ERC-4337 smart accounts (MarketAccount, counterfactual; orders signed by their owners, checked with ERC-1271) sponsored by paymaster {} ({DEMO_QUOTA} operations per day each): {}",
            accounts.len(),
            rec.paymaster,
            accounts
                .iter()
                .map(Address::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(Some(Self {
            provider: net.provider.clone(),
            entry_point: rec.entry_point,
            factory: rec.account_factory,
            paymaster: rec.paymaster,
            auction: net.auction,
            sponsor,
            bundler,
            bundler_address,
            deposit_before,
            balances_before: Vec::new(),
            summary: SponsoredSummary {
                accounts: accounts.len(),
                ..SponsoredSummary::default()
            },
        }))
    }

    /// Notes the ETH of the accounts and their owners, once they are funded: the trading they
    /// do through the paymaster must not change it.
    pub(crate) async fn snapshot_balances(&mut self, pilot: &Pilot) -> DevkitResult<()> {
        self.balances_before.clear();
        for p in pilot.participants.iter().filter(|p| p.account.is_some()) {
            for a in [p.trader(), p.key.address()] {
                let b = self.provider.get_balance(a).await.map_err(err)?;
                self.balances_before.push((a, b));
            }
        }
        Ok(())
    }

    /// A sponsored, owner-signed operation of `account` with `calls`.
    async fn operation(
        &mut self,
        owner: &PrivateKeySigner,
        account: Address,
        calls: Vec<(Address, Bytes)>,
        call_gas: u128,
    ) -> DevkitResult<UserOp> {
        let deploy = self
            .provider
            .get_code_at(account)
            .await
            .map_err(err)?
            .is_empty();
        let fees = self.provider.estimate_eip1559_fees().await.map_err(err)?;
        let mut op = UserOp {
            sender: account,
            nonce: aa::nonce(&self.provider, self.entry_point, account).await?,
            factory: deploy.then(|| (self.factory, aa::factory_data(owner.address(), U256::ZERO))),
            call_data: aa::execute_all(calls),
            // Within the paymaster's caps (measured in contracts/test/Paymaster.t.sol): a
            // deployment needs about 182k of verification gas.
            gas: OpGas {
                verification: if deploy { 240_000 } else { 120_000 },
                call: call_gas,
                pre_verification: 80_000,
            },
            fees: (fees.max_priority_fee_per_gas, fees.max_fee_per_gas),
            paymaster: Some(PaymasterPart {
                paymaster: self.paymaster,
                verification_gas: u128::from(self.sponsor.limits().paymasterVerificationGas),
                post_op_gas: 0,
                data: Bytes::new(),
            }),
            signature: Bytes::new(),
        };
        // ERC-7677: the service applies the paymaster's policy and signs the operation.
        let answer = self
            .sponsor
            .handle(&serde_json::json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "pm_getPaymasterData",
                "params": [op.to_rpc(), self.entry_point, format!("{:#x}", self.sponsor.chain_id()), {}],
            }))
            .await;
        let data: Bytes = serde_json::from_value(answer["result"]["paymasterData"].clone())
            .map_err(|_| {
                err(format!(
                    "the sponsorship service refused {account}: {answer}"
                ))
            })?;
        if let Some(p) = op.paymaster.as_mut() {
            p.data = data;
        }
        op.sign(&self.provider, self.entry_point, owner).await?;
        Ok(op)
    }

    /// Sends `ops` in one bundle and checks that each succeeded with the paymaster paying.
    async fn bundle(
        &mut self,
        ops: Vec<UserOp>,
    ) -> DevkitResult<alloy::rpc::types::TransactionReceipt> {
        let (receipt, outcomes) = aa::handle_ops(
            &self.bundler,
            self.bundler_address,
            self.entry_point,
            ops.iter().map(UserOp::packed).collect(),
        )
        .await?;
        for o in &outcomes {
            if !o.success || o.paymaster != self.paymaster {
                return Err(err(format!(
                    "user operation {} of {} did not succeed with the paymaster paying: {o:?}",
                    o.hash, o.sender
                )));
            }
            self.summary.op_gas += u128::try_from(o.gas_used).unwrap_or(u128::MAX);
        }
        self.summary.operations += outcomes.len();
        self.summary.bundles += 1;
        self.summary.bundle_gas += receipt.gas_used;
        Ok(receipt)
    }

    /// Commits every smart site's orders of an interval: one sponsored operation per site, all
    /// in one bundle. Returns each commitment with its index.
    pub(crate) async fn commit(
        &mut self,
        pilot: &Pilot,
        orders: Vec<SiteOrders>,
    ) -> DevkitResult<Vec<SmartCommit>> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let mut ops = Vec::new();
        let mut expected = Vec::new();
        for (who, list) in orders {
            let p = &pilot.participants[who];
            let account = p.account.ok_or_else(|| err("a site without an account"))?;
            let mut calls = Vec::new();
            for (n, order, lock) in list {
                let commitment = order_commitment(&order).map_err(err)?;
                calls.push((
                    self.auction,
                    Bytes::from(
                        SealgridAuction::commitCall {
                            market: order.market,
                            interval: order.interval,
                            commitment,
                            lock,
                        }
                        .abi_encode(),
                    ),
                ));
                expected.push((n, who, order, lock, commitment));
            }
            // A commit takes under 120k gas (the interval's first, cold, the most); the
            // EntryPoint charges 10% of unused call gas above 40k, so the budget stays close
            // (and within the paymaster's cap of callGasPerCall per call).
            let gas = 130_000 * calls.len() as u128 + 20_000;
            ops.push(self.operation(&p.key, account, calls, gas).await?);
        }
        let receipt = self.bundle(ops).await?;
        let landed: Vec<(B256, u32)> = receipt
            .inner
            .logs()
            .iter()
            .filter_map(|l| l.log_decode::<SealgridAuction::Committed>().ok())
            .map(|l| (l.inner.data.commitment, l.inner.data.index))
            .collect();
        self.summary.commits += expected.len();
        expected
            .into_iter()
            .map(|(n, who, order, lock, commitment)| {
                let index = landed
                    .iter()
                    .find(|(c, _)| *c == commitment)
                    .map(|(_, i)| *i)
                    .ok_or_else(|| err(format!("commitment {commitment} did not land")))?;
                Ok(SmartCommit {
                    n,
                    who,
                    order,
                    lock,
                    index,
                    commitment,
                })
            })
            .collect()
    }

    /// Sends one sponsored operation of `account` (owned by `owner`) calling `target` with
    /// `data`, alone in its bundle.
    pub(crate) async fn act(
        &mut self,
        owner: &PrivateKeySigner,
        account: Address,
        target: Address,
        data: Bytes,
    ) -> DevkitResult<()> {
        let op = self
            .operation(owner, account, vec![(target, data)], 200_000)
            .await?;
        self.bundle(vec![op]).await?;
        Ok(())
    }

    /// After the trading: the ETH the accounts and their owners spent since
    /// [`Self::snapshot_balances`] (their commits went through the paymaster, so none).
    pub(crate) async fn trading_done(&mut self) -> DevkitResult<U256> {
        let mut spent = U256::ZERO;
        for (a, before) in &self.balances_before {
            let now = self.provider.get_balance(*a).await.map_err(err)?;
            spent += before.saturating_sub(now);
        }
        self.summary.self_paid_wei = spent;
        Ok(spent)
    }

    /// Closes the books: what the paymaster paid in all.
    pub(crate) async fn finish(&mut self) -> DevkitResult<SponsoredSummary> {
        let deposit = IEntryPoint::new(self.entry_point, &self.provider)
            .balanceOf(self.paymaster)
            .call()
            .await
            .map_err(err)?;
        self.summary.paid_wei = self.deposit_before.saturating_sub(deposit);
        Ok(self.summary.clone())
    }
}

/// The sponsorship line of the demo's summary.
pub(crate) fn render(s: &SponsoredSummary) -> String {
    format!(
        "sponsored: {} smart accounts made {} commits{} in {} user operations ({} handleOps bundles); \
         the paymaster paid {} wei from its EntryPoint deposit ({} gas charged per operation, {} gas of handleOps per operation); the accounts and their owners paid {} wei for their trading\n",
        s.accounts,
        s.commits,
        if s.retirements > 0 {
            format!(" and {} certificate retirements", s.retirements)
        } else {
            String::new()
        },
        s.operations,
        s.bundles,
        s.paid_wei,
        s.op_gas / s.operations.max(1) as u128,
        s.bundle_gas / s.operations.max(1) as u64,
        s.self_paid_wei
    )
}
