//! The Solidity verifier generated from a capacity's verifying key, its compilation, and running
//! it in revm.
//!
//! The generated contract (snark-verifier-sdk, SHPLONK) takes raw calldata: the public instances
//! as 32-byte big-endian words, then the proof bytes. It returns nothing on success and reverts
//! (or burns its gas) otherwise. `contracts/src/ClearingVerifier.sol` adapts the auction's
//! `IClearingVerifier.Statement` to that calldata.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::halo2curves::bn256::{Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use revm::context::TxEnv;
use revm::context::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use sealgrid_types::{fr_to_b256, stage_init_code};
use snark_verifier_sdk::SHPLONK;
use snark_verifier_sdk::evm::gen_evm_verifier_sol_code;

use crate::error::{ProverError, ProverResult};
use crate::params::KzgParams;
use crate::statement::num_instances;

/// The contract name of the generated verifier for a capacity.
pub fn verifier_name(slots: usize) -> String {
    format!("Halo2ClearingVerifier{slots}")
}

/// EIP-170: the largest runtime code a chain accepts.
pub const MAX_RUNTIME_BYTES: usize = 24_576;

/// Source characters of generated code per stage. solc without the optimizer emits about 0.3
/// bytes of runtime code per character, so a stage stays well under [`MAX_RUNTIME_BYTES`].
const STAGE_SOURCE_CHARS: usize = 80_000;

/// The name of stage `i` (0-based) of a capacity's verifier: the entry keeps the plain name.
pub fn stage_name(slots: usize, i: usize) -> String {
    if i == 0 {
        verifier_name(slots)
    } else {
        format!("{}Stage{}", verifier_name(slots), i + 1)
    }
}

fn depth_change(line: &str) -> i64 {
    let code = line.split("//").next().unwrap_or("");
    code.matches('{').count() as i64 - code.matches('}').count() as i64
}

/// The highest memory word a piece of generated code writes, plus one word.
fn memory_top(lines: &[&str]) -> usize {
    let mut top = 0x80;
    for line in lines {
        let mut rest = *line;
        while let Some(i) = rest.find("mstore") {
            rest = &rest[i + "mstore".len()..];
            let arg = rest.trim_start_matches('8').trim_start_matches('(');
            let end = arg.find([',', ')']).unwrap_or(arg.len());
            let lit = arg[..end].trim();
            let value = match lit.strip_prefix("0x") {
                Some(hex) => usize::from_str_radix(hex, 16).ok(),
                None => lit.parse::<usize>().ok(),
            };
            if let Some(v) = value {
                top = top.max(v + 0x20);
            }
        }
    }
    top
}

/// The generated code cut at statements of its assembly block: the prelude (memory check,
/// `success`, the field moduli, the point check), the stages' bodies, and the epilogue (revert
/// unless `success`, return nothing).
struct Generated<'a> {
    prelude: Vec<&'a str>,
    stages: Vec<Vec<&'a str>>,
    epilogue: Vec<&'a str>,
}

fn split_generated(raw: &str) -> ProverResult<Generated<'_>> {
    let bad = |what: &str| ProverError::Solc(format!("unexpected generated verifier: {what}"));
    let lines: Vec<&str> = raw.lines().collect();
    let open = lines
        .iter()
        .position(|l| l.contains("assembly (\"memory-safe\") {"))
        .ok_or_else(|| bad("no assembly block"))?;
    let func = lines
        .iter()
        .position(|l| l.trim_start().starts_with("function validate_ec_point"))
        .ok_or_else(|| bad("no point check"))?;
    // The prelude ends where the point check's body closes.
    let mut depth = 0i64;
    let mut prelude_end = None;
    for (i, l) in lines.iter().enumerate().skip(func) {
        depth += depth_change(l);
        if depth == 0 {
            prelude_end = Some(i + 1);
            break;
        }
    }
    let prelude_end = prelude_end.ok_or_else(|| bad("unbalanced point check"))?;
    let tail = lines
        .iter()
        .position(|l| l.contains("// Revert if anything fails"))
        .ok_or_else(|| bad("no epilogue"))?;
    let close = lines[tail..]
        .iter()
        .position(|l| l.trim() == "return(0, 0)")
        .map(|i| tail + i + 1)
        .ok_or_else(|| bad("no return"))?;
    let body = &lines[prelude_end..tail];
    let last_read = body
        .iter()
        .rposition(|l| l.contains("calldata"))
        .ok_or_else(|| bad("no calldata reads"))?;
    // The block's own statements (a line at depth 0 with the lines of any block it opens).
    let mut statements: Vec<&[&str]> = Vec::new();
    let mut depth = 0i64;
    let mut begin = 0;
    for (i, l) in body.iter().enumerate() {
        if depth == 0 && l.trim_start().starts_with("let ") {
            // Only the prelude's variables live at block level: every stage declares them.
            return Err(bad("a block-level variable after the prelude"));
        }
        depth += depth_change(l);
        if depth == 0 {
            statements.push(&body[begin..=i]);
            begin = i + 1;
        }
    }
    if depth != 0 || begin != body.len() {
        return Err(bad("unbalanced body"));
    }
    // Greedy stages of whole statements, cut only after the last calldata read (later stages
    // get the memory as their calldata).
    let mut stages = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = 0;
    let mut read = 0;
    for st in statements {
        let len: usize = st.iter().map(|l| l.len() + 1).sum();
        if read > last_read && size > 0 && size + len > STAGE_SOURCE_CHARS {
            stages.push(std::mem::take(&mut current));
            size = 0;
        }
        size += len;
        read += st.len();
        current.extend_from_slice(st);
    }
    stages.push(current);
    Ok(Generated {
        prelude: lines[open + 1..prelude_end].to_vec(),
        stages,
        epilogue: lines[tail..close].to_vec(),
    })
}

