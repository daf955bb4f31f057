// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IPoseidonT4, IPoseidonT5} from "../interfaces/IPoseidon.sol";

/// @title OrderLib
/// @notice The sealgrid order: its EIP-712 struct hash, its Poseidon commitment and the
///         accumulator over commitments, exactly as written in docs/encoding.md and checked by
///         the shared vectors in contracts/test/vectors/.
library OrderLib {
    /// @notice A sealed order as the trader signs it (EIP-712).
    struct Order {
        address trader;
        bytes32 market;
        uint64 interval;
        uint8 side;
        uint64 quantityWh;
        int64 limitPrice;
        uint64 nonce;
        bytes32 salt;
    }

    /// @dev keccak256("Order(address trader,bytes32 market,uint64 interval,uint8 side,uint64 quantityWh,int64 limitPrice,uint64 nonce,bytes32 salt)")
    bytes32 internal constant ORDER_TYPEHASH = keccak256(
        "Order(address trader,bytes32 market,uint64 interval,uint8 side,uint64 quantityWh,int64 limitPrice,uint64 nonce,bytes32 salt)"
    );

    /// @dev keccak256("Receipt(bytes32 market,uint64 interval,uint32 index,bytes32 commitment)")
    bytes32 internal constant RECEIPT_TYPEHASH =
        keccak256("Receipt(bytes32 market,uint64 interval,uint32 index,bytes32 commitment)");

    /// @dev The BN254 scalar field modulus r.
    uint256 internal constant FIELD_MODULUS =
        21_888_242_871_839_275_222_246_405_745_257_275_088_548_364_400_416_034_343_698_204_186_575_808_495_617;

    /// @dev Largest order quantity in Wh (2^48 - 1), so that sums over a batch stay far inside uint64.
    uint64 internal constant MAX_QUANTITY_WH = (uint64(1) << 48) - 1;

    /// @dev Largest lock of one commitment (2^93 - 1 base units), so that the committer and the
    ///      lock pack into one field element of the accumulator (160 + 93 bits).
    uint256 internal constant MAX_LOCK = (uint256(1) << 93) - 1;

    /// @dev Side codes.
    uint8 internal constant BUY = 0;
    uint8 internal constant SELL = 1;

    /// @notice A value is not below the BN254 scalar field modulus.
    error OrderFieldOverflow(uint256 value);

    /// @notice The EIP-712 struct hash of an order.
    function structHash(Order calldata o) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ORDER_TYPEHASH,
                o.trader,
                o.market,
                o.interval,
                o.side,
                o.quantityWh,
                o.limitPrice,
                o.nonce,
                o.salt
            )
        );
    }

    /// @notice The EIP-712 struct hash of an operator receipt.
    function receiptHash(bytes32 market, uint64 interval, uint32 index, bytes32 commitment_)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(RECEIPT_TYPEHASH, market, interval, index, commitment_));
    }

    /// @notice The Poseidon commitment of an order: H(w0, w1, w2, w3) with
    ///         w0 = trader | nonce << 160, w1 = market, w2 = interval | quantityWh << 64 |
    ///         (uint64(limitPrice) ^ 2^63) << 128 | side << 192, w3 = salt.
    /// @dev Reverts with {OrderFieldOverflow} if market or salt is not below the field modulus;
    ///      w0 (224 bits) and w2 (200 bits) cannot reach it.
    function commitment(Order calldata o, IPoseidonT5 t5) internal view returns (bytes32) {
        uint256 market = uint256(o.market);
        uint256 salt = uint256(o.salt);
        if (market >= FIELD_MODULUS) revert OrderFieldOverflow(market);
        if (salt >= FIELD_MODULUS) revert OrderFieldOverflow(salt);
        uint256 w0 = uint256(uint160(o.trader)) | (uint256(o.nonce) << 160);
        uint256 w2 = uint256(o.interval) | (uint256(o.quantityWh) << 64)
            | (uint256(uint64(o.limitPrice) ^ (uint64(1) << 63)) << 128) | (uint256(o.side) << 192);
        return bytes32(t5.hash([w0, market, w2, salt]));
    }

    /// @notice One accumulator step: H(acc, commitment, uint160(committer) | lock << 160) mod 2^224
    ///         (circomlib Poseidon with three inputs, its output's low 224 bits), binding each
    ///         commitment to the account that committed it and to its lock, so that the proof can
    ///         check both (DESIGN §3.6). The truncation lets the auction keep the accumulator and
    ///         the commitment count in one storage slot (docs/encoding.md).
    /// @dev `acc` is below 2^224 and the auction checks the commitment below the field modulus and
    ///      `lock <= MAX_LOCK` on entry, so the packed word (at most 253 bits) is a field element.
    function accumulate(uint224 acc, bytes32 c, address committer, uint256 lock, IPoseidonT4 t4)
        internal
        view
        returns (uint224)
    {
        return uint224(t4.hash([uint256(acc), uint256(c), uint256(uint160(committer)) | (lock << 160)]));
    }

    /// @notice The lock an order needs: the most its trader can owe at any clearing price the
    ///         order accepts (buy: q * max(limit, 0) / 1000, sell: q * max(-limit, 0) / 1000, rounded up).
    function requiredLock(uint8 side, uint64 quantityWh, int64 limitPrice) internal pure returns (uint256) {
        int256 exposure = side == BUY ? int256(limitPrice) : -int256(limitPrice);
        if (exposure <= 0) return 0;
        // q < 2^64 and 0 < exposure <= 2^63, so the product is below 2^127: no overflow.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            return (uint256(quantityWh) * uint256(exposure) + 999) / 1000;
        }
    }
}
