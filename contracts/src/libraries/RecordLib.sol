// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ISealgridAuction} from "../interfaces/ISealgridAuction.sol";

/// @title RecordLib
/// @notice Commitment records. The auction keeps each commitment under its trader's k-th slot in
///         the interval, key keccak256(market, interval, trader, k) for k below the market's
///         `maxPerAccount`, with the value keccak256(index, lock, commitment); a record is given
///         back in full to claim, refund, withdraw or dispute it, and found by probing the
///         trader's slots. Commit takes the trader's first empty slot, so the slots are the
///         per-account cap and cost commit nothing over one record write. A withdrawn record
///         becomes {WITHDRAWN} (it keeps its slot, so withdrawing does not lift the cap); a
///         claimed, refunded or disputed one is deleted ({take}), so no record can be used twice.
/// @dev Records are deleted only from the gate on (claims, refunds and disputes need a settled
///      or void interval), when no commit can take a slot any more; before the gate every slot
///      up to the trader's last commitment is nonzero.
library RecordLib {
    /// @notice The value of a withdrawn record's slot (no keccak256 output is 1 in practice).
    bytes32 internal constant WITHDRAWN = bytes32(uint256(1));

    /// @notice The storage key of `trader`'s k-th record slot in an interval:
    ///         keccak256(market, interval, trader, k).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param trader The committing account.
    /// @param k The slot, below the market's `maxPerAccount`.
    /// @return h The key.
    function key(bytes32 market, uint64 interval, address trader, uint256 k)
        internal
        pure
        returns (bytes32 h)
    {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, market)
            mstore(add(ptr, 0x20), interval)
            mstore(add(ptr, 0x40), trader)
            mstore(add(ptr, 0x60), k)
            h := keccak256(ptr, 0x80)
        }
    }

    /// @notice The stored value of a record: keccak256(index, lock, commitment).
    /// @param index The commitment's position in the interval's sequence.
    /// @param lock The locked amount.
    /// @param commitment The order commitment.
    /// @return h The value.
    function hash(uint32 index, uint128 lock, bytes32 commitment) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, index)
            mstore(add(ptr, 0x20), lock)
            mstore(add(ptr, 0x40), commitment)
            h := keccak256(ptr, 0x60)
        }
    }

    /// @notice The key of the outstanding record `r`, probing its trader's first `slots` slots.
    /// @param records The auction's records.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param r The record given back.
    /// @param slots The market's `maxPerAccount` (it never decreases, so every record lies below it).
    /// @return k The record's key, or zero if no slot holds `r` (consumed, withdrawn, never
    ///         committed, or a field differs).
    function find(
        mapping(bytes32 key => bytes32 recordHash) storage records,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.CommitmentRecord memory r,
        uint256 slots
    ) internal view returns (bytes32 k) {
        bytes32 h = hash(r.index, r.lock, r.commitment);
        for (uint256 j; j < slots; ++j) {
            k = key(market, interval, r.trader, j);
            if (records[k] == h) return k;
        }
        return bytes32(0);
    }

    /// @notice Deletes the outstanding record `r` and returns true, or changes nothing and returns
    ///         false if no slot holds it.
    /// @param records The auction's records.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param r The record given back.
    /// @param slots The market's `maxPerAccount`.
    /// @return True if the record was outstanding and is now consumed.
    function take(
        mapping(bytes32 key => bytes32 recordHash) storage records,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.CommitmentRecord memory r,
        uint256 slots
    ) internal returns (bool) {
        bytes32 k = find(records, market, interval, r, slots);
        if (k == bytes32(0)) return false;
        delete records[k];
        return true;
    }
}
