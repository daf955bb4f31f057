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
use sealgrid_store::{InsertOutcome, Store, StoreError, StoredOrder};
use sealgrid_types::{
    Order, Receipt, TypesError, order_commitment, recover_order_signer, required_lock,
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
        let r = self.submit_inner(req).await;
        self.inner.metrics.record_intake(
            r.as_ref()
                .map(|a| a.status.as_str())
                .map_err(IntakeError::code),
        );
        r
    }

    async fn submit_inner(&self, req: SubmitOrder) -> Result<Accepted, IntakeError> {
        let inner = &self.inner;
        if let Some(d) = &req.domain {
            self.check_domain(d)?;
        }
        let order = req.order;
        // Signature first: nothing below runs for a request the trader did not sign.
        let digest = order.eip712_signing_hash(&inner.domain);
        let eoa = recover_order_signer(&order, &inner.domain, &req.signature);
        match eoa {
            Ok(signer) if signer == order.trader => {}
            other => {
                let valid = inner
                    .chain
                    .is_valid_signature(order.trader, digest, req.signature.clone())
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
        // Resubmission of a stored order: the same receipt, whatever time it is now.
        if let Some(stored) = inner.store.order(digest).await.map_err(unavailable)? {
            return Ok(self.accepted("duplicate", &stored));
        }

        let market = self.market(order.market).await?;
        if !market.is_open() {
            return Err(IntakeError::MarketClosed(order.market));
        }
        order.validate(&market.bounds).map_err(field_error)?;
        let side = order.order_side().map_err(field_error)?;
        let gate = market
            .timing
            .gate(order.interval)
            .map_err(|_| IntakeError::IntervalClosed {
                interval: order.interval,
                gate: 0,
                now: inner.clock.now(),
            })?;
        let commitment = order_commitment(&order).map_err(field_error)?;

        let _open = inner.closing.read().await;
        let now = inner.clock.now();
        if now >= gate {
            return Err(IntakeError::IntervalClosed {
                interval: order.interval,
                gate,
                now,
            });
        }
        let mut found = inner
            .store
            .find_commitment(order.market, order.interval, commitment, order.trader)
            .await
            .map_err(unavailable)?;
        if found.is_none() {
            // The commit may be newer than the indexer's last pass.
            inner
                .indexer
                .sync()
                .await
                .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
            found = inner
                .store
                .find_commitment(order.market, order.interval, commitment, order.trader)
                .await
                .map_err(unavailable)?;
        }
        let c = found.ok_or(IntakeError::CommitmentNotFound {
            trader: order.trader,
            interval: order.interval,
            commitment,
        })?;
        if c.withdrawn {
            return Err(IntakeError::CommitmentWithdrawn { index: c.index });
        }
        let required = required_lock(side, order.quantityWh, order.limitPrice);
        if c.lock < required {
            return Err(IntakeError::InsufficientLock {
                lock: c.lock,
                required,
            });
        }

        let receipt = Receipt {
            market: order.market,
            interval: order.interval,
            index: c.index,
            commitment,
        };
        let receipt_signature = sign_struct(&inner.operator, &receipt, &inner.domain)
            .map_err(|e| IntakeError::Unavailable(format!("signing the receipt: {e}")))?;
        let stored = StoredOrder {
            digest,
            market: order.market,
            interval: order.interval,
            index: c.index,
            trader: order.trader,
            side: order.side,
            quantity_wh: order.quantityWh,
            limit_price: order.limitPrice,
            nonce: order.nonce,
            salt: order.salt,
            commitment,
            signature: req.signature,
            receipt_signature: Bytes::from(receipt_signature.to_vec()),
            received_at: now,
        };
        match inner.store.insert_order(&stored).await {
            Ok(InsertOutcome::Inserted) => Ok(self.accepted("accepted", &stored)),
            Ok(InsertOutcome::Existing(prev)) => Ok(self.accepted("duplicate", &prev)),
            Err(StoreError::NonceReused {
                nonce, existing, ..
            }) => Err(IntakeError::NonceReused { nonce, existing }),
            Err(StoreError::IndexTaken { index, .. }) => Err(IntakeError::AlreadyOpened { index }),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn check_domain(&self, d: &SignedDomain) -> Result<(), IntakeError> {
        if d.name != "sealgrid" || d.version != "1" {
            return Err(IntakeError::WrongDomain);
        }
        let expected = self.inner.chain.chain_id();
        let got = parse_chain_id(&d.chain_id).ok_or_else(|| {
            IntakeError::Malformed(format!("domain.chainId `{}` is not a chain id", d.chain_id))
        })?;
        if got != U256::from(expected) {
            return Err(IntakeError::WrongChainId {
                got: got.saturating_to(),
                expected,
            });
        }
        if d.verifying_contract != self.inner.chain.address() {
            return Err(IntakeError::WrongVerifyingContract {
                got: d.verifying_contract,
                expected: self.inner.chain.address(),
            });
        }
        Ok(())
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

fn field_error(e: TypesError) -> IntakeError {
    match e {
        TypesError::PriceOutOfBounds { price, floor, cap } => {
            IntakeError::PriceOutOfBounds { price, floor, cap }
        }
        other => IntakeError::InvalidField(other.to_string()),
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
