// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";

/// @notice Hole 2 of issue 17 (collateral escapes, debts never net), played as attacks on delivery
///         settlement: collateral withdrawn just before the reading deadline, a favourable
///         resettlement paid in cash to an account in debt, withdrawals while in debt, and a
///         position settled on an estimate emptied before its actual reading resettles it. On
///         today's code each attack leaves the balancing account (the market) with an unpaid debt;
///         after the fix nobody loses anything.
contract CollateralEscapeTest is DeliveryFixture {
    bytes4 internal constant LOCKED = bytes4(keccak256("SettlementCollateralLocked(uint256,uint256)"));
    bytes4 internal constant IN_DEBT = bytes4(keccak256("SettlementInDebt(bytes32,uint256)"));

    IERC20 internal tok;
    uint64 internal I;
    address internal dave = address(0xDA);

    function setUp() public override {
        super.setUp();
        tok = IERC20(address(token));
        I = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        registerMeter(2, bob, MeterRegistry.EnergySource.Solar);
        registerMeter(3, dave, MeterRegistry.EnergySource.None);
        collateral(balancing, 10_000e6);
    }

    /// The seller sold 20 kWh, delivers nothing and takes its collateral out one second before
    /// the reading deadline. Refused below the exposure (20 kWh at the cap); the charge is paid.
    function test_attack_withdrawJustBeforeTheDeadline_isRefused() public {
        collateral(bob, 1000e6);
        position(bob, I, 0, 20_000);
        vm.warp(endOf(I) + 10);
        submit(2, I, 0, 0, 0, 0); // delivered nothing
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW - 1);
        // Exposure: 20,000 Wh not delivered at the market's cap, 5,000,000 per kWh.
        uint256 need = 20_000 * uint256(int256(CAP)) / 1000;
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(LOCKED, 1000e6 - 1000e6, need));
        settlement.withdraw(tok, bob, 1000e6);
        vm.prank(bob);
        vm.expectPartialRevert(LOCKED);
        settlement.withdraw(tok, bob, 1000e6 - need + 1);
        // What exceeds the exposure is free.
        vm.prank(bob);
        settlement.withdraw(tok, bob, 1000e6 - need);
        vm.assertEq(bal(bob), need, "the exposure stays");
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 z0 = bal(balancing);
        settlement.settle(MARKET, I, one(bob));
        vm.assertEq(settlement.debtOf(MARKET, bob), 0, "no debt: the charge was backed");
        vm.assertEq(bal(balancing) - z0, 2_000_000, "the market is paid 20 kWh at 100 per kWh");
        vm.assertEq(bal(bob), need - 2_000_000, "bob paid it");
        // Settled on actual readings: the position no longer needs collateral.
        vm.prank(bob);
        settlement.withdraw(tok, bob, need - 2_000_000);
        _conserved();
    }

    /// A buyer whose bought intents would cost it money at a negative price is exposed too.
    function test_attack_boughtIntentsAtNegativePrices_areBackedByTheFloor() public {
        collateral(alice, 100e6);
        position(alice, I, 30_000, 0);
        vm.warp(endOf(I) + 10);
        uint256 need = 30_000 * uint256(-int256(FLOOR)) / 1000;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(LOCKED, 0, need));
        settlement.withdraw(tok, alice, 100e6);
        vm.prank(alice);
        settlement.withdraw(tok, alice, 100e6 - need);
        submit(1, I, 0, 0, 0, 0); // consumed nothing of the 30 kWh bought
        postPrice(I, FLOOR, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 z0 = bal(balancing);
        settlement.settle(MARKET, I, one(alice));
        vm.assertEq(settlement.debtOf(MARKET, alice), 0, "no debt");
        vm.assertEq(bal(balancing) - z0, need, "the market is paid for taking 30 kWh at the floor");
        _conserved();
    }

    /// Dave consumed 10 kWh he never bought and had 100 units: a debt. A favourable
    /// resettlement (the reading revised down) used to pay him cash while the debt stayed, and
    /// he could withdraw it. Now the credit repays the debt first and a debtor cannot withdraw.
    function test_attack_favourableResettlementOfADebtor_repaysTheDebtFirst() public {
        collateral(dave, 100);
        vm.warp(endOf(I) + 10);
        submit(3, I, 10_000, 0, 0, 0);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 z0 = bal(balancing);
        settlement.settle(MARKET, I, one(dave)); // owes 1,000,000, has 100
        vm.assertEq(settlement.debtOf(MARKET, dave), 999_900, "debt");
        // New money arrives for dave; he cannot take it out while in debt.
        collateral(dave, 5_000_000);
        vm.prank(dave);
        vm.expectRevert(abi.encodeWithSelector(IN_DEBT, MARKET, 999_900));
        settlement.withdraw(tok, dave, 1);
        // The meter's reading is corrected to 1 kWh: a credit of 900,000.
        submit(3, I, 1000, 0, 0, 1);
        settlement.resettle(MARKET, I, one(dave));
        vm.assertEq(settlement.debtOf(MARKET, dave), 99_900, "the credit went to the debt");
        vm.assertEq(bal(dave), 5_000_000, "no cash paid to a debtor");
        vm.prank(dave);
        vm.expectRevert(abi.encodeWithSelector(IN_DEBT, MARKET, 99_900));
        settlement.withdraw(tok, dave, 5_000_000);
        settlement.repay(MARKET, dave);
        vm.assertEq(settlement.debtOf(MARKET, dave), 0, "repaid");
        uint256 rest = bal(dave);
        vm.prank(dave);
        settlement.withdraw(tok, dave, rest);
        // The market received exactly dave's final charge: 1 kWh at 100 per kWh.
        vm.assertEq(bal(balancing) - z0, 100_000, "the market is whole");
        vm.assertEq(5_000_100 - 100_000, token.balanceOf(dave), "dave paid his final charge only");
        _conserved();
    }

    /// The mirror image: what the balancing account owes an account is set against the
    /// account's later charges before any money moves.
    function test_debitsAreSetAgainstAmountsOwed() public {
        vm.prank(balancing);
        settlement.withdraw(tok, balancing, 10_000e6);
        collateral(bob, 50e6);
        position(bob, I, 0, 10_000);
        vm.warp(endOf(I) + 10);
        submit(2, I, 0, 20_000, 0, 0); // over-delivered 10 kWh
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        settlement.settle(MARKET, I, one(bob));
        vm.assertEq(settlement.owedTo(MARKET, bob), 1_000_000, "the market owes bob");
        // The balancing account cannot withdraw while it owes.
        collateral(balancing, 10);
        vm.prank(balancing);
        vm.expectRevert(abi.encodeWithSelector(IN_DEBT, MARKET, 1_000_000));
        settlement.withdraw(tok, balancing, 10);
        // The export reading is corrected down to 14 kWh: bob owes back 600,000 of it.
        submit(2, I, 0, 14_000, 0, 1);
        uint256 b0 = bal(bob);
        settlement.resettle(MARKET, I, one(bob));
        vm.assertEq(settlement.owedTo(MARKET, bob), 400_000, "set against what is owed");
        vm.assertEq(bal(bob), b0, "no money moved");
        _conserved();
    }

    /// A position settled on an estimate is resettleable when the actual reading arrives: it
    /// keeps its exposure as a reserve until then (or until its true-up window closes), so the
    /// seller cannot empty its collateral and then post a reading that charges it more.
    function test_attack_estimatedPositionKeepsItsReserve() public {
        collateral(bob, 1000e6);
        vm.warp(endOf(I) + 10);
        submit(2, I - 1, 0, 25_000, 0, 0); // history: a strong interval before
        position(bob, I, 0, 20_000);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        settlement.settle(MARKET, I, one(bob)); // estimated at 25 kWh export: paid 5 kWh over
        uint256 need = 20_000 * uint256(int256(CAP)) / 1000;
        vm.assertEq(settlement.reserveOf(MARKET, I, bob), need, "reserved");
        vm.assertEq(settlement.reserved(MARKET, bob), need, "in total");
        (uint256 required, bool inDebt) = settlement.requiredCollateral(tok, bob);
        vm.assertEq(required, need, "what bob must keep");
        vm.assertFalse(inDebt, "no debt");
        uint256 free = bal(bob);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(LOCKED, 0, need));
        settlement.withdraw(tok, bob, free);
        vm.prank(bob);
        settlement.withdraw(tok, bob, free - need);
        // The actual reading: 2 kWh exported. Bob is charged 18 kWh plus the 5 kWh he was paid.
        submit(2, I, 0, 2000, 0, 0);
        uint256 z0 = bal(balancing);
        settlement.resettle(MARKET, I, one(bob));
        vm.assertEq(settlement.debtOf(MARKET, bob), 0, "backed by the reserve");
        vm.assertEq(bal(balancing) - z0, 2_300_000, "the market is paid the variance");
        vm.assertEq(settlement.reserved(MARKET, bob), 0, "released: no estimate any more");
        uint256 rest = bal(bob);
        vm.prank(bob);
        settlement.withdraw(tok, bob, rest);
        _conserved();
    }

    /// A reserve that no actual reading ever released is freed when the true-up window closes.
    function test_reserveIsReleasedWhenTheIntervalIsFinal() public {
        collateral(bob, 1000e6);
        position(bob, I, 0, 20_000);
        vm.warp(endOf(I) + 10);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        settlement.settle(MARKET, I, one(bob));
        vm.assertGt(settlement.reserved(MARKET, bob), 0, "reserved");
        vm.expectRevert(
            abi.encodeWithSelector(
                bytes4(keccak256("SettlementNotFinal(bytes32,uint64,uint256)")),
                MARKET,
                I,
                endOf(I) + TRUE_UP_WINDOW
            )
        );
        settlement.release(MARKET, I, one(bob));
        vm.warp(endOf(I) + TRUE_UP_WINDOW + 1);
        vm.assertEq(settlement.release(MARKET, I, one(bob)), 1, "released");
        vm.assertEq(settlement.reserved(MARKET, bob), 0, "nothing reserved");
        uint256 rest = bal(bob);
        vm.prank(bob);
        settlement.withdraw(tok, bob, rest);
        _conserved();
    }

    function _conserved() internal view {
        address[5] memory who = [alice, bob, carol, balancing, dave];
        uint256 sum = fees();
        for (uint256 k; k < who.length; ++k) {
            sum += bal(who[k]);
        }
        vm.assertEq(token.balanceOf(address(settlement)), sum, "balances + fees == token balance");
    }
}
