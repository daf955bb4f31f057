// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {AuctionFixture} from "../utils/Fixture.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {AuctionColdLib} from "../../src/libraries/AuctionColdLib.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";

/// @notice Attacks on the linked library {AuctionColdLib}: its functions called directly, not
///         through the auction (so without the auction's access control), with valid evidence and
///         with admin calls. The state-changing ones must revert (library call protection), the
///         view must see only the library's own empty storage, and nobody's money moves.
contract ColdLibAttacksTest is AuctionFixture {
    uint64 internal i;
    OrderLib.Order internal censored;
    ISealgridAuction.CommitmentRecord internal rc;
    uint64[] internal w;
    address internal lib;

    function setUp() public override {
        super.setUp();
        lib = address(AuctionColdLib);
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

    function _direct(bytes memory data) internal returns (bool ok) {
        vm.prank(carol);
        (ok,) = lib.call(data);
    }

    function test_coldLib_isLinkedAndHasCode() public view {
        vm.assertTrue(lib != address(0) && lib.code.length > 0, "the auction's library is deployed");
    }

    function test_coldLib_directDisputeReverts() public {
        // Valid evidence, sent straight to the library with any storage slots: call protection.
        ISealgridAuction.Dispute memory d = _dispute();
        AuctionColdLib.DisputeKeys memory keys =
            AuctionColdLib.DisputeKeys({domainSeparator: auction.domainSeparator(), poseidonT5: poseidonT5});
        for (uint256 slot; slot < 8; ++slot) {
            bytes memory data = abi.encodeWithSelector(
                AuctionColdLib.dispute.selector, slot, slot, slot, slot, slot, keys, MARKET, i, d
            );
            vm.assertFalse(_direct(data), "a direct dispute reverts");
        }
        // Nothing moved: the auction's books are as before and the dispute still works through it.
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Settled, "still settled");
        vm.assertEq(auction.balanceOf(IERC20(address(token)), carol), 0, "carol credited nothing");
        vm.assertEq(token.balanceOf(lib), 0, "the library holds no tokens");
        auction.dispute(MARKET, i, d);
        vm.assertEq(auction.balanceOf(IERC20(address(token)), carol), 25e3, "lock back");
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH, "slash insured");
    }

    function test_coldLib_directAdminReverts() public {
        ISealgridAuction.MarketParams memory p = params();
        p.operator = carol;
        bytes32 other = bytes32(uint256(MARKET) + 1);
        vm.assertFalse(
            _direct(abi.encodeWithSelector(AuctionColdLib.createMarket.selector, uint256(0), other, p, 7)),
            "direct createMarket reverts"
        );
        vm.assertFalse(
            _direct(
                abi.encodeWithSelector(
                    AuctionColdLib.updateMarket.selector, uint256(0), uint256(0), MARKET, p
                )
            ),
            "direct updateMarket reverts"
        );
        vm.assertFalse(
            _direct(
                abi.encodeWithSelector(
                    AuctionColdLib.payInsurance.selector, uint256(0), uint256(0), MARKET, carol, uint128(1)
                )
            ),
            "direct payInsurance reverts"
        );
        vm.assertFalse(
            _direct(abi.encodeWithSelector(AuctionColdLib.closeMarket.selector, uint256(0), MARKET)),
            "direct closeMarket reverts"
        );
        (ISealgridAuction.MarketParams memory now_,,,) = auction.getMarket(MARKET);
        vm.assertEq(now_.operator, operator, "operator unchanged");
    }

    function test_coldLib_directViewSeesOnlyItsOwnEmptyStorage() public {
        (bool ok, bytes memory ret) =
            lib.call(abi.encodeWithSelector(AuctionColdLib.getMarket.selector, uint256(0)));
        vm.assertTrue(ok, "a view may be called directly");
        (ISealgridAuction.MarketParams memory p,,, uint128 bond) =
            abi.decode(ret, (ISealgridAuction.MarketParams, uint32, uint64, uint128));
        vm.assertEq(address(p.token), address(0), "no market in the library's storage");
        vm.assertEq(uint256(bond), 0, "no bond in the library's storage");
    }
}
