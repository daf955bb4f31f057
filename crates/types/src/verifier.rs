//! The constructor arguments of a generated verifier's stages (prover/src/evm.rs): the one
//! encoding the prover's revm harness, the simulator and `sealgrid deploy` all use.

use alloy_primitives::{Address, B256};
use alloy_sol_types::SolValue;

/// A verifier stage's init code: its creation code followed by its constructor arguments. Every
/// stage but the last takes `next = Some((address, runtime code hash))` of the next stage,
/// ABI-encoded as `(address nextStage, bytes32 nextStageCodeHash)`, and refuses construction
/// unless the code at that address has that hash; the last stage takes `None` (no arguments).
pub fn stage_init_code(creation: &[u8], next: Option<(Address, B256)>) -> Vec<u8> {
    let mut code = creation.to_vec();
    if let Some(next) = next {
        code.extend(next.abi_encode_params());
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_stage_is_two_abi_words() {
        let next = Address::repeat_byte(0x11);
        let hash = B256::repeat_byte(0x22);
        let code = stage_init_code(&[0xfe], Some((next, hash)));
        assert_eq!(code.len(), 1 + 64);
        assert_eq!(&code[1..13], &[0u8; 12]);
        assert_eq!(&code[13..33], next.as_slice());
        assert_eq!(&code[33..], hash.as_slice());
        assert_eq!(stage_init_code(&[0xfe], None), vec![0xfe]);
    }
}
