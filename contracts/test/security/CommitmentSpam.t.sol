// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {AuctionFixture} from "../utils/Fixture.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";

/// @notice Commitment spam (issue 17, "Commitment spam cannot fill an interval cheaply"). Before,
///         an interval of capacity N could be filled by one account with N commitments of lock 0
///         (or with N commit-and-withdraw pairs that got every lock back): honest traders were
///         refused `AuctionIntervalFull` for the price of gas. Now each account has at most
///         `maxPerAccount` commitments per interval (a withdrawn one keeps its slot), every lock
///         covers the interval's unopened fee, and a commitment that is withdrawn or settled as
///         excluded pays that fee into the insurance account. Filling the interval takes
///         N / maxPerAccount accounts and costs N fees; an order that is opened, a void interval
///         and a proven censorship cost their trader nothing.
contract CommitmentSpamTest is AuctionFixture {
    uint8 internal constant PER_ACCOUNT = 2;
    uint128 internal constant FEE = 100_000; // 0.10 of a 6-decimal token
    uint24 internal constant CAPACITY = 8;

    uint64 internal i;

    function params() internal view override returns (ISealgridAuction.MarketParams memory p) {
        p = super.params();
        p.maxPerAccount = PER_ACCOUNT;
        p.unopenedFee = FEE;
        p.maxCommitments = CAPACITY;
    }

    function setUp() public override {
        super.setUp();
        i = nextInterval();
    }

    function _tok() internal view returns (IERC20) {
        return IERC20(address(token));
    }

    function _worth(address who) internal view returns (uint256) {
        return token.balanceOf(who) + auction.balanceOf(_tok(), who);
    }

    function _sybil(uint256 k) internal returns (address s) {
        s = address(uint160(0x5B00 + k));
        fund(s, 1e9);
    }

    /// @dev The vault's own identity: every token it holds is a free balance, a lock, a bond,
    ///      insurance, or (in milli-units) fees and the pool.
    function _assertVault(uint256 locks) internal view {
        (int128 pool, uint128 fees) = auction.ledger(_tok());
        (,,, uint128 bond) = auction.getMarket(MARKET);
        uint256 free = auction.balanceOf(_tok(), alice) + auction.balanceOf(_tok(), bob)
            + auction.balanceOf(_tok(), carol);
        for (uint256 k; k < CAPACITY; ++k) {
            free += auction.balanceOf(_tok(), address(uint160(0x5B00 + k)));
        }
        int256 lhs = int256(token.balanceOf(address(auction))) * 1000;
        int256 rhs = int256((free + locks + bond + auction.insurance(MARKET)) * 1000 + fees) + pool;
        vm.assertEq(lhs, rhs, "vault identity");
    }

    function test_attack_oneAccountFillsTheInterval_isCappedPerAccount() public {
        commitRaw(carol, i, bytes32(uint256(1)), FEE);
        commitRaw(carol, i, bytes32(uint256(2)), FEE);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionAccountCapReached.selector, carol, i, PER_ACCOUNT)
        );
        auction.commit(MARKET, i, bytes32(uint256(3)), FEE);
        // The cap is per interval and per account: the next interval and other accounts are open.
        commitRaw(carol, i + 1, bytes32(uint256(3)), FEE);
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(4)), FEE);
        vm.assertEq(uint256(r.index), 2, "alice still gets a place");
    }

    function test_attack_commitAndWithdraw_keepsTheSlot_andPaysTheFee() public {
        uint256 before = _worth(carol);
        ISealgridAuction.CommitmentRecord memory r1 = commitRaw(carol, i, bytes32(uint256(1)), 5 * FEE);
        ISealgridAuction.CommitmentRecord memory r2 = commitRaw(carol, i, bytes32(uint256(2)), FEE);
        vm.startPrank(carol);
        auction.withdrawCommitment(MARKET, i, r1);
        auction.withdrawCommitment(MARKET, i, r2);
        // Withdrawing did not free a slot: the third commitment is still refused.
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionAccountCapReached.selector, carol, i, PER_ACCOUNT)
        );
        auction.commit(MARKET, i, bytes32(uint256(3)), FEE);
        // A withdrawn record cannot be withdrawn again.
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, r1.index));
        auction.withdrawCommitment(MARKET, i, r1);
        vm.stopPrank();
        vm.assertEq(before - _worth(carol), 2 * FEE, "two withdrawn commitments cost two fees");
        vm.assertEq(uint256(auction.insurance(MARKET)), 2 * FEE, "the fees are in the insurance account");
        _assertVault(0);
    }

    function test_attack_zeroLockSpam_isRefused() public {
        vm.startPrank(carol);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionLockBelowFee.selector, 0, FEE));
        auction.commit(MARKET, i, bytes32(uint256(1)), 0);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionLockBelowFee.selector, FEE - 1, FEE));
        auction.commit(MARKET, i, bytes32(uint256(1)), FEE - 1);
        vm.stopPrank();
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(uint256(count), 0, "nothing was appended");
    }

    /// @dev The whole attack: sybils fill the interval with commitments nobody opens. The honest
    ///      trader is refused, but the attacker paid CAPACITY fees into insurance and needed
    ///      CAPACITY / PER_ACCOUNT funded accounts; nobody else lost anything.
    function test_attack_sybilsFillTheInterval_payOneFeePerCommitment() public {
        uint256 sybils = CAPACITY / PER_ACCOUNT;
        ISealgridAuction.CommitmentRecord[] memory rs = new ISealgridAuction.CommitmentRecord[](CAPACITY);
        uint256 spent;
        for (uint256 k; k < CAPACITY; ++k) {
            address s = k < sybils ? _sybil(k) : address(uint160(0x5B00 + k % sybils));
            rs[k] = commitRaw(s, i, bytes32(k + 1), FEE);
            spent += FEE;
        }
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionIntervalFull.selector, i, CAPACITY));
        auction.commit(MARKET, i, bytes32(uint256(99)), 1e6);
        _assertVault(spent);

        uint64[] memory w = new uint64[](CAPACITY);
        for (uint256 k; k < CAPACITY; ++k) {
            w[k] = excludedWord();
        }
        settleAt(i, 0, 0, w);
        vm.warp(startOf(i));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](CAPACITY);
        for (uint256 k; k < CAPACITY; ++k) {
            cs[k] = claimOf(rs[k], w);
        }
        uint256 aliceBefore = _worth(alice);
        vm.prank(operator);
        auction.claimBatch(MARKET, i, cs);
        vm.assertEq(uint256(auction.insurance(MARKET)), CAPACITY * FEE, "one fee per unopened commitment");
        for (uint256 k; k < sybils; ++k) {
            vm.assertEq(
                auction.balanceOf(_tok(), address(uint160(0x5B00 + k))), 0, "each lock was only the fee"
            );
        }
        vm.assertEq(_worth(alice), aliceBefore, "the refused trader lost nothing");
        _assertVault(0);
    }

    function test_openedOrders_voidIntervals_andDisputes_payNoFee() public {
        // Opened and filled, opened and unfilled, excluded: only the excluded one pays.
        OrderLib.Order memory ob = order(alice, i, 0, 1000, 200_000, 1);
        OrderLib.Order memory os = order(bob, i, 1, 1000, 100_000, 1);
        ISealgridAuction.CommitmentRecord memory rb = commitOrder(ob, 200e3);
        ISealgridAuction.CommitmentRecord memory rs = commitOrder(os, FEE);
        ISealgridAuction.CommitmentRecord memory ru = commitRaw(carol, i, bytes32(uint256(7)), 3 * FEE);
        ISealgridAuction.CommitmentRecord memory rx = commitRaw(carol, i, bytes32(uint256(8)), 2 * FEE);
        uint64[] memory w = new uint64[](4);
        (w[0], w[1], w[2], w[3]) = (buyWord(1000), sellWord(1000), buyWord(0), excludedWord());
        settleAt(i, 150_000, 1000, w);
        vm.warp(startOf(i));
        uint256 carol0 = _worth(carol);
        auction.claim(MARKET, i, claimOf(rb, w));
        auction.claim(MARKET, i, claimOf(rs, w));
        auction.claim(MARKET, i, claimOf(ru, w));
        vm.assertEq(_worth(carol) - carol0, 3 * FEE, "an opened, unfilled order gets its whole lock");
        vm.assertEq(auction.balanceOf(_tok(), bob), FEE + 150e3, "the seller gets its lock and its proceeds");
        auction.claim(MARKET, i, claimOf(rx, w));
        vm.assertEq(_worth(carol) - carol0, 4 * FEE, "the excluded one paid the fee");
        vm.assertEq(uint256(auction.insurance(MARKET)), FEE, "one fee");
        _assertVault(0);

        // A void interval refunds every lock in full (i + 1's gate is i's start: closed).
        uint64 j = i + 2;
        ISealgridAuction.CommitmentRecord memory rv = commitRaw(carol, j, bytes32(uint256(9)), FEE);
        (, uint256 deadline,) = auction.intervalTimes(MARKET, j);
        vm.warp(deadline);
        auction.voidInterval(MARKET, j);
        uint256 carol1 = _worth(carol);
        auction.refund(MARKET, j, rv);
        vm.assertEq(_worth(carol) - carol1, FEE, "a void interval costs no fee");

        // A censored trader who disputes gets its whole lock back.
        uint64 k = j + 1;
        OrderLib.Order memory oc = order(alice, k, 0, 1000, 200_000, 2);
        ISealgridAuction.CommitmentRecord memory rc = commitOrder(oc, 200e3);
        commitRaw(bob, k, bytes32(uint256(10)), FEE);
        bytes memory receipt = receiptSig(k, rc.index, rc.commitment);
        uint64[] memory wk = words2(excludedWord(), excludedWord());
        settleAt(k, 0, 0, wk);
        uint256 alice0 = _worth(alice);
        auction.dispute(
            MARKET,
            k,
            ISealgridAuction.Dispute({
                index: rc.index, order: oc, lock: rc.lock, proof: proofOf(wk, rc.index), receipt: receipt
            })
        );
        vm.assertEq(_worth(alice) - alice0, 200e3, "a proven censorship costs its trader no fee");
    }

    function test_feeIsFixedPerInterval_byItsFirstCommitment() public {
        commitRaw(carol, i, bytes32(uint256(1)), FEE);
        ISealgridAuction.MarketParams memory p = params();
        p.unopenedFee = 3 * FEE;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        // The interval that has a commitment keeps its fee; a new one takes the market's.
        (uint256 cap, uint256 fee) = auction.commitLimits(MARKET, i);
        vm.assertEq(fee, FEE, "the started interval keeps its fee");
        vm.assertEq(cap, PER_ACCOUNT, "cap");
        (, fee) = auction.commitLimits(MARKET, i + 1);
        vm.assertEq(fee, 3 * FEE, "an interval without commitments takes the new fee");
        ISealgridAuction.CommitmentRecord memory r = commitRaw(alice, i, bytes32(uint256(2)), FEE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionLockBelowFee.selector, FEE, 3 * FEE));
        auction.commit(MARKET, i + 1, bytes32(uint256(3)), FEE);
        // Withdrawing pays the fee the interval was opened with, not the new one.
        uint256 before = _worth(alice);
        vm.prank(alice);
        auction.withdrawCommitment(MARKET, i, r);
        vm.assertEq(_worth(alice), before, "the whole lock was the fee");
        vm.assertEq(uint256(auction.insurance(MARKET)), FEE, "the interval's fee, not the new one");
    }

    function test_capNeverDecreases_andRecordsAreFoundInAnyOrder() public {
        ISealgridAuction.MarketParams memory p = params();
        p.maxPerAccount = PER_ACCOUNT + 2;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        ISealgridAuction.CommitmentRecord[] memory rs = new ISealgridAuction.CommitmentRecord[](4);
        for (uint256 k; k < 4; ++k) {
            rs[k] = commitRaw(carol, i, bytes32(k + 1), FEE * uint128(k + 1));
        }
        // Lowering the cap would hide records above it: refused.
        p.maxPerAccount = PER_ACCOUNT;
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionInvalidParams.selector, "max per account cannot decrease"
            )
        );
        auction.updateMarket(MARKET, p);
        uint64[] memory w = new uint64[](4);
        for (uint256 k; k < 4; ++k) {
            w[k] = buyWord(0);
        }
        settleAt(i, 0, 0, w);
        vm.warp(startOf(i));
        uint256 before = _worth(carol);
        // Claims in reverse order (each leaves a hole below the next one's slot).
        for (uint256 k = 4; k > 0; --k) {
            auction.claim(MARKET, i, claimOf(rs[k - 1], w));
            vm.assertFalse(auction.isOutstanding(MARKET, i, rs[k - 1]), "consumed");
        }
        vm.assertEq(_worth(carol) - before, 10 * FEE, "every lock returned once");
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionRecordMismatch.selector, rs[0].index));
        auction.claim(MARKET, i, claimOf(rs[0], w));
        // A record given with another trader is no record.
        ISealgridAuction.CommitmentRecord memory forged = rs[1];
        forged.trader = alice;
        vm.assertFalse(auction.isOutstanding(MARKET, i, forged), "not alice's");
    }

    function test_createMarket_refusesBadSpamLimits() public {
        bytes32 m2 = bytes32(uint256(0xbeef));
        ISealgridAuction.MarketParams memory p = params();
        string[4] memory reasons = [
            "max per account is zero",
            "max per account > 32",
            "unopened fee is not m * 10^e with m < 2048",
            "max commitments > 65535"
        ];
        for (uint256 k; k < 4; ++k) {
            p = params();
            if (k == 0) p.maxPerAccount = 0;
            if (k == 1) p.maxPerAccount = 33;
            if (k == 2) p.unopenedFee = 123_456;
            if (k == 3) p.maxCommitments = 65_536;
            vm.prank(admin);
            vm.expectRevert(
                abi.encodeWithSelector(ISealgridAuction.AuctionInvalidParams.selector, reasons[k])
            );
            auction.createMarket(m2, p);
        }
        p = params();
        p.unopenedFee = uint128(OrderLib.MAX_LOCK) + 1;
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionInvalidParams.selector, "unopened fee > max lock")
        );
        auction.createMarket(m2, p);
        // The fee round-trips through its 16-bit form.
        p = params();
        p.unopenedFee = 2047 * 1e12;
        vm.prank(admin);
        auction.createMarket(m2, p);
        (ISealgridAuction.MarketParams memory got,,,) = auction.getMarket(m2);
        vm.assertEq(uint256(got.unopenedFee), 2047 * 1e12, "fee");
        vm.assertEq(uint256(got.maxPerAccount), PER_ACCOUNT, "cap");
    }
}
