//! Hand-computed examples and property tests of [`clear`] against the brute-force reference.

use proptest::prelude::*;

use crate::engine::clear_with;
use crate::reference::clear_brute_force;
use crate::{BookOrder, Clearing, ClearingError, Side, clear};

fn buy(q: u64, l: i64) -> BookOrder {
    BookOrder::buy(q, l)
}

fn sell(q: u64, l: i64) -> BookOrder {
    BookOrder::sell(q, l)
}

/// Clears with both engines, insists they agree and that the invariants hold, returns the result.
fn clear_checked(orders: &[BookOrder]) -> Clearing {
    let fast = clear(orders).expect("fast engine");
    let slow = clear_brute_force(orders).expect("reference engine");
    assert_eq!(
        fast, slow,
        "fast engine and reference disagree on {orders:?}"
    );
    check_invariants(orders, &fast);
    fast
}

/// The rule's invariants, checked from the definitions and independently of either engine.
fn check_invariants(orders: &[BookOrder], c: &Clearing) {
    assert_eq!(c.fills.len(), orders.len());
    if !c.cleared() {
        assert_eq!(c.volume, 0);
        assert!(c.fills.iter().all(|&f| f == 0));
        assert_eq!(
            (c.price_low, c.price_high, c.marginal_bid, c.marginal_ask),
            (None, None, None, None)
        );
        // Nothing clears only if no price has both positive demand and positive supply.
        for p in orders.iter().map(|o| o.limit_price) {
            let d: u128 = orders
                .iter()
                .filter(|o| o.side == Side::Buy && o.limit_price >= p)
                .map(|o| u128::from(o.quantity_wh))
                .sum();
            let s: u128 = orders
                .iter()
                .filter(|o| o.side == Side::Sell && o.limit_price <= p)
                .map(|o| u128::from(o.quantity_wh))
                .sum();
            assert!(d == 0 || s == 0, "nothing cleared but V({p}) > 0");
        }
        return;
    }
    let price = c.price.expect("price");
    let (lo, hi) = (c.price_low.expect("pLo"), c.price_high.expect("pHi"));
    let (m_b, m_a) = (c.marginal_bid.expect("mB"), c.marginal_ask.expect("mA"));
    assert!(c.volume > 0);
    assert!(lo <= price && price <= hi);
    assert_eq!(
        i128::from(price),
        (i128::from(lo) + i128::from(hi)).div_euclid(2)
    );
    assert_eq!((lo, hi), (m_a, m_b), "maximising interval is [mA, mB]");
    let mut bought = 0_u128;
    let mut sold = 0_u128;
    for (o, &f) in orders.iter().zip(&c.fills) {
        assert!(f <= o.quantity_wh, "fill {f} exceeds quantity of {o:?}");
        match o.side {
            Side::Buy => {
                bought += u128::from(f);
                if f > 0 {
                    assert!(o.limit_price >= m_b && o.limit_price >= price);
                }
                if o.limit_price > m_b {
                    assert_eq!(f, o.quantity_wh);
                }
            }
            Side::Sell => {
                sold += u128::from(f);
                if f > 0 {
                    assert!(o.limit_price <= m_a && o.limit_price <= price);
                }
                if o.limit_price < m_a {
                    assert_eq!(f, o.quantity_wh);
                }
            }
        }
    }
    assert_eq!(bought, u128::from(c.volume));
    assert_eq!(sold, u128::from(c.volume));
}

#[test]
fn demo_book() {
    let orders = [
        buy(40_000, 120_000),
        buy(25_000, 90_000),
        sell(30_000, 60_000),
        sell(50_000, 100_000),
    ];
    let c = clear_checked(&orders);
    assert_eq!(
        c,
        Clearing {
            price: Some(110_000),
            volume: 40_000,
            fills: vec![40_000, 0, 30_000, 10_000],
            price_low: Some(100_000),
            price_high: Some(120_000),
            marginal_bid: Some(120_000),
            marginal_ask: Some(100_000),
        }
    );
}

