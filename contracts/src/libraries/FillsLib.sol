// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title FillsLib
/// @notice Fill words and the Merkle tree over them (docs/encoding.md, "Fill words" and
///         "Fills Merkle root").
/// @dev A fill word is 64 bits: bit 63 sell flag, bit 62 excluded flag, bits 48–61 zero,
///      bits 0–47 filled Wh. Leaves are keccak256(uint32 index ++ uint64 word) (12 bytes), inner
///      nodes keccak256(left ++ right) (64 bytes); a missing right sibling is bytes32(0).
library FillsLib {
    uint64 internal constant SELL_FLAG = uint64(1) << 63;
    uint64 internal constant EXCLUDED_FLAG = uint64(1) << 62;
    uint64 internal constant QUANTITY_MASK = (uint64(1) << 48) - 1;
    uint64 internal constant RESERVED_MASK = ~(SELL_FLAG | EXCLUDED_FLAG | QUANTITY_MASK);

    /// @notice The Merkle leaf of fill word `word` at commitment index `index`.
    function leaf(uint32 index, uint64 word) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            // Bytes 0..3 index, 4..11 word, big-endian, hashed as 12 bytes from scratch space.
            mstore(0x00, or(shl(224, index), shl(160, word)))
            h := keccak256(0x00, 12)
        }
    }

    /// @notice The depth of the tree over `count` leaves: ceil(log2(count)), 0 for one leaf.
    function depth(uint256 count) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < count) ++d;
    }

    /// @notice Reduces `nodes` (the leaves, overwritten) to the root. `nodes.length` must be > 0.
    function root(bytes32[] memory nodes) internal pure returns (bytes32) {
        uint256 n = nodes.length;
        while (n > 1) {
            uint256 half = (n + 1) >> 1;
            for (uint256 k; k < half; ++k) {
                bytes32 l = nodes[2 * k];
                bytes32 r = 2 * k + 1 < n ? nodes[2 * k + 1] : bytes32(0);
                nodes[k] = _hashPair(l, r);
            }
            n = half;
        }
        return nodes[0];
    }

    /// @notice True if `proof` shows that `word` is the fill word at `index` under `root_` for a
    ///         tree over `count` leaves.
    function verify(bytes32 root_, uint256 count, uint32 index, uint64 word, bytes32[] calldata proof)
        internal
        pure
        returns (bool)
    {
        if (index >= count || proof.length != depth(count)) return false;
        bytes32 h = leaf(index, word);
        uint256 pos = index;
        for (uint256 k; k < proof.length; ++k) {
            h = (pos & 1 == 0) ? _hashPair(h, proof[k]) : _hashPair(proof[k], h);
            pos >>= 1;
        }
        return h == root_;
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }
}
