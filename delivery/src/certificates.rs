//! Certificates along P2P fills (DESIGN 3.8): after an hour's certificates are issued, the node
//! moves each generator owner's certificates of that hour to the hour's buyers, pro rata of
//! what they bought, up to what the owner sold in the hour's fills.
//!
//! The rule ([`allocate`]): a seller passes on `min(held, sold - passed before)` Wh of its
//! own generators' certificates of the hour; each other buyer gets `floor(pass x bought /
//! total bought)` and the rounding remainder goes to the largest buyer (the lowest address on
//! a tie). Sellers opt in once with `setApprovalForAll(operator)` on the certificates
//! contract; a seller that has not is skipped (its certificates stay with it) and logged.
//!
//! Crash safety: the moves are written to the store as a plan (with the first block its
//! transactions can be in) before the first transaction. A run that finds a plan resolves it
//! from the chain first: a planned move landed if a `TransferSingle` by the operator with its
//! exact `(from, to, id, value)` is in the blocks since the plan; those count as passed on, the
//! rest are planned again from the chain's balances. While the operator has transactions in flight
//! (pending nonce above the latest) a plan is not resolved, so a transaction still in the
//! mempool cannot be doubled by a new plan.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use sealgrid_chain::{ChainError, bindings::certificates::GranularCertificates};
use sealgrid_store::BatchState;
use serde::{Deserialize, Serialize};

use crate::{DeliveryError, DeliveryResult, DeliveryService, LOG_RANGE, failpoint};

/// One planned transfer (amounts as decimal strings in the store's JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedMove {
    /// The seller (holder).
    pub from: Address,
    /// The buyer.
    pub to: Address,
    /// The certificate id (`device << 64 | hour`).
    pub id: U256,
    /// Wh.
    pub wh: u128,
}

/// What a seller can pass on for an hour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stock {
    /// The seller.
    pub seller: Address,
    /// Wh it sold in the hour's fills and has not passed on yet.
    pub remaining: u128,
    /// Its certificates of the hour, per id (its generators), in the order to draw them.
    pub held: Vec<(U256, u128)>,
}

/// The moves of one hour: every stock shared among the hour's buyers (see the module docs).
/// `bought` is Wh bought per account in the hour's fills.
pub fn allocate(bought: &BTreeMap<Address, u128>, stocks: &[Stock]) -> Vec<PlannedMove> {
    let mut moves: Vec<PlannedMove> = Vec::new();
    for s in stocks {
        let held: u128 = s.held.iter().map(|h| h.1).fold(0, u128::saturating_add);
        let pass = held.min(s.remaining);
        let buyers: Vec<(Address, u128)> = bought
            .iter()
            .filter(|(b, q)| **b != s.seller && **q > 0)
            .map(|(b, q)| (*b, *q))
            .collect();
        let total: u128 = buyers.iter().map(|b| b.1).fold(0, u128::saturating_add);
        if pass == 0 || total == 0 {
            continue;
        }
        // Shares: floor(pass * q / total) without overflow (pass, q < 2^64 in practice; the
        // division is exact in u128 for any pass, q < 2^64).
        let mut shares: Vec<(Address, u128)> = buyers
            .iter()
            .map(|(b, q)| (*b, mul_div(pass, *q, total)))
            .collect();
        let given: u128 = shares.iter().map(|x| x.1).sum();
        let largest = buyers
            .iter()
            .enumerate()
            .max_by(|(_, a), (_, b)| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(k, _)| k);
        if let Some(k) = largest {
            shares[k].1 += pass - given;
        }
        // Draw the shares from the seller's certificate ids in order.
        let mut ids = s.held.iter().copied().filter(|h| h.1 > 0);
        let mut current = ids.next();
        for (to, mut want) in shares {
            while want > 0 {
                let Some((id, left)) = current.as_mut() else {
                    break;
                };
                let take = want.min(*left);
                moves.push(PlannedMove {
                    from: s.seller,
                    to,
                    id: *id,
                    wh: take,
                });
                want -= take;
                *left -= take;
                if *left == 0 {
                    current = ids.next();
                }
            }
        }
    }
    moves
}

/// floor(a * b / c) for c > 0 and b <= c (a share), without overflow.
fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    let (q, r) = (a / c, a % c);
    // a*b/c = q*b + r*b/c, r < c and b <= c; r*b fits when both are below 2^64, else split.
    match r.checked_mul(b) {
        Some(rb) => q * b + rb / c,
        None => q * b + (U256::from(r) * U256::from(b) / U256::from(c)).to::<u128>(),
    }
}

