// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title ReadingLib
/// @notice The signed records of delivery settlement (DESIGN 3.7): the gateway's `MeterReading`
///         and the oracle's `RealTimePrice`, their EIP-712 struct hashes (the type strings of
///         `sealgrid_types`, checked by the shared vectors in contracts/test/vectors/eip712.json),
///         the quality codes, and the packed storage word of a stored reading.
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

    /// @notice A real-time (imbalance) price as the market's oracle signs it (EIP-712), in
    ///         payment-token base units per kWh, like clearing prices.
    struct RealTimePrice {
        bytes32 market;
        uint64 interval;
        int64 price;
        uint32 revision;
    }

    /// @notice An ECDSA signature in EIP-2098 compact form (r, yParity << 255 | s).
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @dev keccak256("MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)")
    bytes32 internal constant METER_READING_TYPEHASH = keccak256(
        "MeterReading(bytes32 meterId,uint64 interval,uint64 importWh,uint64 exportWh,uint8 quality,uint32 revision)"
    );

    /// @dev keccak256("RealTimePrice(bytes32 market,uint64 interval,int64 price,uint32 revision)")
    bytes32 internal constant REAL_TIME_PRICE_TYPEHASH =
        keccak256("RealTimePrice(bytes32 market,uint64 interval,int64 price,uint32 revision)");

    /// @dev Quality codes (`sealgrid_types::MeterQuality`).
    uint8 internal constant ACTUAL = 0;
    uint8 internal constant ESTIMATED = 1;
    uint8 internal constant SUBSTITUTED = 2;

    /// @dev Stored readings: energy below 2^48 Wh (like order quantities), revisions below 2^24,
    ///      key epochs below 32.
    uint256 internal constant MAX_WH = (1 << 48) - 1;
    uint256 internal constant MAX_REVISION = (1 << 24) - 1;
    uint256 internal constant MAX_EPOCH = 31;

    /// @dev A record's revision may exceed the stored one by at most this much (a first record's
    ///      revision is at most this much), so that a stolen key cannot jump to the maximum and
    ///      lock a record against every later correction.
    uint32 internal constant MAX_REVISION_STEP = 16;

    /// @notice The quality code is not actual, estimated or substituted.
    error ReadingInvalidQuality(uint8 quality);

    /// @notice The EIP-712 struct hash of a reading.
    /// @dev Reverts with {ReadingInvalidQuality} for an unknown quality code.
    /// @param r The reading.
    /// @return h The struct hash.
    function structHash(MeterReading memory r) internal pure returns (bytes32 h) {
        if (r.quality > SUBSTITUTED) revert ReadingInvalidQuality(r.quality);
        return keccak256(
            abi.encode(
                METER_READING_TYPEHASH, r.meterId, r.interval, r.importWh, r.exportWh, r.quality, r.revision
            )
        );
    }

    /// @notice The EIP-712 struct hash of a real-time price.
    /// @param p The price.
    /// @return The struct hash.
    function structHash(RealTimePrice memory p) internal pure returns (bytes32) {
        return keccak256(abi.encode(REAL_TIME_PRICE_TYPEHASH, p.market, p.interval, p.price, p.revision));
    }

    // A stored reading is 128 bits, two per storage slot (intervals 2k and 2k + 1 of a meter share
    // one): bits 0-47 importWh, 48-95 exportWh, 96-119 revision, 120-121 quality, 122-126 the key
    // epoch of the gateway that signed it (MeterRegistry), 127 present.

    /// @dev Packs a reading (fields already range-checked) and its signer's key epoch into its
    ///      128-bit word.
    function pack(MeterReading calldata r, uint8 epoch) internal pure returns (uint256 w) {
        w = uint256(r.importWh) | (uint256(r.exportWh) << 48) | (uint256(r.revision) << 96)
            | (uint256(r.quality) << 120) | (uint256(epoch & MAX_EPOCH) << 122) | (uint256(1) << 127);
    }

    /// @dev Unpacks a 128-bit reading word.
    function unpack(uint256 w)
        internal
        pure
        returns (bool present, uint64 importWh, uint64 exportWh, uint32 revision, uint8 quality, uint8 epoch)
    {
        present = (w >> 127) & 1 == 1;
        importWh = uint64(w & MAX_WH);
        exportWh = uint64((w >> 48) & MAX_WH);
        revision = uint32((w >> 96) & MAX_REVISION);
        quality = uint8((w >> 120) & 3);
        epoch = uint8((w >> 122) & MAX_EPOCH);
    }
}
