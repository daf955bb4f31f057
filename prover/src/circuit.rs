//! The clearing circuit (DESIGN §3.6) over halo2-base's flex gate and range chip, with the
//! commitment and accumulator hashes in the Poseidon gate beside them ([`crate::poseidon`]).
//!
//! Every value below has its native twin in [`crate::witness`] under the same name. The shape
//! of the circuit depends only on the capacity, never on the witness: every loop runs over all
//! `capacity` slots, and slots past `count` are padding that the accumulator skips and whose fill
//! word is 0.
//!
//! Per slot `k`:
//! - `in_seq = k < count`; `opened` implies `in_seq`; an opened slot has `1 <= q < 2^48`,
//!   `side ∈ {0, 1}`, `floor <= limit <= cap`, and its commitment is
//!   `H(w0, market, interval | q << 64 | limit' << 128 | side << 192, salt)` with the public
//!   market and interval; an excluded slot's commitment is a free witness (the accumulator binds it);
//! - `acc_{k+1} = in_seq ? H(acc_k, c_k, committer_k | lock_k << 160) mod 2^224 : acc_k`
//!   (committer below 2^160, lock below 2^93; the output split as `hi 2^224 + lo`, both
//!   range-checked), and the last one equals the public accumulator; an opened slot's
//!   trader (the low 160 bits of `w0`) is its committer;
//! - three comparisons against the side's thresholds (`pHi`, `pHi + 1`, `c + 1` for bids, `pLo`,
//!   `pLo - 1`, `c` for asks) give `D` and `S` at the points of the certificate (see witness.rs);
//! - bids above `pHi` / asks below `pLo` fill fully; marginal ones get
//!   `floor(q R / Q) + [rank < leftover]`, with the division checked as `q R = base Q + rem`,
//!   `rem < Q`;
//! - the lock covers the fill's payment at `p*`: `1000 lock >= fill |p*|` for buyers when
//!   `p* > 0` and sellers when `p* < 0` (the payer's amount rounds up, DESIGN §3.2);
//! - the 50-bit chunk of the fill word, packed five per public element.
//!
//! Prices enter comparisons as `phi(x) = uint64(x) ^ 2^63 + 1`, so that `pLo - 1` and `c = floor - 1`
//! stay non-negative; all comparison operands are range-checked below 2^65 and compared with 66 bits.

use alloy_primitives::{B256, U256};
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, BaseConfig, MaybeRangeConfig};
use halo2_base::gates::{GateChip, GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
use halo2_base::virtual_region::manager::VirtualRegionManager;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};
use sealgrid_types::{fr_from_b256, fr_from_u256, fr_to_b256};

use crate::error::{ProverError, ProverResult};
use crate::poseidon::{HashQueue, PoseidonConfig};
use crate::statement::{CHUNK_BITS, CHUNKS_PER_ELEMENT, price_offset};
use crate::witness::{SlotWitness, Witness, phi};

/// Bits of a price comparison operand (`phi` values and thresholds are below 2^65).
const CMP_BITS: usize = 66;
/// Bits of a volume or a sum of quantities (capacity <= 2^13 orders of < 2^48 Wh).
const SUM_BITS: usize = 64;
/// Bits of a rank or leftover among marginal orders (capacity < 2^16).
const RANK_BITS: usize = 16;
/// Bits of a quantity or fill.
const QTY_BITS: usize = 48;
/// Bits of the accumulator as stored ([`sealgrid_types::ACCUMULATOR_BITS`]).
const ACCUMULATOR_BITS: usize = sealgrid_types::ACCUMULATOR_BITS;
/// Bits above them in a step's output (`hi 2^224 + lo < 2^254`).
const ACCUMULATOR_HIGH_BITS: usize = 254 - ACCUMULATOR_BITS;
/// Bits of an address.
const ADDRESS_BITS: usize = 160;
/// Bits of a lock (`MAX_LOCK = 2^93 - 1`).
const LOCK_BITS: usize = 93;
/// Bits of `1000 lock - fill |p*|` when the lock covers the payment (`1000 (2^93 - 1) < 2^103`).
const COVER_BITS: usize = 103;

