// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

import {AuctionFixture} from "../utils/Fixture.sol";
import {vmx} from "../utils/VmExtra.sol";
import {RejectAllVerifier} from "../utils/Mocks.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";

/// @notice TEST ONLY: account code that rejects every signature through ERC-1271 (what an
///         operator could install on its own account with EIP-7702 to disown its receipts).
contract RejectingAccount is IERC1271 {
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4) {
        return 0xffffffff;
    }
}

/// @notice Issue 17, hole 4: receipts the operator can disown. The old dispute checked a receipt
///         with SignatureChecker against the market's current operator, so rotating the operator
///         (or changing the bounds) after the receipt was issued, or installing EIP-7702 code that
///         answers "invalid" on the operator's account, made every receipt useless and the
///         censorship free. Now the receipt signer and the bounds are the interval's terms, fixed
///         before its first commitment, and receipts are checked by plain ECDSA recovery: each
///         attack below leaves the censored trader's dispute intact (batch voided, lock back,
///         operator slashed into insurance).
contract ReceiptDisownTest is AuctionFixture {
    uint256 internal constant NEW_OPERATOR_PK = 0xB0B0;
    address internal newOperator;
    uint64 internal i;
    OrderLib.Order internal censored; // carol's buy, receipted by the operator, then excluded
    ISealgridAuction.CommitmentRecord internal rc;
    bytes internal receipt;
    uint64[] internal w;

    function setUp() public override {
        super.setUp();
        newOperator = vm.addr(NEW_OPERATOR_PK);
        i = nextInterval();
        commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3);
        commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        censored = order(carol, i, 0, 500, 150_000, 1);
        rc = commitOrder(censored, 75e3);
        // carol opens her order and keeps the operator's receipt.
        receipt = receiptSig(i, rc.index, rc.commitment);
        w = words3(buyWord(1000), sellWord(1000), excludedWord());
    }

    function _dispute(bytes memory r) internal view returns (ISealgridAuction.Dispute memory) {
        return ISealgridAuction.Dispute({
            index: rc.index, order: censored, lock: rc.lock, proof: proofOf(w, rc.index), receipt: r
        });
    }

    function _sign(uint256 pk) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(pk, auction.receiptDigest(MARKET, i, rc.index, rc.commitment));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The censored trader's dispute works and costs the operator the slash.
    function _disputeHolds() internal {
        (,,, uint128 bond0) = auction.getMarket(MARKET);
        auction.dispute(MARKET, i, _dispute(receipt));
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Voided, "the batch is voided");
        vm.assertEq(auction.balanceOf(IERC20(address(token)), carol), 75e3, "carol's lock is back");
        (,,, uint128 bond1) = auction.getMarket(MARKET);
        vm.assertEq(uint256(bond0 - bond1), SLASH, "the operator is slashed");
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH, "into the insurance account");
    }

    function test_attack_rotateOperatorAfterReceipt() public {
        ISealgridAuction.MarketParams memory p = params();
        p.operator = newOperator;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        // The rotation governs only gates no commitment can have reached yet.
        vm.assertEq(auction.termsOf(MARKET, i).operator, operator, "i keeps its operator");
        uint64 last = uint64((block.timestamp + HORIZON + LEAD) / L); // gate <= now + horizon
        vm.assertEq(auction.termsOf(MARKET, last).operator, operator, "up to the horizon");
        vm.assertEq(auction.termsOf(MARKET, last + 1).operator, newOperator, "beyond it the new one");

        vm.warp(gateOf(i));
        vm.prank(newOperator);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNotOperator.selector, newOperator));
        auction.settle(MARKET, i, 150_000, 1000, pack(w), "");
        vm.prank(operator);
        auction.settle(MARKET, i, 150_000, 1000, pack(w), "");
        // A receipt of the new operator proves nothing for i; the old operator's still does.
        ISealgridAuction.Dispute memory byNew = _dispute(_sign(NEW_OPERATOR_PK));
        vm.expectRevert(ISealgridAuction.AuctionInvalidReceipt.selector);
        auction.dispute(MARKET, i, byNew);
        _disputeHolds();
    }

    function test_attack_7702CodeOnOperatorRejectsSignatures() public {
        settleAt(i, 150_000, 1000, w);
        // The operator points its account at code that answers "invalid" to ERC-1271.
        RejectingAccount impl = new RejectingAccount();
        vm.etch(operator, abi.encodePacked(hex"ef0100", address(impl)));
        vm.assertGt(operator.code.length, 0, "the operator's account has code");
        bytes32 digest = auction.receiptDigest(MARKET, i, rc.index, rc.commitment);
        vm.assertEq(
            bytes32(IERC1271(operator).isValidSignature(digest, receipt)),
            bytes32(bytes4(0xffffffff)),
            "the account disowns its signature through ERC-1271"
        );
        _disputeHolds();
    }

    function test_attack_7702DelegationSignedByOperator() public {
        RejectingAccount impl = new RejectingAccount();
        vm.warp(gateOf(i));
        // The authorization rides on the operator's own settle transaction.
        vmx.signAndAttachDelegation(address(impl), OPERATOR_PK);
        vm.prank(operator);
        auction.settle(MARKET, i, 150_000, 1000, pack(w), "");
        vm.assertEq(operator.code.length, 23, "the operator's account is delegated");
        _disputeHolds();
    }

    function test_attack_changeBoundsVerifierAndSlashAfterCommit() public {
        // After carol's commitment and receipt, governance lowers the cap below her limit (which
        // would make her order "invalid"), swaps in a verifier that rejects everything and cuts
        // the slash to one unit.
        ISealgridAuction.MarketParams memory p = params();
        p.priceCap = 100_000;
        p.verifier = new RejectAllVerifier();
        p.slashAmount = 1;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        ISealgridAuction.Terms memory t = auction.termsOf(MARKET, i);
        vm.assertEq(int256(t.priceCap), int256(CAP), "i keeps its cap");
        vm.assertEq(address(t.verifier), address(verifier), "i keeps its verifier");
        vm.assertEq(uint256(t.slashAmount), SLASH, "i keeps its slash");
        // i settles under its own terms (a price above the new cap, the old verifier) ...
        settleAt(i, 150_000, 1000, w);
        // ... and carol's dispute is judged by them.
        _disputeHolds();
    }

    function test_termsCannotChangeAgainWhileTheReplacedOnesGovern() public {
        ISealgridAuction.MarketParams memory p = params();
        p.operator = newOperator;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        uint256 from = block.timestamp + HORIZON + 1;
        p.operator = carol;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionTermsPending.selector, from + LEAD));
        auction.updateMarket(MARKET, p);
        // Parameters outside the terms still change at once.
        ISealgridAuction.MarketParams memory q = params();
        q.operator = newOperator;
        q.minBond = MIN_BOND / 2;
        vm.prank(admin);
        auction.updateMarket(MARKET, q);
        // Once every interval under the replaced terms has started, the terms can change again.
        vm.warp(from + LEAD);
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        vm.assertEq(auction.termsOf(MARKET, uint64(from / L) + 1).operator, newOperator, "second terms");
        vm.assertEq(
            auction.termsOf(MARKET, uint64((block.timestamp + HORIZON + LEAD) / L) + 1).operator,
            carol,
            "third terms beyond the horizon"
        );
    }
}
