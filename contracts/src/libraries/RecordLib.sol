// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ISealgridAuction} from "../interfaces/ISealgridAuction.sol";

/// @title RecordLib
/// @notice Commitment records: the auction keeps, per (market, interval, index), only
///         keccak256(trader, lock, commitment), and a record is given back in full to claim, refund,
///         withdraw or dispute it. Consuming deletes it ({consume}), so no record can be used
///         twice.
library RecordLib {
    /// @notice The storage key of the record at `index`: keccak256(market, interval, index).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param index The commitment index.
    /// @return k The key.
    function key(bytes32 market, uint64 interval, uint32 index) internal pure returns (bytes32 k) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, market)
            mstore(add(ptr, 0x20), interval)
            mstore(add(ptr, 0x40), index)
            k := keccak256(ptr, 0x60)
        }
    }

    /// @notice The stored hash of a record: keccak256(trader, lock, commitment).
    /// @param trader The committing account.
    /// @param lock The locked amount.
    /// @param commitment The order commitment.
    /// @return h The hash.
    function hash(address trader, uint128 lock, bytes32 commitment) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, trader)
            mstore(add(ptr, 0x20), lock)
            mstore(add(ptr, 0x40), commitment)
            h := keccak256(ptr, 0x60)
        }
    }

    /// @notice Checks that record `r` is outstanding and matches in every field, and deletes it.
    /// @dev Reverts with {ISealgridAuction.AuctionRecordMismatch} when the record was consumed,
    ///      never existed, or differs in any field.
    /// @param records The auction's records: key => keccak256(trader, lock, commitment).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param r The record given back.
    function consume(
        mapping(bytes32 key => bytes32 recordHash) storage records,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.CommitmentRecord memory r
    ) internal {
        bytes32 k = key(market, interval, r.index);
        bytes32 stored = records[k];
        if (stored == bytes32(0) || stored != hash(r.trader, r.lock, r.commitment)) {
            revert ISealgridAuction.AuctionRecordMismatch(r.index);
        }
        delete records[k];
    }
}
