// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IClearingVerifier} from "./IClearingVerifier.sol";
import {OrderLib} from "../libraries/OrderLib.sol";

/// @title ISealgridAuction
/// @notice Types, events and errors of the sealed-bid uniform-price auction (DESIGN §3.4).
interface ISealgridAuction {
    /// @notice Lifecycle of one market interval.
    enum Status {
        Open, // accepting commitments before the gate, awaiting a settle after it
        Settled, // a proven clearing landed; disputable until start(i), final afterwards
        Voided // no settle by the deadline, or a proven censorship: every lock is refundable
    }

    /// @notice Why an interval was voided.
    enum VoidReason {
        MissedDeadline,
        Censorship
    }

    /// @notice Market parameters set by the admin (a timelock).
    /// @param token The ERC-20 payment token (standard: no fee on transfer, no rebasing).
    /// @param verifier The clearing-proof verifier.
    /// @param operator The account that settles batches, signs receipts and posts the bond.
    /// @param intervalLength Delivery interval length L in seconds.
    /// @param gateLead Seconds between gate closure and interval start.
    /// @param settleWindow Seconds after gate closure within which a settle must land; at most gateLead - 60.
    /// @param commitHorizon How far ahead of its gate closure an interval accepts commitments, in seconds.
    /// @param maxCommitments Largest number of commitments per interval (the prover's largest capacity).
    /// @param verifierGasLimit Gas forwarded to the verifier.
    /// @param priceFloor Lowest limit price (token base units per kWh); may be negative.
    /// @param priceCap Highest limit price.
    /// @param minBond Operator bond required to settle.
    /// @param slashAmount Bond paid to each censored trader who proves exclusion.
    struct MarketParams {
        IERC20 token;
        IClearingVerifier verifier;
        address operator;
        uint24 intervalLength;
        uint24 gateLead;
        uint24 settleWindow;
        uint24 commitHorizon;
        uint24 maxCommitments;
        uint32 verifierGasLimit;
        int64 priceFloor;
        int64 priceCap;
        uint128 minBond;
        uint128 slashAmount;
    }

    /// @notice The record of one commitment, given back to claim, refund, withdraw or dispute it.
    /// @param index Position in the interval's commitment sequence.
    /// @param trader The committing account.
    /// @param lock The amount locked in the payment token.
    /// @param commitment The Poseidon commitment of the sealed order.
    struct CommitmentRecord {
        uint32 index;
        address trader;
        uint128 lock;
        bytes32 commitment;
    }

    /// @notice A claim of one settled commitment.
    /// @param record The commitment record.
    /// @param word The commitment's fill word.
    /// @param proof Merkle siblings of the fill word's leaf under the interval's fills root.
    struct Claim {
        CommitmentRecord record;
        uint64 word;
        bytes32[] proof;
    }

    /// @notice A censored trader's evidence.
    /// @param index The commitment index.
    /// @param order The revealed order (its trader is the record's trader).
    /// @param lock The record's lock.
    /// @param proof Merkle siblings of the commitment's fill word (the excluded flag alone).
    /// @param receipt The operator's EIP-712 receipt signature for (market, interval, index, commitment).
    struct Dispute {
        uint32 index;
        OrderLib.Order order;
        uint128 lock;
        bytes32[] proof;
        bytes receipt;
    }

    /// @notice Emitted when the admin creates a market.
    event MarketCreated(bytes32 indexed market, uint32 seq, MarketParams params);
    /// @notice Emitted when the admin changes a market's mutable parameters.
    event MarketUpdated(bytes32 indexed market, MarketParams params);
    /// @notice Emitted when the admin closes a market to new commitments.
    /// @param lastGate The latest gate closure any existing commitment can have.
    event MarketClosed(bytes32 indexed market, uint64 lastGate);
    /// @notice Emitted when tokens enter a trader's free balance from outside.
    event Deposited(IERC20 indexed token, address indexed account, uint256 amount);
    /// @notice Emitted when a trader withdraws from its free balance.
    event Withdrawn(IERC20 indexed token, address indexed account, address to, uint256 amount);
    /// @notice Emitted for every commitment, with everything the matcher needs to check an opening.
    event Committed(
        bytes32 indexed market,
        uint64 indexed interval,
        uint32 index,
        address indexed trader,
        bytes32 commitment,
        uint128 lock,
        uint256 accumulator
    );
    /// @notice Emitted when a trader withdraws a commitment before the gate.
    event CommitmentWithdrawn(
        bytes32 indexed market, uint64 indexed interval, uint32 index, address indexed trader
    );
    /// @notice Emitted when a proven clearing is accepted.
    event Settled(
        bytes32 indexed market,
        uint64 indexed interval,
        int64 clearingPrice,
        uint64 volume,
        bytes32 fillsRoot,
        uint32 count,
        uint32 excluded
    );
    /// @notice Emitted when an interval is voided.
    event IntervalVoided(bytes32 indexed market, uint64 indexed interval, VoidReason reason);
    /// @notice Emitted for every claimed commitment. `amount` is positive when the trader was paid,
    ///         negative when it paid.
    event Claimed(
        bytes32 indexed market,
        uint64 indexed interval,
        uint32 index,
        address indexed trader,
        uint64 fillWh,
        int256 amount,
        uint256 returned
    );
    /// @notice Emitted when a lock is refunded from a voided interval.
    event Refunded(
        bytes32 indexed market, uint64 indexed interval, uint32 index, address indexed trader, uint256 lock
    );
    /// @notice Emitted when a censored trader proves its exclusion.
    event Disputed(
        bytes32 indexed market, uint64 indexed interval, uint32 index, address indexed trader, uint256 slashed
    );
    /// @notice Emitted when a payer's lock did not cover its payment and the bond paid the shortfall.
    event ShortfallCovered(
        bytes32 indexed market, uint64 indexed interval, uint32 index, uint256 fromBond, uint256 unpaid
    );
    /// @notice Emitted when the operator bond changes through deposit or withdrawal.
    event BondChanged(bytes32 indexed market, uint256 bond);
    /// @notice Emitted when the fee manager withdraws rounding fees.
    event FeesWithdrawn(IERC20 indexed token, address to, uint256 amount);

