//! circomlib's Poseidon (docs/encoding.md, "Poseidon") as a custom gate beside halo2-base's flex
//! gate. The native twin is `sealgrid_types::{hash2, hash4}`.
//!
//! Written over the flex gate, one permutation costs about 2,250 (width 3) and 3,780 (width 5)
//! advice cells, 91% of a slot. Here a permutation is a block of rows in five state columns
//! `s0..s4`, one auxiliary column and five fixed round-constant columns:
//!
//! - row 0 holds the initial state `[0, x1, .., xn]` (`q_init`: `s0 = 0`);
//! - a full round starting at row `r` takes two rows. With `u_i = s_i[r] + rc_i[r]`, row `r + 1`
//!   holds `u_i^4` and row `r + 2` the next state `M · (u^4 ⊙ u)` (`q_full`);
//! - a partial round takes one row: `aux[r] = u_0^4` and row `r + 1` holds
//!   `M · [aux · u_0, u_1, .., u_{t-1}]` (`q_partial`);
//! - the output `state[0]` is `s0` on the block's last row.
//!
//! Rounds run 4 full, `R_P` partial, 4 full with the unoptimised constants and MDS matrix
//! ([`sealgrid_types::permutation_t4`], [`sealgrid_types::permutation_t5`]), so a width-`t`
//! block has `16 + R_P + 1` rows: 73 for width 4 (the accumulator step), 77 for width 5 (the
//! order commitment). Every constraint has degree at most 5 (selector times `u^4`), which
//! keeps halo2's quotient on the same 4n extended domain as the flex gate and its lookups.
//!
//! Hashes are queued while the flex-gate part is built ([`HashQueue::hash`]): the output is a
//! halo2-base external virtual cell whose value is computed natively; at synthesis the block is
//! laid out, its input cells are copy-constrained to the flex-gate cells they came from and its
//! output cell becomes the physical cell behind that virtual cell.

use std::sync::{Mutex, MutexGuard, OnceLock};

use halo2_base::halo2_proofs::circuit::{Region, Value};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells,
};
use halo2_base::halo2_proofs::poly::Rotation;
use halo2_base::utils::halo2::constrain_virtual_equals_external;
use halo2_base::virtual_region::copy_constraints::{
    CopyConstraintManager, SharedCopyConstraintManager,
};
use halo2_base::{AssignedValue, Context};

/// State columns (the widest permutation).
const COLUMNS: usize = 5;
/// Full rounds (half before, half after the partial ones).
const FULL_ROUNDS: usize = 8;

/// One permutation's parameters.
#[derive(Debug)]
struct Permutation {
    /// State width `t` (inputs + 1).
    width: usize,
    /// Partial rounds.
    partial: usize,
    /// Round constants, one row per round, `width` wide.
    rc: Vec<Vec<Fr>>,
    /// MDS matrix, row-major.
    mds: Vec<Vec<Fr>>,
}

impl Permutation {
    fn t4() -> &'static Self {
        static P: OnceLock<Permutation> = OnceLock::new();
        P.get_or_init(|| {
            let (rc, mds) = sealgrid_types::permutation_t4();
            Self::new(56, rc.iter().map(|r| r.to_vec()), mds.map(|r| r.to_vec()))
        })
    }

    fn t5() -> &'static Self {
        static P: OnceLock<Permutation> = OnceLock::new();
        P.get_or_init(|| {
            let (rc, mds) = sealgrid_types::permutation_t5();
            Self::new(60, rc.iter().map(|r| r.to_vec()), mds.map(|r| r.to_vec()))
        })
    }

    fn new<const T: usize>(
        partial: usize,
        rc: impl Iterator<Item = Vec<Fr>>,
        mds: [Vec<Fr>; T],
    ) -> Self {
        Self {
            width: T,
            partial,
            rc: rc.collect(),
            mds: mds.to_vec(),
        }
    }

    fn for_inputs(inputs: usize) -> Option<&'static Self> {
        match inputs {
            3 => Some(Self::t4()),
            4 => Some(Self::t5()),
            _ => None,
        }
    }

    /// Rows of one block.
    fn rows(&self) -> usize {
        2 * FULL_ROUNDS + self.partial + 1
    }

    fn mds_mul(&self, v: &[Fr]) -> Vec<Fr> {
        self.mds
            .iter()
            .map(|row| row.iter().zip(v).map(|(m, x)| *m * x).sum())
            .collect()
    }

    /// The block's rows: the state columns and the auxiliary column, and the kind of round
    /// that starts on each row.
    fn trace(&self, inputs: &[Fr]) -> Vec<TraceRow> {
        let t = self.width;
        let mut state: Vec<Fr> = std::iter::once(Fr::ZERO)
            .chain(inputs.iter().copied())
            .collect();
        let mut rows = Vec::with_capacity(self.rows());
        let half = FULL_ROUNDS / 2;
        for (round, rc) in self.rc.iter().enumerate() {
            let u: Vec<Fr> = state.iter().zip(rc).map(|(s, c)| *s + c).collect();
            let full = round < half || round >= half + self.partial;
            if full {
                let x4: Vec<Fr> = u.iter().map(|x| x.square().square()).collect();
                rows.push(TraceRow::round(state, Round::Full, Fr::ZERO));
                let x5: Vec<Fr> = x4.iter().zip(&u).map(|(a, b)| *a * b).collect();
                rows.push(TraceRow::round(x4, Round::None, Fr::ZERO));
                state = self.mds_mul(&x5);
            } else {
                let aux = u[0].square().square();
                rows.push(TraceRow::round(state, Round::Partial, aux));
                let mut v = u;
                v[0] *= aux;
                state = self.mds_mul(&v);
            }
        }
        debug_assert_eq!(state.len(), t);
        rows.push(TraceRow::round(state, Round::None, Fr::ZERO));
        rows
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Round {
    None,
    Full,
    Partial,
}

#[derive(Clone, Debug)]
struct TraceRow {
    s: Vec<Fr>,
    aux: Fr,
    round: Round,
}

impl TraceRow {
    fn round(s: Vec<Fr>, round: Round, aux: Fr) -> Self {
        Self { s, aux, round }
    }
}

/// The Poseidon gate's columns and selectors.
#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    s: [Column<Advice>; COLUMNS],
    aux: Column<Advice>,
    rc: [Column<Fixed>; COLUMNS],
    q_init: Selector,
    /// Full-round selectors for width 4 and width 5.
    q_full: [Selector; 2],
    /// Partial-round selectors for width 4 and width 5.
    q_partial: [Selector; 2],
}

