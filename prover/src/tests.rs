//! Circuit tests (MockProver) that need crate internals.

use crate::CAPACITIES;
use crate::keys::layout;

/// Every capacity up to 1,024 slots (4,096 takes minutes to lay out) sits at the smallest `k`
/// that holds its Poseidon blocks with at most four flex-gate columns (crate::capacity).
#[test]
fn capacities_take_the_smallest_k_that_fits() {
    let fits = |slots: usize, k: u32| {
        let l = layout(slots, k).expect("layout");
        l.poseidon_rows <= l.usable_rows
            && l.base.num_advice_per_phase.iter().sum::<usize>()
                <= crate::capacity::MAX_FLEX_COLUMNS
    };
    for cap in CAPACITIES.iter().filter(|c| c.slots <= 1024) {
        assert!(
            fits(cap.slots, cap.k),
            "{} slots do not fit k = {}",
            cap.slots,
            cap.k
        );
        assert!(
            !fits(cap.slots, cap.k - 1),
            "{} slots also fit k = {}",
            cap.slots,
            cap.k - 1
        );
    }
}

#[test]
#[ignore = "prints the layouts of every capacity at several k (sizing aid)"]
fn print_layouts() {
    for slots in [4usize, 16, 64, 256, 1024] {
        for k in 10..=19u32 {
            let Ok(l) = layout(slots, k) else { continue };
            if l.poseidon_rows > l.usable_rows {
                continue;
            }
            println!(
                "slots={slots} k={k} flex={:?} lookup={:?} fixed={} poseidon_rows={} usable={}",
                l.base.num_advice_per_phase,
                l.base.num_lookup_advice_per_phase,
                l.base.num_fixed,
                l.poseidon_rows,
                l.usable_rows
            );
        }
    }
}

/// A Poseidon block assigned off by one in any kind of cell fails the constraint system: the
/// gates pin every round, the input cells are copies of the flex-gate cells and the output
/// cell is the one the flex gate uses.
#[test]
fn poseidon_gate_rejects_a_wrong_cell() {
    use crate::keys::mock_check_circuit;
    use alloy_primitives::{Address, B256};
    use sealgrid_types::{MarketBounds, Order};

    let order = |i: u64, side: u8, q: u64, limit: i64| {
        crate::Slot::committed(
            Order {
                trader: Address::with_last_byte(i as u8 + 1),
                market: B256::with_last_byte(7),
                interval: 9,
                side,
                quantityWh: q,
                limitPrice: limit,
                nonce: i,
                salt: B256::with_last_byte(i as u8 + 40),
            },
            u128::from(q) * u128::try_from(limit.max(0)).unwrap_or(0),
        )
        .expect("in field")
    };
    let batch = crate::Batch {
        market: B256::with_last_byte(7),
        interval: 9,
        bounds: MarketBounds {
            price_floor: -1_000,
            price_cap: 1_000_000,
        },
        slots: vec![order(0, 0, 500, 60_000), order(1, 1, 400, 40_000)],
    };
    let w = crate::Witness::new(&batch).expect("witness");
    mock_check_circuit(&w, 4, |_| {}, |_| {}).expect("the honest circuit holds");
    // Job 0 is slot 0's commitment (width 5: 77 rows), job 1 its accumulator step (width 4: 73).
    let cases = [
        ("capacity word", (0, 0, 0)),
        ("an input", (0, 0, 2)),
        ("a full round's fourth powers", (0, 1, 3)),
        ("a full round's output", (0, 2, 4)),
        ("a partial round's auxiliary", (0, 8, 5)),
        ("a partial round's output", (0, 9, 1)),
        ("the commitment", (0, 76, 0)),
        ("the accumulator", (1, 72, 0)),
        ("the accumulator's binding input", (1, 0, 3)),
        ("a width-4 partial round", (1, 30, 2)),
    ];
    for (what, fault) in cases {
        let result = mock_check_circuit(&w, 4, |_| {}, |c| c.hashes.fault = Some(fault));
        assert!(result.is_err(), "{what} {fault:?} off by one was accepted");
    }
}
