// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

import {IClearingVerifier} from "./IClearingVerifier.sol";
import {ICollateralVault} from "./ICollateralVault.sol";
import {IEnergyIntentToken} from "./IEnergyIntentToken.sol";
import {IPoseidonT4, IPoseidonT5} from "./IPoseidon.sol";
import {OrderLib} from "../libraries/OrderLib.sol";

/// @title ISealgridAuction
/// @notice Sealed-bid uniform-price double auction for 5-minute energy delivery intervals
///         (DESIGN §3.4): its types, events, errors and every external function. Traders commit
///         Poseidon commitments with a lock (from their {ICollateralVault} free balance) before the
///         gate; the operator settles each interval with a proof that the published price and fills
///         follow the clearing rule over exactly the committed sequence; traders claim energy
///         intents (ERC-1155) and payment from the interval start. Without a valid settle in time
///         the interval is void and every lock comes back; a censored trader holding the receipt of
///         the interval's operator can void a settled batch, which slashes the operator bond into
///         the market's insurance account.
interface ISealgridAuction is ICollateralVault, IAccessControl, IERC5267 {
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

    /// @notice Why {claimBatch} or {refundBatch} skipped an item.
    enum SkipReason {
        None, // not skipped (never emitted)
        RecordMismatch, // consumed already (claimed, refunded, disputed), never committed, or a field differs
        InvalidFillProof // the fill word's Merkle proof does not verify
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
    /// @param slashAmount Bond moved to the market's insurance account by each proven exclusion.
    /// @param maxPerAccount Commitments one account may make per interval (1 to 32; never lowered).
    /// @param unopenedFee Taken from the lock of a commitment that is withdrawn or settled as
    ///        excluded (never opened to the operator) into the insurance account; every lock must
    ///        cover it. Of the form m * 10^e with m < 2048; an interval keeps the fee in force at
    ///        its first commitment.
    /// @dev operator, verifier, verifierGasLimit, priceFloor, priceCap and slashAmount are the
    ///      market's {Terms}: a change applies only to intervals no commitment can have reached yet
    ///      (see {updateMarket}).
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
        uint8 maxPerAccount;
        uint128 unopenedFee;
    }

