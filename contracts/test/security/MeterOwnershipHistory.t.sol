// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {DeliverySettlement} from "../../src/DeliverySettlement.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";

/// @notice Meter ownership has history (issue 17): a site changes hands after an interval was
///         settled; a corrected reading 30 days later resettles that interval. On today's code the
///         settlement asks for the meter's current owner: the old owner is paid back its whole
///         consumption as if it had none, and the new owner is charged for consumption before it
///         owned the site. Now the owner as of the interval settles it, at every resettlement.
contract MeterOwnershipHistoryTest is DeliveryFixture {
    uint64 internal I;
    address internal dave = address(0xDA);

    function setUp() public override {
        super.setUp();
        I = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        collateral(alice, 1000e6);
        collateral(dave, 1000e6);
        collateral(balancing, 10_000e6);
    }

    function test_attack_ownerChange_neverReassignsPastIntervals() public {
        position(alice, I, 10_000, 0);
        vm.warp(endOf(I) + 10);
        submit(1, I, 10_000, 0, 0, 0);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        settlement.settle(MARKET, I, one(alice));
        vm.assertEq(int256(settlement.position(MARKET, I, alice).amountMilli), 0, "balanced");
        // The site is sold to dave.
        vm.prank(registrar);
        registry.setOwner(meterId(1), dave);
        // 30 days later the reading is corrected to 12 kWh.
        vm.warp(endOf(I) + 30 days);
        submit(1, I, 12_000, 0, 0, 1);
        uint256 a0 = bal(alice);
        uint256 d0 = bal(dave);
        uint256 z0 = bal(balancing);
        settlement.resettle(MARKET, I, one(alice));
        settlement.settle(MARKET, I, one(dave)); // dave did not own the meter in interval I
        DeliverySettlement.Position memory p = settlement.position(MARKET, I, alice);
        vm.assertEq(int256(p.metered), 12_000, "alice's meter as of interval I");
        vm.assertEq(a0 - bal(alice), 200_000, "alice pays the 2 kWh correction");
        vm.assertEq(bal(dave), d0, "dave is not charged for alice's consumption");
        vm.assertEq(int256(settlement.position(MARKET, I, dave).metered), 0, "no meter of dave in I");
        vm.assertEq(bal(balancing) - z0, 200_000, "the market receives the correction only");
        // The registry answers the owner as of any time.
        vm.assertEq(registry.ownerAt(meterId(1), uint64(I) * L), alice, "owner of interval I");
        vm.assertEq(registry.ownerAt(meterId(1), uint64(block.timestamp)), dave, "owner now");
    }

    /// A change in the middle of an interval leaves that interval with the old owner; the next
    /// interval is the new owner's.
    function test_changeMidInterval_appliesFromTheNextInterval() public {
        uint64 j = I + 2;
        vm.warp(uint256(j) * L + 100); // inside interval j
        vm.prank(registrar);
        registry.setOwner(meterId(1), dave);
        vm.warp(endOf(j + 1) + 10);
        submit(1, j, 1000, 0, 0, 0);
        submit(1, j + 1, 2000, 0, 0, 0);
        postPrice(j, 100_000, 0);
        postPrice(j + 1, 100_000, 0);
        vm.warp(endOf(j + 1) + READING_WINDOW);
        settlement.settle(MARKET, j, one(alice));
        settlement.settle(MARKET, j, one(dave));
        settlement.settle(MARKET, j + 1, one(alice));
        settlement.settle(MARKET, j + 1, one(dave));
        vm.assertEq(int256(settlement.position(MARKET, j, alice).metered), 1000, "j is alice's");
        vm.assertEq(int256(settlement.position(MARKET, j, dave).metered), 0, "not dave's");
        vm.assertEq(int256(settlement.position(MARKET, j + 1, alice).metered), 0, "j + 1 is not alice's");
        vm.assertEq(int256(settlement.position(MARKET, j + 1, dave).metered), 2000, "j + 1 is dave's");
    }

    /// A meter that comes back to an earlier owner: each owner keeps exactly its own periods.
    function test_ownerAndBackAgain() public {
        vm.warp(uint256(I + 2) * L);
        vm.prank(registrar);
        registry.setOwner(meterId(1), dave);
        vm.warp(uint256(I + 4) * L);
        vm.prank(registrar);
        registry.setOwner(meterId(1), alice);
        vm.assertEq(registry.ownerAt(meterId(1), uint64(I + 1) * L), alice, "alice first");
        vm.assertEq(registry.ownerAt(meterId(1), uint64(I + 3) * L), dave, "dave in between");
        vm.assertEq(registry.ownerAt(meterId(1), uint64(I + 4) * L), alice, "alice again");
        (bytes32[] memory ids,) = registry.metersAt(alice, MARKET, uint64(I + 3) * L);
        vm.assertEq(ids.length, 0, "alice held nothing in between");
        (ids,) = registry.metersAt(dave, MARKET, uint64(I + 3) * L);
        vm.assertEq(ids.length, 1, "dave did");
        (ids,) = registry.metersAt(alice, MARKET, uint64(I + 5) * L);
        vm.assertEq(ids.length, 1, "alice again, listed once");
        vm.assertEq(registry.metersOf(alice, MARKET).length, 1, "current meters");
        vm.assertEq(registry.metersOf(dave, MARKET).length, 0, "dave holds none now");
    }
}
