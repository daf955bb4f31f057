//! circomlib's Poseidon over BN254 (docs/encoding.md, "Poseidon").
//!
//! x^5 S-box, 8 full rounds, 57 partial rounds for `t = 3`, 56 for `t = 4` and 60 for `t = 5`,
//! round constants
//! and MDS matrix from the Grain LFSR with `secure_mds = 0` (poseidon-primitives 0.2.0's
//! generator). `H(x1..xn)` starts from the state `[0, x1, .., xn]`, applies one permutation
//! and outputs `state[0]`: this is what circomlibjs 0.1.7 and poseidon-solidity 0.0.5 compute,
//! and what the circuit's Poseidon gate computes from [`permutation_t3`], [`permutation_t4`] and
//! [`permutation_t5`].
//!
//! In poseidon-primitives that is `Hash<Fr, Spec, ConstantLengthIden3<L>, T, T - 1>` with the
//! domain element 0: the iden3 layout puts the capacity at `state[0]` (initialised to 0), the
//! `L = T - 1` inputs at `state[1..]` (no padding since `L` equals the rate) and squeezes
//! `state[0]`.

use std::sync::OnceLock;

use ff::Field;
use poseidon_primitives::poseidon::primitives::{ConstantLengthIden3, Hash, Spec};

use crate::field::Fr;

/// `(round constants, mds, mds^-1)` as returned by [`Spec::constants`].
type Constants<const T: usize> = (Vec<[Fr; T]>, [[Fr; T]; T], [[Fr; T]; T]);

