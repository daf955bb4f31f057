// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title IClearingVerifier
/// @notice Checks a proof that a batch was cleared exactly by the sealgrid clearing rule
///         (DESIGN §3.5–3.6) over the commitments the auction holds for one market and interval.
/// @dev The auction builds the statement from its own state (market, interval, accumulator,
///      count, price bounds) and the operator's calldata (price, volume, fill words), then calls
///      the verifier with a bounded gas limit through STATICCALL. An implementation returns true
///      only for a valid proof of exactly this statement; it may revert or return false otherwise.
///      The production implementation is generated from the circuit's verifying key (prover/);
///      a verifier that accepts everything exists only under contracts/test/.
interface IClearingVerifier {
    /// @notice The public statement of one cleared batch.
    /// @param market The market id (below the BN254 scalar field modulus).
    /// @param interval The delivery interval index.
    /// @param accumulator The on-chain Poseidon accumulator over the interval's commitments.
    /// @param count The number of commitments in the interval's sequence.
    /// @param priceFloor The market's price floor (token base units per kWh).
    /// @param priceCap The market's price cap (token base units per kWh).
    /// @param clearingPrice The uniform clearing price p* (0 when nothing clears).
    /// @param volume The cleared volume V* in Wh.
    /// @param fills `count` big-endian 8-byte fill words in commitment order (docs/encoding.md).
    struct Statement {
        bytes32 market;
        uint64 interval;
        uint256 accumulator;
        uint32 count;
        int64 priceFloor;
        int64 priceCap;
        int64 clearingPrice;
        uint64 volume;
        bytes fills;
    }

    /// @notice Returns true if `proof` proves `statement`.
    /// @param statement The public statement built by the auction.
    /// @param proof The proof bytes produced by the prover.
    /// @return valid True for a valid proof of exactly this statement.
    function verifyClearing(Statement calldata statement, bytes calldata proof)
        external
        view
        returns (bool valid);
}
