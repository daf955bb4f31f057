// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "../utils/Fixture.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";

contract DisputeTest is AuctionFixture {
    uint64 internal i;
    OrderLib.Order internal censored; // carol's buy, excluded by the operator
    ISealgridAuction.CommitmentRecord internal rc;
    uint64[] internal w;

    function setUp() public override {
        super.setUp();
        i = nextInterval();
        commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3);
        commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        censored = order(carol, i, 0, 500, 50_000, 1);
        rc = commitOrder(censored, 25e3);
        w = words3(buyWord(1000), sellWord(1000), excludedWord());
        settleAt(i, 150_000, 1000, w);
    }

    function _dispute() internal view returns (ISealgridAuction.Dispute memory) {
        return ISealgridAuction.Dispute({
            index: rc.index,
            order: censored,
            lock: rc.lock,
            proof: proofOf(w, rc.index),
            receipt: receiptSig(i, rc.index, rc.commitment)
        });
    }

    function test_dispute_voidsAndSlashesIntoInsurance() public {
        auction.dispute(MARKET, i, _dispute());
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Voided, "voided");
        vm.assertEq(auction.balanceOf(IERC20(address(token)), carol), 25e3, "the lock comes back");
        (,,, uint128 bond) = auction.getMarket(MARKET);
        vm.assertEq(uint256(bond), uint256(MIN_BOND) * 2 - SLASH, "bond slashed");
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH, "the slash is insured, not paid out");
    }

    function test_dispute_byAnyone_paysTheTrader() public {
        vm.prank(bob);
        auction.dispute(MARKET, i, _dispute());
        vm.assertEq(auction.balanceOf(IERC20(address(token)), carol), 25e3, "carol's lock to carol");
        vm.assertEq(auction.balanceOf(IERC20(address(token)), bob), 0, "the caller gets nothing");
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH, "slash insured");
    }

    function test_dispute_revertsMalleableReceipt() public {
        ISealgridAuction.Dispute memory d = _dispute();
        bytes32 digest = auction.receiptDigest(MARKET, i, rc.index, rc.commitment);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OPERATOR_PK, digest);
        // The same signature with s' = n - s and the other v recovers the same signer.
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        d.receipt = abi.encodePacked(r, bytes32(n - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(ISealgridAuction.AuctionInvalidReceipt.selector);
        auction.dispute(MARKET, i, d);
        d.receipt = abi.encodePacked(r, s); // 64 bytes
        vm.expectRevert(ISealgridAuction.AuctionInvalidReceipt.selector);
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsTwice() public {
        ISealgridAuction.Dispute memory d = _dispute();
        auction.dispute(MARKET, i, d);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, rc.index));
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsWithoutOperatorReceipt() public {
        ISealgridAuction.Dispute memory d = _dispute();
        bytes32 digest = auction.receiptDigest(MARKET, i, rc.index, rc.commitment);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(0xBAD, digest);
        d.receipt = abi.encodePacked(r, s, v);
        vm.expectRevert(ISealgridAuction.AuctionInvalidReceipt.selector);
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsAfterStart() public {
        ISealgridAuction.Dispute memory d = _dispute();
        vm.warp(startOf(i));
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionDisputeWindowClosed.selector, i, startOf(i))
        );
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsUnsettled() public {
        uint64 j = i + 1;
        ISealgridAuction.Dispute memory d = _dispute();
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotSettled.selector, j, ISealgridAuction.Status.Open
            )
        );
        auction.dispute(MARKET, j, d);
    }

    function test_dispute_revertsForIncludedOrder() public {
        // alice's order was included (filled): revealing it proves nothing.
        ISealgridAuction.Dispute memory d = _dispute();
        d.index = 0;
        d.order = order(alice, i, 0, 1000, 200_000, 1);
        d.lock = 200e3;
        d.proof = proofOf(w, 0);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNotExcluded.selector, uint32(0)));
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsWrongOpening() public {
        ISealgridAuction.Dispute memory d = _dispute();
        d.order.quantityWh = 499; // a different order than the one committed
        d.receipt = receiptSig(i, rc.index, auction.orderCommitment(d.order));
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, rc.index));
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsOtherInterval() public {
        ISealgridAuction.Dispute memory d = _dispute();
        d.order.interval = i + 1;
        vm.expectRevert(ISealgridAuction.AuctionOrderMismatch.selector);
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsInvalidOrder() public {
        ISealgridAuction.Dispute memory d = _dispute();
        d.order.limitPrice = CAP + 1;
        vm.expectRevert(ISealgridAuction.AuctionInvalidOrder.selector);
        auction.dispute(MARKET, i, d);
        d = _dispute();
        d.order.side = 2;
        vm.expectRevert(ISealgridAuction.AuctionInvalidOrder.selector);
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_revertsUnderLocked() public {
        uint64 j = i + 1;
        OrderLib.Order memory o = order(carol, j, 0, 1000, 100_000, 9);
        ISealgridAuction.CommitmentRecord memory r = commitOrder(o, 99_999); // needs 100_000
        commitRaw(alice, j, bytes32(uint256(77)), 0);
        uint64[] memory w2 = words2(excludedWord(), 0);
        settleAt(j, 0, 0, w2);
        ISealgridAuction.Dispute memory d = ISealgridAuction.Dispute({
            index: r.index,
            order: o,
            lock: r.lock,
            proof: proofOf(w2, 0),
            receipt: receiptSig(j, 0, r.commitment)
        });
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionLockInsufficient.selector, 99_999, 100_000)
        );
        auction.dispute(MARKET, j, d);
    }

    function test_dispute_revertsFieldOverflow() public {
        ISealgridAuction.Dispute memory d = _dispute();
        d.order.salt = bytes32(OrderLib.FIELD_MODULUS);
        vm.expectRevert(abi.encodeWithSelector(OrderLib.OrderFieldOverflow.selector, OrderLib.FIELD_MODULUS));
        auction.dispute(MARKET, i, d);
    }

    function test_dispute_thenEveryLockRefundable() public {
        auction.dispute(MARKET, i, _dispute());
        ISealgridAuction.CommitmentRecord memory ra = ISealgridAuction.CommitmentRecord({
            index: 0,
            trader: alice,
            lock: 200e3,
            commitment: auction.orderCommitment(order(alice, i, 0, 1000, 200_000, 1))
        });
        auction.refund(MARKET, i, ra);
        vm.assertEq(auction.balanceOf(IERC20(address(token)), alice), 200e3, "refund after censorship void");
    }
}
