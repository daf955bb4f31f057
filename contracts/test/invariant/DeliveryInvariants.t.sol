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
///         revisions, prices, positions, settlements, resettlements, collateral moves, debt
///         collection, issuance, transfers, retirements and time.
contract DeliveryHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    DeliverySettlement public immutable settlement;
    GranularCertificates public immutable certs;
    EnergyIntentToken public immutable intents;
    MockERC20 public immutable token;
    bytes32 public immutable market;
    uint32 public immutable seq;
    uint64 public immutable first; // first interval driven (the start of an hour)
    uint256 internal immutable oraclePk;
    address public immutable balancing;

    uint64 public constant INTERVALS = 6;
    address[3] public actors = [address(0x1001), address(0x1002), address(0x1003)];

    // Ghosts.
    uint256 public ghostIn;
    uint256 public ghostOut;
    bool public ghostAmountMismatch;
    bool public ghostDownRevised;
    bool public ghostSupplyMismatch;
    bool public ghostVaultBreach;
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
    }

    function _sign(uint256 pk, bytes32 digest) internal pure returns (ReadingLib.Signature memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return ReadingLib.Signature({r: r, vs: bytes32(uint256(s) | (uint256(v - 27) << 255))});
    }

    /// Meter n (1..4) of actor (n - 1) % 3; meters 1 and 4 are solar generators.
    function reading(uint256 n, uint256 di, uint64 imp, uint64 exp, uint8 quality, bool bump) external {
        n = 1 + n % 4;
        uint64 i = first + uint64(di % INTERVALS);
        bytes32 id = keccak256(abi.encode("meter", n));
        (bool present,, uint64 oldExp, uint8 oldQuality, uint32 rev,) = settlement.reading(id, i);
        if (present && !bump) return;
        ReadingLib.MeterReading memory r = ReadingLib.MeterReading({
            meterId: id,
            interval: i,
            importWh: imp % 50_000,
            exportWh: exp % 50_000,
            quality: quality % 3,
            revision: present ? rev + 1 : 0
        });
        ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        rs[0] = r;
        ss[0] = _sign(0x6A7E000 + n, settlement.readingDigest(r));
        try settlement.submitReadings(rs, ss) {
            if (present && oldQuality == 0 && (r.quality != 0 || r.exportWh < oldExp)) {
                ghostDownRevised = true;
            }
            calls["reading"]++;
        } catch {}
    }

    function price(uint256 di, int64 p, bool bump) external {
        uint64 i = first + uint64(di % INTERVALS);
        (bool present,, uint32 rev,) = settlement.price(market, i);
        if (present && !bump) return;
        ReadingLib.RealTimePrice[] memory ps = new ReadingLib.RealTimePrice[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        ps[0] = ReadingLib.RealTimePrice({
            market: market, interval: i, price: p % 2_000_000, revision: present ? rev + 1 : 0
        });
        ss[0] = _sign(oraclePk, settlement.priceDigest(ps[0]));
        try settlement.submitPrices(ps, ss) {
            calls["price"]++;
        } catch {}
    }

    function position(uint256 a, uint256 di, uint64 bought, uint64 sold) external {
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
    function settleAll(uint256 di, bool again) external {
        uint64 i = first + uint64(di % INTERVALS);
        address[] memory all = new address[](3);
        int256[3] memory worth;
        int256[3] memory amount;
        for (uint256 k; k < 3; ++k) {
            all[k] = actors[k];
            worth[k] = _worth(all[k]);
            amount[k] = settlement.position(market, i, all[k]).amountMilli;
        }
        bool ok;
        if (again) {
            try settlement.resettle(market, i, all) {
                ok = true;
            } catch {}
        } else {
            try settlement.settle(market, i, all) {
                ok = true;
            } catch {}
        }
        if (!ok) return;
        calls[again ? bytes32("resettle") : bytes32("settle")]++;
        for (uint256 k; k < 3; ++k) {
            int256 delta = int256(settlement.position(market, i, all[k]).amountMilli) - amount[k];
            int256 moved = (_worth(all[k]) - worth[k]) * 1000;
            // The account's worth (balance - debt + owed) changes by -delta / 1000 to within the
            // rounding unit (against the account when paid in full, for it when short).
            if (moved >= -delta + 1000 || moved <= -delta - 1000) ghostAmountMismatch = true;
        }
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + dt % 4000);
    }

    function deposit(uint256 a, uint256 amount) external {
        amount = 1 + amount % 1e9;
        address who = a % 4 == 3 ? balancing : actors[a % 3];
        token.mint(address(this), amount);
        settlement.deposit(IERC20(address(token)), who, amount);
        ghostIn += amount;
    }

    function withdraw(uint256 a, uint256 amount) external {
        address who = a % 4 == 3 ? balancing : actors[a % 3];
        uint256 bal = settlement.balanceOf(IERC20(address(token)), who);
        if (bal == 0) return;
        amount = 1 + amount % bal;
        vm.prank(who);
        settlement.withdraw(IERC20(address(token)), who, amount);
        ghostOut += amount;
    }

    /// Attacks the collateral vault: an account withdraws more than its own balance (another
    /// account's collateral on top); it must revert and move nothing (property e).
    function overdraw(uint256 a, uint256 v, uint256 extra) external {
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

    function collect(uint256 a) external {
        address who = actors[a % 3];
        settlement.repay(market, who);
        settlement.collectOwed(market, who);
        calls["collect"]++;
    }

    /// Issues certificates; right after, the device-hour's supply must equal the verified export
    /// of the hour's due intervals (unless a certified reading was revised down).
    function issue(uint256 n) external {
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

    function moveCertificates(uint256 from, uint256 to, uint256 n, uint256 wh, bool retire_) external {
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
///         (e) no withdrawal takes more than the caller's balance, and a refused one moves nothing.
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
}
