// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {IPoseidonT5} from "../interfaces/IPoseidon.sol";
import {ISealgridAuction} from "../interfaces/ISealgridAuction.sol";
import {FillsLib} from "./FillsLib.sol";
import {MarketLib} from "./MarketLib.sol";
import {OrderLib} from "./OrderLib.sol";
import {RecordLib} from "./RecordLib.sol";

/// @title AuctionColdLib
/// @notice The auction's rarely called paths — market administration (create, update, close,
///         insurance payments), the censorship dispute and the market view — as a separately deployed library that
///         {SealgridAuction} links and calls with DELEGATECALL, which keeps the auction well under
///         EIP-170's 24,576 bytes. The hot paths (commit, settle, claim, refund, withdrawals and
///         deposits) stay in the auction, so they pay no DELEGATECALL.
/// @dev Every function here runs on the storage the auction passes in (storage pointers are slot
///      numbers) and reverts with the auction's own errors from {ISealgridAuction}, and the events
///      are logged by the auction, so that callers and the Rust decoders see no difference.
///      Access control stays in the auction: every entry is reached only through an auction
///      function that has already checked its caller (`onlyRole`) or needs none (a dispute is
///      open to anyone with evidence), and `nonReentrant` is applied there.
///
///      Called directly (CALL instead of DELEGATECALL), nothing here can move money or change
///      any state: the state-changing functions carry Solidity's library call protection (they
///      revert unless called with DELEGATECALL), {getMarket} is a view of the library's own, empty
///      storage, and no function in this library ever calls a token — a dispute only credits the
///      auction's internal free balances, which leave the auction only through its `withdraw`.
library AuctionColdLib {
    using MarketLib for MarketLib.Market;

    // ------------------------------------------------------------------------------------------
    // Administration
    // ------------------------------------------------------------------------------------------

    /// @notice Creates market `market` with parameters `p` (see {ISealgridAuction.createMarket}).
    /// @dev Requirements: `market` is nonzero, below the field modulus and new; `p` follows
    ///      {MarketLib.checkParams}. Emits {ISealgridAuction.MarketCreated}.
    /// @param m The market's storage (`_markets[market]` of the auction).
    /// @param market The market id.
    /// @param p The market parameters.
    /// @param seq The market's creation number.
    function createMarket(
        MarketLib.Market storage m,
        bytes32 market,
        ISealgridAuction.MarketParams calldata p,
        uint32 seq
    ) external {
        if (market == bytes32(0)) revert ISealgridAuction.AuctionZeroMarketId();
        if (uint256(market) >= OrderLib.FIELD_MODULUS) {
            revert ISealgridAuction.AuctionFieldOverflow(uint256(market));
        }
        if (address(m.token) != address(0)) revert ISealgridAuction.AuctionMarketExists(market);
        MarketLib.checkParams(p);
        m.setFixed(p, seq);
        m.setMutable(p);
        emit ISealgridAuction.MarketCreated(market, seq, p);
    }

    /// @notice Changes the mutable parameters of an existing market (see
    ///         {ISealgridAuction.updateMarket}).
    /// @dev Horizon, capacity, per-account cap (which may only grow) and minimum bond apply at
    ///      once; the unopened fee applies to intervals that have no commitment yet. A change of the terms saves the
    ///      current ones to `prev` (they keep governing every gate up to {MarketLib.reachNow}, the
    ///      latest gate a commitment can have been accepted for so far) and lets the new ones
    ///      govern from the next second's gate on. Requirements: the market is not closed; token and
    ///      timing of `p` equal the current ones; `p` follows {MarketLib.checkParams}; for a change
    ///      of the terms, the terms replaced last govern no interval that can still settle or be
    ///      disputed (`now >= termsFrom + gateLead`). Emits {ISealgridAuction.MarketUpdated}, and
    ///      {ISealgridAuction.TermsScheduled} for a change of the terms.
    /// @param m The market's storage (an existing market).
    /// @param prev The terms the market's current ones replaced (`_prevTerms[market]` of the auction).
    /// @param market The market id.
    /// @param p The market parameters.
    function updateMarket(
        MarketLib.Market storage m,
        ISealgridAuction.Terms storage prev,
        bytes32 market,
        ISealgridAuction.MarketParams calldata p
    ) external {
        if (m.lastGate != 0) {
            revert ISealgridAuction.AuctionMarketClosed(market);
        }
        if (m.changesFixed(p)) {
            revert ISealgridAuction.AuctionInvalidParams("token and timing are immutable");
        }
        MarketLib.checkParams(p);
        // Records are found by probing up to the cap: a lower one would hide records above it.
        if (p.maxPerAccount < m.maxPerAccount) {
            revert ISealgridAuction.AuctionInvalidParams("max per account cannot decrease");
        }
        uint256 reach = m.reachNow();
        bool newTerms = m.changesTerms(p);
        if (newTerms) {
            uint256 from = m.termsFrom;
            // A gate below `from` is at most from - 1, its interval starts by from - 1 + gateLead,
            // and settle and dispute both end at the start.
            if (from != 0 && block.timestamp < from + m.gateLead) {
                revert ISealgridAuction.AuctionTermsPending(from + m.gateLead);
            }
            m.saveTerms(prev);
            // reach < 2^40: now and the horizon are far below it.
            m.termsFrom = uint40(reach + 1);
        }
        // The horizon may change below: remember how far the current one reached.
        m.reach = uint64(reach);
        m.setMutable(p);
        emit ISealgridAuction.MarketUpdated(market, p);
        if (newTerms) {
            emit ISealgridAuction.TermsScheduled(market, uint64(reach + 1), m.terms());
        }
    }

    /// @notice Closes a market to new commitments (see {ISealgridAuction.closeMarket}).
    /// @dev The last gate is {MarketLib.reachNow}: the latest gate any commitment can have been
    ///      accepted for, with every earlier horizon counted (a horizon shortened before the close
    ///      still covers the commitments it admitted). Requirements: the market is open.
    ///      Emits {ISealgridAuction.MarketClosed}.
    /// @param m The market's storage (an existing market).
    /// @param market The market id.
    function closeMarket(MarketLib.Market storage m, bytes32 market) external {
        if (m.lastGate != 0) revert ISealgridAuction.AuctionMarketClosed(market);
        uint256 lastGate = m.reachNow();
        // lastGate < 2^40: now and the horizon are far below it.
        m.lastGate = uint40(lastGate);
        m.reach = uint64(lastGate);
        m.commitHorizon = 0;
        emit ISealgridAuction.MarketClosed(market, uint64(lastGate));
    }

    /// @notice Pays from the market's insurance account to a free balance (see
    ///         {ISealgridAuction.payInsurance}).
    /// @dev Requirements: `account` is nonzero; the insurance account holds `amount`.
    ///      Emits {ISealgridAuction.InsurancePaid} and {ISealgridAuction.InsuranceChanged}.
    /// @param m The market's storage (an existing market).
    /// @param balances The auction's free balances (token => account => amount).
    /// @param market The market id.
    /// @param account The account compensated.
    /// @param amount The amount in base units.
    function payInsurance(
        MarketLib.Market storage m,
        mapping(IERC20 token => mapping(address account => uint256)) storage balances,
        bytes32 market,
        address account,
        uint128 amount
    ) external {
        if (account == address(0)) revert ISealgridAuction.AuctionZeroAddress();
        if (amount == 0) revert ISealgridAuction.AuctionZeroAmount();
        uint128 available = m.insurance;
        if (amount > available) revert ISealgridAuction.AuctionInsufficientInsurance(available, amount);
        unchecked {
            m.insurance = available - amount; // amount <= available
        }
        balances[m.token][account] += amount;
        emit ISealgridAuction.InsurancePaid(market, account, amount);
        emit ISealgridAuction.InsuranceChanged(market, available - amount);
    }

    // ------------------------------------------------------------------------------------------
    // Dispute
    // ------------------------------------------------------------------------------------------

    /// @notice The auction constants a dispute needs.
    /// @param domainSeparator The auction's EIP-712 domain separator.
    /// @param poseidonT5 The auction's PoseidonT5 hasher.
    struct DisputeKeys {
        bytes32 domainSeparator;
        IPoseidonT5 poseidonT5;
    }

    /// @notice Voids a settled interval for a censored trader, returns its lock and moves the slash
    ///         from the operator bond to the market's insurance account (see
    ///         {ISealgridAuction.dispute}).
    /// @dev The receipt is checked against the interval's own terms ({MarketLib.termsOf}): its
    ///      operator by plain ECDSA recovery (65 bytes, low s; no ERC-1271, so code installed on
    ///      the operator's account, e.g. by EIP-7702, cannot reject it), its price bounds for the
    ///      order, its slash amount. The slash goes to insurance whoever disputes, so disputing
    ///      through a sybil costs the operator the slash like any other dispute.
    ///      Requirements: the interval is settled (or already voided by a dispute) and
    ///      `now < start(interval)`; the order is for this market and interval, within the
    ///      interval's price bounds, and its lock covers it; the record matches; the fill word is
    ///      excluded; the receipt is the interval operator's. Emits {ISealgridAuction.Disputed},
    ///      {ISealgridAuction.BondChanged}, {ISealgridAuction.InsuranceChanged}, and
    ///      {ISealgridAuction.IntervalVoided} on the first successful dispute.
    /// @param m The market's storage (an existing market).
    /// @param prev The terms the market's current ones replaced.
    /// @param iv The interval's storage.
    /// @param records The auction's commitment records.
    /// @param balances The auction's free balances (token => account => amount).
    /// @param keys The auction's EIP-712 domain separator and its PoseidonT5 hasher.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param d The censored trader's evidence.
    function dispute(
        MarketLib.Market storage m,
        ISealgridAuction.Terms storage prev,
        MarketLib.Interval storage iv,
        mapping(bytes32 key => bytes32 recordHash) storage records,
        mapping(IERC20 token => mapping(address account => uint256)) storage balances,
        DisputeKeys calldata keys,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.Dispute calldata d
    ) external {
        if (iv.status == ISealgridAuction.Status.Open) {
            revert ISealgridAuction.AuctionNotSettled(interval, iv.status);
        }
        {
            uint256 start = uint256(interval) * m.intervalLength;
            if (block.timestamp >= start) {
                revert ISealgridAuction.AuctionDisputeWindowClosed(interval, start);
            }
        }
        ISealgridAuction.Terms memory t = m.termsOf(prev, interval);
        bytes32 c = _checkOpening(t, market, interval, d, keys.poseidonT5);
        if (!FillsLib.verify(iv.fillsRoot, iv.count, d.index, FillsLib.EXCLUDED_FLAG, d.proof)) {
            revert ISealgridAuction.AuctionNotExcluded(d.index);
        }
        _checkReceipt(t.operator, keys.domainSeparator, market, interval, d.index, c, d.receipt);
        _takeRecord(m, records, market, interval, d, c);

        if (iv.status == ISealgridAuction.Status.Settled) {
            iv.status = ISealgridAuction.Status.Voided;
            emit ISealgridAuction.IntervalVoided(market, interval, ISealgridAuction.VoidReason.Censorship);
        }
        uint128 slashed = _slash(m, t.slashAmount, market);
        balances[m.token][d.order.trader] += d.lock;
        emit ISealgridAuction.Disputed(market, interval, d.index, d.order.trader, slashed);
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice A market's parameters and state (see {ISealgridAuction.getMarket}).
    /// @param m The market's storage (an existing market).
    /// @return p The parameters.
    /// @return seq The market's creation number.
    /// @return lastGate Zero while open; after close, the latest gate any commitment can have.
    /// @return bond The operator bond.
    function getMarket(MarketLib.Market storage m)
        external
        view
        returns (ISealgridAuction.MarketParams memory p, uint32 seq, uint64 lastGate, uint128 bond)
    {
        p = ISealgridAuction.MarketParams({
            token: m.token,
            verifier: m.verifier,
            operator: m.operator,
            intervalLength: m.intervalLength,
            gateLead: m.gateLead,
            settleWindow: m.settleWindow,
            commitHorizon: m.commitHorizon,
            maxCommitments: m.maxCommitments,
            verifierGasLimit: m.verifierGasLimit,
            priceFloor: m.priceFloor,
            priceCap: m.priceCap,
            minBond: m.minBond,
            slashAmount: m.slashAmount,
            maxPerAccount: m.maxPerAccount,
            unopenedFee: uint128(MarketLib.decodeFee(m.unopenedFee))
        });
        return (p, m.seq, uint64(m.lastGate), m.bond);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Deletes the disputed commitment's record or reverts with
    ///      {ISealgridAuction.AuctionRecordMismatch}.
    function _takeRecord(
        MarketLib.Market storage m,
        mapping(bytes32 key => bytes32 recordHash) storage records,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.Dispute calldata d,
        bytes32 c
    ) private {
        uint256 slots = m.maxPerAccount;
        ISealgridAuction.CommitmentRecord memory r = ISealgridAuction.CommitmentRecord({
            index: d.index, trader: d.order.trader, lock: d.lock, commitment: c
        });
        if (!RecordLib.take(records, market, interval, r, slots)) {
            revert ISealgridAuction.AuctionRecordMismatch(d.index);
        }
    }

    /// @dev Reverts with {ISealgridAuction.AuctionInvalidReceipt} unless `receipt` is a 65-byte,
    ///      low-s ECDSA signature by `operator` of the EIP-712 receipt (no ERC-1271: the operator's
    ///      account code, if any, plays no part).
    function _checkReceipt(
        address operator,
        bytes32 domainSeparator,
        bytes32 market,
        uint64 interval,
        uint32 index,
        bytes32 c,
        bytes calldata receipt
    ) private pure {
        bytes32 digest = MessageHashUtils.toTypedDataHash(
            domainSeparator, OrderLib.receiptHash(market, interval, index, c)
        );
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, receipt);
        if (err != ECDSA.RecoverError.NoError || signer != operator) {
            revert ISealgridAuction.AuctionInvalidReceipt();
        }
    }

    /// @dev Moves `amount` (at most the bond) from the operator bond to the insurance account and
    ///      returns what moved.
    function _slash(MarketLib.Market storage m, uint128 amount, bytes32 market)
        private
        returns (uint128 slashed)
    {
        uint128 bond = m.bond;
        slashed = amount < bond ? amount : bond;
        unchecked {
            m.bond = bond - slashed; // slashed <= bond
        }
        // insurance + slashed <= every bond ever deposited < 2^128 (a token's supply); checked anyway.
        uint128 insured = m.insurance + slashed;
        m.insurance = insured;
        emit ISealgridAuction.BondChanged(market, bond - slashed);
        emit ISealgridAuction.InsuranceChanged(market, insured);
    }

    /// @dev Checks a revealed opening against the interval's terms and its lock; returns its commitment.
    function _checkOpening(
        ISealgridAuction.Terms memory t,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.Dispute calldata d,
        IPoseidonT5 poseidonT5
    ) private view returns (bytes32) {
        OrderLib.Order calldata o = d.order;
        if (o.market != market || o.interval != interval) revert ISealgridAuction.AuctionOrderMismatch();
        if (
            o.side > OrderLib.SELL || o.quantityWh == 0 || o.quantityWh > OrderLib.MAX_QUANTITY_WH
                || o.limitPrice < t.priceFloor || o.limitPrice > t.priceCap
        ) revert ISealgridAuction.AuctionInvalidOrder();
        uint256 required = OrderLib.requiredLock(o.side, o.quantityWh, o.limitPrice);
        if (d.lock < required) revert ISealgridAuction.AuctionLockInsufficient(d.lock, required);
        return OrderLib.commitment(o, poseidonT5);
    }
}
