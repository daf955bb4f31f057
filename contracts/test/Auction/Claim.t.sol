// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "../utils/Fixture.sol";
import {vmx} from "../utils/VmExtra.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {tokenId} from "../../src/EnergyIntentToken.sol";

contract ClaimTest is AuctionFixture {
    uint64 internal i;
    ISealgridAuction.CommitmentRecord internal ra; // alice buys 1000 Wh at <= 200_000
    ISealgridAuction.CommitmentRecord internal rb; // bob sells 1000 Wh at >= 100_000
    ISealgridAuction.CommitmentRecord internal rc; // carol, excluded

    function setUp() public override {
        super.setUp();
        i = nextInterval();
        ra = commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3);
        rb = commitOrder(order(bob, i, 1, 1000, 100_000, 1), 7);
        rc = commitOrder(order(carol, i, 0, 500, 50_000, 1), 25e3);
    }

    function _words(uint64 q) internal pure returns (uint64[] memory) {
        return words3(buyWord(q), sellWord(q), excludedWord());
    }

    function _free(address who) internal view returns (uint256) {
        return auction.balanceOf(IERC20(address(token)), who);
    }

    function test_claim_positivePrice() public {
        uint64[] memory w = _words(333);
        settleAt(i, 150_001, 333, w);
        vm.warp(startOf(i));
        auction.claim(MARKET, i, claimOf(ra, w));
        auction.claim(MARKET, i, claimOf(rb, w));
        auction.claim(MARKET, i, claimOf(rc, w));
        // 333 Wh * 150_001 / 1000 = 49_950.333: buyer pays 49_951, seller gets 49_950.
        vm.assertEq(_free(alice), 200e3 - 49_951, "buyer: lock minus payment");
        vm.assertEq(_free(bob), 7 + 49_950, "seller: lock plus payment");
        vm.assertEq(_free(carol), 25e3, "excluded: lock back");
        (int128 pool, uint128 fees) = auction.ledger(IERC20(address(token)));
        vm.assertEq(int256(pool), 0, "pool clears");
        vm.assertEq(uint256(fees), 1000, "one base unit of rounding fee, in milli-units");
        vm.assertEq(intents.balanceOf(alice, tokenId(1, i, 0)), 333, "bought intents");
        vm.assertEq(intents.balanceOf(bob, tokenId(1, i, 1)), 333, "sold intents");
    }

    function test_claim_negativePriceSellerPays() public {
        uint64 j = i + 1;
        ISealgridAuction.CommitmentRecord memory b = commitOrder(order(alice, j, 0, 1000, 0, 2), 0);
        ISealgridAuction.CommitmentRecord memory s = commitOrder(order(bob, j, 1, 1000, -20_000, 2), 20e3);
        uint64[] memory w = words2(buyWord(999), sellWord(999));
        settleAt(j, -10_001, 999, w);
        vm.warp(startOf(j));
        auction.claim(MARKET, j, claimOf(s, w));
        auction.claim(MARKET, j, claimOf(b, w));
        // 999 * 10_001 / 1000 = 9990.999: seller pays 9991, buyer receives 9990.
        vm.assertEq(_free(bob), 20e3 - 9991, "seller pays at a negative price");
        vm.assertEq(_free(alice), 9990, "buyer is paid");
        (int128 pool, uint128 fees) = auction.ledger(IERC20(address(token)));
        vm.assertEq(int256(pool), 0, "pool clears");
        // Fees in milli-units: payer 9_991_000 - 9_990_999 = 1, payee 9_990_999 - 9_990_000 = 999.
        vm.assertEq(uint256(fees), 1000, "rounding fee in milli-units");
    }

    function test_claim_shortfallTakenFromBond() public {
        uint64 j = i + 1;
        ISealgridAuction.CommitmentRecord memory b = commitOrder(order(alice, j, 0, 1000, 200_000, 3), 10);
        commitOrder(order(bob, j, 1, 1000, 0, 3), 0);
        uint64[] memory w = words2(buyWord(1000), sellWord(1000));
        settleAt(j, 100_000, 1000, w);
        vm.warp(startOf(j));
        (,,, uint128 bondBefore) = auction.getMarket(MARKET);
        auction.claim(MARKET, j, claimOf(b, w));
        (,,, uint128 bondAfter) = auction.getMarket(MARKET);
        vm.assertEq(uint256(bondBefore - bondAfter), 100_000 - 10, "bond covers the shortfall");
        vm.assertEq(_free(alice), 0, "whole lock used");
    }

    function test_claim_batch() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](3);
        cs[0] = claimOf(ra, w);
        cs[1] = claimOf(rb, w);
        cs[2] = claimOf(rc, w);
        vm.prank(operator);
        auction.claimBatch(MARKET, i, cs);
        vm.assertEq(_free(alice), 200e3 - 100_000, "buyer");
        vm.assertEq(_free(bob), 7 + 100_000, "seller");
        vm.assertEq(_free(carol), 25e3, "excluded");
    }

    function test_claim_revertsTwice() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        auction.claim(MARKET, i, claimOf(ra, w));
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, ra.index));
        auction.claim(MARKET, i, claimOf(ra, w));
    }

    function test_claim_batchSkipsDuplicateAndConsumed() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        auction.claim(MARKET, i, claimOf(rb, w)); // bob claims himself first
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](4);
        cs[0] = claimOf(ra, w);
        cs[1] = claimOf(ra, w); // a duplicate
        cs[2] = claimOf(rb, w); // consumed already
        cs[3] = claimOf(rc, w);
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.ClaimSkipped(MARKET, i, ra.index, ISealgridAuction.SkipReason.RecordMismatch);
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.ClaimSkipped(MARKET, i, rb.index, ISealgridAuction.SkipReason.RecordMismatch);
        vm.prank(operator);
        auction.claimBatch(MARKET, i, cs);
        vm.assertEq(_free(alice), 200e3 - 100_000, "alice paid once");
        vm.assertEq(_free(bob), 7 + 100_000, "bob paid once");
        vm.assertEq(_free(carol), 25e3, "carol's lock back");
        vm.assertEq(intents.balanceOf(alice, tokenId(1, i, 0)), 1000, "alice's intents minted once");
    }

    function test_claim_batchSkipsForgedFill_andKeepsTheRecord() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](2);
        cs[0] = claimOf(rc, w);
        cs[0].word = buyWord(500); // carol claims a fill she never got
        cs[1] = claimOf(ra, w);
        vmx.expectEmit(address(auction));
        emit ISealgridAuction.ClaimSkipped(MARKET, i, rc.index, ISealgridAuction.SkipReason.InvalidFillProof);
        auction.claimBatch(MARKET, i, cs);
        vm.assertEq(_free(alice), 200e3 - 100_000, "alice claimed");
        vm.assertTrue(auction.isOutstanding(MARKET, i, rc), "carol's record is untouched");
        auction.claim(MARKET, i, claimOf(rc, w));
        vm.assertEq(_free(carol), 25e3, "and claims with the right word");
    }

    function test_claim_revertsBeforeStart() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i) - 1);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNotFinal.selector, i, startOf(i)));
        auction.claim(MARKET, i, claimOf(ra, w));
    }

    function test_claim_revertsUnsettled() public {
        uint64[] memory w = _words(1000);
        vm.warp(startOf(i));
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotSettled.selector, i, ISealgridAuction.Status.Open
            )
        );
        auction.claim(MARKET, i, claimOf(ra, w));
    }

    function test_claim_revertsForgedFill() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        ISealgridAuction.Claim memory c = claimOf(rc, w);
        c.word = buyWord(500); // carol claims a fill she never got
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionInvalidFillProof.selector, rc.index));
        auction.claim(MARKET, i, c);
    }

    function test_claim_revertsForgedRecord() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        ISealgridAuction.Claim memory c = claimOf(ra, w);
        c.record.trader = carol;
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, ra.index));
        auction.claim(MARKET, i, c);
    }

    function test_claim_worksWhilePaused() public {
        uint64[] memory w = _words(1000);
        settleAt(i, 100_000, 1000, w);
        vm.warp(startOf(i));
        vm.prank(pauser);
        auction.pause();
        auction.claim(MARKET, i, claimOf(ra, w));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](1);
        cs[0] = claimOf(rb, w);
        auction.claimBatch(MARKET, i, cs);
        vm.assertEq(_free(alice), 200e3 - 100_000, "buyer claimed while paused");
        vm.assertEq(_free(bob), 7 + 100_000, "seller claimed while paused");
    }

    /// Payment identities at any price and fill: payer pays ceil, payee receives floor, and the
    /// pool is exactly zero after both sides claim.
    function testFuzz_claim_roundingConservesMoney(uint64 q, int64 price) public {
        q = uint64(bound(q, 1, 1000));
        price = int64(boundInt(price, FLOOR, CAP));
        vm.assume(price != 0);
        uint64[] memory w = _words(q);
        settleAt(i, price, q, w);
        vm.warp(startOf(i));
        uint256 balBefore = token.balanceOf(address(auction));
        auction.claim(MARKET, i, claimOf(ra, w));
        auction.claim(MARKET, i, claimOf(rb, w));
        (int128 pool, uint128 fees) = auction.ledger(IERC20(address(token)));
        vm.assertEq(int256(pool), 0, "pool is zero");
        uint256 abs = uint256(price > 0 ? int256(price) : -int256(price)) * q;
        vm.assertEq(uint256(fees), ((abs + 999) / 1000) * 1000 - (abs / 1000) * 1000, "fee = ceil - floor");
        vm.assertEq(token.balanceOf(address(auction)), balBefore, "claims move no tokens out");
    }
}
