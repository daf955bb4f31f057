// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IClearingVerifier} from "./IClearingVerifier.sol";

/// @title IClearingVerifierAdapter
/// @notice An {IClearingVerifier} that adapts the auction's statement to the public instances of
///         the halo2 clearing circuit and routes it to the verifier generated for the smallest
///         supported capacity holding the batch (up to four capacities).
interface IClearingVerifierAdapter is IClearingVerifier {
    /// @notice The constructor's lists are empty, too long, of different lengths, not strictly
    ///         ascending, or name an address without code.
    error ClearingVerifierBadConfig();

    /// @notice The runtime code at `verifier` is not the code expected for its capacity: another
    ///         contract, or a later stage of a staged verifier registered in its entry's place
    ///         (later stages verify nothing by themselves).
    /// @param verifier The address given as a verifier.
    /// @param actual keccak256 of its runtime code.
    /// @param expected The runtime code hash given for it.
    error ClearingVerifierCodeHashMismatch(address verifier, bytes32 actual, bytes32 expected);

    /// @notice The supported capacities, their verifiers and the verifiers' runtime code hashes,
    ///         ascending. A staged verifier's entry embeds its next stage's address and each stage
    ///         checked its next one's code hash at construction, so an entry's hash pins every
    ///         stage behind it (the deployment record lists each stage's hash).
    /// @return capacities The capacities.
    /// @return verifiers The generated verifier (the entry stage) of each.
    /// @return codeHashes keccak256 of each verifier's runtime code, checked at construction.
    function circuits()
        external
        view
        returns (uint32[] memory capacities, address[] memory verifiers, bytes32[] memory codeHashes);
}
