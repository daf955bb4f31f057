//! Checking and storing signed orders: everything between a request body and a receipt.
//!
//! No request can hold up the gate or other requests: everything that may wait on the chain
//! (market look-ups, an indexer sync for a commitment not yet seen, ERC-1271 checks) runs before
//! the gate lock is taken, is charged to the client's chain-call budget before it is done, and
//! ERC-1271 calls are bounded in gas and time and only made for a trader that has a matching
//! commitment on-chain. Under the gate lock only the gate itself is checked again and the batch
//! is stored.

use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{Eip712Domain, SolStruct};
use sealgrid_chain::{AuctionReader, MarketInfo};
use sealgrid_keys::KeySigner;
use sealgrid_store::{CommitmentRow, InsertOutcome, Store, StoreError, StoredOrder};
use sealgrid_types::{
    Order, Receipt, Side, TypesError, order_commitment, recover_order_signer, required_lock,
    sealgrid_domain, sign_struct,
};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use tokio::sync::RwLock;

use crate::{Clock, IntakeError, Metrics, error::ClientLimit, indexer::Indexer};
use sealgrid_types::TokenBuckets;

/// An order as a wallet submits it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubmitOrder {
    /// The EIP-712 domain the wallet signed in, if the client sends it (checked field by field
    /// for a precise error; the signature is checked against the matcher's own domain anyway).
    #[serde(default)]
    pub domain: Option<SignedDomain>,
    /// The order (unknown fields are refused, as at the top level).
    #[serde(deserialize_with = "strict_order")]
    pub order: Order,
    /// The 65-byte `r ‖ s ‖ v` signature, or an ERC-1271 signature of a contract account.
    pub signature: Bytes,
}

/// The JSON fields of an [`Order`] (its EIP-712 fields).
const ORDER_FIELDS: &[&str] = &[
    "trader",
    "market",
    "interval",
    "side",
    "quantityWh",
    "limitPrice",
    "nonce",
    "salt",
];

/// An [`Order`] whose JSON object has no field besides [`ORDER_FIELDS`].
fn strict_order<'de, D: Deserializer<'de>>(d: D) -> Result<Order, D::Error> {
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    if let Some(k) = map.keys().find(|k| !ORDER_FIELDS.contains(&k.as_str())) {
        return Err(D::Error::unknown_field(k, ORDER_FIELDS));
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(D::Error::custom)
}

/// The domain fields of a typed-data signature request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignedDomain {
    /// Must be `sealgrid`.
    pub name: String,
    /// Must be `1`.
    pub version: String,
    /// Chain id, as a number or a decimal / 0x-hex string.
    pub chain_id: serde_json::Value,
    /// The auction.
    pub verifying_contract: Address,
}

/// What intake answers for an accepted order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// `accepted` the first time, `duplicate` when the same order was accepted before.
    pub status: String,
    /// EIP-712 digest of the order.
    pub digest: B256,
    /// The receipt (EIP-712 `Receipt` in the auction's domain).
    pub receipt: ReceiptJson,
    /// The operator's signature over the receipt.
    pub operator_signature: Bytes,
    /// The operator's address.
    pub operator: Address,
}

/// The receipt fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptJson {
    /// The market.
    pub market: B256,
    /// The interval.
    pub interval: u64,
    /// The commitment index the order opens.
    pub index: u32,
    /// The commitment.
    pub commitment: B256,
}

/// Intake limits: per trader, and the chain work per client (network address).
#[derive(Clone, Copy, Debug)]
pub struct IntakeLimits {
    /// Orders per account allowed in a burst.
    pub burst: u64,
    /// Sustained orders per second per account.
    pub per_second: u64,
    /// Chain calls one client's orders may cause in a burst (market look-ups, indexer syncs for
    /// commitments not yet indexed, ERC-1271 checks).
    pub client_chain_burst: u64,
    /// Sustained chain calls per second per client.
    pub client_chain_per_second: u64,
    /// Gas given to one ERC-1271 `isValidSignature` call.
    pub erc1271_gas: u64,
    /// Time given to one ERC-1271 call; past it the signature counts as not valid.
    pub erc1271_timeout: Duration,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            burst: 256,
            per_second: 64,
            client_chain_burst: 32,
            client_chain_per_second: 8,
            erc1271_gas: 200_000,
            erc1271_timeout: Duration::from_secs(2),
        }
    }
}

