// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {DeliverySettlement, IDeliverySettlement} from "../../src/DeliverySettlement.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {ReadingLib} from "../../src/libraries/ReadingLib.sol";
import {tokenId} from "../../src/EnergyIntentToken.sol";

/// @notice Imbalance settlement, estimates, resettlement and the money rules.
contract SettleTest is DeliveryFixture {
    uint64 internal I;
    IERC20 internal tok;

    function setUp() public override {
        super.setUp();
        tok = IERC20(address(token));
        I = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None); // a consumer
        registerMeter(2, bob, MeterRegistry.EnergySource.Solar); // a generator
        registerMeter(3, bob, MeterRegistry.EnergySource.None); // bob's second meter
        collateral(alice, 1000e6);
        collateral(bob, 1000e6);
        collateral(balancing, 10_000e6);
        vm.warp(endOf(I) + 10);
    }

    function _due() internal {
        vm.warp(endOf(I) + READING_WINDOW);
    }

    function _pos(address a) internal view returns (DeliverySettlement.Position memory) {
        return settlement.position(MARKET, I, a);
    }

    function test_settle_chargesAndPaysImbalances() public {
        // alice bought 10 kWh and consumed 12.5 kWh; bob sold 20 kWh, exported 19 kWh net of 0.3 kWh load.
        position(alice, I, 10_000, 0);
        position(bob, I, 0, 20_000);
        submit(1, I, 12_500, 0, 0, 0);
        submit(2, I, 0, 19_000, 0, 0);
        submit(3, I, 300, 0, 0, 0);
        postPrice(I, 123_457, 0); // 123.457 units per kWh
        _due();
        uint256 a0 = bal(alice);
        uint256 b0 = bal(bob);
        uint256 z0 = bal(balancing);
        address[] memory both = new address[](2);
        (both[0], both[1]) = (alice, bob);
        vm.assertEq(settlement.settle(MARKET, I, both), 2, "settled two");
        // alice: imbalance +2,500 Wh -> pays ceil(2,500 * 123,457 / 1000) = 308,643 (308,642.5 up).
        DeliverySettlement.Position memory p = _pos(alice);
        vm.assertEq(int256(p.contracted), 10_000, "alice contracted");
        vm.assertEq(int256(p.metered), 12_500, "alice metered");
        vm.assertEq(int256(p.amountMilli), 2500 * 123_457, "alice amount");
        vm.assertEq(a0 - bal(alice), 308_643, "alice paid, rounded up");
        // bob: contracted -20,000, metered 300 - 19,000 = -18,700: imbalance +1,300 Wh (short delivery).
        p = _pos(bob);
        vm.assertEq(int256(p.metered), -18_700, "bob metered over both meters");
        vm.assertEq(b0 - bal(bob), 160_495, "bob paid 160,494.1 rounded up");
        // The balancing account receives the floors; the remainders are fees.
        vm.assertEq(bal(balancing) - z0, 308_642 + 160_494, "balancing account");
        vm.assertEq(fees(), 2, "two rounding units");
        // Intents are burned: the position cannot be settled again, by anyone.
        vm.assertEq(intents.balanceOf(alice, tokenId(seq, I, 0)), 0, "bought intents burned");
        vm.assertEq(intents.balanceOf(bob, tokenId(seq, I, 1)), 0, "sold intents burned");
        vm.assertEq(settlement.settle(MARKET, I, both), 0, "idempotent");
        _conserved();
    }

    function test_settle_overDeliveryIsPaid_andNegativePricesFlip() public {
        position(bob, I, 0, 10_000);
        submit(2, I, 0, 12_000, 0, 0);
        submit(3, I, 0, 0, 0, 0);
        postPrice(I, -40_000, 0); // surplus hour: exporting more costs money
        _due();
        uint256 b0 = bal(bob);
        settlement.settle(MARKET, I, one(bob));
        // imbalance -2,000 Wh at -40,000 per kWh: amount +80,000,000 milli = bob pays 80,000.
        vm.assertEq(int256(_pos(bob).amountMilli), 80_000_000, "amount");
        vm.assertEq(b0 - bal(bob), 80_000, "bob pays for unwanted export");
        _conserved();
    }

    function test_settle_virtualTraderClosesOut_atTheRealTimePrice() public {
        position(carol, I, 5000, 0); // carol has no meter in the market
        collateral(carol, 1e6);
        postPrice(I, 50_000, 0);
        _due();
        uint256 c0 = bal(carol);
        settlement.settle(MARKET, I, one(carol));
        // metered 0, contracted 5,000: imbalance -5,000 Wh sold back at 50,000 per kWh.
        vm.assertEq(int256(_pos(carol).metered), 0, "no meters");
        vm.assertEq(bal(carol) - c0, 250_000, "paid back");
        vm.assertEq(uint256(_pos(carol).flags), 1, "settled, not an estimate");
    }

    /// A buyer's only meter is silent and has no history: deemed delivery (the worse for the
    /// buyer than a zero reading, which would credit the energy it bought; see SilentMeter.t.sol).
    function test_missingReading_settlesOnDeemedDelivery_thenResettles() public {
        position(alice, I, 10_000, 0);
        postPrice(I, 100_000, 0);
        // Not due yet.
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.SettlementNotDue.selector, MARKET, I, endOf(I) + READING_WINDOW
            )
        );
        settlement.settle(MARKET, I, one(alice));
        _due();
        uint256 a0 = bal(alice);
        settlement.settle(MARKET, I, one(alice));
        DeliverySettlement.Position memory p = _pos(alice);
        vm.assertEq(int256(p.metered), 10_000, "deemed delivery");
        vm.assertEq(uint256(p.flags), 3, "settled on an estimate");
        vm.assertEq(bal(alice), a0, "no imbalance charged");
        // Nothing changed yet: resettle is a no-op.
        vm.assertEq(settlement.resettle(MARKET, I, one(alice)), 0, "unchanged");
        // The actual reading arrives late: 11,000 Wh.
        submit(1, I, 11_000, 0, 0, 0);
        vm.assertEq(settlement.resettle(MARKET, I, one(alice)), 1, "resettled");
        p = _pos(alice);
        vm.assertEq(int256(p.metered), 11_000, "actual");
        vm.assertEq(uint256(p.flags), 1, "actual now");
        vm.assertEq(a0 - bal(alice), 100_000, "variance charged: 1,000 Wh at 100/kWh");
        // A corrected reading (revision 1) and a revised price.
        submit(1, I, 10_500, 0, 0, 1);
        postPrice(I, 120_000, 1);
        vm.assertEq(settlement.resettle(MARKET, I, one(alice)), 1, "resettled again");
        vm.assertEq(int256(_pos(alice).amountMilli), 500 * 120_000, "amount on the latest data");
        vm.assertEq(a0 - bal(alice), 60_000, "net charge after both variances");
        _conserved();
        // After the true-up window the interval is final.
        vm.warp(endOf(I) + TRUE_UP_WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.SettlementFinal.selector, MARKET, I, endOf(I) + TRUE_UP_WINDOW
            )
        );
        settlement.resettle(MARKET, I, one(alice));
    }

    function test_lateClaimedIntents_areAbsorbedByResettlement() public {
        submit(1, I, 10_000, 0, 0, 0);
        postPrice(I, 100_000, 0);
        _due();
        settlement.settle(MARKET, I, one(alice)); // no position yet: pays 10 kWh of imbalance
        uint256 a0 = bal(alice);
        position(alice, I, 10_000, 0); // the claim lands after settlement
        vm.assertEq(settlement.resettle(MARKET, I, one(alice)), 1, "resettled");
        vm.assertEq(int256(_pos(alice).contracted), 10_000, "contracted now");
        vm.assertEq(bal(alice) - a0, 1_000_000, "imbalance refunded");
        vm.assertEq(intents.balanceOf(alice, tokenId(seq, I, 0)), 0, "burned");
        _conserved();
    }

    function test_estimatedQuality_isFlagged() public {
        submit(1, I, 10_000, 0, ReadingLib.ESTIMATED, 0);
        postPrice(I, 1, 0);
        _due();
        settlement.settle(MARKET, I, one(alice));
        vm.assertEq(uint256(_pos(alice).flags), 1 | 4, "not actual");
    }

    function test_settle_needsAPrice_andAKnownMarket() public {
        _due();
        vm.expectRevert(abi.encodeWithSelector(IDeliverySettlement.SettlementNoPrice.selector, MARKET, I));
        settlement.settle(MARKET, I, one(alice));
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.SettlementUnknownMarket.selector, bytes32(0))
        );
        settlement.settle(bytes32(0), I, one(alice));
    }

    function test_shortfalls_becomeDebts_andAreRepaid() public {
        address dave = address(0xDA);
        registerMeter(4, dave, MeterRegistry.EnergySource.None); // dave has 100 units of collateral
        collateral(dave, 100);
        submit(4, I, 10_000, 0, 0, 0);
        postPrice(I, 100_000, 0);
        _due();
        settlement.settle(MARKET, I, one(dave)); // owes 1,000,000
        vm.assertEq(bal(dave), 0, "took everything");
        vm.assertEq(settlement.debtOf(MARKET, dave), 999_900, "debt");
        uint256 z0 = bal(balancing);
        collateral(dave, 2_000_000);
        vm.assertEq(settlement.repay(MARKET, dave), 999_900, "repaid");
        vm.assertEq(bal(balancing) - z0, 999_900, "to the balancing account");
        vm.assertEq(settlement.debtOf(MARKET, dave), 0, "clear");
        vm.assertEq(settlement.repay(MARKET, dave), 0, "nothing more");
        _conserved();
    }

    function test_balancingShortfall_isOwed_andCollected() public {
        vm.prank(balancing);
        settlement.withdraw(tok, balancing, 10_000e6 - 10);
        position(bob, I, 0, 10_000);
        submit(2, I, 0, 20_000, 0, 0);
        submit(3, I, 0, 0, 0, 0);
        postPrice(I, 100_000, 0);
        _due();
        uint256 b0 = bal(bob);
        settlement.settle(MARKET, I, one(bob)); // balancing owes bob 1,000,000, has 10
        vm.assertEq(bal(bob) - b0, 10, "what there was");
        vm.assertEq(settlement.owedTo(MARKET, bob), 999_990, "owed");
        collateral(balancing, 5_000_000);
        vm.assertEq(settlement.collectOwed(MARKET, bob), 999_990, "collected");
        vm.assertEq(bal(bob) - b0, 1_000_000, "paid in full");
        _conserved();
    }

    function test_collateral_depositWithdraw_andAdmin() public {
        vm.expectRevert(IDeliverySettlement.SettlementZeroAmount.selector);
        settlement.deposit(tok, alice, 0);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.SettlementInsufficientBalance.selector, 1000e6, 1000e6 + 1
            )
        );
        settlement.withdraw(tok, alice, 1000e6 + 1);
        uint256 w0 = token.balanceOf(alice);
        vm.prank(alice);
        settlement.withdraw(tok, alice, 1e6);
        vm.assertEq(token.balanceOf(alice) - w0, 1e6, "withdrawn");
        vm.expectRevert(abi.encodeWithSelector(IDeliverySettlement.SettlementInvalidWindows.selector, 10, 10));
        vm.prank(admin);
        settlement.setWindows(10, 10);
        vm.expectPartialRevert(bytes4(keccak256("AccessControlUnauthorizedAccount(address,bytes32)")));
        settlement.setWindows(10, 20);
        vm.expectPartialRevert(bytes4(keccak256("AccessControlUnauthorizedAccount(address,bytes32)")));
        settlement.configureMarket(MARKET, alice, alice);
        _conserved();
    }

    /// @dev Money: the token balance is exactly the balances plus fees.
    function _conserved() internal view {
        address[5] memory who = [alice, bob, carol, balancing, address(0xDA)];
        uint256 sum = fees();
        for (uint256 k; k < who.length; ++k) {
            sum += bal(who[k]);
        }
        vm.assertEq(token.balanceOf(address(settlement)), sum, "balances + fees == token balance");
    }
}
