// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @notice circomlib-compatible Poseidon over BN254 with two inputs: poseidon-solidity's
///         `PoseidonT3` library, deployed on its own and called with STATICCALL, so that its code
///         is compiled for runtime gas independently of the contracts that use it (docs/encoding.md).
///         The contracts no longer use it; the shared vectors check it.
interface IPoseidonT3 {
    /// @notice Poseidon([a, b]).
    /// @param inputs Two field elements.
    /// @return The hash, a field element.
    function hash(uint256[2] memory inputs) external pure returns (uint256);
}

/// @notice circomlib-compatible Poseidon over BN254 with three inputs (`PoseidonT4`), deployed and
///         called like {IPoseidonT3}: the commitment accumulator's step.
interface IPoseidonT4 {
    /// @notice Poseidon([a, b, c]).
    /// @param inputs Three field elements.
    /// @return The hash, a field element.
    function hash(uint256[3] memory inputs) external pure returns (uint256);
}

/// @notice circomlib-compatible Poseidon over BN254 with four inputs (`PoseidonT5`), deployed and
///         called like {IPoseidonT3}: the order commitment.
interface IPoseidonT5 {
    /// @notice Poseidon([a, b, c, d]).
    /// @param inputs Four field elements.
    /// @return The hash, a field element.
    function hash(uint256[4] memory inputs) external pure returns (uint256);
}