/// The Solidity source of the verifier for a capacity's verifying key, as checked in under
/// `contracts/src/verifiers/`.
///
/// snark-verifier-sdk generates one contract whose runtime code is over the EIP-170 limit for
/// this circuit, so its assembly is cut at block-level statements into stages, one contract
/// each, in one file. Stage 1 (`Halo2ClearingVerifier{N}`, the verifier the adapter registers)
/// reads the calldata and runs the first part; a stage that is not the last reverts unless
/// every check so far held and `STATICCALL`s the next stage with its memory, which that stage
/// copies back and continues from. The last stage ends as the generated code does: revert
/// unless every check held, return nothing. Each stage but the last takes the next one's
/// address and expected runtime code hash as its constructor arguments
/// ([`sealgrid_types::stage_init_code`]) and refuses construction unless the code there has that
/// hash, so the entry's runtime code (which embeds the next address) pins the whole chain.
/// Stages past the first trust the memory they are given, so they verify nothing by themselves
/// and must never be registered as verifiers: the ClearingVerifier adapter registers an entry
/// only with its expected runtime code hash, which no later stage has.
pub fn verifier_source(params: &KzgParams, vk: &VerifyingKey<G1Affine>, slots: usize) -> String {
    let raw = gen_evm_verifier_sol_code::<BaseCircuitBuilder<Fr>, SHPLONK>(
        params,
        vk,
        vec![num_instances(slots)],
    );
    let header = format!(
        "// SPDX-License-Identifier: MIT\n\
         // GENERATED by `sealgrid prover export-verifier --capacity {slots}` from the verifying key of\n\
         // the {slots}-slot clearing circuit (prover/) and the devnet KZG parameters. Do not edit:\n\
         // regenerate. Calldata: {n} public instances as 32-byte words, then the proof.\n\
         // snark-verifier-sdk's code, cut into stages under the EIP-170 size limit (prover/src/evm.rs).\n\
         \npragma solidity ^0.8.19;\n",
        n = num_instances(slots)
    );
    let Ok(generated) = split_generated(&raw) else {
        // Generated code of another shape: one contract, as generated.
        let body = raw
            .replace("pragma solidity 0.8.19;", "")
            .replace("// SPDX-License-Identifier: MIT\n", "")
            .replace(
                "contract Halo2Verifier",
                &format!("contract {}", verifier_name(slots)),
            );
        return format!("{header}\n{}\n", body.trim());
    };
    let n = generated.stages.len();
    let mut out = header;
    let mut written: Vec<&str> = Vec::new();
    for (i, stage) in generated.stages.iter().enumerate() {
        written.extend(stage.iter().copied());
        let last = i + 1 == n;
        let role = if i == 0 {
            "the verifier: instances then proof as calldata, returns nothing if the proof is valid"
        } else {
            "continues from the previous stage's memory; not a verifier by itself"
        };
        out.push_str(&format!(
            "\n/// @notice Stage {} of {n} of the {slots}-slot clearing verifier ({role}).\ncontract {} {{\n",
            i + 1,
            stage_name(slots, i)
        ));
        if !last {
            out.push_str(NEXT_STAGE_PIN);
        }
        out.push_str("    fallback(bytes calldata) external returns (bytes memory) {\n");
        if !last {
            out.push_str("        address nextStage = NEXT_STAGE;\n");
        }
        out.push_str("        assembly (\"memory-safe\") {\n");
        for l in &generated.prelude {
            out.push_str(l);
            out.push('\n');
        }
        if i > 0 {
            out.push_str("            calldatacopy(0, 0, calldatasize())\n");
        }
        for l in stage {
            out.push_str(l);
            out.push('\n');
        }
        if last {
            for l in &generated.epilogue {
                out.push_str(l);
                out.push('\n');
            }
        } else {
            out.push_str(&format!(
                "            if iszero(success) {{ revert(0, 0) }}\n            \
                 if iszero(staticcall(gas(), nextStage, 0, {:#x}, 0, 0)) {{ revert(0, 0) }}\n            \
                 return(0, 0)\n",
                memory_top(&written)
            ));
        }
        out.push_str("        }\n    }\n}\n");
    }
    out
}