/// Chain calls charged for one indexer sync (the head, and the logs of the new blocks).
const SYNC_CALLS: u64 = 2;

/// The chain calls a client may still cause: charged before each call; `None` is an
/// in-process caller, not limited.
struct Budget<'a> {
    buckets: &'a TokenBuckets<IpAddr>,
    client: Option<IpAddr>,
}

impl Budget<'_> {
    fn take(&self, calls: u64) -> Result<(), IntakeError> {
        match self.client {
            Some(client) if !self.buckets.allow_n(client, calls) => {
                Err(IntakeError::ClientRateLimited {
                    client,
                    limit: ClientLimit::ChainCalls,
                })
            }
            _ => Ok(()),
        }
    }
}

/// The intake pipeline. Cheap to clone (shared state behind `Arc`).
#[derive(Clone, Debug)]
pub struct Intake {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    chain: AuctionReader,
    store: Store,
    indexer: Arc<Indexer>,
    operator: KeySigner,
    domain: Eip712Domain,
    clock: Arc<dyn Clock>,
    markets: std::sync::RwLock<HashMap<B256, MarketInfo>>,
    limits: IntakeLimits,
    traders: TokenBuckets<Address>,
    clients: TokenBuckets<IpAddr>,
    /// Held shared while checked orders are stored (no chain access under it), exclusively by
    /// the scheduler while it closes an interval: an order either lands before the batch is read
    /// or sees the gate.
    pub(crate) closing: RwLock<()>,
    metrics: Arc<Metrics>,
}

/// An order that passed the field checks: its side, commitment and gate.
struct Candidate {
    k: usize,
    p: Prepared,
    side: Side,
    commitment: B256,
    gate: u64,
}

impl Intake {
    /// Builds the pipeline.
    pub fn new(
        chain: AuctionReader,
        store: Store,
        indexer: Arc<Indexer>,
        operator: impl Into<KeySigner>,
        clock: Arc<dyn Clock>,
        limits: IntakeLimits,
        metrics: Arc<Metrics>,
    ) -> Self {
        let domain = sealgrid_domain(chain.chain_id(), chain.address());
        Self {
            inner: Arc::new(Inner {
                chain,
                store,
                indexer,
                operator: operator.into(),
                domain,
                clock,
                markets: std::sync::RwLock::new(HashMap::new()),
                limits,
                traders: TokenBuckets::new(limits.burst, limits.per_second),
                clients: TokenBuckets::new(
                    limits.client_chain_burst,
                    limits.client_chain_per_second,
                ),
                closing: RwLock::new(()),
                metrics,
            }),
        }
    }

    /// The EIP-712 domain orders must be signed in.
    pub fn domain(&self) -> &Eip712Domain {
        &self.inner.domain
    }

    /// The operator's address (receipt signer).
    pub fn operator(&self) -> Address {
        self.inner.operator.address()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Excludes intake while the scheduler closes an interval.
    pub async fn close_for_clearing(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.inner.closing.write().await
    }

    /// A market, from the cache or the chain.
    pub async fn market(&self, id: B256) -> Result<MarketInfo, IntakeError> {
        let cached = self
            .inner
            .markets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        if let Some(m) = cached {
            return Ok(m);
        }
        let m = self
            .inner
            .chain
            .market(id)
            .await
            .map_err(|e| IntakeError::Unavailable(e.to_string()))?
            .ok_or(IntakeError::UnknownMarket(id))?;
        self.inner
            .markets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, m.clone());
        Ok(m)
    }

