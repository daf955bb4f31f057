// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "../utils/Vm.sol";
import {MockERC20} from "../utils/Mocks.sol";
import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {DeliverySettlement} from "../../src/DeliverySettlement.sol";
import {GranularCertificates} from "../../src/GranularCertificates.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {EnergyIntentToken, tokenId} from "../../src/EnergyIntentToken.sol";
import {ReadingLib} from "../../src/libraries/ReadingLib.sol";

/// @notice Drives delivery settlement and certificates through random sequences of readings,
///         revisions, prices, positions, settlements, resettlements, collateral moves (withdrawals
///         at every moment), debt collection, compromised and revoked gateway and oracle keys
///         with their replacements, releases, issuance, transfers, retirements and time. Meters
///         go missing whenever no reading was drawn for them.
contract DeliveryHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    DeliverySettlement public immutable settlement;
    GranularCertificates public immutable certs;
    EnergyIntentToken public immutable intents;
    MockERC20 public immutable token;
    bytes32 public immutable market;
    uint32 public immutable seq;
    uint64 public immutable first; // first interval driven (the start of an hour)
    address public immutable balancing;
    MeterRegistry public registry;
    address internal registrar;
    address internal pauser;
    address internal admin;

    uint64 public constant INTERVALS = 6;
    address[3] public actors = [address(0x1001), address(0x1002), address(0x1003)];

    // Ghosts.
    uint256 public ghostIn;
    uint256 public ghostOut;
    bool public ghostAmountMismatch;
    bool public ghostDownRevised;
    bool public ghostSupplyMismatch;
    bool public ghostVaultBreach;
    bool public ghostExposureBreach; // a withdrawal left less than the exposure, or by a debtor
    bool public ghostWrongRefusal; // a withdrawal the exposure rule allows was refused
    bool public ghostWorthLeak; // an account's worth moved by another's action
    bool public ghostDebtorPaidCash; // a credit paid cash to an account that still has a debt
    bool public ghostRevokedUsed; // settlement counted a revoked key's reading
    uint256 public oraclePk;
    mapping(uint256 n => uint256) public gatewayPk;
    mapping(uint256 n => uint32) public revokedEpochs; // per meter, as the handler revoked them
    mapping(uint32 epoch => bool) public oracleEpochRevoked;
    uint256 public compromises;
    mapping(uint64 interval => mapping(address actor => int256)) public ghostMintedNet;
    mapping(bytes32 => uint256) public calls;

    constructor(
        DeliverySettlement settlement_,
        GranularCertificates certs_,
        EnergyIntentToken intents_,
        MockERC20 token_,
        bytes32 market_,
        uint32 seq_,
        uint64 first_,
        uint256 oraclePk_,
        address balancing_
    ) {
        settlement = settlement_;
        certs = certs_;
        intents = intents_;
        token = token_;
        market = market_;
        seq = seq_;
        first = first_;
        oraclePk = oraclePk_;
        balancing = balancing_;
        token_.approve(address(settlement_), type(uint256).max);
        for (uint256 n = 1; n <= 4; ++n) {
            gatewayPk[n] = 0x6A7E000 + n;
        }
    }

    /// The roles the key-compromise moves act with (once, from the test's setUp).
    function init(MeterRegistry registry_, address registrar_, address pauser_, address admin_) external {
        if (address(registry) != address(0)) return;
        registry = registry_;
        registrar = registrar_;
        pauser = pauser_;
        admin = admin_;
    }

    // ------------------------------------------------------------------ worth ghosts

    /// Worth of the actors (balance - debt + owed) and of the balancing account (balance + what
    /// the actors owe it - what it owes them): with the fees their sum is the token balance.
    function _worths() internal view returns (int256[4] memory w) {
        IERC20 t = IERC20(address(token));
        int256 claims;
        for (uint256 k; k < 3; ++k) {
            address a = actors[k];
            int256 c = int256(settlement.debtOf(market, a)) - int256(settlement.owedTo(market, a));
            w[k] = int256(settlement.balanceOf(t, a)) - c;
            claims += c;
        }
        w[3] = int256(settlement.balanceOf(t, balancing)) + claims;
    }

    /// Nobody's worth moves during a call that is no account's own money action.
    modifier keepsWorth() {
        _worthBefore = _worths(); // in storage: the handlers are deep enough on the stack
        _;
        int256[4] memory after_ = _worths();
        for (uint256 k; k < 4; ++k) {
            if (after_[k] != _worthBefore[k]) ghostWorthLeak = true;
        }
    }

    int256[4] internal _worthBefore;

    /// Only `who`'s worth moves, by exactly `delta` (its own deposit or withdrawal).
    function _onlyMoved(int256[4] memory before, address who, int256 delta) internal {
        int256[4] memory after_ = _worths();
        for (uint256 k; k < 4; ++k) {
            address a = k == 3 ? balancing : actors[k];
            if (after_[k] - before[k] != (a == who ? delta : int256(0))) ghostWorthLeak = true;
        }
    }

    function _sign(uint256 pk, bytes32 digest) internal pure returns (ReadingLib.Signature memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return ReadingLib.Signature({r: r, vs: bytes32(uint256(s) | (uint256(v - 27) << 255))});
    }

    /// Meter n (1..4) of actor (n - 1) % 3; meters 1 and 4 are solar generators. A stored
    /// reading of a revoked key is replaced by the current key at revision 0 (lower or equal).
    function reading(uint256 n, uint256 di, uint64 imp, uint64 exp, uint8 quality, bool bump)
        external
        keepsWorth
    {
        n = 1 + n % 4;
        ReadingLib.MeterReading memory r;
        r.meterId = keccak256(abi.encode("meter", n));
        r.interval = first + uint64(di % INTERVALS);
        r.importWh = imp % 50_000;
        r.exportWh = exp % 50_000;
        r.quality = quality % 3;
        (bool go, bool wasActual, uint64 oldExp) = _nextRevision(n, r, bump);
        if (!go) return;
        if (_submitReading(r, gatewayPk[n])) {
            if (wasActual && (r.quality != 0 || r.exportWh < oldExp)) ghostDownRevised = true;
            calls["reading"]++;
        }
    }

    /// Sets the revision of `r`: the next one, or 0 to replace a revoked key's reading; `go`
    /// is false when a reading is stored and neither a revision nor a replacement is wanted.
    function _nextRevision(uint256 n, ReadingLib.MeterReading memory r, bool bump)
        internal
        view
        returns (bool go, bool wasActual, uint64 oldExp)
    {
        (bool present,, uint64 e, uint8 q, uint32 rev, uint8 epoch) =
            settlement.reading(r.meterId, r.interval);
        bool replace = present && (revokedEpochs[n] >> epoch) & 1 == 1;
        if (present && !bump && !replace) return (false, false, 0);
        r.revision = present && !replace ? rev + 1 : 0;
        return (true, present && q == 0, e);
    }

    function _submitReading(ReadingLib.MeterReading memory r, uint256 pk) internal returns (bool) {
        ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        rs[0] = r;
        ss[0] = _sign(pk, settlement.readingDigest(r));
        try settlement.submitReadings(rs, ss) {
            return true;
        } catch {
            return false;
        }
    }

    function price(uint256 di, int64 p, bool bump) external keepsWorth {
        uint64 i = first + uint64(di % INTERVALS);
        (bool present,, uint32 rev, uint32 epoch) = settlement.price(market, i);
        bool replace = present && oracleEpochRevoked[epoch];
        if (present && !bump && !replace) return;
        ReadingLib.RealTimePrice[] memory ps = new ReadingLib.RealTimePrice[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        // Within the fixture's floor (-500,000) and cap (5,000,000).
        ps[0] = ReadingLib.RealTimePrice({
            market: market, interval: i, price: p % 500_000, revision: present && !replace ? rev + 1 : 0
        });
        ss[0] = _sign(oraclePk, settlement.priceDigest(ps[0]));
        try settlement.submitPrices(ps, ss) {
            calls["price"]++;
        } catch {}
    }

    function position(uint256 a, uint256 di, uint64 bought, uint64 sold) external keepsWorth {
        address who = actors[a % 3];
        uint64 i = first + uint64(di % INTERVALS);
        bought %= 40_000;
        sold %= 40_000;
        if (bought != 0) intents.mint(who, tokenId(seq, i, 0), bought);
        if (sold != 0) intents.mint(who, tokenId(seq, i, 1), sold);
        ghostMintedNet[i][who] += int256(uint256(bought)) - int256(uint256(sold));
        calls["position"]++;
    }

    function _worth(address who) internal view returns (int256) {
        IERC20 t = IERC20(address(token));
        return int256(settlement.balanceOf(t, who)) - int256(settlement.debtOf(market, who))
            + int256(settlement.owedTo(market, who));
    }

    /// Settles (or resettles) every actor, checking each account's money moved by the change of
    /// its recorded amount, to within the one unit of rounding.
    /// What an account looked like before a settle or resettle.
    struct Before {
        int256 worth;
        int256 amount;
        uint256 cash;
        uint8 flags;
    }

    function settleAll(uint256 di, bool again) external {
        uint64 i = first + uint64(di % INTERVALS);
        address[] memory all = new address[](3);
        Before[3] memory was;
        int256[4] memory before = _worths();
        uint256 fees0 = settlement.fees(IERC20(address(token)));
        for (uint256 k; k < 3; ++k) {
            all[k] = actors[k];
            DeliverySettlement.Position memory p = settlement.position(market, i, all[k]);
            was[k] = Before({
                worth: _worth(all[k]),
                amount: p.amountMilli,
                cash: settlement.balanceOf(IERC20(address(token)), all[k]),
                flags: p.flags
            });
        }
        if (!_settle(i, all, again)) return;
        calls[again ? bytes32("resettle") : bytes32("settle")]++;
        for (uint256 k; k < 3; ++k) {
            int256 delta = int256(settlement.position(market, i, all[k]).amountMilli) - was[k].amount;
            int256 moved = (_worth(all[k]) - was[k].worth) * 1000;
            // The account's worth (balance - debt + owed) changes by -delta / 1000 to within the
            // rounding unit (against the account when paid in full, for it when short).
            if (moved >= -delta + 1000 || moved <= -delta - 1000) ghostAmountMismatch = true;
            // Credits repay debts first: an account still in debt was paid no cash.
            if (
                settlement.debtOf(market, all[k]) != 0
                    && settlement.balanceOf(IERC20(address(token)), all[k]) > was[k].cash
            ) ghostDebtorPaidCash = true;
            // A reading of a revoked key is never counted: the owner's position is an estimate.
            if (again || was[k].flags == 0) _checkRevokedUnused(i, k);
        }
        // Worth is conserved: what the accounts lost the balancing account and the fees won.
        int256[4] memory after_ = _worths();
        int256 sum = int256(settlement.fees(IERC20(address(token)))) - int256(fees0);
        for (uint256 k; k < 4; ++k) {
            sum += after_[k] - before[k];
        }
        if (sum != 0) ghostWorthLeak = true;
    }

    function _settle(uint64 i, address[] memory all, bool again) internal returns (bool) {
        if (again) {
            try settlement.resettle(market, i, all) {
                return true;
            } catch {
                return false;
            }
        }
        try settlement.settle(market, i, all) {
            return true;
        } catch {
            return false;
        }
    }

    function _checkRevokedUnused(uint64 i, uint256 k) internal {
        DeliverySettlement.Position memory p = settlement.position(market, i, actors[k]);
        if (p.flags & 1 == 0) return;
        for (uint256 n = 1; n <= 4; ++n) {
            if ((n - 1) % 3 != k) continue;
            (bool present,,,,, uint8 epoch) = settlement.reading(keccak256(abi.encode("meter", n)), i);
            if (present && (revokedEpochs[n] >> epoch) & 1 == 1 && p.flags & 2 == 0) ghostRevokedUsed = true;
        }
    }

    /// A thief with meter n's current gateway key posts a reading that suits it (the next
    /// revision); the registrar revokes the key and installs a new one for the same intervals.
    function compromiseGateway(uint256 n, uint256 di, uint64 imp, uint64 exp) external keepsWorth {
        n = 1 + n % 4;
        if (compromises >= 25) return; // under the registry's 32 keys per meter
        ++compromises;
        uint64 i = first + uint64(di % INTERVALS);
        bytes32 id = keccak256(abi.encode("meter", n));
        (bool present,,,, uint32 rev, uint8 epoch) = settlement.reading(id, i);
        bool replace = present && (revokedEpochs[n] >> epoch) & 1 == 1;
        ReadingLib.MeterReading memory r;
        r.meterId = id;
        r.interval = i;
        r.importWh = imp % 50_000;
        r.exportWh = exp % 50_000;
        r.revision = present && !replace ? rev + ReadingLib.MAX_REVISION_STEP : 0;
        _submitReading(r, gatewayPk[n]);
        _revokeAndReplace(n, id);
        ghostDownRevised = true; // a replaced reading may certify less than before
        calls["compromiseGateway"]++;
    }

    function _revokeAndReplace(uint256 n, bytes32 id) internal {
        (, uint8 current,) = registry.epochOf(id, vm.addr(gatewayPk[n]));
        uint256 next = uint256(keccak256(abi.encode("gateway", n, compromises)));
        vm.startPrank(registrar);
        registry.revokeGateway(id);
        registry.rotateGateway(id, vm.addr(next), 0);
        vm.stopPrank();
        revokedEpochs[n] |= uint32(1) << current;
        gatewayPk[n] = next;
    }

    /// A thief with the oracle key posts a price; the pauser revokes the key and the admin
    /// installs a new oracle.
    function compromiseOracle(uint256 di, int64 p) external keepsWorth {
        if (compromises >= 25) return; // under the registry's 32 keys per meter
        ++compromises;
        uint64 i = first + uint64(di % INTERVALS);
        (bool present,, uint32 rev, uint32 epoch) = settlement.price(market, i);
        ReadingLib.RealTimePrice[] memory ps = new ReadingLib.RealTimePrice[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        ps[0] = ReadingLib.RealTimePrice({
            market: market,
            interval: i,
            price: p % 500_000,
            revision: present && !oracleEpochRevoked[epoch] ? rev + 1 : 0
        });
        ss[0] = _sign(oraclePk, settlement.priceDigest(ps[0]));
        try settlement.submitPrices(ps, ss) {} catch {}
        uint32 current = settlement.marketConfig(market).oracleEpoch;
        vm.prank(pauser);
        settlement.revokeOracle(market);
        oracleEpochRevoked[current] = true;
        oraclePk = uint256(keccak256(abi.encode("oracle", compromises)));
        vm.prank(admin);
        settlement.configureMarket(market, vm.addr(oraclePk), balancing);
        calls["compromiseOracle"]++;
    }

    function release(uint256 di) external keepsWorth {
        uint64 i = first + uint64(di % INTERVALS);
        address[] memory all = new address[](3);
        for (uint256 k; k < 3; ++k) {
            all[k] = actors[k];
        }
        try settlement.release(market, i, all) {
            calls["release"]++;
        } catch {}
    }

    /// What the exposure rule requires of `who`, modelled here independently of the contract:
    /// the intents it holds for intervals from their start to one interval past the reading
    /// deadline, at the worst price bound, plus its reserves. The balancing account needs none.
    function _modelRequired(address who) internal view returns (uint256) {
        if (who == balancing) return 0;
        DeliverySettlement.MarketConfig memory cfg = settlement.marketConfig(market);
        uint256 rw = settlement.readingWindow();
        uint256 milli;
        for (uint64 i = first; i < first + INTERVALS; ++i) {
            uint256 start = uint256(i) * 300;
            if (block.timestamp < start || block.timestamp >= start + 600 + rw) continue;
            int256 net = int256(intents.balanceOf(who, tokenId(seq, i, 0)))
                - int256(intents.balanceOf(who, tokenId(seq, i, 1)));
            if (net < 0) milli += uint256(-net) * uint256(int256(cfg.rtCap));
            else milli += uint256(net) * uint256(-int256(cfg.rtFloor));
        }
        return (milli + 999) / 1000 + settlement.reserved(market, who);
    }

    function _inDebt(address who) internal view returns (bool) {
        if (settlement.debtOf(market, who) != 0) return true;
        if (who != balancing) return false;
        for (uint256 k; k < 3; ++k) {
            if (settlement.owedTo(market, actors[k]) != 0) return true;
        }
        return false;
    }

    function warp(uint256 dt) external keepsWorth {
        // Now and then past the true-up window (resettlements end, reserves are released).
        vm.warp(block.timestamp + (dt % 64 == 0 ? settlement.trueUpWindow() + 1 : dt % 4000));
    }

    function deposit(uint256 a, uint256 amount) external {
        // Deposits of the order of a few intervals' charges, so that accounts run into debt.
        amount = 1 + amount % 5e7;
        address who = a % 4 == 3 ? balancing : actors[a % 3];
        int256[4] memory before = _worths();
        token.mint(address(this), amount);
        settlement.deposit(IERC20(address(token)), who, amount);
        ghostIn += amount;
        _onlyMoved(before, who, int256(amount));
    }

    /// Withdraws at any moment: allowed exactly when the account has no debt and keeps what its
    /// exposure needs (the handler's own model of the rule), and then moves only its own worth.
    function withdraw(uint256 a, uint256 amount) external {
        address who = a % 4 == 3 ? balancing : actors[a % 3];
        uint256 bal = settlement.balanceOf(IERC20(address(token)), who);
        if (bal == 0) return;
        amount = 1 + amount % bal;
        uint256 need = _modelRequired(who);
        bool debt = _inDebt(who);
        int256[4] memory before = _worths();
        vm.prank(who);
        try settlement.withdraw(IERC20(address(token)), who, amount) {
            if (debt || bal - amount < need) ghostExposureBreach = true;
            ghostOut += amount;
            calls["withdraw"]++;
            _onlyMoved(before, who, -int256(amount));
        } catch {
            if (!debt && bal - amount >= need) ghostWrongRefusal = true;
            _onlyMoved(before, who, 0);
        }
    }

    /// Attacks the collateral vault: an account withdraws more than its own balance (another
    /// account's collateral on top); it must revert and move nothing (property e).
    function overdraw(uint256 a, uint256 v, uint256 extra) external keepsWorth {
        address who = a % 4 == 3 ? balancing : actors[a % 3];
        address victim = v % 4 == 3 ? balancing : actors[v % 3];
        IERC20 t = IERC20(address(token));
        uint256 own = settlement.balanceOf(t, who);
        uint256 theirs = settlement.balanceOf(t, victim);
        uint256 held = token.balanceOf(address(settlement));
        uint256 amount = own + 1 + (who == victim ? extra % 1e9 : theirs);
        vm.prank(who);
        try settlement.withdraw(t, victim, amount) {
            ghostVaultBreach = true;
        } catch {}
        if (token.balanceOf(address(settlement)) != held || settlement.balanceOf(t, victim) != theirs) {
            ghostVaultBreach = true;
        }
    }

    function collect(uint256 a) external keepsWorth {
        address who = actors[a % 3];
        settlement.repay(market, who);
        settlement.collectOwed(market, who);
        calls["collect"]++;
    }

    /// Issues certificates; right after, the device-hour's supply must equal the verified export
    /// of the hour's due intervals (unless a certified reading was revised down).
    function issue(uint256 n) external keepsWorth {
        n = n % 2 == 0 ? 1 : 4;
        bytes32 id = keccak256(abi.encode("meter", n));
        try certs.issue(id, first / 12) {
            calls["issue"]++;
        } catch {
            return;
        }
        uint64 due;
        while (due < 12 && (uint256(first) + due + 1) * 300 + settlement.readingWindow() <= block.timestamp) {
            ++due;
        }
        (uint256 verified,) = settlement.verifiedExport(id, first, due);
        uint256 issued = certs.issued(certs.certificateId(uint32(n), first / 12)); // device n = meter n
        if (issued != verified && !ghostDownRevised) ghostSupplyMismatch = true;
    }

    function moveCertificates(uint256 from, uint256 to, uint256 n, uint256 wh, bool retire_)
        external
        keepsWorth
    {
        address a = actors[from % 3];
        uint256 id = certs.certificateId(n % 2 == 0 ? 1 : 4, first / 12); // the solar meters' devices
        uint256 held = certs.balanceOf(a, id);
        if (held == 0) return;
        wh = 1 + wh % held;
        vm.prank(a);
        if (retire_) certs.retire(id, wh, a, bytes32(uint256(1)));
        else certs.safeTransferFrom(a, actors[to % 3], id, wh, "");
        calls["certificates"]++;
    }
}

/// @notice Invariants of delivery settlement and certificates (256 runs x depth 100):
///         (a) the settlement's token balance is exactly the balances plus fees, and equals
///             what came in minus what went out;
///         (b) every account's money moved by exactly the change of its recorded amount (to
///             within one rounding unit) at every settle and resettle;
///         (c) no position is settled twice: recorded contracted + intents still held equals
///             what was minted, per account and interval;
///         (d) certificates: issued = held + retired per device-hour, never more than the
///             verified export, and equal to it right after every issuance (unless a certified
///             reading was revised down);
///         (e) no withdrawal takes more than the caller's balance, and a refused one moves nothing;
///         (f) exposure: a withdrawal succeeds exactly when the account has no debt and keeps
///             what its open positions and reserves need (an independent model of the rule);
///         (g) no account's worth (balance - debt + owed) changes except by its own imbalance
///             and its own deposits and withdrawals, and worth plus fees is conserved;
///         (h) credits repay debts first: no account still in debt is paid cash;
///         (i) readings of revoked gateway keys are never counted by settlement.
contract DeliveryInvariants is DeliveryFixture {
    DeliveryHandler internal handler;
    uint64 internal first;

    function setUp() public override {
        super.setUp();
        first = uint64(T0 / 3600 + 1) * 12;
        handler =
            new DeliveryHandler(settlement, certs, intents, token, MARKET, seq, first, ORACLE_PK, balancing);
        bytes32 role = intents.MARKET_ROLE();
        vm.prank(admin);
        intents.grantRole(role, address(handler));
        bytes32 minter = intents.MINTER_ROLE(); // the handler gives positions as claims would
        vm.prank(admin);
        intents.grantRole(minter, address(handler));
        handler.init(registry, registrar, pauser, admin);
        for (uint256 n = 1; n <= 4; ++n) {
            registerMeter(
                n,
                handler.actors((n - 1) % 3),
                n == 1 || n == 4 ? MeterRegistry.EnergySource.Solar : MeterRegistry.EnergySource.None
            );
        }
        vm.warp((uint256(first) + 1) * L);
        targetContract(address(handler));
    }

    function _sum() internal view returns (uint256 sum) {
        IERC20 t = IERC20(address(token));
        sum = settlement.fees(t) + settlement.balanceOf(t, balancing);
        for (uint256 k; k < 3; ++k) {
            sum += settlement.balanceOf(t, handler.actors(k));
        }
    }

    function invariant_a_moneyConserved() public view {
        uint256 held = token.balanceOf(address(settlement));
        vm.assertEq(held, _sum(), "token balance == balances + fees");
        vm.assertEq(held, handler.ghostIn() - handler.ghostOut(), "== deposits - withdrawals");
    }

    function invariant_b_amountsMoveMoney() public view {
        vm.assertFalse(handler.ghostAmountMismatch(), "an account's money moved by other than its amount");
    }

    function invariant_c_noDoubleSettlement() public view {
        for (uint64 i = first; i < first + handler.INTERVALS(); ++i) {
            for (uint256 k; k < 3; ++k) {
                address a = handler.actors(k);
                int256 held = int256(intents.balanceOf(a, tokenId(seq, i, 0)))
                    - int256(intents.balanceOf(a, tokenId(seq, i, 1)));
                int256 recorded = settlement.position(MARKET, i, a).contracted;
                vm.assertEq(recorded + held, handler.ghostMintedNet(i, a), "contracted + held == minted");
            }
        }
    }

    function invariant_e_noOverdraw() public view {
        vm.assertFalse(handler.ghostVaultBreach(), "a withdrawal took more than the caller's balance");
    }

    function invariant_f_exposureRule() public view {
        vm.assertFalse(handler.ghostExposureBreach(), "a withdrawal left an exposure uncovered");
        vm.assertFalse(handler.ghostWrongRefusal(), "a withdrawal the rule allows was refused");
    }

    function invariant_g_worthMovesOnlyByOwnActions() public view {
        vm.assertFalse(handler.ghostWorthLeak(), "an account's worth moved by another's action");
    }

    function invariant_h_creditsRepayDebtsFirst() public view {
        vm.assertFalse(handler.ghostDebtorPaidCash(), "a debtor was paid cash");
    }

    function invariant_i_revokedReadingsUnused() public view {
        vm.assertFalse(handler.ghostRevokedUsed(), "a revoked key's reading was counted");
    }

    function invariant_d_certificateSupply() public view {
        uint64 hour = first / 12;
        for (uint32 device = 1; device <= 4; device += 3) {
            // Meters 1 and 4 (devices 1 and 4, in registration order) are the solar generators.
            uint256 id = certs.certificateId(device, hour);
            uint256 sum = certs.retired(id);
            for (uint256 k; k < 3; ++k) {
                sum += certs.balanceOf(handler.actors(k), id);
            }
            vm.assertEq(certs.issued(id), sum, "issued == held + retired");
            vm.assertFalse(handler.ghostSupplyMismatch(), "after issuance, supply == verified export");
            if (!handler.ghostDownRevised()) {
                (uint256 verified,) = settlement.verifiedExport(meterId(device), hour * 12, 12);
                vm.assertLe(certs.issued(id), verified, "issued <= verified export");
            }
        }
    }

    /// Every invariant above in one campaign, so that a deep run (one million calls) checks all
    /// of them after every call: `FOUNDRY_INVARIANT_RUNS=1000 FOUNDRY_INVARIANT_DEPTH=1000 forge
    /// test --match-test invariant_all`.
    function invariant_all() public view {
        invariant_a_moneyConserved();
        invariant_b_amountsMoveMoney();
        invariant_c_noDoubleSettlement();
        invariant_e_noOverdraw();
        invariant_f_exposureRule();
        invariant_g_worthMovesOnlyByOwnActions();
        invariant_h_creditsRepayDebtsFirst();
        invariant_i_revokedReadingsUnused();
        invariant_d_certificateSupply();
    }
}
