// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {IEnergyIntentToken} from "../../src/interfaces/IEnergyIntentToken.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {tokenId} from "../../src/EnergyIntentToken.sol";

/// @notice Issue 17, hole 1: sold intents pushed onto a stranger. Delivery reads an account's
///         position from its intent balances; a seller that sold 1 kWh and delivered nothing tries
///         to push its sold intents (its delivery obligation) onto a collateralised stranger one
///         second before the reading deadline, and again before a resettlement 30 days later,
///         directly, through an approved operator and as a batch. On the old token every push
///         went through and the stranger was charged the seller's imbalance; now every push
///         reverts, the seller is charged its own imbalance and the stranger is charged nothing.
contract IntentTransferTest is DeliveryFixture {
    uint64 internal i;
    address internal mallory = address(0x3A11); // an operator the seller would approve
    uint256 internal soldId;
    uint256 internal boughtId;

    function setUp() public override {
        super.setUp();
        i = nextInterval();
        // An auction round: alice buys 1000 Wh from bob at 150 per kWh.
        ISealgridAuction.CommitmentRecord memory ra = commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3);
        ISealgridAuction.CommitmentRecord memory rb = commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        uint64[] memory w = words2(buyWord(1000), sellWord(1000));
        settleAt(i, 150_000, 1000, w);
        vm.warp(startOf(i));
        auction.claim(MARKET, i, claimOf(ra, w));
        auction.claim(MARKET, i, claimOf(rb, w));
        soldId = tokenId(seq, i, 1);
        boughtId = tokenId(seq, i, 0);
        // Meters: alice consumes, bob's generator exports nothing, carol (the stranger) is idle.
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        registerMeter(2, bob, MeterRegistry.EnergySource.Solar);
        registerMeter(3, carol, MeterRegistry.EnergySource.None);
        collateral(alice, 1000e6);
        collateral(bob, 1000e6);
        collateral(carol, 1000e6);
        collateral(balancing, 10_000e6);
        vm.warp(endOf(i) + 10);
        submit(1, i, 1000, 0, 0, 0);
        submit(2, i, 0, 0, 0, 0);
        submit(3, i, 0, 0, 0, 0);
        postPrice(i, 200_000, 0);
    }

    /// @dev Every way an ERC-1155 holder can move tokens, tried by bob (and an operator bob tried
    ///      to approve); each must revert with IntentNonTransferable and move nothing.
    function _pushEverything() internal {
        uint256 bobSold = intents.balanceOf(bob, soldId);
        uint256 carolSold = intents.balanceOf(carol, soldId);
        vm.startPrank(bob);
        vm.expectRevert(IEnergyIntentToken.IntentNonTransferable.selector);
        intents.safeTransferFrom(bob, carol, soldId, bobSold, "");
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        (ids[0], values[0]) = (soldId, bobSold);
        vm.expectRevert(IEnergyIntentToken.IntentNonTransferable.selector);
        intents.safeBatchTransferFrom(bob, carol, ids, values, "");
        vm.expectRevert(IEnergyIntentToken.IntentNonTransferable.selector);
        intents.setApprovalForAll(mallory, true);
        vm.stopPrank();
        vm.assertFalse(intents.isApprovedForAll(bob, mallory), "no approval exists");
        vm.prank(mallory);
        vm.expectRevert(IEnergyIntentToken.IntentNonTransferable.selector);
        intents.safeTransferFrom(bob, carol, soldId, bobSold, "");
        // A bought intent can be a liability too (at a negative real-time price): alice cannot
        // push hers either.
        vm.prank(alice);
        vm.expectRevert(IEnergyIntentToken.IntentNonTransferable.selector);
        intents.safeTransferFrom(alice, carol, boughtId, 1, "");
        vm.assertEq(intents.balanceOf(bob, soldId), bobSold, "bob still holds his obligation");
        vm.assertEq(intents.balanceOf(carol, soldId), carolSold, "nothing pushed onto carol");
    }

    function test_attack_pushSoldIntentsBeforeDeadline_andBeforeResettle() public {
        vm.assertEq(intents.balanceOf(bob, soldId), 1000, "bob sold 1000 Wh");
        // One second before the reading deadline.
        vm.warp(endOf(i) + READING_WINDOW - 1);
        _pushEverything();

        vm.warp(endOf(i) + READING_WINDOW);
        uint256 carol0 = bal(carol);
        uint256 bob0 = bal(bob);
        address[] memory accounts = new address[](3);
        (accounts[0], accounts[1], accounts[2]) = (alice, bob, carol);
        settlement.settle(MARKET, i, accounts);
        // bob sold 1000 Wh and delivered 0: imbalance +1 kWh at 200,000 per kWh.
        vm.assertEq(bob0 - bal(bob), 200_000, "the seller pays its own imbalance");
        vm.assertEq(bal(carol), carol0, "the stranger is charged nothing");
        vm.assertEq(int256(settlement.position(MARKET, i, carol).contracted), 0, "carol has no position");

        // 30 days later, before a resettlement (a revised price), the same push.
        vm.warp(endOf(i) + 30 days);
        _pushEverything();
        postPrice(i, 300_000, 1);
        settlement.resettle(MARKET, i, accounts);
        vm.assertEq(bob0 - bal(bob), 300_000, "the resettlement charges the seller");
        vm.assertEq(bal(carol), carol0, "and never the stranger");
        vm.assertEq(
            settlement.balanceOf(IERC20(address(token)), carol), carol0, "carol's collateral is whole"
        );
    }

    function test_attack_pushIntentsClaimedLate() public {
        // Intents minted after the deadline (a late claim) are as immovable as any other.
        uint64 j = i + 20;
        ISealgridAuction.CommitmentRecord memory rb = commitOrder(order(bob, j, 1, 500, 0, 2), 0);
        ISealgridAuction.CommitmentRecord memory ra = commitOrder(order(alice, j, 0, 500, 100_000, 2), 50e3);
        uint64[] memory w = words2(sellWord(500), buyWord(500));
        settleAt(j, 50_000, 500, w);
        vm.warp(endOf(j) + READING_WINDOW + 1 days);
        auction.claim(MARKET, j, claimOf(rb, w));
        auction.claim(MARKET, j, claimOf(ra, w));
        uint256 id = tokenId(seq, j, 1);
        vm.prank(bob);
        vm.expectRevert(IEnergyIntentToken.IntentNonTransferable.selector);
        intents.safeTransferFrom(bob, carol, id, 500, "");
        vm.assertEq(intents.balanceOf(carol, id), 0, "carol holds none");
        vm.assertEq(intents.balanceOf(bob, id), 500, "bob holds his");
    }
}
