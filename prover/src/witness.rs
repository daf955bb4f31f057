//! The native twin of the circuit: from the opened orders and the excluded commitments of one
//! interval, every value the circuit assigns, computed in plain integers.
//!
//! Each quantity here has an in-circuit counterpart in [`crate::circuit`] under the same name;
//! the result is checked against the reference clearing engine (`sealgrid_clearing::clear`)
//! before any proving starts, so a disagreement is reported as a bug, not as a failed proof.
//!
//! Certificates the circuit checks, all with `D(p) = Σ q` over bids with `l >= p` and
//! `S(p) = Σ q` over asks with `l <= p` (DESIGN §3.5; see docs/encoding.md, "Proof statement"):
//! - when `V* > 0`: `S(pLo - 1) < V* <= S(pLo)`, `D(pHi + 1) < V* <= D(pHi)`, `pLo <= pHi`,
//!   `pLo + pHi = 2 p* + r` with `r ∈ {0, 1}`;
//! - always: a crossing price `c` with `D(c + 1) <= V*` and `S(c) <= V*`, which bounds
//!   `V(p) = min(D(p), S(p))` by `V*` at every price. (The four-point check of DESIGN §3.5 alone
//!   does not exclude a higher plateau inside `[pLo, pHi]`; the crossing closes that gap.)
//!
//! With those, `[pLo, pHi]` is exactly the set of maximising prices and `mB = pHi`, `mA = pLo`.

use alloy_primitives::{B256, U256};
use sealgrid_clearing::{BookOrder, fill_words};
use sealgrid_types::{
    MAX_LOCK, MarketBounds, Side, accumulate_all, fr_from_b256, order_commitment,
};

use crate::error::{ProverError, ProverResult};
use crate::statement::{Statement, price_offset};

/// One commitment of the interval's sequence, as the operator knows it (the pipeline's
/// [`sealgrid_types::ProofSlot`]).
pub use sealgrid_types::ProofSlot as Slot;

/// The private input: the interval's whole sequence, in on-chain order (the pipeline's
/// [`sealgrid_types::ProofRequest`]).
pub use sealgrid_types::ProofRequest as Batch;

/// The per-slot values the circuit assigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotWitness {
    /// Whether the slot holds an opening.
    pub opened: bool,
    /// The commitment (computed for openings, given for excluded slots).
    pub commitment: B256,
    /// The account that committed it (on-chain `msg.sender`; 0 for padding).
    pub committer: U256,
    /// The lock it carries, in base units (at most `MAX_LOCK`; 0 for padding).
    pub lock: u128,
    /// `w0 = uint160(trader) | nonce << 160` (0 when excluded).
    pub w0: U256,
    /// The salt as an integer (0 when excluded).
    pub salt: U256,
    /// Sell side (false when excluded).
    pub sell: bool,
    /// Quantity in Wh (0 when excluded).
    pub quantity: u64,
    /// `uint64(limitPrice) ^ 2^63` (the floor's offset when excluded).
    pub price_offset: u64,
    /// `floor(q * R / Q)`: the pro-rata base of a marginal order (computed for every slot).
    pub base: u64,
    /// `q * R - base * Q`.
    pub remainder: u64,
    /// The fill in Wh.
    pub fill: u64,
}

/// Every value of the circuit's witness, plus the public statement it proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The public statement.
    pub statement: Statement,
    /// Per slot, in commitment order.
    pub slots: Vec<SlotWitness>,
    /// pLo (the floor's value when nothing clears).
    pub price_low: i64,
    /// pHi (as `price_low` when nothing clears).
    pub price_high: i64,
    /// The crossing price `c` in `[floor - 1, cap]` (an `i128` because `floor - 1` may leave i64).
    pub cross: i128,
    /// Pro-rata remainder to share among marginal bids, `V* - D(pHi + 1)` (0 when nothing clears).
    pub rest_bid: u64,
    /// ... among marginal asks, `V* - S(pLo - 1)`.
    pub rest_ask: u64,
    /// Marginal bid quantity `D(pHi) - D(pHi + 1)` (1 when nothing clears, a safe divisor).
    pub marginal_bid_qty: u64,
    /// Marginal ask quantity `S(pLo) - S(pLo - 1)` (1 when nothing clears).
    pub marginal_ask_qty: u64,
}

impl SlotWitness {
    /// A slot without an opening: an excluded commitment, or (with commitment 0) a padding slot
    /// past `count`. Its limit is the floor so that the range checks hold.
    pub fn unopened(commitment: B256, price_floor: i64) -> Self {
        Self {
            opened: false,
            commitment,
            committer: U256::ZERO,
            lock: 0,
            w0: U256::ZERO,
            salt: U256::ZERO,
            sell: false,
            quantity: 0,
            price_offset: price_offset(price_floor),
            base: 0,
            remainder: 0,
            fill: 0,
        }
    }
}

fn invalid(index: usize, reason: impl Into<String>) -> ProverError {
    ProverError::InvalidOpening {
        index,
        reason: reason.into(),
    }
}