    /// @notice What an interval's batch is cleared and disputed under, fixed for the interval before
    ///         its first commitment can land (docs/operations.md, "Market terms").
    /// @param operator Settles the interval and signs its receipts (checked by plain ECDSA
    ///        recovery, so neither a later rotation nor code on the operator's account can disown
    ///        a receipt).
    /// @param verifierGasLimit Gas forwarded to the verifier.
    /// @param verifier The clearing-proof verifier.
    /// @param priceFloor Lowest limit and clearing price.
    /// @param priceCap Highest limit and clearing price.
    /// @param slashAmount Bond moved to the insurance account by each proven exclusion.
    struct Terms {
        address operator;
        uint32 verifierGasLimit;
        IClearingVerifier verifier;
        int64 priceFloor;
        int64 priceCap;
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
    /// @param receipt The 65-byte ECDSA signature (r, s, v; low s) of the interval's operator over
    ///        the EIP-712 receipt for (market, interval, index, commitment).
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
    /// @notice Emitted when an update changes the market's terms: `terms` govern every interval
    ///         whose gate is at least `fromGate`; earlier intervals keep the terms they had.
    event TermsScheduled(bytes32 indexed market, uint64 fromGate, Terms terms);
    /// @notice Emitted when the admin closes a market to new commitments.
    /// @param lastGate The latest gate closure any existing commitment can have.
    event MarketClosed(bytes32 indexed market, uint64 lastGate);
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
    /// @notice Emitted when the unopened fee is taken from the lock of a commitment that was
    ///         withdrawn or settled as excluded.
    event UnopenedFeePaid(
        bytes32 indexed market, uint64 indexed interval, uint32 index, address indexed trader, uint256 fee
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
    /// @notice Emitted when a censored trader proves its exclusion; `slashed` moved from the operator
    ///         bond to the market's insurance account, and the trader's lock returned.
    event Disputed(
        bytes32 indexed market, uint64 indexed interval, uint32 index, address indexed trader, uint256 slashed
    );
    /// @notice Emitted when a payer's lock did not cover its payment and the bond paid the shortfall.
    event ShortfallCovered(
        bytes32 indexed market, uint64 indexed interval, uint32 index, uint256 fromBond, uint256 unpaid
    );
    /// @notice Emitted when the operator bond changes through deposit, withdrawal or a slash.
    event BondChanged(bytes32 indexed market, uint256 bond);
    /// @notice Emitted when a market's insurance account changes (a slash in, a payment out).
    event InsuranceChanged(bytes32 indexed market, uint256 insurance);
    /// @notice Emitted when governance pays `amount` from a market's insurance account to
    ///         `account`'s free balance.
    event InsurancePaid(bytes32 indexed market, address indexed account, uint256 amount);
    /// @notice Emitted for every item {claimBatch} skipped; the rest of the batch went through.
    event ClaimSkipped(bytes32 indexed market, uint64 indexed interval, uint32 index, SkipReason reason);
    /// @notice Emitted for every item {refundBatch} skipped; the rest of the batch went through.
    event RefundSkipped(bytes32 indexed market, uint64 indexed interval, uint32 index, SkipReason reason);
    /// @notice Emitted when the fee manager withdraws rounding fees.
    event FeesWithdrawn(IERC20 indexed token, address to, uint256 amount);

    /// @notice The market does not exist.
    error AuctionUnknownMarket(bytes32 market);
    /// @notice Market id 0 is reserved (it reads as "no market" everywhere off-chain).
    error AuctionZeroMarketId();
    /// @notice The market's previous terms still govern intervals that can settle or be disputed
    ///         until `until`; the terms can change again from then on.
    error AuctionTermsPending(uint256 until);
    /// @notice The market's insurance account holds less than the amount.
    error AuctionInsufficientInsurance(uint256 available, uint256 amount);
    /// @notice A market with this id exists already.
    error AuctionMarketExists(bytes32 market);
    /// @notice Market parameters are inconsistent; `reason` names the rule.
    error AuctionInvalidParams(string reason);
    /// @notice The market no longer accepts commitments.
    error AuctionMarketClosed(bytes32 market);
    /// @notice A value hashed with Poseidon is not below the BN254 scalar field modulus.
    error AuctionFieldOverflow(uint256 value);
    /// @notice A commitment's lock is above the largest the accumulator can bind (2^93 - 1).
    error AuctionLockTooLarge(uint256 lock, uint256 max);
    /// @notice The interval's gate has closed (or the interval starts before the gate lead).
    error AuctionGateClosed(uint64 interval, uint256 gate);
    /// @notice The interval is further ahead than the market's commit horizon.
    error AuctionBeyondHorizon(uint64 interval, uint256 gate);
    /// @notice The interval holds the market's maximum number of commitments.
    error AuctionIntervalFull(uint64 interval, uint256 maxCommitments);
    /// @notice The caller already has the market's `maxPerAccount` commitments in the interval.
    error AuctionAccountCapReached(address trader, uint64 interval, uint256 maxPerAccount);
    /// @notice The lock does not cover the interval's unopened fee.
    error AuctionLockBelowFee(uint256 lock, uint256 fee);
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
    /// @notice The receipt is not a valid ECDSA signature of the interval's operator.
    error AuctionInvalidReceipt();
    /// @notice The bond cannot go below the minimum while the market may still settle.
    error AuctionBondLocked(uint256 remaining, uint256 minBond);
    /// @notice The fee balance is smaller than the amount.
    error AuctionInsufficientFees(uint256 available, uint256 amount);
    /// @notice The address is zero.
    error AuctionZeroAddress();
    /// @notice A contract the auction depends on has no code at `account`.
    error AuctionNoCode(address account);

    /// @notice Role allowed to pause and unpause.
    /// @return The role id, keccak256("PAUSER_ROLE").
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice The energy-intent token minted on claim.
    /// @return The intent token.
    function intents() external view returns (IEnergyIntentToken);

    /// @notice Poseidon with three inputs (the commitment accumulator).
    /// @return The deployed PoseidonT4.
    function poseidonT4() external view returns (IPoseidonT4);

    /// @notice Poseidon with four inputs (order commitments, in disputes).
    /// @return The deployed PoseidonT5.
    function poseidonT5() external view returns (IPoseidonT5);

    // ------------------------------------------------------------------------------------------
    // Administration
    // ------------------------------------------------------------------------------------------

    /// @notice Creates a market.
    /// @param market The market id (a zone or feeder): nonzero and below the BN254 scalar field modulus.
    /// @param p The market parameters.
    function createMarket(bytes32 market, MarketParams calldata p) external;

    /// @notice Changes a market's mutable parameters: verifier, operator, horizon, capacity,
    ///         verifier gas, price bounds, minimum bond and slash amount. Token and timing
    ///         (interval length, gate lead, settle window) are fixed at creation. Horizon, capacity
    ///         and minimum bond apply at once; a change of the {Terms} (operator, verifier, verifier
    ///         gas, price bounds, slash amount) applies only to intervals whose gate lies beyond
    ///         every gate a commitment can have been accepted for so far ({TermsScheduled}), and
    ///         cannot change again while the previous terms still govern an interval that can
    ///         settle or be disputed.
    /// @param market The market id.
    /// @param p The full parameter set with the new mutable values.
    function updateMarket(bytes32 market, MarketParams calldata p) external;

    /// @notice Closes a market to new commitments. Committed intervals still settle, claim and refund.
    ///         The recorded last gate is the latest gate any commitment can have been accepted for
    ///         over the market's life (its horizon as it was at every moment, not the current one).
    /// @param market The market id.
    function closeMarket(bytes32 market) external;

    /// @notice Pauses what takes on new obligations: commit, deposits (free balance and bond) and
    ///         settle. Claim, refund, withdraw, dispute and void never pause, so a pause of any
    ///         length freezes no one's money.
    function pause() external;

    /// @notice Lifts a pause.
    function unpause() external;

    /// @notice Pays `amount` from the market's insurance account (slashed bond) to `account`'s free
    ///         balance: governance compensating traders (docs/operations.md, "Disputes and
    ///         insurance"). Only the admin (the timelock), never the operator.
    /// @param market The market id.
    /// @param account The account compensated.
    /// @param amount The amount in base units.
    function payInsurance(bytes32 market, address account, uint128 amount) external;

    /// @notice Withdraws accrued rounding fees of `token`.
    /// @param token The payment token.
    /// @param to The receiver.
    /// @param amount The amount in base units.
    function withdrawFees(IERC20 token, address to, uint256 amount) external;

    // ------------------------------------------------------------------------------------------
    // Funds
    // ------------------------------------------------------------------------------------------

    /// @notice Adds to a market's operator bond (anyone may top it up).
    /// @param market The market id.
    /// @param amount The amount in base units.
    function depositBond(bytes32 market, uint128 amount) external;

    /// @notice Withdraws operator bond. While the market can still settle, the bond cannot go
    ///         below `minBond`; once a closed market's last possible interval has started, every
    ///         batch is final and the whole bond is free.
    /// @param market The market id.
    /// @param to The receiver.
    /// @param amount The amount in base units.
    function withdrawBond(bytes32 market, address to, uint128 amount) external;

    // ------------------------------------------------------------------------------------------
    // Trading
    // ------------------------------------------------------------------------------------------

    /// @notice Commits a sealed order to interval `interval` of `market`, locking `lock` (from the
    ///         caller's free balance first, the rest pulled with transferFrom).
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param commitment The Poseidon commitment of the order (docs/encoding.md).
    /// @param lock The amount to lock (at least the order's required lock, or it can be excluded;
    ///        at most 2^93 - 1). The accumulator binds it and the caller to the commitment.
    /// @return index The commitment's position in the interval's sequence.
    function commit(bytes32 market, uint64 interval, bytes32 commitment, uint128 lock)
        external
        returns (uint32 index);

    /// @notice Withdraws the caller's commitment before the gate: its lock, less the interval's
    ///         unopened fee (to the insurance account), returns to the free balance at once; the
    ///         commitment stays in the sequence, still counts towards the per-account cap, and must
    ///         be settled as excluded.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param r The commitment record.
    function withdrawCommitment(bytes32 market, uint64 interval, CommitmentRecord calldata r) external;

    // ------------------------------------------------------------------------------------------
    // Settlement
    // ------------------------------------------------------------------------------------------

    /// @notice Settles interval `interval` of `market` with a proven clearing.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param clearingPrice The uniform price p* (0 when `volume` is 0).
    /// @param volume The cleared volume V* in Wh.
    /// @param fills `count` big-endian 8-byte fill words (docs/encoding.md).
    /// @param proof The clearing proof.
    function settle(
        bytes32 market,
        uint64 interval,
        int64 clearingPrice,
        uint64 volume,
        bytes calldata fills,
        bytes calldata proof
    ) external;

    /// @notice Marks an interval that missed its settle deadline as void (refunds work without it).
    /// @param market The market id.
    /// @param interval The delivery interval index.
    function voidInterval(bytes32 market, uint64 interval) external;

    /// @notice Claims one settled commitment: mints its energy intents, moves its payment at the
    ///         clearing price (payer rounded up, payee down, remainder to fees) and returns the
    ///         unused lock to the trader's free balance. Excluded and unfilled commitments get
    ///         their whole lock back. Anyone may claim for anyone; proceeds go to the trader. The
    ///         intents are minted without an ERC-1155 acceptance callback, so no trader (a contract
    ///         without a receiver included) can make its own or another's claim fail.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param c The claim.
    function claim(bytes32 market, uint64 interval, Claim calldata c) external;

    /// @notice Claims many settled commitments of one interval (the operator's batched claim). An
    ///         item that cannot be claimed (consumed already, or a bad fill proof) is skipped with
    ///         {ClaimSkipped}; the rest go through, so no item can fail the batch.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param cs The claims.
    function claimBatch(bytes32 market, uint64 interval, Claim[] calldata cs) external;

    /// @notice Refunds a lock of a voided interval, or of an interval past its settle deadline
    ///         without a settle.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param r The commitment record.
    function refund(bytes32 market, uint64 interval, CommitmentRecord calldata r) external;

    /// @notice Refunds many locks of one refundable interval. An item that does not match an
    ///         outstanding record is skipped with {RefundSkipped}; the rest go through.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param rs The commitment records.
    function refundBatch(bytes32 market, uint64 interval, CommitmentRecord[] calldata rs) external;

    /// @notice Proves that the operator excluded an order it had received: reveals the opening of
    ///         an excluded commitment with the receipt of the interval's operator. Voids the
    ///         interval, returns the lock to the record's trader and moves the interval's
    ///         `slashAmount` (at most the bond) from the operator bond to the market's insurance
    ///         account, whoever disputes: a dispute always costs the operator the slash.
    /// @param market The market id.
    /// @param interval The delivery interval index.
    /// @param d The revealed order, its record's lock and index, its fill proof and the receipt.
    function dispute(bytes32 market, uint64 interval, Dispute calldata d) external;

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice The EIP-712 type hash of {OrderLib.Order}.
    /// @return The type hash.
    function ORDER_TYPEHASH() external pure returns (bytes32);

    /// @notice The EIP-712 digest a wallet signs for `order` under this contract's domain.
    /// @param order The order.
    /// @return The digest.
    function orderDigest(OrderLib.Order calldata order) external view returns (bytes32);

    /// @notice The EIP-712 digest of an operator receipt under this contract's domain.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param index The commitment index.
    /// @param commitment The commitment.
    /// @return The digest.
    function receiptDigest(bytes32 market, uint64 interval, uint32 index, bytes32 commitment)
        external
        view
        returns (bytes32);

    /// @notice The Poseidon commitment of `order` (docs/encoding.md).
    /// @param order The order.
    /// @return The commitment.
    function orderCommitment(OrderLib.Order calldata order) external view returns (bytes32);

    /// @notice The EIP-712 domain separator.
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32);

