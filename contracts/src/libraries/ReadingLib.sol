// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title ReadingLib
/// @notice The signed meter reading of DESIGN 3.7: its EIP-712 struct hash (the same type string
///         as `sealgrid_types::METER_READING_TYPE`, checked by the shared vector in
///         contracts/test/vectors/eip712.json) and its quality codes.
library ReadingLib {
    /// @notice A reading as a meter gateway signs it (EIP-712).
    struct MeterReading {
        bytes32 meterId;
        uint64 interval;
        uint64 importWh;
        uint64 exportWh;
        uint8 quality;
        uint32 revision;
    }

    /// @dev keccak256("MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)")
    bytes32 internal constant METER_READING_TYPEHASH = keccak256(
        "MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)"
    );

    /// @dev Quality codes (`sealgrid_types::MeterQuality`).
    uint8 internal constant ACTUAL = 0;
    uint8 internal constant ESTIMATED = 1;
    uint8 internal constant SUBSTITUTED = 2;

    /// @notice The quality code is not actual, estimated or substituted.
    error ReadingInvalidQuality(uint8 quality);

    /// @notice The EIP-712 struct hash of a reading.
    /// @dev Reverts with {ReadingInvalidQuality} for an unknown quality code.
    /// @param r The reading.
    /// @return The struct hash.
    function structHash(MeterReading memory r) internal pure returns (bytes32) {
        if (r.quality > SUBSTITUTED) revert ReadingInvalidQuality(r.quality);
        return keccak256(
            abi.encode(
                METER_READING_TYPEHASH, r.meterId, r.interval, r.importWh, r.exportWh, r.quality, r.revision
            )
        );
    }
}
