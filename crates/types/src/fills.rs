//! Fill words and the fills Merkle tree (docs/encoding.md, "Fill words" and "Fills Merkle
//! root").
//!
//! A fill word is 64 bits: bit 63 sell flag (0 when the fill is zero), bit 62 excluded flag
//! (the fill is then 0), bits 48-61 zero, bits 0-47 filled Wh. A losing or excluded order's
//! word is zero apart from the excluded flag.
//!
//! Leaves are `keccak256(uint32(k) ‖ uint64(word_k))` (12 bytes, big-endian), inner nodes
//! `keccak256(left ‖ right)`; at a level with an odd number of nodes the missing right sibling
//! is `bytes32(0)`. Depth is `ceil(log2(count))`, a single leaf is its own root, and a proof
//! lists the siblings from the leaf up.

use alloy_primitives::{B256, keccak256};

use crate::error::{TypesError, TypesResult};
use crate::units::MAX_QUANTITY_WH;

/// Bit 63: the order is a sell.
pub const SELL_FLAG: u64 = 1 << 63;
/// Bit 62: the commitment was never opened, or was withdrawn.
pub const EXCLUDED_FLAG: u64 = 1 << 62;
/// Bits 0-47: the filled Wh.
pub const FILL_QUANTITY_MASK: u64 = (1 << 48) - 1;
/// Bits 48-61, always zero.
pub const FILL_RESERVED_MASK: u64 = !(SELL_FLAG | EXCLUDED_FLAG | FILL_QUANTITY_MASK);

/// Most fill words one batch can have: indices are `uint32`.
pub const MAX_FILLS: usize = 1 << 32;

/// The fill of one commitment, the meaning of one fill word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fill {
    /// Opened but filled nothing (a losing order, either side): word 0.
    Zero,
    /// Never opened, or withdrawn: word `1 << 62`.
    Excluded,
    /// A buy filled with this many Wh (1 to 2^48 - 1).
    Buy(u64),
    /// A sell filled with this many Wh (1 to 2^48 - 1).
    Sell(u64),
}

impl Fill {
    /// The fill word; [`TypesError::InvalidFillQuantity`] for a `Buy`/`Sell` of 0 Wh (that is
    /// [`Fill::Zero`]) or of more than 2^48 - 1 Wh.
    pub fn encode(self) -> TypesResult<u64> {
        let checked = |wh: u64| {
            if wh == 0 || wh > MAX_QUANTITY_WH {
                Err(TypesError::InvalidFillQuantity { wh })
            } else {
                Ok(wh)
            }
        };
        Ok(match self {
            Self::Zero => 0,
            Self::Excluded => EXCLUDED_FLAG,
            Self::Buy(wh) => checked(wh)?,
            Self::Sell(wh) => SELL_FLAG | checked(wh)?,
        })
    }

    /// Reads a fill word; [`TypesError::InvalidFillWord`] if reserved bits are set, if an
    /// excluded word carries anything else, or if a sell flag sits on a zero fill.
    pub fn decode(word: u64) -> TypesResult<Self> {
        let invalid = |reason| Err(TypesError::InvalidFillWord { word, reason });
        if word & FILL_RESERVED_MASK != 0 {
            return invalid("bits 48-61 must be zero");
        }
        let wh = word & FILL_QUANTITY_MASK;
        let sell = word & SELL_FLAG != 0;
        if word & EXCLUDED_FLAG != 0 {
            return if word == EXCLUDED_FLAG {
                Ok(Self::Excluded)
            } else {
                invalid("an excluded word carries a fill or a sell flag")
            };
        }
        match (wh, sell) {
            (0, false) => Ok(Self::Zero),
            (0, true) => invalid("sell flag on a zero fill"),
            (wh, false) => Ok(Self::Buy(wh)),
            (wh, true) => Ok(Self::Sell(wh)),
        }
    }

    /// The filled Wh (0 for `Zero` and `Excluded`).
    pub fn filled_wh(self) -> u64 {
        match self {
            Self::Zero | Self::Excluded => 0,
            Self::Buy(wh) | Self::Sell(wh) => wh,
        }
    }
}

/// The settle calldata form: the words as consecutive big-endian 8-byte groups.
pub fn pack_fill_words(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Splits packed fills into words (not validated: see [`Fill::decode`]); the length must be a
/// multiple of 8 ([`TypesError::MalformedFills`]).
pub fn unpack_fill_words(packed: &[u8]) -> TypesResult<Vec<u64>> {
    let chunks = packed.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return Err(TypesError::MalformedFills { len: packed.len() });
    }
    Ok(chunks
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_be_bytes(b)
        })
        .collect())
}