    /// @notice A market's parameters, creation number, close time and bond.
    /// @param market The market id.
    /// @return p The parameters.
    /// @return seq The market's creation number (used in intent token ids).
    /// @return lastGate 0 while open; after close, the latest gate any commitment can have.
    /// @return bond The operator bond.
    function getMarket(bytes32 market)
        external
        view
        returns (MarketParams memory p, uint32 seq, uint64 lastGate, uint128 bond);

    /// @notice The terms an interval is cleared and disputed under: exact for every interval that
    ///         can still settle or be disputed (earlier ones are final; {TermsScheduled} events
    ///         hold the full history).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @return The interval's terms.
    function termsOf(bytes32 market, uint64 interval) external view returns (Terms memory);

    /// @notice The spam limits commit applies to an interval: the per-account cap and the
    ///         unopened fee every lock must cover (the interval's own once it has a commitment, the
    ///         market's before).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @return maxPerAccount Commitments one account may make in the interval.
    /// @return unopenedFee The fee in token base units.
    function commitLimits(bytes32 market, uint64 interval)
        external
        view
        returns (uint256 maxPerAccount, uint256 unopenedFee);

    /// @notice A market's insurance account: slashed bond and unopened fees, paid out only by
    ///         governance.
    /// @param market The market id.
    /// @return The amount in base units.
    function insurance(bytes32 market) external view returns (uint128);

