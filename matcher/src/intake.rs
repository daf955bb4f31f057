//! Checking and storing signed orders: everything between a request body and a receipt.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct};
use sealgrid_chain::{AuctionReader, MarketInfo};
use sealgrid_store::{CommitmentRow, InsertOutcome, Store, StoreError, StoredOrder};
use sealgrid_types::{
    Order, Receipt, Side, TypesError, order_commitment, recover_order_signer, required_lock,
    sealgrid_domain, sign_struct,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::{Clock, IntakeError, Metrics, indexer::Indexer};

/// An order as a wallet submits it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubmitOrder {
    /// The EIP-712 domain the wallet signed in, if the client sends it (checked field by field
    /// for a precise error; the signature is checked against the matcher's own domain anyway).
    #[serde(default)]
    pub domain: Option<SignedDomain>,
    /// The order.
    pub order: Order,
    /// The 65-byte `r ‖ s ‖ v` signature, or an ERC-1271 signature of a contract account.
    pub signature: Bytes,
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

/// Intake limits.
#[derive(Clone, Copy, Debug)]
pub struct IntakeLimits {
    /// Orders per account allowed in a burst.
    pub burst: u64,
    /// Sustained orders per second per account.
    pub per_second: u64,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            burst: 256,
            per_second: 64,
        }
    }
}

/// A token bucket per account, in thousandths of an order.
#[derive(Debug)]
struct RateLimiter {
    limits: IntakeLimits,
    started: Instant,
    buckets: Mutex<HashMap<Address, (u64, u64)>>,
}

