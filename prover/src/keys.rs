//! Proving and verifying keys, proofs and native verification (SHPLONK, Keccak transcript as
//! the EVM verifier reads it).

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::{
    ProvingKey, VerifyingKey, create_proof, keygen_pk, keygen_vk, verify_proof,
};
use halo2_base::halo2_proofs::poly::VerificationStrategy;
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
use halo2_base::halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_base::halo2_proofs::poly::kzg::strategy::AccumulatorStrategy;
use halo2_base::halo2_proofs::transcript::{TranscriptReadBuffer, TranscriptWriterBuffer};
use rand_chacha::rand_core::OsRng;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

use alloy_primitives::B256;
use sealgrid_types::MarketBounds;

use crate::capacity::{Capacity, capacity};
use crate::circuit::{ClearingCircuit, build};
use crate::error::{ProverError, ProverResult};
use crate::params::KzgParams;
use crate::witness::{Batch, Witness};

/// Rows reserved at the bottom of the circuit for blinding factors.
const BLINDING_ROWS: usize = 20;

/// A capacity's keys and circuit shape.
#[derive(Debug)]
pub struct CircuitKeys {
    /// The capacity.
    pub capacity: Capacity,
    /// Columns, lookup bits and `k` found at key generation.
    pub config: BaseCircuitParams,
    /// Where the single thread breaks across advice columns (fixed at key generation).
    pub break_points: MultiPhaseThreadBreakPoints,
    /// The proving key (holds the verifying key).
    pub pk: ProvingKey<G1Affine>,
}

impl CircuitKeys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }
}

/// A proof and the instances it proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The public instances (column 0).
    pub instances: Vec<Fr>,
    /// The proof bytes as the EVM verifier reads them.
    pub bytes: Vec<u8>,
}

/// The witness keygen runs on: an empty batch (the circuit's shape does not depend on values).
fn shape_witness() -> ProverResult<Witness> {
    Witness::new(&Batch {
        market: B256::ZERO,
        interval: 0,
        bounds: MarketBounds {
            price_floor: 0,
            price_cap: 0,
        },
        slots: Vec::new(),
    })
}

fn stage_circuit(stage: CircuitBuilderStage, k: u32) -> ClearingCircuit {
    ClearingCircuit::new(
        BaseCircuitBuilder::from_stage(stage)
            .use_k(k as usize)
            .use_lookup_bits(k as usize - 1)
            .use_instance_columns(1),
    )
}

/// Generates the keys of a capacity's circuit from `params` (which must be for `capacity.k`).
pub fn keygen(params: &KzgParams, slots: usize) -> ProverResult<CircuitKeys> {
    let cap = capacity(slots)?;
    if params.k() != cap.k {
        return Err(ProverError::Keygen(format!(
            "parameters are for k = {}, capacity {} needs k = {}",
            params.k(),
            cap.slots,
            cap.k
        )));
    }
    let mut circuit = stage_circuit(CircuitBuilderStage::Keygen, cap.k);
    build(&mut circuit, &shape_witness()?, cap.slots)?;
    let config = circuit.base.calculate_params(Some(BLINDING_ROWS));
    let vk = keygen_vk(params, &circuit).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    let pk = keygen_pk(params, vk, &circuit).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    let break_points = circuit.base.break_points();
    Ok(CircuitKeys {
        capacity: cap,
        config,
        break_points,
        pk,
    })
}

/// Runs the constraint system on `witness` without a proof (halo2's MockProver): the quick
/// check the tests use to show a constraint rejects a bad witness.
pub fn mock_check(witness: &Witness, slots: usize) -> ProverResult<Vec<Fr>> {
    mock_check_with(witness, slots, |_| {})
}

/// [`mock_check`] against instances changed by `tamper` (a statement other than the witness's).
pub fn mock_check_with(
    witness: &Witness,
    slots: usize,
    tamper: impl FnOnce(&mut Vec<Fr>),
) -> ProverResult<Vec<Fr>> {
    mock_check_circuit(witness, slots, tamper, |_| {})
}

