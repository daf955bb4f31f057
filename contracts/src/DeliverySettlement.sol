// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {CollateralVault} from "./base/CollateralVault.sol";
import {ICollateralVault} from "./interfaces/ICollateralVault.sol";
import {IEnergyIntentToken, tokenId} from "./interfaces/IEnergyIntentToken.sol";
import {IMeterIndex} from "./interfaces/IMeterIndex.sol";
import {ISealgridAuction} from "./interfaces/ISealgridAuction.sol";
import {ReadingLib} from "./libraries/ReadingLib.sol";

/// @title IDeliverySettlement
/// @notice The second settlement of DESIGN 3.7: from gateway-signed meter readings and
///         oracle-signed real-time prices to money. The auction position of an account (its
///         energy-intent tokens of the interval) is firm at the clearing price; what the meters
///         show beyond it (the imbalance) is charged or paid at the real-time price against the
///         account's collateral (the {ICollateralVault} free balances), with the market's
///         balancing account as counterparty. Every later revision of a reading or price posts a
///         resettlement: the delta against what was settled, with an event carrying the variance.
///         Collateral that backs an open or resettleable position cannot be withdrawn below its
///         exposure, credits are set against debts first, and an account in debt cannot withdraw.
/// @dev Declared in this file, before {DeliverySettlement}, because it names the structs
///      `DeliverySettlement.MarketConfig` and `DeliverySettlement.Position`, which stay declared in
///      the contract: the committed ABIs name a struct by its declaring contract and the Rust
///      bindings take their type paths from that name (see {IMeterRegistry}).
interface IDeliverySettlement is ICollateralVault, IAccessControl, IERC5267 {
    /// @notice Emitted when a market is configured for delivery settlement.
    /// @param market The market id.
    /// @param token The market's payment token (the collateral).
    /// @param seq The auction's market number (intent token ids).
    /// @param oracle The real-time price signer.
    /// @param balancing The balancing account.
    event MarketConfigured(
        bytes32 indexed market, IERC20 token, uint32 seq, address oracle, address balancing
    );
    /// @notice Emitted when the reading and true-up windows change.
    /// @param readingWindow Seconds after an interval's end until it settles.
    /// @param trueUpWindow Seconds after an interval's end during which resettlements post.
    event WindowsChanged(uint32 readingWindow, uint32 trueUpWindow);
    /// @notice Emitted when a reading is stored (new, or a higher revision).
    /// @param meterId The meter id.
    /// @param interval The interval index.
    /// @param importWh Imported Wh.
    /// @param exportWh Exported Wh.
    /// @param quality The quality code.
    /// @param revision The revision.
    event ReadingStored(
        bytes32 indexed meterId,
        uint64 indexed interval,
        uint64 importWh,
        uint64 exportWh,
        uint8 quality,
        uint32 revision
    );
    /// @notice Emitted when a real-time price is stored (new, or a higher revision).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param price The price (base units per kWh).
    /// @param revision The revision.
    event PriceStored(bytes32 indexed market, uint64 indexed interval, int64 price, uint32 revision);
    /// @notice Emitted when an account's interval is settled.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param account The account.
    /// @param contracted Bought - sold intent Wh.
    /// @param metered Import - export Wh over the account's meters.
    /// @param price The real-time price.
    /// @param amountMilli (metered - contracted) * price: > 0 the account paid, < 0 it was paid.
    /// @param flags The position flags.
    event Settled(
        bytes32 indexed market,
        uint64 indexed interval,
        address indexed account,
        int256 contracted,
        int256 metered,
        int64 price,
        int256 amountMilli,
        uint8 flags
    );
    /// @notice Emitted when a settled interval is resettled; the variance is
    ///         newAmountMilli - oldAmountMilli.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param account The account.
    /// @param oldImbalance The imbalance settled before (Wh).
    /// @param newImbalance The imbalance now (Wh).
    /// @param oldAmountMilli The amount settled before.
    /// @param newAmountMilli The amount now.
    /// @param flags The new position flags.
    event Resettled(
        bytes32 indexed market,
        uint64 indexed interval,
        address indexed account,
        int256 oldImbalance,
        int256 newImbalance,
        int256 oldAmountMilli,
        int256 newAmountMilli,
        uint8 flags
    );
    /// @notice Emitted when a payer could not pay `shortfall` of an imbalance; it is recorded as a debt.
    /// @param market The market id.
    /// @param payer The account that could not pay.
    /// @param payee The account it owes.
    /// @param shortfall The unpaid amount in base units.
    event Shortfall(bytes32 indexed market, address indexed payer, address indexed payee, uint256 shortfall);
    /// @notice Emitted when a debt (to the balancing account) or an amount owed (by it) is paid.
    /// @param market The market id.
    /// @param from The payer.
    /// @param to The payee.
    /// @param amount The amount in base units.
    event DebtPaid(bytes32 indexed market, address indexed from, address indexed to, uint256 amount);
    /// @notice Emitted when the collateral reserved for a position settled on an estimate changes
    ///         (set at settlement, changed by resettlements, freed by {release}).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param account The account.
    /// @param reserve The reserve now (base units).
    event ReserveChanged(
        bytes32 indexed market, uint64 indexed interval, address indexed account, uint256 reserve
    );
    /// @notice Emitted when a market's oracle key is revoked (compromised): its prices are not
    ///         used any more and the next oracle replaces them at any revision.
    /// @param market The market id.
    /// @param oracle The revoked key.
    /// @param epoch Its epoch.
    event OracleRevoked(bytes32 indexed market, address oracle, uint32 epoch);
    /// @notice Emitted when rounding fees are withdrawn.
    /// @param token The payment token.
    /// @param to The receiver.
    /// @param amount The amount in base units.
    event FeesWithdrawn(IERC20 indexed token, address to, uint256 amount);

    /// @notice A zero address where one is required.
    error SettlementZeroAddress();
    /// @notice A zero amount.
    error SettlementZeroAmount();
    /// @notice The market is not configured here.
    error SettlementUnknownMarket(bytes32 market);
    /// @notice The auction market's interval length differs from this contract's.
    error SettlementIntervalLength(uint256 market, uint256 expected);
    /// @notice The reading window must be shorter than the true-up window, and both nonzero.
    error SettlementInvalidWindows(uint32 readingWindow, uint32 trueUpWindow);
    /// @notice Arrays of different lengths.
    error SettlementLengthMismatch(uint256 a, uint256 b);
    /// @notice Not enough balance.
    error SettlementInsufficientBalance(uint256 available, uint256 requested);
    /// @notice The token moved another amount than asked (fee-on-transfer tokens are not supported).
    error SettlementTransferMismatch(uint256 expected, uint256 received);
    /// @notice The interval's readings are not due yet.
    error SettlementNotDue(bytes32 market, uint64 interval, uint256 due);
    /// @notice The interval has no real-time price.
    error SettlementNoPrice(bytes32 market, uint64 interval);
    /// @notice The true-up window of the interval has closed: it is final.
    error SettlementFinal(bytes32 market, uint64 interval, uint256 closed);
    /// @notice A reading or price field is out of range.
    error ReadingOutOfRange(bytes32 meterId, uint64 interval);
    /// @notice A reading or price for an interval that has not ended.
    error ReadingEarly(bytes32 id, uint64 interval, uint256 from);
    /// @notice A reading or price after the interval's true-up window.
    error ReadingLate(bytes32 id, uint64 interval, uint256 closed);
    /// @notice The signer is not the gateway (oracle) authorised for this meter (market) and interval.
    error ReadingUnauthorized(bytes32 id, uint64 interval, address signer);
    /// @notice A lower revision than the stored one.
    error ReadingStaleRevision(bytes32 id, uint64 interval, uint32 stored, uint32 given);
    /// @notice The same revision as the stored one with other content.
    error ReadingConflict(bytes32 id, uint64 interval, uint32 revision);
    /// @notice A revision more than MAX_REVISION_STEP above the stored one (or above 0 for a first
    ///         record).
    error ReadingRevisionJump(bytes32 id, uint64 interval, uint32 stored, uint32 given);
    /// @notice A real-time price outside the market's floor and cap.
    error PriceOutOfBounds(bytes32 market, uint64 interval, int64 price);
    /// @notice The interval's real-time price was signed by a revoked oracle key; it waits for
    ///         the current oracle's replacement.
    error SettlementPriceRevoked(bytes32 market, uint64 interval);
    /// @notice The oracle key was revoked before and can never be installed again.
    error SettlementOracleRevoked(address oracle);
    /// @notice The withdrawal would leave less than the account's exposure needs.
    /// @param free What the free balance would be after the withdrawal.
    /// @param required What its exposure needs (docs/settlement.md, "Exposure").
    error SettlementCollateralLocked(uint256 free, uint256 required);
    /// @notice The account owes money in `market` (for the balancing account: owes accounts).
    error SettlementInDebt(bytes32 market, uint256 debt);
    /// @notice The interval's true-up window is still open.
    error SettlementNotFinal(bytes32 market, uint64 interval, uint256 closes);

