//! Delivery settlement on-chain (DESIGN 3.7–3.8): the meter registry, gateway-signed readings,
//! oracle-signed real-time prices, imbalance settlement and resettlement, granular certificates,
//! and the settlement report.
//!
//! Submissions are idempotent: readings already stored with the same revision and content are
//! skipped before sending (the contract would skip them too), stale revisions are refused here
//! with a reason instead of failing a whole batch on-chain, settled accounts are skipped by the
//! contract, and issuance mints only what was not issued. A restart can resubmit everything.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionReceipt},
    sol_types::{SolCall, SolEvent},
};
use sealgrid_types::{
    Eip712Domain, MAX_READING_WH, MAX_REVISION, MeterQuality, MeterReading, RealTimePrice,
    sealgrid_domain, sign_struct,
};
use serde::{Deserialize, Serialize};

use crate::{
    ChainError, ChainResult,
    bindings::{certificates::GranularCertificates, registry::MeterRegistry, settlement},
    sender::{Sender, SenderConfig, decode_revert},
};

use settlement::{DeliverySettlement, ReadingLib};

/// Readings per `submitReadings` transaction (the gas target is stated for batches of 100).
pub const READINGS_PER_TX: usize = 100;
/// Accounts per `settle` / `resettle` transaction.
pub const ACCOUNTS_PER_TX: usize = 40;
/// Generators per `issueBatch` transaction.
pub const GENERATORS_PER_TX: usize = 40;

/// Position flag: settled.
pub const FLAG_SETTLED: u8 = 1;
/// Position flag: settled on deemed delivery (a meter had no reading at the deadline).
pub const FLAG_ESTIMATE: u8 = 2;
/// Position flag: a reading of estimated or substituted quality was used.
pub const FLAG_NOT_ACTUAL: u8 = 4;

/// The delivery contracts of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryContracts {
    /// The meter registry.
    pub registry: Address,
    /// Delivery settlement (the EIP-712 verifying contract of readings and prices).
    pub settlement: Address,
    /// Granular certificates.
    pub certificates: Address,
}

/// A reading with its gateway's signature (65 bytes `r ‖ s ‖ v`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedReading {
    /// The reading.
    pub reading: MeterReading,
    /// The signature.
    pub signature: [u8; 65],
}

/// A real-time price with the oracle's signature (65 bytes `r ‖ s ‖ v`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPrice {
    /// The price.
    pub price: RealTimePrice,
    /// The signature.
    pub signature: [u8; 65],
}

/// Signs a reading as a gateway, in the settlement contract's domain.
pub fn sign_reading<S: alloy::signers::SignerSync + ?Sized>(
    gateway: &S,
    reading: MeterReading,
    domain: &Eip712Domain,
) -> ChainResult<SignedReading> {
    let signature = sign_struct(gateway, &reading, domain)
        .map_err(|e| ChainError::Submit(format!("signing a reading: {e}")))?;
    Ok(SignedReading { reading, signature })
}

/// Signs a real-time price as the market's oracle, in the settlement contract's domain.
pub fn sign_price<S: alloy::signers::SignerSync + ?Sized>(
    oracle: &S,
    price: RealTimePrice,
    domain: &Eip712Domain,
) -> ChainResult<SignedPrice> {
    let signature = sign_struct(oracle, &price, domain)
        .map_err(|e| ChainError::Submit(format!("signing a price: {e}")))?;
    Ok(SignedPrice { price, signature })
}

/// EIP-2098 compact form of a 65-byte signature.
fn compact(sig: &[u8; 65]) -> ReadingLib::Signature {
    let mut vs = [0u8; 32];
    vs.copy_from_slice(&sig[32..64]);
    if sig[64] == 28 {
        vs[0] |= 0x80;
    }
    ReadingLib::Signature {
        r: B256::from_slice(&sig[..32]),
        vs: B256::from(vs),
    }
}

fn to_abi(r: &MeterReading) -> ReadingLib::MeterReading {
    ReadingLib::MeterReading {
        meterId: r.meterId,
        interval: r.interval,
        importWh: r.importWh,
        exportWh: r.exportWh,
        quality: r.quality,
        revision: r.revision,
    }
}

/// What a reading submission did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReadingsReport {
    /// Readings stored (new, or a higher revision).
    pub stored: usize,
    /// Readings already stored identically (skipped).
    pub duplicates: usize,
    /// Readings refused before sending, with the reason (stale revision, conflict, range).
    pub refused: Vec<(B256, u64, String)>,
    /// Transactions sent.
    pub txs: usize,
    /// Gas of those transactions.
    pub gas: u64,
}

