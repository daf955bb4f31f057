// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IClearingVerifier} from "../interfaces/IClearingVerifier.sol";
import {ISealgridAuction} from "../interfaces/ISealgridAuction.sol";
import {OrderLib} from "./OrderLib.sol";

/// @title MarketLib
/// @notice A market of the auction and its intervals as stored (a market in six slots, packed by
///         what each operation reads), its parameter rules, the terms each interval is cleared
///         under, and its clock (DESIGN §3.1): gate closure G(i) = start(i) - gateLead.
/// @dev Terms (DESIGN §3.4, §3.6: operator, verifier, verifier gas, price bounds, slash amount)
///      are fixed per interval without any work in commit: the market's own fields hold the newest
///      terms, which govern every interval with gate >= `termsFrom`; the auction keeps the terms
///      they replaced for the intervals before. An update sets `termsFrom` past every gate a
///      commitment can have been accepted for so far ({reach}), so no interval that has a
///      commitment (or a receipt) ever changes terms, and it is refused while the replaced terms
///      still govern an interval that can settle or be disputed ({ISealgridAuction.AuctionTermsPending}).
library MarketLib {
    /// @notice A market as stored.
    struct Market {
        // slot 0: everything commit reads
        IERC20 token;
        uint24 intervalLength;
        uint24 gateLead;
        uint24 commitHorizon;
        uint16 maxCommitments;
        uint8 maxPerAccount; // commitments one account may make per interval; never lowered
        // slot 1
        IClearingVerifier verifier;
        uint24 settleWindow;
        uint32 verifierGasLimit;
        uint32 seq;
        // slot 2 (uint40 seconds last until the year 36812)
        address operator;
        uint40 lastGate; // 0 while open; after close, the latest gate any commitment can have
        uint40 termsFrom; // the first gate the terms in these fields govern (0: every gate)
        // slot 3
        int64 priceFloor;
        int64 priceCap;
        uint128 minBond;
        // slot 4
        uint128 slashAmount;
        uint128 bond;
        // slot 5: cold paths only
        uint64 reach; // max over past horizon changes of (time of change + horizon before it)
        uint128 insurance; // slashed bond and unopened fees, paid out only by the admin (the timelock)
        uint16 unopenedFee; // {encodeFee}; each interval copies it at its first commitment
    }

    /// @notice An interval of a market as stored.
    struct Interval {
        // slot 0: everything commit reads and writes
        uint224 accumulator; // Poseidon accumulator over the interval's commitments (mod 2^224)
        uint16 count; // commitments so far (maxCommitments < 2^16)
        uint16 unopenedFee; // the market's {encodeFee} when the first commitment landed
        // slot 1
        ISealgridAuction.Status status;
        int64 price; // clearing price once settled
        uint64 volume; // cleared volume (Wh) once settled
        bytes32 fillsRoot; // Merkle root of the fill words once settled
    }

    /// @notice The most commitments a market may allow one account per interval: commit, claim,
    ///         refund, withdraw and dispute find an account's records by probing up to
    ///         `maxPerAccount` slots ({RecordLib}).
    uint256 internal constant MAX_PER_ACCOUNT = 32;

    /// @notice The most commitments an interval can hold (its count is 16 bits).
    uint256 internal constant MAX_COMMITMENTS = type(uint16).max;

    /// @notice Bits of an encoded fee's mantissa; the low 5 bits are its decimal exponent.
    uint256 internal constant FEE_MANTISSA_LIMIT = 1 << 11;

    /// @notice Encodes `fee` as the 16-bit code `mantissa << 5 | exponent` with
    ///         fee = mantissa * 10^exponent, mantissa < 2048, exponent < 32, so that commit reads
    ///         it from a slot it reads anyway (docs/encoding.md, "Unopened fee").
    /// @param fee The fee in token base units.
    /// @return code The code.
    /// @return exact False if `fee` has no such form (more than about three significant digits).
    function encodeFee(uint256 fee) internal pure returns (uint16 code, bool exact) {
        uint256 e;
        while (fee >= FEE_MANTISSA_LIMIT) {
            if (fee % 10 != 0) return (0, false);
            fee /= 10;
            ++e;
        }
        if (e >= 32) return (0, false);
        // fee < 2^11 and e < 2^5.
        return (uint16((fee << 5) | e), true);
    }

    /// @notice Decodes a fee code of {encodeFee}.
    /// @param code The code.
    /// @return fee The fee in token base units (below 2048 * 10^31 < 2^115).
    function decodeFee(uint16 code) internal pure returns (uint256 fee) {
        // (2^11 - 1) * 10^31 < 2^115: neither the power nor the product can overflow.
        assembly ("memory-safe") {
            fee := mul(shr(5, code), exp(10, and(code, 31)))
        }
    }

    /// @notice Reverts with {ISealgridAuction.AuctionInvalidParams} naming the first rule `p`
    ///         breaks: nonzero token, verifier, operator, interval length, settle window, commit
    ///         horizon, capacity and minimum bond; settle window + 60 <= gate lead; verifier gas at
    ///         least 50,000; price floor below the cap; capacity at most 65,535; per-account cap
    ///         from 1 to {MAX_PER_ACCOUNT}; an unopened fee at most the largest lock and of the
    ///         form {encodeFee} stores.
    /// @param p The market parameters.
    function checkParams(ISealgridAuction.MarketParams calldata p) internal pure {
        string memory reason = _paramsReason(p);
        if (bytes(reason).length == 0) reason = _limitsReason(p);
        if (bytes(reason).length != 0) revert ISealgridAuction.AuctionInvalidParams(reason);
    }

    /// @dev The first rule of addresses, timing, capacity and verifier gas that `p` breaks, or "".
    function _paramsReason(ISealgridAuction.MarketParams calldata p)
        private
        pure
        returns (string memory reason)
    {
        if (address(p.token) == address(0)) reason = "token is zero";
        else if (address(p.verifier) == address(0)) reason = "verifier is zero";
        else if (p.operator == address(0)) reason = "operator is zero";
        else if (p.intervalLength == 0) reason = "interval length is zero";
        else if (p.settleWindow == 0) reason = "settle window is zero";
        else if (uint256(p.settleWindow) + 60 > p.gateLead) reason = "settle window + 60 > gate lead";
        else if (p.commitHorizon == 0) reason = "commit horizon is zero";
        else if (p.maxCommitments == 0) reason = "max commitments is zero";
        else if (p.verifierGasLimit < 50_000) reason = "verifier gas limit < 50000";
    }

    /// @dev The first rule of prices, bond, storage limits and spam limits that `p` breaks, or "".
    function _limitsReason(ISealgridAuction.MarketParams calldata p)
        private
        pure
        returns (string memory reason)
    {
        if (p.priceFloor >= p.priceCap) reason = "price floor >= cap";
        else if (p.minBond == 0) reason = "min bond is zero";
        else if (p.maxCommitments > MAX_COMMITMENTS) reason = "max commitments > 65535";
        else if (p.maxPerAccount == 0) reason = "max per account is zero";
        else if (p.maxPerAccount > MAX_PER_ACCOUNT) reason = "max per account > 32";
        else if (p.unopenedFee > OrderLib.MAX_LOCK) reason = "unopened fee > max lock";
        else if (!_feeExact(p.unopenedFee)) reason = "unopened fee is not m * 10^e with m < 2048";
    }

    function _feeExact(uint256 fee) private pure returns (bool exact) {
        (, exact) = encodeFee(fee);
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

    /// @notice Writes the mutable parameters: verifier, operator, horizon, capacity, per-account
    ///         cap, unopened fee, verifier gas, price bounds, minimum bond and slash amount.
    /// @dev `p` passed {checkParams}: the capacity is below 2^16 and the fee encodes exactly.
    /// @param m The market.
    /// @param p The market parameters.
    function setMutable(Market storage m, ISealgridAuction.MarketParams calldata p) internal {
        m.verifier = p.verifier;
        m.operator = p.operator;
        m.commitHorizon = p.commitHorizon;
        // forge-lint: disable-next-line(unsafe-typecast)
        m.maxCommitments = uint16(p.maxCommitments);
        m.maxPerAccount = p.maxPerAccount;
        (m.unopenedFee,) = encodeFee(p.unopenedFee);
        m.verifierGasLimit = p.verifierGasLimit;
        m.priceFloor = p.priceFloor;
        m.priceCap = p.priceCap;
        m.minBond = p.minBond;
        m.slashAmount = p.slashAmount;
    }

    /// @notice True if `p` changes the terms of `m`: operator, verifier, verifier gas, price bounds
    ///         or slash amount.
    /// @param m The market.
    /// @param p The market parameters.
    /// @return True if any of the terms differs.
    function changesTerms(Market storage m, ISealgridAuction.MarketParams calldata p)
        internal
        view
        returns (bool)
    {
        return p.operator != m.operator || address(p.verifier) != address(m.verifier)
            || p.verifierGasLimit != m.verifierGasLimit || p.priceFloor != m.priceFloor
            || p.priceCap != m.priceCap || p.slashAmount != m.slashAmount;
    }

    /// @notice The latest gate any commitment accepted so far can have: commit accepts only
    ///         gates up to now + commitHorizon, and `m.reach` remembers how far earlier horizons
    ///         reached when they changed.
    /// @param m The market.
    /// @return The gate in unix seconds.
    function reachNow(Market storage m) internal view returns (uint256) {
        uint256 r = block.timestamp + m.commitHorizon;
        uint256 before = m.reach;
        return r > before ? r : before;
    }

    /// @notice The terms `interval` is cleared and disputed under: the market's own fields from
    ///         `termsFrom` on, the replaced terms `prev` before.
    /// @param m The market.
    /// @param prev The terms the market's current ones replaced.
    /// @param interval The interval index.
    /// @return t The interval's terms.
    function termsOf(Market storage m, ISealgridAuction.Terms storage prev, uint64 interval)
        internal
        view
        returns (ISealgridAuction.Terms memory t)
    {
        if (gate(m, interval) < m.termsFrom) return prev;
        return terms(m);
    }

    /// @notice The terms in the market's own fields (those of every gate from `termsFrom` on).
    /// @param m The market.
    /// @return t The terms.
    function terms(Market storage m) internal view returns (ISealgridAuction.Terms memory t) {
        t = ISealgridAuction.Terms({
            operator: m.operator,
            verifierGasLimit: m.verifierGasLimit,
            verifier: m.verifier,
            priceFloor: m.priceFloor,
            priceCap: m.priceCap,
            slashAmount: m.slashAmount
        });
    }

    /// @notice Copies the terms in the market's own fields to `prev`.
    /// @param m The market.
    /// @param prev Receives the terms.
    function saveTerms(Market storage m, ISealgridAuction.Terms storage prev) internal {
        prev.operator = m.operator;
        prev.verifierGasLimit = m.verifierGasLimit;
        prev.verifier = m.verifier;
        prev.priceFloor = m.priceFloor;
        prev.priceCap = m.priceCap;
        prev.slashAmount = m.slashAmount;
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