impl DeliveryService {
    /// Moves the certificates of every hour of `market` issued since its last move along the
    /// hour's fills; returns (market, hour, Wh moved) per hour with moves. The loop calls it
    /// after issuing ([`DeliveryService::run_once`]); calling it again moves nothing more.
    ///
    /// An hour whose transfer the chain refuses (a seller revoked its approval since the plan,
    /// a buyer contract that refuses ERC-1155 transfers) is logged and left with its plan: the
    /// next call resolves what landed and plans the rest again, and the other hours go on.
    ///
    /// # Errors
    /// Chain and store failures (a plan written before them is resolved by the next call).
    pub async fn move_due(&self, market: B256, now: u64) -> DeliveryResult<Vec<(B256, u64, u128)>> {
        let store = &self.inner.store;
        let Some(operator) = self.inner.client.sender() else {
            return Ok(Vec::new());
        };
        let mut done = Vec::new();
        for due in store.hours_to_move(market).await? {
            let hour = due.hour;
            if let Some((plan, block)) = &due.plan {
                let provider = &self.inner.provider;
                let pending = provider.get_transaction_count(operator).pending().await?;
                let latest = provider.get_transaction_count(operator).latest().await?;
                if pending > latest {
                    tracing::info!(market = %market, hour, "certificate moves of an earlier run may still be in flight; waiting");
                    continue;
                }
                let plan: Vec<PlannedMove> = serde_json::from_str(plan).map_err(|e| {
                    DeliveryError::Config(format!("certificate_hours.move_plan: {e}"))
                })?;
                let landed = self.landed(operator, &plan, *block).await?;
                store.finish_moves(market, hour, &landed, now).await?;
                let wh: u128 = landed.iter().map(|l| l.1).sum();
                tracing::info!(market = %market, hour, wh, sellers = landed.len(), "certificate moves of an earlier run resolved from the chain");
                if wh > 0 {
                    done.push((market, hour, wh));
                }
                // Anything that did not land is planned again below, from what is left.
            }
            let plan = self.plan_hour(market, hour, operator).await?;
            if plan.is_empty() {
                store.finish_moves(market, hour, &[], now).await?;
                continue;
            }
            // The plan's transactions are sent after it is stored, so they are in blocks after
            // the current head: a restart looks for them from the next block only, and never
            // mistakes an earlier identical transfer for one of them.
            let first_block = self.inner.provider.get_block_number().await? + 1;
            let json = serde_json::to_string(&plan)
                .map_err(|e| DeliveryError::Config(format!("certificate plan: {e}")))?;
            store.plan_moves(market, hour, &json, first_block).await?;
            let moves: Vec<GranularCertificates::Move> = plan
                .iter()
                .map(|m| GranularCertificates::Move {
                    from: m.from,
                    to: m.to,
                    id: m.id,
                    wh: U256::from(m.wh),
                })
                .collect();
            match self.inner.client.transfer_along_fills(&moves).await {
                Ok(_) => {}
                Err(e @ (ChainError::Revert { .. } | ChainError::Reverted { .. })) => {
                    tracing::warn!(market = %market, hour, error = %e, "the chain refused the hour's certificate moves; planned again next pass");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            failpoint("delivery_after_move");
            let landed = per_seller(&plan);
            store.finish_moves(market, hour, &landed, now).await?;
            let wh: u128 = landed.iter().map(|l| l.1).sum();
            tracing::info!(market = %market, hour, wh, transfers = plan.len(), "certificates moved along fills");
            done.push((market, hour, wh));
        }
        Ok(done)
    }

    /// The hour's moves from the chain's balances, the store's fills and what was passed on.
    /// Fills of a voided interval never traded and count for nothing.
    async fn plan_hour(
        &self,
        market: B256,
        hour: u64,
        operator: Address,
    ) -> DeliveryResult<Vec<PlannedMove>> {
        let store = &self.inner.store;
        let len = self.inner.interval_length;
        let (mut bought, mut sold) = (BTreeMap::new(), BTreeMap::<Address, u128>::new());
        let (first, end) = (hour * 3600 / len, (hour + 1) * 3600 / len);
        for interval in first..end {
            let Some(b) = store.batch(market, interval).await? else {
                continue;
            };
            if matches!(b.state, BatchState::Voided | BatchState::Refunded) {
                continue;
            }
            for c in store.commitments(market, interval).await? {
                let fill = b
                    .batch
                    .fills
                    .get(c.index as usize)
                    .and_then(|w| sealgrid_types::Fill::decode(*w).ok());
                match fill {
                    Some(sealgrid_types::Fill::Buy(q)) => {
                        *bought.entry(c.trader).or_insert(0u128) += u128::from(q);
                    }
                    Some(sealgrid_types::Fill::Sell(q)) => {
                        *sold.entry(c.trader).or_insert(0u128) += u128::from(q);
                    }
                    _ => {}
                }
            }
        }
        if sold.is_empty() || bought.is_empty() {
            return Ok(Vec::new());
        }
        let moved = store.certificates_moved(market, hour).await?;
        let certs =
            GranularCertificates::new(self.inner.contracts.certificates, &self.inner.provider);
        // The hour's certificates per current owner of each generator.
        let mut held: HashMap<Address, Vec<(U256, u128)>> = HashMap::new();
        for meter in store.generators(market).await? {
            let Some((m, _)) = self.inner.client.meter(meter).await? else {
                continue;
            };
            if !sold.contains_key(&m.owner) {
                continue;
            }
            let id = (U256::from(m.device) << 64) | U256::from(hour);
            let wh =
                u128::try_from(certs.balanceOf(m.owner, id).call().await?).unwrap_or(u128::MAX);
            held.entry(m.owner).or_default().push((id, wh));
        }
        let mut stocks = Vec::new();
        for (seller, sold_wh) in &sold {
            let Some(h) = held.remove(seller) else {
                continue;
            };
            if !certs.isApprovedForAll(*seller, operator).call().await? {
                tracing::info!(market = %market, hour, %seller, "seller has not approved the operator on the certificates contract; its certificates stay with it");
                continue;
            }
            let remaining = sold_wh.saturating_sub(moved.get(seller).copied().unwrap_or(0));
            stocks.push(Stock {
                seller: *seller,
                remaining,
                held: h,
            });
        }
        Ok(allocate(&bought, &stocks))
    }

    /// Wh per seller of `plan` that landed: transfers by `operator` from `block` on matching a
    /// planned move exactly (read in ranges of [`LOG_RANGE`] blocks).
    async fn landed(
        &self,
        operator: Address,
        plan: &[PlannedMove],
        block: u64,
    ) -> DeliveryResult<Vec<(Address, u128)>> {
        let provider = &self.inner.provider;
        let head = provider.get_block_number().await?;
        let mut seen: Vec<(Address, Address, U256, U256)> = Vec::new();
        let mut from = block;
        while from <= head {
            let to = head.min(from + LOG_RANGE - 1);
            let filter = Filter::new()
                .address(self.inner.contracts.certificates)
                .event_signature(GranularCertificates::TransferSingle::SIGNATURE_HASH)
                .topic1(operator.into_word())
                .from_block(from)
                .to_block(to);
            for log in provider.get_logs(&filter).await? {
                if let Ok(e) = log.log_decode::<GranularCertificates::TransferSingle>() {
                    let e = e.inner.data;
                    seen.push((e.from, e.to, e.id, e.value));
                }
            }
            from = to + 1;
        }
        let mut landed: Vec<PlannedMove> = Vec::new();
        for m in plan {
            let key = (m.from, m.to, m.id, U256::from(m.wh));
            if let Some(k) = seen.iter().position(|s| *s == key) {
                seen.swap_remove(k);
                landed.push(m.clone());
            }
        }
        Ok(per_seller(&landed))
    }
}

/// Wh per seller of `moves`.
fn per_seller(moves: &[PlannedMove]) -> Vec<(Address, u128)> {
    let mut out: BTreeMap<Address, u128> = BTreeMap::new();
    for m in moves {
        *out.entry(m.from).or_insert(0) += m.wh;
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn shares_follow_purchases_and_the_remainder_goes_to_the_largest_buyer() {
        let bought = BTreeMap::from([(a(2), 300), (a(3), 100), (a(1), 50)]);
        // a(1) both sold and bought: it gets none of its own certificates.
        let stock = Stock {
            seller: a(1),
            remaining: 1_000,
            held: vec![(U256::from(7), 150), (U256::from(8), 100)],
        };
        let moves = allocate(&bought, &[stock]);
        let to = |b: Address| {
            moves
                .iter()
                .filter(|m| m.to == b)
                .map(|m| m.wh)
                .sum::<u128>()
        };
        // pass = min(250 held, 1000 remaining) = 250; 250*300/400 = 187.5 -> 187 (+1), 62.
        assert_eq!((to(a(2)), to(a(3)), to(a(1))), (188, 62, 0));
        assert!(moves.iter().all(|m| m.from == a(1) && m.wh > 0));
        // Drawn from id 7 first, then 8, never more than held of each.
        let of = |id: u64| {
            moves
                .iter()
                .filter(|m| m.id == U256::from(id))
                .map(|m| m.wh)
                .sum::<u128>()
        };
        assert_eq!((of(7), of(8)), (150, 100));
    }

    #[test]
    fn nothing_moves_without_stock_buyers_or_remaining_sales() {
        let bought = BTreeMap::from([(a(2), 10)]);
        let s = |remaining, held| Stock {
            seller: a(1),
            remaining,
            held: vec![(U256::from(1), held)],
        };
        assert!(
            allocate(&bought, &[s(0, 100)]).is_empty(),
            "all passed on before"
        );
        assert!(
            allocate(&bought, &[s(100, 0)]).is_empty(),
            "no certificates"
        );
        assert!(
            allocate(&BTreeMap::from([(a(1), 10)]), &[s(100, 100)]).is_empty(),
            "only itself bought"
        );
        let m = allocate(&bought, &[s(30, 100)]);
        assert_eq!(
            m.iter().map(|m| m.wh).sum::<u128>(),
            30,
            "no more than remaining"
        );
    }

    #[test]
    fn allocation_conserves_certificates_for_many_books() {
        // A deterministic sweep of books: every seller passes exactly min(held, remaining),
        // never more of an id than it holds, never to itself, and buyers get shares within 1
        // Wh of pro rata (the remainder to one buyer).
        let mut seed = 0x5eed_u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..500 {
            let n = 1 + next(6) as u8;
            let bought: BTreeMap<Address, u128> =
                (1..=n).map(|k| (a(k), u128::from(next(5_000)))).collect();
            let stocks: Vec<Stock> = (1..=1 + next(3) as u8)
                .map(|k| Stock {
                    seller: a(k),
                    remaining: u128::from(next(8_000)),
                    held: (0..1 + next(3))
                        .map(|i| (U256::from(i + u64::from(k) * 10), u128::from(next(4_000))))
                        .collect(),
                })
                .collect();
            let moves = allocate(&bought, &stocks);
            for s in &stocks {
                let held: u128 = s.held.iter().map(|h| h.1).sum();
                let others: u128 = bought
                    .iter()
                    .filter(|b| *b.0 != s.seller)
                    .map(|b| *b.1)
                    .sum();
                let out: u128 = moves
                    .iter()
                    .filter(|m| m.from == s.seller)
                    .map(|m| m.wh)
                    .sum();
                let pass = if others == 0 {
                    0
                } else {
                    held.min(s.remaining)
                };
                assert_eq!(out, pass, "{s:?}");
                for (id, h) in &s.held {
                    let of: u128 = moves
                        .iter()
                        .filter(|m| m.from == s.seller && m.id == *id)
                        .map(|m| m.wh)
                        .sum();
                    assert!(of <= *h);
                }
                assert!(moves.iter().all(|m| m.from != m.to));
                for (b, q) in bought.iter().filter(|b| *b.0 != s.seller) {
                    let got: u128 = moves
                        .iter()
                        .filter(|m| m.from == s.seller && m.to == *b)
                        .map(|m| m.wh)
                        .sum();
                    let fair = (pass * q).checked_div(others).unwrap_or(0);
                    assert!(
                        got >= fair && got <= fair + pass.min(others),
                        "{got} vs {fair}"
                    );
                }
            }
        }
    }

    #[test]
    fn mul_div_is_exact_at_the_edges() {
        assert_eq!(mul_div(u128::MAX, 1, 1), u128::MAX);
        assert_eq!(
            mul_div(u128::MAX, 3, 4),
            u128::MAX / 4 * 3 + (u128::MAX % 4) * 3 / 4
        );
        assert_eq!(mul_div(10, 1, 3), 3);
        assert_eq!(mul_div(0, 5, 7), 0);
    }
}