    /// @notice Role allowed to pause and unpause.
    /// @return The role id, keccak256("PAUSER_ROLE").
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice Position flag: settled.
    /// @return 1.
    function FLAG_SETTLED() external view returns (uint8);

    /// @notice Position flag: a meter had no reading (or only one from a revoked key) and was
    ///         estimated.
    /// @return 2.
    function FLAG_ESTIMATE() external view returns (uint8);

    /// @notice Position flag: a reading of estimated or substituted quality was used.
    /// @return 4.
    function FLAG_NOT_ACTUAL() external view returns (uint8);

    /// @notice How many intervals before a silent meter's interval its estimate looks at.
    /// @return 12 (one hour of 5-minute intervals).
    function ESTIMATE_LOOKBACK() external view returns (uint64);

    /// @notice How far a record's revision may exceed the stored one (a first record's: 0).
    /// @return 16.
    function MAX_REVISION_STEP() external view returns (uint32);

    /// @notice The meter registry (owners, gateway keys, markets of meters).
    /// @return The registry.
    function registry() external view returns (IMeterIndex);

    /// @notice The auction's energy-intent token (positions); this contract needs its MARKET_ROLE.
    /// @return The intent token.
    function intents() external view returns (IEnergyIntentToken);

    /// @notice The auction whose markets settle here.
    /// @return The auction.
    function auction() external view returns (ISealgridAuction);

    /// @notice Interval length in seconds (every market settled here uses it).
    /// @return The interval length.
    function intervalLength() external view returns (uint256);

    /// @notice Seconds after an interval's end until its readings are due (then it settles).
    /// @return The reading window.
    function readingWindow() external view returns (uint32);

    /// @notice Seconds after an interval's end during which revisions post resettlements.
    /// @return The true-up window.
    function trueUpWindow() external view returns (uint32);

    /// @notice Configures (or reconfigures) a market of the auction for delivery settlement, with
    ///         the auction's price floor and cap as the bounds of its real-time prices. A new
    ///         oracle starts a new oracle epoch (prices of earlier, unrevoked epochs stay valid).
    /// @param market The market id.
    /// @param oracle The real-time price signer.
    /// @param balancing The balancing account (counterparty of imbalances).
    function configureMarket(bytes32 market, address oracle, address balancing) external;

    /// @notice Revokes the market's oracle key after a compromise: the prices it signed are not
    ///         used by settlement and the next oracle (installed with {configureMarket}) replaces
    ///         them at any revision; the key can never be installed again.
    /// @param market The market id.
    function revokeOracle(bytes32 market) external;

    /// @notice Sets the reading and true-up windows.
    /// @param readingWindow_ Seconds after an interval's end until it settles.
    /// @param trueUpWindow_ Seconds after an interval's end during which resettlements post.
    function setWindows(uint32 readingWindow_, uint32 trueUpWindow_) external;

    /// @notice Pauses submissions, deposits and settlement (withdrawals stay open).
    function pause() external;

    /// @notice Unpauses.
    function unpause() external;

    /// @notice Withdraws accrued rounding fees.
    /// @param token The payment token.
    /// @param to The receiver.
    /// @param amount The amount in base units.
    function withdrawFees(IERC20 token, address to, uint256 amount) external;

    /// @notice Pays `account`'s debt to the market's balancing account from its balance, as far
    ///         as the balance goes. Anyone may call it.
    /// @param market The market id.
    /// @param account The debtor.
    /// @return paid The amount paid.
    function repay(bytes32 market, address account) external returns (uint256 paid);

    /// @notice Pays what the market's balancing account owes `account`, as far as its balance
    ///         goes. Anyone may call it.
    /// @param market The market id.
    /// @param account The creditor.
    /// @return paid The amount paid.
    function collectOwed(bytes32 market, address account) external returns (uint256 paid);

    /// @notice Frees the collateral reserved for positions of `accounts` settled on an estimate,
    ///         once the interval's true-up window has closed. Anyone may call it.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param accounts The accounts.
    /// @return released How many reserves were freed.
    function release(bytes32 market, uint64 interval, address[] calldata accounts)
        external
        returns (uint256 released);

    /// @notice Stores gateway-signed meter readings (a batch, typically from the operator's
    ///         submitter). Duplicates of stored readings are skipped.
    /// @param rs The readings.
    /// @param sigs Their EIP-2098 compact signatures.
    /// @return stored How many readings were stored (the rest were duplicates).
    function submitReadings(ReadingLib.MeterReading[] calldata rs, ReadingLib.Signature[] calldata sigs)
        external
        returns (uint256 stored);

    /// @notice Stores oracle-signed real-time prices, with the same revision rules as readings.
    /// @param ps The prices.
    /// @param sigs Their EIP-2098 compact signatures.
    /// @return stored How many prices were stored (the rest were duplicates).
    function submitPrices(ReadingLib.RealTimePrice[] calldata ps, ReadingLib.Signature[] calldata sigs)
        external
        returns (uint256 stored);

    /// @notice Settles interval `interval` of `market` for `accounts` (anyone may call it once
    ///         the readings are due). Accounts already settled are skipped.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param accounts The accounts to settle.
    /// @return settled How many accounts were settled now.
    function settle(bytes32 market, uint64 interval, address[] calldata accounts)
        external
        returns (uint256 settled);

    /// @notice Recomputes settled accounts of an interval from the current readings, price and
    ///         intents, and posts the difference (a resettlement) where anything changed. Anyone
    ///         may call it while the true-up window is open.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param accounts The accounts to recompute.
    /// @return changed How many accounts were resettled.
    function resettle(bytes32 market, uint64 interval, address[] calldata accounts)
        external
        returns (uint256 changed);

    /// @notice A stored reading.
    /// @param meterId The meter id.
    /// @param interval The interval index.
    /// @return present Whether a reading is stored.
    /// @return importWh Imported Wh.
    /// @return exportWh Exported Wh.
    /// @return quality The quality code.
    /// @return revision The revision.
    /// @return epoch The key epoch of the gateway that signed it (MeterRegistry).
    function reading(bytes32 meterId, uint64 interval)
        external
        view
        returns (bool present, uint64 importWh, uint64 exportWh, uint8 quality, uint32 revision, uint8 epoch);

