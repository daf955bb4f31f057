//! poseidon.json: Poseidon, field checks, order packing, commitments and the accumulator.

use alloy_primitives::{Address, B256};
use sealgrid_types::{
    ACCUMULATOR_INIT, FIELD_MODULUS, Fr, MAX_LOCK, SequenceEntry, TypesError, accumulate,
    accumulate_all, fr_from_b256, fr_from_u256, fr_to_b256, hash2, hash3, hash4, order_commitment,
    order_words,
};

use crate::util::{array, b256, order_from_json, u256, vectors};

#[test]
fn field_modulus() {
    assert_eq!(
        u256(&vectors("poseidon.json")["fieldModulus"]),
        FIELD_MODULUS
    );
}

/// Every `key` case of poseidon.json hashes (with `hash`, `N` inputs) to its output.
fn check_cases<const N: usize>(key: &str, min: usize, hash: impl Fn([Fr; N]) -> Fr) {
    let v = vectors("poseidon.json");
    let cases = array(&v, key);
    assert!(cases.len() >= min);
    for case in cases {
        let inputs: Vec<_> = array(case, "inputs")
            .iter()
            .map(|x| fr_from_b256(b256(x)).expect("input < r"))
            .collect();
        let inputs: [_; N] = inputs.try_into().expect("input count");
        assert_eq!(
            fr_to_b256(hash(inputs)),
            b256(&case["output"]),
            "case {case}"
        );
    }
}

#[test]
fn poseidon2_cases() {
    check_cases("poseidon2", 5, |[a, b]| hash2(a, b));
}

#[test]
fn poseidon3_cases() {
    check_cases("poseidon3", 4, hash3);
}

#[test]
fn poseidon4_cases() {
    check_cases("poseidon4", 4, hash4);
}

#[test]
fn out_of_field_values_are_rejected() {
    let v = vectors("poseidon.json");
    for value in array(&v, "outOfField") {
        let value = u256(value);
        assert!(value >= FIELD_MODULUS);
        assert!(matches!(
            fr_from_u256(value),
            Err(TypesError::NotInField { .. })
        ));
        let entry = SequenceEntry {
            commitment: B256::from(value),
            committer: Address::ZERO,
            lock: 0,
        };
        assert!(accumulate(ACCUMULATOR_INIT, &entry).is_err());
    }
}

#[test]
fn order_words_and_commitments() {
    let v = vectors("poseidon.json");
    let cases = array(&v, "commitments");
    assert!(cases.len() >= 5);
    for case in cases {
        let name = &case["name"];
        let order = order_from_json(&case["order"]);
        let words = order_words(&order).expect("valid order");
        for (k, key) in ["w0", "w1", "w2", "w3"].iter().enumerate() {
            assert_eq!(words[k], u256(&case[*key]), "{name}: {key}");
        }
        assert_eq!(
            order_commitment(&order).expect("commitment"),
            b256(&case["commitment"]),
            "{name}"
        );
    }
}

#[test]
fn rejected_orders() {
    let v = vectors("poseidon.json");
    let cases = array(&v, "rejectedOrders");
    assert!(!cases.is_empty());
    for case in cases {
        let order = order_from_json(&case["order"]);
        let field = case["field"].as_str().expect("field name");
        match order_commitment(&order) {
            Err(TypesError::NotInField { what, .. }) => assert_eq!(what, field, "{}", case["name"]),
            other => panic!("{}: expected NotInField, got {other:?}", case["name"]),
        }
    }
}

#[test]
fn accumulator_chain() {
    let v = vectors("poseidon.json");
    let acc = &v["accumulator"];
    let commitments: Vec<B256> = array(acc, "commitments").iter().map(b256).collect();
    let committers: Vec<Address> = array(acc, "committers")
        .iter()
        .map(|a| a.as_str().expect("address").parse().expect("address"))
        .collect();
    let locks: Vec<u128> = array(acc, "locks")
        .iter()
        .map(|l| {
            let hex = l.as_str().expect("lock").trim_start_matches("0x");
            u128::from_str_radix(hex, 16).expect("lock")
        })
        .collect();
    let accs: Vec<B256> = array(acc, "accs").iter().map(b256).collect();
    assert_eq!(commitments.len(), accs.len());
    assert_eq!(committers.len(), accs.len());
    assert_eq!(locks.len(), accs.len());
    assert!(commitments.len() >= 3);
    assert!(
        locks.contains(&MAX_LOCK),
        "the vectors reach the largest lock"
    );
    let entries: Vec<SequenceEntry> = commitments
        .iter()
        .zip(&committers)
        .zip(&locks)
        .map(|((c, a), l)| SequenceEntry {
            commitment: *c,
            committer: *a,
            lock: *l,
        })
        .collect();
    let mut running = ACCUMULATOR_INIT;
    for (e, expected) in entries.iter().zip(&accs) {
        running = accumulate(running, e).expect("in field");
        assert_eq!(running, *expected);
    }
    assert_eq!(
        accumulate_all(&entries).expect("in field"),
        *accs.last().expect("non-empty")
    );
}
