//! The fast engine: one sort per side, prefix sums, one sweep, two linear passes for the fills.
//!
//! A first pass finds the side counts, the limit range and the largest quantity. The orders with
//! a positive quantity are then packed into integer keys that sort like `(limit, quantity)` —
//! `u64` keys `(limit - min) << w | quantity` when the limit span and quantity widths fit in
//! 64 bits (the usual case, and half the bytes to sort), `u128` keys
//! `(limit ^ sign bit) << 64 | quantity` otherwise — bids then asks in one buffer, so each side
//! is sorted once by `sort_unstable` on plain integers and nothing else is allocated but the
//! fills.
//!
//! V(p) = min(D(p), S(p)) with D non-increasing and S non-decreasing, so
//! `{p : V(p) >= V*} = {p : D(p) >= V*} ∩ {p : S(p) >= V*} = [mA, mB]`: the maximising prices
//! are exactly the interval between the marginal levels. The sweep walks the ask levels upwards
//! keeping D at the current level with a second pointer into the (ascending) bids; V* is the
//! largest min(D, S) seen, and the first ask level attaining it is mA. mB is then the first bid
//! level, walking down, at which the cumulative bid quantity reaches V*.

use crate::{BookOrder, Clearing, ClearingError, ClearingResult, Side};

/// Flips the sign bit so that `i64` order equals `u64` order.
const SIGN: u64 = 1 << 63;

/// One pass over the book: side counts, the limit range and the largest quantity, all over the
/// orders with a positive quantity (zero quantities change neither D nor S, and can never be
/// the marginal level that first reaches V* > 0, so the engine ignores them until the fills).
struct Scan {
    n_bids: usize,
    n_asks: usize,
    min_limit: i64,
    max_limit: i64,
    max_quantity: u64,
    total_bid: u128,
}

impl Scan {
    fn new(orders: &[BookOrder]) -> Self {
        let mut scan = Self {
            n_bids: 0,
            n_asks: 0,
            min_limit: i64::MAX,
            max_limit: i64::MIN,
            max_quantity: 0,
            total_bid: 0,
        };
        let mut positive = 0_usize;
        for order in orders {
            let q = order.quantity_wh;
            if q == 0 {
                continue;
            }
            positive += 1;
            scan.min_limit = scan.min_limit.min(order.limit_price);
            scan.max_limit = scan.max_limit.max(order.limit_price);
            scan.max_quantity = scan.max_quantity.max(q);
            // Branch-free: sides come in no predictable order.
            let is_buy = order.side == Side::Buy;
            scan.n_bids += usize::from(is_buy);
            scan.total_bid += u128::from(q * u64::from(is_buy));
        }
        scan.n_asks = positive - scan.n_bids;
        scan
    }

    /// The quantity width of a narrow (`u64`) key, if `(limit - min) << width | quantity`
    /// fits in 64 bits.
    fn narrow_width(&self) -> Option<u32> {
        let span = (self.max_limit as u64).wrapping_sub(self.min_limit as u64);
        let q_bits = u64::BITS - self.max_quantity.leading_zeros();
        let span_bits = u64::BITS - span.leading_zeros();
        (q_bits < u64::BITS && q_bits + span_bits <= u64::BITS).then_some(q_bits)
    }
}

/// Packs the positive-quantity orders with `pack` — bids first, then asks, each in input
/// order — and sorts each side once.
fn sorted_keys<K: Copy + Ord + Default>(
    orders: &[BookOrder],
    scan: &Scan,
    pack: impl Fn(i64, u64) -> K,
) -> Vec<K> {
    let mut keys = vec![K::default(); scan.n_bids + scan.n_asks];
    // Bids go to `b`, asks to `a`; the slot is picked without a branch, since sides come in no
    // predictable order.
    let (mut b, mut a) = (0, scan.n_bids);
    for order in orders {
        if order.quantity_wh == 0 {
            continue;
        }
        let is_buy = order.side == Side::Buy;
        keys[if is_buy { b } else { a }] = pack(order.limit_price, order.quantity_wh);
        b += usize::from(is_buy);
        a += usize::from(!is_buy);
    }
    let (bids, asks) = keys.split_at_mut(scan.n_bids);
    bids.sort_unstable();
    asks.sort_unstable();
    keys
}

