//! KZG parameters (the structured reference string) over BN254.
//!
//! File format: halo2's `ParamsKZG::write` (the format of the PSE/Axiom perpetual-powers-of-tau
//! conversions, e.g. `kzg_bn254_22.srs`): `k` as a little-endian `u32`, then `2^k` compressed G1
//! points `[s^i]G1`, `2^k` compressed G1 points of the Lagrange basis, then the G2 generator and
//! `[s]G2`, each compressed. A file made for `k` serves every smaller `k` (it is downsized).
//!
//! Production loads the result of a ceremony with [`load`]. [`insecure_setup`] samples `s` from
//! a fixed seed: anyone can recompute `s` and forge proofs, so it is for devnets and tests only.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::commitment::Params;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::error::{ProverError, ProverResult};

/// KZG parameters on BN254.
pub type KzgParams = ParamsKZG<Bn256>;

/// The warning every tool prints when it uses [`insecure_setup`].
pub const INSECURE_WARNING: &str = "INSECURE: KZG parameters from a fixed public seed; anyone can \
forge proofs against them. Use them on a devnet only; production loads a ceremony file (--params).";

/// A local setup for `k` from a fixed seed: deterministic (the checked-in devnet verifiers are
/// generated from it) and therefore insecure.
pub fn insecure_setup(k: u32) -> KzgParams {
    let mut seed = [0u8; 32];
    let tag = b"sealgrid/insecure-devnet-kzg/k=";
    seed[..tag.len()].copy_from_slice(tag);
    seed[31] = k as u8;
    ParamsKZG::setup(k, ChaCha20Rng::from_seed(seed))
}

/// Loads a parameter file and downsizes it to `k`; fails if the file is for a smaller `k`.
pub fn load(path: &Path, k: u32) -> ProverResult<KzgParams> {
    let file = File::open(path).map_err(|e| ProverError::io(path, e))?;
    let mut params =
        KzgParams::read(&mut BufReader::new(file)).map_err(|e| ProverError::BadFile {
            path: path.display().to_string(),
            reason: format!("not a halo2 KZG parameter file: {e}"),
        })?;
    if params.k() < k {
        return Err(ProverError::BadFile {
            path: path.display().to_string(),
            reason: format!(
                "parameters are for k = {}, the circuit needs k = {k}",
                params.k()
            ),
        });
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok(params)
}

/// Writes parameters in the format [`load`] reads.
pub fn save(params: &KzgParams, path: &Path) -> ProverResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ProverError::io(dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    let file = File::create(&tmp).map_err(|e| ProverError::io(&tmp, e))?;
    let mut w = BufWriter::new(file);
    params.write(&mut w).map_err(|e| ProverError::io(&tmp, e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| ProverError::io(path, e))
}

/// Where parameters come from.
#[derive(Clone, Debug)]
pub enum ParamsSource {
    /// [`insecure_setup`], cached as `kzg_insecure_{k}.srs` in the directory.
    Insecure(std::path::PathBuf),
    /// A ceremony file, downsized to each circuit's `k`.
    File(std::path::PathBuf),
}

impl ParamsSource {
    /// Parameters for `k`.
    pub fn get(&self, k: u32) -> ProverResult<KzgParams> {
        match self {
            Self::File(path) => load(path, k),
            Self::Insecure(dir) => {
                let path = dir.join(format!("kzg_insecure_{k}.srs"));
                if path.exists() {
                    return load(&path, k);
                }
                let params = insecure_setup(k);
                save(&params, &path)?;
                Ok(params)
            }
        }
    }

    /// Whether these are the insecure devnet parameters.
    pub fn is_insecure(&self) -> bool {
        matches!(self, Self::Insecure(_))
    }
}