    /// Forgets cached market parameters (after a `MarketUpdated` / `MarketClosed`).
    pub fn forget_markets(&self) {
        self.inner
            .markets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Checks one order and stores it with a receipt, or says why not (an in-process caller:
    /// no client limits).
    pub async fn submit(&self, req: SubmitOrder) -> Result<Accepted, IntakeError> {
        self.submit_from(None, req).await
    }

    /// As [`Self::submit`], for a request from `client` (the API passes the peer's address):
    /// the chain calls the order causes are charged to that client.
    pub async fn submit_from(
        &self,
        client: Option<IpAddr>,
        req: SubmitOrder,
    ) -> Result<Accepted, IntakeError> {
        let mut out = self.submit_batch_from(client, vec![req]).await;
        out.pop()
            .unwrap_or_else(|| Err(IntakeError::Unavailable("no result".into())))
    }

    /// Checks many orders and stores the good ones in one transaction; one result per order,
    /// in order. Each order is judged on its own (a bad one does not affect the others). An
    /// in-process caller: no client limits.
    ///
    /// The CPU work (EIP-712 hashing, signature recovery, Poseidon, receipt signing) runs on
    /// all cores; the store sees one write transaction for the whole batch.
    pub async fn submit_batch(&self, reqs: Vec<SubmitOrder>) -> Vec<Result<Accepted, IntakeError>> {
        self.submit_batch_from(None, reqs).await
    }

    /// As [`Self::submit_batch`], for a request from `client`.
    pub async fn submit_batch_from(
        &self,
        client: Option<IpAddr>,
        reqs: Vec<SubmitOrder>,
    ) -> Vec<Result<Accepted, IntakeError>> {
        let results = self.submit_batch_inner(client, reqs).await;
        for r in &results {
            self.inner.metrics.record_intake(
                r.as_ref()
                    .map(|a| a.status.as_str())
                    .map_err(IntakeError::code),
            );
        }
        results
    }

    async fn submit_batch_inner(
        &self,
        client: Option<IpAddr>,
        reqs: Vec<SubmitOrder>,
    ) -> Vec<Result<Accepted, IntakeError>> {
        let arrived = tokio::time::Instant::now();
        let n = reqs.len();
        let inner = &self.inner;
        let budget = Budget {
            buckets: &inner.clients,
            client,
        };
        let domain = inner.domain.clone();
        let (chain_id, auction) = (inner.chain.chain_id(), inner.chain.address());

        // 1. CPU, in parallel: domain, digest, signature recovery, commitment.
        let prepared =
            parallel_map(reqs, move |req| prepare(req, &domain, chain_id, auction)).await;
        let mut results: Vec<Option<Result<Accepted, IntakeError>>> =
            (0..n).map(|_| None).collect();
        let mut live: Vec<(usize, Prepared)> = Vec::with_capacity(n);
        for (k, p) in prepared.into_iter().enumerate() {
            match p {
                Ok(p) => live.push((k, p)),
                Err(e) => results[k] = Some(Err(e)),
            }
        }

        // 2. Resubmissions, one set query: the stored receipt again, once the signature is the
        //    trader's (the stored order had a commitment, so a contract trader may be asked).
        let digests: Vec<B256> = live.iter().map(|(_, p)| p.digest).collect();
        let stored: HashMap<B256, StoredOrder> = match inner.store.orders_by_digest(&digests).await
        {
            Ok(v) => v.into_iter().map(|o| (o.digest, o)).collect(),
            Err(e) => return fail_all(n, results, &unavailable(e)),
        };
        let mut fresh = Vec::with_capacity(live.len());
        for (k, p) in live {
            match stored.get(&p.digest) {
                Some(prev) => {
                    results[k] = Some(
                        self.authenticate(&p, &budget)
                            .await
                            .map(|()| self.accepted("duplicate", prev)),
                    );
                }
                None => fresh.push((k, p)),
            }
        }

        // 3. Market, fields, gate: a market not cached costs one chain call (once per batch).
        let mut markets: HashMap<B256, Option<MarketInfo>> = HashMap::new();
        let mut candidates: Vec<Candidate> = Vec::with_capacity(fresh.len());
        for (k, p) in fresh {
            match self.check_fields(&p, &mut markets, &budget).await {
                Ok((side, commitment, gate)) => candidates.push(Candidate {
                    k,
                    p,
                    side,
                    commitment,
                    gate,
                }),
                Err(e) => results[k] = Some(Err(e)),
            }
        }

        // 4. The on-chain commitments, from the store: one set query per (market, interval); a
        //    miss syncs the indexer once for the batch (shared with concurrent requests, and
        //    charged to the client) and looks again.
        let mut found = match self.lookup(&candidates).await {
            Ok(f) => f,
            Err(e) => return fail_all(n, results, &e),
        };
        let missing = |found: &HashMap<_, CommitmentRow>, c: &Candidate| {
            !found.contains_key(&(
                c.p.order.market,
                c.p.order.interval,
                c.commitment,
                c.p.order.trader,
            ))
        };
        // The client's refusal when its budget could not pay for the sync.
        let mut unsynced: Option<IpAddr> = None;
        if candidates.iter().any(|c| missing(&found, c)) {
            match budget.take(SYNC_CALLS) {
                Ok(()) => {
                    if let Err(e) = inner.indexer.sync_since(arrived).await {
                        return fail_all(n, results, &IntakeError::Unavailable(e.to_string()));
                    }
                    found = match self.lookup(&candidates).await {
                        Ok(f) => f,
                        Err(e) => return fail_all(n, results, &e),
                    };
                }
                Err(_) => unsynced = client,
            }
        }

        // 5. Per order: its commitment and lock, then the signature (an EOA signature of the
        //    trader, or ERC-1271 for a trader with a matching commitment), then the trader's rate.
        let mut pending: Vec<(usize, StoredOrder, Receipt, u64)> = Vec::new();
        for c in candidates {
            let o = &c.p.order;
            let eoa = c.p.signer.as_ref().is_ok_and(|s| *s == o.trader);
            let row = found.get(&(o.market, o.interval, c.commitment, o.trader));
            let verdict = match (row, unsynced) {
                // Not indexed yet, and the client's budget does not pay for a sync.
                (None, Some(client)) => Err(IntakeError::ClientRateLimited {
                    client,
                    limit: ClientLimit::ChainCalls,
                }),
                // Not the trader's EOA signature, and no commitment of the trader to ask it
                // about: refused without a chain call.
                (None, None) if !eoa => Err(bad_signature(&c.p)),
                (None, None) => Err(IntakeError::CommitmentNotFound {
                    trader: o.trader,
                    interval: o.interval,
                    commitment: c.commitment,
                }),
                (Some(r), _) if r.withdrawn => {
                    Err(IntakeError::CommitmentWithdrawn { index: r.index })
                }
                (Some(r), _) => {
                    let required = required_lock(c.side, o.quantityWh, o.limitPrice);
                    if r.lock < required {
                        Err(IntakeError::InsufficientLock {
                            lock: r.lock,
                            required,
                        })
                    } else {
                        Ok(r.index)
                    }
                }
            };
            let verdict = match verdict {
                Ok(index) => self.authenticate(&c.p, &budget).await.map(|()| index),
                Err(e) => Err(e),
            };
            match verdict {
                Ok(index) => {
                    let receipt = Receipt {
                        market: o.market,
                        interval: o.interval,
                        index,
                        commitment: c.commitment,
                    };
                    let stored = StoredOrder {
                        digest: c.p.digest,
                        market: o.market,
                        interval: o.interval,
                        index,
                        trader: o.trader,
                        side: o.side,
                        quantity_wh: o.quantityWh,
                        limit_price: o.limitPrice,
                        nonce: o.nonce,
                        salt: o.salt,
                        commitment: c.commitment,
                        signature: c.p.signature.clone(),
                        receipt_signature: Bytes::new(),
                        received_at: 0,
                    };
                    pending.push((c.k, stored, receipt, c.gate));
                }
                Err(e) => results[c.k] = Some(Err(e)),
            }
        }

        // 6. CPU, in parallel: the operator signs the receipts.
        let operator = inner.operator.clone();
        let domain = inner.domain.clone();
        let signed = parallel_map(pending, move |(k, mut o, r, gate)| {
            let sig = sign_struct(&operator, &r, &domain);
            sig.map(|s| {
                o.receipt_signature = Bytes::from(s.to_vec());
                (k, o, gate)
            })
            .map_err(|e| {
                (
                    k,
                    IntakeError::Unavailable(format!("signing the receipt: {e}")),
                )
            })
        })
        .await;

        // 7. Under the gate lock, no chain access: the gate again, then one transaction.
        let open = inner.closing.read().await;
        let now = inner.clock.now();
        let mut to_store = Vec::with_capacity(signed.len());
        for s in signed {
            match s {
                Ok((k, o, gate)) if now >= gate => {
                    results[k] = Some(Err(IntakeError::IntervalClosed {
                        interval: o.interval,
                        gate,
                        now,
                    }));
                }
                Ok((k, mut o, _)) => {
                    o.received_at = now;
                    to_store.push((k, o));
                }
                Err((k, e)) => results[k] = Some(Err(e)),
            }
        }
        let orders: Vec<StoredOrder> = to_store.iter().map(|(_, o)| o.clone()).collect();
        match inner.store.insert_orders(&orders).await {
            Ok(outcomes) => {
                for ((k, o), outcome) in to_store.iter().zip(outcomes) {
                    results[*k] = Some(match outcome {
                        Ok(InsertOutcome::Inserted) => Ok(self.accepted("accepted", o)),
                        Ok(InsertOutcome::Existing(prev)) => Ok(self.accepted("duplicate", &prev)),
                        Err(StoreError::NonceReused {
                            nonce, existing, ..
                        }) => Err(IntakeError::NonceReused { nonce, existing }),
                        Err(StoreError::IndexTaken { index, .. }) => {
                            Err(IntakeError::AlreadyOpened { index })
                        }
                        Err(e) => Err(unavailable(e)),
                    });
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (k, _) in &to_store {
                    results[*k] = Some(Err(IntakeError::Unavailable(msg.clone())));
                }
            }
        }
        drop(open);
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(IntakeError::Unavailable("order not processed".into())))
            })
            .collect()
    }

