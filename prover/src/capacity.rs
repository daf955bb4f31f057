//! Supported batch capacities: one circuit, one verifying key and one verifier contract each.
//!
//! A batch of `count` commitments is proven with the smallest capacity `>= count`; the slots past
//! `count` are padding (the accumulator skips them and their fill words are 0, both constrained),
//! so one key serves every count up to its capacity.
//!
//! `k` is chosen so the circuit fills a few advice columns: about 6,400 advice cells per slot
//! (a width-5 Poseidon for the commitment, a width-3 one for the accumulator, about 400 cells of
//! comparisons, division and packing). Fewer columns mean a cheaper on-chain verifier; a larger
//! `k` means a slower setup and more memory. Capacities are powers of four times 16 so a batch
//! wastes at most three quarters of a circuit; the market's `maxCommitments` should be one of
//! them.

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
    Capacity { slots: 4, k: 15 },
    Capacity { slots: 16, k: 17 },
    Capacity { slots: 64, k: 18 },
    Capacity { slots: 256, k: 20 },
    Capacity { slots: 1024, k: 22 },
    Capacity { slots: 4096, k: 23 },
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
