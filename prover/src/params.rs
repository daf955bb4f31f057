//! KZG parameters (the structured reference string) over BN254.
//!
//! File format: what halo2's `ParamsKZG::write` produces (the format of the PSE/Axiom
//! perpetual-powers-of-tau conversions, e.g. `kzg_bn254_22.srs`): `k` as a little-endian `u32`,
//! then `2^k` G1 points `[s^i]G1`, `2^k` G1 points of the Lagrange basis `[L_i(s)]G1`, then the
//! G2 generator and `[s]G2`; points are uncompressed affine coordinates in halo2curves' raw
//! encoding (64 bytes per G1 point, 128 per G2 point), so a file is `4 + 2^(k+7) + 256` bytes.
//! [`load`] checks the length against `k` and every point against its curve before use. A file
//! made for `k` serves every smaller `k` (it is downsized).
//!
//! Production loads the result of a ceremony with [`load`]. [`insecure_setup`] samples `s` from
//! a fixed seed: anyone can recompute `s` and forge proofs, so it is for devnets and tests only.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;

use halo2_base::halo2_proofs::SerdeFormat;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1, G1Affine, G2Affine};
use halo2_base::halo2_proofs::halo2curves::ff::{BatchInvert, Field, PrimeField};
use halo2_base::halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_base::halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_base::halo2_proofs::poly::commitment::Params;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;

use crate::error::{ProverError, ProverResult};

/// KZG parameters on BN254.
pub type KzgParams = ParamsKZG<Bn256>;

/// The largest `k` a parameter file may have (BN254's scalar field has 2-adicity 28).
pub const MAX_K: u32 = 28;

/// The warning every tool prints when it uses [`insecure_setup`].
pub const INSECURE_WARNING: &str = "INSECURE: KZG parameters from a fixed public seed; anyone can \
forge proofs against them. Use them on a devnet only; production loads a ceremony file (--params).";

/// A local setup for `k` from a fixed seed: deterministic (the checked-in devnet verifiers are
/// generated from it) and therefore insecure.
///
/// Computes exactly what halo2's `ParamsKZG::setup` computes for the same `s` (`[s^i]G1` and the
/// Lagrange basis `[L_i(s)]G1`), but with a fixed-base window table instead of one full scalar
/// multiplication per point: about ten times faster, which makes `k = 22` a minute, not a
/// quarter of an hour, on two cores.
pub fn insecure_setup(k: u32) -> KzgParams {
    let mut seed = [0u8; 32];
    let tag = b"sealgrid/insecure-devnet-kzg/k=";
    seed[..tag.len()].copy_from_slice(tag);
    seed[31] = k as u8;
    let s = Fr::random(ChaCha20Rng::from_seed(seed));
    setup_with_secret(k, s)
}

/// 8-bit windows over the 32 little-endian bytes of a scalar.
struct FixedBase(Vec<[G1Affine; 256]>);

impl FixedBase {
    fn new(base: G1) -> Self {
        let mut rows = Vec::with_capacity(32);
        let mut b = base;
        for _ in 0..32 {
            let mut proj = [G1::identity(); 256];
            for j in 1..256 {
                proj[j] = proj[j - 1] + b;
            }
            let mut row = [G1Affine::identity(); 256];
            G1::batch_normalize(&proj, &mut row);
            rows.push(row);
            for _ in 0..8 {
                b = b.double();
            }
        }
        Self(rows)
    }

    fn mul(&self, scalar: &Fr) -> G1 {
        let bytes = scalar.to_repr();
        let mut acc = G1::identity();
        for (row, byte) in self.0.iter().zip(bytes.as_ref()) {
            if *byte != 0 {
                acc += row[*byte as usize];
            }
        }
        acc
    }

    fn mul_all(&self, scalars: &[Fr]) -> Vec<G1Affine> {
        let proj: Vec<G1> = scalars.par_iter().map(|x| self.mul(x)).collect();
        let mut out = vec![G1Affine::identity(); proj.len()];
        G1::batch_normalize(&proj, &mut out);
        out
    }
}

