//! An independent, deliberately naive formulation of DESIGN §3.5 for cross-checking [`clear`].
//!
//! It shares nothing with the fast engine but the types: it evaluates D, S and V at every integer
//! price in `[min limit - 1, max limit + 1]` by scanning the whole book, takes the maximising set
//! as found, evaluates D and S again at every order's limit for the marginal levels, and hands
//! out the pro-rata leftovers with its own bounds check. O(N x price range) — tests only.
//!
//! [`clear`]: crate::clear

use crate::{BookOrder, Clearing, ClearingError, ClearingResult, Side};

/// The widest limit-price span (max - min) [`clear_brute_force`] enumerates.
pub const REFERENCE_MAX_RANGE: u64 = 1 << 20;

fn demand(orders: &[BookOrder], p: i128) -> u128 {
    orders
        .iter()
        .filter(|o| o.side == Side::Buy && i128::from(o.limit_price) >= p)
        .map(|o| u128::from(o.quantity_wh))
        .sum()
}

fn supply(orders: &[BookOrder], p: i128) -> u128 {
    orders
        .iter()
        .filter(|o| o.side == Side::Sell && i128::from(o.limit_price) <= p)
        .map(|o| u128::from(o.quantity_wh))
        .sum()
}

/// Fills one side: `better` orders in full, orders at `marginal` pro rata with the leftovers in
/// input order, the rest nothing.
fn fill_side(
    orders: &[BookOrder],
    side: Side,
    marginal: i64,
    better: impl Fn(i64) -> bool,
    volume: u128,
    fills: &mut [u64],
) {
    let mut full = 0_u128;
    let mut at_margin: Vec<usize> = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        if o.side != side {
            continue;
        }
        if better(o.limit_price) {
            fills[i] = o.quantity_wh;
            full += u128::from(o.quantity_wh);
        } else if o.limit_price == marginal {
            at_margin.push(i);
        }
    }
    let rest = volume - full;
    let total: u128 = at_margin
        .iter()
        .map(|&i| u128::from(orders[i].quantity_wh))
        .sum();
    let mut given = 0_u128;
    for &i in &at_margin {
        let share = rest * u128::from(orders[i].quantity_wh) / total;
        fills[i] = u64::try_from(share).unwrap_or(u64::MAX);
        given += share;
    }
    let mut leftover = rest - given;
    for &i in &at_margin {
        if leftover == 0 {
            break;
        }
        if fills[i] < orders[i].quantity_wh {
            fills[i] += 1;
            leftover -= 1;
        }
    }
    debug_assert_eq!(leftover, 0, "leftover Wh could not be placed");
}

/// Clears `orders` by brute force; see the [module docs](self).
///
/// Fails with [`ClearingError::PriceRangeTooWide`] if the limits span more than
/// [`REFERENCE_MAX_RANGE`], and with [`ClearingError::VolumeOverflow`] like [`crate::clear`].
pub fn clear_brute_force(orders: &[BookOrder]) -> ClearingResult<Clearing> {
    let n = orders.len();
    let (Some(low), Some(high)) = (
        orders.iter().map(|o| o.limit_price).min(),
        orders.iter().map(|o| o.limit_price).max(),
    ) else {
        return Ok(Clearing::not_cleared(n));
    };
    if i128::from(high) - i128::from(low) > i128::from(REFERENCE_MAX_RANGE) {
        return Err(ClearingError::PriceRangeTooWide {
            low,
            high,
            max: REFERENCE_MAX_RANGE,
        });
    }

    let mut best = 0_u128;
    let mut maximisers: Vec<i128> = Vec::new();
    for p in (i128::from(low) - 1)..=(i128::from(high) + 1) {
        let v = demand(orders, p).min(supply(orders, p));
        if v > best {
            best = v;
            maximisers.clear();
        }
        if v == best {
            maximisers.push(p);
        }
    }
    if best == 0 {
        return Ok(Clearing::not_cleared(n));
    }
    let volume = u64::try_from(best).map_err(|_| ClearingError::VolumeOverflow { volume: best })?;
    let (Some(&p_lo), Some(&p_hi)) = (maximisers.first(), maximisers.last()) else {
        return Ok(Clearing::not_cleared(n));
    };
    debug_assert_eq!(
        maximisers.len() as i128,
        p_hi - p_lo + 1,
        "maximisers not an interval"
    );
    let price = (p_lo + p_hi).div_euclid(2);

    let m_b = orders
        .iter()
        .filter(|o| o.side == Side::Buy && demand(orders, o.limit_price.into()) >= best)
        .map(|o| o.limit_price)
        .max();
    let m_a = orders
        .iter()
        .filter(|o| o.side == Side::Sell && supply(orders, o.limit_price.into()) >= best)
        .map(|o| o.limit_price)
        .min();
    let (Some(m_b), Some(m_a)) = (m_b, m_a) else {
        return Ok(Clearing::not_cleared(n));
    };

    let mut fills = vec![0_u64; n];
    fill_side(orders, Side::Buy, m_b, |l| l > m_b, best, &mut fills);
    fill_side(orders, Side::Sell, m_a, |l| l < m_a, best, &mut fills);

    // The i128 values all lie within [low - 1, high + 1] and the maximisers within [low, high].
    let narrow = |p: i128| i64::try_from(p).ok();
    Ok(Clearing {
        price: narrow(price),
        volume,
        fills,
        price_low: narrow(p_lo),
        price_high: narrow(p_hi),
        marginal_bid: Some(m_b),
        marginal_ask: Some(m_a),
    })
}