    /// @notice The market does not exist.
    error AuctionUnknownMarket(bytes32 market);
    /// @notice A market with this id exists already.
    error AuctionMarketExists(bytes32 market);
    /// @notice Market parameters are inconsistent; `reason` names the rule.
    error AuctionInvalidParams(string reason);
    /// @notice The market no longer accepts commitments.
    error AuctionMarketClosed(bytes32 market);
    /// @notice A value hashed with Poseidon is not below the BN254 scalar field modulus.
    error AuctionFieldOverflow(uint256 value);
    /// @notice The interval's gate has closed (or the interval starts before the gate lead).
    error AuctionGateClosed(uint64 interval, uint256 gate);
    /// @notice The interval is further ahead than the market's commit horizon.
    error AuctionBeyondHorizon(uint64 interval, uint256 gate);
    /// @notice The interval holds the market's maximum number of commitments.
    error AuctionIntervalFull(uint64 interval, uint256 maxCommitments);
    /// @notice The token moved a different amount than requested (fee-on-transfer tokens are unsupported).
    error AuctionTransferMismatch(uint256 expected, uint256 received);
    /// @notice The free balance is smaller than the amount.
    error AuctionInsufficientBalance(uint256 balance, uint256 amount);
    /// @notice The amount is zero.
    error AuctionZeroAmount();
    /// @notice The commitment record does not match what was committed, or was already consumed.
    error AuctionRecordMismatch(uint32 index);
    /// @notice Only the commitment's trader may do this.
    error AuctionNotTrader(address caller, address trader);
    /// @notice Only the market's operator may do this.
    error AuctionNotOperator(address caller);
    /// @notice The call is outside the settle window [gate, gate + settleWindow).
    error AuctionOutsideSettleWindow(uint64 interval, uint256 gate, uint256 deadline);
    /// @notice The interval is not open (already settled or voided).
    error AuctionNotOpen(uint64 interval, Status status);
    /// @notice The interval has no commitments.
    error AuctionNothingToSettle(uint64 interval);
    /// @notice The operator bond is below the market's minimum.
    error AuctionBondTooLow(uint256 bond, uint256 minBond);
    /// @notice The fills calldata is not `count` 8-byte words.
    error AuctionBadFillsLength(uint256 length, uint256 count);
    /// @notice A fill word is malformed (reserved bits, flags on a zero fill, or fill above the maximum).
    error AuctionBadFillWord(uint32 index, uint64 word);
    /// @notice A withdrawn commitment is not marked excluded.
    error AuctionWithdrawnNotExcluded(uint32 index);
    /// @notice Buy fills, sell fills and volume are not all equal.
    error AuctionFillsDoNotBalance(uint256 buys, uint256 sells, uint64 volume);
    /// @notice The clearing price is outside the market's bounds, or nonzero with zero volume.
    error AuctionPriceOutOfBounds(int64 price);
    /// @notice Not enough gas left to give the verifier its full gas limit.
    error AuctionInsufficientGas(uint256 left, uint256 needed);
    /// @notice The verifier rejected the proof.
    error AuctionInvalidProof();
    /// @notice The interval is not settled.
    error AuctionNotSettled(uint64 interval, Status status);
    /// @notice The interval has not started: the settled batch is not final yet.
    error AuctionNotFinal(uint64 interval, uint256 start);
    /// @notice The fill word's Merkle proof does not verify.
    error AuctionInvalidFillProof(uint32 index);
    /// @notice The interval is neither voided nor past its settle deadline unsettled.
    error AuctionNotRefundable(uint64 interval, Status status);
    /// @notice The dispute window (until the interval's start) has closed.
    error AuctionDisputeWindowClosed(uint64 interval, uint256 start);
    /// @notice The revealed order is for another market or interval, or another trader.
    error AuctionOrderMismatch();
    /// @notice The revealed order's fields are out of range for this market.
    error AuctionInvalidOrder();
    /// @notice The lock does not cover the revealed order: the operator was right to exclude it.
    error AuctionLockInsufficient(uint256 lock, uint256 required);
    /// @notice The commitment was not excluded.
    error AuctionNotExcluded(uint32 index);
    /// @notice The receipt is not signed by the market operator.
    error AuctionInvalidReceipt();
    /// @notice The bond cannot go below the minimum while the market may still settle.
    error AuctionBondLocked(uint256 remaining, uint256 minBond);
    /// @notice The fee balance is smaller than the amount.
    error AuctionInsufficientFees(uint256 available, uint256 amount);
    /// @notice The address is zero.
    error AuctionZeroAddress();
    /// @notice A contract the auction depends on has no code at `account`.
    error AuctionNoCode(address account);
}