/// `(value >> 224, value mod 2^224)` of a field element's canonical integer.
fn split_accumulator(value: &Fr) -> (Fr, Fr) {
    let v = U256::from_be_bytes(fr_to_b256(*value).0);
    let lo = v & ((U256::from(1) << ACCUMULATOR_BITS) - U256::from(1));
    let hi = v >> ACCUMULATOR_BITS;
    (
        fr_from_u256(hi).unwrap_or(Fr::ZERO),
        fr_from_u256(lo).unwrap_or(Fr::ZERO),
    )
}

fn pow2(n: usize) -> Fr {
    Fr::from(2u64).pow_vartime([n as u64])
}

fn fr_i128(x: i128) -> Fr {
    let magnitude = u128_fr(x.unsigned_abs());
    if x < 0 { -magnitude } else { magnitude }
}

fn u128_fr(x: u128) -> Fr {
    Fr::from(x as u64) + Fr::from((x >> 64) as u64) * pow2(64)
}

/// Constrains `bit == 1` when `cond == 1` (both boolean).
fn assert_if(
    ctx: &mut Context<Fr>,
    gate: &GateChip<Fr>,
    cond: AssignedValue<Fr>,
    bit: AssignedValue<Fr>,
) {
    // (1 - bit) * cond == 0
    let violation = gate.mul_not(ctx, bit, cond);
    gate.assert_is_const(ctx, &violation, &Fr::from(0u64));
}

fn assert_zero(ctx: &mut Context<Fr>, gate: &GateChip<Fr>, x: AssignedValue<Fr>) {
    gate.assert_is_const(ctx, &x, &Fr::from(0u64));
}

/// `side == 1 (ask) ? [value <= t_ask] : [value >= t_bid]`, all operands below 2^65.
fn included(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    side: AssignedValue<Fr>,
    value: AssignedValue<Fr>,
    t_bid: AssignedValue<Fr>,
    t_ask: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    let gate = range.gate();
    let a = gate.select(ctx, t_ask, value, side);
    let b = gate.select(ctx, value, t_bid, side);
    let lt = range.is_less_than(ctx, a, b, CMP_BITS);
    gate.not(ctx, lt)
}

/// The clearing circuit: halo2-base's flex gate and range chip for the clearing constraints and
/// the Poseidon gate ([`crate::poseidon`]) for the commitments and the accumulator, in one region.
#[derive(Clone, Debug)]
pub struct ClearingCircuit {
    /// The flex-gate part (virtual cells, lookups, copy constraints and public instances).
    pub base: BaseCircuitBuilder<Fr>,
    /// The Poseidon permutations the flex-gate part asked for.
    pub hashes: HashQueue,
}

impl ClearingCircuit {
    /// A circuit over `base` with no hashes yet.
    pub fn new(base: BaseCircuitBuilder<Fr>) -> Self {
        Self {
            base,
            hashes: HashQueue::default(),
        }
    }
}

/// The columns of both parts.
#[derive(Clone, Debug)]
pub struct ClearingConfig {
    base: BaseConfig<Fr>,
    poseidon: PoseidonConfig,
}

impl Circuit<Fr> for ClearingCircuit {
    type Config = ClearingConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = BaseCircuitParams;

    fn params(&self) -> Self::Params {
        self.base.config_params.clone()
    }

    fn without_witnesses(&self) -> Self {
        unimplemented!("keys are generated from a shape witness (keys::keygen)")
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: Self::Params,
    ) -> Self::Config {
        let k = params.k;
        let mut base = BaseConfig::configure(meta, params);
        let poseidon = PoseidonConfig::configure(meta);
        // The Poseidon gate queries two rows ahead, which may raise the blinding rows.
        base.set_usable_rows((1 << k) - meta.minimum_rows());
        ClearingConfig { base, poseidon }
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
        unreachable!("configured with parameters (configure_with_params)")
    }

    fn synthesize(
        &self,
        config: Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        config.base.initialize(&mut layouter);
        let core = self.base.core();
        let witness_gen_only = core.witness_gen_only();
        layouter.assign_region(
            || "clearing",
            |mut region| {
                let gate = config.base.gate();
                let usable_rows = gate.max_rows;
                core.phase_manager[0]
                    .assign_raw(&(gate.basic_gates[0].clone(), usable_rows), &mut region);
                if let MaybeRangeConfig::WithRange(range) = &config.base.base {
                    self.base.assign_lookups_in_phase(range, &mut region, 0);
                }
                self.hashes.assign(
                    &config.poseidon,
                    &mut region,
                    usable_rows,
                    witness_gen_only,
                    &core.copy_manager,
                )?;
                if !witness_gen_only {
                    core.copy_manager
                        .assign_raw(config.base.constants(), &mut region);
                }
                Ok(())
            },
        )?;
        self.base
            .assign_instances(&config.base.instance, layouter.namespace(|| "expose"));
        Ok(())
    }
}