/// `u_i = s_i + rc_i` on the current row, for the `t` words of a round.
fn round_input(
    m: &mut VirtualCells<'_, Fr>,
    s: &[Column<Advice>; COLUMNS],
    rc: &[Column<Fixed>; COLUMNS],
    t: usize,
) -> Vec<Expression<Fr>> {
    (0..t)
        .map(|i| m.query_advice(s[i], Rotation::cur()) + m.query_fixed(rc[i], Rotation::cur()))
        .collect()
}

fn pow4(x: &Expression<Fr>) -> Expression<Fr> {
    let sq = x.clone() * x.clone();
    sq.clone() * sq
}

/// One row of the MDS product, `sum_i term(i, row[i])`. The expression's shape is part of the
/// verifying key: changing how a term is written changes the generated verifiers.
fn mix(row: &[Fr], term: impl Fn(usize, Expression<Fr>) -> Expression<Fr>) -> Expression<Fr> {
    row.iter()
        .enumerate()
        .map(|(i, c)| term(i, Expression::Constant(*c)))
        .reduce(|a, b| a + b)
        .unwrap_or(Expression::Constant(Fr::ZERO))
}

/// The index of a width's selectors (4 -> 0, 5 -> 1).
fn selector_index(width: usize) -> usize {
    usize::from(width == 5)
}

impl PoseidonConfig {
    /// Adds the columns and gates to `meta`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        let s = [(); COLUMNS].map(|_| {
            let c = meta.advice_column();
            meta.enable_equality(c);
            c
        });
        let aux = meta.advice_column();
        let rc = [(); COLUMNS].map(|_| meta.fixed_column());
        let config = Self {
            s,
            aux,
            rc,
            q_init: meta.selector(),
            q_full: [meta.selector(), meta.selector()],
            q_partial: [meta.selector(), meta.selector()],
        };
        meta.create_gate("poseidon capacity starts at 0", |m| {
            let q = m.query_selector(config.q_init);
            vec![q * m.query_advice(s[0], Rotation::cur())]
        });
        for p in [Permutation::t4(), Permutation::t5()] {
            let t = p.width;
            let idx = selector_index(t);
            meta.create_gate("poseidon full round", |m| {
                let q = m.query_selector(config.q_full[idx]);
                let u = round_input(m, &s, &rc, t);
                let x4: Vec<Expression<Fr>> = (0..t)
                    .map(|i| m.query_advice(s[i], Rotation::next()))
                    .collect();
                let mut out: Vec<Expression<Fr>> = u
                    .iter()
                    .zip(&x4)
                    .map(|(u, x4)| q.clone() * (x4.clone() - pow4(u)))
                    .collect();
                for (j, row) in p.mds.iter().enumerate() {
                    let next = m.query_advice(s[j], Rotation(2));
                    let mixed = mix(row, |i, c| c * x4[i].clone() * u[i].clone());
                    out.push(q.clone() * (next - mixed));
                }
                out
            });
            meta.create_gate("poseidon partial round", |m| {
                let q = m.query_selector(config.q_partial[idx]);
                let mut u = round_input(m, &s, &rc, t);
                let a = m.query_advice(aux, Rotation::cur());
                let mut out = vec![q.clone() * (a.clone() - pow4(&u[0]))];
                u[0] = a * u[0].clone();
                for (j, row) in p.mds.iter().enumerate() {
                    let next = m.query_advice(s[j], Rotation::next());
                    out.push(q.clone() * (next - mix(row, |i, c| c * u[i].clone())));
                }
                out
            });
        }
        config
    }
}

