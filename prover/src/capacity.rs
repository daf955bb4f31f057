//! Supported batch capacities: one circuit, one verifying key and one (staged) verifier each.
//!
//! A batch of `count` commitments is proven with the smallest capacity `>= count`; the slots past
//! `count` are padding (the accumulator skips them and their fill words are 0, both constrained),
//! so one key serves every count up to its capacity.
//!
//! Per slot the circuit takes two Poseidon blocks in the Poseidon gate's columns (77 rows for
//! the commitment, 73 for the accumulator step: `crate::poseidon`) and the flex-gate cells of
//! comparisons, division, packing, the committer/lock binding and the accumulator's 224-bit
//! truncation, plus their range-check lookups. Each capacity takes the smallest `k` whose rows
//! hold its Poseidon blocks and whose flex-gate part fits in at most [`MAX_FLEX_COLUMNS`]
//! columns: proving time grows with rows times columns, while every advice column adds to the
//! on-chain verification. Binding the committer and lock and truncating the accumulator (issue
//! 17) took 16, 64 and 256 slots from three flex columns to four at the same `k`; the next `k`
//! would have doubled the rows (and about doubled the proving time) to save one column. Measured
//! before issue 17 (2 cores, `sealgrid bench prove`; gas of the whole verifier transaction,
//! calldata included):
//!
//! | slots | k  | advice columns | prove   | verify gas |
//! |-------|----|----------------|---------|------------|
//! | 4     | 11 | 9              | 0.8 s   | 571k       |
//! | 64    | 14 | 10             | 4.6 s   | 602k       |
//! | 256   | 16 | 10             | 13.9 s  | 622k       |
//! | 1,024 | 18 | 10             | 52.0 s  | 742k       |
//!
//! (Over the flex gate alone the Poseidon hashes took 6,000 of 6,570 cells per slot: 256 slots
//! needed k = 20 with two columns and proved in 108-150 s for 388k gas.)
//! Capacities are powers of four times 16, so a batch wastes at most three quarters of a
//! circuit; the market's `maxCommitments` should be one of them.

/// The most flex-gate advice columns a capacity's layout may take before it moves to the next `k`.
pub const MAX_FLEX_COLUMNS: usize = 4;

/// One supported capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Commitment slots.
    pub slots: usize,
    /// log2 of the circuit's rows.
    pub k: u32,
}

/// Every supported capacity, ascending. `4` exists for tests (fast keygen and proofs).
pub const CAPACITIES: &[Capacity] = &[
    Capacity { slots: 4, k: 11 },
    Capacity { slots: 16, k: 12 },
    Capacity { slots: 64, k: 14 },
    Capacity { slots: 256, k: 16 },
    Capacity { slots: 1024, k: 18 },
    Capacity { slots: 4096, k: 20 },
];

/// The capacity with exactly `slots` slots.
pub fn capacity(slots: usize) -> crate::ProverResult<Capacity> {
    CAPACITIES
        .iter()
        .copied()
        .find(|c| c.slots == slots)
        .ok_or(crate::ProverError::UnsupportedCapacity(slots))
}

/// The smallest capacity holding `count` commitments.
pub fn capacity_for(count: usize) -> crate::ProverResult<Capacity> {
    CAPACITIES
        .iter()
        .copied()
        .find(|c| c.slots >= count)
        .ok_or(crate::ProverError::NoCapacity {
            count,
            largest: CAPACITIES[CAPACITIES.len() - 1].slots,
        })
}

pub(crate) fn list() -> String {
    CAPACITIES
        .iter()
        .map(|c| c.slots.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