/// The x^5 S-box.
fn pow5(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// The Grain-generated parameters for width `T` with `R_P` partial rounds. Only used to
/// generate the constants once: generation takes milliseconds per call, and
/// `Hash::init` asks for them on every hash.
#[derive(Debug)]
struct GrainSpec<const T: usize, const RATE: usize, const R_P: usize>;

impl<const T: usize, const RATE: usize, const R_P: usize> Spec<Fr, T, RATE>
    for GrainSpec<T, RATE, R_P>
{
    fn full_rounds() -> usize {
        8
    }

    fn partial_rounds() -> usize {
        R_P
    }

    fn sbox(val: Fr) -> Fr {
        pow5(val)
    }

    fn secure_mds() -> usize {
        0
    }
}

/// Defines a circomlib Poseidon spec of one width whose constants are generated once.
macro_rules! cached_spec {
    ($(#[$doc:meta])* $name:ident, $t:literal, $r_p:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        struct $name;

        impl Spec<Fr, $t, { $t - 1 }> for $name {
            fn full_rounds() -> usize {
                8
            }

            fn partial_rounds() -> usize {
                $r_p
            }

            fn sbox(val: Fr) -> Fr {
                pow5(val)
            }

            fn secure_mds() -> usize {
                0
            }

            fn constants() -> Constants<$t> {
                static CONSTANTS: OnceLock<Constants<$t>> = OnceLock::new();
                CONSTANTS
                    .get_or_init(<GrainSpec<$t, { $t - 1 }, $r_p> as Spec<Fr, $t, { $t - 1 }>>::constants)
                    .clone()
            }
        }
    };
}

cached_spec!(
    /// circomlib Poseidon, width 3 (two inputs): 8 full, 57 partial rounds.
    PoseidonT3,
    3,
    57
);
cached_spec!(
    /// circomlib Poseidon, width 4 (three inputs): 8 full, 56 partial rounds.
    PoseidonT4,
    4,
    56
);
cached_spec!(
    /// circomlib Poseidon, width 5 (four inputs): 8 full, 60 partial rounds.
    PoseidonT5,
    5,
    60
);

/// The round constants (one row per round: 4 full, `R_P` partial, 4 full) and the MDS matrix of
/// the width-3 permutation, unoptimised: round `r` adds `constants[r]`, applies the S-box (to
/// every word in a full round, to word 0 in a partial one) and multiplies by `mds` (row-major,
/// `new[i] = sum_j mds[i][j] * old[j]`). The circuit's Poseidon gate is written over these.
pub fn permutation_t3() -> (Vec<[Fr; 3]>, [[Fr; 3]; 3]) {
    let (rc, mds, _) = <PoseidonT3 as Spec<Fr, 3, 2>>::constants();
    (rc, mds)
}

/// [`permutation_t3`] for width 4.
pub fn permutation_t4() -> (Vec<[Fr; 4]>, [[Fr; 4]; 4]) {
    let (rc, mds, _) = <PoseidonT4 as Spec<Fr, 4, 3>>::constants();
    (rc, mds)
}

/// [`permutation_t3`] for width 5.
pub fn permutation_t5() -> (Vec<[Fr; 5]>, [[Fr; 5]; 5]) {
    let (rc, mds, _) = <PoseidonT5 as Spec<Fr, 5, 4>>::constants();
    (rc, mds)
}

/// circomlib's `poseidon([a, b])` (width 3).
pub fn hash2(a: Fr, b: Fr) -> Fr {
    Hash::<Fr, PoseidonT3, ConstantLengthIden3<2>, 3, 2>::init().hash([a, b], Fr::ZERO)
}

/// circomlib's `poseidon([x0, x1, x2])` (width 4).
pub fn hash3(inputs: [Fr; 3]) -> Fr {
    Hash::<Fr, PoseidonT4, ConstantLengthIden3<3>, 4, 3>::init().hash(inputs, Fr::ZERO)
}

/// circomlib's `poseidon([x0, x1, x2, x3])` (width 5).
pub fn hash4(inputs: [Fr; 4]) -> Fr {
    Hash::<Fr, PoseidonT5, ConstantLengthIden3<4>, 5, 4>::init().hash(inputs, Fr::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{fr_from_u256, fr_to_b256};
    use alloy_primitives::{U256, b256};

    #[test]
    fn circomlib_vector_t3() {
        let h = hash2(Fr::from(1), Fr::from(2));
        assert_eq!(
            fr_to_b256(h),
            b256!("115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a")
        );
    }

    #[test]
    fn circomlib_vector_t5() {
        // circomlibjs 0.1.7: poseidon([1, 2, 3, 4]).
        let h = hash4([Fr::from(1), Fr::from(2), Fr::from(3), Fr::from(4)]);
        assert_eq!(
            fr_to_b256(h),
            b256!("299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465")
        );
    }

    /// The hash is one permutation of `[0, x1, .., xn]`, output `state[0]`, with the round
    /// counts of circomlib.
    #[test]
    fn hash_is_one_permutation_of_zero_capacity_state() {
        let (a, b) = (Fr::from(11), Fr::from(22));
        let hasher = Hash::<Fr, PoseidonT3, ConstantLengthIden3<2>, 3, 2>::init();
        let mut state = [Fr::ZERO, a, b];
        hasher.permute(&mut state);
        assert_eq!(state[0], hash2(a, b));

        let (rc3, _, _) = PoseidonT3::constants();
        assert_eq!(rc3.len(), 8 + 57);
        let (rc4, _, _) = PoseidonT4::constants();
        assert_eq!(rc4.len(), 8 + 56);
        let (rc5, _, _) = PoseidonT5::constants();
        assert_eq!(rc5.len(), 8 + 60);
    }

    #[test]
    fn cached_constants_equal_generated() {
        assert_eq!(
            PoseidonT3::constants(),
            <GrainSpec<3, 2, 57> as Spec<Fr, 3, 2>>::constants()
        );
    }

    #[test]
    fn top_of_field_inputs() {
        let max = fr_from_u256(crate::field::FIELD_MODULUS - U256::from(1)).expect("r - 1");
        // Not a known-answer test (the JSON vectors carry those); checks it runs and differs.
        assert_ne!(hash2(max, max), hash2(Fr::ZERO, Fr::ZERO));
    }
}
