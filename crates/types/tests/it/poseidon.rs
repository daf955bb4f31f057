//! poseidon.json: Poseidon, field checks, order packing, commitments and the accumulator.

use alloy_primitives::B256;
use sealgrid_types::{
    ACCUMULATOR_INIT, FIELD_MODULUS, TypesError, accumulate, accumulate_all, fr_from_b256,
    fr_from_u256, fr_to_b256, hash2, hash4, order_commitment, order_words,
};

use crate::util::{array, b256, order_from_json, u256, vectors};

#[test]
fn field_modulus() {
    assert_eq!(
        u256(&vectors("poseidon.json")["fieldModulus"]),
        FIELD_MODULUS
    );
}

#[test]
fn poseidon2_cases() {
    let v = vectors("poseidon.json");
    let cases = array(&v, "poseidon2");
    assert!(cases.len() >= 5);
    for case in cases {
        let inputs: Vec<_> = array(case, "inputs")
            .iter()
            .map(|x| fr_from_b256(b256(x)).expect("input < r"))
            .collect();
        assert_eq!(inputs.len(), 2);
        assert_eq!(
            fr_to_b256(hash2(inputs[0], inputs[1])),
            b256(&case["output"]),
            "case {case}"
        );
    }
}

#[test]
fn poseidon4_cases() {
    let v = vectors("poseidon.json");
    let cases = array(&v, "poseidon4");
    assert!(cases.len() >= 4);
    for case in cases {
        let inputs: Vec<_> = array(case, "inputs")
            .iter()
            .map(|x| fr_from_b256(b256(x)).expect("input < r"))
            .collect();
        let inputs: [_; 4] = inputs.try_into().expect("four inputs");
        assert_eq!(
            fr_to_b256(hash4(inputs)),
            b256(&case["output"]),
            "case {case}"
        );
    }
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
        assert!(accumulate(ACCUMULATOR_INIT, B256::from(value)).is_err());
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
    let accs: Vec<B256> = array(acc, "accs").iter().map(b256).collect();
    assert_eq!(commitments.len(), accs.len());
    assert!(commitments.len() >= 3);
    let mut running = ACCUMULATOR_INIT;
    for (c, expected) in commitments.iter().zip(&accs) {
        running = accumulate(running, *c).expect("in field");
        assert_eq!(running, *expected);
    }
    assert_eq!(
        accumulate_all(&commitments).expect("in field"),
        *accs.last().expect("non-empty")
    );
}
