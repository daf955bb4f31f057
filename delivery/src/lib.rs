#![doc = include_str!("../README.md")]

mod api;
pub mod certificates;
mod intake;
pub mod metrics;
pub mod oracle;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use sealgrid_chain::{
    ChainError, Sender,
    bindings::{registry::MeterRegistry, settlement::DeliverySettlement},
    delivery::{Delivery, DeliveryContracts, SignedPrice, SignedReading},
};
use sealgrid_store::{MeterRow, REGISTRY_CURSOR, ReadingRow, RecordState, Store, StoreError};
use sealgrid_types::{Eip712Domain, MeterReading, RealTimePrice};

pub use api::{DeliveryLimits, OPENAPI, router};
pub use intake::{Outcome, Refusal};

/// How long a meter's gateway keys, a meter's market or a market's oracle are trusted from
/// the chain before they are read again. A rotation or revocation takes effect at intake as
/// soon as the loop's registry indexer sees it (within a pass, a second); the contract checks
/// every reading again when it lands.
pub const REGISTRY_TTL: Duration = Duration::from_secs(10);
/// Readings taken from the store per pass of the loop.
pub const READINGS_PER_PASS: usize = 2_000;
/// Blocks of registry events read per request.
const LOG_RANGE: u64 = 5_000;
/// Seconds of margin of the pairing hold (see [`hold_until`]).
const PAIR_MARGIN: u64 = 120;

/// Until when the first reading (revision 0) of an even interval waits for the reading of the
/// next interval of the same meter, so that both land in one `submitReadings` and share one
/// cold storage write (about 30k gas per reading instead of 43k, docs/settlement.md "Storage
/// and gas"): until the partner interval has ended plus [`PAIR_MARGIN`], and never later than
/// [`PAIR_MARGIN`] before the reading deadline. Where that leaves no time nothing waits.
pub fn hold_until(interval: u64, interval_length: u64, reading_window: u64) -> u64 {
    let partner_end = interval.saturating_add(2).saturating_mul(interval_length);
    let deadline = interval
        .saturating_add(1)
        .saturating_mul(interval_length)
        .saturating_add(reading_window);
    partner_end
        .saturating_add(PAIR_MARGIN)
        .min(deadline.saturating_sub(PAIR_MARGIN))
}

/// Errors of the delivery service.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The chain failed or refused.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The delivery contracts do not match the node's markets.
    #[error("{0}")]
    Config(String),
}

impl From<alloy::contract::Error> for DeliveryError {
    fn from(e: alloy::contract::Error) -> Self {
        Self::Chain(ChainError::from(e))
    }
}

impl From<alloy::transports::TransportError> for DeliveryError {
    fn from(e: alloy::transports::TransportError) -> Self {
        Self::Chain(ChainError::from(e))
    }
}

/// Result of the delivery service.
pub type DeliveryResult<T> = Result<T, DeliveryError>;

/// What one pass of the delivery loop did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Meters newly indexed from the registry.
    pub meters: usize,
    /// Readings stored on-chain (or found there identical).
    pub readings: usize,
    /// Readings the chain refused after intake.
    pub refused: usize,
    /// Prices stored on-chain.
    pub prices: usize,
    /// Market intervals settled, with their accounts.
    pub settled: Vec<(B256, u64, usize)>,
    /// Market intervals resettled: accounts whose settlement changed.
    pub resettled: Vec<(B256, u64, usize)>,
    /// Certificate hours issued: (market, hour, Wh minted).
    pub issued: Vec<(B256, u64, u128)>,
    /// Certificate hours moved along their fills: (market, hour, Wh moved). Moves an earlier
    /// run sent but did not record (a crash) count in the pass that finds them on-chain.
    pub moved: Vec<(B256, u64, u128)>,
}

/// The delivery service of a node: intake of readings and prices, and the loop that takes
/// them on-chain, settles, resettles, issues certificates and moves them along the fills.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct DeliveryService {
    inner: Arc<Inner>,
}

