// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {AuctionFixture} from "../utils/Fixture.sol";
import {vmx} from "../utils/VmExtra.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {tokenId} from "../../src/EnergyIntentToken.sol";

/// @notice TEST ONLY: a smart-contract trader (a wallet, a vault) that implements no ERC-1155
///         receiver hook at all.
contract NoReceiverTrader {}

/// @notice TEST ONLY: a trader that reverts in every callback anyone could make to it: both
///         ERC-1155 receiver hooks, plain ether and any other call.
contract HostileTrader {
    error Hostile();

    function onERC1155Received(address, address, uint256, uint256, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        revert Hostile();
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        revert Hostile();
    }

    receive() external payable {
        revert Hostile();
    }

    fallback() external payable {
        revert Hostile();
    }
}

/// @notice Issue 17, hole 7: claims that can be blocked. On the old code the intent mint ran the
///         ERC-1155 acceptance check, so a contract trader without `onERC1155Received` could never
///         claim (its lock stuck forever), and one such trader, or one that reverts in the hook,
///         made the operator's whole `claimBatch` revert for every honest trader in it. Now the
///         mint runs no callback and a batch skips (with an event) what it cannot claim: everyone
///         is paid, the contract traders included, and nobody's money moves twice.
contract ClaimBlockingTest is AuctionFixture {
    uint64 internal i;
    address internal noReceiver;
    address internal hostile;
    uint64[] internal w;
    ISealgridAuction.CommitmentRecord[] internal rs;

    function setUp() public override {
        super.setUp();
        noReceiver = address(new NoReceiverTrader());
        hostile = address(new HostileTrader());
        fund(noReceiver, 1e12);
        fund(hostile, 1e12);
        i = nextInterval();
        // Buyers alice and the receiver-less contract, sellers bob and the hostile contract.
        rs.push(commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3));
        rs.push(commitOrder(order(noReceiver, i, 0, 1000, 200_000, 1), 200e3));
        rs.push(commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0));
        rs.push(commitOrder(order(hostile, i, 1, 1000, 100_000, 1), 0));
        rs.push(commitOrder(order(carol, i, 0, 500, 50_000, 1), 25e3)); // excluded
        w = new uint64[](5);
        (w[0], w[1], w[2], w[3], w[4]) =
        (buyWord(1000), buyWord(1000), sellWord(1000), sellWord(1000), excludedWord());
        settleAt(i, 150_000, 2000, w);
        vm.warp(startOf(i));
    }

    function _free(address who) internal view returns (uint256) {
        return auction.balanceOf(IERC20(address(token)), who);
    }

    function test_attack_contractTradersInOperatorBatch_everyoneIsPaid() public {
        uint256 held = token.balanceOf(address(auction));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](5);
        for (uint256 k; k < 5; ++k) {
            cs[k] = claimOf(rs[k], w);
        }
        vm.prank(operator);
        auction.claimBatch(MARKET, i, cs);
        // 1000 Wh at 150,000 per kWh = 150,000 base units each way.
        vm.assertEq(_free(alice), 200e3 - 150_000, "alice paid");
        vm.assertEq(_free(noReceiver), 200e3 - 150_000, "the receiver-less contract paid");
        vm.assertEq(_free(bob), 150_000, "bob was paid");
        vm.assertEq(_free(hostile), 150_000, "the hostile contract was paid");
        vm.assertEq(_free(carol), 25e3, "carol's lock back");
        vm.assertEq(intents.balanceOf(noReceiver, tokenId(1, i, 0)), 1000, "intents minted without a hook");
        vm.assertEq(intents.balanceOf(hostile, tokenId(1, i, 1)), 1000, "intents minted, hook never called");
        (int128 pool,) = auction.ledger(IERC20(address(token)));
        vm.assertEq(int256(pool), 0, "the interval paid out what it collected");
        vm.assertEq(token.balanceOf(address(auction)), held, "claims moved no tokens");
        for (uint256 k; k < 5; ++k) {
            vm.assertFalse(auction.isOutstanding(MARKET, i, rs[k]), "every record consumed");
        }
    }

    function test_attack_contractTraderClaimsItself() public {
        vm.prank(noReceiver);
        auction.claim(MARKET, i, claimOf(rs[1], w));
        vm.prank(hostile);
        auction.claim(MARKET, i, claimOf(rs[3], w));
        vm.assertEq(_free(noReceiver), 200e3 - 150_000, "claimed its own fill");
        vm.assertEq(_free(hostile), 150_000, "claimed its own fill");
        // And takes its money out.
        vm.prank(noReceiver);
        auction.withdraw(IERC20(address(token)), noReceiver, 50_000);
        vm.assertEq(_free(noReceiver), 0, "withdrawn");
    }

    function test_attack_batchWithConsumedAndForgedItems_neverReverts() public {
        // hostile claims first; a forged item (carol claims a buy she never got) and a duplicate
        // sit in the operator's batch with the honest traders.
        vm.prank(hostile);
        auction.claim(MARKET, i, claimOf(rs[3], w));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](6);
        cs[0] = claimOf(rs[3], w); // consumed already
        cs[1] = claimOf(rs[4], w);
        cs[1].word = buyWord(500); // forged fill
        cs[2] = claimOf(rs[0], w);
        cs[3] = claimOf(rs[1], w);
        cs[4] = claimOf(rs[2], w);
        cs[5] = claimOf(rs[0], w); // duplicate
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.ClaimSkipped(MARKET, i, rs[3].index, ISealgridAuction.SkipReason.RecordMismatch);
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.ClaimSkipped(
            MARKET, i, rs[4].index, ISealgridAuction.SkipReason.InvalidFillProof
        );
        vm.prank(operator);
        auction.claimBatch(MARKET, i, cs);
        vm.assertEq(_free(alice), 200e3 - 150_000, "alice paid once");
        vm.assertEq(_free(noReceiver), 200e3 - 150_000, "contract paid once");
        vm.assertEq(_free(bob), 150_000, "bob paid");
        vm.assertEq(_free(hostile), 150_000, "hostile paid once");
        vm.assertTrue(auction.isOutstanding(MARKET, i, rs[4]), "the forged item changed nothing");
        auction.claim(MARKET, i, claimOf(rs[4], w));
        vm.assertEq(_free(carol), 25e3, "carol claims with her real word");
        (int128 pool,) = auction.ledger(IERC20(address(token)));
        vm.assertEq(int256(pool), 0, "pool clears");
    }

    function test_attack_refundBatchWithContractTraders_andConsumedItems() public {
        // A voided interval: every lock is refundable, and a consumed item cannot fail the batch.
        uint64 j = i + 2; // the next gate still open
        ISealgridAuction.CommitmentRecord[] memory rr = new ISealgridAuction.CommitmentRecord[](4);
        rr[0] = commitOrder(order(noReceiver, j, 0, 10, 100, 1), 7);
        rr[1] = commitOrder(order(hostile, j, 1, 10, 100, 1), 9);
        rr[2] = commitOrder(order(alice, j, 0, 10, 100, 2), 11);
        rr[3] = rr[0]; // a duplicate
        vm.warp(gateOf(j) + WINDOW);
        vm.prank(hostile);
        auction.refund(MARKET, j, rr[1]); // refunded itself first
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.RefundSkipped(
            MARKET, j, rr[1].index, ISealgridAuction.SkipReason.RecordMismatch
        );
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.RefundSkipped(
            MARKET, j, rr[0].index, ISealgridAuction.SkipReason.RecordMismatch
        );
        auction.refundBatch(MARKET, j, rr);
        vm.assertEq(_free(noReceiver), 7, "refunded once");
        vm.assertEq(_free(hostile), 9, "refunded once");
        vm.assertEq(_free(alice), 11, "refunded");
    }
}