/// One account's settled interval, as the settlement contract recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    /// The account.
    pub account: Address,
    /// Bought − sold (Wh).
    pub contracted_wh: i128,
    /// Import − export over the account's meters (Wh).
    pub metered_wh: i128,
    /// metered − contracted (Wh): > 0 consumed more (or delivered less) than contracted.
    pub imbalance_wh: i128,
    /// The real-time price used (base units per kWh) and its revision.
    pub price: i64,
    /// The price's revision.
    pub price_revision: u32,
    /// imbalance × price in milli base units: > 0 the account paid, < 0 it was paid.
    pub amount_milli: i128,
    /// Settled on deemed delivery (a meter had no reading at the deadline).
    pub estimate: bool,
    /// A reading of estimated or substituted quality was used.
    pub not_actual: bool,
    /// Every resettlement: (old amount, new amount) in milli base units, oldest first.
    pub resettlements: Vec<(i128, i128)>,
    /// Debt to the balancing account (base units) now.
    pub debt: u128,
    /// Owed by the balancing account (base units) now.
    pub owed: u128,
}

impl AccountRow {
    /// The sum of all resettlement variances (milli base units).
    pub fn variance_milli(&self) -> i128 {
        self.resettlements.iter().map(|(old, new)| new - old).sum()
    }
}

/// The settlement report of one market interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementReport {
    /// The market.
    pub market: B256,
    /// The interval.
    pub interval: u64,
    /// The real-time price now stored (base units per kWh) and its revision, if any.
    pub price: Option<(i64, u32)>,
    /// One row per settled account, in address order.
    pub accounts: Vec<AccountRow>,
}

impl SettlementReport {
    /// Net imbalance money: what accounts paid minus what they were paid (milli base units).
    pub fn net_amount_milli(&self) -> i128 {
        self.accounts.iter().map(|a| a.amount_milli).sum()
    }

    /// All resettlement variances (milli base units).
    pub fn variance_milli(&self) -> i128 {
        self.accounts.iter().map(AccountRow::variance_milli).sum()
    }
}

/// Client of the delivery contracts, sending from one key (the operator's, the meter desk's
/// or the oracle's) through a [`Sender`]: nonces, capped fees with the alert hook,
/// confirmations and reorg handling as for the submitter.
#[derive(Clone, Debug)]
pub struct Delivery {
    provider: DynProvider,
    sender: Option<Arc<Sender>>,
    contracts: DeliveryContracts,
    domain: Eip712Domain,
}

impl Delivery {
    /// Connects to `rpc`, sending from `signer` through a [`Sender`] of its own with the
    /// default [`SenderConfig`], and checks that the contracts are deployed.
    pub async fn connect(
        rpc: &str,
        contracts: DeliveryContracts,
        signer: impl Into<sealgrid_keys::KeySigner>,
    ) -> ChainResult<Self> {
        let sender = Sender::connect(rpc, signer, SenderConfig::default()).await?;
        Self::connect_with(contracts, Arc::new(sender)).await
    }

    /// Sends through `sender` (shared with the submitter when both use the operator's key: one
    /// nonce counter) and checks that the contracts are deployed.
    pub async fn connect_with(
        contracts: DeliveryContracts,
        sender: Arc<Sender>,
    ) -> ChainResult<Self> {
        let provider = sender.provider().clone();
        let d = Self::open(provider, contracts, Some(sender)).await?;
        for a in [contracts.registry, contracts.certificates] {
            if d.provider.get_code_at(a).await?.is_empty() {
                return Err(ChainError::NoContract(a));
            }
        }
        Ok(d)
    }

    /// A read-only client of the settlement contract (reports and reads; sending fails).
    pub async fn reader(rpc: &str, settlement: Address) -> ChainResult<Self> {
        let contracts = DeliveryContracts {
            registry: Address::ZERO,
            settlement,
            certificates: Address::ZERO,
        };
        let url = rpc.parse().map_err(|e| ChainError::BadUrl {
            url: rpc.to_owned(),
            reason: format!("{e}"),
        })?;
        let provider = crate::rpc::connect(url);
        Self::open(provider, contracts, None).await
    }

