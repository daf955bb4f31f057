//! circomlib's Poseidon in the circuit: one permutation of `[0, x1, .., xn]`, output `state[0]`
//! (docs/encoding.md, "Poseidon"). The native twin is `sealgrid_types::{hash2, hash4}`.
//!
//! halo2-base's own hashers start the capacity at 2^64 and pad, so they compute a different
//! function; its permutation is crate-private. This is that permutation, written over the public
//! getters of `OptimizedPoseidonSpec` (the optimised round constants and the sparse MDS
//! factorisation of the same Grain-generated parameters, `secure_mds = 0`).

use std::sync::OnceLock;

use halo2_base::gates::GateInstructions;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::poseidon::hasher::spec::OptimizedPoseidonSpec;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

/// Width 3 (two inputs): 8 full, 57 partial rounds.
pub(crate) fn spec_t3() -> &'static OptimizedPoseidonSpec<Fr, 3, 2> {
    static SPEC: OnceLock<OptimizedPoseidonSpec<Fr, 3, 2>> = OnceLock::new();
    SPEC.get_or_init(OptimizedPoseidonSpec::new::<8, 57, 0>)
}

/// Width 5 (four inputs): 8 full, 60 partial rounds.
pub(crate) fn spec_t5() -> &'static OptimizedPoseidonSpec<Fr, 5, 4> {
    static SPEC: OnceLock<OptimizedPoseidonSpec<Fr, 5, 4>> = OnceLock::new();
    SPEC.get_or_init(OptimizedPoseidonSpec::new::<8, 60, 0>)
}

fn pow5_plus(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    x: AssignedValue<Fr>,
    c: Fr,
) -> AssignedValue<Fr> {
    let x2 = gate.mul(ctx, x, x);
    let x4 = gate.mul(ctx, x2, x2);
    gate.mul_add(ctx, x, x4, Constant(c))
}

fn mds<const T: usize>(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    s: [AssignedValue<Fr>; T],
    m: &[[Fr; T]; T],
) -> [AssignedValue<Fr>; T] {
    m.map(|row| gate.inner_product(ctx, s, row.map(Constant)))
}

/// circomlib `poseidon(inputs)` with `T - 1 = RATE` inputs.
pub(crate) fn hash<const T: usize, const RATE: usize>(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    spec: &OptimizedPoseidonSpec<Fr, T, RATE>,
    inputs: [AssignedValue<Fr>; RATE],
) -> AssignedValue<Fr> {
    let half = spec.r_f() / 2;
    let start = spec.constants().start();
    // State [0, x1, .., xn] plus the first pre-constants.
    let mut s: [AssignedValue<Fr>; T] = core::array::from_fn(|i| {
        if i == 0 {
            ctx.load_constant(start[0][0])
        } else {
            gate.add(ctx, inputs[i - 1], Constant(start[0][i]))
        }
    });
    for constants in start.iter().skip(1).take(half - 1) {
        s = core::array::from_fn(|i| pow5_plus(ctx, gate, s[i], constants[i]));
        s = mds(ctx, gate, s, spec.mds_matrices().mds().as_ref());
    }
    let last = &start[start.len() - 1];
    s = core::array::from_fn(|i| pow5_plus(ctx, gate, s[i], last[i]));
    s = mds(ctx, gate, s, spec.mds_matrices().pre_sparse_mds().as_ref());

    for (c, sparse) in spec
        .constants()
        .partial()
        .iter()
        .zip(spec.mds_matrices().sparse_matrices().iter())
    {
        s[0] = pow5_plus(ctx, gate, s[0], *c);
        let first = gate.inner_product(ctx, s, sparse.row().map(Constant));
        let mut next = s;
        next[0] = first;
        for (i, coeff) in sparse.col_hat().iter().enumerate() {
            next[i + 1] = gate.mul_add(ctx, s[0], Constant(*coeff), s[i + 1]);
        }
        s = next;
    }

    for constants in spec.constants().end().iter() {
        s = core::array::from_fn(|i| pow5_plus(ctx, gate, s[i], constants[i]));
        s = mds(ctx, gate, s, spec.mds_matrices().mds().as_ref());
    }
    s = core::array::from_fn(|i| pow5_plus(ctx, gate, s[i], Fr::zero()));
    s = mds(ctx, gate, s, spec.mds_matrices().mds().as_ref());
    s[0]
}