#[test]
fn nothing_clears() {
    let cases: [&[BookOrder]; 6] = [
        &[],
        &[buy(10, 50), sell(10, 60)],              // no crossing
        &[buy(10, 50), buy(5, 70)],                // no asks
        &[sell(10, 50), sell(5, -70)],             // no bids
        &[buy(0, 100), sell(10, 0)],               // crossing bid has no quantity
        &[buy(10, 100), sell(0, 0), sell(9, 101)], // crossing ask has no quantity
    ];
    for orders in cases {
        let c = clear_checked(orders);
        assert_eq!(c, Clearing::not_cleared(orders.len()), "{orders:?}");
        assert!(!c.cleared());
    }
}

#[test]
fn negative_prices_round_toward_negative_infinity() {
    // [pLo, pHi] = [-5, -2]: (-7) / 2 = -3.5 rounds down to -4 (truncation would give -3).
    let c = clear_checked(&[buy(10, -2), sell(10, -5)]);
    assert_eq!(
        (c.price_low, c.price_high, c.price),
        (Some(-5), Some(-2), Some(-4))
    );
    assert_eq!((c.volume, c.fills.as_slice()), (10, &[10, 10][..]));

    // A sum of -1 gives -1, not 0.
    let c = clear_checked(&[buy(3, 0), sell(3, -1)]);
    assert_eq!(c.price, Some(-1));

    // An even negative sum is exact.
    let c = clear_checked(&[buy(3, -4), buy(1, -9), sell(2, -8)]);
    assert_eq!(
        (c.price_low, c.price_high, c.price),
        (Some(-8), Some(-4), Some(-6))
    );
    assert_eq!(c.fills, [2, 0, 2]);
}

#[test]
fn pro_rata_leftovers_go_in_input_order() {
    // Three marginal asks of 10 at 50 share V* = 20: floor(20 * 10 / 30) = 6 each, 2 left over,
    // which go to the first two marginal asks in input order.
    let c = clear_checked(&[sell(10, 50), buy(20, 100), sell(10, 50), sell(10, 50)]);
    assert_eq!(c.volume, 20);
    assert_eq!(c.fills, [7, 20, 7, 6]);
    assert_eq!(
        (c.marginal_ask, c.marginal_bid, c.price),
        (Some(50), Some(100), Some(75))
    );

    // Same book, marginal asks permuted behind the bid: still the first ones in input order.
    let c = clear_checked(&[buy(20, 100), sell(10, 50), sell(10, 50), sell(10, 50)]);
    assert_eq!(c.fills, [20, 7, 7, 6]);
}

#[test]
fn leftovers_skip_zero_quantities_and_never_overfill() {
    // rest 2 over Q = 3: every floor is 0; the zero-quantity marginal ask first in line gets
    // nothing, the next two get 1 each, and nobody exceeds their quantity.
    let c = clear_checked(&[
        sell(0, 50),
        sell(1, 50),
        sell(1, 50),
        sell(1, 50),
        buy(2, 50),
    ]);
    assert_eq!(c.fills, [0, 1, 1, 0, 2]);

    // Unequal shares: rest 10 over 3 + 4 + 7 = 14 → floors 2, 2, 5 (9), one leftover to the first.
    let c = clear_checked(&[buy(3, 10), buy(4, 10), buy(7, 10), sell(10, 10)]);
    assert_eq!(c.fills, [3, 2, 5, 10]);
}

#[test]
fn full_fills_above_the_margin_and_a_share_at_it() {
    let c = clear_checked(&[
        buy(10, 100),
        buy(10, 90),
        buy(30, 80),
        buy(5, 79),
        sell(35, 0),
    ]);
    assert_eq!(c.volume, 35);
    assert_eq!((c.marginal_bid, c.marginal_ask), (Some(80), Some(0)));
    assert_eq!(c.price, Some(40));
    assert_eq!(c.fills, [10, 10, 15, 0, 35]);
}