/// V* and the two marginal levels, in key level units.
struct Margins {
    volume: u128,
    ask_level: u64,
    /// S strictly below mA: the asks filled in full.
    ask_full: u128,
    /// The ask quantity at mA.
    ask_marginal: u128,
    bid_level: u64,
    /// D strictly above mB: the bids filled in full.
    bid_full: u128,
    /// The bid quantity at mB.
    bid_marginal: u128,
}

/// The sweep over sorted bids and asks; `level` and `quantity` unpack a key, and `level` orders
/// like the limit. `None` when V* = 0.
fn sweep<K: Copy>(
    bids: &[K],
    asks: &[K],
    total_bid: u128,
    level: impl Fn(K) -> u64,
    quantity: impl Fn(K) -> u128,
) -> Option<Margins> {
    // Walk the ask levels upwards: S(a) includes the level, D(a) = total - bids below a.
    let mut m = Margins {
        volume: 0,
        ask_level: 0,
        ask_full: 0,
        ask_marginal: 0,
        bid_level: 0,
        bid_full: 0,
        bid_marginal: 0,
    };
    let mut supply = 0_u128;
    let mut bids_below = 0_u128;
    let mut b = 0_usize;
    let mut a = 0_usize;
    while a < asks.len() {
        let lvl = level(asks[a]);
        let supply_below = supply;
        while a < asks.len() && level(asks[a]) == lvl {
            supply += quantity(asks[a]);
            a += 1;
        }
        while b < bids.len() && level(bids[b]) < lvl {
            bids_below += quantity(bids[b]);
            b += 1;
        }
        let demand = total_bid - bids_below;
        let v = demand.min(supply);
        if v > m.volume {
            m.volume = v;
            m.ask_level = lvl;
            m.ask_full = supply_below;
            m.ask_marginal = supply - supply_below;
        }
        if demand <= m.volume {
            // D only falls from here on, so V cannot exceed the maximum found.
            break;
        }
    }
    if m.volume == 0 {
        return None;
    }

    // Walk the bid levels downwards until the cumulative quantity reaches V*. It does by the
    // time it passes mA at the latest, since D(mA) >= V*.
    let mut demand = 0_u128;
    let mut j = bids.len();
    while j > 0 {
        let lvl = level(bids[j - 1]);
        let demand_above = demand;
        while j > 0 && level(bids[j - 1]) == lvl {
            demand += quantity(bids[j - 1]);
            j -= 1;
        }
        if demand >= m.volume {
            m.bid_level = lvl;
            m.bid_full = demand_above;
            m.bid_marginal = demand - demand_above;
            break;
        }
    }
    debug_assert!(demand >= m.volume && m.bid_level >= m.ask_level);
    Some(m)
}

/// How the `rest` of V* left after the full fills is shared by the `total` quantity resting at a
/// side's marginal level (`0 < rest <= total`).
struct Share {
    rest: u128,
    total: u128,
}

impl Share {
    /// floor(rest * q / total), which is at most `q` because `rest <= total`.
    #[inline]
    fn floor(&self, q: u64) -> u64 {
        if self.rest == self.total {
            return q;
        }
        // rest < total and rest <= V* <= u64::MAX, so the product fits in u128.
        let num = self.rest * u128::from(q);
        match (u64::try_from(num), u64::try_from(self.total)) {
            (Ok(num), Ok(total)) => num / total,
            // The quotient is below q, so it fits.
            _ => (num / self.total) as u64,
        }
    }
}

/// Clears `orders` by DESIGN §3.5; the fills come back in input order.
///
/// Runs in O(N log N): each side is sorted once, everything else is linear. Fails only with
/// [`ClearingError::VolumeOverflow`] when V* does not fit in a `u64`.
pub fn clear(orders: &[BookOrder]) -> ClearingResult<Clearing> {
    clear_with(orders, true)
}