    /// A read-only client of every delivery contract (meters, reports; sending fails).
    pub async fn read_only(rpc: &str, contracts: DeliveryContracts) -> ChainResult<Self> {
        let url = rpc.parse().map_err(|e| ChainError::BadUrl {
            url: rpc.to_owned(),
            reason: format!("{e}"),
        })?;
        let provider = crate::rpc::connect(url);
        Self::open(provider, contracts, None).await
    }

    async fn open(
        provider: DynProvider,
        contracts: DeliveryContracts,
        sender: Option<Arc<Sender>>,
    ) -> ChainResult<Self> {
        if provider.get_code_at(contracts.settlement).await?.is_empty() {
            return Err(ChainError::NoContract(contracts.settlement));
        }
        let chain_id = provider.get_chain_id().await?;
        Ok(Self {
            provider,
            sender,
            contracts,
            domain: sealgrid_domain(chain_id, contracts.settlement),
        })
    }

    /// The EIP-712 domain readings and prices are signed in.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The contracts.
    pub fn contracts(&self) -> DeliveryContracts {
        self.contracts
    }

    /// The account it sends from (`None` for a read-only client).
    pub fn sender(&self) -> Option<Address> {
        self.sender.as_ref().map(|s| s.address())
    }

    fn settlement(&self) -> DeliverySettlement::DeliverySettlementInstance<&DynProvider> {
        DeliverySettlement::new(self.contracts.settlement, &self.provider)
    }