#[test]
fn single_price_point() {
    let c = clear_checked(&[buy(5, 7), sell(3, 7), buy(1, 7)]);
    assert_eq!(
        (c.price_low, c.price_high, c.price),
        (Some(7), Some(7), Some(7))
    );
    assert_eq!(c.volume, 3);
    // Bids share 3 over 6: floors 2 and 0, the leftover to the first bid.
    assert_eq!(c.fills, [3, 3, 0]);
}

#[test]
fn volume_bounds() {
    let c = clear_checked(&[buy(u64::MAX, 5), sell(u64::MAX, 5)]);
    assert_eq!(c.volume, u64::MAX);
    assert_eq!(c.fills, [u64::MAX, u64::MAX]);

    let orders = [buy(u64::MAX, 5), buy(1, 5), sell(u64::MAX, 4), sell(7, 3)];
    let want = Err(ClearingError::VolumeOverflow {
        volume: u128::from(u64::MAX) + 1,
    });
    assert_eq!(clear(&orders), want);
    assert_eq!(clear_brute_force(&orders), want);
}

#[test]
fn key_width_boundaries() {
    // 63 quantity bits + 1 span bit: the widest narrow key.
    let half = u64::MAX >> 1;
    let orders = [buy(half, 1), sell(half, 0), sell(3, 1)];
    assert_eq!(clear_with(&orders, true), clear_with(&orders, false));
    assert_eq!(clear_checked(&orders).fills, [half, half, 0]);
    // 64 quantity bits: wide keys only.
    let orders = [buy(u64::MAX, 0), buy(2, 0), sell(u64::MAX - 1, 0)];
    assert_eq!(
        clear_checked(&orders).fills,
        [u64::MAX - 2, 1, u64::MAX - 1]
    );
    // A 2^63 span with one quantity bit: wide.
    let orders = [buy(1, 0), sell(1, i64::MIN), buy(1, i64::MIN)];
    assert_eq!(clear_with(&orders, true), clear_with(&orders, false));
    assert_eq!(
        clear_with(&orders, true).map(|c| c.fills),
        Ok(vec![1, 1, 0])
    );
}

#[test]
fn extreme_prices() {
    let c = clear(&[buy(4, i64::MAX), sell(4, i64::MIN)]).expect("clears");
    assert_eq!(
        (c.price_low, c.price_high),
        (Some(i64::MIN), Some(i64::MAX))
    );
    assert_eq!(c.price, Some(-1)); // floor((MIN + MAX) / 2) = floor(-1 / 2)
    let c = clear(&[buy(4, i64::MAX), sell(4, i64::MAX)]).expect("clears");
    assert_eq!(c.price, Some(i64::MAX));
    let c = clear(&[buy(4, i64::MIN), sell(4, i64::MIN)]).expect("clears");
    assert_eq!(c.price, Some(i64::MIN));
    check_invariants(&[buy(4, i64::MIN), sell(4, i64::MIN)], &c);
}

fn order_strategy(
    quantity: impl Strategy<Value = u64>,
    price: impl Strategy<Value = i64>,
) -> impl Strategy<Value = BookOrder> {
    (any::<bool>(), quantity, price).prop_map(|(is_buy, quantity_wh, limit_price)| BookOrder {
        side: if is_buy { Side::Buy } else { Side::Sell },
        quantity_wh,
        limit_price,
    })
}

fn large_quantity() -> impl Strategy<Value = u64> {
    prop_oneof![
        0_u64..50,
        (u64::MAX - 50)..=u64::MAX,
        (1_u64 << 62)..(1_u64 << 63),
        (1_u64 << 32)..(1_u64 << 34),
        any::<u64>(),
    ]
}

fn wide_price() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 1),
        Just(i64::MAX),
        Just(i64::MAX - 1),
        Just(0_i64),
        Just(-1_i64),
        -3_i64..3,
        any::<i64>(),
    ]
}

