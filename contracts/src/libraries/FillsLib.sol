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
    function root(bytes32[] memory nodes) internal pure returns (bytes32 r) {
        assembly ("memory-safe") {
            let data := add(nodes, 0x20)
            let n := mload(nodes)
            for {} gt(n, 1) {} {
                let half := shr(1, add(n, 1))
                for { let k := 0 } lt(k, half) { k := add(k, 1) } {
                    let l := add(data, shl(6, k))
                    mstore(0x00, mload(l))
                    switch lt(add(shl(1, k), 1), n)
                    case 1 { mstore(0x20, mload(add(l, 0x20))) }
                    default { mstore(0x20, 0) }
                    mstore(add(data, shl(5, k)), keccak256(0x00, 0x40))
                }
                n := half
            }
            r := mload(data)
        }
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

    /// @notice One pass over the fill words of a settle, in assembly because it runs once per commitment
    ///      (settle budget: 1,000 gas per fill): validates each word, checks withdrawn indices are
    ///      excluded, sums buy and sell fills and writes the Merkle leaves into `nodes`.
    ///      `fault` is 0, or kind << 128 | index << 64 | word with kind 1 = malformed word,
    ///      2 = withdrawn but not excluded.
    /// @param withdrawn The interval's withdrawn bitmap (word k holds indices 256k..256k+255).
    /// @param count The number of commitments.
    /// @param fills `count` big-endian 8-byte fill words.
    /// @param nodes Receives the `count` Merkle leaves.
    /// @return buys The sum of buy fills.
    /// @return sells The sum of sell fills.
    /// @return excluded The number of excluded words.
    /// @return fault 0, or the first fault as described above.
    function scan(
        mapping(uint256 => uint256) storage withdrawn,
        uint256 count,
        bytes calldata fills,
        bytes32[] memory nodes
    ) internal view returns (uint256 buys, uint256 sells, uint256 excluded, uint256 fault) {
        assembly ("memory-safe") {
            let data := add(nodes, 0x20)
            let bits := 0
            for { let k := 0 } lt(k, count) { k := add(k, 1) } {
                if iszero(and(k, 0xff)) {
                    mstore(0x00, shr(8, k))
                    mstore(0x20, withdrawn.slot)
                    bits := sload(keccak256(0x00, 0x40))
                }
                let word := shr(192, calldataload(add(fills.offset, shl(3, k))))
                let q := and(word, 0xffffffffffff)
                let isExcluded := and(shr(62, word), 1)
                let isSell := shr(63, word)
                // reserved bits 48..61, an excluded word other than the flag alone, or a sell
                // flag on a zero fill
                if or(
                    or(and(word, 0x3fff000000000000), and(isExcluded, iszero(eq(word, shl(62, 1))))),
                    and(iszero(q), isSell)
                ) {
                    fault := or(shl(128, 1), or(shl(64, k), word))
                    break
                }
                if and(and(shr(and(k, 0xff), bits), 1), iszero(isExcluded)) {
                    fault := or(shl(128, 2), shl(64, k))
                    break
                }
                excluded := add(excluded, isExcluded)
                // q < 2^48 and k < 2^24: the sums stay below 2^72
                switch isSell
                case 1 { sells := add(sells, q) }
                default { buys := add(buys, q) }
                mstore(0x00, or(shl(224, k), shl(160, word)))
                mstore(add(data, shl(5, k)), keccak256(0x00, 12))
            }
        }
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }
}
