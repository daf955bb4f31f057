//! The staged verifiers' pinning: each stage's runtime code computed locally, last stage first,
//! and the check of a deployment record's verifiers against the chain.

use alloy::primitives::{Address, B256, Bytes, TxKind, keccak256};
use alloy::providers::Provider;
use revm::context::TxEnv;
use revm::context::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::state::{AccountInfo, Bytecode};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use serde::{Deserialize, Serialize};

use sealgrid_chain::{ChainError, ChainResult, CodeHashMismatch};

use crate::{DeployRecord, VerifierRecord};

/// EIP-170: the largest runtime code a chain accepts (the local run enforces it as a chain does).
const MAX_RUNTIME_BYTES: usize = 24_576;

/// One deployed stage of a verifier.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StageRecord {
    /// Its address.
    pub address: Address,
    /// keccak256 of its runtime code (for a stage with a next one, that code embeds the next
    /// stage's address, so the hash is computed last stage first).
    pub code_hash: B256,
}

/// The runtime code a verifier stage's constructor leaves, computed in a local EVM from its
/// creation code: `next` is the next stage's address and runtime code (`None` for the last
/// stage), put at that address so the stage's own check of its next one's code hash runs as it
/// will on chain. The result does not depend on the address the stage itself lands at.
///
/// # Errors
/// [`ChainError::Devnet`] when the constructor reverts or the code is over EIP-170.
pub fn stage_runtime(creation: &[u8], next: Option<(Address, &[u8])>) -> ChainResult<Bytes> {
    let fail = |what: String| ChainError::Devnet(format!("computing a verifier stage: {what}"));
    let mut db = CacheDB::<EmptyDB>::default();
    if let Some((address, code)) = next {
        db.insert_account_info(
            address,
            AccountInfo::from_bytecode(Bytecode::new_raw(Bytes::copy_from_slice(code))),
        );
    }
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| cfg.limit_contract_code_size = Some(MAX_RUNTIME_BYTES))
        .build_mainnet();
    let init = sealgrid_types::stage_init_code(creation, next.map(|(a, c)| (a, keccak256(c))));
    let tx = TxEnv::builder()
        .caller(Address::with_last_byte(0xde))
        .kind(TxKind::Create)
        .data(Bytes::from(init))
        .gas_limit(16_000_000)
        .build()
        .map_err(|e| fail(format!("{e:?}")))?;
    match evm
        .transact_commit(tx)
        .map_err(|e| fail(format!("{e:?}")))?
    {
        ExecutionResult::Success {
            output: Output::Create(code, Some(_)),
            ..
        } => Ok(code),
        other => Err(fail(format!("the constructor failed: {other:?}"))),
    }
}

/// The runtime code hash of every stage of a verifier, entry first, had each stage been deployed
/// at `addresses` (entry first): computed last stage first, as the deployment does.
///
/// # Errors
/// Lists of different lengths, or a stage whose constructor fails ([`stage_runtime`]).
pub fn stage_code_hashes(stages: &[Vec<u8>], addresses: &[Address]) -> ChainResult<Vec<B256>> {
    if stages.len() != addresses.len() {
        return Err(ChainError::Config(format!(
            "{} stages, {} addresses",
            stages.len(),
            addresses.len()
        )));
    }
    let mut next: Option<(Address, Bytes)> = None;
    let mut hashes = Vec::with_capacity(stages.len());
    for (creation, &address) in stages.iter().zip(addresses).rev() {
        let code = stage_runtime(creation, next.as_ref().map(|(a, c)| (*a, c.as_ref())))?;
        hashes.push(keccak256(&code));
        next = Some((address, code));
    }
    hashes.reverse();
    Ok(hashes)
}

/// Checks that `code` (read from the chain at `address`) is the code the record expects.
fn check_code(what: String, address: Address, expected: B256, code: &[u8]) -> ChainResult<()> {
    let actual = keccak256(code);
    if actual != expected {
        return Err(CodeHashMismatch {
            what,
            address,
            expected,
            actual,
        }
        .into());
    }
    Ok(())
}

/// Checks the shape of a verifier's record: at least one stage, the entry first and equal to
/// the verifier's own address and hash.
pub fn check_verifier_record(v: &VerifierRecord) -> ChainResult<()> {
    match v.stages.first() {
        Some(entry) if entry.address == v.address && entry.code_hash == v.code_hash => Ok(()),
        _ => Err(ChainError::Config(format!(
            "deployment record: the {}-slot verifier's stages must list its entry {} (code hash {}) first",
            v.capacity, v.address, v.code_hash
        ))),
    }
}

alloy::sol! {
    #[sol(rpc)]
    interface IClearingVerifierCircuits {
        function circuits()
            external
            view
            returns (uint32[] memory capacities, address[] memory verifiers, bytes32[] memory codeHashes);
    }
}

