// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IPoseidonT5} from "../interfaces/IPoseidon.sol";
import {ISealgridAuction} from "../interfaces/ISealgridAuction.sol";
import {FillsLib} from "./FillsLib.sol";
import {MarketLib} from "./MarketLib.sol";
import {OrderLib} from "./OrderLib.sol";
import {RecordLib} from "./RecordLib.sol";

/// @title AuctionColdLib
/// @notice The auction's rarely called paths — market administration (create, update, close),
///         the censorship dispute and the market view — as a separately deployed library that
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
    /// @dev Requirements: `market` is below the field modulus and new; `p` follows
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
    /// @dev Requirements: the market is not closed; token and timing of `p` equal the current ones;
    ///      `p` follows {MarketLib.checkParams}. Emits {ISealgridAuction.MarketUpdated}.
    /// @param m The market's storage (an existing market).
    /// @param market The market id.
    /// @param p The market parameters.
    function updateMarket(
        MarketLib.Market storage m,
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
        m.setMutable(p);
        emit ISealgridAuction.MarketUpdated(market, p);
    }

    /// @notice Closes a market to new commitments (see {ISealgridAuction.closeMarket}).
    /// @dev Requirements: the market is open. Emits {ISealgridAuction.MarketClosed}.
    /// @param m The market's storage (an existing market).
    /// @param market The market id.
    function closeMarket(MarketLib.Market storage m, bytes32 market) external {
        if (m.lastGate != 0) revert ISealgridAuction.AuctionMarketClosed(market);
        uint64 lastGate = uint64(block.timestamp + m.commitHorizon);
        m.lastGate = lastGate;
        m.commitHorizon = 0;
        emit ISealgridAuction.MarketClosed(market, lastGate);
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

    /// @notice Voids a settled interval for a censored trader and pays it its lock and the slash
    ///         from the operator bond (see {ISealgridAuction.dispute}).
    /// @dev Requirements: the interval is settled (or already voided by a dispute) and
    ///      `now < start(interval)`; the order is for this market and interval, in range, from the
    ///      record's trader, and its lock covers it; the record matches; the fill word is excluded;
    ///      the receipt is signed by the market operator (EOA or ERC-1271).
    ///      Emits {ISealgridAuction.Disputed}, {ISealgridAuction.BondChanged}, and
    ///      {ISealgridAuction.IntervalVoided} on the first successful dispute.
    /// @param m The market's storage (an existing market).
    /// @param iv The interval's storage.
    /// @param records The auction's commitment records.
    /// @param balances The auction's free balances (token => account => amount).
    /// @param keys The auction's EIP-712 domain separator and its PoseidonT5 hasher.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param d The censored trader's evidence.
    function dispute(
        MarketLib.Market storage m,
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
        bytes32 c = _checkOpening(m, market, interval, d, keys.poseidonT5);
        if (!FillsLib.verify(iv.fillsRoot, iv.count, d.index, FillsLib.EXCLUDED_FLAG, d.proof)) {
            revert ISealgridAuction.AuctionNotExcluded(d.index);
        }
        bytes32 digest = MessageHashUtils.toTypedDataHash(
            keys.domainSeparator, OrderLib.receiptHash(market, interval, d.index, c)
        );
        if (!SignatureChecker.isValidSignatureNowCalldata(m.operator, digest, d.receipt)) {
            revert ISealgridAuction.AuctionInvalidReceipt();
        }
        address trader = d.order.trader;
        RecordLib.consume(
            records,
            market,
            interval,
            ISealgridAuction.CommitmentRecord({index: d.index, trader: trader, lock: d.lock, commitment: c})
        );

        if (iv.status == ISealgridAuction.Status.Settled) {
            iv.status = ISealgridAuction.Status.Voided;
            emit ISealgridAuction.IntervalVoided(market, interval, ISealgridAuction.VoidReason.Censorship);
        }
        uint128 bond = m.bond;
        uint128 slashed = m.slashAmount < bond ? m.slashAmount : bond;
        m.bond = bond - slashed;
        balances[m.token][trader] += uint256(d.lock) + slashed;
        emit ISealgridAuction.Disputed(market, interval, d.index, trader, slashed);
        emit ISealgridAuction.BondChanged(market, bond - slashed);
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
            slashAmount: m.slashAmount
        });
        return (p, m.seq, m.lastGate, m.bond);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Checks a revealed opening against the market and its lock; returns its commitment.
    function _checkOpening(
        MarketLib.Market storage m,
        bytes32 market,
        uint64 interval,
        ISealgridAuction.Dispute calldata d,
        IPoseidonT5 poseidonT5
    ) private view returns (bytes32) {
        OrderLib.Order calldata o = d.order;
        if (o.market != market || o.interval != interval) revert ISealgridAuction.AuctionOrderMismatch();
        if (
            o.side > OrderLib.SELL || o.quantityWh == 0 || o.quantityWh > OrderLib.MAX_QUANTITY_WH
                || o.limitPrice < m.priceFloor || o.limitPrice > m.priceCap
        ) revert ISealgridAuction.AuctionInvalidOrder();
        uint256 required = OrderLib.requiredLock(o.side, o.quantityWh, o.limitPrice);
        if (d.lock < required) revert ISealgridAuction.AuctionLockInsufficient(d.lock, required);
        return OrderLib.commitment(o, poseidonT5);
    }
}
