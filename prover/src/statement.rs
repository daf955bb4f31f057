//! The public statement of a cleared batch and its encoding as the circuit's public instances
//! (docs/encoding.md, "Proof statement").
//!
//! Instance column 0, in order:
//!
//! ```text
//! 0  market                    uint256(bytes32 market)        (< r, required by the contract)
//! 1  interval                  uint64
//! 2  accumulator               the contract's Poseidon accumulator (< 2^224)
//! 3  count                     uint32, commitments in the interval's sequence (<= capacity)
//! 4  priceFloor                uint64(int64) ^ 2^63           (offset binary, order-preserving)
//! 5  priceCap                  uint64(int64) ^ 2^63
//! 6  clearingPrice             uint64(int64) ^ 2^63           (p* = 0 when V* = 0)
//! 7  volume                    uint64 V*
//! 8+ fills, five per element:  sum_{i<5} chunk(word_{5j+i}) << (50 i)
//!    chunk(word) = (word >> 62) << 48 | (word & (2^48 - 1))  (sell flag at bit 49, excluded at 48)
//!    word_k = 0 for k >= count; ceil(capacity / 5) elements
//! ```
//!
//! A fill word carries 50 meaningful bits (docs/encoding.md, "Fill words"), so five fit below
//! `r` (250 bits). Packing them cuts the verifier's per-instance work fivefold against one
//! element per word.

use alloy_primitives::{B256, U256};
use sealgrid_types::{EXCLUDED_FLAG, FILL_QUANTITY_MASK, FILL_RESERVED_MASK, Fr, fr_from_b256};

use crate::error::{ProverError, ProverResult};

/// Fill words per packed public element.
pub const CHUNKS_PER_ELEMENT: usize = 5;
/// Bits per packed fill word.
pub const CHUNK_BITS: usize = 50;
/// Public elements before the packed fills.
pub const HEADER_INSTANCES: usize = 8;

/// `uint64(x) ^ 2^63`: the order-preserving unsigned image of a signed price.
pub const fn price_offset(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

/// The 50-bit chunk of a fill word: quantity in bits 0..48, excluded flag at 48, sell flag at 49.
pub const fn fill_chunk(word: u64) -> u64 {
    ((word >> 62) << 48) | (word & FILL_QUANTITY_MASK)
}

/// The number of public instances for a capacity.
pub const fn num_instances(capacity: usize) -> usize {
    HEADER_INSTANCES + capacity.div_ceil(CHUNKS_PER_ELEMENT)
}

/// What the auction contract knows and the proof is checked against (IClearingVerifier.Statement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Market id (below r).
    pub market: B256,
    /// Delivery interval index.
    pub interval: u64,
    /// The on-chain accumulator over the interval's commitments.
    pub accumulator: B256,
    /// Commitments in the interval's sequence.
    pub count: u32,
    /// The market's price floor.
    pub price_floor: i64,
    /// The market's price cap.
    pub price_cap: i64,
    /// The clearing price p* (0 when nothing clears).
    pub price: i64,
    /// The cleared volume V* in Wh.
    pub volume: u64,
    /// One fill word per commitment, in commitment order (docs/encoding.md, "Fill words").
    pub fills: Vec<u64>,
}

impl Statement {
    /// The public instances of this statement for a circuit of `capacity` slots.
    ///
    /// Fails if the fills do not number `count`, `count > capacity`, a word has reserved bits
    /// set, or the market or accumulator is not a field element.
    pub fn instances(&self, capacity: usize) -> ProverResult<Vec<Fr>> {
        let count = self.count as usize;
        if self.fills.len() != count {
            return Err(ProverError::InvalidStatement(format!(
                "{} fill words for {count} commitments",
                self.fills.len()
            )));
        }
        if count > capacity {
            return Err(ProverError::TooManyCommitments { count, capacity });
        }
        if let Some((k, w)) = self
            .fills
            .iter()
            .enumerate()
            .find(|(_, w)| **w & FILL_RESERVED_MASK != 0)
        {
            return Err(ProverError::InvalidStatement(format!(
                "fill word {k} ({w:#018x}) has reserved bits set"
            )));
        }
        let market =
            fr_from_b256(self.market).map_err(|_| ProverError::MarketNotInField(self.market))?;
        if U256::from_be_bytes(self.accumulator.0) >> sealgrid_types::ACCUMULATOR_BITS != U256::ZERO
        {
            return Err(ProverError::InvalidStatement(format!(
                "accumulator {} is not below 2^{}",
                self.accumulator,
                sealgrid_types::ACCUMULATOR_BITS
            )));
        }
        let accumulator = fr_from_b256(self.accumulator).map_err(|_| {
            ProverError::InvalidStatement("accumulator is not a field element".into())
        })?;
        let mut out = Vec::with_capacity(num_instances(capacity));
        out.extend([
            market,
            Fr::from(self.interval),
            accumulator,
            Fr::from(u64::from(self.count)),
            Fr::from(price_offset(self.price_floor)),
            Fr::from(price_offset(self.price_cap)),
            Fr::from(price_offset(self.price)),
            Fr::from(self.volume),
        ]);
        let shift = Fr::from(1u64 << CHUNK_BITS);
        for j in 0..capacity.div_ceil(CHUNKS_PER_ELEMENT) {
            let mut acc = Fr::from(0u64);
            for i in (0..CHUNKS_PER_ELEMENT).rev() {
                let word = self
                    .fills
                    .get(j * CHUNKS_PER_ELEMENT + i)
                    .copied()
                    .unwrap_or(0);
                acc = acc * shift + Fr::from(fill_chunk(word));
            }
            out.push(acc);
        }
        Ok(out)
    }
}

/// The fill word of an excluded commitment.
pub const EXCLUDED_WORD: u64 = EXCLUDED_FLAG;

#[cfg(test)]
mod tests {
    use super::*;
    use sealgrid_types::SELL_FLAG;

    #[test]
    fn chunk_moves_flags_down() {
        assert_eq!(fill_chunk(SELL_FLAG | 7), (1 << 49) | 7);
        assert_eq!(fill_chunk(EXCLUDED_FLAG), 1 << 48);
        assert_eq!(fill_chunk(FILL_QUANTITY_MASK), FILL_QUANTITY_MASK);
        assert_eq!(price_offset(i64::MIN), 0);
        assert_eq!(price_offset(-1), (1 << 63) - 1);
        assert_eq!(price_offset(0), 1 << 63);
    }

    #[test]
    fn instances_pack_five_words() {
        let s = Statement {
            market: B256::with_last_byte(9),
            interval: 3,
            accumulator: B256::ZERO,
            count: 6,
            price_floor: -5,
            price_cap: 5,
            price: 1,
            volume: 2,
            fills: vec![1, 0, EXCLUDED_WORD, SELL_FLAG | 1, 0, 4],
        };
        let inst = s.instances(10).expect("instances");
        assert_eq!(inst.len(), num_instances(10));
        let shift = Fr::from(1u64 << 50);
        let e0 = Fr::from(1u64)
            + Fr::from(1u64 << 48) * shift * shift
            + Fr::from((1u64 << 49) | 1) * shift * shift * shift;
        assert_eq!(inst[8], e0);
        assert_eq!(inst[9], Fr::from(4u64));
        let mut bad = s.clone();
        bad.fills[1] = 1 << 50;
        assert!(bad.instances(10).is_err());
        assert!(s.instances(5).is_err());
    }
}