/// What every stage but the last declares: the next stage's address as an immutable, pinned at
/// construction to the next stage's runtime code hash (checked once, so a call costs what it
/// did; the code at an address cannot change, so the pin holds for good).
const NEXT_STAGE_PIN: &str = "    \
    /// @notice The next stage has no code.
    /// @param nextStage The address given as the next stage.
    error NextStageMissing(address nextStage);

    /// @notice The next stage's runtime code is not the code this stage was built for.
    /// @param nextStage The address given as the next stage.
    /// @param actual keccak256 of its runtime code.
    /// @param expected The runtime code hash this stage was given for it.
    error NextStageCodeHashMismatch(address nextStage, bytes32 actual, bytes32 expected);

    address internal immutable NEXT_STAGE;

    /// @notice Pins the next stage: its address, kept, and its runtime code hash, checked here once.
    /// @dev Requirements: `nextStage` has code and `nextStage.codehash == nextStageCodeHash`.
    /// @param nextStage The next stage of this verifier.
    /// @param nextStageCodeHash keccak256 of the next stage's runtime code, computed from the
    ///        generated code last stage first (`sealgrid deploy`, the deployment record).
    constructor(address nextStage, bytes32 nextStageCodeHash) {
        if (nextStage.code.length == 0) revert NextStageMissing(nextStage);
        if (nextStage.codehash != nextStageCodeHash) {
            revert NextStageCodeHashMismatch(nextStage, nextStage.codehash, nextStageCodeHash);
        }
        NEXT_STAGE = nextStage;
    }

";

/// Compiles a verifier source with `solc --bin -` (no optimizer: the legacy optimizer runs out
/// of stack on the generated code) and returns the creation bytecode of each stage, the entry
/// first.
pub fn compile(source: &str, solc: &Path) -> ProverResult<Vec<Vec<u8>>> {
    let mut child = Command::new(solc)
        .args(["--bin", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProverError::Solc(format!("{}: {e}", solc.display())))?;
    child
        .stdin
        .take()
        .ok_or_else(|| ProverError::Solc("no stdin".into()))?
        .write_all(source.as_bytes())
        .map_err(|e| ProverError::Solc(e.to_string()))?;
    let out = child
        .wait_with_output()
        .map_err(|e| ProverError::Solc(e.to_string()))?;
    if !out.status.success() {
        return Err(ProverError::Solc(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Sections of "======= <stdin>:Name =======", "Binary:", the hex code.
    let mut named: Vec<(String, Vec<u8>)> = Vec::new();
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line
            .trim()
            .strip_prefix("=======")
            .and_then(|l| l.strip_suffix("======="))
        else {
            continue;
        };
        let name = name.trim().rsplit(':').next().unwrap_or("").to_owned();
        let hex_code = lines
            .by_ref()
            .map(str::trim)
            .find(|l| !l.is_empty() && *l != "Binary:")
            .ok_or_else(|| ProverError::Solc(format!("no bytecode for {name}")))?;
        let code = hex::decode(hex_code)
            .map_err(|e| ProverError::Solc(format!("{name}: bytecode is not hex: {e}")))?;
        named.push((name, code));
    }
    let entry = named
        .iter()
        .map(|(n, _)| n.clone())
        .find(|n| !n.contains("Stage"))
        .ok_or_else(|| ProverError::Solc("no bytecode in solc output".into()))?;
    (0..named.len())
        .map(|i| {
            let want = if i == 0 {
                entry.clone()
            } else {
                format!("{entry}Stage{}", i + 1)
            };
            named
                .iter()
                .find(|(n, _)| *n == want)
                .map(|(_, c)| c.clone())
                .ok_or_else(|| ProverError::Solc(format!("no contract {want} in the source")))
        })
        .collect()
}

/// The verifier's calldata: instances as 32-byte big-endian words, then the proof.
pub fn calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(instances.len() * 32 + proof.len());
    for x in instances {
        out.extend_from_slice(fr_to_b256(*x).as_slice());
    }
    out.extend_from_slice(proof);
    out
}

/// A deployed verifier in an in-process revm chain.
pub struct EvmVerifier {
    evm: revm::MainnetEvm<revm::handler::MainnetContext<CacheDB<EmptyDB>>>,
    address: Address,
    nonce: u64,
    /// The largest stage's runtime code size in bytes.
    pub runtime_size: usize,
    /// Stages (contracts) of the verifier.
    pub stages: usize,
}

impl std::fmt::Debug for EvmVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmVerifier")
            .field("address", &self.address)
            .finish()
    }
}

