//! The BN254 scalar field and checked conversions into it.
//!
//! Every value hashed with Poseidon must be an integer in `[0, r)`. Values that do not fit are
//! rejected with [`TypesError::NotInField`], never reduced modulo `r` (docs/encoding.md, "Field").

use alloy_primitives::{B256, U256};
use ff::PrimeField;

use crate::error::{TypesError, TypesResult};

/// The BN254 scalar field element, the type the halo2-axiom prover uses.
pub use halo2curves_axiom::bn256::Fr;

/// The BN254 scalar field modulus
/// `r = 21888242871839275222246405745257275088548364400416034343698204186575808495617`
/// (`0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001`).
pub const FIELD_MODULUS: U256 = U256::from_limbs([
    0x43e1_f593_f000_0001,
    0x2833_e848_79b9_7091,
    0xb850_45b6_8181_585d,
    0x3064_4e72_e131_a029,
]);

/// Whether `value < r`, i.e. `value` may be hashed as a field element.
pub fn is_in_field(value: U256) -> bool {
    value < FIELD_MODULUS
}

/// `value` as a field element, or [`TypesError::NotInField`] naming it `what` if `value >= r`.
pub(crate) fn to_fr(what: &'static str, value: U256) -> TypesResult<Fr> {
    if !is_in_field(value) {
        return Err(TypesError::NotInField { what, value });
    }
    // `from_repr` takes the little-endian canonical encoding and fails only for values >= r,
    // which the check above already excluded; map a failure to the same error anyway.
    Option::from(Fr::from_repr(value.to_le_bytes::<32>()))
        .ok_or(TypesError::NotInField { what, value })
}

/// `value` as a field element; [`TypesError::NotInField`] if `value >= r`.
pub fn fr_from_u256(value: U256) -> TypesResult<Fr> {
    to_fr("field element", value)
}

/// The big-endian 32 bytes `value` as a field element; [`TypesError::NotInField`] if `>= r`.
pub fn fr_from_b256(value: B256) -> TypesResult<Fr> {
    fr_from_u256(U256::from_be_bytes(value.0))
}

/// The canonical integer in `[0, r)` of a field element.
pub fn fr_to_u256(value: Fr) -> U256 {
    U256::from_le_bytes(value.to_repr())
}

/// The canonical integer of a field element as big-endian 32 bytes (as Solidity's
/// `bytes32(uint256(x))`).
pub fn fr_to_b256(value: Fr) -> B256 {
    B256::from(fr_to_u256(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ff::Field;
    use proptest::prelude::*;

    #[test]
    fn modulus_matches_decimal_and_fr() {
        let decimal: U256 =
            "21888242871839275222246405745257275088548364400416034343698204186575808495617"
                .parse()
                .expect("decimal r");
        assert_eq!(FIELD_MODULUS, decimal);
        // r - 1 is the field's -1.
        let minus_one = fr_from_u256(FIELD_MODULUS - U256::from(1)).expect("r - 1 < r");
        assert_eq!(minus_one, -Fr::ONE);
        assert_eq!(
            Fr::MODULUS,
            "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001"
        );
    }

    #[test]
    fn rejects_values_at_or_above_r() {
        for v in [FIELD_MODULUS, FIELD_MODULUS + U256::from(1), U256::MAX] {
            assert!(matches!(
                fr_from_u256(v),
                Err(TypesError::NotInField { value, .. }) if value == v
            ));
            assert!(fr_from_b256(B256::from(v)).is_err());
        }
    }

    #[test]
    fn small_values() {
        assert_eq!(fr_from_u256(U256::ZERO).expect("0"), Fr::ZERO);
        assert_eq!(fr_from_u256(U256::from(7)).expect("7"), Fr::from(7));
        assert_eq!(fr_to_u256(Fr::from(u64::MAX)), U256::from(u64::MAX));
        let b = fr_to_b256(Fr::from(0x0102));
        assert_eq!(&b[30..], &[1, 2]);
        assert!(b[..30].iter().all(|&x| x == 0));
    }

    proptest! {
        #[test]
        fn round_trip_below_r(limbs in any::<[u64; 4]>()) {
            let v = U256::from_limbs(limbs) % FIELD_MODULUS;
            let fr = fr_from_u256(v).expect("reduced");
            prop_assert_eq!(fr_to_u256(fr), v);
            prop_assert_eq!(fr_from_b256(fr_to_b256(fr)).expect("canonical"), fr);
        }
    }
}