/// [`mock_check_with`] that also lets `tweak` change the circuit before it runs.
pub(crate) fn mock_check_circuit(
    witness: &Witness,
    slots: usize,
    tamper: impl FnOnce(&mut Vec<Fr>),
    tweak: impl FnOnce(&mut ClearingCircuit),
) -> ProverResult<Vec<Fr>> {
    use halo2_base::halo2_proofs::dev::MockProver;
    let cap = capacity(slots)?;
    let mut circuit = stage_circuit(CircuitBuilderStage::Mock, cap.k);
    let mut instances = build(&mut circuit, witness, cap.slots)?;
    tamper(&mut instances);
    circuit.base.calculate_params(Some(BLINDING_ROWS));
    tweak(&mut circuit);
    let prover = MockProver::run(cap.k, &circuit, vec![instances.clone()])
        .map_err(|e| ProverError::Proving(format!("{e:?}")))?;
    prover.verify().map_err(|errors| {
        ProverError::Proving(format!(
            "{} constraint(s) fail, first: {:?}",
            errors.len(),
            errors.first()
        ))
    })?;
    Ok(instances)
}

/// Proves `witness` with `keys`.
pub fn prove(params: &KzgParams, keys: &CircuitKeys, witness: &Witness) -> ProverResult<Proof> {
    prove_with(params, keys, witness, |_| {})
}

/// Proves `witness` with `keys`, letting `tamper` change the public instances the proof is made
/// against (soundness tests use it to show a wrong statement cannot be proven).
pub fn prove_with(
    params: &KzgParams,
    keys: &CircuitKeys,
    witness: &Witness,
    tamper: impl FnOnce(&mut Vec<Fr>),
) -> ProverResult<Proof> {
    let mut circuit = ClearingCircuit::new(BaseCircuitBuilder::prover(
        keys.config.clone(),
        keys.break_points.clone(),
    ));
    let mut instances = build(&mut circuit, witness, keys.capacity.slots)?;
    tamper(&mut instances);
    let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
    create_proof::<
        KZGCommitmentScheme<Bn256>,
        ProverSHPLONK<'_, Bn256>,
        _,
        _,
        EvmTranscript<G1Affine, _, _, _>,
        _,
    >(
        params,
        &keys.pk,
        &[circuit],
        &[&[instances.as_slice()]],
        OsRng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Proving(format!("{e:?}")))?;
    Ok(Proof {
        instances,
        bytes: transcript.finalize(),
    })
}

/// Verifies a proof natively (the same check the EVM verifier performs).
pub fn verify(
    params: &KzgParams,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
) -> bool {
    let mut transcript = TranscriptReadBuffer::<_, G1Affine, _>::init(proof);
    let Ok(strategy) =
        verify_proof::<_, VerifierSHPLONK<'_, Bn256>, _, EvmTranscript<G1Affine, _, _, _>, _>(
            params.verifier_params(),
            vk,
            AccumulatorStrategy::new(params.verifier_params()),
            &[&[instances]],
            &mut transcript,
        )
    else {
        return false;
    };
    VerificationStrategy::<_, VerifierSHPLONK<'_, Bn256>>::finalize(strategy)
}

/// A capacity's circuit shape at some `k`: the flex-gate columns halo2-base needs, the rows the
/// Poseidon blocks take, and the constraint system's degree.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The flex-gate part's columns.
    pub base: BaseCircuitParams,
    /// Rows of Poseidon blocks.
    pub poseidon_rows: usize,
    /// Usable rows at this `k`.
    pub usable_rows: usize,
}

/// The shape of the `slots`-slot circuit at `k` (no keys, no proof).
pub fn layout(slots: usize, k: u32) -> ProverResult<Layout> {
    let mut circuit = stage_circuit(CircuitBuilderStage::Keygen, k);
    build(&mut circuit, &shape_witness()?, slots)?;
    let base = circuit.base.calculate_params(Some(BLINDING_ROWS));
    Ok(Layout {
        base,
        poseidon_rows: circuit.hashes.rows(),
        usable_rows: (1usize << k) - BLINDING_ROWS,
    })
}
