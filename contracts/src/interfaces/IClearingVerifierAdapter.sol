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

    /// @notice The supported capacities and their verifiers, ascending.
    /// @return capacities The capacities.
    /// @return verifiers The generated verifier of each.
    function circuits() external view returns (uint32[] memory capacities, address[] memory verifiers);
}