    /// The signature is the trader's: its EOA signature, or else the trader contract's ERC-1271
    /// answer, one call bounded in gas and time and charged to the client. Then the trader's
    /// rate. Callers only ask for an order tied to the trader's on-chain commitment (or to a
    /// stored order, which had one), so a stranger's forgery never reaches the chain.
    async fn authenticate(&self, p: &Prepared, budget: &Budget<'_>) -> Result<(), IntakeError> {
        let inner = &self.inner;
        let order = &p.order;
        let eoa = p.signer.as_ref().is_ok_and(|s| *s == order.trader);
        if !eoa {
            budget.take(1)?;
            let limits = inner.limits;
            let asked = tokio::time::timeout(
                limits.erc1271_timeout,
                inner.chain.is_valid_signature(
                    order.trader,
                    p.digest,
                    p.signature.clone(),
                    limits.erc1271_gas,
                ),
            )
            .await;
            match asked {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => return Err(bad_signature(p)),
                Ok(Err(e)) => return Err(IntakeError::Unavailable(e.to_string())),
                Err(_) => {
                    return Err(IntakeError::BadSignature(format!(
                        "{} did not answer isValidSignature within {:?}",
                        order.trader, limits.erc1271_timeout
                    )));
                }
            }
        }
        if !inner.traders.allow(order.trader) {
            return Err(IntakeError::RateLimited(order.trader));
        }
        Ok(())
    }