/// [`clear`], optionally barred from the narrow `u64` keys (so tests can compare both).
pub(crate) fn clear_with(orders: &[BookOrder], allow_narrow: bool) -> ClearingResult<Clearing> {
    let n = orders.len();
    let scan = Scan::new(orders);
    if scan.n_bids == 0 || scan.n_asks == 0 {
        return Ok(Clearing::not_cleared(n));
    }
    let (margins, m_b, m_a) = match scan.narrow_width().filter(|_| allow_narrow) {
        // (limit - min) << width | quantity: half the bytes of a wide key, so a faster sort.
        Some(width) => {
            let base = scan.min_limit as u64;
            let mask = (1_u64 << width) - 1;
            let pack = |l: i64, q: u64| ((l as u64).wrapping_sub(base) << width) | q;
            let keys = sorted_keys(orders, &scan, pack);
            let (bids, asks) = keys.split_at(scan.n_bids);
            let level = |k: u64| k >> width;
            let quantity = |k: u64| u128::from(k & mask);
            let Some(m) = sweep(bids, asks, scan.total_bid, level, quantity) else {
                return Ok(Clearing::not_cleared(n));
            };
            let limit = |lvl: u64| base.wrapping_add(lvl) as i64;
            let (m_b, m_a) = (limit(m.bid_level), limit(m.ask_level));
            (m, m_b, m_a)
        }
        // (limit with the sign bit flipped) << 64 | quantity: fits every book.
        None => {
            let pack = |l: i64, q: u64| (u128::from((l as u64) ^ SIGN) << 64) | u128::from(q);
            let keys = sorted_keys(orders, &scan, pack);
            let (bids, asks) = keys.split_at(scan.n_bids);
            let level = |k: u128| (k >> 64) as u64;
            let quantity = |k: u128| u128::from(k as u64);
            let Some(m) = sweep(bids, asks, scan.total_bid, level, quantity) else {
                return Ok(Clearing::not_cleared(n));
            };
            let limit = |lvl: u64| (lvl ^ SIGN) as i64;
            let (m_b, m_a) = (limit(m.bid_level), limit(m.ask_level));
            (m, m_b, m_a)
        }
    };
    let Margins {
        volume,
        ask_full,
        ask_marginal,
        bid_full,
        bid_marginal,
        ..
    } = margins;
    let volume_u64 = u64::try_from(volume).map_err(|_| ClearingError::VolumeOverflow { volume })?;

    // [pLo, pHi] = [mA, mB]; an arithmetic shift of the i128 sum rounds toward -infinity.
    let price = ((i128::from(m_a) + i128::from(m_b)) >> 1) as i64;

    let bid_share = Share {
        rest: volume - bid_full,
        total: bid_marginal,
    };
    let ask_share = Share {
        rest: volume - ask_full,
        total: ask_marginal,
    };
    let mut bid_floors = 0_u128;
    let mut ask_floors = 0_u128;
    let mut fills = Vec::with_capacity(n);
    for order in orders {
        let (q, l) = (order.quantity_wh, order.limit_price);
        // Branch-free for the common cases (full or nothing); the marginal orders are rare.
        let is_buy = order.side == Side::Buy;
        let better = (is_buy & (l > m_b)) | (!is_buy & (l < m_a));
        let at_margin = (is_buy & (l == m_b)) | (!is_buy & (l == m_a));
        let mut fill = q & 0_u64.wrapping_sub(u64::from(better));
        if at_margin {
            if is_buy {
                fill = bid_share.floor(q);
                bid_floors += u128::from(fill);
            } else {
                fill = ask_share.floor(q);
                ask_floors += u128::from(fill);
            }
        }
        fills.push(fill);
    }

    // The rounding leftovers, one Wh each to the marginal orders in input order, skipping
    // zero quantities. A leftover is smaller than the number of marginal orders with a
    // fractional share (so one round suffices), and it is non-zero only if rest < total, in
    // which case floor(rest * q / total) < q for every q > 0: the +1 never overfills.
    let mut bid_left = bid_share.rest - bid_floors;
    let mut ask_left = ask_share.rest - ask_floors;
    for (order, fill) in orders.iter().zip(fills.iter_mut()) {
        if bid_left == 0 && ask_left == 0 {
            break;
        }
        if order.quantity_wh == 0 {
            continue;
        }
        match order.side {
            Side::Buy if order.limit_price == m_b && bid_left > 0 => {
                *fill += 1;
                bid_left -= 1;
            }
            Side::Sell if order.limit_price == m_a && ask_left > 0 => {
                *fill += 1;
                ask_left -= 1;
            }
            _ => {}
        }
    }
    debug_assert!(bid_left == 0 && ask_left == 0);

    Ok(Clearing {
        price: Some(price),
        volume: volume_u64,
        fills,
        price_low: Some(m_a),
        price_high: Some(m_b),
        marginal_bid: Some(m_b),
        marginal_ask: Some(m_a),
    })
}