const CALLER: Address = Address::with_last_byte(0xca);

impl EvmVerifier {
    /// Deploys a verifier's stages (creation code from [`compile`], the entry first) in a fresh
    /// revm with the EIP-170 size limit, the last stage first.
    pub fn deploy(stages: &[Vec<u8>]) -> ProverResult<Self> {
        let mut evm = Context::mainnet()
            .with_db(CacheDB::<EmptyDB>::default())
            .modify_cfg_chained(|cfg| cfg.limit_contract_code_size = Some(MAX_RUNTIME_BYTES))
            .build_mainnet();
        let mut next = None;
        let mut runtime_size = 0;
        let mut nonce = 0;
        for creation in stages.iter().rev() {
            let tx = TxEnv::builder()
                .caller(CALLER)
                .kind(TxKind::Create)
                .data(Bytes::from(stage_init_code(creation, next)))
                .gas_limit(16_000_000)
                .nonce(nonce)
                .build()
                .map_err(|e| ProverError::Evm(format!("{e:?}")))?;
            let result = evm
                .transact_commit(tx)
                .map_err(|e| ProverError::Evm(format!("{e:?}")))?;
            nonce += 1;
            let ExecutionResult::Success {
                output: Output::Create(code, Some(address)),
                ..
            } = result
            else {
                return Err(ProverError::Evm(format!("deployment failed: {result:?}")));
            };
            runtime_size = runtime_size.max(code.len());
            next = Some((address, keccak256(&code)));
        }
        let (address, _) = next.ok_or_else(|| ProverError::Evm("no stages to deploy".into()))?;
        Ok(Self {
            evm,
            address,
            nonce,
            runtime_size,
            stages: stages.len(),
        })
    }

    /// Calls the verifier; `Ok(gas)` (21k base and calldata included) if it accepts, `Err` with
    /// the reason if it reverts or halts.
    pub fn verify(&mut self, instances: &[Fr], proof: &[u8]) -> ProverResult<u64> {
        let tx = TxEnv::builder()
            .caller(CALLER)
            .kind(TxKind::Call(self.address))
            .data(Bytes::from(calldata(instances, proof)))
            .gas_limit(5_000_000)
            .nonce(self.nonce)
            .value(U256::ZERO)
            .build()
            .map_err(|e| ProverError::Evm(format!("{e:?}")))?;
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|e| ProverError::Evm(format!("{e:?}")))?;
        self.nonce += 1;
        match result {
            ExecutionResult::Success { gas, .. } => Ok(gas.tx_gas_used()),
            other => Err(ProverError::Evm(format!("verifier rejected: {other:?}"))),
        }
    }
}

/// The checked-in path of a capacity's verifier, relative to the project root.
pub fn verifier_path(slots: usize) -> String {
    format!("contracts/src/verifiers/{}.sol", verifier_name(slots))
}

/// Capacities whose verifiers are checked in (generated from the devnet parameters): the ones
/// the devnet, the demo and CI use. Larger ones are generated by the operator from ceremony
/// parameters with `sealgrid prover export-verifier --capacity N --params FILE`.
pub const CHECKED_IN: &[usize] = &[4, 16];

/// Generates the verifier source of a capacity from the given parameters (keygen included).
pub fn export_verifier(source: &crate::params::ParamsSource, slots: usize) -> ProverResult<String> {
    let cap = crate::capacity::capacity(slots)?;
    let params = source.get(cap.k)?;
    let keys = crate::keys::keygen(&params, slots)?;
    Ok(verifier_source(&params, keys.vk(), slots))
}
