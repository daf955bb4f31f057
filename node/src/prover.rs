//! The halo2 clearing prover behind the pipeline's [`ClearingProver`] trait, and the verifiers a
//! deployment needs: the node injects it into the settlement service (the matcher, the prover
//! and the settlement service never import each other, DESIGN §2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sealgrid_prover::keys::CircuitKeys;
use sealgrid_prover::params::{KzgParams, ParamsSource, default_cache_dir};
use sealgrid_prover::{ProverError, Witness, capacity, evm};
use sealgrid_types::{ClearingProver, ProofRequest, ProveError, ProvenBatch};

use crate::{OperatorError, OperatorResult};

/// The clearing prover the binary plugs into the matcher's pipeline: sealgrid-prover's circuit
/// for the smallest of `capacities` holding the batch, keys generated once per capacity.
#[derive(Debug)]
pub struct HaloProver {
    source: ParamsSource,
    capacities: Vec<usize>,
    keys: Mutex<HashMap<usize, Arc<(KzgParams, CircuitKeys)>>>,
}

impl HaloProver {
    /// A prover over `source` for batches up to the largest of `capacities`.
    pub fn new(source: ParamsSource, capacities: &[usize]) -> Self {
        Self {
            source,
            capacities: capacities.to_vec(),
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn keys(&self, slots: usize) -> Result<Arc<(KzgParams, CircuitKeys)>, ProverError> {
        // A panic while another thread generated keys leaves the cache as it was: use it.
        let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.get(&slots) {
            return Ok(k.clone());
        }
        let cap = capacity(slots)?;
        let params = self.source.get(cap.k)?;
        let keys = sealgrid_prover::keygen(&params, slots)?;
        let entry = Arc::new((params, keys));
        cache.insert(slots, entry.clone());
        Ok(entry)
    }
}

impl HaloProver {
    /// The creation code of the generated verifier of each capacity, for `sealgrid deploy`.
    ///
    /// From the devnet parameters, the checked-in verifiers are compiled as they are, and other
    /// capacities are cached under the prover cache keyed by the checked-in 4-slot verifier (which
    /// changes whenever the circuit does); from a ceremony file every verifier is generated from
    /// its verifying key.
    pub fn verifier_codes(
        &self,
        root: &std::path::Path,
        capacities: &[usize],
        say: &mut (dyn FnMut(String) + Send),
    ) -> OperatorResult<Vec<sealgrid_deploy::VerifierCode>> {
        let solc = root.join("tools/solc/solc");
        let mut out = Vec::new();
        for &slots in capacities {
            let k = capacity(slots)
                .map_err(|e| OperatorError::Prover(e.to_string()))?
                .k;
            let insecure = self.source.is_insecure();
            let stages = if insecure && evm::CHECKED_IN.contains(&slots) {
                let path = root.join(evm::verifier_path(slots));
                let text =
                    std::fs::read_to_string(&path).map_err(|e| OperatorError::io(&path, e))?;
                evm::compile(&text, &solc).map_err(|e| OperatorError::Prover(e.to_string()))?
            } else {
                let cached = if insecure {
                    let anchor = std::fs::read(root.join(evm::verifier_path(evm::CHECKED_IN[0])))
                        .map_err(|e| {
                        OperatorError::io(&root.join(evm::verifier_path(evm::CHECKED_IN[0])), e)
                    })?;
                    let tag = alloy_primitives::keccak256(&anchor);
                    Some(default_cache_dir().join(format!(
                        "verifiers/{}-{}.hex",
                        evm::verifier_name(slots),
                        &tag.to_string()[2..18]
                    )))
                } else {
                    None
                };
                // One stage per line, hex.
                let from_cache = cached
                    .as_ref()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .and_then(|text| {
                        text.lines()
                            .map(hex::decode)
                            .collect::<Result<Vec<_>, _>>()
                            .ok()
                    })
                    .filter(|stages| !stages.is_empty());
                match from_cache {
                    Some(stages) => stages,
                    None => {
                        say(format!(
                            "generating the {slots}-slot verifier (k = {k}: parameters and keygen) ..."
                        ));
                        let entry = self
                            .keys(slots)
                            .map_err(|e| OperatorError::Prover(e.to_string()))?;
                        let text = evm::verifier_source(&entry.0, entry.1.vk(), slots);
                        let code = evm::compile(&text, &solc)
                            .map_err(|e| OperatorError::Prover(e.to_string()))?;
                        if let Some(p) = &cached {
                            if let Some(dir) = p.parent() {
                                std::fs::create_dir_all(dir)
                                    .map_err(|e| OperatorError::io(dir, e))?;
                            }
                            let text: Vec<String> = code.iter().map(hex::encode).collect();
                            std::fs::write(p, text.join("\n"))
                                .map_err(|e| OperatorError::io(p, e))?;
                        }
                        code
                    }
                }
            };
            out.push(sealgrid_deploy::VerifierCode {
                capacity: slots,
                k,
                stages,
            });
        }
        Ok(out)
    }
}

impl HaloProver {
    fn slots_for(&self, count: usize) -> Result<usize, ProveError> {
        self.capacities
            .iter()
            .copied()
            .find(|c| *c >= count)
            .ok_or(ProveError::NoCapacity { count })
    }
}

/// A prover error as the pipeline sees it: a statement the circuit cannot hold is final, the
/// rest (parameters, keys, proving itself) may pass.
fn pipeline_error(e: ProverError) -> ProveError {
    if e.is_invalid_batch() {
        ProveError::InvalidBatch(Box::new(e))
    } else {
        ProveError::Failed(Box::new(e))
    }
}

impl ClearingProver for HaloProver {
    fn prepare(&self, count: usize) -> Result<(), ProveError> {
        self.keys(self.slots_for(count)?)
            .map(|_| ())
            .map_err(pipeline_error)
    }

    fn prove(&self, request: &ProofRequest) -> Result<ProvenBatch, ProveError> {
        let slots = self.slots_for(request.slots.len())?;
        let witness = Witness::new(request).map_err(pipeline_error)?;
        let entry = self.keys(slots).map_err(pipeline_error)?;
        let started = std::time::Instant::now();
        let proof = sealgrid_prover::prove(&entry.0, &entry.1, &witness).map_err(pipeline_error)?;
        Ok(ProvenBatch {
            proof: proof.bytes,
            price: witness.statement.price,
            volume: witness.statement.volume,
            fills: witness.statement.fills,
            capacity: slots,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