impl RateLimiter {
    fn new(limits: IntakeLimits) -> Self {
        Self {
            limits,
            started: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn allow(&self, who: Address) -> bool {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let cap = self.limits.burst.saturating_mul(1000);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget accounts whose bucket is full again; they lose nothing.
            buckets.retain(|_, (tokens, at)| {
                tokens.saturating_add(
                    now_ms
                        .saturating_sub(*at)
                        .saturating_mul(self.limits.per_second),
                ) < cap
            });
        }
        let (tokens, at) = buckets.entry(who).or_insert((cap, now_ms));
        *tokens = tokens
            .saturating_add(
                now_ms
                    .saturating_sub(*at)
                    .saturating_mul(self.limits.per_second),
            )
            .min(cap);
        *at = now_ms;
        if *tokens >= 1000 {
            *tokens -= 1000;
            true
        } else {
            false
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
    operator: PrivateKeySigner,
    domain: Eip712Domain,
    clock: Arc<dyn Clock>,
    markets: std::sync::RwLock<HashMap<B256, MarketInfo>>,
    limiter: RateLimiter,
    /// Held shared while an order is checked and stored, exclusively by the scheduler while it
    /// closes an interval: an order either lands before the batch is read or sees the gate.
    pub(crate) closing: RwLock<()>,
    metrics: Arc<Metrics>,
}

impl Intake {
    /// Builds the pipeline.
    pub fn new(
        chain: AuctionReader,
        store: Store,
        indexer: Arc<Indexer>,
        operator: PrivateKeySigner,
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
                operator,
                domain,
                clock,
                markets: std::sync::RwLock::new(HashMap::new()),
                limiter: RateLimiter::new(limits),
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

    /// Checks one order and stores it with a receipt, or says why not.
    pub async fn submit(&self, req: SubmitOrder) -> Result<Accepted, IntakeError> {
        let mut out = self.submit_batch(vec![req]).await;
        out.pop()
            .unwrap_or_else(|| Err(IntakeError::Unavailable("no result".into())))
    }

    /// Checks many orders and stores the good ones in one transaction; one result per order,
    /// in order. Each order is judged on its own (a bad one does not affect the others).
    ///
    /// The CPU work (EIP-712 hashing, signature recovery, Poseidon, receipt signing) runs on
    /// all cores; the store sees one write transaction for the whole batch.
    pub async fn submit_batch(&self, reqs: Vec<SubmitOrder>) -> Vec<Result<Accepted, IntakeError>> {
        let results = self.submit_batch_inner(reqs).await;
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
        reqs: Vec<SubmitOrder>,
    ) -> Vec<Result<Accepted, IntakeError>> {
        let n = reqs.len();
        let inner = &self.inner;
        let domain = inner.domain.clone();
        let (chain_id, auction) = (inner.chain.chain_id(), inner.chain.address());

        // 1. CPU, in parallel: domain, digest, signature recovery, commitment.
        let prepared =
            parallel_map(reqs, move |req| prepare(req, &domain, chain_id, auction)).await;

        // 2. Per order, in order: signature verdict, rate, resubmission, market, fields, gate,
        //    the on-chain commitment and its lock. Held open against the scheduler until the
        //    orders are stored.
        let _open = inner.closing.read().await;
        let mut results: Vec<Option<Result<Accepted, IntakeError>>> =
            (0..n).map(|_| None).collect();
        let mut pending: Vec<(usize, StoredOrder, Receipt)> = Vec::new();
        // 2a. Signature verdicts and rates, then one set query for resubmissions.
        let mut live: Vec<(usize, Prepared)> = Vec::with_capacity(n);
        for (k, p) in prepared.into_iter().enumerate() {
            match self.authenticate(p).await {
                Ok(p) => live.push((k, p)),
                Err(e) => results[k] = Some(Err(e)),
            }
        }
        let digests: Vec<B256> = live.iter().map(|(_, p)| p.digest).collect();
        let stored: HashMap<B256, StoredOrder> = match inner.store.orders_by_digest(&digests).await
        {
            Ok(v) => v.into_iter().map(|o| (o.digest, o)).collect(),
            Err(e) => return fail_all(n, results, &unavailable(e)),
        };
        // 2b. Market, fields, gate: no store access.
        let mut candidates: Vec<(usize, Prepared, Side, B256, u64)> =
            Vec::with_capacity(live.len());
        for (k, p) in live {
            if let Some(prev) = stored.get(&p.digest) {
                results[k] = Some(Ok(self.accepted("duplicate", prev)));
                continue;
            }
            match self.check_fields(&p).await {
                Ok((side, commitment, now)) => candidates.push((k, p, side, commitment, now)),
                Err(e) => results[k] = Some(Err(e)),
            }
        }
        // 2c. The on-chain commitments, one set query per (market, interval); a miss syncs the
        //     indexer once for the whole batch and looks again.
        let mut found = match self.lookup(&candidates).await {
            Ok(f) => f,
            Err(e) => return fail_all(n, results, &e),
        };
        if candidates.iter().any(|(_, p, _, c, _)| {
            !found.contains_key(&(p.order.market, p.order.interval, *c, p.order.trader))
        }) {
            if let Err(e) = inner.indexer.sync().await {
                return fail_all(n, results, &IntakeError::Unavailable(e.to_string()));
            }
            found = match self.lookup(&candidates).await {
                Ok(f) => f,
                Err(e) => return fail_all(n, results, &e),
            };
        }
        for (k, p, side, commitment, now) in candidates {
            let o = &p.order;
            let row = found.get(&(o.market, o.interval, commitment, o.trader));
            let verdict = match row {
                None => Err(IntakeError::CommitmentNotFound {
                    trader: o.trader,
                    interval: o.interval,
                    commitment,
                }),
                Some(c) if c.withdrawn => Err(IntakeError::CommitmentWithdrawn { index: c.index }),
                Some(c) => {
                    let required = required_lock(side, o.quantityWh, o.limitPrice);
                    if c.lock < required {
                        Err(IntakeError::InsufficientLock {
                            lock: c.lock,
                            required,
                        })
                    } else {
                        Ok(c.index)
                    }
                }
            };
            match verdict {
                Ok(index) => {
                    let receipt = Receipt {
                        market: o.market,
                        interval: o.interval,
                        index,
                        commitment,
                    };
                    let stored = StoredOrder {
                        digest: p.digest,
                        market: o.market,
                        interval: o.interval,
                        index,
                        trader: o.trader,
                        side: o.side,
                        quantity_wh: o.quantityWh,
                        limit_price: o.limitPrice,
                        nonce: o.nonce,
                        salt: o.salt,
                        commitment,
                        signature: p.signature.clone(),
                        receipt_signature: Bytes::new(),
                        received_at: now,
                    };
                    pending.push((k, stored, receipt));
                }
                Err(e) => results[k] = Some(Err(e)),
            }
        }

        // 3. CPU, in parallel: the operator signs the receipts.
        let operator = inner.operator.clone();
        let domain = inner.domain.clone();
        let signed = parallel_map(pending, move |(k, mut o, r)| {
            let sig = sign_struct(&operator, &r, &domain);
            sig.map(|s| {
                o.receipt_signature = Bytes::from(s.to_vec());
                (k, o)
            })
            .map_err(|e| {
                (
                    k,
                    IntakeError::Unavailable(format!("signing the receipt: {e}")),
                )
            })
        })
        .await;
        let mut to_store = Vec::with_capacity(signed.len());
        for s in signed {
            match s {
                Ok(ko) => to_store.push(ko),
                Err((k, e)) => results[k] = Some(Err(e)),
            }
        }

        // 4. One transaction for the batch.
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
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(IntakeError::Unavailable("order not processed".into())))
            })
            .collect()
    }

    /// Step 2a for one order: the signature is the trader's (EOA, else ERC-1271), and the
    /// trader is within its rate.
    async fn authenticate(
        &self,
        p: Result<Prepared, IntakeError>,
    ) -> Result<Prepared, IntakeError> {
        let inner = &self.inner;
        let p = p?;
        let order = &p.order;
        match &p.signer {
            Ok(signer) if *signer == order.trader => {}
            other => {
                let valid = inner
                    .chain
                    .is_valid_signature(order.trader, p.digest, p.signature.clone())
                    .await
                    .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
                if !valid {
                    return Err(IntakeError::BadSignature(match other {
                        Ok(signer) => format!("recovers to {signer}, not {}", order.trader),
                        Err(e) => e.to_string(),
                    }));
                }
            }
        }
        if !inner.limiter.allow(order.trader) {
            return Err(IntakeError::RateLimited(order.trader));
        }
        Ok(p)
    }

    /// Step 2b for one order: market, field ranges, gate. Returns side, commitment and now.
    async fn check_fields(&self, p: &Prepared) -> Result<(Side, B256, u64), IntakeError> {
        let order = &p.order;
        let market = self.market(order.market).await?;
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
        Ok((side, *commitment, now))
    }

    /// Step 2c: the traders' own commitments among the candidates', keyed by
    /// `(market, interval, commitment, trader)` (the lowest index if a trader committed the
    /// same value twice).
    async fn lookup(
        &self,
        candidates: &[(usize, Prepared, Side, B256, u64)],
    ) -> Result<HashMap<(B256, u64, B256, Address), CommitmentRow>, IntakeError> {
        let mut groups: HashMap<(B256, u64), Vec<B256>> = HashMap::new();
        for (_, p, _, c, _) in candidates {
            groups
                .entry((p.order.market, p.order.interval))
                .or_default()
                .push(*c);
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
    fn rate_limiter_allows_burst_then_refuses() {
        let l = RateLimiter::new(IntakeLimits {
            burst: 3,
            per_second: 0,
        });
        let a = Address::repeat_byte(1);
        assert!(l.allow(a) && l.allow(a) && l.allow(a));
        assert!(!l.allow(a), "burst spent, no refill");
        assert!(l.allow(Address::repeat_byte(2)), "buckets are per account");
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
            IntakeError::Unavailable(String::new()),
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(IntakeError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|e| (400..600).contains(&e.status())));
    }
}