    /// Sends a call to `to` through the sender and returns its confirmed receipt; a call that
    /// would revert is refused with the decoded error and nothing is sent.
    ///
    /// Every call here can go through [`Sender::send`], which never executes a call twice and
    /// re-broadcasts it unchanged after a reorg: the readings, prices, settlements and issuance
    /// are idempotent in the contracts anyway, and the rest (a meter, an approval, a deposit,
    /// a certificate move) is what the caller asked for whatever the reorg did.
    async fn send<C: SolCall>(
        &self,
        to: Address,
        call: C,
        what: &str,
    ) -> ChainResult<TransactionReceipt> {
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| ChainError::Submit(format!("{what}: a read-only client cannot send")))?;
        sender.send(what, to, call, delivery_errors).await
    }

    /// Registers a meter (the caller needs the registry's REGISTRAR_ROLE).
    pub async fn register_meter(&self, id: B256, meter: MeterRegistry::Meter) -> ChainResult<u64> {
        let r = self
            .send(
                self.contracts.registry,
                MeterRegistry::registerMeterCall {
                    meterId: id,
                    m: meter,
                },
                "registerMeter",
            )
            .await?;
        Ok(r.gas_used)
    }

    /// Rotates a meter's gateway key (planned): `gateway` signs from interval `from` on, the old
    /// key keeps the intervals before (REGISTRAR_ROLE).
    pub async fn rotate_gateway(&self, id: B256, gateway: Address, from: u64) -> ChainResult<u64> {
        let r = self
            .send(
                self.contracts.registry,
                MeterRegistry::rotateGatewayCall {
                    meterId: id,
                    gateway,
                    from,
                },
                "rotateGateway",
            )
            .await?;
        Ok(r.gas_used)
    }

    /// Revokes a meter's current gateway key (compromise): invalid for every interval, on every
    /// meter that used it (REGISTRAR_ROLE).
    pub async fn revoke_gateway(&self, id: B256) -> ChainResult<u64> {
        let r = self
            .send(
                self.contracts.registry,
                MeterRegistry::revokeGatewayCall { meterId: id },
                "revokeGateway",
            )
            .await?;
        Ok(r.gas_used)
    }

    /// A registered meter and its past gateway keys (`None`: not registered).
    pub async fn meter(
        &self,
        id: B256,
    ) -> ChainResult<Option<(MeterRegistry::Meter, Vec<MeterRegistry::PastKey>)>> {
        let registry = MeterRegistry::new(self.contracts.registry, &self.provider);
        let m = registry.meter(id).call().await?;
        if m.owner == Address::ZERO {
            return Ok(None);
        }
        let history = registry.gatewayHistory(id).call().await?;
        Ok(Some((m, history)))
    }

    /// The stored reading of a meter and interval: (import, export, quality, revision).
    pub async fn reading(&self, meter: B256, interval: u64) -> ChainResult<Option<MeterReading>> {
        let r = self.settlement().reading(meter, interval).call().await?;
        Ok(r.present.then_some(MeterReading {
            meterId: meter,
            interval,
            importWh: r.importWh,
            exportWh: r.exportWh,
            quality: r.quality,
            revision: r.revision,
        }))
    }

    /// The stored real-time price of a market interval: (price, revision), if any.
    pub async fn price_of(&self, market: B256, interval: u64) -> ChainResult<Option<(i64, u32)>> {
        let p = self.settlement().price(market, interval).call().await?;
        Ok(p.present.then_some((p.value, p.revision)))
    }

    /// Submits signed readings in batches of [`READINGS_PER_TX`], grouped so that the two
    /// intervals of a storage slot (2k, 2k + 1) of a meter land in the same batch. Readings
    /// already stored identically are skipped; lower or conflicting revisions and out-of-range
    /// values are refused with a reason (the rest still go).
    pub async fn submit_readings(&self, readings: &[SignedReading]) -> ChainResult<ReadingsReport> {
        let mut report = ReadingsReport::default();
        let mut todo: Vec<&SignedReading> = Vec::new();
        let mut seen = BTreeSet::new();
        for s in readings {
            let r = &s.reading;
            let key = (r.interval >> 1, r.meterId, r.interval);
            if !seen.insert(key) {
                report
                    .refused
                    .push((r.meterId, r.interval, "twice in one submission".into()));
                continue;
            }
            if r.importWh > MAX_READING_WH
                || r.exportWh > MAX_READING_WH
                || r.revision > MAX_REVISION
            {
                report
                    .refused
                    .push((r.meterId, r.interval, "out of range".into()));
                continue;
            }
            if MeterQuality::try_from(r.quality).is_err() {
                report.refused.push((
                    r.meterId,
                    r.interval,
                    format!("unknown quality {}", r.quality),
                ));
                continue;
            }
            match self.reading(r.meterId, r.interval).await? {
                Some(cur) if cur == *r => report.duplicates += 1,
                Some(cur) if cur.revision > r.revision => report.refused.push((
                    r.meterId,
                    r.interval,
                    format!(
                        "revision {} is below the stored {}",
                        r.revision, cur.revision
                    ),
                )),
                Some(cur) if cur.revision == r.revision => report.refused.push((
                    r.meterId,
                    r.interval,
                    format!("revision {} is stored with other values", r.revision),
                )),
                _ => todo.push(s),
            }
        }
        todo.sort_by_key(|s| {
            (
                s.reading.interval >> 1,
                s.reading.meterId,
                s.reading.interval,
            )
        });
        for chunk in todo.chunks(READINGS_PER_TX) {
            let call = DeliverySettlement::submitReadingsCall {
                rs: chunk.iter().map(|s| to_abi(&s.reading)).collect(),
                sigs: chunk.iter().map(|s| compact(&s.signature)).collect(),
            };
            let r = self
                .send(self.contracts.settlement, call, "submitReadings")
                .await?;
            report.stored += chunk.len();
            report.txs += 1;
            report.gas += r.gas_used;
        }
        Ok(report)
    }

    /// Submits signed real-time prices (stored identically ones are skipped). Returns the
    /// number stored and the gas.
    pub async fn submit_prices(&self, prices: &[SignedPrice]) -> ChainResult<(usize, u64)> {
        let mut todo = Vec::new();
        for p in prices {
            let cur = self
                .settlement()
                .price(p.price.market, p.price.interval)
                .call()
                .await?;
            if cur.present && cur.value == p.price.price && cur.revision == p.price.revision {
                continue;
            }
            todo.push(p);
        }
        if todo.is_empty() {
            return Ok((0, 0));
        }
        let call = DeliverySettlement::submitPricesCall {
            ps: todo
                .iter()
                .map(|p| ReadingLib::RealTimePrice {
                    market: p.price.market,
                    interval: p.price.interval,
                    price: p.price.price,
                    revision: p.price.revision,
                })
                .collect(),
            sigs: todo.iter().map(|p| compact(&p.signature)).collect(),
        };
        let r = self
            .send(self.contracts.settlement, call, "submitPrices")
            .await?;
        Ok((todo.len(), r.gas_used))
    }

    /// Settles `accounts` for an interval in batches; returns how many were settled now and the
    /// gas. Accounts already settled are skipped by the contract.
    pub async fn settle(
        &self,
        market: B256,
        interval: u64,
        accounts: &[Address],
    ) -> ChainResult<(usize, u64)> {
        let mut unsettled = Vec::new();
        for a in accounts {
            if self.position(market, interval, *a).await?.flags & FLAG_SETTLED == 0 {
                unsettled.push(*a);
            }
        }
        let mut gas = 0;
        for chunk in unsettled.chunks(ACCOUNTS_PER_TX) {
            let call = DeliverySettlement::settleCall {
                market,
                interval,
                accounts: chunk.to_vec(),
            };
            gas += self
                .send(self.contracts.settlement, call, "settle")
                .await?
                .gas_used;
        }
        Ok((unsettled.len(), gas))
    }

    /// Recomputes settled `accounts` from the current readings and price and posts the
    /// resettlements; returns how many accounts changed and the gas.
    pub async fn resettle(
        &self,
        market: B256,
        interval: u64,
        accounts: &[Address],
    ) -> ChainResult<(usize, u64)> {
        let (mut changed, mut gas) = (0, 0);
        for chunk in accounts.chunks(ACCOUNTS_PER_TX) {
            let call = DeliverySettlement::resettleCall {
                market,
                interval,
                accounts: chunk.to_vec(),
            };
            let r = self
                .send(self.contracts.settlement, call, "resettle")
                .await?;
            gas += r.gas_used;
            changed += r
                .inner
                .logs()
                .iter()
                .filter(|l| l.topic0() == Some(&DeliverySettlement::Resettled::SIGNATURE_HASH))
                .count();
        }
        Ok((changed, gas))
    }

    /// Issues the certificates of `generators` for `hour` in batches; returns the Wh minted and
    /// the gas.
    pub async fn issue_certificates(
        &self,
        generators: &[B256],
        hour: u64,
    ) -> ChainResult<(u128, u64)> {
        let (mut minted, mut gas) = (0u128, 0);
        for chunk in generators.chunks(GENERATORS_PER_TX) {
            let call = GranularCertificates::issueBatchCall {
                meterIds: chunk.to_vec(),
                hour,
            };
            let r = self
                .send(self.contracts.certificates, call, "issueBatch")
                .await?;
            gas += r.gas_used;
            for l in r.inner.logs() {
                if let Ok(t) = l.log_decode::<GranularCertificates::TransferSingle>()
                    && t.inner.from == Address::ZERO
                {
                    minted += u128::try_from(t.inner.value).unwrap_or(u128::MAX);
                }
            }
        }
        Ok((minted, gas))
    }

    /// Certificates issued so far for `hour` to the generators `meters` (Wh), from the chain.
    pub async fn issued_wh(&self, meters: &[B256], hour: u64) -> ChainResult<u128> {
        let certificates = GranularCertificates::new(self.contracts.certificates, &self.provider);
        let mut total = 0u128;
        for m in meters {
            let device = self.device_of(*m).await?;
            let id = certificates.certificateId(device, hour).call().await?;
            let wh = certificates.issued(id).call().await?;
            total = total.saturating_add(u128::try_from(wh).unwrap_or(u128::MAX));
        }
        Ok(total)
    }

    /// Moves certificates along an hour's P2P fills (the sender is each holder or approved by
    /// it), in batches of 100; returns the gas.
    pub async fn transfer_along_fills(
        &self,
        moves: &[GranularCertificates::Move],
    ) -> ChainResult<u64> {
        let mut gas = 0;
        for chunk in moves.chunks(100) {
            gas += self
                .send(
                    self.contracts.certificates,
                    GranularCertificates::transferAlongFillsCall {
                        moves: chunk.to_vec(),
                    },
                    "transferAlongFills",
                )
                .await?
                .gas_used;
        }
        Ok(gas)
    }

    /// A meter's device number (certificate ids are `device << 64 | hour`).
    pub async fn device_of(&self, meter: B256) -> ChainResult<u32> {
        Ok(MeterRegistry::new(self.contracts.registry, &self.provider)
            .deviceOf(meter)
            .call()
            .await?)
    }

    /// Certificates of `id` held by `holder` (Wh).
    pub async fn certificates_of(&self, holder: Address, id: U256) -> ChainResult<U256> {
        Ok(
            GranularCertificates::new(self.contracts.certificates, &self.provider)
                .balanceOf(holder, id)
                .call()
                .await?,
        )
    }

    /// Lets the settlement contract pull `amount` of `token` from the sender (for deposits).
    pub async fn approve(&self, token: Address, amount: U256) -> ChainResult<()> {
        self.send(
            token,
            crate::bindings::IERC20::approveCall {
                spender: self.contracts.settlement,
                amount,
            },
            "approve",
        )
        .await?;
        Ok(())
    }

    /// Deposits `amount` of `token` from the sender as `account`'s collateral (the sender has
    /// approved the settlement contract: [`Delivery::approve`]).
    pub async fn deposit(&self, token: Address, account: Address, amount: U256) -> ChainResult<()> {
        self.send(
            self.contracts.settlement,
            DeliverySettlement::depositCall {
                token,
                account,
                amount,
            },
            "deposit",
        )
        .await?;
        Ok(())
    }

    /// An account's recorded position for an interval.
    pub async fn position(
        &self,
        market: B256,
        interval: u64,
        account: Address,
    ) -> ChainResult<DeliverySettlement::Position> {
        Ok(self
            .settlement()
            .position(market, interval, account)
            .call()
            .await?)
    }

    /// The reading window and the true-up window (seconds after an interval's end).
    pub async fn windows(&self) -> ChainResult<(u32, u32)> {
        let s = self.settlement();
        Ok((
            s.readingWindow().call().await?,
            s.trueUpWindow().call().await?,
        ))
    }

    /// Accrued rounding fees of `token`.
    pub async fn fees(&self, token: Address) -> ChainResult<U256> {
        Ok(self.settlement().fees(token).call().await?)
    }

    /// A collateral balance.
    pub async fn balance(&self, token: Address, account: Address) -> ChainResult<U256> {
        Ok(self.settlement().balanceOf(token, account).call().await?)
    }

    /// The settlement report of a market interval: every account with a `Settled` event, its
    /// recorded position, and every `Resettled` variance, from the chain's logs.
    pub async fn report(&self, market: B256, interval: u64) -> ChainResult<SettlementReport> {
        let filter = Filter::new()
            .address(self.contracts.settlement)
            .event_signature(vec![
                DeliverySettlement::Settled::SIGNATURE_HASH,
                DeliverySettlement::Resettled::SIGNATURE_HASH,
            ])
            .topic1(market)
            .topic2(B256::from(U256::from(interval)))
            .from_block(0);
        let logs = self.provider.get_logs(&filter).await?;
        let mut rows: BTreeMap<Address, Vec<(i128, i128)>> = BTreeMap::new();
        for log in &logs {
            let block = log.block_number;
            if let Ok(e) = log.log_decode::<DeliverySettlement::Settled>() {
                rows.entry(e.inner.account).or_default();
            } else if let Ok(e) = log.log_decode::<DeliverySettlement::Resettled>() {
                let old = i128::try_from(e.inner.oldAmountMilli).map_err(|_| bad_log(block))?;
                let new = i128::try_from(e.inner.newAmountMilli).map_err(|_| bad_log(block))?;
                rows.entry(e.inner.account).or_default().push((old, new));
            } else {
                return Err(bad_log(block));
            }
        }
        let price = self.settlement().price(market, interval).call().await?;
        let mut accounts = Vec::with_capacity(rows.len());
        for (account, resettlements) in rows {
            let p = self.position(market, interval, account).await?;
            let contracted = i128::try_from(p.contracted).map_err(|_| bad_log(None))?;
            let metered = i128::try_from(p.metered).map_err(|_| bad_log(None))?;
            accounts.push(AccountRow {
                account,
                contracted_wh: contracted,
                metered_wh: metered,
                imbalance_wh: metered - contracted,
                price: p.price,
                price_revision: p.priceRevision,
                amount_milli: p.amountMilli,
                estimate: p.flags & FLAG_ESTIMATE != 0,
                not_actual: p.flags & FLAG_NOT_ACTUAL != 0,
                resettlements,
                debt: u128::try_from(self.settlement().debtOf(market, account).call().await?)
                    .unwrap_or(u128::MAX),
                owed: u128::try_from(self.settlement().owedTo(market, account).call().await?)
                    .unwrap_or(u128::MAX),
            });
        }
        Ok(SettlementReport {
            market,
            interval,
            price: price.present.then_some((price.value, price.revision)),
            accounts,
        })
    }
}

fn bad_log(block: Option<u64>) -> ChainError {
    ChainError::BadLog {
        block,
        reason: "not a settlement event of this interval".into(),
    }
}

/// The delivery contracts' errors (settlement, certificates, registry), for refused estimates.
fn delivery_errors(data: &[u8]) -> Option<String> {
    decode_revert::<DeliverySettlement::DeliverySettlementErrors>(data)
        .or_else(|| decode_revert::<GranularCertificates::GranularCertificatesErrors>(data))
        .or_else(|| decode_revert::<MeterRegistry::MeterRegistryErrors>(data))
}
