// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {TestBase} from "./Vm.sol";
import {ClearingVerifier} from "../../src/ClearingVerifier.sol";

/// @notice Deploys the checked-in generated verifiers (contracts/src/verifiers/) the way
///         `sealgrid deploy` does: the last stage first, each earlier stage given its next
///         stage's address and runtime code hash, then the adapter with each entry's hash.
abstract contract StagedVerifiers is TestBase {
    /// @dev Stages of each checked-in verifier (prover/src/evm.rs cuts them under EIP-170).
    uint256 internal constant VERIFIER_STAGES = 2;

    /// @dev The artifact of stage `i` (1-based) of the `capacity`-slot verifier.
    function stageArtifact(uint256 capacity, uint256 i) internal pure returns (string memory) {
        string memory name = string.concat("Halo2ClearingVerifier", vm.toString(capacity));
        return i == 1
            ? string.concat(name, ".sol:", name)
            : string.concat(name, ".sol:", name, "Stage", vm.toString(i));
    }

    /// @dev Deploys every stage of the `capacity`-slot verifier pinned to its next; returns the
    ///      entry. The last stage has no immutables, so its expected hash is its artifact's.
    function deployVerifier(uint256 capacity) internal returns (address entry) {
        string memory last = stageArtifact(capacity, VERIFIER_STAGES);
        address next = vm.deployCode(last);
        bytes32 hash = keccak256(vm.getDeployedCode(last));
        vm.assertEq(next.codehash, hash, "the last stage's runtime code is its artifact's");
        for (uint256 i = VERIFIER_STAGES - 1; i > 0; --i) {
            next = vm.deployCode(stageArtifact(capacity, i), abi.encode(next, hash));
            hash = next.codehash;
        }
        entry = next;
    }

    /// @dev An adapter over the checked-in verifiers of `capacities`, each pinned to its hash.
    function deployAdapter(uint32[] memory capacities) internal returns (ClearingVerifier) {
        address[] memory vs = new address[](capacities.length);
        bytes32[] memory hs = new bytes32[](capacities.length);
        for (uint256 i; i < capacities.length; ++i) {
            vs[i] = deployVerifier(capacities[i]);
            hs[i] = vs[i].codehash;
        }
        return new ClearingVerifier(capacities, vs, hs);
    }
}
