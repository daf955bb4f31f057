// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {CollateralVault} from "./base/CollateralVault.sol";
import {AuctionColdLib} from "./libraries/AuctionColdLib.sol";
import {IClearingVerifier} from "./interfaces/IClearingVerifier.sol";
import {IPoseidonT4, IPoseidonT5} from "./interfaces/IPoseidon.sol";
import {ISealgridAuction} from "./interfaces/ISealgridAuction.sol";
import {MarketLib} from "./libraries/MarketLib.sol";
import {OrderLib} from "./libraries/OrderLib.sol";
import {RecordLib} from "./libraries/RecordLib.sol";
import {FillsLib} from "./libraries/FillsLib.sol";
import {IEnergyIntentToken, tokenId} from "./interfaces/IEnergyIntentToken.sol";

/// @title SealgridAuction
/// @notice Sealed-bid uniform-price double auction for 5-minute energy delivery intervals
///         (DESIGN §3.4). Traders commit Poseidon commitments with a lock before the gate; the
///         operator settles each interval with a proof that the published price and fills follow
///         the clearing rule over exactly the committed sequence; traders claim energy intents
///         (ERC-1155) and payment from the interval start. Without a valid settle in time the
///         interval is void and every lock comes back; a censored trader holding the receipt of the
///         interval's operator can void a settled batch, which slashes the operator bond into the
///         market's insurance account.
/// @dev Money model, in each payment token: free balances, commitment locks, operator bonds,
///      insurance accounts, and a ledger of rounding fees and the clearing pool kept in milli-units
///      (1/1000 base unit) so that per-order rounding is exact. For every token:
///      1000 * balanceOf(this) == 1000 * (free + locks + bonds + insurance) + feesMilli + poolMilli, and the
///      pool returns to zero once every fill of every settled interval is claimed, because buy
///      and sell fills are equal (checked here and proven by the circuit).
contract SealgridAuction is ISealgridAuction, CollateralVault, AccessControl, EIP712 {
    using SafeERC20 for IERC20;
    using MarketLib for MarketLib.Market;

    /// @inheritdoc ISealgridAuction
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @inheritdoc ISealgridAuction
    IEnergyIntentToken public immutable intents;

    /// @inheritdoc ISealgridAuction
    IPoseidonT4 public immutable poseidonT4;

    /// @inheritdoc ISealgridAuction
    IPoseidonT5 public immutable poseidonT5;

    struct Ledger {
        int128 poolMilli;
        uint128 feesMilli;
    }

    mapping(bytes32 market => MarketLib.Market) internal _markets;
    mapping(bytes32 market => mapping(uint64 interval => MarketLib.Interval)) internal _intervals;
    /// @dev keccak256(market, interval, trader, k) => keccak256(index, lock, commitment) ({RecordLib});
    ///      {RecordLib.WITHDRAWN} once withdrawn, zero once claimed, refunded or disputed.
    mapping(bytes32 key => bytes32 recordHash) internal _records;
    mapping(bytes32 market => mapping(uint64 interval => mapping(uint256 word => uint256 bits))) internal
        _withdrawn;
    mapping(IERC20 token => Ledger) internal _ledgers;
    uint32 internal _marketCount;
    /// @dev The terms each market's current ones replaced: they govern the gates before its
    ///      `termsFrom` ({MarketLib.termsOf}).
    mapping(bytes32 market => Terms) internal _prevTerms;

    /// @param admin DEFAULT_ADMIN_ROLE holder (a TimelockController in production).
    /// @param pauser PAUSER_ROLE holder (an incident-response key).
    /// @param intents_ The energy-intent token; this contract needs its MINTER_ROLE.
    /// @param poseidonT4_ A deployed poseidon-solidity PoseidonT4 library (the accumulator).
    /// @param poseidonT5_ A deployed poseidon-solidity PoseidonT5 library.
    constructor(
        address admin,
        address pauser,
        IEnergyIntentToken intents_,
        IPoseidonT4 poseidonT4_,
        IPoseidonT5 poseidonT5_
    ) EIP712("sealgrid", "1") {
        if (admin == address(0) || address(intents_) == address(0)) {
            revert AuctionZeroAddress();
        }
        if (address(poseidonT4_).code.length == 0) revert AuctionNoCode(address(poseidonT4_));
        if (address(poseidonT5_).code.length == 0) revert AuctionNoCode(address(poseidonT5_));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (pauser != address(0)) _grantRole(PAUSER_ROLE, pauser);
        intents = intents_;
        poseidonT4 = poseidonT4_;
        poseidonT5 = poseidonT5_;
    }

    // ------------------------------------------------------------------------------------------
    // Administration
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE; `market` is new, nonzero and below the
    ///      field modulus; parameters are consistent (see {MarketLib.checkParams}). Emits {MarketCreated}.
    ///      Runs in the linked {AuctionColdLib} after the role check here.
    function createMarket(bytes32 market, MarketParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint32 seq = ++_marketCount;
        AuctionColdLib.createMarket(_markets[market], market, p, seq);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Token and timing (interval length, gate lead, settle window) are fixed at creation so
    ///      that interval indices and deadlines never move; new terms govern only gates no
    ///      commitment can have reached yet. Requirements: caller has DEFAULT_ADMIN_ROLE; the market
    ///      exists and is not closed; `p.token` and timing equal the current ones; a change of the
    ///      terms waits until the terms replaced last govern no live interval. Emits
    ///      {MarketUpdated}, and {TermsScheduled} for new terms. Runs in the linked
    ///      {AuctionColdLib} after the role check here.
    function updateMarket(bytes32 market, MarketParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AuctionColdLib.updateMarket(_market(market), _prevTerms[market], market, p);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Sets the commit horizon to zero (commit then reverts with {AuctionMarketClosed}) and
    ///      records the latest gate a commitment can have been accepted for over the market's life
    ///      ({MarketLib.reachNow}), after which the bond becomes free.
    ///      Requirements: caller has DEFAULT_ADMIN_ROLE; the market exists and is open.
    ///      Emits {MarketClosed}. Runs in the linked {AuctionColdLib} after the role check here.
    function closeMarket(bytes32 market) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AuctionColdLib.closeMarket(_market(market), market);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: caller has PAUSER_ROLE. Only commit, deposit, depositBond and settle
    ///      carry `whenNotPaused`.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: caller has PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE; the market exists; `account` is nonzero;
    ///      the insurance account holds `amount`. Emits {InsurancePaid} and {InsuranceChanged}.
    ///      Runs in the linked {AuctionColdLib} after the role check here; it credits a free
    ///      balance and never calls a token.
    function payInsurance(bytes32 market, address account, uint128 amount)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        AuctionColdLib.payInsurance(_market(market), _balances, market, account, amount);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE; `amount` whole base units are accrued.
    ///      Emits {FeesWithdrawn}.
    function withdrawFees(IERC20 token, address to, uint256 amount)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
    {
        if (to == address(0)) revert AuctionZeroAddress();
        Ledger storage l = _ledgers[token];
        uint256 available = l.feesMilli / 1000;
        if (amount > available) revert AuctionInsufficientFees(available, amount);
        // amount * 1000 <= feesMilli < 2^128.
        l.feesMilli -= uint128(amount * 1000);
        token.safeTransfer(to, amount);
        emit FeesWithdrawn(token, to, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Funds
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: not paused; the market exists; the token moves exactly `amount`.
    ///      Emits {BondChanged}.
    function depositBond(bytes32 market, uint128 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert AuctionZeroAmount();
        MarketLib.Market storage m = _market(market);
        _pull(m.token, amount);
        m.bond += amount;
        emit BondChanged(market, m.bond);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: caller is the market operator. Emits {BondChanged}.
    function withdrawBond(bytes32 market, address to, uint128 amount) external nonReentrant {
        MarketLib.Market storage m = _market(market);
        if (msg.sender != m.operator) revert AuctionNotOperator(msg.sender);
        if (to == address(0)) revert AuctionZeroAddress();
        if (amount > m.bond) revert AuctionInsufficientBalance(m.bond, amount);
        uint128 remaining = m.bond - amount;
        bool final_ = m.lastGate != 0 && block.timestamp >= uint256(m.lastGate) + m.gateLead;
        if (!final_ && remaining < m.minBond) revert AuctionBondLocked(remaining, m.minBond);
        m.bond = remaining;
        m.token.safeTransfer(to, amount);
        emit BondChanged(market, remaining);
    }

    // ------------------------------------------------------------------------------------------
    // Trading
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ISealgridAuction
    /// @dev The lock comes from the caller's free balance first and the rest is pulled with
    ///      transferFrom. Requirements: not paused; the market is open; `now < gate(interval)` and
    ///      the gate is within the commit horizon; `commitment` is below the field modulus; `lock`
    ///      is at most 2^93 - 1; the interval is not full. The accumulator binds the commitment,
    ///      `msg.sender` and `lock` (the proof checks the opening's trader and that the lock covers
    ///      its payment). Emits {Committed}.
    function commit(bytes32 market, uint64 interval, bytes32 commitment, uint128 lock)
        external
        whenNotPaused
        nonReentrant
        returns (uint32 index)
    {
        MarketLib.Market storage m = _markets[market];
        IERC20 token = m.token;
        if (address(token) == address(0)) revert AuctionUnknownMarket(market);
        if (m.commitHorizon == 0) revert AuctionMarketClosed(market);
        {
            uint256 start = uint256(interval) * m.intervalLength;
            if (start <= m.gateLead) revert AuctionGateClosed(interval, 0);
            uint256 gate = start - m.gateLead;
            if (block.timestamp >= gate) revert AuctionGateClosed(interval, gate);
            if (gate > block.timestamp + m.commitHorizon) revert AuctionBeyondHorizon(interval, gate);
        }
        if (uint256(commitment) >= OrderLib.FIELD_MODULUS) revert AuctionFieldOverflow(uint256(commitment));
        if (lock > OrderLib.MAX_LOCK) revert AuctionLockTooLarge(lock, OrderLib.MAX_LOCK);

        _takeLock(token, lock);

        MarketLib.Interval storage iv = _intervals[market][interval];
        index = iv.count;
        if (index >= m.maxCommitments) revert AuctionIntervalFull(interval, m.maxCommitments);
        // The interval keeps the market's unopened fee from its first commitment on.
        uint16 feeCode = index == 0 ? m.unopenedFee : iv.unopenedFee;
        {
            uint256 fee = MarketLib.decodeFee(feeCode);
            if (lock < fee) revert AuctionLockBelowFee(lock, fee);
        }
        _takeSlot(market, interval, m.maxPerAccount, RecordLib.hash(index, lock, commitment));
        uint224 acc = OrderLib.accumulate(iv.accumulator, commitment, msg.sender, lock, poseidonT4);
        unchecked {
            // One slot; index < maxCommitments < 2^16.
            (iv.accumulator, iv.count, iv.unopenedFee) = (acc, uint16(index + 1), feeCode);
        }
        emit Committed(market, interval, index, msg.sender, commitment, lock, acc);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev The record's slot becomes {RecordLib.WITHDRAWN}: it still counts towards the cap, so
    ///      committing and withdrawing cannot fill an interval for free. Requirements: caller is the
    ///      record's trader; `now < gate(interval)`; the record matches. Emits
    ///      {CommitmentWithdrawn}, and {UnopenedFeePaid} and {InsuranceChanged} if the interval
    ///      has a fee.
    function withdrawCommitment(bytes32 market, uint64 interval, CommitmentRecord calldata r) external {
        MarketLib.Market storage m = _market(market);
        if (msg.sender != r.trader) revert AuctionNotTrader(msg.sender, r.trader);
        uint256 gate = m.gate(interval);
        if (block.timestamp >= gate) revert AuctionGateClosed(interval, gate);
        bytes32 k = RecordLib.find(_records, market, interval, r, m.maxPerAccount);
        if (k == bytes32(0)) revert AuctionRecordMismatch(r.index);
        _records[k] = RecordLib.WITHDRAWN;
        _withdrawn[market][interval][r.index >> 8] |= uint256(1) << (r.index & 0xff);
        uint256 returned = _chargeUnopened(m, _intervals[market][interval], market, interval, r);
        _balances[m.token][r.trader] += returned;
        emit CommitmentWithdrawn(market, interval, r.index, r.trader);
    }

    // ------------------------------------------------------------------------------------------
    // Settlement
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ISealgridAuction
    /// @dev Checks the fill words against the interval's count and withdrawals, that buy fills,
    ///      sell fills and `volume` are equal and the price is within bounds, builds the fills
    ///      Merkle root, and calls the verifier with at most `verifierGasLimit` gas. Operator, price
    ///      bounds, verifier and its gas are the interval's terms ({termsOf}), fixed before its
    ///      first commitment. Requirements: not paused; caller is the interval's operator;
    ///      `gate <= now < deadline`; the interval is open and has commitments; the bond is at
    ///      least `minBond`. Emits {Settled}.
    function settle(
        bytes32 market,
        uint64 interval,
        int64 clearingPrice,
        uint64 volume,
        bytes calldata fills,
        bytes calldata proof
    ) external whenNotPaused nonReentrant {
        Terms memory t = _settleTerms(market, interval);
        MarketLib.Interval storage iv = _intervals[market][interval];
        if (iv.status != Status.Open) revert AuctionNotOpen(interval, iv.status);
        uint32 count = iv.count;
        if (count == 0) revert AuctionNothingToSettle(interval);
        if (fills.length != uint256(count) * 8) revert AuctionBadFillsLength(fills.length, count);
        if (volume == 0 ? clearingPrice != 0 : (clearingPrice < t.priceFloor || clearingPrice > t.priceCap)) {
            revert AuctionPriceOutOfBounds(clearingPrice);
        }

        (bytes32 root, uint32 excluded) = _checkFills(market, interval, count, volume, fills);

        IClearingVerifier.Statement memory s = IClearingVerifier.Statement({
            market: market,
            interval: interval,
            accumulator: iv.accumulator,
            count: count,
            priceFloor: t.priceFloor,
            priceCap: t.priceCap,
            clearingPrice: clearingPrice,
            volume: volume,
            fills: fills
        });
        _verify(t.verifier, t.verifierGasLimit, s, proof);

        iv.status = Status.Settled;
        iv.price = clearingPrice;
        iv.volume = volume;
        iv.fillsRoot = root;
        emit Settled(market, interval, clearingPrice, volume, root, count, excluded);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: the interval is open and `now >= deadline`. Emits {IntervalVoided}.
    function voidInterval(bytes32 market, uint64 interval) external {
        MarketLib.Market storage m = _market(market);
        MarketLib.Interval storage iv = _intervals[market][interval];
        if (iv.status != Status.Open) revert AuctionNotOpen(interval, iv.status);
        if (block.timestamp < m.gate(interval) + m.settleWindow) {
            revert AuctionNotRefundable(interval, iv.status);
        }
        iv.status = Status.Voided;
        emit IntervalVoided(market, interval, VoidReason.MissedDeadline);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Works while paused. Requirements: the interval is settled and `now >= start(interval)`;
    ///      the Merkle proof verifies; the record matches and was not consumed.
    ///      Emits {Claimed}, and {ShortfallCovered} if a payer's lock fell short.
    function claim(bytes32 market, uint64 interval, Claim calldata c) external nonReentrant {
        MarketLib.Market storage m = _market(market);
        MarketLib.Interval storage iv = _finalInterval(m, market, interval);
        SkipReason fault = _claim(m, iv, market, interval, c);
        if (fault == SkipReason.RecordMismatch) revert AuctionRecordMismatch(c.record.index);
        if (fault == SkipReason.InvalidFillProof) revert AuctionInvalidFillProof(c.record.index);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Works while paused. Requirements: the interval is settled and `now >= start(interval)`.
    ///      Each item follows {claim}'s rules; an item that breaks them changes nothing and is
    ///      skipped. Nothing an item holds can fail the batch: a claim makes no external call but
    ///      the intent mint, which runs no receiver callback. Emits {Claimed} (and
    ///      {ShortfallCovered}) per claimed item, {ClaimSkipped} per skipped one.
    function claimBatch(bytes32 market, uint64 interval, Claim[] calldata cs) external nonReentrant {
        MarketLib.Market storage m = _market(market);
        MarketLib.Interval storage iv = _finalInterval(m, market, interval);
        for (uint256 k; k < cs.length; ++k) {
            SkipReason fault = _claim(m, iv, market, interval, cs[k]);
            if (fault != SkipReason.None) emit ClaimSkipped(market, interval, cs[k].record.index, fault);
        }
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: refundable interval; the record matches and was not consumed.
    ///      Emits {Refunded}.
    function refund(bytes32 market, uint64 interval, CommitmentRecord calldata r) external nonReentrant {
        MarketLib.Market storage m = _market(market);
        _checkRefundable(m, interval, _intervals[market][interval].status);
        if (!_refund(m, market, interval, r)) revert AuctionRecordMismatch(r.index);
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Requirements: refundable interval. An item that does not match an outstanding record
    ///      changes nothing and is skipped. Emits {Refunded} per refunded item, {RefundSkipped}
    ///      per skipped one.
    function refundBatch(bytes32 market, uint64 interval, CommitmentRecord[] calldata rs)
        external
        nonReentrant
    {
        MarketLib.Market storage m = _market(market);
        _checkRefundable(m, interval, _intervals[market][interval].status);
        for (uint256 k; k < rs.length; ++k) {
            if (!_refund(m, market, interval, rs[k])) {
                emit RefundSkipped(market, interval, rs[k].index, SkipReason.RecordMismatch);
            }
        }
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Works while paused; anyone may dispute, and the lock goes to the record's trader.
    ///      Requirements: the interval is settled (or already voided by a dispute) and
    ///      `now < start(interval)`; the order is for this market and interval, within the
    ///      interval's price bounds, from the record's trader, and its lock covers it; the record
    ///      matches; the fill word is excluded; the receipt is a 65-byte low-s ECDSA signature of
    ///      the interval's operator ({termsOf}). Emits {Disputed}, {BondChanged},
    ///      {InsuranceChanged}, and {IntervalVoided} on the first successful dispute. Runs in the
    ///      linked {AuctionColdLib} (under this entry's `nonReentrant`); it credits free balances
    ///      and the insurance account only and never calls a token.
    function dispute(bytes32 market, uint64 interval, Dispute calldata d) external nonReentrant {
        AuctionColdLib.dispute(
            _market(market),
            _prevTerms[market],
            _intervals[market][interval],
            _records,
            _balances,
            AuctionColdLib.DisputeKeys({domainSeparator: _domainSeparatorV4(), poseidonT5: poseidonT5}),
            market,
            interval,
            d
        );
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc ISealgridAuction
    function ORDER_TYPEHASH() external pure returns (bytes32) {
        return OrderLib.ORDER_TYPEHASH;
    }

    /// @inheritdoc ISealgridAuction
    function orderDigest(OrderLib.Order calldata order) external view returns (bytes32) {
        return _hashTypedDataV4(OrderLib.structHash(order));
    }

    /// @inheritdoc ISealgridAuction
    function receiptDigest(bytes32 market, uint64 interval, uint32 index, bytes32 commitment)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(OrderLib.receiptHash(market, interval, index, commitment));
    }

    /// @inheritdoc ISealgridAuction
    function orderCommitment(OrderLib.Order calldata order) external view returns (bytes32) {
        return OrderLib.commitment(order, poseidonT5);
    }

    /// @inheritdoc ISealgridAuction
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ISealgridAuction
    /// @dev Read in the linked {AuctionColdLib}.
    function getMarket(bytes32 market)
        external
        view
        returns (MarketParams memory p, uint32 seq, uint64 lastGate, uint128 bond)
    {
        return AuctionColdLib.getMarket(_market(market));
    }

    /// @inheritdoc ISealgridAuction
    function termsOf(bytes32 market, uint64 interval) external view returns (Terms memory) {
        return _market(market).termsOf(_prevTerms[market], interval);
    }

    /// @inheritdoc ISealgridAuction
    function commitLimits(bytes32 market, uint64 interval)
        external
        view
        returns (uint256 maxPerAccount, uint256 unopenedFee)
    {
        MarketLib.Market storage m = _market(market);
        MarketLib.Interval storage iv = _intervals[market][interval];
        uint16 code = iv.count == 0 ? m.unopenedFee : iv.unopenedFee;
        return (m.maxPerAccount, MarketLib.decodeFee(code));
    }

    /// @inheritdoc ISealgridAuction
    function insurance(bytes32 market) external view returns (uint128) {
        return _market(market).insurance;
    }

    /// @inheritdoc ISealgridAuction
    function getInterval(bytes32 market, uint64 interval)
        external
        view
        returns (
            uint256 accumulator,
            uint32 count,
            Status status,
            int64 price,
            uint64 volume,
            bytes32 fillsRoot
        )
    {
        MarketLib.Interval storage iv = _intervals[market][interval];
        return (iv.accumulator, iv.count, iv.status, iv.price, iv.volume, iv.fillsRoot);
    }

    /// @inheritdoc ISealgridAuction
    function intervalTimes(bytes32 market, uint64 interval)
        external
        view
        returns (uint256 gate, uint256 deadline, uint256 start)
    {
        MarketLib.Market storage m = _market(market);
        gate = m.gate(interval);
        return (gate, gate + m.settleWindow, gate + m.gateLead);
    }

    /// @inheritdoc ISealgridAuction
    function isOutstanding(bytes32 market, uint64 interval, CommitmentRecord calldata r)
        external
        view
        returns (bool)
    {
        MarketLib.Market storage m = _markets[market];
        return RecordLib.find(_records, market, interval, r, m.maxPerAccount) != bytes32(0);
    }

    /// @inheritdoc ISealgridAuction
    function isWithdrawn(bytes32 market, uint64 interval, uint32 index) external view returns (bool) {
        return _withdrawn[market][interval][index >> 8] & (uint256(1) << (index & 0xff)) != 0;
    }

    /// @inheritdoc ISealgridAuction
    function ledger(IERC20 token) external view returns (int128 poolMilli, uint128 feesMilli) {
        Ledger storage l = _ledgers[token];
        return (l.poolMilli, l.feesMilli);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    function _market(bytes32 market) internal view returns (MarketLib.Market storage m) {
        m = _markets[market];
        if (address(m.token) == address(0)) revert AuctionUnknownMarket(market);
    }

    function _finalInterval(MarketLib.Market storage m, bytes32 market, uint64 interval)
        internal
        view
        returns (MarketLib.Interval storage iv)
    {
        iv = _intervals[market][interval];
        if (iv.status != Status.Settled) revert AuctionNotSettled(interval, iv.status);
        uint256 start = uint256(interval) * m.intervalLength;
        if (block.timestamp < start) revert AuctionNotFinal(interval, start);
    }

    /// @dev The settle checks on the market: the caller is the interval's operator, the settle
    ///      window is open and the bond is at least `minBond`; returns the interval's terms.
    function _settleTerms(bytes32 market, uint64 interval) internal view returns (Terms memory t) {
        MarketLib.Market storage m = _market(market);
        uint256 gate = m.gate(interval);
        // {MarketLib.termsOf}, with the gate computed once.
        t = gate < m.termsFrom ? _prevTerms[market] : m.terms();
        if (msg.sender != t.operator) revert AuctionNotOperator(msg.sender);
        uint256 deadline = gate + m.settleWindow;
        if (block.timestamp < gate || block.timestamp >= deadline) {
            revert AuctionOutsideSettleWindow(interval, gate, deadline);
        }
        if (m.bond < m.minBond) revert AuctionBondTooLow(m.bond, m.minBond);
    }

    function _checkRefundable(MarketLib.Market storage m, uint64 interval, Status status) internal view {
        if (status == Status.Voided) return;
        if (status == Status.Open && block.timestamp >= m.gate(interval) + m.settleWindow) return;
        revert AuctionNotRefundable(interval, status);
    }

    /// @dev Validates every fill word, checks withdrawals are excluded and fills balance, and
    ///      returns the fills Merkle root and the number of excluded commitments.
    function _checkFills(bytes32 market, uint64 interval, uint32 count, uint64 volume, bytes calldata fills)
        internal
        view
        returns (bytes32 root, uint32 excluded)
    {
        bytes32[] memory nodes = new bytes32[](count);
        (uint256 buys, uint256 sells, uint256 nExcluded, uint256 fault) =
            FillsLib.scan(_withdrawn[market][interval], count, fills, nodes);
        if (fault != 0) {
            uint32 where = uint32(fault >> 64);
            if (fault >> 128 == 1) revert AuctionBadFillWord(where, uint64(fault));
            revert AuctionWithdrawnNotExcluded(where);
        }
        if (buys != volume || sells != volume) revert AuctionFillsDoNotBalance(buys, sells, volume);
        // count < 2^24
        excluded = uint32(nExcluded);
        root = FillsLib.root(nodes);
    }

    function _verify(
        IClearingVerifier verifier,
        uint256 gasLimit,
        IClearingVerifier.Statement memory s,
        bytes calldata proof
    ) internal view {
        // The verifier must receive its full limit (EIP-150 forwards at most 63/64 of what is left),
        // so that a failure is the proof's, not the caller's gas.
        uint256 needed = gasLimit + gasLimit / 63 + 10_000;
        if (gasleft() < needed) revert AuctionInsufficientGas(gasleft(), needed);
        (bool ok, bytes memory ret) = address(verifier).staticcall{gas: gasLimit}(
            abi.encodeCall(IClearingVerifier.verifyClearing, (s, proof))
        );
        if (!ok || ret.length != 32 || abi.decode(ret, (uint256)) != 1) revert AuctionInvalidProof();
    }

    /// @dev Claims `c` and returns {SkipReason.None}, or changes nothing and returns why not (the
    ///      proof is checked before the record is consumed, so a bad proof leaves the record).
    function _claim(
        MarketLib.Market storage m,
        MarketLib.Interval storage iv,
        bytes32 market,
        uint64 interval,
        Claim calldata c
    ) internal returns (SkipReason) {
        CommitmentRecord calldata r = c.record;
        if (!FillsLib.verify(iv.fillsRoot, iv.count, r.index, c.word, c.proof)) {
            return SkipReason.InvalidFillProof;
        }
        if (!RecordLib.take(_records, market, interval, r, m.maxPerAccount)) {
            return SkipReason.RecordMismatch;
        }

        IERC20 token = m.token;
        if (c.word & FillsLib.EXCLUDED_FLAG != 0) {
            // Never opened to the operator (a censored order was disputed before the start).
            uint256 back = _chargeUnopened(m, iv, market, interval, r);
            _balances[token][r.trader] += back;
            emit Claimed(market, interval, r.index, r.trader, 0, 0, back);
            return SkipReason.None;
        }
        uint64 q = c.word & FillsLib.QUANTITY_MASK;
        int64 price = iv.price;
        if (q == 0 || price == 0) {
            // Unfilled, or traded at a zero price: the whole lock returns.
            _balances[token][r.trader] += r.lock;
            if (q != 0) _mintIntent(m, interval, r.trader, c.word, q);
            emit Claimed(market, interval, r.index, r.trader, q, 0, r.lock);
            return SkipReason.None;
        }

        // |q * price| < 2^48 * 2^63 = 2^111.
        uint256 amountMilli = uint256(q) * (price > 0 ? uint256(int256(price)) : uint256(-int256(price)));
        // Buyers pay at a positive price, sellers at a negative one.
        if ((c.word & FillsLib.SELL_FLAG != 0) == (price < 0)) {
            (uint256 paid, uint256 returned) = _collect(m, token, market, interval, r, amountMilli);
            emit Claimed(market, interval, r.index, r.trader, q, -int256(paid), returned);
        } else {
            uint256 received = amountMilli / 1000;
            Ledger storage l = _ledgers[token];
            // amountMilli < 2^111 and amountMilli - received * 1000 < 1000.
            unchecked {
                l.poolMilli -= int128(int256(amountMilli));
                l.feesMilli += uint128(amountMilli - received * 1000);
            }
            _balances[token][r.trader] += received + r.lock;
            emit Claimed(market, interval, r.index, r.trader, q, int256(received), r.lock);
        }
        _mintIntent(m, interval, r.trader, c.word, q);
        return SkipReason.None;
    }

    /// @dev Takes a payer's payment, ceil(amountMilli / 1000), from its lock; a shortfall is taken
    ///      from the operator bond (the operator admitted the order), and what even the bond cannot
    ///      cover stays a visible deficit of the pool. Returns what was paid and the lock returned.
    function _collect(
        MarketLib.Market storage m,
        IERC20 token,
        bytes32 market,
        uint64 interval,
        CommitmentRecord calldata r,
        uint256 amountMilli
    ) internal returns (uint256 paid, uint256 returned) {
        uint256 pay = (amountMilli + 999) / 1000;
        uint256 covered = pay < r.lock ? pay : r.lock;
        returned = r.lock - covered;
        uint256 unpaid = 0;
        if (covered < pay) {
            uint256 short_ = pay - covered;
            uint128 bond = m.bond;
            uint256 fromBond = short_ < bond ? short_ : bond;
            m.bond = bond - uint128(fromBond);
            unpaid = short_ - fromBond;
            emit ShortfallCovered(market, interval, r.index, fromBond, unpaid);
        }
        Ledger storage l = _ledgers[token];
        // pay * 1000 - amountMilli < 1000; unpaid * 1000 <= amountMilli + 999 < 2^112.
        unchecked {
            l.poolMilli += int128(int256(amountMilli) - int256(unpaid * 1000));
            l.feesMilli += uint128(pay * 1000 - amountMilli);
        }
        if (returned != 0) _balances[token][r.trader] += returned;
        paid = pay - unpaid;
    }

    function _revertZeroAmount() internal pure override {
        revert AuctionZeroAmount();
    }

    function _revertZeroAddress() internal pure override {
        revert AuctionZeroAddress();
    }

    function _revertInsufficientBalance(uint256 balance, uint256 amount) internal pure override {
        revert AuctionInsufficientBalance(balance, amount);
    }

    function _revertTransferMismatch(uint256 expected, uint256 received) internal pure override {
        revert AuctionTransferMismatch(expected, received);
    }

    /// @dev Takes `lock` from the caller's free balance first and pulls the rest with transferFrom.
    function _takeLock(IERC20 token, uint128 lock) internal {
        uint256 bal = _balances[token][msg.sender];
        if (bal >= lock) {
            unchecked {
                _balances[token][msg.sender] = bal - lock; // bal >= lock
            }
        } else {
            if (bal != 0) _balances[token][msg.sender] = 0;
            unchecked {
                _pull(token, lock - bal); // lock > bal
            }
        }
    }

    /// @dev Writes `value` to the caller's first empty record slot in the interval, or reverts
    ///      with {AuctionAccountCapReached} if its `cap` slots are taken. Before the gate no slot
    ///      is ever emptied ({RecordLib}), so the first empty one follows the last commitment.
    function _takeSlot(bytes32 market, uint64 interval, uint256 cap, bytes32 value) internal {
        for (uint256 j; j < cap; ++j) {
            bytes32 k = RecordLib.key(market, interval, msg.sender, j);
            if (_records[k] == bytes32(0)) {
                _records[k] = value;
                return;
            }
        }
        revert AuctionAccountCapReached(msg.sender, interval, cap);
    }

    /// @dev Moves the interval's unopened fee from `r`'s lock to the market's insurance account
    ///      and returns the rest of the lock (commit made every lock cover the fee).
    function _chargeUnopened(
        MarketLib.Market storage m,
        MarketLib.Interval storage iv,
        bytes32 market,
        uint64 interval,
        CommitmentRecord calldata r
    ) internal returns (uint256 returned) {
        uint256 fee = MarketLib.decodeFee(iv.unopenedFee);
        if (fee == 0) return r.lock;
        // fee <= lock < 2^93 (checked at commit), and insurance stays below the token's supply.
        uint128 insured = m.insurance + uint128(fee);
        m.insurance = insured;
        emit UnopenedFeePaid(market, interval, r.index, r.trader, fee);
        emit InsuranceChanged(market, insured);
        return r.lock - fee;
    }

    function _mintIntent(MarketLib.Market storage m, uint64 interval, address trader, uint64 word, uint64 q)
        internal
    {
        uint8 kind = word & FillsLib.SELL_FLAG != 0 ? 1 : 0;
        intents.mint(trader, tokenId(m.seq, interval, kind), q);
    }

    /// @dev Refunds `r` and returns true, or changes nothing and returns false if the record does
    ///      not match an outstanding one.
    function _refund(MarketLib.Market storage m, bytes32 market, uint64 interval, CommitmentRecord calldata r)
        internal
        returns (bool)
    {
        if (!RecordLib.take(_records, market, interval, r, m.maxPerAccount)) return false;
        _balances[m.token][r.trader] += r.lock;
        emit Refunded(market, interval, r.index, r.trader, r.lock);
        return true;
    }
}