    /// @notice An interval's state.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @return accumulator The commitment accumulator.
    /// @return count The number of commitments.
    /// @return status Open, Settled or Voided.
    /// @return price The clearing price (when settled).
    /// @return volume The cleared volume (when settled).
    /// @return fillsRoot The fills Merkle root (when settled).
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
        );

    /// @notice Gate closure, settle deadline and start of an interval, in unix seconds.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @return gate Gate closure G(i).
    /// @return deadline Settle deadline G(i) + settleWindow.
    /// @return start Delivery start.
    function intervalTimes(bytes32 market, uint64 interval)
        external
        view
        returns (uint256 gate, uint256 deadline, uint256 start);

    /// @notice True while the commitment record at `index` is outstanding (not claimed, refunded,
    ///         withdrawn or disputed).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param r The commitment record.
    /// @return True if the record matches an outstanding commitment.
    function isOutstanding(bytes32 market, uint64 interval, CommitmentRecord calldata r)
        external
        view
        returns (bool);

    /// @notice True if the commitment at `index` was withdrawn before the gate.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param index The commitment index.
    /// @return True if withdrawn.
    function isWithdrawn(bytes32 market, uint64 interval, uint32 index) external view returns (bool);

    /// @notice The fee and clearing-pool ledger of a token, in milli-units.
    /// @param token The payment token.
    /// @return poolMilli Net clearing payments received minus paid (zero when all fills are claimed).
    /// @return feesMilli Accrued rounding fees.
    function ledger(IERC20 token) external view returns (int128 poolMilli, uint128 feesMilli);
}