/// Replaces each limit by its rank among the book's distinct limits (an order-preserving map),
/// returning the ranked book and the rank → limit table.
fn rank_prices(orders: &[BookOrder]) -> (Vec<BookOrder>, Vec<i64>) {
    let mut levels: Vec<i64> = orders.iter().map(|o| o.limit_price).collect();
    levels.sort_unstable();
    levels.dedup();
    let ranked = orders
        .iter()
        .map(|o| BookOrder {
            limit_price: levels
                .binary_search(&o.limit_price)
                .map_or(-1, |r| r as i64),
            ..*o
        })
        .collect();
    (ranked, levels)
}

proptest! {
    #[test]
    fn fast_equals_brute_force_small(
        orders in prop::collection::vec(order_strategy(0_u64..50, -20_i64..20), 0..=12)
    ) {
        let fast = clear(&orders);
        let slow = clear_brute_force(&orders);
        prop_assert_eq!(&fast, &slow);
        let fast = fast.expect("small books cannot overflow");
        check_invariants(&orders, &fast);
        prop_assert_eq!(clear(&orders), Ok(fast), "not deterministic");
    }

    #[test]
    fn fast_equals_brute_force_tight_prices(
        orders in prop::collection::vec(order_strategy(0_u64..6, -3_i64..3), 0..=12)
    ) {
        // Few levels and tiny quantities: many ties, many marginal orders, many leftovers.
        let fast = clear(&orders);
        prop_assert_eq!(&fast, &clear_brute_force(&orders));
        check_invariants(&orders, &fast.expect("no overflow"));
    }

    #[test]
    fn fast_equals_brute_force_large_quantities(
        orders in prop::collection::vec(order_strategy(large_quantity(), -10_i64..10), 0..=12)
    ) {
        let fast = clear(&orders);
        prop_assert_eq!(&fast, &clear_brute_force(&orders));
        match fast {
            Ok(c) => check_invariants(&orders, &c),
            Err(ClearingError::VolumeOverflow { volume }) => prop_assert!(volume > u128::from(u64::MAX)),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn fast_equals_brute_force_medium_books(
        orders in prop::collection::vec(order_strategy(0_u64..1_000, -50_i64..50), 0..=300)
    ) {
        let fast = clear(&orders);
        prop_assert_eq!(&fast, &clear_brute_force(&orders));
        check_invariants(&orders, &fast.expect("no overflow"));
    }

    #[test]
    fn narrow_and_wide_keys_agree(
        orders in prop::collection::vec(
            order_strategy(prop_oneof![0_u64..1_000, any::<u64>()], prop_oneof![-9_i64..9, wide_price()]),
            0..=40,
        )
    ) {
        // Whichever key width `clear` picks, the u128 keys give the same answer.
        prop_assert_eq!(clear(&orders), clear_with(&orders, false));
    }

    #[test]
    fn extreme_prices_match_ranked_brute_force(
        orders in prop::collection::vec(order_strategy(0_u64..50, wide_price()), 0..=12)
    ) {
        // Volume, marginal levels and fills depend only on the order of the limits, so the
        // reference can clear the ranked book; the price is recomputed from the real levels.
        let fast = clear(&orders).expect("no overflow");
        check_invariants(&orders, &fast);
        let (ranked, levels) = rank_prices(&orders);
        let slow = clear_brute_force(&ranked).expect("ranked book is narrow");
        let level = |r: Option<i64>| r.and_then(|r| levels.get(usize::try_from(r).ok()?).copied());
        prop_assert_eq!(fast.volume, slow.volume);
        prop_assert_eq!(&fast.fills, &slow.fills);
        prop_assert_eq!(fast.marginal_bid, level(slow.marginal_bid));
        prop_assert_eq!(fast.marginal_ask, level(slow.marginal_ask));
        prop_assert_eq!(fast.price_low, level(slow.price_low));
        prop_assert_eq!(fast.price_high, level(slow.price_high));
        let want = fast
            .price_low
            .zip(fast.price_high)
            .map(|(lo, hi)| (i128::from(lo) + i128::from(hi)).div_euclid(2) as i64);
        prop_assert_eq!(fast.price, want);
    }
}
