//! Supported batch capacities: one circuit, one verifying key and one verifier contract each.
//!
//! A batch of `count` commitments is proven with the smallest capacity `>= count`; the slots past
//! `count` are padding (the accumulator skips them and their fill words are 0, both constrained),
//! so one key serves every count up to its capacity.
//!
//! About 6,570 advice cells per slot: a width-5 Poseidon for the commitment (3,780), a width-3
//! one for the accumulator (2,250), and about 540 cells of comparisons, division and packing.
//! `k` trades verifier gas against proving time. Each advice column beyond the first adds
//! about 35k gas to every on-chain verification, while one column at `k + 1` proves about 1.6×
//! slower than two at `k`. Measured here (2 cores):
//!
//! | slots | layout          | prove  | verify gas |
//! |-------|-----------------|--------|------------|
//! | 64    | k=19, 1 column  | 55 s   | 320.6k     |
//! | 64    | k=18, 2 columns | 33 s   | 368.4k     |
//! | 256   | k=21, 1 column  | 218 s  | 340.5k     |
//! | 256   | k=20, 2 columns | 143 s  | 388.3k     |
//!
//! Up to 64 slots one column wins: it meets the 350k gas target and proves well inside the
//! 240 s settle window. At 256 slots one column would leave only about 20 s of the window for
//! the settle transaction, so 256 keeps two columns and pays about 48k more gas per settle.
//! Capacities are powers of four times 16, so a batch wastes at most three quarters of a
//! circuit; the market's `maxCommitments` should be one of them.

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
    Capacity { slots: 64, k: 19 },
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