fn setup_with_secret(k: u32, s: Fr) -> KzgParams {
    let n = 1usize << k;
    let table = FixedBase::new(G1::generator());
    let mut powers = Vec::with_capacity(n);
    let mut cur = Fr::ONE;
    for _ in 0..n {
        powers.push(cur);
        cur *= s;
    }
    let g = table.mul_all(&powers);
    // L_i(s) = (s^n - 1) / n * w^i / (s - w^i)
    let mut root = Fr::ROOT_OF_UNITY;
    for _ in k..Fr::S {
        root = root.square();
    }
    let multiplier =
        (s.pow_vartime([n as u64]) - Fr::ONE) * Fr::from(n as u64).invert().unwrap_or(Fr::ZERO);
    let mut roots = Vec::with_capacity(n);
    let mut w = Fr::ONE;
    for _ in 0..n {
        roots.push(w);
        w *= root;
    }
    let mut denominators: Vec<Fr> = roots.iter().map(|w| s - w).collect();
    denominators.iter_mut().batch_invert();
    let lagrange: Vec<Fr> = roots
        .iter()
        .zip(&denominators)
        .map(|(w, d)| multiplier * w * d)
        .collect();
    let g_lagrange = table.mul_all(&lagrange);
    let g2 = G2Affine::generator();
    let s_g2: G2Affine = (g2 * s).to_affine();
    // `from_parts` is a method; any instance will do.
    let shell = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::from_seed([0; 32]));
    shell.from_parts(k, g, Some(g_lagrange), g2, s_g2)
}

/// Loads a parameter file and downsizes it to `k`; fails if the file is for a smaller `k`.
pub fn load(path: &Path, k: u32) -> ProverResult<KzgParams> {
    let bad = |reason: String| ProverError::BadFile {
        path: path.display().to_string(),
        reason,
    };
    let mut file = File::open(path).map_err(|e| ProverError::io(path, e))?;
    let len = file.metadata().map_err(|e| ProverError::io(path, e))?.len();
    let mut header = [0u8; 4];
    file.read_exact(&mut header)
        .map_err(|_| bad("shorter than its 4-byte header".into()))?;
    let file_k = u32::from_le_bytes(header);
    if !(1..=MAX_K).contains(&file_k) {
        return Err(bad(format!(
            "not a KZG parameter file (header says k = {file_k})"
        )));
    }
    let expected = 4 + (1u64 << (file_k + 7)) + 256;
    if len != expected {
        return Err(bad(format!(
            "{len} bytes, but a k = {file_k} parameter file has {expected}"
        )));
    }
    if file_k < k {
        return Err(bad(format!(
            "parameters are for k = {file_k}, the circuit needs k = {k}"
        )));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| ProverError::io(path, e))?;
    let mut params = KzgParams::read_custom(&mut BufReader::new(file), SerdeFormat::RawBytes)
        .map_err(|e| bad(format!("not a valid KZG parameter file: {e}")))?;
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

/// The default cache directory for generated parameters: `$SEALGRID_PROVER_CACHE`, else
/// `$HOME/.cache/sealgrid/prover` (outside any checkout: parameters are large and never committed).
pub fn default_cache_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("SEALGRID_PROVER_CACHE") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    std::path::Path::new(&home).join(".cache/sealgrid/prover")
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_base::halo2_proofs::poly::commitment::ParamsProver;

    /// The fast setup computes exactly halo2's `ParamsKZG::setup` for the same secret.
    #[test]
    fn fast_setup_matches_halo2() {
        let k = 5;
        let seed = [7u8; 32];
        let reference = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(seed));
        let fast = setup_with_secret(k, Fr::random(ChaCha20Rng::from_seed(seed)));
        assert_eq!(reference.get_g(), fast.get_g());
        assert_eq!(reference.s_g2(), fast.s_g2());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        reference.write(&mut a).expect("write");
        fast.write(&mut b).expect("write");
        assert!(a == b, "lagrange bases differ");
    }

    /// A parameter file written locally loads back, downsizes to a smaller k, and is refused
    /// for a larger k or when it is not a parameter file.
    #[test]
    fn parameter_files_load_and_downsize() {
        let dir = std::env::temp_dir().join(format!("sealgrid-params-{}", std::process::id()));
        let path = dir.join("ceremony_6.srs");
        let params = insecure_setup(6);
        save(&params, &path).expect("save");
        let same = load(&path, 6).expect("load");
        assert_eq!(same.get_g(), params.get_g());
        let mut expected = params.clone();
        expected.downsize(4);
        let small = load(&path, 4).expect("downsize");
        assert_eq!(small.k(), 4);
        assert_eq!(small.get_g(), expected.get_g());
        assert!(matches!(load(&path, 7), Err(ProverError::BadFile { .. })));
        let junk = dir.join("junk.srs");
        std::fs::write(&junk, b"not parameters").expect("write");
        assert!(matches!(load(&junk, 4), Err(ProverError::BadFile { .. })));
        assert!(matches!(
            load(&dir.join("missing.srs"), 4),
            Err(ProverError::Io { .. })
        ));
        let source = ParamsSource::File(path.clone());
        assert_eq!(source.get(5).expect("source").k(), 5);
        assert!(!source.is_insecure());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
