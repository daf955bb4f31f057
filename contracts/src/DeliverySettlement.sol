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

    /// @notice Role allowed to pause and unpause.
    /// @return The role id, keccak256("PAUSER_ROLE").
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice Position flag: settled.
    /// @return 1.
    function FLAG_SETTLED() external view returns (uint8);

    /// @notice Position flag: a meter had no reading at the deadline (deemed delivery).
    /// @return 2.
    function FLAG_ESTIMATE() external view returns (uint8);

    /// @notice Position flag: a reading of estimated or substituted quality was used.
    /// @return 4.
    function FLAG_NOT_ACTUAL() external view returns (uint8);

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

    /// @notice Configures (or reconfigures) a market of the auction for delivery settlement.
    /// @param market The market id.
    /// @param oracle The real-time price signer.
    /// @param balancing The balancing account (counterparty of imbalances).
    function configureMarket(bytes32 market, address oracle, address balancing) external;

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
    function reading(bytes32 meterId, uint64 interval)
        external
        view
        returns (bool present, uint64 importWh, uint64 exportWh, uint8 quality, uint32 revision);

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
    function price(bytes32 market, uint64 interval)
        external
        view
        returns (bool present, int64 value, uint32 revision);

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
///        signed by the gateway key the registry authorises for that meter and interval. A lower
///        revision than the stored one reverts; the same revision with the same content is a
///        no-op, with other content it reverts; a higher revision replaces the stored reading.
///        Real-time prices follow the same rules, signed by the market's oracle.
///      - Position. contracted = bought - sold intent Wh the account holds for the interval; the
///        intents are burned when they are settled (so they cannot be settled twice, by anyone),
///        and intents claimed later are added by the resettlement. metered = import - export
///        over the account's meters in the market. An account without meters in the market (a
///        purely financial trader) has metered = 0: its position closes out at the real-time
///        price.
///      - Estimates. At the reading deadline end(i) + readingWindow an account with a missing
///        reading is settled on deemed delivery (metered = contracted, imbalance 0) and flagged;
///        readings of estimated or substituted quality are used but flagged too.
///      - Money. amount = (metered - contracted) * price / 1000 (milli-units). The payer pays the
///        amount rounded up, the payee receives it rounded down, and the remainder is a fee, as in
///        the auction. A payer without enough collateral pays what it has; the rest is a debt to
///        the balancing account (or, when the balancing account is short, owed by it), recorded
///        per market and repaid with {repay} / {collectOwed}. For every token:
///        token.balanceOf(this) == sum of balances + fees (debts are claims, not tokens).
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

    uint256 internal constant WORD_MASK = (1 << 128) - 1;
    uint256 internal constant PRESENT = 1 << 127;

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
        address oracle; // signs real-time prices
        address balancing; // the counterparty of every imbalance
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
    /// @dev uint64(price) | revision << 64 | PRESENT.
    mapping(bytes32 market => mapping(uint64 interval => uint256 word)) internal _prices;
    mapping(bytes32 market => mapping(uint64 interval => mapping(address account => Position))) internal
        _positions;
    mapping(IERC20 token => uint256) internal _fees;
    mapping(bytes32 market => mapping(address account => uint256)) internal _debt;
    mapping(bytes32 market => mapping(address account => uint256)) internal _owed;

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
    ///      contract's interval length; oracle and balancing account are nonzero.
    ///      Emits {MarketConfigured}.
    function configureMarket(bytes32 market, address oracle, address balancing)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (oracle == address(0) || balancing == address(0)) revert SettlementZeroAddress();
        (ISealgridAuction.MarketParams memory p, uint32 seq,,) = auction.getMarket(market);
        if (p.intervalLength != intervalLength) {
            revert SettlementIntervalLength(p.intervalLength, intervalLength);
        }
        _markets[market] = MarketConfig({token: p.token, seq: seq, oracle: oracle, balancing: balancing});
        emit MarketConfigured(market, p.token, seq, oracle, balancing);
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
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Emits {DebtPaid} when something was paid.
    function collectOwed(bytes32 market, address account) external nonReentrant returns (uint256 paid) {
        MarketConfig storage cfg = _config(market);
        paid = _settleDebt(_owed[market], cfg.token, market, cfg.balancing, account, account);
    }

    // ------------------------------------------------------------------------------------------
    // Readings and prices
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: not paused; one signature per reading; each reading's interval has ended
    ///      and its true-up window is open; Wh below 2^48 and revision below 2^24; the signer is
    ///      the registry's gateway key for the meter and interval; the revision is not lower than
    ///      the stored one, and equal only with equal content. Any failure reverts the batch.
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
            ReadingLib.MeterReading calldata r = rs[k];
            bytes32 id = r.meterId;
            uint64 interval = r.interval;
            if (
                r.importWh > ReadingLib.MAX_WH || r.exportWh > ReadingLib.MAX_WH
                    || r.revision > ReadingLib.MAX_REVISION
            ) {
                revert ReadingOutOfRange(id, interval);
            }
            _checkWindow(id, interval, len, trueUp);
            address signer = _recover(_hashTypedDataV4(ReadingLib.structHash(r)), sigs[k]);
            if (!registry.isAuthorized(id, interval, signer)) {
                revert ReadingUnauthorized(id, interval, signer);
            }

            uint256 shift = (interval & 1) * 128;
            uint256 words = _readings[id][interval >> 1];
            uint256 cur = (words >> shift) & WORD_MASK;
            uint256 word = ReadingLib.pack(r);
            if (cur != 0) {
                uint32 rev = uint32((cur >> 96) & ReadingLib.MAX_REVISION);
                if (r.revision < rev) revert ReadingStaleRevision(id, interval, rev, r.revision);
                if (r.revision == rev) {
                    if (cur == word) continue; // an identical resubmission
                    revert ReadingConflict(id, interval, rev);
                }
            }
            _readings[id][interval >> 1] = (words & ~(WORD_MASK << shift)) | (word << shift);
            emit ReadingStored(id, interval, r.importWh, r.exportWh, r.quality, r.revision);
            unchecked {
                ++stored;
            }
        }
    }

    /// @inheritdoc IDeliverySettlement
    /// @dev Requirements: not paused; one signature per price; the market is configured; the
    ///      interval has ended and its true-up window is open; the signer is the market's oracle.
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
            address signer = _recover(_hashTypedDataV4(ReadingLib.structHash(p)), sigs[k]);
            if (signer != cfg.oracle) revert ReadingUnauthorized(p.market, p.interval, signer);
            uint256 word = uint256(uint64(p.price)) | (uint256(p.revision) << 64) | PRESENT;
            uint256 cur = _prices[p.market][p.interval];
            if (cur != 0) {
                uint32 rev = uint32(cur >> 64);
                if (p.revision < rev) revert ReadingStaleRevision(p.market, p.interval, rev, p.revision);
                if (p.revision == rev) {
                    if (cur == word) continue;
                    revert ReadingConflict(p.market, p.interval, rev);
                }
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
        returns (bool present, uint64 importWh, uint64 exportWh, uint8 quality, uint32 revision)
    {
        (present, importWh, exportWh, revision, quality) = ReadingLib.unpack(_word(meterId, interval));
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
        // actual quality (bits 120-121 zero).
        for (uint256 i = first; i < end;) {
            uint256 pair = words[uint64(i >> 1)];
            uint256 w = (pair >> ((i & 1) * 128)) & WORD_MASK;
            unchecked {
                if (w >> 120 == 0x80) exportWh += (w >> 48) & ReadingLib.MAX_WH;
                else ++missing;
                ++i;
                if (i < end && i & 1 == 1) {
                    w = pair >> 128;
                    if (w >> 120 == 0x80) exportWh += (w >> 48) & ReadingLib.MAX_WH;
                    else ++missing;
                    ++i;
                }
            }
        }
    }

    /// @inheritdoc IDeliverySettlement
    function price(bytes32 market, uint64 interval)
        external
        view
        returns (bool present, int64 value, uint32 revision)
    {
        uint256 w = _prices[market][interval];
        return (w != 0, int64(uint64(w)), uint32(w >> 64));
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
        _store(p, c, rt, revision);
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
        (c.metered, c.flags) = _metered(market, interval, account, contracted);
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

    /// @dev import - export over the account's meters in the market; deemed delivery (metered =
    ///      contracted, flagged) when a meter has no reading.
    function _metered(bytes32 market, uint64 interval, address account, int256 contracted)
        internal
        view
        returns (int256 metered, uint8 flags)
    {
        bytes32[] memory ids = registry.metersOf(account, market);
        for (uint256 j; j < ids.length; ++j) {
            (bool present, uint64 imp, uint64 exp,, uint8 quality) =
                ReadingLib.unpack(_word(ids[j], interval));
            if (!present) return (contracted, flags | FLAG_ESTIMATE);
            if (quality != ReadingLib.ACTUAL) flags |= FLAG_NOT_ACTUAL;
            metered += int256(uint256(imp)) - int256(uint256(exp));
        }
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
    function _charge(MarketConfig storage cfg, bytes32 market, address account, int256 amountMilli) internal {
        if (amountMilli == 0) return;
        address balancing = cfg.balancing;
        if (amountMilli > 0) {
            uint256 short_ = _pay(cfg.token, account, balancing, uint256(amountMilli));
            if (short_ != 0) {
                _debt[market][account] += short_;
                emit Shortfall(market, account, balancing, short_);
            }
        } else {
            uint256 short_ = _pay(cfg.token, balancing, account, uint256(-amountMilli));
            if (short_ != 0) {
                _owed[market][account] += short_;
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