    /// Step 3 for one order: market, field ranges, gate. Returns side, commitment and gate.
    /// A market is looked up on the chain at most once per batch, charged to the client.
    async fn check_fields(
        &self,
        p: &Prepared,
        markets: &mut HashMap<B256, Option<MarketInfo>>,
        budget: &Budget<'_>,
    ) -> Result<(Side, B256, u64), IntakeError> {
        let order = &p.order;
        let market = match markets.get(&order.market) {
            Some(Some(m)) => m.clone(),
            Some(None) => return Err(IntakeError::UnknownMarket(order.market)),
            None => {
                let cached = self
                    .inner
                    .markets
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&order.market)
                    .cloned();
                let m = match cached {
                    Some(m) => Ok(m),
                    None => {
                        budget.take(1)?;
                        self.market(order.market).await
                    }
                };
                match m {
                    Ok(m) => {
                        markets.insert(order.market, Some(m.clone()));
                        m
                    }
                    Err(e @ IntakeError::UnknownMarket(_)) => {
                        markets.insert(order.market, None);
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if !market.is_open() {
            return Err(IntakeError::MarketClosed(order.market));
        }
        order
            .validate(&market.bounds)
            .map_err(|e| field_error(&e))?;
        let side = order.order_side().map_err(|e| field_error(&e))?;
        let now = self.inner.clock.now();
        let gate = market
            .timing
            .gate(order.interval)
            .map_err(|_| IntakeError::IntervalClosed {
                interval: order.interval,
                gate: 0,
                now,
            })?;
        if now >= gate {
            return Err(IntakeError::IntervalClosed {
                interval: order.interval,
                gate,
                now,
            });
        }
        let commitment = p.commitment.as_ref().map_err(field_error)?;
        Ok((side, *commitment, gate))
    }

    /// Step 4: the traders' own commitments among the candidates', keyed by
    /// `(market, interval, commitment, trader)` (the lowest index if a trader committed the
    /// same value twice).
    async fn lookup(
        &self,
        candidates: &[Candidate],
    ) -> Result<HashMap<(B256, u64, B256, Address), CommitmentRow>, IntakeError> {
        let mut groups: HashMap<(B256, u64), Vec<B256>> = HashMap::new();
        for c in candidates {
            groups
                .entry((c.p.order.market, c.p.order.interval))
                .or_default()
                .push(c.commitment);
        }
        let mut found = HashMap::new();
        for ((market, interval), values) in groups {
            let rows = self
                .inner
                .store
                .commitments_among(market, interval, &values)
                .await
                .map_err(unavailable)?;
            for r in rows {
                found
                    .entry((market, interval, r.commitment, r.trader))
                    .or_insert(r);
            }
        }
        Ok(found)
    }

    fn accepted(&self, status: &str, o: &StoredOrder) -> Accepted {
        Accepted {
            status: status.to_owned(),
            digest: o.digest,
            receipt: ReceiptJson {
                market: o.market,
                interval: o.interval,
                index: o.index,
                commitment: o.commitment,
            },
            operator_signature: o.receipt_signature.clone(),
            operator: self.inner.operator.address(),
        }
    }
}

/// The refusal of a signature that is not the trader's.
fn bad_signature(p: &Prepared) -> IntakeError {
    IntakeError::BadSignature(match &p.signer {
        Ok(signer) => format!("recovers to {signer}, not {}", p.order.trader),
        Err(e) => e.to_string(),
    })
}

/// An order after the CPU-bound checks.
#[derive(Debug)]
struct Prepared {
    order: Order,
    signature: Bytes,
    digest: B256,
    /// The recovered EOA signer, or why recovery failed.
    signer: Result<Address, TypesError>,
    commitment: Result<B256, TypesError>,
}

/// Every unanswered order of a batch fails with `e` (the store or chain is unavailable).
fn fail_all(
    n: usize,
    mut results: Vec<Option<Result<Accepted, IntakeError>>>,
    e: &IntakeError,
) -> Vec<Result<Accepted, IntakeError>> {
    results.resize_with(n, || None);
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(IntakeError::Unavailable(e.to_string()))))
        .collect()
}

fn prepare(
    req: SubmitOrder,
    domain: &Eip712Domain,
    chain_id: u64,
    auction: Address,
) -> Result<Prepared, IntakeError> {
    if let Some(d) = &req.domain {
        check_domain(d, chain_id, auction)?;
    }
    let order = req.order;
    let digest = order.eip712_signing_hash(domain);
    let signer = recover_order_signer(&order, domain, &req.signature);
    let commitment = order_commitment(&order);
    Ok(Prepared {
        order,
        signature: req.signature,
        digest,
        signer,
        commitment,
    })
}

fn check_domain(d: &SignedDomain, expected: u64, auction: Address) -> Result<(), IntakeError> {
    if d.name != "sealgrid" || d.version != "1" {
        return Err(IntakeError::WrongDomain);
    }
    let got = parse_chain_id(&d.chain_id).ok_or_else(|| {
        IntakeError::Malformed(format!("domain.chainId `{}` is not a chain id", d.chain_id))
    })?;
    if got != U256::from(expected) {
        return Err(IntakeError::WrongChainId {
            got: got.saturating_to(),
            expected,
        });
    }
    if d.verifying_contract != auction {
        return Err(IntakeError::WrongVerifyingContract {
            got: d.verifying_contract,
            expected: auction,
        });
    }
    Ok(())
}

/// Maps `f` over `items` on the blocking pool, one chunk per core, keeping order.
async fn parallel_map<T, U, F>(items: Vec<T>, f: F) -> Vec<U>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // Small batches are not worth a thread hop each.
    if items.len() < 16 || cores == 1 {
        return items.into_iter().map(f).collect();
    }
    let f = Arc::new(f);
    let chunk = items.len().div_ceil(cores);
    let mut items = items.into_iter();
    let mut tasks = Vec::with_capacity(cores);
    loop {
        let part: Vec<T> = items.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        let f = f.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter().map(|x| f(x)).collect::<Vec<U>>()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        match t.await {
            Ok(part) => out.extend(part),
            // A panic in `f` is a bug; surface it rather than drop results silently.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

fn parse_chain_id(v: &serde_json::Value) -> Option<U256> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().map(U256::from),
        serde_json::Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => U256::from_str_radix(hex, 16).ok(),
            None => U256::from_str_radix(s, 10).ok(),
        },
        _ => None,
    }
}

