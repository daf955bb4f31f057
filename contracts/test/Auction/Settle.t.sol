// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "../utils/Fixture.sol";
import {RejectAllVerifier, GasBurnerVerifier, StatementHashVerifier} from "../utils/Mocks.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {IClearingVerifier} from "../../src/interfaces/IClearingVerifier.sol";
import {FillsLib} from "../../src/libraries/FillsLib.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

contract SettleTest is AuctionFixture {
    uint64 internal i;

    function setUp() public override {
        super.setUp();
        i = nextInterval();
        commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e6);
        commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        commitOrder(order(carol, i, 0, 500, 50_000, 1), 25e6);
    }

    /// @dev New terms govern only intervals no commitment can have reached yet: updates the market
    ///      to `p`, commits the same book to the first interval the new terms govern, and makes it `i`.
    function _useTerms(ISealgridAuction.MarketParams memory p) internal {
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        uint256 from = block.timestamp + HORIZON + 1;
        i = uint64((from + LEAD + L - 1) / L);
        vm.warp(gateOf(i) - 60);
        commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e6);
        commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        commitOrder(order(carol, i, 0, 500, 50_000, 1), 25e6);
        vm.assertEq(address(auction.termsOf(MARKET, i).verifier), address(p.verifier), "new terms govern i");
    }

    function _settle(int64 price, uint64 volume, uint64[] memory w) internal {
        vm.prank(operator);
        auction.settle(MARKET, i, price, volume, pack(w), "");
    }

    function test_settle_storesResult() public {
        uint64[] memory w = words3(buyWord(1000), sellWord(1000), 0);
        settleAt(i, 150_000, 1000, w);
        (,, ISealgridAuction.Status status, int64 price, uint64 volume, bytes32 root) =
            auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Settled, "settled");
        vm.assertEq(int256(price), 150_000, "price");
        vm.assertEq(uint256(volume), 1000, "volume");
        bytes32 l0 = FillsLib.leaf(0, w[0]);
        bytes32 l1 = FillsLib.leaf(1, w[1]);
        bytes32 l2 = FillsLib.leaf(2, w[2]);
        bytes32 expected = keccak256(
            abi.encodePacked(keccak256(abi.encodePacked(l0, l1)), keccak256(abi.encodePacked(l2, bytes32(0))))
        );
        vm.assertEq(root, expected, "fills root");
    }

    function test_settle_passesOwnStateToVerifier() public {
        StatementHashVerifier v = new StatementHashVerifier();
        ISealgridAuction.MarketParams memory p = params();
        p.verifier = v;
        _useTerms(p);
        uint64[] memory w = words3(buyWord(1000), sellWord(1000), 0);
        (uint256 acc, uint32 count,,,,) = auction.getInterval(MARKET, i);
        IClearingVerifier.Statement memory s = IClearingVerifier.Statement({
            market: MARKET,
            interval: i,
            accumulator: acc,
            count: count,
            priceFloor: FLOOR,
            priceCap: CAP,
            clearingPrice: 150_000,
            volume: 1000,
            fills: pack(w)
        });
        vm.warp(gateOf(i));
        // A proof for any other accumulator is refused.
        s.accumulator = acc + 1;
        vm.prank(operator);
        vm.expectRevert(ISealgridAuction.AuctionInvalidProof.selector);
        auction.settle(MARKET, i, 150_000, 1000, pack(w), abi.encode(keccak256(abi.encode(s))));
        s.accumulator = acc;
        vm.prank(operator);
        auction.settle(MARKET, i, 150_000, 1000, pack(w), abi.encode(keccak256(abi.encode(s))));
    }

    function test_settle_zeroVolume() public {
        settleAt(i, 0, 0, words3(0, 0, 0));
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Settled, "settled");
    }

    function test_settle_revertsForNonOperator() public {
        vm.warp(gateOf(i));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNotOperator.selector, alice));
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsBeforeGate() public {
        vm.warp(gateOf(i) - 1);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionOutsideSettleWindow.selector, i, gateOf(i), gateOf(i) + WINDOW
            )
        );
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsAtDeadline() public {
        vm.warp(gateOf(i) + WINDOW);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionOutsideSettleWindow.selector, i, gateOf(i), gateOf(i) + WINDOW
            )
        );
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsTwice() public {
        settleAt(i, 0, 0, words3(0, 0, 0));
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotOpen.selector, i, ISealgridAuction.Status.Settled
            )
        );
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsEmptyInterval() public {
        uint64 j = i + 1;
        vm.warp(gateOf(j));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNothingToSettle.selector, j));
        auction.settle(MARKET, j, 0, 0, "", "");
    }

    function test_settle_revertsLowBond() public {
        vm.prank(operator);
        auction.withdrawBond(MARKET, operator, MIN_BOND);
        ISealgridAuction.MarketParams memory p = params();
        p.minBond = MIN_BOND + 1;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        vm.warp(gateOf(i));
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionBondTooLow.selector, MIN_BOND, MIN_BOND + 1)
        );
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsBadLength() public {
        vm.warp(gateOf(i));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionBadFillsLength.selector, 16, 3));
        auction.settle(MARKET, i, 0, 0, pack(words2(0, 0)), "");
    }

    function test_settle_revertsPriceOutOfBounds() public {
        vm.warp(gateOf(i));
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionPriceOutOfBounds.selector, CAP + 1));
        auction.settle(MARKET, i, CAP + 1, 1000, pack(words3(buyWord(1000), sellWord(1000), 0)), "");
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionPriceOutOfBounds.selector, FLOOR - 1));
        auction.settle(MARKET, i, FLOOR - 1, 1000, pack(words3(buyWord(1000), sellWord(1000), 0)), "");
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionPriceOutOfBounds.selector, int64(5)));
        auction.settle(MARKET, i, 5, 0, pack(words3(0, 0, 0)), "");
        vm.stopPrank();
    }

    function test_settle_revertsBadWords() public {
        vm.warp(gateOf(i));
        uint64[4] memory bad = [
            uint64(1) << 50, // reserved bit
            FillsLib.EXCLUDED_FLAG | 5, // excluded with a fill
            FillsLib.SELL_FLAG, // sell flag on a zero fill
            FillsLib.EXCLUDED_FLAG | FillsLib.SELL_FLAG // both flags
        ];
        for (uint256 k; k < bad.length; ++k) {
            vm.prank(operator);
            vm.expectRevert(
                abi.encodeWithSelector(ISealgridAuction.AuctionBadFillWord.selector, uint32(1), bad[k])
            );
            auction.settle(MARKET, i, 0, 0, pack(words3(0, bad[k], 0)), "");
        }
    }

    function test_settle_revertsUnbalanced() public {
        vm.warp(gateOf(i));
        vm.startPrank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionFillsDoNotBalance.selector, 1000, 999, uint64(1000)
            )
        );
        auction.settle(MARKET, i, 1, 1000, pack(words3(buyWord(1000), sellWord(999), 0)), "");
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionFillsDoNotBalance.selector, 1000, 1000, uint64(999)
            )
        );
        auction.settle(MARKET, i, 1, 999, pack(words3(buyWord(1000), sellWord(1000), 0)), "");
        vm.stopPrank();
    }

    function test_settle_revertsWithdrawnNotExcluded() public {
        uint64 j = i + 1;
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, j, bytes32(uint256(3)), 1);
        commitRaw(bob, j, bytes32(uint256(4)), 1);
        vm.prank(alice);
        auction.withdrawCommitment(MARKET, j, r);
        vm.warp(gateOf(j));
        vm.startPrank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionWithdrawnNotExcluded.selector, uint32(0))
        );
        auction.settle(MARKET, j, 0, 0, pack(words2(0, 0)), "");
        auction.settle(MARKET, j, 0, 0, pack(words2(excludedWord(), 0)), "");
        vm.stopPrank();
    }

    function test_settle_revertsInvalidProof() public {
        ISealgridAuction.MarketParams memory p = params();
        p.verifier = new RejectAllVerifier();
        _useTerms(p);
        vm.warp(gateOf(i));
        vm.prank(operator);
        vm.expectRevert(ISealgridAuction.AuctionInvalidProof.selector);
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_boundsVerifierGas() public {
        ISealgridAuction.MarketParams memory p = params();
        p.verifier = new GasBurnerVerifier();
        _useTerms(p);
        vm.warp(gateOf(i));
        vm.prank(operator);
        vm.expectRevert(ISealgridAuction.AuctionInvalidProof.selector);
        auction.settle{gas: 2_000_000}(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsWithTooLittleGas() public {
        vm.warp(gateOf(i));
        vm.prank(operator);
        vm.expectPartialRevert(ISealgridAuction.AuctionInsufficientGas.selector);
        auction.settle{gas: 300_000}(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_settle_revertsWhenPaused() public {
        vm.prank(pauser);
        auction.pause();
        vm.warp(gateOf(i));
        vm.prank(operator);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        auction.settle(MARKET, i, 0, 0, pack(words3(0, 0, 0)), "");
    }

    function test_voidInterval_afterDeadline() public {
        vm.warp(gateOf(i) + WINDOW - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotRefundable.selector, i, ISealgridAuction.Status.Open
            )
        );
        auction.voidInterval(MARKET, i);
        vm.warp(gateOf(i) + WINDOW);
        auction.voidInterval(MARKET, i);
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(MARKET, i);
        vm.assertTrue(status == ISealgridAuction.Status.Voided, "voided");
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionNotOpen.selector, i, ISealgridAuction.Status.Voided
            )
        );
        auction.voidInterval(MARKET, i);
    }

    /// Any balanced fill vector over any count is accepted and its root matches the reference tree.
    function testFuzz_settle_rootMatchesReference(uint256 seed, uint8 n) public {
        uint64 j = i + 1;
        uint256 count = bound(n, 1, 40);
        uint64[] memory w = new uint64[](count);
        uint64 buys;
        for (uint256 k; k < count; ++k) {
            // Two accounts: 40 commitments from one would pass the per-account cap.
            commitRaw(k % 2 == 0 ? alice : bob, j, bytes32(uint256(k + 1)), 0);
            uint64 q = uint64(uint256(keccak256(abi.encode(seed, k))) % 1000);
            if (k % 2 == 0 && k + 1 < count) {
                w[k] = buyWord(q);
                buys += q;
            } else if (k % 2 == 1) {
                w[k] = sellWord(q);
                buys -= 0;
            }
        }
        // balance the sells to the buys
        uint64 sells;
        for (uint256 k = 1; k < count; k += 2) {
            uint64 q = w[k] & FillsLib.QUANTITY_MASK;
            uint64 take = q < buys - sells ? q : buys - sells;
            w[k] = sellWord(take);
            sells += take;
        }
        vm.assume(sells == buys);
        settleAt(j, buys == 0 ? int64(0) : int64(1000), buys, w);
        (,,,,, bytes32 root) = auction.getInterval(MARKET, j);
        for (uint32 k; k < count; ++k) {
            vm.assertTrue(this.verifyProof(root, count, k, w[k], proofOf(w, k)), "proof verifies");
            if (w[k] != 0) {
                vm.assertFalse(this.verifyProof(root, count, k, w[k] - 1, proofOf(w, k)), "tampered word");
            }
        }
    }

    function verifyProof(bytes32 root, uint256 count, uint32 index, uint64 word, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        return FillsLib.verify(root, count, index, word, proof);
    }
}