/// The leaf of `word` at commitment index `index`: `keccak256(uint32 index ‖ uint64 word)`.
pub fn fill_leaf(index: u32, word: u64) -> B256 {
    let mut preimage = [0u8; 12];
    preimage[..4].copy_from_slice(&index.to_be_bytes());
    preimage[4..].copy_from_slice(&word.to_be_bytes());
    keccak256(preimage)
}

fn hash_pair(left: B256, right: B256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(left.as_slice());
    preimage[32..].copy_from_slice(right.as_slice());
    keccak256(preimage)
}

/// The tree depth over `count` leaves: `ceil(log2(count))`, 0 for zero or one leaf.
pub fn fills_depth(count: u64) -> u32 {
    if count <= 1 {
        0
    } else {
        u64::BITS - (count - 1).leading_zeros()
    }
}

/// The leaves of a batch, or [`TypesError::TooManyFills`] beyond 2^32 words.
fn leaves(words: &[u64]) -> TypesResult<Vec<B256>> {
    if words.len() > MAX_FILLS {
        return Err(TypesError::TooManyFills { count: words.len() });
    }
    Ok((0..=u32::MAX)
        .zip(words)
        .map(|(k, w)| fill_leaf(k, *w))
        .collect())
}

/// The next level up: pairs hashed, a lone last node paired with `bytes32(0)`.
fn parent_level(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| hash_pair(pair[0], pair.get(1).copied().unwrap_or(B256::ZERO)))
        .collect()
}

/// The fills Merkle root. An empty batch has root `bytes32(0)` (encoding.md does not define
/// one; the contract's tree needs at least one leaf). [`TypesError::TooManyFills`] beyond
/// 2^32 words.
pub fn fills_root(words: &[u64]) -> TypesResult<B256> {
    let mut level = leaves(words)?;
    while level.len() > 1 {
        level = parent_level(&level);
    }
    Ok(level.first().copied().unwrap_or(B256::ZERO))
}

/// The proof for the word at `index`: its siblings from the leaf up
/// ([`fills_depth`]`(words.len())` of them).
pub fn fills_proof(words: &[u64], index: u32) -> TypesResult<Vec<B256>> {
    let count = words.len();
    let mut pos = index as usize;
    if pos >= count {
        return Err(TypesError::FillIndexOutOfRange {
            index: index.into(),
            count: count as u64,
        });
    }
    let mut level = leaves(words)?;
    let mut proof = Vec::new();
    while level.len() > 1 {
        proof.push(level.get(pos ^ 1).copied().unwrap_or(B256::ZERO));
        level = parent_level(&level);
        pos >>= 1;
    }
    Ok(proof)
}

