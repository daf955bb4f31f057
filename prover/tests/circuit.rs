//! The circuit against its native twin and the reference engine (MockProver), and one test per
//! constraint family showing a wrong statement or witness is rejected.
#![allow(missing_docs)]

mod common;

use alloy_primitives::{Address, B256};
use common::*;
use proptest::prelude::*;
use sealgrid_prover::keys::{mock_check, mock_check_with};
use sealgrid_prover::statement::EXCLUDED_WORD;
use sealgrid_prover::statement::price_offset;
use sealgrid_prover::{Fr, ProverError, Slot, Witness};
use sealgrid_types::{SequenceEntry, accumulate_all};

const CAPACITY: usize = 4;

#[test]
fn named_batches_satisfy_the_circuit() {
    for (name, b) in named_batches() {
        let w = Witness::new(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        mock_check(&w, CAPACITY).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn plateau_counterexample_is_cleared_by_the_crossing() {
    // V = 5 on [50,55), 10 on [55,60], 5 on (60,100]: V* = 10 on [55, 60].
    let b = batch(vec![
        bid(0, 5, 100),
        bid(1, 5, 60),
        ask(2, 5, 50),
        ask(3, 5, 55),
    ]);
    let w = Witness::new(&b).expect("witness");
    assert_eq!(w.statement.volume, 10);
    assert_eq!((w.price_low, w.price_high), (55, 60));
    assert_eq!(w.statement.price, 57);
    // S never exceeds V* = 10, so the crossing is the cap (D(cap + 1) = 0).
    assert_eq!(w.cross, 500);
}

#[test]
fn excluded_and_empty() {
    let b = batch(vec![excluded(3)]);
    let w = Witness::new(&b).expect("witness");
    assert_eq!(w.statement.fills, vec![EXCLUDED_WORD]);
    assert_eq!(w.statement.volume, 0);
    assert_eq!(w.cross, 500);
    let mut bad = b.clone();
    bad.slots.push(bid(1, 0, 1));
    assert!(matches!(
        Witness::new(&bad),
        Err(ProverError::InvalidOpening { index: 1, .. })
    ));
}

#[test]
fn tie_leftover_goes_in_commitment_order() {
    let (_, b) = named_batches().swap_remove(1);
    let w = Witness::new(&b).expect("witness");
    // 7 Wh bid over three asks of 3 at the same limit: 7 * 3 / 9 = 2 each, leftover 1 to the first.
    let fills: Vec<u64> = w.slots.iter().map(|s| s.fill).collect();
    assert_eq!(fills, vec![7, 3, 2, 2]);
}

fn valid() -> Witness {
    Witness::new(&named_batches().swap_remove(0).1).expect("witness")
}

fn rejects(what: &str, w: &Witness, tamper: impl FnOnce(&mut Vec<Fr>)) {
    assert!(
        mock_check_with(w, CAPACITY, tamper).is_err(),
        "{what}: accepted"
    );
}

#[test]
fn rejects_wrong_price() {
    let mut w = valid();
    w.statement.price += 1;
    rejects("price + 1", &w, |_| {});
    let mut w = valid();
    w.price_high -= 1;
    rejects("pHi - 1", &w, |_| {});
}

#[test]
fn rejects_wrong_volume_or_fill() {
    let mut w = valid();
    w.statement.volume += 1;
    rejects("volume + 1", &w, |_| {});
    let w = valid();
    rejects("a fill off by one Wh", &w, |inst| inst[8] += Fr::from(1u64));
    // Moving one Wh from a seller to another: totals stay equal, the rule is broken.
    let mut w = valid();
    w.statement.fills[1] += 1;
    w.statement.fills[3] -= 1;
    rejects("a Wh moved between sellers", &w, |_| {});
    // Buy total != sell total: one more Wh to the buyer only.
    let mut w = valid();
    w.statement.fills[0] += 1;
    rejects("buy total != sell total", &w, |_| {});
}

#[test]
fn rejects_swapped_or_dropped_order() {
    let mut w = valid();
    w.slots.swap(0, 1);
    rejects("two slots swapped", &w, |_| {});
    // Dropping an opened order (calling it excluded) changes the clearing: a proof for the
    // smaller book does not prove the committed statement, and vice versa.
    let mut b = named_batches().swap_remove(0).1;
    assert!(b.slots[1].opening.is_some(), "slot 1 is opened");
    b.slots[1] = Slot::excluded(b.slots[1].entry);
    let dropped = Witness::new(&b).expect("witness");
    let honest = valid();
    assert_ne!(dropped.statement.fills, honest.statement.fills);
    let honest_inst = honest.statement.instances(CAPACITY).expect("instances");
    rejects(
        "dropped order against the honest statement",
        &dropped,
        |inst| *inst = honest_inst,
    );
}

#[test]
fn rejects_wrong_accumulator_or_commitment() {
    let mut w = valid();
    w.statement.accumulator = B256::with_last_byte(1);
    rejects("accumulator", &w, |_| {});
    let mut w = valid();
    w.slots[2].commitment = B256::with_last_byte(4);
    rejects("excluded commitment", &w, |_| {});
    let mut w = valid();
    w.slots[0].salt += alloy_primitives::U256::from(1);
    rejects("salt", &w, |_| {});
    let mut w = valid();
    w.slots[0].quantity += 1;
    rejects("quantity other than committed", &w, |_| {});
}

#[test]
fn rejects_wrong_excluded_index() {
    let mut w = valid();
    w.statement.fills.swap(1, 2);
    rejects("excluded flag on another slot", &w, |_| {});
    let mut w = valid();
    w.statement.count = 3;
    w.statement.fills.pop();
    rejects("count", &w, |_| {});
}

#[test]
fn rejects_out_of_range_fields() {
    // The committed bid is at 100; a cap below it puts the opening out of range.
    let mut w = valid();
    w.statement.price_cap = 99;
    rejects("limit above the cap", &w, |_| {});
    let mut w = valid();
    w.statement.price_floor = 60;
    rejects("limit below the floor", &w, |_| {});
    let mut w = valid();
    w.statement.interval += 1;
    rejects("another interval", &w, |_| {});
    let mut w = valid();
    w.slots[0].price_offset = price_offset(CAP) + (1 << 20);
    rejects("limit past the cap in the witness", &w, |_| {});
}

#[test]
fn rejects_a_bad_crossing_certificate() {
    // The crossing price bounds V: a c where S(c) > V* cannot be used.
    let mut w = valid();
    w.cross = i128::from(CAP);
    rejects("crossing at the cap", &w, |_| {});
}

#[test]
fn higher_plateau_cannot_be_claimed() {
    // V = 5 on [50,55), 10 on [55,60], 5 on (60,100]: the honest V* is 10. Claiming the outer
    // plateau (V* = 5 on [50, 100]) passes the four-point check of DESIGN §3.5 but not the
    // crossing certificate, whatever c is.
    let b = batch(vec![
        bid(0, 5, 100),
        bid(1, 5, 60),
        ask(2, 5, 50),
        ask(3, 5, 55),
    ]);
    let honest = Witness::new(&b).expect("witness");
    assert_eq!(honest.statement.volume, 10);
    mock_check(&honest, CAPACITY).expect("honest");
    for cross in [49i128, 54, 55, 57, 60, 100] {
        let mut w = honest.clone();
        w.statement.volume = 5;
        w.statement.price = 75;
        (w.price_low, w.price_high) = (50, 100);
        w.rest_bid = 5;
        w.rest_ask = 5;
        w.cross = cross;
        rejects("outer plateau", &w, |_| {});
    }
}

fn arb_slot(i: u64) -> impl Strategy<Value = Slot> {
    prop_oneof![
        4 => (any::<bool>(), 1u64..20, -6i64..6).prop_map(move |(s, q, l)| opened(order(i, s, q, l * 10))),
        1 => Just(excluded(i as u8 + 100)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random books (ties likely: six price levels) satisfy the circuit, and the native twin
    /// matches the reference engine (`Witness::new` checks it, fill for fill).
    #[test]
    fn random_books_satisfy_the_circuit(
        slots in (0usize..=CAPACITY).prop_flat_map(|n| (0..n as u64).map(arb_slot).collect::<Vec<_>>())
    ) {
        let w = Witness::new(&batch(slots)).expect("witness");
        prop_assert!(mock_check(&w, CAPACITY).is_ok());
    }
}

/// The public accumulator of a (tampered) witness, as the contract would hold it had the
/// sequence been committed that way.
fn accumulator_of(w: &Witness) -> B256 {
    let entries: Vec<SequenceEntry> = w
        .slots
        .iter()
        .map(|s| SequenceEntry {
            commitment: s.commitment,
            committer: Address::from_word(B256::from(s.committer)),
            lock: s.lock,
        })
        .collect();
    accumulate_all(&entries).expect("in field")
}

/// Hole 3 (issue 17): a commitment copied by another account cannot be opened with the original
/// trader's opening. The contract's accumulator binds the copier as the committer; the circuit
/// requires the opening's trader to be the committer.
#[test]
fn rejects_an_opening_of_a_commitment_someone_else_committed() {
    let honest = valid();
    assert_eq!(accumulator_of(&honest), honest.statement.accumulator);
    mock_check(&honest, CAPACITY).expect("the honest witness holds");
    let mut w = honest.clone();
    w.slots[0].committer = alloy_primitives::U256::from(0xdead_u64);
    w.statement.accumulator = accumulator_of(&w);
    rejects("opening of a copied commitment", &w, |_| {});

    // The native twin refuses it before any proving.
    let mut b = named_batches().swap_remove(0).1;
    b.slots[0].entry.committer = Address::with_last_byte(0xde);
    assert!(matches!(
        Witness::new(&b),
        Err(ProverError::InvalidOpening { index: 0, .. })
    ));
}

/// Hole 3 (issue 17): a buyer committed with lock 0 cannot be filled at a positive price (its
/// payment would come out of other traders' money); nor a seller at a negative one.
#[test]
fn rejects_a_fill_its_lock_does_not_cover() {
    let honest = valid();
    assert!(honest.statement.price > 0);
    assert!(honest.slots[0].fill > 0 && !honest.slots[0].sell);
    let mut w = honest.clone();
    w.slots[0].lock = 0;
    w.statement.accumulator = accumulator_of(&w);
    rejects("buyer with lock 0 filled at p* > 0", &w, |_| {});
    // A seller's lock does not matter at a positive price.
    let mut w = honest.clone();
    w.slots[1].lock = 0;
    w.statement.accumulator = accumulator_of(&w);
    mock_check(&w, CAPACITY).expect("a seller is paid at p* > 0, whatever its lock");

    // Negative price: the seller pays.
    let b = batch(vec![bid(0, 5, -10), ask(1, 5, -50)]);
    let honest = Witness::new(&b).expect("witness");
    assert!(honest.statement.price < 0 && honest.slots[1].fill == 5);
    mock_check(&honest, CAPACITY).expect("the honest witness holds");
    let mut w = honest.clone();
    w.slots[1].lock = 0;
    w.statement.accumulator = accumulator_of(&w);
    rejects("seller with lock 0 filled at p* < 0", &w, |_| {});
    let mut w = honest.clone();
    w.slots[0].lock = 0;
    w.statement.accumulator = accumulator_of(&w);
    mock_check(&w, CAPACITY).expect("a buyer is paid at p* < 0, whatever its lock");

    // The exact bound: 1000 lock >= fill |p*|, i.e. the payer's amount rounded up.
    let b = batch(vec![bid(0, 1000, 7), ask(1, 1000, 7)]);
    let honest = Witness::new(&b).expect("witness");
    assert_eq!((honest.statement.price, honest.slots[0].fill), (7, 1000));
    let mut w = honest.clone();
    w.slots[0].lock = 7;
    w.statement.accumulator = accumulator_of(&w);
    mock_check(&w, CAPACITY).expect("a lock of exactly the payment holds");
    w.slots[0].lock = 6;
    w.statement.accumulator = accumulator_of(&w);
    rejects("a lock one unit short", &w, |_| {});

    // The native twin refuses an under-locked payer before any proving.
    let mut b = named_batches().swap_remove(0).1;
    b.slots[0].entry.lock = 0;
    assert!(matches!(
        Witness::new(&b),
        Err(ProverError::InvalidOpening { index: 0, .. })
    ));
}
