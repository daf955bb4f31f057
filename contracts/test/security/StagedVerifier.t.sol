// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ProofVectorCommits} from "../utils/ProofVector.sol";
import {ClearingVerifier} from "../../src/ClearingVerifier.sol";
import {IClearingVerifier} from "../../src/interfaces/IClearingVerifier.sol";
import {IClearingVerifierAdapter} from "../../src/interfaces/IClearingVerifierAdapter.sol";

/// @notice The stage errors the generated verifiers declare (prover/src/evm.rs, `NEXT_STAGE_PIN`).
interface IVerifierStage {
    error NextStageMissing(address nextStage);
    error NextStageCodeHashMismatch(address nextStage, bytes32 actual, bytes32 expected);
}

/// @notice Staged verifiers are pinned end to end: each stage with a next one is constructed only
///         over the next stage's expected runtime code, and the adapter registers an entry only
///         with its expected runtime code hash, so a later stage (which trusts the memory it is
///         given and verifies nothing by itself) registered by mistake is refused.
contract StagedVerifierAttackTest is ProofVectorCommits {
    string internal constant ENTRY4 = "Halo2ClearingVerifier4.sol:Halo2ClearingVerifier4";
    string internal constant STAGE4 = "Halo2ClearingVerifier4.sol:Halo2ClearingVerifier4Stage2";
    string internal constant STAGE16 = "Halo2ClearingVerifier16.sol:Halo2ClearingVerifier16Stage2";

    string internal vec;

    function setUp() public {
        vec = vm.readFile("contracts/test/vectors/clearing-proof-4.json");
    }

    function _one(address verifier, bytes32 hash)
        internal
        pure
        returns (uint32[] memory caps, address[] memory vs, bytes32[] memory hs)
    {
        caps = new uint32[](1);
        caps[0] = 4;
        vs = new address[](1);
        vs[0] = verifier;
        hs = new bytes32[](1);
        hs[0] = hash;
    }

    function _statement() internal view returns (IClearingVerifier.Statement memory) {
        return vectorStatement(vec);
    }

    /// Stage 2 registered as the 4-slot verifier in its entry's place: its runtime code is not
    /// the entry's, so the adapter refuses it.
    function test_adapter_refusesALaterStageRegisteredAsEntry() public {
        address entry = deployVerifier(4);
        address stage2 = vm.deployCode(STAGE4);
        (uint32[] memory caps, address[] memory vs, bytes32[] memory hs) = _one(stage2, entry.codehash);
        vm.expectRevert(
            abi.encodeWithSelector(
                IClearingVerifierAdapter.ClearingVerifierCodeHashMismatch.selector,
                stage2,
                stage2.codehash,
                entry.codehash
            )
        );
        new ClearingVerifier(caps, vs, hs);
    }

    /// Any other code under an entry's expected hash (here the 16-slot entry) is refused too.
    function test_adapter_refusesAnotherCircuitsEntry() public {
        address entry4 = deployVerifier(4);
        address entry16 = deployVerifier(16);
        (uint32[] memory caps, address[] memory vs, bytes32[] memory hs) = _one(entry16, entry4.codehash);
        vm.expectPartialRevert(IClearingVerifierAdapter.ClearingVerifierCodeHashMismatch.selector);
        new ClearingVerifier(caps, vs, hs);
    }

    /// An entry built over a next stage whose code is not the expected one (the 16-slot stage 2
    /// under the 4-slot stage 2's hash) is never constructed.
    function test_stage_refusesANextStageWithTheWrongCode() public {
        address wrong = vm.deployCode(STAGE16);
        bytes32 expected = keccak256(vm.getDeployedCode(STAGE4));
        vm.assertTrue(wrong.codehash != expected, "the stages differ");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVerifierStage.NextStageCodeHashMismatch.selector, wrong, wrong.codehash, expected
            )
        );
        vm.deployCode(ENTRY4, abi.encode(wrong, expected));
    }

    /// A next stage without code is refused whatever hash is given (even the empty account's).
    function test_stage_refusesAMissingNextStage() public {
        address nobody = address(0xdead);
        vm.expectRevert(abi.encodeWithSelector(IVerifierStage.NextStageMissing.selector, nobody));
        vm.deployCode(ENTRY4, abi.encode(nobody, bytes32(0)));
    }

    /// The pinned chain is accepted and verifies the real proof vector; the adapter reports the
    /// pinned hash. The entry's runtime code does not depend on its own address (deployed twice,
    /// same hash), which is what lets the deployment compute it before deploying it.
    function test_pinnedChain_isAcceptedAndVerifiesTheProof() public {
        address entry = deployVerifier(4);
        address again = deployVerifier(4);
        vm.assertTrue(entry != again, "two deployments");
        vm.assertTrue(entry.codehash != again.codehash, "each embeds its own next stage");
        address stage2 = vm.deployCode(STAGE4);
        address twin = vm.deployCode(ENTRY4, abi.encode(stage2, keccak256(vm.getDeployedCode(STAGE4))));
        address twin2 = vm.deployCode(ENTRY4, abi.encode(stage2, keccak256(vm.getDeployedCode(STAGE4))));
        vm.assertEq(twin.codehash, twin2.codehash, "same next stage, same runtime code");
        (uint32[] memory caps, address[] memory vs, bytes32[] memory hs) = _one(twin, twin2.codehash);
        ClearingVerifier adapter = new ClearingVerifier(caps, vs, hs);
        (,, bytes32[] memory pinned) = adapter.circuits();
        vm.assertEq(pinned[0], twin.codehash, "the pinned hash");
        vm.assertTrue(
            adapter.verifyClearing(_statement(), vm.parseJsonBytes(vec, ".proof")), "proof verifies"
        );
        IClearingVerifier.Statement memory s = _statement();
        s.clearingPrice += 1;
        vm.assertFalse(
            adapter.verifyClearing{gas: 2_000_000}(s, vm.parseJsonBytes(vec, ".proof")), "other statement"
        );
    }
}