fn unavailable(e: StoreError) -> IntakeError {
    IntakeError::Unavailable(e.to_string())
}

fn field_error(e: &TypesError) -> IntakeError {
    match *e {
        TypesError::PriceOutOfBounds { price, floor, cap } => {
            IntakeError::PriceOutOfBounds { price, floor, cap }
        }
        ref other => IntakeError::InvalidField(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_inside_the_order_are_refused() {
        let order = Order {
            trader: Address::repeat_byte(1),
            market: B256::with_last_byte(2),
            interval: 3,
            side: 1,
            quantityWh: 4,
            limitPrice: -5,
            nonce: 6,
            salt: B256::with_last_byte(7),
        };
        let keys: Vec<String> = match serde_json::to_value(&order) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            other => panic!("an order serialises to an object, not {other:?}"),
        };
        let mut sorted = ORDER_FIELDS.to_vec();
        sorted.sort_unstable();
        let mut got: Vec<&str> = keys.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, sorted, "ORDER_FIELDS lists the order's JSON fields");

        let sig = format!("0x{}", "11".repeat(65));
        let ok = serde_json::json!({ "order": order, "signature": sig });
        assert!(serde_json::from_value::<SubmitOrder>(ok.clone()).is_ok());
        let mut extra = ok;
        extra["order"]["limitPriceMax"] = 1.into();
        let e = serde_json::from_value::<SubmitOrder>(extra).expect_err("refused");
        assert!(
            e.to_string().contains("unknown field `limitPriceMax`"),
            "{e}"
        );
    }

    #[test]
    fn chain_ids_parse_in_every_wallet_spelling() {
        assert_eq!(
            parse_chain_id(&serde_json::json!(31337)),
            Some(U256::from(31337))
        );
        assert_eq!(
            parse_chain_id(&serde_json::json!("31337")),
            Some(U256::from(31337))
        );
        assert_eq!(
            parse_chain_id(&serde_json::json!("0x7a69")),
            Some(U256::from(31337))
        );
        assert_eq!(parse_chain_id(&serde_json::json!("x")), None);
        assert_eq!(parse_chain_id(&serde_json::json!(-1)), None);
    }

    #[test]
    fn every_error_has_a_distinct_code() {
        let a = Address::ZERO;
        let all = [
            IntakeError::Malformed(String::new()),
            IntakeError::BodyTooLarge { limit: 1 },
            IntakeError::BatchTooLarge { got: 2, limit: 1 },
            IntakeError::WrongChainId {
                got: 1,
                expected: 2,
            },
            IntakeError::WrongVerifyingContract {
                got: a,
                expected: a,
            },
            IntakeError::WrongDomain,
            IntakeError::BadSignature(String::new()),
            IntakeError::UnknownMarket(B256::ZERO),
            IntakeError::MarketClosed(B256::ZERO),
            IntakeError::IntervalClosed {
                interval: 0,
                gate: 0,
                now: 0,
            },
            IntakeError::InvalidField(String::new()),
            IntakeError::PriceOutOfBounds {
                price: 0,
                floor: 0,
                cap: 0,
            },
            IntakeError::CommitmentNotFound {
                trader: a,
                interval: 0,
                commitment: B256::ZERO,
            },
            IntakeError::CommitmentWithdrawn { index: 0 },
            IntakeError::InsufficientLock {
                lock: 0,
                required: 1,
            },
            IntakeError::NonceReused {
                nonce: 0,
                existing: B256::ZERO,
            },
            IntakeError::AlreadyOpened { index: 0 },
            IntakeError::RateLimited(a),
            IntakeError::ClientRateLimited {
                client: IpAddr::from([127, 0, 0, 1]),
                limit: ClientLimit::Orders,
            },
            IntakeError::Unavailable(String::new()),
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(IntakeError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|e| (400..600).contains(&e.status())));
    }
}
