// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {AuctionFixture} from "../utils/Fixture.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";

/// @notice Issue 17, hole 5: the operator's free option. The operator's own sybil commits, is
///         receipted and excluded; once the clearing price is public the operator decides whether
///         to keep the batch or to void it by having the sybil dispute. On the old code the slash
///         went to the disputer, i.e. back to the operator: voiding cost nothing. Now the slash
///         goes to the market's insurance account (paid out only by the timelock) and the
///         disputer gets its lock back: the operator's net cost is exactly the slash, and the
///         honest traders get their locks back in full.
contract OperatorFreeOptionTest is AuctionFixture {
    address internal sybil = address(0x5B11);
    uint64 internal i;
    uint64[] internal w;
    ISealgridAuction.CommitmentRecord internal ra;
    ISealgridAuction.CommitmentRecord internal rb;
    ISealgridAuction.CommitmentRecord internal rs;
    OrderLib.Order internal sybilOrder;

    function _tok() internal view returns (IERC20) {
        return IERC20(address(token));
    }

    /// @dev Everything the operator controls: its and its sybil's tokens and free balances, the
    ///      bond, and the sybil's `locked` collateral in outstanding commitments.
    function _operatorWorth(uint256 locked) internal view returns (uint256) {
        (,,, uint128 bond) = auction.getMarket(MARKET);
        return token.balanceOf(operator) + auction.balanceOf(_tok(), operator) + token.balanceOf(sybil)
            + auction.balanceOf(_tok(), sybil) + bond + locked;
    }

    function setUp() public override {
        super.setUp();
        // The operator funds its sybil.
        token.mint(operator, 1e9);
        vm.prank(operator);
        token.transfer(sybil, 1e9);
        vm.prank(sybil);
        token.approve(address(auction), type(uint256).max);
        i = nextInterval();
        ra = commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3);
        rb = commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        sybilOrder = order(sybil, i, 0, 1000, 200_000, 1);
        rs = commitOrder(sybilOrder, 200e3);
        w = words3(buyWord(1000), sellWord(1000), excludedWord());
    }

    function test_attack_sybilDisputeAfterPriceIsPublic_costsTheSlash() public {
        uint256 worth0 = _operatorWorth(rs.lock);
        uint256 alice0 = token.balanceOf(alice) + auction.balanceOf(_tok(), alice) + ra.lock;
        uint256 bob0 = token.balanceOf(bob) + auction.balanceOf(_tok(), bob) + rb.lock;
        // The operator receipts its sybil's order, excludes it, and settles.
        bytes memory receipt = receiptSig(i, rs.index, rs.commitment);
        settleAt(i, 150_000, 1000, w);
        // The price is public; the operator prefers no batch and has the sybil dispute.
        vm.prank(sybil);
        auction.dispute(
            MARKET,
            i,
            ISealgridAuction.Dispute({
                index: rs.index,
                order: sybilOrder,
                lock: rs.lock,
                proof: proofOf(w, rs.index),
                receipt: receipt
            })
        );
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Voided, "voided");
        vm.assertEq(worth0 - _operatorWorth(0), SLASH, "the operator's net cost is the slash");
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH, "the slash is in the insurance account");
        vm.assertEq(auction.balanceOf(_tok(), sybil), rs.lock, "the disputer got only its lock back");

        // The operator cannot reach the insurance account: not as operator, not through the bond.
        vm.startPrank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, operator, bytes32(0)
            )
        );
        auction.payInsurance(MARKET, sybil, uint128(SLASH));
        (,,, uint128 bond) = auction.getMarket(MARKET);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientBalance.selector, bond, bond + 1)
        );
        auction.withdrawBond(MARKET, operator, bond + 1);
        vm.stopPrank();

        // The honest traders lose nothing: their locks are refundable in full.
        auction.refund(MARKET, i, ra);
        auction.refund(MARKET, i, rb);
        vm.assertEq(token.balanceOf(alice) + auction.balanceOf(_tok(), alice), alice0, "alice whole");
        vm.assertEq(token.balanceOf(bob) + auction.balanceOf(_tok(), bob), bob0, "bob whole");

        // Governance (the timelock) compensates from the insurance account; no one else can.
        vm.prank(admin);
        auction.payInsurance(MARKET, alice, uint128(SLASH / 2));
        vm.assertEq(auction.balanceOf(_tok(), alice), ra.lock + SLASH / 2, "alice compensated");
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH - SLASH / 2, "insurance debited");
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientInsurance.selector, SLASH / 2, SLASH)
        );
        auction.payInsurance(MARKET, alice, uint128(SLASH));
        vm.assertEq(worth0 - _operatorWorth(0), SLASH, "compensation never returns to the operator");
    }

    function test_attack_everyDisputeCostsTheSlash() public {
        // Two sybil commitments receipted and excluded: each dispute slashes again.
        uint64 j = i + 1;
        OrderLib.Order memory o1 = order(sybil, j, 0, 10, 1000, 1);
        OrderLib.Order memory o2 = order(sybil, j, 0, 10, 1000, 2);
        ISealgridAuction.CommitmentRecord memory r1 = commitOrder(o1, 10);
        ISealgridAuction.CommitmentRecord memory r2 = commitOrder(o2, 10);
        uint64[] memory wj = words2(excludedWord(), excludedWord());
        bytes memory s1 = receiptSig(j, r1.index, r1.commitment);
        bytes memory s2 = receiptSig(j, r2.index, r2.commitment);
        settleAt(j, 0, 0, wj);
        uint256 worth0 = _operatorWorth(r1.lock + r2.lock);
        auction.dispute(
            MARKET,
            j,
            ISealgridAuction.Dispute({index: 0, order: o1, lock: 10, proof: proofOf(wj, 0), receipt: s1})
        );
        auction.dispute(
            MARKET,
            j,
            ISealgridAuction.Dispute({index: 1, order: o2, lock: 10, proof: proofOf(wj, 1), receipt: s2})
        );
        vm.assertEq(worth0 - _operatorWorth(0), 2 * SLASH, "two disputes, two slashes");
        vm.assertEq(uint256(auction.insurance(MARKET)), 2 * SLASH, "both insured");
    }
}