/// Values read from the chain, trusted for [`REGISTRY_TTL`]; past 100,000 entries the stale
/// ones are dropped (the keys may be chosen by clients: unknown meter ids).
#[derive(Debug)]
struct Cache<K, V>(Mutex<HashMap<K, (Instant, V)>>);

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Cache<K, V> {
    /// The value of `k` if it was read less than [`REGISTRY_TTL`] ago.
    fn fresh(&self, k: &K) -> Option<V> {
        let c = self.0.lock().ok()?;
        c.get(k)
            .filter(|(at, _)| at.elapsed() < REGISTRY_TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, k: K, v: V) {
        if let Ok(mut c) = self.0.lock() {
            if c.len() > 100_000 {
                c.retain(|_, (at, _)| at.elapsed() < REGISTRY_TTL);
            }
            c.insert(k, (Instant::now(), v));
        }
    }

    fn forget(&self, k: &K) {
        if let Ok(mut c) = self.0.lock() {
            c.remove(k);
        }
    }
}
/// A market's oracle and real-time price floor and cap.
type Oracle = (Address, i64, i64);

#[derive(Debug)]
struct Inner {
    store: Store,
    client: Delivery,
    provider: DynProvider,
    contracts: DeliveryContracts,
    domain: Eip712Domain,
    markets: Vec<B256>,
    interval_length: u64,
    /// (reading window, true-up window), seconds after an interval's end.
    windows: (u32, u32),
    start_block: u64,
    confirmations: u64,
    keys: Cache<B256, Arc<MeterKeys>>,
    meters: Cache<B256, Option<B256>>,
    oracles: Cache<B256, Option<Oracle>>,
    time: Mutex<Option<(Instant, u64)>>,
}

impl DeliveryService {
    /// The service for `markets` on the delivery `contracts`, sending through `sender` (the
    /// operator's, shared with the submitter: one nonce counter), its state in `store`.
    /// Registry events are indexed from `start_block`, `confirmations` blocks behind the head.
    ///
    /// # Errors
    /// Contracts that are not deployed, a market the settlement contract has not configured.
    pub async fn connect(
        store: Store,
        contracts: DeliveryContracts,
        sender: Arc<Sender>,
        markets: Vec<B256>,
        start_block: u64,
        confirmations: u64,
    ) -> DeliveryResult<Self> {
        let client = Delivery::connect_with(contracts, sender.clone()).await?;
        let provider = sender.provider().clone();
        let settlement = DeliverySettlement::new(contracts.settlement, &provider);
        let interval_length = u64::try_from(settlement.intervalLength().call().await?)
            .map_err(|_| DeliveryError::Config("interval length out of range".into()))?;
        let windows = client.windows().await?;
        for m in &markets {
            let cfg = settlement.marketConfig(*m).call().await?;
            if cfg.token == Address::ZERO {
                return Err(DeliveryError::Config(format!(
                    "the settlement contract {} has no market {m}",
                    contracts.settlement
                )));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                domain: client.domain().clone(),
                client,
                provider,
                contracts,
                markets,
                interval_length,
                windows,
                start_block,
                confirmations,
                keys: Cache::default(),
                meters: Cache::default(),
                oracles: Cache::default(),
                time: Mutex::default(),
            }),
        })
    }

    /// The EIP-712 domain readings and prices are signed in (the settlement contract's).
    pub fn domain(&self) -> &Eip712Domain {
        &self.inner.domain
    }

    /// The delivery client (reads and reports).
    pub fn client(&self) -> &Delivery {
        &self.inner.client
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Seconds of one interval.
    pub fn interval_length(&self) -> u64 {
        self.inner.interval_length
    }

    /// When interval `interval` settles: its end plus the reading window.
    pub fn deadline(&self, interval: u64) -> u64 {
        (interval + 1)
            .saturating_mul(self.inner.interval_length)
            .saturating_add(u64::from(self.inner.windows.0))
    }

    /// The latest block's timestamp (what the contracts compare windows against), read at most
    /// once a second.
    pub async fn chain_time(&self) -> DeliveryResult<u64> {
        if let Ok(t) = self.inner.time.lock()
            && let Some((at, v)) = *t
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(v);
        }
        let v = self.latest_time().await?;
        if let Ok(mut t) = self.inner.time.lock() {
            *t = Some((Instant::now(), v));
        }
        Ok(v)
    }

    async fn latest_time(&self) -> DeliveryResult<u64> {
        let b = self
            .inner
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| DeliveryError::Config("the chain has no latest block".into()))?;
        Ok(b.header.timestamp)
    }

    /// The market of a meter: from the store (the registry indexer), else from the chain.
    async fn meter_market(&self, meter: B256) -> DeliveryResult<Option<B256>> {
        if let Some(m) = self.inner.store.meter(meter).await? {
            return Ok(Some(m.market));
        }
        if let Some(v) = self.inner.meters.fresh(&meter) {
            return Ok(v);
        }
        let m = MeterRegistry::new(self.inner.contracts.registry, &self.inner.provider)
            .meter(meter)
            .call()
            .await?;
        let v = (m.owner != Address::ZERO).then_some(m.market);
        self.inner.meters.put(meter, v);
        Ok(v)
    }

    /// Whether `signer` is the meter's gateway key for `interval`, by the registry's rule
    /// (`isAuthorized`): the current key from its first interval on, a past key within its
    /// period unless revoked. The meter's keys are read once per [`REGISTRY_TTL`], not once
    /// per reading, and dropped when the registry indexer (every pass of the loop) sees the
    /// meter's key rotated or revoked.
    async fn key_status(
        &self,
        meter: B256,
        interval: u64,
        signer: Address,
    ) -> DeliveryResult<intake::KeyStatus> {
        let keys = self.meter_keys(meter).await?;
        let status = keys.status(interval, signer);
        if status != intake::KeyStatus::Invalid || signer == Address::ZERO {
            return Ok(status);
        }
        // Refusals only: a revoked current key leaves no trace in the history, so ask the
        // registry whether the signer was ever the meter's key and is revoked.
        let e = MeterRegistry::new(self.inner.contracts.registry, &self.inner.provider)
            .epochOf(meter, signer)
            .call()
            .await?;
        Ok(if e.installed && e.revoked {
            intake::KeyStatus::Revoked
        } else {
            status
        })
    }

    /// Drops a meter's cached keys (a rotation or revocation was indexed).
    fn forget_keys(&self, meter: B256) {
        self.inner.keys.forget(&meter);
    }

    async fn meter_keys(&self, meter: B256) -> DeliveryResult<Arc<MeterKeys>> {
        if let Some(v) = self.inner.keys.fresh(&meter) {
            return Ok(v);
        }
        let registry = MeterRegistry::new(self.inner.contracts.registry, &self.inner.provider);
        let m = registry.meter(meter).call().await?;
        let mut past = Vec::new();
        for k in registry.gatewayHistory(meter).call().await? {
            let revoked = registry.isRevoked(k.gateway).call().await?;
            past.push((k.gateway, k.from, k.until, revoked));
        }
        let keys = Arc::new(MeterKeys {
            current: (m.gateway, m.gatewayFrom),
            past,
        });
        self.inner.keys.put(meter, keys.clone());
        Ok(keys)
    }

    /// A market's oracle and real-time bounds (`None`: not configured).
    async fn oracle_of(&self, market: B256) -> DeliveryResult<Option<Oracle>> {
        if let Some(v) = self.inner.oracles.fresh(&market) {
            return Ok(v);
        }
        let cfg = DeliverySettlement::new(self.inner.contracts.settlement, &self.inner.provider)
            .marketConfig(market)
            .call()
            .await?;
        let v = (cfg.token != Address::ZERO).then_some((cfg.oracle, cfg.rtFloor, cfg.rtCap));
        self.inner.oracles.put(market, v);
        Ok(v)
    }

    /// One pass of the delivery loop: index the registry, take pending readings and prices
    /// on-chain, settle every interval whose reading deadline has passed, resettle what
    /// changed after settlement, issue due certificate hours and move them along the hours'
    /// fills from the sellers that approved the operator ([`Self::move_due`]). Every step is
    /// recorded, so a pass cut short anywhere is finished by the next one (after a restart
    /// too), and none is done twice.
    pub async fn run_once(&self) -> DeliveryResult<Pass> {
        let mut pass = Pass {
            meters: self.index_registry().await?,
            ..Pass::default()
        };
        // One look at the chain's clock per pass: what is pushed, settled and issued now.
        let now = self.latest_time().await?;
        let (r, refused) = self.push_readings(now).await?;
        pass.readings = r;
        pass.refused = refused;
        pass.prices = self.push_prices(now).await?;
        for m in self.inner.markets.clone() {
            pass.settled.extend(self.settle_due(m, now).await?);
        }
        pass.resettled = self.resettle_queued(now).await?;
        for m in self.inner.markets.clone() {
            pass.issued.extend(self.issue_due(m, now).await?);
        }
        for m in self.inner.markets.clone() {
            pass.moved.extend(self.move_due(m, now).await?);
        }
        Ok(pass)
    }

    /// Indexes the registry's `MeterRegistered` and `MeterOwnerChanged` events up to the
    /// confirmed head; returns the meters added.
    async fn index_registry(&self) -> DeliveryResult<usize> {
        let store = &self.inner.store;
        let head = self
            .inner
            .provider
            .get_block_number()
            .await?
            .saturating_sub(self.inner.confirmations);
        let mut from = store
            .cursor(REGISTRY_CURSOR)
            .await?
            .unwrap_or(self.inner.start_block);
        let registry = MeterRegistry::new(self.inner.contracts.registry, &self.inner.provider);
        let mut added = 0;
        while from <= head {
            let to = head.min(from + LOG_RANGE - 1);
            let filter = Filter::new()
                .address(self.inner.contracts.registry)
                .event_signature(vec![
                    MeterRegistry::MeterRegistered::SIGNATURE_HASH,
                    MeterRegistry::MeterOwnerChanged::SIGNATURE_HASH,
                    MeterRegistry::GatewayRotated::SIGNATURE_HASH,
                    MeterRegistry::GatewayRevoked::SIGNATURE_HASH,
                ])
                .from_block(from)
                .to_block(to);
            let logs = self.inner.provider.get_logs(&filter).await?;
            let (mut meters, mut owners) = (Vec::new(), Vec::new());
            for log in &logs {
                if let Ok(e) = log.log_decode::<MeterRegistry::MeterRegistered>() {
                    let id = e.inner.meterId;
                    let m = registry.meter(id).call().await?;
                    // Certificate eligible: a generator of a renewable source (the
                    // certificates contract refuses None, Storage and Other).
                    meters.push(MeterRow {
                        meter: id,
                        market: m.market,
                        generator: m.generator && (1..=5).contains(&m.source),
                    });
                    owners.push((id, e.inner.owner));
                } else if let Ok(e) = log.log_decode::<MeterRegistry::MeterOwnerChanged>() {
                    owners.push((e.inner.meterId, e.inner.oldOwner));
                    owners.push((e.inner.meterId, e.inner.newOwner));
                } else if let Ok(e) = log.log_decode::<MeterRegistry::GatewayRevoked>() {
                    self.forget_keys(e.inner.meterId);
                } else if let Ok(e) = log.log_decode::<MeterRegistry::GatewayRotated>() {
                    self.forget_keys(e.inner.meterId);
                }
            }
            added += meters.len();
            store.record_meters(&meters, &owners, to + 1).await?;
            from = to + 1;
        }
        Ok(added)
    }

    /// Takes pending readings on-chain in paired batches (the client groups the two intervals
    /// of a storage slot); returns (readings now on-chain, readings the chain refused).
    async fn push_readings(&self, now: u64) -> DeliveryResult<(usize, usize)> {
        let store = &self.inner.store;
        let mut rows = store.pending_readings(READINGS_PER_PASS).await?;
        // A full batch goes as it is: held readings must never crowd out the rest.
        if rows.len() < READINGS_PER_PASS {
            rows = self.without_held(rows, now).await?;
        }
        if rows.is_empty() {
            return Ok((0, 0));
        }
        let signed: Vec<SignedReading> = rows.iter().filter_map(signed_reading).collect();
        let len = self.inner.interval_length;
        let key = |r: &MeterReading| (r.meterId, r.interval, r.revision);
        match self.inner.client.submit_readings(&signed).await {
            Ok(report) => {
                let refused: Vec<_> = report.refused.iter().map(|(m, i, _)| (*m, *i)).collect();
                let on: Vec<_> = signed
                    .iter()
                    .map(|s| key(&s.reading))
                    .filter(|(m, i, _)| !refused.contains(&(*m, *i)))
                    .collect();
                store
                    .mark_readings(&on, RecordState::Onchain, None, len, now)
                    .await?;
                for (m, i, why) in &report.refused {
                    let k: Vec<_> = signed
                        .iter()
                        .map(|s| key(&s.reading))
                        .filter(|(mm, ii, _)| mm == m && ii == i)
                        .collect();
                    tracing::warn!(meter = %m, interval = i, reason = %why, "the chain refused an accepted reading");
                    store
                        .mark_readings(&k, RecordState::Refused, Some(why), len, now)
                        .await?;
                }
                Ok((on.len(), report.refused.len()))
            }
            Err(ChainError::Revert { reason, .. }) => {
                // One reading of the batch fails on-chain (a key revoked since intake, a
                // window closed): send them one by one and refuse only the failing ones.
                tracing::warn!(%reason, "a reading batch reverts; sending one by one");
                let (mut on, mut refused) = (0, 0);
                for s in &signed {
                    match self
                        .inner
                        .client
                        .submit_readings(std::slice::from_ref(s))
                        .await
                    {
                        Ok(_) => {
                            store
                                .mark_readings(
                                    &[key(&s.reading)],
                                    RecordState::Onchain,
                                    None,
                                    len,
                                    now,
                                )
                                .await?;
                            on += 1;
                        }
                        Err(ChainError::Revert { reason, .. }) => {
                            store
                                .mark_readings(
                                    &[key(&s.reading)],
                                    RecordState::Refused,
                                    Some(&reason),
                                    len,
                                    now,
                                )
                                .await?;
                            refused += 1;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok((on, refused))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Leaves out the lone first readings of even intervals that may still wait for their
    /// partner interval ([`hold_until`]); the rest go now.
    async fn without_held(
        &self,
        rows: Vec<ReadingRow>,
        now: u64,
    ) -> DeliveryResult<Vec<ReadingRow>> {
        let (len, window) = (self.inner.interval_length, u64::from(self.inner.windows.0));
        let here: HashSet<(B256, u64)> = rows.iter().map(|r| (r.meter, r.interval)).collect();
        let partners: Vec<(B256, u64)> = rows
            .iter()
            .filter(|r| {
                r.interval % 2 == 0
                    && r.revision == 0
                    && now < hold_until(r.interval, len, window)
                    && !here.contains(&(r.meter, r.interval + 1))
            })
            .map(|r| (r.meter, r.interval + 1))
            .collect();
        if partners.is_empty() {
            return Ok(rows);
        }
        // A partner stored before (on-chain, or pending behind a higher revision) has opened
        // the slot already: nothing to wait for.
        let known = self.inner.store.latest_readings(&partners).await?;
        let held: HashSet<(B256, u64)> = partners
            .into_iter()
            .filter(|k| !known.contains_key(k))
            .map(|(m, i)| (m, i - 1))
            .collect();
        if held.is_empty() {
            return Ok(rows);
        }
        tracing::debug!(
            held = held.len(),
            "first readings of even intervals wait for their partner interval"
        );
        Ok(rows
            .into_iter()
            .filter(|r| !(r.revision == 0 && held.contains(&(r.meter, r.interval))))
            .collect())
    }

    /// Takes pending prices on-chain; returns how many.
    async fn push_prices(&self, now: u64) -> DeliveryResult<usize> {
        let store = &self.inner.store;
        let rows = store.pending_prices(1_000).await?;
        let mut on = 0;
        for r in &rows {
            let Ok(signature) = <[u8; 65]>::try_from(r.signature.as_slice()) else {
                continue;
            };
            let p = SignedPrice {
                price: RealTimePrice {
                    market: r.market,
                    interval: r.interval,
                    price: r.price,
                    revision: r.revision,
                },
                signature,
            };
            let k = [(r.market, r.interval, r.revision)];
            match self
                .inner
                .client
                .submit_prices(std::slice::from_ref(&p))
                .await
            {
                Ok(_) => {
                    store
                        .mark_prices(&k, RecordState::Onchain, None, now)
                        .await?;
                    on += 1;
                }
                Err(ChainError::Revert { reason, .. }) => {
                    tracing::warn!(market = %r.market, interval = r.interval, %reason, "the chain refused an accepted price");
                    store
                        .mark_prices(&k, RecordState::Refused, Some(&reason), now)
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(on)
    }

    /// The accounts an interval settles: every trader with a fill, and every account that
    /// owned a meter of the market.
    async fn accounts(&self, market: B256, interval: u64) -> DeliveryResult<Vec<Address>> {
        let store = &self.inner.store;
        let mut out = store.meter_owners(market).await?;
        if let Some(b) = store.batch(market, interval).await? {
            for c in store.commitments(market, interval).await? {
                let filled = b
                    .batch
                    .fills
                    .get(c.index as usize)
                    .and_then(|w| sealgrid_types::Fill::decode(*w).ok())
                    .is_some_and(|f| {
                        matches!(f, sealgrid_types::Fill::Buy(q) | sealgrid_types::Fill::Sell(q) if q > 0)
                    });
                if filled {
                    out.push(c.trader);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Settles every interval of `market` whose reading deadline has passed (and whose price
    /// is on-chain).
    async fn settle_due(&self, market: B256, now: u64) -> DeliveryResult<Vec<(B256, u64, usize)>> {
        let store = &self.inner.store;
        let len = self.inner.interval_length;
        let (reading, trueup) = (
            u64::from(self.inner.windows.0),
            u64::from(self.inner.windows.1),
        );
        // The last interval whose deadline has passed.
        let Some(last) = (now.saturating_sub(reading) / len).checked_sub(1) else {
            return Ok(Vec::new());
        };
        let mut done = Vec::new();
        for interval in store.unsettled_intervals(market, last).await? {
            if now > (interval + 1) * len + trueup {
                continue; // final: nothing can be settled any more
            }
            let price = self.inner.client.price_of(market, interval).await?;
            if price.is_none() {
                tracing::debug!(market = %market, interval, "reading deadline passed without a real-time price; settlement waits for the oracle");
                continue;
            }
            let accounts = self.accounts(market, interval).await?;
            let before = store.start_settle(market, interval, now).await?;
            failpoint("delivery_after_start_settle");
            self.inner
                .client
                .settle(market, interval, &accounts)
                .await?;
            failpoint("delivery_after_settle");
            let hour = interval * len / 3600;
            store
                .finish_settle(market, interval, &accounts, before.is_some(), hour, now)
                .await?;
            tracing::info!(market = %market, interval, accounts = accounts.len(), "delivery settled");
            crate::metrics::settled(crate::metrics::seconds_since(
                (interval + 1) * len + reading,
            ));
            done.push((market, interval, accounts.len()));
        }
        Ok(done)
    }

    /// Resettles queued accounts (within the true-up window); returns per interval the accounts
    /// whose settlement changed.
    async fn resettle_queued(&self, now: u64) -> DeliveryResult<Vec<(B256, u64, usize)>> {
        let store = &self.inner.store;
        let (len, trueup) = (self.inner.interval_length, u64::from(self.inner.windows.1));
        let mut done = Vec::new();
        for (market, interval, accounts, queued_at) in store.resettle_queue().await? {
            if now > (interval + 1) * len + trueup {
                tracing::warn!(market = %market, interval, "true-up window closed with resettlements queued; dropped");
                store.clear_resettle(market, interval, &accounts).await?;
                continue;
            }
            let (changed, _) = self
                .inner
                .client
                .resettle(market, interval, &accounts)
                .await?;
            failpoint("delivery_after_resettle");
            store.clear_resettle(market, interval, &accounts).await?;
            tracing::info!(market = %market, interval, changed, "resettled");
            crate::metrics::resettled(crate::metrics::seconds_since(queued_at));
            done.push((market, interval, changed));
        }
        Ok(done)
    }

    /// Issues the certificates of every hour of `market` with a newly settled interval or a
    /// late generator reading (the contract mints what the hour's due readings verify beyond
    /// what it issued before, so a repeated issuance mints nothing).
    async fn issue_due(&self, market: B256, now: u64) -> DeliveryResult<Vec<(B256, u64, u128)>> {
        let store = &self.inner.store;
        let mut done = Vec::new();
        let generators = store.generators(market).await?;
        for hour in store.hours_to_issue(market).await? {
            let minted = if generators.is_empty() {
                0
            } else {
                self.inner
                    .client
                    .issue_certificates(&generators, hour)
                    .await?
                    .0
            };
            failpoint("delivery_after_issue");
            let total = if generators.is_empty() {
                0
            } else {
                self.inner.client.issued_wh(&generators, hour).await?
            };
            store.mark_issued(market, hour, total, now).await?;
            tracing::info!(market = %market, hour, minted, total, "certificates issued");
            done.push((market, hour, minted));
        }
        Ok(done)
    }
}

/// A meter's gateway keys as the registry holds them.
#[derive(Debug)]
struct MeterKeys {
    /// The current key and its first interval (zero address after a revocation).
    current: (Address, u64),
    /// Past keys: (key, first interval, end interval exclusive, revoked).
    past: Vec<(Address, u64, u64, bool)>,
}

impl MeterKeys {
    fn status(&self, interval: u64, signer: Address) -> intake::KeyStatus {
        use intake::KeyStatus;
        if signer == Address::ZERO {
            return KeyStatus::Invalid;
        }
        let (cur, from) = self.current;
        if cur == signer {
            return if interval >= from {
                KeyStatus::Valid
            } else {
                KeyStatus::Invalid
            };
        }
        for (k, from, until, revoked) in self.past.iter().rev() {
            if *k != signer {
                continue;
            }
            if *revoked {
                return KeyStatus::Revoked;
            }
            if interval >= *from && interval < *until {
                return KeyStatus::Valid;
            }
        }
        KeyStatus::Invalid
    }
}

fn signed_reading(r: &ReadingRow) -> Option<SignedReading> {
    Some(SignedReading {
        reading: MeterReading {
            meterId: r.meter,
            interval: r.interval,
            importWh: r.import_wh,
            exportWh: r.export_wh,
            quality: r.quality,
            revision: r.revision,
        },
        signature: <[u8; 65]>::try_from(r.signature.as_slice()).ok()?,
    })
}

/// Named crash points for the restart tests: with `SEALGRID_FAILPOINT=<name>` the process exits
/// (code 86) there, as a power cut would stop it.
fn failpoint(name: &str) {
    if std::env::var("SEALGRID_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: exiting");
        std::process::exit(86);
    }
}

#[cfg(test)]
mod tests {
    use super::{PAIR_MARGIN, hold_until};

    #[test]
    fn an_even_interval_waits_for_its_partner_but_never_into_the_deadline() {
        // 5-minute intervals, readings due 15 minutes after the end: interval 10 ends at 3300,
        // its partner at 3600, its deadline is 4200.
        assert_eq!(hold_until(10, 300, 900), 3600 + PAIR_MARGIN);
        // An hour's window changes nothing: the partner's end comes first.
        assert_eq!(hold_until(10, 300, 3600), 3600 + PAIR_MARGIN);
        // A window shorter than the partner interval: released before the deadline.
        assert_eq!(hold_until(10, 300, 300), 3300 + 300 - PAIR_MARGIN);
        // A window shorter than the margin: nothing waits (the hold ends before the
        // interval itself has ended, before any reading of it can arrive).
        assert!(hold_until(10, 300, 60) < 11 * 300);
        // Far intervals saturate instead of wrapping.
        assert_eq!(hold_until(u64::MAX - 1, 300, 900), u64::MAX - PAIR_MARGIN);
    }
}