/// Whether `proof` shows that `word` is the fill word at `index` under `root` for a batch of
/// `count` words. False if `index >= count` or the proof length is not the tree depth.
pub fn verify_fill_proof(root: B256, count: u64, index: u32, word: u64, proof: &[B256]) -> bool {
    if u64::from(index) >= count || proof.len() as u64 != u64::from(fills_depth(count)) {
        return false;
    }
    let mut node = fill_leaf(index, word);
    let mut pos = index;
    for sibling in proof {
        node = if pos & 1 == 0 {
            hash_pair(node, *sibling)
        } else {
            hash_pair(*sibling, node)
        };
        pos >>= 1;
    }
    node == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fill_strategy() -> impl Strategy<Value = Fill> {
        prop_oneof![
            Just(Fill::Zero),
            Just(Fill::Excluded),
            (1..=MAX_QUANTITY_WH).prop_map(Fill::Buy),
            (1..=MAX_QUANTITY_WH).prop_map(Fill::Sell),
        ]
    }

    #[test]
    fn word_layout() {
        assert_eq!(Fill::Zero.encode().expect("zero"), 0);
        assert_eq!(
            Fill::Excluded.encode().expect("excluded"),
            0x4000_0000_0000_0000
        );
        assert_eq!(Fill::Buy(1500).encode().expect("buy"), 1500);
        assert_eq!(
            Fill::Sell(1500).encode().expect("sell"),
            0x8000_0000_0000_05dc
        );
        assert_eq!(
            Fill::Sell(MAX_QUANTITY_WH).encode().expect("max"),
            0x8000_ffff_ffff_ffff
        );
        assert_eq!(FILL_RESERVED_MASK, 0x3fff_0000_0000_0000);
    }

    #[test]
    fn invalid_fills_and_words() {
        for bad in [
            Fill::Buy(0),
            Fill::Sell(0),
            Fill::Buy(MAX_QUANTITY_WH + 1),
            Fill::Sell(u64::MAX),
        ] {
            assert!(matches!(
                bad.encode(),
                Err(TypesError::InvalidFillQuantity { .. })
            ));
        }
        for word in [
            1u64 << 48,
            1 << 61,
            SELL_FLAG,
            EXCLUDED_FLAG | 1,
            EXCLUDED_FLAG | SELL_FLAG,
            u64::MAX,
        ] {
            assert!(
                matches!(Fill::decode(word), Err(TypesError::InvalidFillWord { .. })),
                "{word:#x}"
            );
        }
    }

    #[test]
    fn depth() {
        let expect = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
            (1 << 32, 32),
        ];
        for (count, d) in expect {
            assert_eq!(fills_depth(count), d, "count {count}");
        }
    }

    #[test]
    fn small_trees_by_hand() {
        let l0 = fill_leaf(0, 5);
        assert_eq!(fills_root(&[5]).expect("one"), l0);
        assert!(fills_proof(&[5], 0).expect("proof").is_empty());
        let l1 = fill_leaf(1, SELL_FLAG | 5);
        let l2 = fill_leaf(2, EXCLUDED_FLAG);
        let words = [5, SELL_FLAG | 5, EXCLUDED_FLAG];
        let root = hash_pair(hash_pair(l0, l1), hash_pair(l2, B256::ZERO));
        assert_eq!(fills_root(&words).expect("three"), root);
        assert_eq!(
            fills_proof(&words, 2).expect("proof"),
            vec![B256::ZERO, hash_pair(l0, l1)]
        );
        assert_eq!(fills_root(&[]).expect("empty"), B256::ZERO);
        // The preimage is 12 bytes big-endian.
        let mut pre = [0u8; 12];
        pre[3] = 1;
        pre[11] = 5;
        pre[4] = 0x80;
        assert_eq!(l1, keccak256(pre));
    }

    #[test]
    fn pack_round_trip() {
        let words = [0, EXCLUDED_FLAG, SELL_FLAG | 7];
        let packed = pack_fill_words(&words);
        assert_eq!(packed.len(), 24);
        assert_eq!(packed[8], 0x40);
        assert_eq!(unpack_fill_words(&packed).expect("unpack"), words);
        assert!(unpack_fill_words(&packed[..23]).is_err());
    }

    proptest! {
        #[test]
        fn fill_word_round_trip(fill in fill_strategy()) {
            let word = fill.encode().expect("valid fill");
            prop_assert_eq!(word & FILL_RESERVED_MASK, 0);
            prop_assert_eq!(Fill::decode(word).expect("valid word"), fill);
        }

        #[test]
        fn decode_accepts_exactly_canonical_words(word in any::<u64>()) {
            if let Ok(fill) = Fill::decode(word) {
                prop_assert_eq!(fill.encode().expect("re-encode"), word);
            }
        }

        #[test]
        fn every_proof_verifies_and_tampering_fails(
            fills in prop::collection::vec(fill_strategy(), 1..40),
            flip in any::<u64>(),
        ) {
            let words: Vec<u64> = fills.iter().map(|f| f.encode().expect("valid")).collect();
            let root = fills_root(&words).expect("root");
            let count = words.len() as u64;
            for (k, &word) in (0u32..).zip(&words) {
                let proof = fills_proof(&words, k).expect("proof");
                prop_assert_eq!(proof.len() as u32, fills_depth(count));
                prop_assert!(verify_fill_proof(root, count, k, word, &proof));
                // A different word, another index, a wrong count or a changed sibling fail.
                let other = if flip == 0 { word ^ 1 } else { word ^ flip };
                prop_assert!(!verify_fill_proof(root, count, k, other, &proof));
                prop_assert!(!verify_fill_proof(root, count, k ^ 1, word, &proof));
                prop_assert!(!verify_fill_proof(root, count, k + count as u32, word, &proof));
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = B256::from(first.0.map(|b| b ^ 0x55));
                    prop_assert!(!verify_fill_proof(root, count, k, word, &bad));
                    prop_assert!(!verify_fill_proof(root, count, k, word, &proof[1..]));
                }
                let mut long = proof.clone();
                long.push(B256::ZERO);
                prop_assert!(!verify_fill_proof(root, count, k, word, &long));
            }
            prop_assert!(fills_proof(&words, count as u32).is_err());
        }
    }
}
