// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "../utils/Fixture.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";

contract RefundTest is AuctionFixture {
    uint64 internal i;
    ISealgridAuction.CommitmentRecord internal ra;
    ISealgridAuction.CommitmentRecord internal rb;

    function setUp() public override {
        super.setUp();
        i = nextInterval();
        ra = commitRaw(alice, i, bytes32(uint256(1)), 70);
        rb = commitRaw(bob, i, bytes32(uint256(2)), 30);
    }

    function test_refund_afterMissedDeadline() public {
        vm.warp(gateOf(i) + WINDOW);
        auction.refund(MARKET, i, ra);
        vm.assertEq(auction.balanceOf(IERC20(address(token)), alice), 70, "lock back");
    }

    function test_refund_batchAfterVoid() public {
        vm.warp(gateOf(i) + WINDOW);
        auction.voidInterval(MARKET, i);
        ISealgridAuction.CommitmentRecord[] memory rs = new ISealgridAuction.CommitmentRecord[](2);
        rs[0] = ra;
        rs[1] = rb;
        auction.refundBatch(MARKET, i, rs);
        vm.assertEq(auction.balanceOf(IERC20(address(token)), alice), 70, "alice");
        vm.assertEq(auction.balanceOf(IERC20(address(token)), bob), 30, "bob");
    }

    function test_refund_revertsBeforeDeadline() public {
        vm.warp(gateOf(i) + WINDOW - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotRefundable.selector, i, ISealgridAuction.Status.Open
            )
        );
        auction.refund(MARKET, i, ra);
    }

    function test_refund_revertsWhenSettled() public {
        settleAt(i, 0, 0, words2(0, 0));
        vm.warp(gateOf(i) + WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotRefundable.selector, i, ISealgridAuction.Status.Settled
            )
        );
        auction.refund(MARKET, i, ra);
    }

    function test_refund_revertsTwice() public {
        vm.warp(gateOf(i) + WINDOW);
        auction.refund(MARKET, i, ra);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, ra.index));
        auction.refund(MARKET, i, ra);
    }

    function test_refund_worksWhilePaused() public {
        vm.prank(pauser);
        auction.pause();
        vm.warp(gateOf(i) + WINDOW);
        auction.refund(MARKET, i, ra);
        vm.prank(alice);
        auction.withdraw(IERC20(address(token)), alice, 70);
    }
}