    /// @notice Verified export of a meter over `count` intervals from `first`: the sum of exportWh
    ///         of readings of actual quality, and how many intervals had no actual reading
    ///         (certificate issuance counts only actual readings).
    /// @param meterId The meter id.
    /// @param first The first interval.
    /// @param count The number of intervals.
    /// @return exportWh Verified export (Wh).
    /// @return missing Intervals without an actual reading.
    function verifiedExport(bytes32 meterId, uint64 first, uint64 count)
        external
        view
        returns (uint256 exportWh, uint256 missing);

    /// @notice A stored real-time price.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @return present Whether a price is stored.
    /// @return value The price (base units per kWh).
    /// @return revision Its revision.
    /// @return epoch The oracle epoch that signed it.
    function price(bytes32 market, uint64 interval)
        external
        view
        returns (bool present, int64 value, uint32 revision, uint32 epoch);

    /// @notice What an account's interval was settled on (all zero if not settled).
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param account The account.
    /// @return The position.
    function position(bytes32 market, uint64 interval, address account)
        external
        view
        returns (DeliverySettlement.Position memory);

    /// @notice A market's settlement configuration (token zero if not configured).
    /// @param market The market id.
    /// @return The configuration.
    function marketConfig(bytes32 market) external view returns (DeliverySettlement.MarketConfig memory);

    /// @notice Accrued rounding fees.
    /// @param token The payment token.
    /// @return The fees in base units.
    function fees(IERC20 token) external view returns (uint256);

    /// @notice What `account` owes the market's balancing account.
    /// @param market The market id.
    /// @param account The account.
    /// @return The debt in base units.
    function debtOf(bytes32 market, address account) external view returns (uint256);

    /// @notice What the market's balancing account owes `account`.
    /// @param market The market id.
    /// @param account The account.
    /// @return The amount in base units.
    function owedTo(bytes32 market, address account) external view returns (uint256);

    /// @notice Whether the oracle key of `epoch` in `market` has been revoked (its prices are
    ///         not used and are replaced at any revision).
    /// @param market The market id.
    /// @param epoch The oracle epoch.
    /// @return True if revoked.
    function oracleEpochRevoked(bytes32 market, uint32 epoch) external view returns (bool);

    /// @notice What `account` must keep in its free balance of `token` (the exposure rule of
    ///         docs/settlement.md): over every market settled in `token`, its open positions at
    ///         the price bounds plus its reserves; `inDebt` when it owes money in one of them
    ///         (then it cannot withdraw at all).
    /// @param token The payment token.
    /// @param account The account.
    /// @return required The amount in base units.
    /// @return inDebt Whether the account has a debt (the balancing account: owes accounts).
    function requiredCollateral(IERC20 token, address account)
        external
        view
        returns (uint256 required, bool inDebt);

    /// @notice The collateral reserved for `account`'s position of an interval settled on an
    ///         estimate.
    /// @param market The market id.
    /// @param interval The interval index.
    /// @param account The account.
    /// @return The reserve in base units.
    function reserveOf(bytes32 market, uint64 interval, address account) external view returns (uint256);

    /// @notice All of `account`'s reserves in `market`.
    /// @param market The market id.
    /// @param account The account.
    /// @return The sum in base units.
    function reserved(bytes32 market, address account) external view returns (uint256);

    /// @notice The EIP-712 digest a gateway signs for `r`.
    /// @param r The reading.
    /// @return The digest.
    function readingDigest(ReadingLib.MeterReading calldata r) external view returns (bytes32);

    /// @notice The EIP-712 digest the oracle signs for `p`.
    /// @param p The price.
    /// @return The digest.
    function priceDigest(ReadingLib.RealTimePrice calldata p) external view returns (bytes32);

    /// @notice The EIP-712 domain separator ("sealgrid", "1", chain id, this contract).
    /// @return The separator.
    function domainSeparator() external view returns (bytes32);
}