/// `D(p)` and `S(p)` over the opened orders.
fn demand(book: &[(bool, u64, i64)], p: i128) -> u128 {
    book.iter()
        .filter(|(sell, _, l)| !sell && i128::from(*l) >= p)
        .map(|(_, q, _)| u128::from(*q))
        .sum()
}

fn supply(book: &[(bool, u64, i64)], p: i128) -> u128 {
    book.iter()
        .filter(|(sell, _, l)| *sell && i128::from(*l) <= p)
        .map(|(_, q, _)| u128::from(*q))
        .sum()
}

impl Witness {
    /// Computes the witness of `batch`, checks it against the reference engine and returns it.
    pub fn new(batch: &Batch) -> ProverResult<Self> {
        let MarketBounds {
            price_floor,
            price_cap,
        } = batch.bounds;
        if price_floor > price_cap {
            return Err(ProverError::InvalidBounds {
                floor: price_floor,
                cap: price_cap,
            });
        }
        fr_from_b256(batch.market).map_err(|_| ProverError::MarketNotInField(batch.market))?;
        if batch.slots.len() > u32::MAX as usize {
            return Err(ProverError::InvalidStatement(
                "more than 2^32 commitments".into(),
            ));
        }

        // Openings: check and commit; excluded: check the commitment is a field element.
        let mut slots = Vec::with_capacity(batch.slots.len());
        let mut book = Vec::new();
        for (index, slot) in batch.slots.iter().enumerate() {
            let entry = &slot.entry;
            if entry.lock > MAX_LOCK {
                return Err(invalid(
                    index,
                    format!("lock {} is above 2^93 - 1", entry.lock),
                ));
            }
            let committer = U256::from_be_slice(entry.committer.as_slice());
            match &slot.opening {
                Some(o) => {
                    if o.market != batch.market {
                        return Err(invalid(index, "order is for another market"));
                    }
                    if o.interval != batch.interval {
                        return Err(invalid(index, "order is for another interval"));
                    }
                    if o.trader != entry.committer {
                        return Err(invalid(
                            index,
                            format!("order of {} was committed by {}", o.trader, entry.committer),
                        ));
                    }
                    o.validate(&batch.bounds)
                        .map_err(|e| invalid(index, e.to_string()))?;
                    let sell =
                        o.order_side().map_err(|e| invalid(index, e.to_string()))? == Side::Sell;
                    let commitment =
                        order_commitment(o).map_err(|e| invalid(index, e.to_string()))?;
                    if commitment != entry.commitment {
                        return Err(invalid(
                            index,
                            "the opening does not hash to the on-chain commitment",
                        ));
                    }
                    let w0 =
                        U256::from_be_slice(o.trader.as_slice()) | (U256::from(o.nonce) << 160);
                    slots.push(SlotWitness {
                        opened: true,
                        commitment,
                        committer,
                        lock: entry.lock,
                        w0,
                        salt: U256::from_be_bytes(o.salt.0),
                        sell,
                        quantity: o.quantityWh,
                        price_offset: price_offset(o.limitPrice),
                        base: 0,
                        remainder: 0,
                        fill: 0,
                    });
                    book.push((sell, o.quantityWh, o.limitPrice));
                }
                None => {
                    let c = entry.commitment;
                    fr_from_b256(c).map_err(|_| ProverError::CommitmentNotInField {
                        index,
                        commitment: c,
                    })?;
                    slots.push(SlotWitness {
                        committer,
                        lock: entry.lock,
                        ..SlotWitness::unopened(c, price_floor)
                    });
                }
            }
        }
        let entries: Vec<_> = batch.slots.iter().map(|s| s.entry).collect();
        let accumulator =
            accumulate_all(&entries).map_err(|e| ProverError::InvalidStatement(e.to_string()))?;

        // The reference engine over the openings, in commitment order.
        let mut opened = book.iter();
        let sequence: Vec<Option<BookOrder>> = slots
            .iter()
            .map(|s| {
                s.opened
                    .then(|| opened.next())
                    .flatten()
                    .map(|&(sell, q, l)| {
                        if sell {
                            BookOrder::sell(q, l)
                        } else {
                            BookOrder::buy(q, l)
                        }
                    })
            })
            .collect();
        let engine_book: Vec<BookOrder> = sequence.iter().flatten().copied().collect();
        let clearing = sealgrid_clearing::clear(&engine_book)?;
        let volume = clearing.volume;
        let v = u128::from(volume);

        // The crossing price: the largest c in [floor - 1, cap] with S(c) <= V*.
        let mut asks: Vec<(i64, u64)> = book
            .iter()
            .filter(|b| b.0)
            .map(|&(_, q, l)| (l, q))
            .collect();
        asks.sort_unstable();
        let mut cross = i128::from(price_cap);
        let mut running = 0u128;
        for (i, &(l, q)) in asks.iter().enumerate() {
            running += u128::from(q);
            let last_at_level = asks.get(i + 1).is_none_or(|next| next.0 != l);
            if last_at_level && running > v {
                cross = i128::from(l) - 1;
                break;
            }
        }

        let (price, price_low, price_high, rest_bid, rest_ask, qb, qa) =
            match (clearing.price, clearing.price_low, clearing.price_high) {
                (Some(p), Some(lo), Some(hi)) => {
                    let (lo_i, hi_i) = (i128::from(lo), i128::from(hi));
                    let d_hi = demand(&book, hi_i);
                    let d_hi1 = demand(&book, hi_i + 1);
                    let s_lo = supply(&book, lo_i);
                    let s_lo1 = supply(&book, lo_i - 1);
                    let to_u64 = |x: u128, what: &str| {
                        u64::try_from(x).map_err(|_| {
                            ProverError::NativeMismatch(format!("{what} overflows u64"))
                        })
                    };
                    (
                        p,
                        lo,
                        hi,
                        to_u64(v - d_hi1, "bid rest")?,
                        to_u64(v - s_lo1, "ask rest")?,
                        to_u64(d_hi - d_hi1, "marginal bid quantity")?,
                        to_u64(s_lo - s_lo1, "marginal ask quantity")?,
                    )
                }
                _ => (0, 0, 0, 0, 0, 1, 1),
            };

        // Fills as the circuit computes them.
        let cleared = volume > 0;
        let (mut left_bid, mut left_ask) = (i128::from(rest_bid), i128::from(rest_ask));
        for s in slots.iter_mut() {
            let (rest, q_marg) = if s.sell {
                (rest_ask, qa)
            } else {
                (rest_bid, qb)
            };
            let prod = u128::from(s.quantity) * u128::from(rest);
            s.base = u64::try_from(prod / u128::from(q_marg))
                .map_err(|_| ProverError::NativeMismatch("pro-rata base overflows".into()))?;
            s.remainder = (prod % u128::from(q_marg)) as u64;
            if s.opened && cleared && Self::marginal(s, price_low, price_high) {
                if s.sell {
                    left_ask -= i128::from(s.base)
                } else {
                    left_bid -= i128::from(s.base)
                }
            }
        }
        if left_bid < 0 || left_ask < 0 {
            return Err(ProverError::NativeMismatch("negative leftover".into()));
        }
        for s in slots.iter_mut() {
            if !s.opened {
                continue;
            }
            let l = (s.price_offset ^ (1 << 63)) as i64;
            if cleared {
                let full = if s.sell {
                    l < price_low
                } else {
                    l > price_high
                };
                if full {
                    s.fill = s.quantity;
                } else if Self::marginal(s, price_low, price_high) {
                    let left = if s.sell { &mut left_ask } else { &mut left_bid };
                    let extra = u64::from(*left > 0);
                    *left -= i128::from(extra);
                    s.fill = s.base + extra;
                }
            }
        }

        // Every payer's lock covers its payment at p* (DESIGN §3.6): buyers when p* > 0, sellers
        // when p* < 0, rounded up as in §3.2. The circuit checks `1000 lock >= fill |p*|`.
        for (index, s) in slots.iter().enumerate() {
            let pays = if s.sell { price < 0 } else { price > 0 };
            let owed = u128::from(s.fill) * u128::from(price.unsigned_abs());
            if pays && s.lock.saturating_mul(1000) < owed {
                return Err(invalid(
                    index,
                    format!(
                        "lock {} does not cover the payment for {} Wh at {price}",
                        s.lock, s.fill
                    ),
                ));
            }
        }

        // The twin must agree with the engine, fill for fill.
        let twin: Vec<u64> = slots.iter().filter(|s| s.opened).map(|s| s.fill).collect();
        if twin != clearing.fills {
            return Err(ProverError::NativeMismatch(format!(
                "fills {twin:?} vs engine {:?}",
                clearing.fills
            )));
        }
        if cleared
            && (clearing.marginal_bid != Some(price_high)
                || clearing.marginal_ask != Some(price_low))
        {
            return Err(ProverError::NativeMismatch(
                "marginal levels differ from [pLo, pHi]".into(),
            ));
        }
        if !(demand(&book, cross + 1) <= v && supply(&book, cross) <= v) {
            return Err(ProverError::NativeMismatch(
                "crossing price does not bound V".into(),
            ));
        }
        // The public fill words, from the one encoder the matcher and the simulation use.
        let words = fill_words(&sequence, &clearing)?;

        Ok(Self {
            statement: Statement {
                market: batch.market,
                interval: batch.interval,
                accumulator,
                count: batch.slots.len() as u32,
                price_floor,
                price_cap,
                price,
                volume,
                fills: words,
            },
            slots,
            price_low,
            price_high,
            cross,
            rest_bid,
            rest_ask,
            marginal_bid_qty: qb,
            marginal_ask_qty: qa,
        })
    }

    fn marginal(s: &SlotWitness, price_low: i64, price_high: i64) -> bool {
        let l = (s.price_offset ^ (1 << 63)) as i64;
        if s.sell {
            l == price_low
        } else {
            l == price_high
        }
    }
}

/// `uint64(x) ^ 2^63` for the crossing price, which may be `floor - 1`: as `x + 2^63` in an
/// `i128`, then `+ 1` so the value is never negative (the circuit's comparison domain).
pub(crate) fn phi(x: i128) -> u128 {
    (x + (1i128 << 63) + 1) as u128
}