/// Checks a deployment record against the chain, as the node does on start-up: the runtime
/// code hash of every stage of every verifier, and the ClearingVerifier adapter's registered
/// capacities, entries and pinned entry hashes.
///
/// # Errors
/// [`ChainError::CodeHashMismatch`] naming the contract whose code differs from the record,
/// [`ChainError::Config`] for a record that disagrees with the adapter or is malformed, and
/// RPC errors.
pub async fn verify_record<P: Provider>(provider: &P, record: &DeployRecord) -> ChainResult<()> {
    let chain_id = provider.get_chain_id().await?;
    if chain_id != record.chain_id {
        return Err(ChainError::Config(format!(
            "deployment record of chain {} ({}), the node is chain {chain_id}",
            record.chain_id, record.network
        )));
    }
    for v in &record.verifiers {
        check_verifier_record(v)?;
        for (i, stage) in v.stages.iter().enumerate() {
            let code = provider.get_code_at(stage.address).await?;
            check_code(
                format!("stage {} of the {}-slot verifier", i + 1, v.capacity),
                stage.address,
                stage.code_hash,
                &code,
            )?;
        }
    }
    let adapter = IClearingVerifierCircuits::new(record.clearing_verifier, provider);
    let c = adapter.circuits().call().await?;
    let registered: Vec<(usize, Address, B256)> = c
        .capacities
        .iter()
        .zip(&c.verifiers)
        .zip(&c.codeHashes)
        .map(|((&cap, &v), &h)| (cap as usize, v, h))
        .collect();
    let recorded: Vec<(usize, Address, B256)> = record
        .verifiers
        .iter()
        .map(|v| (v.capacity, v.address, v.code_hash))
        .collect();
    if registered != recorded {
        return Err(ChainError::Config(format!(
            "deployment record: the ClearingVerifier at {} registers {registered:?} (capacity, entry, code hash), the record lists {recorded:?}",
            record.clearing_verifier
        )));
    }
    Ok(())
}

/// [`verify_record`] against the node at `rpc` (HTTP).
///
/// # Errors
/// As [`verify_record`], and [`ChainError::BadUrl`].
pub async fn verify_record_at(rpc: &str, record: &DeployRecord) -> ChainResult<()> {
    let provider = sealgrid_chain::rpc::connect(sealgrid_chain::rpc::rpc_url(rpc)?);
    verify_record(&provider, record).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creation code that returns `runtime` as the contract's code.
    fn returning(runtime: &[u8]) -> Vec<u8> {
        // PUSH2 len, DUP1, PUSH1 12 (code offset), PUSH1 0, CODECOPY, PUSH1 0, RETURN, runtime
        let len = u16::try_from(runtime.len()).expect("small");
        let mut code = vec![
            0x61,
            (len >> 8) as u8,
            len as u8,
            0x80,
            0x60,
            12,
            0x60,
            0,
            0x39,
        ];
        code.extend([0x60, 0, 0xf3]);
        code.extend_from_slice(runtime);
        code
    }

    #[test]
    fn the_last_stage_hash_is_its_runtime_code() {
        let runtime = [0x60, 0x01, 0x00];
        let code = stage_runtime(&returning(&runtime), None).expect("runs");
        assert_eq!(code.as_ref(), &runtime);
        let hashes =
            stage_code_hashes(&[returning(&runtime)], &[Address::repeat_byte(1)]).expect("hashes");
        assert_eq!(hashes, vec![keccak256(runtime)]);
        assert!(stage_code_hashes(&[returning(&runtime)], &[]).is_err());
    }

    #[test]
    fn a_failing_constructor_is_an_error() {
        // PUSH1 0, DUP1, REVERT
        let e = stage_runtime(&[0x60, 0, 0x80, 0xfd], None).expect_err("reverts");
        assert!(e.to_string().contains("constructor failed"), "{e}");
    }

    #[test]
    fn a_record_must_list_its_entry_first_and_code_must_match() {
        let entry = StageRecord {
            address: Address::repeat_byte(1),
            code_hash: keccak256([1u8]),
        };
        let later = StageRecord {
            address: Address::repeat_byte(2),
            code_hash: keccak256([2u8]),
        };
        let mut v = VerifierRecord {
            capacity: 4,
            k: 12,
            address: entry.address,
            code_hash: entry.code_hash,
            stages: vec![entry, later],
        };
        check_verifier_record(&v).expect("well-formed");
        v.stages.swap(0, 1);
        assert!(check_verifier_record(&v).is_err(), "a later stage first");
        v.stages.clear();
        assert!(check_verifier_record(&v).is_err(), "no stages");
        check_code("x".into(), entry.address, entry.code_hash, &[1]).expect("same code");
        let e = check_code("stage 2".into(), later.address, later.code_hash, &[1])
            .expect_err("other code");
        assert!(e.is_code_hash_mismatch(), "{e}");
        assert!(e.to_string().contains("stage 2"), "{e}");
    }
}
