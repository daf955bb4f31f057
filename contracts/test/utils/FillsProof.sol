// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {FillsLib} from "../../src/libraries/FillsLib.sol";

/// @notice Off-chain side of the fills tree for tests and scripts: the Merkle siblings of a leaf
///         (docs/encoding.md), the counterpart of `FillsLib.verify`.
library FillsProof {
    /// @dev Merkle siblings of leaf `index` over `words`; odd levels pad with a zero node.
    function siblings(uint64[] memory words, uint32 index) internal pure returns (bytes32[] memory proof) {
        uint256 n = words.length;
        bytes32[] memory level = new bytes32[](n);
        for (uint256 k; k < n; ++k) {
            level[k] = FillsLib.leaf(uint32(k), words[k]);
        }
        proof = new bytes32[](FillsLib.depth(n));
        uint256 pos = index;
        for (uint256 d; d < proof.length; ++d) {
            uint256 sib = pos ^ 1;
            proof[d] = sib < n ? level[sib] : bytes32(0);
            uint256 half = (n + 1) / 2;
            bytes32[] memory next = new bytes32[](half);
            for (uint256 k; k < half; ++k) {
                bytes32 r = 2 * k + 1 < n ? level[2 * k + 1] : bytes32(0);
                next[k] = keccak256(abi.encodePacked(level[2 * k], r));
            }
            level = next;
            n = half;
            pos >>= 1;
        }
    }
}