/// @title DeliverySettlement
/// @notice The second settlement of DESIGN 3.7: from gateway-signed meter readings and
///         oracle-signed real-time prices to money. The auction position of an account (its
///         energy-intent tokens of the interval) is firm at the clearing price; what the meters
///         show beyond it (the imbalance) is charged or paid at the real-time price against the
///         account's collateral here, with the market's balancing account as counterparty. Every
///         later revision of a reading or price posts a resettlement: the delta against what was
///         settled, with an event carrying the variance.
/// @dev Rules (decided where DESIGN is silent; docs/settlement.md explains them):
///      - Readings. A reading of interval i is accepted from end(i) until end(i) + trueUpWindow,
///        signed by the gateway key the registry authorises for that meter and interval, and is
///        stored with that key's epoch. A lower revision than the stored one reverts; the same
///        revision with the same content is a no-op, with other content it reverts; a higher
///        revision replaces the stored reading, by at most MAX_REVISION_STEP. A stored reading
///        whose key epoch has been revoked is replaced by a valid key's at any revision (within
///        the step). Real-time prices follow the same rules, signed by the market's oracle (with
///        its oracle epoch) and within the market's floor and cap.
///      - Position. contracted = bought - sold intent Wh the account holds for the interval; the
///        intents are burned when they are settled (so they cannot be settled twice, by anyone),
///        and intents claimed later are added by the resettlement. metered = import - export
///        over the meters the account owned in the market at the interval's start (ownership has
///        history). An account without meters in the market (a purely financial trader) has
///        metered = 0: its position closes out at the real-time price.
///      - Estimates. A meter without a valid reading (none, or only a revoked key's) is estimated
///        alone: the worst for its owner, at the interval's price, of its valid readings in the
///        ESTIMATE_LOOKBACK intervals before (most import - export at a price >= 0, least below
///        0), zero when it has none; the position is flagged. Readings that are present always
///        count; estimated or substituted quality is used but flagged too.
///      - Money. amount = (metered - contracted) * price / 1000 (milli-units). The payer pays the
///        amount rounded up, the payee receives it rounded down, and the remainder is a fee, as in
///        the auction. A credit is first set against the account's debt, a charge first against
///        what the balancing account owes it. A payer without enough collateral pays what it
///        has; the rest is a debt to the balancing account (or, when the balancing account is
///        short, owed by it), recorded per market and repaid with {repay} / {collectOwed}. For
///        every token: token.balanceOf(this) == sum of balances + fees (debts are claims).
///      - Exposure. A withdrawal must leave the account's open positions (intents held for the
///        intervals from the claim to one interval after the reading deadline) covered at the
///        market's price bounds, plus its reserves (positions settled on an estimate, until
///        their true-up window closes); an account with a debt (the balancing account: while it
///        owes anyone) cannot withdraw.
contract DeliverySettlement is IDeliverySettlement, CollateralVault, AccessControl, EIP712 {
    using SafeERC20 for IERC20;
    using SafeCast for int256;
    using SafeCast for uint256;

    /// @inheritdoc IDeliverySettlement
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @inheritdoc IDeliverySettlement
    uint8 public constant FLAG_SETTLED = 1;
    /// @inheritdoc IDeliverySettlement
    uint8 public constant FLAG_ESTIMATE = 2;
    /// @inheritdoc IDeliverySettlement
    uint8 public constant FLAG_NOT_ACTUAL = 4;
    /// @inheritdoc IDeliverySettlement
    uint64 public constant ESTIMATE_LOOKBACK = 12;
    /// @inheritdoc IDeliverySettlement
    uint32 public constant MAX_REVISION_STEP = ReadingLib.MAX_REVISION_STEP;

    uint256 internal constant WORD_MASK = (1 << 128) - 1;
    uint256 internal constant PRESENT = 1 << 127;
    uint256 internal constant PRICE_EPOCH_MASK = (1 << 31) - 1;
    uint256 internal constant READING_EPOCH_BITS = ReadingLib.MAX_EPOCH << 122;
    /// @dev A reading word of actual quality, whatever its epoch: word & ACTUAL_MASK == PRESENT.
    uint256 internal constant ACTUAL_MASK = PRESENT | (3 << 120);

    /// @inheritdoc IDeliverySettlement
    IMeterIndex public immutable registry;
    /// @inheritdoc IDeliverySettlement
    IEnergyIntentToken public immutable intents;
    /// @inheritdoc IDeliverySettlement
    ISealgridAuction public immutable auction;
    /// @inheritdoc IDeliverySettlement
    uint256 public immutable intervalLength;

    /// @inheritdoc IDeliverySettlement
    uint32 public readingWindow;
    /// @inheritdoc IDeliverySettlement
    uint32 public trueUpWindow;

    // The two structs are declared here, not in {IDeliverySettlement}, so that the committed ABI
    // keeps naming them `DeliverySettlement.MarketConfig` / `.Position` (the Rust bindings' paths).

    /// @notice A market as settled here.
    struct MarketConfig {
        IERC20 token;
        uint32 seq; // the auction's market number (intent token ids)
        uint32 oracleEpoch; // +1 per new oracle key
        address oracle; // signs real-time prices (zero after a revocation until a new one)
        int64 rtFloor; // real-time prices are within [rtFloor, rtCap]: the auction's floor and cap
        address balancing; // the counterparty of every imbalance
        int64 rtCap;
    }

    /// @notice What an account's interval was settled on.
    struct Position {
        int96 contracted; // bought - sold (Wh)
        int96 metered; // import - export (Wh)
        int64 price; // real-time price (base units per kWh)
        int128 amountMilli; // (metered - contracted) * price: > 0 the account paid, < 0 it was paid
        uint32 priceRevision;
        uint8 flags;
    }

    mapping(bytes32 market => MarketConfig) internal _markets;
    /// @dev Two readings per slot: meterId => interval / 2 => the words of intervals 2k, 2k + 1.
    mapping(bytes32 meterId => mapping(uint64 pair => uint256 words)) internal _readings;
    /// @dev uint64(price) | revision << 64 | oracle epoch << 96 | PRESENT.
    mapping(bytes32 market => mapping(uint64 interval => uint256 word)) internal _prices;
    mapping(bytes32 market => mapping(uint64 interval => mapping(address account => Position))) internal
        _positions;
    mapping(IERC20 token => uint256) internal _fees;
    mapping(bytes32 market => mapping(address account => uint256)) internal _debt;
    mapping(bytes32 market => mapping(address account => uint256)) internal _owed;
    /// @dev Sum of _owed[market]: what the balancing account owes (it cannot withdraw meanwhile).
    mapping(bytes32 market => uint256) internal _owedTotal;
    /// @dev Sum of _debt[market] (settlement looks up an account's debt only when it is nonzero).
    mapping(bytes32 market => uint256) internal _debtTotal;
    /// @dev The markets settled in a token (the exposure of a withdrawal covers all of them).
    mapping(IERC20 token => bytes32[]) internal _marketsOf;
    mapping(IERC20 token => mapping(bytes32 market => bool)) internal _listedMarket;
    mapping(bytes32 market => mapping(uint32 epoch => bool)) internal _oracleEpochRevoked;
    mapping(address oracle => bool) internal _oracleRevoked;
    mapping(bytes32 market => mapping(uint64 interval => mapping(address account => uint256))) internal
        _reserve;
    mapping(bytes32 market => mapping(address account => uint256)) internal _reserved;

    /// @param admin DEFAULT_ADMIN_ROLE holder (a TimelockController in production).
    /// @param pauser PAUSER_ROLE holder (may be zero).
    /// @param registry_ The meter registry.
    /// @param auction_ The auction (market parameters).
    /// @param intents_ The auction's energy-intent token; this contract needs its MARKET_ROLE.
    /// @param intervalLength_ Interval length in seconds; markets configured here must use it.
    /// @param readingWindow_ Seconds after an interval's end until it settles.
    /// @param trueUpWindow_ Seconds after an interval's end during which resettlements post.
    constructor(
        address admin,
        address pauser,
        IMeterIndex registry_,
        ISealgridAuction auction_,
        IEnergyIntentToken intents_,
        uint256 intervalLength_,
        uint32 readingWindow_,
        uint32 trueUpWindow_
    ) EIP712("sealgrid", "1") {
        if (
            admin == address(0) || address(registry_) == address(0) || address(auction_) == address(0)
                || address(intents_) == address(0)
        ) revert SettlementZeroAddress();
        if (intervalLength_ == 0 || 3600 % intervalLength_ != 0) {
            revert SettlementIntervalLength(intervalLength_, 300);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (pauser != address(0)) _grantRole(PAUSER_ROLE, pauser);
        registry = registry_;
        auction = auction_;
        intents = intents_;
        intervalLength = intervalLength_;
        _setWindows(readingWindow_, trueUpWindow_);
    }

    // ------------------------------------------------------------------------------------------
    // Administration
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE; the market exists in the auction with this
    ///      contract's interval length; oracle and balancing account are nonzero; the oracle was
    ///      never revoked. Copies the auction's price floor and cap (run it again after the
    ///      auction's `updateMarket` changes them). Emits {MarketConfigured}.
    function configureMarket(bytes32 market, address oracle, address balancing)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (oracle == address(0) || balancing == address(0)) revert SettlementZeroAddress();
        if (_oracleRevoked[oracle]) revert SettlementOracleRevoked(oracle);
        (ISealgridAuction.MarketParams memory p, uint32 seq,,) = auction.getMarket(market);
        if (p.intervalLength != intervalLength) {
            revert SettlementIntervalLength(p.intervalLength, intervalLength);
        }
        MarketConfig storage cfg = _markets[market];
        uint32 epoch = cfg.oracleEpoch;
        if (address(cfg.token) != address(0) && cfg.oracle != oracle) ++epoch;
        if (!_listedMarket[p.token][market]) {
            _listedMarket[p.token][market] = true;
            _marketsOf[p.token].push(market);
        }
        _markets[market] = MarketConfig({
            token: p.token,
            seq: seq,
            oracleEpoch: epoch,
            oracle: oracle,
            rtFloor: p.priceFloor,
            balancing: balancing,
            rtCap: p.priceCap
        });
        emit MarketConfigured(market, p.token, seq, oracle, balancing);
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: caller has PAUSER_ROLE (containment must not wait for the timelock);
    ///      the market is configured and has an oracle. Emits {OracleRevoked}.
    function revokeOracle(bytes32 market) external onlyRole(PAUSER_ROLE) {
        MarketConfig storage cfg = _config(market);
        address oracle = cfg.oracle;
        if (oracle == address(0)) revert SettlementZeroAddress();
        _oracleRevoked[oracle] = true;
        _oracleEpochRevoked[market][cfg.oracleEpoch] = true;
        cfg.oracle = address(0);
        emit OracleRevoked(market, oracle, cfg.oracleEpoch);
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE; 0 < readingWindow < trueUpWindow.
    ///      Emits {WindowsChanged}.
    function setWindows(uint32 readingWindow_, uint32 trueUpWindow_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setWindows(readingWindow_, trueUpWindow_);
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: caller has PAUSER_ROLE.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: caller has PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE; `amount` is accrued. Emits {FeesWithdrawn}.
    function withdrawFees(IERC20 token, address to, uint256 amount)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
    {
        if (to == address(0)) revert SettlementZeroAddress();
        uint256 available = _fees[token];
        if (amount > available) revert SettlementInsufficientBalance(available, amount);
        _fees[token] = available - amount;
        token.safeTransfer(to, amount);
        emit FeesWithdrawn(token, to, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Collateral
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IDeliverySettlement
    /// @dev Emits {DebtPaid} when something was paid.
    function repay(bytes32 market, address account) external nonReentrant returns (uint256 paid) {
        MarketConfig storage cfg = _config(market);
        paid = _settleDebt(_debt[market], cfg.token, market, account, cfg.balancing, account);
        _debtTotal[market] -= paid;
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Emits {DebtPaid} when something was paid.
    function collectOwed(bytes32 market, address account) external nonReentrant returns (uint256 paid) {
        MarketConfig storage cfg = _config(market);
        paid = _settleDebt(_owed[market], cfg.token, market, cfg.balancing, account, account);
        _owedTotal[market] -= paid;
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: the market is configured; the interval's true-up window has closed.
    ///      Emits {ReserveChanged} per reserve freed.
    function release(bytes32 market, uint64 interval, address[] calldata accounts)
        external
        returns (uint256 released)
    {
        _config(market);
        uint256 closes = _end(interval) + trueUpWindow;
        if (block.timestamp <= closes) revert SettlementNotFinal(market, interval, closes);
        for (uint256 k; k < accounts.length; ++k) {
            address a = accounts[k];
            uint256 r = _reserve[market][interval][a];
            if (r == 0) continue;
            _reserve[market][interval][a] = 0;
            _reserved[market][a] -= r;
            emit ReserveChanged(market, interval, a, 0);
            unchecked {
                ++released;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Readings and prices
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: not paused; one signature per reading; each reading's interval has ended
    ///      and its true-up window is open; Wh below 2^48 and revision below 2^24; the signer is
    ///      the registry's gateway key for the meter and interval; the revision is at most
    ///      MAX_REVISION_STEP above the stored one (above 0 for a first reading) and, unless the
    ///      stored reading's key epoch is revoked, not lower than the stored one, and equal only
    ///      with equal content. Any failure reverts the batch.
    ///      Emits a {ReadingStored} event per reading stored.
    function submitReadings(ReadingLib.MeterReading[] calldata rs, ReadingLib.Signature[] calldata sigs)
        external
        whenNotPaused
        returns (uint256 stored)
    {
        if (rs.length != sigs.length) revert SettlementLengthMismatch(rs.length, sigs.length);
        uint256 len = intervalLength;
        uint256 trueUp = trueUpWindow;
        for (uint256 k; k < rs.length; ++k) {
            if (_storeReading(rs[k], sigs[k], len, trueUp)) {
                unchecked {
                    ++stored;
                }
            }
        }
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: not paused; one signature per price; the market is configured; the
    ///      interval has ended and its true-up window is open; the price is within the market's
    ///      floor and cap; the signer is the market's oracle; revisions as for readings (a price of
    ///      a revoked oracle epoch is replaced at any revision within the step).
    ///      Emits a {PriceStored} event per price stored.
    function submitPrices(ReadingLib.RealTimePrice[] calldata ps, ReadingLib.Signature[] calldata sigs)
        external
        whenNotPaused
        returns (uint256 stored)
    {
        if (ps.length != sigs.length) revert SettlementLengthMismatch(ps.length, sigs.length);
        for (uint256 k; k < ps.length; ++k) {
            ReadingLib.RealTimePrice calldata p = ps[k];
            MarketConfig storage cfg = _config(p.market);
            _checkWindow(p.market, p.interval, intervalLength, trueUpWindow);
            if (p.price < cfg.rtFloor || p.price > cfg.rtCap) {
                revert PriceOutOfBounds(p.market, p.interval, p.price);
            }
            address signer = _recover(_hashTypedDataV4(ReadingLib.structHash(p)), sigs[k]);
            if (signer == address(0) || signer != cfg.oracle) {
                revert ReadingUnauthorized(p.market, p.interval, signer);
            }
            uint256 word = uint256(uint64(p.price)) | (uint256(p.revision) << 64)
                | ((uint256(cfg.oracleEpoch) & PRICE_EPOCH_MASK) << 96) | PRESENT;
            uint256 cur = _prices[p.market][p.interval];
            uint32 rev = uint32(cur >> 64);
            if (cur != 0 && !_oracleEpochRevoked[p.market][uint32((cur >> 96) & PRICE_EPOCH_MASK)]) {
                if (p.revision < rev) revert ReadingStaleRevision(p.market, p.interval, rev, p.revision);
                if (p.revision == rev) {
                    // The same price and revision from any valid oracle epoch changes nothing.
                    if ((cur ^ word) & ~(PRICE_EPOCH_MASK << 96) == 0) continue;
                    revert ReadingConflict(p.market, p.interval, rev);
                }
            }
            if (p.revision > uint256(rev) + MAX_REVISION_STEP) {
                revert ReadingRevisionJump(p.market, p.interval, rev, p.revision);
            }
            _prices[p.market][p.interval] = word;
            emit PriceStored(p.market, p.interval, p.price, p.revision);
            unchecked {
                ++stored;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Settlement
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: not paused; the market is configured; the reading deadline has passed;
    ///      the interval has a real-time price. Burns the accounts' intent tokens of the interval.
    ///      Emits a {Settled} event per account settled.
    function settle(bytes32 market, uint64 interval, address[] calldata accounts)
        external
        whenNotPaused
        nonReentrant
        returns (uint256 settled)
    {
        MarketConfig storage cfg = _config(market);
        uint256 due = _end(interval) + readingWindow;
        if (block.timestamp < due) revert SettlementNotDue(market, interval, due);
        (int64 rt, uint32 revision) = _price(market, interval);
        for (uint256 k; k < accounts.length; ++k) {
            if (_settleOne(cfg, market, interval, accounts[k], rt, revision)) {
                unchecked {
                    ++settled;
                }
            }
        }
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: not paused; the market is configured; the true-up window is open; the
    ///      interval has a price. Accounts not settled yet, or unchanged, are skipped.
    ///      Emits a {Resettled} event per account whose settlement changed.
    function resettle(bytes32 market, uint64 interval, address[] calldata accounts)
        external
        whenNotPaused
        nonReentrant
        returns (uint256 changed)
    {
        MarketConfig storage cfg = _config(market);
        uint256 closes = _end(interval) + trueUpWindow;
        if (block.timestamp > closes) revert SettlementFinal(market, interval, closes);
        (int64 rt, uint32 revision) = _price(market, interval);
        for (uint256 k; k < accounts.length; ++k) {
            if (_resettleOne(cfg, market, interval, accounts[k], rt, revision)) {
                unchecked {
                    ++changed;
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IDeliverySettlement
    function reading(bytes32 meterId, uint64 interval)
        external
        view
        returns (bool present, uint64 importWh, uint64 exportWh, uint8 quality, uint32 revision, uint8 epoch)
    {
        (present, importWh, exportWh, revision, quality, epoch) = ReadingLib.unpack(_word(meterId, interval));
    }

    /// @inheritdoc IDeliverySettlement
    function verifiedExport(bytes32 meterId, uint64 first, uint64 count)
        external
        view
        returns (uint256 exportWh, uint256 missing)
    {
        mapping(uint64 => uint256) storage words = _readings[meterId];
        uint256 end = uint256(first) + count;
        // One storage read per pair of intervals; a word counts when present (bit 127) and of
        // actual quality (bits 120-121 zero), whatever its key epoch (bits 122-126). The masks
        // read bits 0-127 of the word only, so the upper half of a pair needs no masking.
        uint256 i = first;
        unchecked {
            // i, end < 2^65: no overflow.
            if (i & 1 == 1 && i < end) {
                uint256 w = words[uint64(i >> 1)] >> 128;
                if (w & ACTUAL_MASK == PRESENT) exportWh += (w >> 48) & ReadingLib.MAX_WH;
                else ++missing;
                ++i;
            }
            for (; i + 1 < end; i += 2) {
                uint256 pair = words[uint64(i >> 1)];
                if (pair & ACTUAL_MASK == PRESENT) exportWh += (pair >> 48) & ReadingLib.MAX_WH;
                else ++missing;
                pair >>= 128;
                if (pair & ACTUAL_MASK == PRESENT) exportWh += (pair >> 48) & ReadingLib.MAX_WH;
                else ++missing;
            }
            if (i < end) {
                uint256 w = words[uint64(i >> 1)];
                if (w & ACTUAL_MASK == PRESENT) exportWh += (w >> 48) & ReadingLib.MAX_WH;
                else ++missing;
            }
        }
    }

    /// @inheritdoc IDeliverySettlement
    function price(bytes32 market, uint64 interval)
        external
        view
        returns (bool present, int64 value, uint32 revision, uint32 epoch)
    {
        uint256 w = _prices[market][interval];
        return (w != 0, int64(uint64(w)), uint32(w >> 64), uint32((w >> 96) & PRICE_EPOCH_MASK));
    }

    /// @inheritdoc IDeliverySettlement
    function position(bytes32 market, uint64 interval, address account)
        external
        view
        returns (Position memory)
    {
        return _positions[market][interval][account];
    }

    /// @inheritdoc IDeliverySettlement
    function marketConfig(bytes32 market) external view returns (MarketConfig memory) {
        return _markets[market];
    }

    /// @inheritdoc IDeliverySettlement
    function fees(IERC20 token) external view returns (uint256) {
        return _fees[token];
    }

    /// @inheritdoc IDeliverySettlement
    function debtOf(bytes32 market, address account) external view returns (uint256) {
        return _debt[market][account];
    }

    /// @inheritdoc IDeliverySettlement
    function owedTo(bytes32 market, address account) external view returns (uint256) {
        return _owed[market][account];
    }

    /// @inheritdoc IDeliverySettlement
    function oracleEpochRevoked(bytes32 market, uint32 epoch) external view returns (bool) {
        return _oracleEpochRevoked[market][epoch];
    }

    /// @inheritdoc IDeliverySettlement
    function requiredCollateral(IERC20 token, address account)
        external
        view
        returns (uint256 required, bool inDebt)
    {
        return _required(token, account);
    }

    /// @inheritdoc IDeliverySettlement
    function reserveOf(bytes32 market, uint64 interval, address account) external view returns (uint256) {
        return _reserve[market][interval][account];
    }

    /// @inheritdoc IDeliverySettlement
    function reserved(bytes32 market, address account) external view returns (uint256) {
        return _reserved[market][account];
    }

    /// @inheritdoc IDeliverySettlement
    function readingDigest(ReadingLib.MeterReading calldata r) external view returns (bytes32) {
        return _hashTypedDataV4(ReadingLib.structHash(r));
    }

    /// @inheritdoc IDeliverySettlement
    function priceDigest(ReadingLib.RealTimePrice calldata p) external view returns (bytes32) {
        return _hashTypedDataV4(ReadingLib.structHash(p));
    }

    /// @inheritdoc IDeliverySettlement
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    function _revertZeroAmount() internal pure override {
        revert SettlementZeroAmount();
    }

    function _revertZeroAddress() internal pure override {
        revert SettlementZeroAddress();
    }

    function _revertInsufficientBalance(uint256 balance, uint256 amount) internal pure override {
        revert SettlementInsufficientBalance(balance, amount);
    }

    function _revertTransferMismatch(uint256 expected, uint256 received) internal pure override {
        revert SettlementTransferMismatch(expected, received);
    }

    /// @dev The exposure rule: no withdrawal by an account in debt, and none below what its open
    ///      positions and reserves need.
    function _checkWithdrawal(IERC20 token, address account) internal view override {
        bytes32[] storage ms = _marketsOf[token];
        uint256 need = 0;
        for (uint256 k; k < ms.length; ++k) {
            bytes32 market = ms[k];
            MarketConfig storage cfg = _markets[market];
            uint256 debt = _debt[market][account];
            if (account == cfg.balancing) debt += _owedTotal[market];
            if (debt != 0) revert SettlementInDebt(market, debt);
            if (account != cfg.balancing) need += _reserved[market][account] + _openExposure(cfg, account);
        }
        uint256 free = _balances[token][account];
        if (free < need) revert SettlementCollateralLocked(free, need);
    }

    /// @dev {requiredCollateral}.
    function _required(IERC20 token, address account) internal view returns (uint256 need, bool inDebt) {
        bytes32[] storage ms = _marketsOf[token];
        for (uint256 k; k < ms.length; ++k) {
            bytes32 market = ms[k];
            MarketConfig storage cfg = _markets[market];
            if (_debt[market][account] != 0) inDebt = true;
            if (account == cfg.balancing) {
                if (_owedTotal[market] != 0) inDebt = true;
            } else {
                need += _reserved[market][account] + _openExposure(cfg, account);
            }
        }
    }

    /// @dev The open positions of `account` in a market: the intents it holds for every interval
    ///      that can be claimed (start <= now) and is not more than one interval past its reading
    ///      deadline, each at the worst real-time price bound for non-delivery (sold - bought at
    ///      the cap, bought - sold at minus the floor), in base units rounded up. Held intents are
    ///      always unsettled Wh: settlement burns what it counts.
    function _openExposure(MarketConfig storage cfg, address account) internal view returns (uint256) {
        uint256 len = intervalLength;
        uint256 hi = block.timestamp / len;
        uint256 rw = readingWindow;
        // i is open while now < end(i) + readingWindow + len, i.e. i >= (now - rw) / len - 1.
        uint256 lo = block.timestamp > rw + len ? (block.timestamp - rw) / len - 1 : 0;
        uint256 n = hi - lo + 1;
        address[] memory who = new address[](2 * n);
        uint256[] memory ids = new uint256[](2 * n);
        uint32 seq = cfg.seq;
        for (uint256 j; j < n; ++j) {
            uint64 i = uint64(lo + j);
            who[2 * j] = account;
            who[2 * j + 1] = account;
            ids[2 * j] = tokenId(seq, i, 0);
            ids[2 * j + 1] = tokenId(seq, i, 1);
        }
        uint256[] memory held = intents.balanceOfBatch(who, ids);
        uint256 milli = 0;
        for (uint256 j; j < n; ++j) {
            milli += _worstMilli(cfg, held[2 * j].toInt256() - held[2 * j + 1].toInt256());
        }
        return (milli + 999) / 1000;
    }

    /// @dev The worst charge (milli-units) of a contracted position that is not delivered at all
    ///      (metered 0): -contracted * price at the bound that makes it a charge.
    function _worstMilli(MarketConfig storage cfg, int256 contracted) internal view returns (uint256) {
        if (contracted < 0) {
            int64 cap = cfg.rtCap;
            return cap > 0 ? uint256(-contracted) * uint256(int256(cap)) : 0;
        }
        int64 floor = cfg.rtFloor;
        return floor < 0 ? uint256(contracted) * uint256(-int256(floor)) : 0;
    }

    /// @dev Records the reserve of a settled position: its open exposure while it rests on an
    ///      estimate, nothing otherwise. `hadReserve` is false when no reserve can be recorded yet.
    function _setReserve(
        MarketConfig storage cfg,
        bytes32 market,
        uint64 interval,
        address account,
        Calc memory c,
        bool hadReserve
    ) internal {
        uint256 r = c.flags & FLAG_ESTIMATE != 0 ? (_worstMilli(cfg, c.contracted) + 999) / 1000 : 0;
        uint256 old = hadReserve ? _reserve[market][interval][account] : 0;
        if (r == old) return;
        _reserve[market][interval][account] = r;
        _reserved[market][account] = _reserved[market][account] + r - old;
        emit ReserveChanged(market, interval, account, r);
    }

    function _settleOne(
        MarketConfig storage cfg,
        bytes32 market,
        uint64 interval,
        address account,
        int64 rt,
        uint32 revision
    ) internal returns (bool) {
        Position storage p = _positions[market][interval][account];
        if (p.flags & FLAG_SETTLED != 0) return false;
        (uint256 bought, uint256 sold) = _held(cfg, interval, account);
        Calc memory c = _calc(market, interval, account, bought.toInt256() - sold.toInt256(), rt);
        _store(p, c, rt, revision);
        _setReserve(cfg, market, interval, account, c, false);
        _charge(cfg, market, account, c.amount);
        emit Settled(market, interval, account, c.contracted, c.metered, rt, c.amount, c.flags);
        _burnHeld(cfg, interval, account, bought, sold);
        return true;
    }

    function _resettleOne(
        MarketConfig storage cfg,
        bytes32 market,
        uint64 interval,
        address account,
        int64 rt,
        uint32 revision
    ) internal returns (bool) {
        Position storage p = _positions[market][interval][account];
        if (p.flags & FLAG_SETTLED == 0) return false;
        (uint256 bought, uint256 sold) = _held(cfg, interval, account);
        Calc memory c =
            _calc(market, interval, account, p.contracted + bought.toInt256() - sold.toInt256(), rt);
        if (
            c.contracted == p.contracted && c.metered == p.metered && rt == p.price && c.flags == p.flags
                && revision == p.priceRevision
        ) return false;
        int256 oldAmount = p.amountMilli;
        int256 oldImbalance = int256(p.metered) - p.contracted;
        bool hadReserve = p.flags & FLAG_ESTIMATE != 0; // a reserve exists only for estimates
        _store(p, c, rt, revision);
        _setReserve(cfg, market, interval, account, c, hadReserve);
        _charge(cfg, market, account, c.amount - oldAmount);
        emit Resettled(
            market, interval, account, oldImbalance, c.metered - c.contracted, oldAmount, c.amount, c.flags
        );
        _burnHeld(cfg, interval, account, bought, sold);
        return true;
    }

    /// @dev A position computed from the current data.
    struct Calc {
        int256 contracted;
        int256 metered;
        int256 amount;
        uint8 flags;
    }

    function _calc(bytes32 market, uint64 interval, address account, int256 contracted, int64 rt)
        internal
        view
        returns (Calc memory c)
    {
        c.contracted = contracted;
        (c.metered, c.flags) = _metered(market, interval, account, contracted, rt);
        c.flags |= FLAG_SETTLED;
        c.amount = (c.metered - contracted) * rt;
    }

    function _setWindows(uint32 readingWindow_, uint32 trueUpWindow_) internal {
        if (readingWindow_ == 0 || readingWindow_ >= trueUpWindow_) {
            revert SettlementInvalidWindows(readingWindow_, trueUpWindow_);
        }
        readingWindow = readingWindow_;
        trueUpWindow = trueUpWindow_;
        emit WindowsChanged(readingWindow_, trueUpWindow_);
    }

    function _config(bytes32 market) internal view returns (MarketConfig storage cfg) {
        cfg = _markets[market];
        if (address(cfg.token) == address(0)) revert SettlementUnknownMarket(market);
    }

    function _end(uint64 interval) internal view returns (uint256) {
        return (uint256(interval) + 1) * intervalLength;
    }

    function _checkWindow(bytes32 id, uint64 interval, uint256 len, uint256 trueUp) internal view {
        uint256 end = (uint256(interval) + 1) * len;
        if (block.timestamp < end) revert ReadingEarly(id, interval, end);
        if (block.timestamp > end + trueUp) revert ReadingLate(id, interval, end + trueUp);
    }

    function _recover(bytes32 digest, ReadingLib.Signature calldata sig)
        internal
        pure
        returns (address signer)
    {
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(digest, sig.r, sig.vs);
        if (err != ECDSA.RecoverError.NoError) signer = address(0);
    }

    function _word(bytes32 meterId, uint64 interval) internal view returns (uint256) {
        return (_readings[meterId][interval >> 1] >> ((interval & 1) * 128)) & WORD_MASK;
    }

    function _price(bytes32 market, uint64 interval) internal view returns (int64, uint32) {
        uint256 w = _prices[market][interval];
        if (w == 0) revert SettlementNoPrice(market, interval);
        if (_oracleEpochRevoked[market][uint32((w >> 96) & PRICE_EPOCH_MASK)]) {
            revert SettlementPriceRevoked(market, interval);
        }
        return (int64(uint64(w)), uint32(w >> 64));
    }

    /// @dev The intent tokens `account` holds for the interval: bought, sold.
    function _held(MarketConfig storage cfg, uint64 interval, address account)
        internal
        view
        returns (uint256 bought, uint256 sold)
    {
        uint32 seq = cfg.seq;
        bought = intents.balanceOf(account, tokenId(seq, interval, 0));
        sold = intents.balanceOf(account, tokenId(seq, interval, 1));
    }

    /// @dev Burns the intents now counted in the account's settled position (after every state
    ///      change: the intent token is the project's own, but the order keeps the flow obvious).
    function _burnHeld(
        MarketConfig storage cfg,
        uint64 interval,
        address account,
        uint256 bought,
        uint256 sold
    ) internal {
        uint32 seq = cfg.seq;
        if (bought != 0) intents.burn(account, tokenId(seq, interval, 0), bought);
        if (sold != 0) intents.burn(account, tokenId(seq, interval, 1), sold);
    }

    /// @dev import - export over the meters the account owned in the market at the interval's
    ///      start; a meter without a valid reading is estimated alone ({_estimate}, flagged).
    ///      Silent meters without any valid reading in the lookback are estimated together, as
    ///      the worse for the owner at `rt` of two values: zero, and what the account's other
    ///      meters leave to its contracted position (deemed delivery), so missing data never
    ///      earns the owner a credit nor hides a charge that a zero reading would show.
    function _metered(bytes32 market, uint64 interval, address account, int256 contracted, int64 rt)
        internal
        view
        returns (int256 metered, uint8 flags)
    {
        // interval * length <= now: settlement and resettlement run only after the interval ended.
        (bytes32[] memory ids, uint32[] memory revoked) =
            registry.metersAt(account, market, uint64(uint256(interval) * intervalLength));
        bool blind = false;
        for (uint256 j; j < ids.length; ++j) {
            uint256 w = _word(ids[j], interval);
            if (_valid(w, revoked[j])) {
                (, uint64 imp, uint64 exp,, uint8 quality,) = ReadingLib.unpack(w);
                if (quality != ReadingLib.ACTUAL) flags |= FLAG_NOT_ACTUAL;
                metered += int256(uint256(imp)) - int256(uint256(exp));
            } else {
                flags |= FLAG_ESTIMATE;
                (int256 est, bool found) = _estimate(ids[j], interval, rt, revoked[j]);
                if (found) metered += est;
                else blind = true;
            }
        }
        if (blind) {
            int256 gap = contracted - metered;
            if (rt >= 0 ? gap > 0 : gap < 0) metered = contracted;
        }
    }

    /// @dev A stored word counts when present and not signed by a revoked key epoch.
    function _valid(uint256 w, uint32 revoked) internal pure returns (bool) {
        return w >> 127 == 1 && (revoked >> ((w >> 122) & ReadingLib.MAX_EPOCH)) & 1 == 0;
    }

    /// @dev The estimate of a meter's import - export for an interval without a valid reading:
    ///      the worst for its owner at the price `rt` of its valid readings in the
    ///      ESTIMATE_LOOKBACK intervals before (the largest at rt >= 0, the smallest below);
    ///      `found` is false when it has none. Withholding a reading therefore never settles better
    ///      than the meter's worst interval of the hour before.
    function _estimate(bytes32 id, uint64 interval, int64 rt, uint32 revoked)
        internal
        view
        returns (int256 est, bool found)
    {
        for (uint64 k = 1; k <= ESTIMATE_LOOKBACK && k <= interval; ++k) {
            uint256 w = _word(id, interval - k);
            if (!_valid(w, revoked)) continue;
            int256 v = int256(w & ReadingLib.MAX_WH) - int256((w >> 48) & ReadingLib.MAX_WH);
            if (!found || (rt >= 0 ? v > est : v < est)) est = v;
            found = true;
        }
    }

    /// @dev Checks and stores one reading; false for an identical resubmission (see
    ///      {submitReadings}).
    function _storeReading(
        ReadingLib.MeterReading calldata r,
        ReadingLib.Signature calldata sig,
        uint256 len,
        uint256 trueUp
    ) internal returns (bool) {
        if (
            r.importWh > ReadingLib.MAX_WH || r.exportWh > ReadingLib.MAX_WH
                || r.revision > ReadingLib.MAX_REVISION
        ) {
            revert ReadingOutOfRange(r.meterId, r.interval);
        }
        _checkWindow(r.meterId, r.interval, len, trueUp);
        address signer = _recover(_hashTypedDataV4(ReadingLib.structHash(r)), sig);
        (bool ok, uint8 epoch, uint32 revoked) = registry.keyEpoch(r.meterId, r.interval, signer);
        if (!ok) revert ReadingUnauthorized(r.meterId, r.interval, signer);
        return _putReading(r, ReadingLib.pack(r, epoch), revoked);
    }

    /// @dev Stores the word of a checked reading under the revision rules.
    function _putReading(ReadingLib.MeterReading calldata r, uint256 word, uint32 revoked)
        internal
        returns (bool)
    {
        bytes32 id = r.meterId;
        uint64 interval = r.interval;
        uint256 shift = (interval & 1) * 128;
        uint256 words = _readings[id][interval >> 1];
        uint256 cur = (words >> shift) & WORD_MASK;
        uint32 rev = uint32((cur >> 96) & ReadingLib.MAX_REVISION);
        // A stored reading of a revoked key is replaced at any revision within the step.
        if (cur != 0 && (revoked >> ((cur >> 122) & ReadingLib.MAX_EPOCH)) & 1 == 0) {
            if (r.revision < rev) revert ReadingStaleRevision(id, interval, rev, r.revision);
            if (r.revision == rev) {
                // An identical resubmission (signed by any valid key) changes nothing.
                if ((cur ^ word) & ~READING_EPOCH_BITS == 0) return false;
                revert ReadingConflict(id, interval, rev);
            }
        }
        if (r.revision > uint256(rev) + MAX_REVISION_STEP) {
            revert ReadingRevisionJump(id, interval, rev, r.revision);
        }
        _readings[id][interval >> 1] = (words & ~(WORD_MASK << shift)) | (word << shift);
        emit ReadingStored(id, interval, r.importWh, r.exportWh, r.quality, r.revision);
        return true;
    }

    function _store(Position storage p, Calc memory c, int64 rt, uint32 revision) internal {
        p.contracted = c.contracted.toInt96();
        p.metered = c.metered.toInt96();
        p.price = rt;
        p.amountMilli = c.amount.toInt128();
        p.priceRevision = revision;
        p.flags = c.flags;
    }

    /// @dev Moves `amountMilli` (> 0: from the account to the balancing account; < 0: back).
    ///      A charge is first set against what the balancing account owes the account, a credit
    ///      first against the account's debt (whole base units of the payee's rounded-down amount;
    ///      a {DebtPaid} event records the netting); only the rest moves money.
    function _charge(MarketConfig storage cfg, bytes32 market, address account, int256 amountMilli) internal {
        if (amountMilli == 0) return;
        address balancing = cfg.balancing;
        if (amountMilli > 0) {
            uint256 milli = uint256(amountMilli);
            uint256 owed = _owedTotal[market] == 0 ? 0 : _owed[market][account];
            if (owed != 0) {
                uint256 n = milli / 1000 < owed ? milli / 1000 : owed;
                _owed[market][account] = owed - n;
                _owedTotal[market] -= n;
                milli -= n * 1000;
                emit DebtPaid(market, balancing, account, n);
            }
            uint256 short_ = _pay(cfg.token, account, balancing, milli);
            if (short_ != 0) {
                _debt[market][account] += short_;
                _debtTotal[market] += short_;
                emit Shortfall(market, account, balancing, short_);
            }
        } else {
            uint256 milli = uint256(-amountMilli);
            uint256 debt = _debtTotal[market] == 0 ? 0 : _debt[market][account];
            if (debt != 0) {
                uint256 n = milli / 1000 < debt ? milli / 1000 : debt;
                _debt[market][account] = debt - n;
                _debtTotal[market] -= n;
                milli -= n * 1000;
                emit DebtPaid(market, account, balancing, n);
            }
            uint256 short_ = _pay(cfg.token, balancing, account, milli);
            if (short_ != 0) {
                _owed[market][account] += short_;
                _owedTotal[market] += short_;
                emit Shortfall(market, balancing, account, short_);
            }
        }
    }

    /// @dev The payer pays ceil(milli / 1000) from its balance, the payee gets floor(milli / 1000),
    ///      the remainder is a fee. A payer short of funds pays what it has: the payee gets that
    ///      (up to its floor amount) and the unpaid part of the floor amount is returned as the
    ///      shortfall; the rounding fee is forgone then.
    function _pay(IERC20 token, address payer, address payee, uint256 milli)
        internal
        returns (uint256 shortfall)
    {
        if (milli == 0) return 0;
        uint256 due = (milli + 999) / 1000;
        uint256 gets = milli / 1000;
        uint256 bal = _balances[token][payer];
        uint256 paid = bal < due ? bal : due;
        uint256 credited = paid < gets ? paid : gets;
        _balances[token][payer] = bal - paid;
        _balances[token][payee] += credited;
        _fees[token] += paid - credited;
        shortfall = gets - credited;
    }

    function _settleDebt(
        mapping(address => uint256) storage ledger,
        IERC20 token,
        bytes32 market,
        address from,
        address to,
        address key
    ) internal returns (uint256 paid) {
        uint256 owed = ledger[key];
        uint256 bal = _balances[token][from];
        paid = owed < bal ? owed : bal;
        if (paid == 0) return 0;
        ledger[key] = owed - paid;
        _balances[token][from] = bal - paid;
        _balances[token][to] += paid;
        emit DebtPaid(market, from, to, paid);
    }
}
