// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {DeliverySettlement} from "../../src/DeliverySettlement.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";

/// @notice Hole 6 of issue 17 (one silent meter cancels an account's imbalance). A site with
///         two meters withholds the reading of the one that would charge it. On today's code the
///         whole account is deemed delivered (imbalance 0); now only the silent meter is
///         estimated (the worst of its own last hour, zero when it has none), the meters that
///         did report count, the position is flagged, and the actual reading resettles it to
///         exactly what an honest report would have settled. Withholding never pays.
contract SilentMeterTest is DeliveryFixture {
    uint64 internal I;

    function setUp() public override {
        super.setUp();
        I = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        registerMeter(2, bob, MeterRegistry.EnergySource.Solar); // bob's generator
        registerMeter(3, bob, MeterRegistry.EnergySource.None); // bob's load
        registerMeter(4, alice, MeterRegistry.EnergySource.None); // alice's second load
        collateral(alice, 1000e6);
        collateral(bob, 1000e6);
        collateral(balancing, 10_000e6);
    }

    function _pos(address a) internal view returns (DeliverySettlement.Position memory) {
        return settlement.position(MARKET, I, a);
    }

    /// Bob sold 20 kWh and exported 19; he withholds the generator's reading.
    function test_attack_withholdingTheChargingMeter_doesNotCancelTheImbalance() public {
        position(bob, I, 0, 20_000);
        vm.warp(endOf(I) + 10);
        submit(3, I, 300, 0, 0, 0); // the load reports
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 b0 = bal(bob);
        uint256 z0 = bal(balancing);
        settlement.settle(MARKET, I, one(bob));
        DeliverySettlement.Position memory p = _pos(bob);
        vm.assertEq(uint256(p.flags) & 2, 2, "flagged as an estimate");
        // The load counts (300 Wh); the generator has no history: estimated at zero export.
        vm.assertEq(int256(p.metered), 300, "present readings count, the silent meter is estimated");
        vm.assertEq(b0 - bal(bob), 2_030_000, "charged 20.3 kWh at 100 per kWh");
        // Honest: 300 - 19,000 = -18,700 against -20,000: 1,300 Wh short = 130,000.
        vm.assertGe(b0 - bal(bob), 130_000, "withholding costs more than reporting");
        // The actual reading arrives: resettled to exactly the honest outcome.
        submit(2, I, 0, 19_000, 0, 0);
        vm.assertEq(settlement.resettle(MARKET, I, one(bob)), 1, "resettled");
        p = _pos(bob);
        vm.assertEq(int256(p.metered), -18_700, "actual");
        vm.assertEq(uint256(p.flags), 1, "no longer an estimate");
        vm.assertEq(b0 - bal(bob), 130_000, "bob paid what an honest report costs");
        vm.assertEq(bal(balancing) - z0, 130_000, "the market received it");
    }

    /// With history, the estimate is the meter's worst interval of the last hour for its owner
    /// at the interval's price: at a positive price the least export.
    function test_attack_withholdingAPeak_isEstimatedFromTheMetersOwnHistory() public {
        vm.warp(endOf(I) + 10);
        submit(2, I - 2, 0, 19_500, 0, 0);
        submit(2, I - 1, 0, 18_000, 0, 0);
        submit(2, I - 3, 0, 21_000, 0, 0);
        position(bob, I, 0, 20_000);
        submit(3, I, 300, 0, 0, 0);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 b0 = bal(bob);
        settlement.settle(MARKET, I, one(bob));
        vm.assertEq(int256(_pos(bob).metered), 300 - 18_000, "the least export of the hour before");
        vm.assertEq(b0 - bal(bob), 230_000, "2.3 kWh short");
        // At a negative price the worst for a generator is the most export (it pays for it).
        submit(2, I, 0, 19_000, 0, 0);
        settlement.resettle(MARKET, I, one(bob));
        vm.assertEq(b0 - bal(bob), 130_000, "resettled to the actual");
    }

    function test_negativePrice_estimatesTheMostExport() public {
        vm.warp(endOf(I) + 10);
        submit(2, I - 1, 0, 18_000, 0, 0);
        submit(2, I - 2, 0, 25_000, 0, 0);
        position(bob, I, 0, 20_000);
        submit(3, I, 0, 0, 0, 0);
        postPrice(I, -40_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        settlement.settle(MARKET, I, one(bob));
        vm.assertEq(int256(_pos(bob).metered), -25_000, "the most export: worst at a negative price");
        vm.assertEq(int256(_pos(bob).amountMilli), 5000 * 40_000, "pays for 5 kWh of unwanted export");
    }

    /// Alice's second meter is silent: her first meter's 12.5 kWh still count.
    function test_attack_presentReadingsAlwaysCount() public {
        position(alice, I, 10_000, 0);
        vm.warp(endOf(I) + 10);
        submit(1, I, 12_500, 0, 0, 0);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 a0 = bal(alice);
        settlement.settle(MARKET, I, one(alice));
        vm.assertEq(int256(_pos(alice).metered), 12_500, "meter 1 counts, meter 4 estimated at zero");
        vm.assertEq(a0 - bal(alice), 250_000, "2.5 kWh over contract charged");
        submit(4, I, 500, 0, 0, 0);
        settlement.resettle(MARKET, I, one(alice));
        vm.assertEq(a0 - bal(alice), 300_000, "and the second meter's 0.5 kWh when it arrives");
        vm.assertEq(uint256(_pos(alice).flags), 1, "actual");
    }
}
