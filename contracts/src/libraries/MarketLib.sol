// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IClearingVerifier} from "../interfaces/IClearingVerifier.sol";
import {ISealgridAuction} from "../interfaces/ISealgridAuction.sol";

/// @title MarketLib
/// @notice A market of the auction and its intervals as stored (a market in five slots, packed by
///         what each operation reads), its parameter rules and its clock (DESIGN §3.1): gate
///         closure G(i) = start(i) - gateLead.
library MarketLib {
    /// @notice A market as stored.
    struct Market {
        // slot 0: everything commit reads
        IERC20 token;
        uint24 intervalLength;
        uint24 gateLead;
        uint24 commitHorizon;
        uint24 maxCommitments;
        // slot 1
        IClearingVerifier verifier;
        uint24 settleWindow;
        uint32 verifierGasLimit;
        uint32 seq;
        // slot 2
        address operator;
        uint64 lastGate; // 0 while open; after close, the latest gate any commitment can have
        // slot 3
        int64 priceFloor;
        int64 priceCap;
        uint128 minBond;
        // slot 4
        uint128 slashAmount;
        uint128 bond;
    }

    /// @notice An interval of a market as stored.
    struct Interval {
        uint256 accumulator; // Poseidon accumulator over the interval's commitments
        uint32 count; // commitments so far
        ISealgridAuction.Status status;
        int64 price; // clearing price once settled
        uint64 volume; // cleared volume (Wh) once settled
        bytes32 fillsRoot; // Merkle root of the fill words once settled
    }

    /// @notice Reverts with {ISealgridAuction.AuctionInvalidParams} naming the first rule `p`
    ///         breaks: nonzero token, verifier, operator, interval length, settle window, commit
    ///         horizon, capacity and minimum bond; settle window + 60 <= gate lead; verifier gas at
    ///         least 50,000; price floor below the cap.
    /// @param p The market parameters.
    function checkParams(ISealgridAuction.MarketParams calldata p) internal pure {
        string memory reason;
        if (address(p.token) == address(0)) reason = "token is zero";
        else if (address(p.verifier) == address(0)) reason = "verifier is zero";
        else if (p.operator == address(0)) reason = "operator is zero";
        else if (p.intervalLength == 0) reason = "interval length is zero";
        else if (p.settleWindow == 0) reason = "settle window is zero";
        else if (uint256(p.settleWindow) + 60 > p.gateLead) reason = "settle window + 60 > gate lead";
        else if (p.commitHorizon == 0) reason = "commit horizon is zero";
        else if (p.maxCommitments == 0) reason = "max commitments is zero";
        else if (p.verifierGasLimit < 50_000) reason = "verifier gas limit < 50000";
        else if (p.priceFloor >= p.priceCap) reason = "price floor >= cap";
        else if (p.minBond == 0) reason = "min bond is zero";
        else return;
        revert ISealgridAuction.AuctionInvalidParams(reason);
    }

    /// @notice Writes the fixed parameters of a new market: token and timing never change, so
    ///         that interval indices and deadlines never move.
    /// @param m The market.
    /// @param p The market parameters.
    /// @param seq The market's creation number.
    function setFixed(Market storage m, ISealgridAuction.MarketParams calldata p, uint32 seq) internal {
        m.token = p.token;
        m.intervalLength = p.intervalLength;
        m.gateLead = p.gateLead;
        m.settleWindow = p.settleWindow;
        m.seq = seq;
    }

    /// @notice Writes the mutable parameters: verifier, operator, horizon, capacity, verifier gas,
    ///         price bounds, minimum bond and slash amount.
    /// @param m The market.
    /// @param p The market parameters.
    function setMutable(Market storage m, ISealgridAuction.MarketParams calldata p) internal {
        m.verifier = p.verifier;
        m.operator = p.operator;
        m.commitHorizon = p.commitHorizon;
        m.maxCommitments = p.maxCommitments;
        m.verifierGasLimit = p.verifierGasLimit;
        m.priceFloor = p.priceFloor;
        m.priceCap = p.priceCap;
        m.minBond = p.minBond;
        m.slashAmount = p.slashAmount;
    }

    /// @notice True if `p` changes the token or the timing of `m`.
    /// @param m The market.
    /// @param p The market parameters.
    /// @return True if token, interval length, gate lead or settle window differ.
    function changesFixed(Market storage m, ISealgridAuction.MarketParams calldata p)
        internal
        view
        returns (bool)
    {
        return address(p.token) != address(m.token) || p.intervalLength != m.intervalLength
            || p.gateLead != m.gateLead || p.settleWindow != m.settleWindow;
    }

    /// @notice Gate closure of `interval`; an interval that starts before its gate lead has gate 0
    ///         (commit then fails, settle and refund use 0 consistently).
    /// @param m The market.
    /// @param interval The interval index.
    /// @return The gate closure in unix seconds.
    function gate(Market storage m, uint64 interval) internal view returns (uint256) {
        uint256 start_ = uint256(interval) * m.intervalLength;
        return start_ > m.gateLead ? start_ - m.gateLead : 0;
    }
}
