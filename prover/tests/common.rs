//! Books and batches shared by the prover's tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use alloy_primitives::{Address, B256};
use sealgrid_prover::{Batch, Slot};
use sealgrid_types::{MarketBounds, Order, SequenceEntry, Side, required_lock};

pub const FLOOR: i64 = -500;
pub const CAP: i64 = 500;

pub fn order(i: u64, sell: bool, q: u64, l: i64) -> Order {
    Order {
        trader: Address::with_last_byte(i as u8 + 1),
        market: B256::with_last_byte(7),
        interval: 100,
        side: u8::from(sell),
        quantityWh: q,
        limitPrice: l,
        nonce: i,
        salt: B256::repeat_byte(i as u8 + 0x11) & B256::left_padding_from(&[0x0f; 31]),
    }
}

pub fn batch(slots: Vec<Slot>) -> Batch {
    Batch {
        market: B256::with_last_byte(7),
        interval: 100,
        bounds: MarketBounds {
            price_floor: FLOOR,
            price_cap: CAP,
        },
        slots,
    }
}

/// An opened slot committed by the order's trader with the lock its limit requires.
pub fn opened(o: Order) -> Slot {
    let side = if o.side == 1 { Side::Sell } else { Side::Buy };
    let lock = required_lock(side, o.quantityWh, o.limitPrice);
    Slot::committed(o, lock).expect("test orders are in the field")
}

pub fn bid(i: u64, q: u64, l: i64) -> Slot {
    opened(order(i, false, q, l))
}

pub fn ask(i: u64, q: u64, l: i64) -> Slot {
    opened(order(i, true, q, l))
}

pub fn excluded(i: u8) -> Slot {
    Slot::excluded(SequenceEntry {
        commitment: B256::with_last_byte(i),
        committer: Address::with_last_byte(i.wrapping_add(0x80)),
        lock: u128::from(i) * 7,
    })
}

/// The batches every test family runs over (capacity 4): ties, negative prices, one-sided,
/// empty, excluded commitments.
pub fn named_batches() -> Vec<(&'static str, Batch)> {
    vec![
        (
            "crossing",
            batch(vec![
                bid(0, 5, 100),
                ask(1, 3, 50),
                excluded(3),
                ask(3, 5, 55),
            ]),
        ),
        (
            "tie with leftover",
            batch(vec![
                bid(0, 7, 40),
                ask(1, 3, 10),
                ask(2, 3, 10),
                ask(3, 3, 10),
            ]),
        ),
        (
            "negative prices",
            batch(vec![
                bid(0, 10, -20),
                ask(1, 4, -300),
                bid(2, 6, -50),
                ask(3, 9, -100),
            ]),
        ),
        ("one-sided", batch(vec![bid(0, 5, 10), bid(1, 6, 20)])),
        ("no overlap", batch(vec![bid(0, 5, 10), ask(1, 6, 20)])),
        ("empty", batch(vec![])),
        ("all excluded", batch(vec![excluded(1), excluded(2)])),
        (
            "bounds",
            batch(vec![
                bid(0, (1 << 48) - 1, CAP),
                ask(1, (1 << 48) - 1, FLOOR),
            ]),
        ),
    ]
}