/// Per-slot cells kept between the passes.
struct SlotCells {
    in_seq: AssignedValue<Fr>,
    lock: AssignedValue<Fr>,
    opened: AssignedValue<Fr>,
    side: AssignedValue<Fr>,
    q: AssignedValue<Fr>,
    a: AssignedValue<Fr>,
    b: AssignedValue<Fr>,
}

/// Assigns the circuit for `w` with `capacity` slots into `builder` and sets its public
/// instances. Returns the instance values.
pub fn build(circuit: &mut ClearingCircuit, w: &Witness, capacity: usize) -> ProverResult<Vec<Fr>> {
    let ClearingCircuit {
        base: builder,
        hashes,
    } = circuit;
    let instances = w.statement.instances(capacity)?;
    if w.slots.len() > capacity {
        return Err(ProverError::TooManyCommitments {
            count: w.slots.len(),
            capacity,
        });
    }
    let range = builder.range_chip();
    let gate = range.gate().clone();
    let ctx = builder.main(0);
    let zero = Fr::from(0u64);
    let load = |ctx: &mut Context<Fr>, v: Fr| ctx.load_witness(v);

    // ---- public header ----
    let header: Vec<AssignedValue<Fr>> = instances[..8].iter().map(|v| load(ctx, *v)).collect();
    let (market, interval, acc_pub, count, floor, cap, price, volume) = (
        header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7],
    );
    for (cell, bits) in [
        (interval, 64),
        (count, 32),
        (floor, 64),
        (cap, 64),
        (price, 64),
        (volume, SUM_BITS),
    ] {
        range.range_check(ctx, cell, bits);
    }
    let fits = range.is_less_than(ctx, count, Constant(Fr::from(capacity as u64 + 1)), 32);
    gate.assert_is_const(ctx, &fits, &Fr::from(1u64));
    let v_zero = gate.is_zero(ctx, volume);
    let nz = gate.not(ctx, v_zero);

    // ---- clearing globals ----
    let cleared = w.statement.volume > 0;
    let lo_off = price_offset(w.price_low);
    let hi_off = price_offset(w.price_high);
    let p_lo = load(ctx, Fr::from(lo_off));
    let p_hi = load(ctx, Fr::from(hi_off));
    range.range_check(ctx, p_lo, 64);
    range.range_check(ctx, p_hi, 64);
    let spread = gate.sub(ctx, p_hi, p_lo);
    range.range_check(ctx, spread, 64);
    let cp = load(ctx, u128_fr(phi(w.cross)));
    range.range_check(ctx, cp, 65);
    // pLo + pHi - 2 p* (0 or 1 for an honest witness; anything else fails `assert_bit`)
    let parity = if cleared {
        i128::from(lo_off) + i128::from(hi_off) - 2 * i128::from(price_offset(w.statement.price))
    } else {
        0
    };
    let r = load(ctx, fr_i128(parity));
    gate.assert_bit(ctx, r);
    // nz * (pLo + pHi - 2 p* - r) == 0
    let sum_lh = gate.add(ctx, p_lo, p_hi);
    let two_p = gate.mul(ctx, price, Constant(Fr::from(2u64)));
    let two_p_r = gate.add(ctx, two_p, r);
    let mid = gate.sub(ctx, sum_lh, two_p_r);
    let mid_nz = gate.mul(ctx, mid, nz);
    assert_zero(ctx, &gate, mid_nz);
    // (1 - nz) * (p* - 2^63) == 0: p* = 0 when nothing clears
    let p_zero = gate.sub(ctx, price, Constant(Fr::from(1u64 << 63)));
    let p_zero_z = gate.mul(ctx, p_zero, v_zero);
    assert_zero(ctx, &gate, p_zero_z);
    // thresholds in the phi domain
    let ta_bid = gate.add(ctx, p_hi, Constant(Fr::from(1u64)));
    let tb_bid = gate.add(ctx, p_hi, Constant(Fr::from(2u64)));
    let tx_bid = gate.add(ctx, cp, Constant(Fr::from(1u64)));
    let ta_ask = gate.add(ctx, p_lo, Constant(Fr::from(1u64)));
    let tb_ask = p_lo;
    let tx_ask = cp;

    // ---- pass 1: openings, commitments, accumulator, D and S ----
    let mut acc = ctx.load_constant(zero);
    let mut sums = [ctx.load_zero(); 6]; // totA, sellA, totB, sellB, totX, sellX
    let mut cells = Vec::with_capacity(capacity);
    let c64 = pow2(64);
    let c128 = pow2(128);
    let c160 = pow2(160);
    let c192 = pow2(192);
    let c224 = pow2(ACCUMULATOR_BITS);
    let low160 = (U256::from(1) << 160) - U256::from(1);
    let padding = SlotWitness::unopened(B256::ZERO, w.statement.price_floor);
    for k in 0..capacity {
        let s = w.slots.get(k).unwrap_or(&padding);
        let opened = load(ctx, Fr::from(u64::from(s.opened)));
        let side = load(ctx, Fr::from(u64::from(s.sell)));
        let q = load(ctx, Fr::from(s.quantity));
        let limit = load(ctx, Fr::from(s.price_offset));
        let trader = load(ctx, fr_from_u256(s.w0 & low160).unwrap_or(zero));
        let nonce = load(ctx, fr_from_u256(s.w0 >> 160).unwrap_or(zero));
        let committer = load(ctx, fr_from_u256(s.committer).unwrap_or(zero));
        let lock = load(ctx, u128_fr(s.lock));
        let salt = load(ctx, fr_from_u256(s.salt).unwrap_or(zero));
        let c_excl = load(ctx, fr_from_b256(s.commitment).unwrap_or(zero));
        gate.assert_bit(ctx, opened);
        gate.assert_bit(ctx, side);
        range.range_check(ctx, q, QTY_BITS);
        range.range_check(ctx, limit, 64);
        range.range_check(ctx, trader, ADDRESS_BITS);
        range.range_check(ctx, nonce, 64);
        range.range_check(ctx, committer, ADDRESS_BITS);
        range.range_check(ctx, lock, LOCK_BITS);
        // opened * (trader - committer) == 0: an opening belongs to the account that committed it
        let other = gate.sub(ctx, trader, committer);
        let other = gate.mul(ctx, other, opened);
        assert_zero(ctx, &gate, other);
        let w0 = gate.mul_add(ctx, nonce, Constant(c160), trader);
        let in_seq = range.is_less_than(ctx, Constant(Fr::from(k as u64)), count, 32);
        let stray = gate.mul_not(ctx, in_seq, opened);
        assert_zero(ctx, &gate, stray);
        let q_zero = gate.is_zero(ctx, q);
        let empty = gate.mul(ctx, q_zero, opened);
        assert_zero(ctx, &gate, empty);
        let above_floor = gate.sub(ctx, limit, floor);
        range.range_check(ctx, above_floor, 64);
        let below_cap = gate.sub(ctx, cap, limit);
        range.range_check(ctx, below_cap, 64);

        let w2 = gate.inner_product(
            ctx,
            [interval, q, limit, side],
            [
                Constant(Fr::from(1u64)),
                Constant(c64),
                Constant(c128),
                Constant(c192),
            ],
        );
        let c_open = hashes.hash(ctx, [w0, market, w2, salt]);
        let c = gate.select(ctx, c_open, c_excl, opened);
        let binding = gate.mul_add(ctx, lock, Constant(c160), committer);
        let acc_next = hashes.hash(ctx, [acc, c, binding]);
        // acc_next = hi 2^224 + lo with lo < 2^224 and hi < 2^30: the step keeps the low 224
        // bits (the auction stores the accumulator beside the count in one slot). The sum is below
        // 2^254, so lo is the canonical value's low bits or those of value + r; either way the
        // chain can only reach the public accumulator through the on-chain inputs (a different
        // input would need a 224-bit partial preimage of the last step).
        let (hi_v, lo_v) = split_accumulator(acc_next.value());
        let lo = load(ctx, lo_v);
        let hi = load(ctx, hi_v);
        range.range_check(ctx, lo, ACCUMULATOR_BITS);
        range.range_check(ctx, hi, ACCUMULATOR_HIGH_BITS);
        let whole = gate.mul_add(ctx, hi, Constant(c224), lo);
        ctx.constrain_equal(&whole, &acc_next);
        acc = gate.select(ctx, lo, acc, in_seq);

        let value = gate.add(ctx, limit, Constant(Fr::from(1u64)));
        let a = included(ctx, &range, side, value, ta_bid, ta_ask);
        let b = included(ctx, &range, side, value, tb_bid, tb_ask);
        let x = included(ctx, &range, side, value, tx_bid, tx_ask);
        let qa = gate.mul(ctx, opened, q);
        let qs = gate.mul(ctx, qa, side);
        for (i, ind) in [a, b, x].into_iter().enumerate() {
            sums[2 * i] = gate.mul_add(ctx, qa, ind, sums[2 * i]);
            sums[2 * i + 1] = gate.mul_add(ctx, qs, ind, sums[2 * i + 1]);
        }
        cells.push(SlotCells {
            in_seq,
            lock,
            opened,
            side,
            q,
            a,
            b,
        });
    }
    ctx.constrain_equal(&acc, &acc_pub);

    let d_a = gate.sub(ctx, sums[0], sums[1]); // D(pHi)
    let s_a = sums[1]; // S(pLo)
    let d_b = gate.sub(ctx, sums[2], sums[3]); // D(pHi + 1)
    let s_b = sums[3]; // S(pLo - 1)
    let d_x = gate.sub(ctx, sums[4], sums[5]); // D(c + 1)
    let s_x = sums[5]; // S(c)
    // S(pLo - 1) < V* <= S(pLo) and D(pHi + 1) < V* <= D(pHi) when V* > 0
    let t = range.is_less_than(ctx, s_b, volume, SUM_BITS);
    assert_if(ctx, &gate, nz, t);
    let t = range.is_less_than(ctx, s_a, volume, SUM_BITS);
    let t = gate.not(ctx, t);
    assert_if(ctx, &gate, nz, t);
    let t = range.is_less_than(ctx, d_b, volume, SUM_BITS);
    assert_if(ctx, &gate, nz, t);
    let t = range.is_less_than(ctx, d_a, volume, SUM_BITS);
    let t = gate.not(ctx, t);
    assert_if(ctx, &gate, nz, t);
    // D(c + 1) <= V* and S(c) <= V*, always
    for sum in [d_x, s_x] {
        let over = range.is_less_than(ctx, volume, sum, SUM_BITS);
        assert_zero(ctx, &gate, over);
    }
    // what the marginal orders share, and their total quantity (1 when nothing clears)
    let rest_bid = gate.sub(ctx, volume, d_b);
    let rest_bid = gate.mul(ctx, rest_bid, nz);
    let rest_ask = gate.sub(ctx, volume, s_b);
    let rest_ask = gate.mul(ctx, rest_ask, nz);
    let qm_bid = gate.sub(ctx, d_a, d_b);
    let qm_bid = gate.mul_add(ctx, qm_bid, nz, v_zero);
    let qm_ask = gate.sub(ctx, s_a, s_b);
    let qm_ask = gate.mul_add(ctx, qm_ask, nz, v_zero);

    // ---- pass 2: pro-rata bases ----
    let mut marg_base = [ctx.load_zero(); 2]; // total, sell
    let mut shares = Vec::with_capacity(capacity); // (base, marginal flag) per slot
    for (k, cell) in cells.iter().enumerate() {
        let s = w.slots.get(k).unwrap_or(&padding);
        let base = load(ctx, Fr::from(s.base));
        let rem = load(ctx, Fr::from(s.remainder));
        range.range_check(ctx, base, QTY_BITS);
        range.range_check(ctx, rem, SUM_BITS);
        let rest = gate.select(ctx, rest_ask, rest_bid, cell.side);
        let qm = gate.select(ctx, qm_ask, qm_bid, cell.side);
        let below = range.is_less_than(ctx, rem, qm, SUM_BITS);
        gate.assert_is_const(ctx, &below, &Fr::from(1u64));
        let lhs = gate.mul(ctx, cell.q, rest);
        let rhs = gate.mul_add(ctx, base, qm, rem);
        ctx.constrain_equal(&lhs, &rhs);
        let diff = gate.sub(ctx, cell.a, cell.b);
        let marg = gate.mul(ctx, cell.opened, diff);
        let mb = gate.mul(ctx, marg, base);
        marg_base[0] = gate.add(ctx, marg_base[0], mb);
        marg_base[1] = gate.mul_add(ctx, mb, cell.side, marg_base[1]);
        shares.push((base, marg));
    }
    let bid_bases = gate.sub(ctx, marg_base[0], marg_base[1]);
    let left_bid = gate.sub(ctx, rest_bid, bid_bases);
    let left_ask = gate.sub(ctx, rest_ask, marg_base[1]);
    range.range_check(ctx, left_bid, RANK_BITS);
    range.range_check(ctx, left_ask, RANK_BITS);

    // |p*| and its sign: p* < 0 iff its offset is below 2^63
    let half = Constant(Fr::from(1u64 << 63));
    let negative = range.is_less_than(ctx, price, half, 64);
    let up = gate.sub(ctx, price, half);
    let down = gate.sub(ctx, half, price);
    let abs_price = gate.select(ctx, down, up, negative);
    let positive = gate.not(ctx, negative);

    // ---- pass 3: leftovers, fills, totals, fill words ----
    let (mut rank_bid, mut rank_ask) = (ctx.load_zero(), ctx.load_zero());
    let (mut total, mut sells) = (ctx.load_zero(), ctx.load_zero());
    let mut chunks = Vec::with_capacity(capacity);
    for (cell, &(base, marg)) in cells.iter().zip(&shares) {
        let rank = gate.select(ctx, rank_ask, rank_bid, cell.side);
        let left = gate.select(ctx, left_ask, left_bid, cell.side);
        let gets_one = range.is_less_than(ctx, rank, left, RANK_BITS);
        let extra = gate.mul(ctx, marg, gets_one);
        let marg_sell = gate.mul(ctx, marg, cell.side);
        rank_ask = gate.add(ctx, rank_ask, marg_sell);
        let marg_buy = gate.sub(ctx, marg, marg_sell);
        rank_bid = gate.add(ctx, rank_bid, marg_buy);

        let full = gate.mul(ctx, cell.opened, cell.b);
        let full_q = gate.mul(ctx, full, cell.q);
        let share = gate.add(ctx, base, extra);
        let fill = gate.mul_add(ctx, marg, share, full_q);
        let fill = gate.mul(ctx, fill, nz);
        range.range_check(ctx, fill, QTY_BITS);
        total = gate.add(ctx, total, fill);
        // 1000 lock - payer * fill |p*| >= 0, with payer = sell ? p* < 0 : p* >= 0 (|p*| = 0 at 0)
        let payer = gate.select(ctx, negative, positive, cell.side);
        let owed = gate.mul(ctx, fill, abs_price);
        let owed = gate.mul(ctx, owed, payer);
        let cover = gate.mul(ctx, cell.lock, Constant(Fr::from(1000u64)));
        let slack = gate.sub(ctx, cover, owed);
        range.range_check(ctx, slack, COVER_BITS);
        sells = gate.mul_add(ctx, cell.side, fill, sells);

        let fill_zero = gate.is_zero(ctx, fill);
        let sell_flag = gate.mul_not(ctx, fill_zero, cell.side);
        let excluded = gate.sub(ctx, cell.in_seq, cell.opened);
        let chunk = gate.inner_product(
            ctx,
            [fill, excluded, sell_flag],
            [
                Constant(Fr::from(1u64)),
                Constant(pow2(48)),
                Constant(pow2(49)),
            ],
        );
        chunks.push(chunk);
    }
    ctx.constrain_equal(&sells, &volume);
    let buys = gate.sub(ctx, total, sells);
    ctx.constrain_equal(&buys, &volume);

    let mut public = header;
    for group in chunks.chunks(CHUNKS_PER_ELEMENT) {
        let coeffs: Vec<_> = (0..group.len())
            .map(|i| Constant(pow2(CHUNK_BITS * i)))
            .collect();
        public.push(gate.inner_product(ctx, group.iter().copied(), coeffs));
    }
    builder.assigned_instances = vec![public];
    Ok(instances)
}
