//! sealgrid's prover: the halo2 circuit that shows a batch was cleared exactly by the rule of
//! DESIGN §3.5 over the interval's committed orders (DESIGN §3.6), its keys, its proofs and the
//! EVM verifier generated from its verifying key.
//!
//! - [`witness`]: the native twin, from the opened orders to every value the circuit assigns;
//! - [`circuit`]: the constraints, over halo2-base's flex gate and range chip (KZG on BN254
//!   through halo2-axiom);
//! - [`params`]: KZG parameters: an insecure local setup for devnets and tests, or a ceremony
//!   file loaded from disk;
//! - [`keys`]: proving and verifying keys per [`capacity`], proofs and native verification;
//! - [`evm`]: the Solidity verifier (snark-verifier-sdk), compiled with solc and run in revm.

pub mod bench;
pub mod capacity;
pub mod circuit;
pub mod error;
pub mod evm;
pub mod keys;
pub mod params;
mod poseidon;
pub mod statement;
pub mod witness;

pub use capacity::{CAPACITIES, Capacity, capacity, capacity_for};
pub use error::{ProverError, ProverResult};
pub use keys::{CircuitKeys, Proof, keygen, prove, verify};
pub use statement::{Statement, num_instances};
pub use witness::{Batch, Slot, Witness};

/// The BN254 scalar field.
pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr;

#[cfg(test)]
mod tests;
