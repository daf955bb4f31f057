// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IClearingVerifier} from "./interfaces/IClearingVerifier.sol";
import {IClearingVerifierAdapter} from "./interfaces/IClearingVerifierAdapter.sol";

/// @title ClearingVerifier
/// @notice Checks clearing proofs for the auction: adapts an `IClearingVerifier.Statement` to the
///         public instances of the halo2 clearing circuit (prover/) and calls the verifier that
///         was generated from the verifying key of the smallest supported capacity holding the
///         batch (contracts/src/verifiers/, `sealgrid prover export-verifier`).
/// @dev Instances (docs/encoding.md, "Proof statement"): market, interval, accumulator, count,
///      floor, cap and price as `uint64(int64) ^ 2^63`, volume, then the fill words' 50-bit
///      chunks `(word >> 62) << 48 | (word & (2^48 - 1))` packed five per element
///      (`sum chunk_{5j+i} << 50i`), zero past `count`, `ceil(capacity / 5)` elements. The
///      generated verifier reads the instances as 32-byte words followed by the proof, returns
///      nothing on success and reverts otherwise. Up to four capacities per adapter.
contract ClearingVerifier is IClearingVerifierAdapter {
    /// @dev Four 32-bit capacities, ascending, capacity i at bits 32i..32i+31 (0 = unused).
    uint256 internal immutable _capacities;
    address internal immutable _verifier0;
    address internal immutable _verifier1;
    address internal immutable _verifier2;
    address internal immutable _verifier3;
    /// @dev The verifiers' runtime code hashes, as checked at construction (read by `circuits`).
    bytes32 internal immutable _codeHash0;
    bytes32 internal immutable _codeHash1;
    bytes32 internal immutable _codeHash2;
    bytes32 internal immutable _codeHash3;

    /// @notice Registers the generated verifier of each capacity, pinned to its runtime code hash.
    /// @dev Requirements: 1 to 4 capacities, nonzero and strictly ascending, lists of equal
    ///      length, and every verifier's `codehash` equal to its expected hash (computed from the
    ///      generated code by `sealgrid deploy`): a later stage of a staged verifier has other code
    ///      than its entry, so registering it by mistake is refused.
    /// @param capacities Supported capacities, strictly ascending (1 to 4 of them).
    /// @param verifiers The generated verifier (the entry stage) for each capacity.
    /// @param codeHashes keccak256 of each verifier's expected runtime code.
    constructor(uint32[] memory capacities, address[] memory verifiers, bytes32[] memory codeHashes) {
        uint256 n = capacities.length;
        if (n == 0 || n > 4 || verifiers.length != n || codeHashes.length != n) {
            revert ClearingVerifierBadConfig();
        }
        uint256 packed = 0;
        address[4] memory v = [address(0), address(0), address(0), address(0)];
        bytes32[4] memory h = [bytes32(0), bytes32(0), bytes32(0), bytes32(0)];
        for (uint256 i; i < n; ++i) {
            if (capacities[i] == 0 || (i > 0 && capacities[i] <= capacities[i - 1])) {
                revert ClearingVerifierBadConfig();
            }
            if (verifiers[i].code.length == 0) revert ClearingVerifierBadConfig();
            if (verifiers[i].codehash != codeHashes[i]) {
                revert ClearingVerifierCodeHashMismatch(verifiers[i], verifiers[i].codehash, codeHashes[i]);
            }
            packed |= uint256(capacities[i]) << (32 * i);
            v[i] = verifiers[i];
            h[i] = codeHashes[i];
        }
        _capacities = packed;
        (_verifier0, _verifier1, _verifier2, _verifier3) = (v[0], v[1], v[2], v[3]);
        (_codeHash0, _codeHash1, _codeHash2, _codeHash3) = (h[0], h[1], h[2], h[3]);
    }

    /// @inheritdoc IClearingVerifierAdapter
    function circuits()
        external
        view
        returns (uint32[] memory capacities, address[] memory verifiers, bytes32[] memory codeHashes)
    {
        uint256 n;
        while (n < 4 && uint32(_capacities >> (32 * n)) != 0) ++n;
        capacities = new uint32[](n);
        verifiers = new address[](n);
        codeHashes = new bytes32[](n);
        address[4] memory v = [_verifier0, _verifier1, _verifier2, _verifier3];
        bytes32[4] memory h = [_codeHash0, _codeHash1, _codeHash2, _codeHash3];
        for (uint256 i; i < n; ++i) {
            capacities[i] = uint32(_capacities >> (32 * i));
            verifiers[i] = v[i];
            codeHashes[i] = h[i];
        }
    }

    /// @inheritdoc IClearingVerifier
    function verifyClearing(Statement calldata statement, bytes calldata proof)
        external
        view
        returns (bool valid)
    {
        uint256 count = statement.count;
        (uint256 capacity, address verifier) = _circuitFor(count);
        if (verifier == address(0) || statement.fills.length != count * 8) return false;
        bytes memory input = _instances(statement, capacity, proof);
        // Forward all gas: the auction already bounds this call.
        (valid,) = verifier.staticcall(input);
    }

    /// @dev The smallest capacity >= count and its verifier; (0, 0) if none.
    function _circuitFor(uint256 count) internal view returns (uint256 capacity, address verifier) {
        uint256 packed = _capacities;
        address[4] memory v = [_verifier0, _verifier1, _verifier2, _verifier3];
        for (uint256 i; i < 4; ++i) {
            uint256 c = uint32(packed >> (32 * i));
            if (c == 0) break;
            if (c >= count) return (c, v[i]);
        }
    }

    /// @dev The generated verifier's calldata: the instances as 32-byte words, then the proof.
    function _instances(Statement calldata s, uint256 capacity, bytes calldata proof)
        internal
        pure
        returns (bytes memory input)
    {
        uint256 elements = (capacity + 4) / 5;
        uint256 count = s.count;
        input = new bytes((8 + elements) * 32 + proof.length);
        bytes calldata fills = s.fills;
        assembly ("memory-safe") {
            let p := add(input, 0x20)
            let offsetBit := shl(63, 1)
            let mask64 := 0xffffffffffffffff
            mstore(p, calldataload(s))
            mstore(add(p, 0x20), and(calldataload(add(s, 0x20)), mask64))
            mstore(add(p, 0x40), calldataload(add(s, 0x40)))
            mstore(add(p, 0x60), and(calldataload(add(s, 0x60)), 0xffffffff))
            mstore(add(p, 0x80), xor(and(calldataload(add(s, 0x80)), mask64), offsetBit))
            mstore(add(p, 0xa0), xor(and(calldataload(add(s, 0xa0)), mask64), offsetBit))
            mstore(add(p, 0xc0), xor(and(calldataload(add(s, 0xc0)), mask64), offsetBit))
            mstore(add(p, 0xe0), and(calldataload(add(s, 0xe0)), mask64))
            let out := add(p, 0x100)
            let k := 0
            for { let j := 0 } lt(j, elements) { j := add(j, 1) } {
                let e := 0
                for { let i := 0 } lt(i, 5) { i := add(i, 1) } {
                    if lt(k, count) {
                        let word := shr(192, calldataload(add(fills.offset, shl(3, k))))
                        let chunk := or(shl(48, shr(62, word)), and(word, 0xffffffffffff))
                        e := or(e, shl(mul(50, i), chunk))
                    }
                    k := add(k, 1)
                }
                mstore(add(out, shl(5, j)), e)
            }
            calldatacopy(add(out, shl(5, elements)), proof.offset, proof.length)
        }
    }
}
