// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "../utils/Fixture.sol";
import {FeeOnTransferERC20} from "../utils/Mocks.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

contract CommitTest is AuctionFixture {
    /// Each accumulator step keeps the hash's low 224 bits (docs/encoding.md).
    uint256 internal constant ACC_MASK = (uint256(1) << 224) - 1;

    function test_commit_pullsLockAndAppends() public {
        uint64 i = nextInterval();
        uint256 before = token.balanceOf(alice);
        ISealgridAuction.CommitmentRecord memory r = commitOrder(order(alice, i, 0, 1000, 100_000, 1), 100e6);
        vm.assertEq(r.index, 0, "index");
        vm.assertEq(before - token.balanceOf(alice), 100e6, "pulled");
        (uint256 acc, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(count, 1, "count");
        vm.assertEq(
            acc,
            poseidonT4.hash(
                [uint256(0), uint256(r.commitment), uint256(uint160(alice)) | (uint256(100e6) << 160)]
            ) & ACC_MASK,
            "accumulator binds the commitment, the committer and the lock (low 224 bits)"
        );
        vm.assertTrue(auction.isOutstanding(MARKET, i, r), "outstanding");
    }

    function test_commit_accumulatorChainsInOrder() public {
        uint64 i = nextInterval();
        ISealgridAuction.CommitmentRecord memory a = commitRaw(alice, i, bytes32(uint256(11)), 1);
        ISealgridAuction.CommitmentRecord memory b = commitRaw(bob, i, bytes32(uint256(22)), 1);
        vm.assertEq(b.index, 1, "second index");
        (uint256 acc,,,,,) = auction.getInterval(MARKET, i);
        uint256 first = poseidonT4.hash(
            [uint256(0), uint256(a.commitment), uint256(uint160(alice)) | (1 << 160)]
        ) & ACC_MASK;
        uint256 expected =
            poseidonT4.hash([first, uint256(22), uint256(uint160(bob)) | (1 << 160)]) & ACC_MASK;
        vm.assertEq(acc, expected, "acc");
    }

    /// The same commitment copied by another account, or committed with another lock, moves the
    /// accumulator elsewhere: the proof can tell who committed what with which lock (hole 3).
    function test_commit_accumulatorBindsCommitterAndLock() public {
        uint64 i = nextInterval();
        commitRaw(alice, i, bytes32(uint256(11)), 5);
        (uint256 accAlice,,,,,) = auction.getInterval(MARKET, i);
        uint64 j = i + 1;
        commitRaw(bob, j, bytes32(uint256(11)), 5);
        (uint256 accBob,,,,,) = auction.getInterval(MARKET, j);
        vm.assertTrue(accAlice != accBob, "the committer is bound");
        uint64 k = i + 2;
        commitRaw(alice, k, bytes32(uint256(11)), 6);
        (uint256 accRelocked,,,,,) = auction.getInterval(MARKET, k);
        vm.assertTrue(accAlice != accRelocked, "the lock is bound");
    }

    function test_commit_refusesLockAboveTheBindableMaximum() public {
        uint64 i = nextInterval();
        uint128 tooMuch = uint128(1) << 93;
        token.mint(alice, tooMuch);
        vm.startPrank(alice);
        token.approve(address(auction), tooMuch);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionLockTooLarge.selector, uint256(tooMuch), uint256(tooMuch) - 1
            )
        );
        auction.commit(MARKET, i, bytes32(uint256(1)), tooMuch);
        vm.stopPrank();
    }

    function test_commit_usesFreeBalanceFirst() public {
        uint64 i = nextInterval();
        vm.prank(alice);
        auction.deposit(IERC20(address(token)), alice, 60e6);
        uint256 before = token.balanceOf(alice);
        commitRaw(alice, i, bytes32(uint256(1)), 100e6);
        vm.assertEq(auction.balanceOf(IERC20(address(token)), alice), 0, "free balance used");
        vm.assertEq(before - token.balanceOf(alice), 40e6, "only the rest pulled");
        commitRaw(alice, i, bytes32(uint256(2)), 0);
    }

    function test_commit_revertsUnknownMarket() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionUnknownMarket.selector, bytes32(uint256(7)))
        );
        auction.commit(bytes32(uint256(7)), nextInterval(), bytes32(uint256(1)), 1);
    }

    function test_commit_revertsAtGate() public {
        uint64 i = nextInterval();
        vm.warp(gateOf(i));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionGateClosed.selector, i, gateOf(i)));
        auction.commit(MARKET, i, bytes32(uint256(1)), 1);
    }

    function test_commit_revertsForEarlyIntervals() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionGateClosed.selector, uint64(1), 0));
        auction.commit(MARKET, 1, bytes32(uint256(1)), 1);
    }

    function test_commit_revertsBeyondHorizon() public {
        uint64 i = nextInterval() + uint64(HORIZON / L) + 1;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionBeyondHorizon.selector, i, gateOf(i)));
        auction.commit(MARKET, i, bytes32(uint256(1)), 1);
    }

    function test_commit_revertsFieldOverflow() public {
        uint256 r = OrderLib.FIELD_MODULUS;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionFieldOverflow.selector, r));
        auction.commit(MARKET, nextInterval(), bytes32(r), 1);
    }

    function test_commit_revertsWhenClosed() public {
        vm.prank(admin);
        auction.closeMarket(MARKET);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionMarketClosed.selector, MARKET));
        auction.commit(MARKET, nextInterval(), bytes32(uint256(1)), 1);
    }

    function test_commit_revertsWhenPaused() public {
        vm.prank(pauser);
        auction.pause();
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        auction.commit(MARKET, nextInterval(), bytes32(uint256(1)), 1);
    }

    function test_commit_revertsWhenFull() public {
        ISealgridAuction.MarketParams memory p = params();
        p.maxCommitments = 2;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        uint64 i = nextInterval();
        commitRaw(alice, i, bytes32(uint256(1)), 1);
        commitRaw(alice, i, bytes32(uint256(2)), 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionIntervalFull.selector, i, uint256(2)));
        auction.commit(MARKET, i, bytes32(uint256(3)), 1);
    }

    function test_commit_revertsOnFeeOnTransferToken() public {
        FeeOnTransferERC20 fot = new FeeOnTransferERC20();
        ISealgridAuction.MarketParams memory p = params();
        p.token = IERC20(address(fot));
        bytes32 m2 = bytes32(uint256(0xFEE));
        vm.prank(admin);
        auction.createMarket(m2, p);
        fot.mint(alice, 1000);
        vm.startPrank(alice);
        fot.approve(address(auction), 1000);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionTransferMismatch.selector, 1000, 990));
        auction.commit(m2, nextInterval(), bytes32(uint256(1)), 1000);
        vm.stopPrank();
    }

    function testFuzz_commit_locksExactly(uint128 lock, uint128 deposited) public {
        lock = uint128(bound(lock, 0, 1e15));
        deposited = uint128(bound(deposited, 0, 1e14));
        if (deposited > 0) {
            vm.prank(alice);
            auction.deposit(IERC20(address(token)), alice, deposited);
        }
        uint256 total = token.balanceOf(alice) + auction.balanceOf(IERC20(address(token)), alice);
        commitRaw(alice, nextInterval(), bytes32(uint256(5)), lock);
        uint256 after_ = token.balanceOf(alice) + auction.balanceOf(IERC20(address(token)), alice);
        vm.assertEq(total - after_, lock, "exactly the lock left the trader");
    }

    // ---- withdrawCommitment ----

    function test_withdrawCommitment_returnsLockAndMarks() public {
        uint64 i = nextInterval();
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(9)), 50);
        vm.prank(alice);
        auction.withdrawCommitment(MARKET, i, r);
        vm.assertEq(auction.balanceOf(IERC20(address(token)), alice), 50, "lock back");
        vm.assertTrue(auction.isWithdrawn(MARKET, i, r.index), "withdrawn bit");
        vm.assertFalse(auction.isOutstanding(MARKET, i, r), "record consumed");
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(count, 1, "commitment stays in sequence");
    }

    function test_withdrawCommitment_revertsForOthers() public {
        uint64 i = nextInterval();
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(9)), 50);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNotTrader.selector, bob, alice));
        auction.withdrawCommitment(MARKET, i, r);
    }

    function test_withdrawCommitment_revertsAfterGate() public {
        uint64 i = nextInterval();
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(9)), 50);
        vm.warp(gateOf(i));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionGateClosed.selector, i, gateOf(i)));
        auction.withdrawCommitment(MARKET, i, r);
    }

    function test_withdrawCommitment_revertsTwice() public {
        uint64 i = nextInterval();
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(9)), 50);
        vm.startPrank(alice);
        auction.withdrawCommitment(MARKET, i, r);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, r.index));
        auction.withdrawCommitment(MARKET, i, r);
        vm.stopPrank();
    }

    function test_withdrawCommitment_revertsOnTamperedLock() public {
        uint64 i = nextInterval();
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(9)), 50);
        r.lock = 51;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, r.index));
        auction.withdrawCommitment(MARKET, i, r);
    }
}