/// A queued permutation: its input cells (flex gate), its rows and its output (an external
/// virtual cell holding the last row's `s0`).
#[derive(Clone, Debug)]
struct Job {
    permutation: &'static Permutation,
    inputs: Vec<AssignedValue<Fr>>,
    trace: Vec<TraceRow>,
    output: AssignedValue<Fr>,
}

/// The hashes a circuit asks for while its flex-gate part is built, laid out at synthesis.
#[derive(Clone, Debug, Default)]
pub struct HashQueue {
    jobs: Vec<Job>,
    /// A cell to assign off by one (soundness tests): (job, row of its block, column; 5 is the
    /// auxiliary column).
    #[cfg(test)]
    pub(crate) fault: Option<(usize, usize, usize)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HashQueue {
    /// circomlib `poseidon(inputs)` for 3 or 4 inputs: queues the permutation and returns its
    /// output as a virtual cell of `ctx`'s copy manager.
    pub fn hash<const N: usize>(
        &mut self,
        ctx: &Context<Fr>,
        inputs: [AssignedValue<Fr>; N],
    ) -> AssignedValue<Fr> {
        let Some(permutation) = Permutation::for_inputs(N) else {
            unreachable!("the circuit hashes 3 or 4 inputs");
        };
        let trace = permutation.trace(&inputs.map(|a| *a.value()));
        let output = trace.last().map_or(Fr::ZERO, |row| row.s[0]);
        let output = lock(&ctx.copy_manager).mock_external_assigned(output);
        self.jobs.push(Job {
            permutation,
            inputs: inputs.to_vec(),
            trace,
            output,
        });
        output
    }

    /// Rows the queued hashes take.
    pub fn rows(&self) -> usize {
        self.jobs.iter().map(|j| j.trace.len()).sum()
    }

    /// Lays the queued hashes out from row 0 down. Without `witness_gen_only` it also assigns
    /// the round constants and selectors and connects the input and output cells through
    /// `copy` (whose flex-gate cells must already be assigned).
    pub fn assign(
        &self,
        config: &PoseidonConfig,
        region: &mut Region<Fr>,
        usable_rows: usize,
        witness_gen_only: bool,
        copy: &SharedCopyConstraintManager<Fr>,
    ) -> Result<(), Error> {
        if self.rows() > usable_rows {
            return Err(Error::NotEnoughRowsAvailable {
                current_k: usable_rows.next_power_of_two().trailing_zeros(),
            });
        }
        let mut copy: Option<MutexGuard<'_, CopyConstraintManager<Fr>>> =
            (!witness_gen_only).then(|| lock(copy));
        let mut row = 0;
        for (j, job) in self.jobs.iter().enumerate() {
            let fault = |offset: usize, column: usize| -> Fr {
                #[cfg(test)]
                if self.fault == Some((j, offset, column)) {
                    return Fr::ONE;
                }
                let _ = (j, offset, column);
                Fr::ZERO
            };
            let (p, trace) = (job.permutation, &job.trace);
            let last = trace.len() - 1;
            let idx = selector_index(p.width);
            let mut round = 0;
            for (offset, tr) in trace.iter().enumerate() {
                let r = row + offset;
                let mut cells = Vec::with_capacity(p.width);
                for (i, v) in tr.s.iter().enumerate() {
                    let v = *v + fault(offset, i);
                    cells.push(region.assign_advice(config.s[i], r, Value::known(v)).cell());
                }
                if tr.round == Round::Partial {
                    let v = tr.aux + fault(offset, COLUMNS);
                    region.assign_advice(config.aux, r, Value::known(v));
                }
                let Some(copy) = copy.as_deref_mut() else {
                    continue;
                };
                if offset == 0 {
                    config.q_init.enable(region, r)?;
                    for (input, cell) in job.inputs.iter().zip(&cells[1..]) {
                        constrain_virtual_equals_external(region, *input, *cell, copy);
                    }
                }
                if offset == last {
                    constrain_virtual_equals_external(region, job.output, cells[0], copy);
                }
                match tr.round {
                    Round::None => continue,
                    Round::Full => config.q_full[idx].enable(region, r)?,
                    Round::Partial => config.q_partial[idx].enable(region, r)?,
                }
                for (i, c) in p.rc[round].iter().enumerate() {
                    region.assign_fixed(config.rc[i], r, *c);
                }
                round += 1;
            }
            row += trace.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_computes_circomlib() {
        let x = [1u64, 2, 3].map(Fr::from);
        let t = Permutation::t4().trace(&x);
        assert_eq!(t.len(), 73);
        assert_eq!(t[72].s[0], sealgrid_types::hash3(x));
        let x = [3u64, 5, 7, 11].map(Fr::from);
        let t = Permutation::t5().trace(&x);
        assert_eq!(t.len(), 77);
        assert_eq!(t[76].s[0], sealgrid_types::hash4(x));
    }
}
