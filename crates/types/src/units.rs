//! Energy, price and value units and their rounding (docs/encoding.md, "Value and rounding"
//! and "Required lock").
//!
//! Energy is integer Wh (`u64`), price is signed payment-token base units per kWh (`i64`).
//! The value of `q` Wh at price `p` is `q * p / 1000`: the payer pays it rounded up, the payee
//! receives it rounded down, and the remainder (0 to 999 thousandths of a base unit) is the
//! market's fee.
//!
//! Overflow: `q <= 2^64 - 1` and `|p| <= 2^63`, so `|q * p| <= (2^64 - 1) * 2^63 < 2^127`. All
//! products are taken in `u128` (max `2^128 - 1`), so they cannot overflow, and the result of a
//! division by 1000 is below `2^118`.

use crate::order::Side;

/// The largest order (and fill) quantity in Wh: `2^48 - 1`, so that a batch's sums stay far
/// inside `u64`.
pub const MAX_QUANTITY_WH: u64 = (1 << 48) - 1;

/// Wh per kWh: prices are per kWh, quantities in Wh.
pub const WH_PER_KWH: u128 = 1000;

/// `|q * p|` in thousandths of a base unit. Cannot overflow: `< 2^127` (module doc).
fn abs_value_milli(quantity_wh: u64, price: i64) -> u128 {
    u128::from(quantity_wh) * u128::from(price.unsigned_abs())
}

/// What the paying side pays for `quantity_wh` Wh at `price`: `ceil(|q * p| / 1000)` base
/// units. At `price > 0` the buyer pays, at `price < 0` the seller pays.
pub fn payer_amount(quantity_wh: u64, price: i64) -> u128 {
    abs_value_milli(quantity_wh, price).div_ceil(WH_PER_KWH)
}

/// What the paid side receives for `quantity_wh` Wh at `price`: `floor(|q * p| / 1000)` base
/// units.
pub fn payee_amount(quantity_wh: u64, price: i64) -> u128 {
    abs_value_milli(quantity_wh, price) / WH_PER_KWH
}

/// The rounding remainder kept as the market fee: `payer_amount - payee_amount`, 0 or 1.
pub fn rounding_fee(quantity_wh: u64, price: i64) -> u128 {
    payer_amount(quantity_wh, price) - payee_amount(quantity_wh, price)
}

/// The lock an order needs, the most its trader can pay at any clearing price the order
/// accepts: buy `ceil(q * max(limit, 0) / 1000)`, sell `ceil(q * max(-limit, 0) / 1000)`.
pub fn required_lock(side: Side, quantity_wh: u64, limit_price: i64) -> u128 {
    let exposed = match side {
        // A buyer pays only at positive prices, at most its limit.
        Side::Buy => limit_price > 0,
        // A seller pays only at negative prices, at most `-limit` (`unsigned_abs` also covers
        // `i64::MIN`, whose negation does not fit in `i64`).
        Side::Sell => limit_price < 0,
    };
    if exposed {
        payer_amount(quantity_wh, limit_price)
    } else {
        0
    }
}

/// What a trader with `side` pays (positive) at clearing price `price` for `quantity_wh` Wh,
/// or zero if at that price it is paid instead.
pub fn trader_pays(side: Side, quantity_wh: u64, price: i64) -> u128 {
    match (side, price > 0, price < 0) {
        (Side::Buy, true, _) | (Side::Sell, _, true) => payer_amount(quantity_wh, price),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(payer_amount(1500, 101), 152); // 151.5 up
        assert_eq!(payee_amount(1500, 101), 151); // 151.5 down
        assert_eq!(payer_amount(1500, -101), 152);
        assert_eq!(payee_amount(1500, -101), 151);
        assert_eq!(payer_amount(2000, 50), 100);
        assert_eq!(payee_amount(2000, 50), 100);
        assert_eq!(payer_amount(0, 50), 0);
        assert_eq!(payer_amount(1, 1), 1);
        assert_eq!(payee_amount(1, 1), 0);
        assert_eq!(rounding_fee(1, 1), 1);
    }

    #[test]
    fn extremes_do_not_overflow() {
        let q = u64::MAX;
        let big = u128::from(q) * (1u128 << 63);
        assert_eq!(payer_amount(q, i64::MIN), big.div_ceil(1000));
        assert_eq!(payee_amount(q, i64::MIN), big / 1000);
        assert_eq!(
            payer_amount(q, i64::MAX),
            (u128::from(q) * u128::from(i64::MAX as u64)).div_ceil(1000)
        );
        assert_eq!(required_lock(Side::Sell, q, i64::MIN), big.div_ceil(1000));
        assert_eq!(required_lock(Side::Buy, q, i64::MIN), 0);
    }

    #[test]
    fn lock_examples() {
        assert_eq!(required_lock(Side::Buy, 1000, 250), 250);
        assert_eq!(required_lock(Side::Buy, 1001, 250), 251);
        assert_eq!(required_lock(Side::Buy, 1000, -250), 0);
        assert_eq!(required_lock(Side::Buy, 1000, 0), 0);
        assert_eq!(required_lock(Side::Sell, 1000, 250), 0);
        assert_eq!(required_lock(Side::Sell, 1000, -250), 250);
        assert_eq!(required_lock(Side::Sell, 1, -1), 1);
    }

    proptest! {
        #[test]
        fn rounding_identities(q in any::<u64>(), p in any::<i64>()) {
            let v = u128::from(q) * u128::from(p.unsigned_abs());
            let payer = payer_amount(q, p);
            let payee = payee_amount(q, p);
            // payer is the least multiple-of-1000 cover of |q*p|, payee the greatest below.
            prop_assert!(payer * 1000 >= v);
            prop_assert!(payer * 1000 < v + 1000);
            prop_assert!(payee * 1000 <= v);
            prop_assert!(payee * 1000 + 1000 > v);
            // The fee is 0 exactly when |q*p| is a whole number of base units, else 1.
            prop_assert_eq!(payer - payee, u128::from(v % 1000 != 0));
            // Rounding depends on |p| only: who pays changes with the sign, not how much.
            if let Some(neg) = p.checked_neg() {
                prop_assert_eq!(payer_amount(q, neg), payer);
                prop_assert_eq!(payee_amount(q, neg), payee);
            }
        }

        #[test]
        fn lock_covers_every_acceptable_price(
            q in 1..=MAX_QUANTITY_WH,
            limit in any::<i64>(),
            frac in 0.0f64..=1.0,
            sell in any::<bool>(),
            far in any::<i64>(),
        ) {
            let side = if sell { Side::Sell } else { Side::Buy };
            let lock = required_lock(side, q, limit);
            // A clearing price the order accepts: buy p <= limit, sell p >= limit. Pick one
            // between the limit and an arbitrary far price on the accepting side.
            let (lo, hi) = match side {
                Side::Buy => (i128::from(far.min(limit)), i128::from(limit)),
                Side::Sell => (i128::from(limit), i128::from(far.max(limit))),
            };
            #[allow(clippy::cast_possible_truncation)]
            let offset = ((hi - lo) as f64 * frac) as i128;
            let p = i64::try_from((lo + offset).clamp(lo, hi)).expect("between two i64");
            prop_assert!(lock >= trader_pays(side, q, p));
            // And the lock is exactly what the worst acceptable price costs.
            prop_assert_eq!(lock, trader_pays(side, q, limit));
        }
    }
}
