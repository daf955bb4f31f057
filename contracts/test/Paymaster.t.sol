// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {SimpleAccount} from "@account-abstraction/contracts/accounts/SimpleAccount.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PaymasterFixture} from "./utils/PaymasterFixture.sol";
import {MarketAccountFactory} from "../src/accounts/MarketAccountFactory.sol";
import {MarketPaymaster, IMarketAccount} from "../src/MarketPaymaster.sol";
import {ISealgridAuction} from "../src/interfaces/ISealgridAuction.sol";
import {IMarketPaymaster} from "../src/interfaces/IMarketPaymaster.sol";

/// @notice The market paymaster on a real EntryPoint v0.8: a sponsored commit lands and the
///         paymaster pays; every policy refusal and signature failure is refused.
contract PaymasterTest is PaymasterFixture {
    function _commitOp(uint256 n) internal view returns (PackedUserOperation memory) {
        return userOp(commitCall(nextInterval(), bytes32(n + 1), 1e6));
    }

    function test_sponsoredCommit_landsAndThePaymasterPays() public {
        (uint48 until, uint48 after_) = window();
        PackedUserOperation memory op = sponsored(_commitOp(0), SPONSOR_PK, until, after_);
        uint64 i = nextInterval();
        uint256 deposit0 = paymaster.getDeposit();
        uint256 accountEth = address(account).balance;
        entryPoint.handleOps(one(op), bundler);
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(uint256(count), 1, "the commitment landed");
        vm.assertLt(paymaster.getDeposit(), deposit0, "the paymaster paid");
        vm.assertGt(bundler.balance, 0, "the bundler was paid");
        vm.assertEq(address(account).balance, accountEth, "the account paid nothing");
        (uint32 quota, uint48 p, uint32 used) = paymaster.usageOf(address(account));
        vm.assertEq(uint256(quota), QUOTA, "quota");
        vm.assertEq(uint256(p), after_ / 1 days, "period from validAfter");
        vm.assertEq(uint256(used), 1, "one used");
    }

    function test_badOrExpiredSignatures_failValidationWithoutReverting() public {
        (uint48 until, uint48 after_) = window();
        // Signed by another key: validation returns SIG_VALIDATION_FAILED, the EntryPoint refuses.
        PackedUserOperation memory op = sponsored(_commitOp(0), OWNER_PK, until, after_);
        vm.expectRevert(abi.encodeWithSelector(IEntryPoint.FailedOp.selector, 0, "AA34 signature error"));
        entryPoint.handleOps(one(op), bundler);
        // The paymaster itself answers without reverting.
        vm.prank(address(entryPoint));
        (, uint256 validationData) = paymaster.validatePaymasterUserOp(op, bytes32(0), 0);
        vm.assertEq(validationData & 1, 1, "SIG_VALIDATION_FAILED");
        // Expired window.
        op = sponsored(_commitOp(0), SPONSOR_PK, uint48(block.timestamp - 1), uint48(block.timestamp - 100));
        vm.expectRevert(
            abi.encodeWithSelector(IEntryPoint.FailedOp.selector, 0, "AA32 paymaster expired or not due")
        );
        entryPoint.handleOps(one(op), bundler);
        // A signature for other fields (the callData changed after signing).
        op = sponsored(_commitOp(0), SPONSOR_PK, until, after_);
        op.callData = commitCall(nextInterval(), bytes32(uint256(99)), 1e6);
        op = signed(op);
        vm.expectRevert(abi.encodeWithSelector(IEntryPoint.FailedOp.selector, 0, "AA34 signature error"));
        entryPoint.handleOps(one(op), bundler);
    }

    function test_quota_isPerPeriod() public {
        (uint48 until, uint48 after_) = window();
        for (uint256 n; n < QUOTA; ++n) {
            entryPoint.handleOps(one(sponsored(_commitOp(n), SPONSOR_PK, until, after_)), bundler);
        }
        PackedUserOperation memory op = sponsored(_commitOp(9), SPONSOR_PK, until, after_);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEntryPoint.FailedOpWithRevert.selector,
                0,
                "AA33 reverted",
                abi.encodeWithSelector(
                    IMarketPaymaster.PaymasterQuotaExceeded.selector, address(account), after_ / 1 days, QUOTA
                )
            )
        );
        entryPoint.handleOps(one(op), bundler);
        // The next period has a fresh quota.
        vm.warp(block.timestamp + 1 days);
        (until, after_) = window();
        entryPoint.handleOps(one(sponsored(_commitOp(9), SPONSOR_PK, until, after_)), bundler);
    }

    function _refusedCall(bytes memory callData, bytes memory inner) internal {
        (uint48 until, uint48 after_) = window();
        PackedUserOperation memory op = sponsored(userOp(callData), SPONSOR_PK, until, after_);
        vm.expectRevert(
            abi.encodeWithSelector(IEntryPoint.FailedOpWithRevert.selector, 0, "AA33 reverted", inner)
        );
        entryPoint.handleOps(one(op), bundler);
    }

    function test_onlyTheMarketsActions_areSponsored() public {
        // Another target: the token (approve).
        bytes memory approve = abi.encodeCall(IERC20.approve, (address(this), 1));
        _refusedCall(
            abi.encodeCall(IMarketAccount.execute, (address(token), 0, approve)),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterCallNotAllowed.selector, address(token), IERC20.approve.selector
            )
        );
        // The auction, but an action the market does not sponsor (withdraw).
        bytes memory withdraw = abi.encodeCall(auction.withdraw, (IERC20(address(token)), address(this), 1));
        _refusedCall(
            abi.encodeCall(IMarketAccount.execute, (address(auction), 0, withdraw)),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterCallNotAllowed.selector, address(auction), auction.withdraw.selector
            )
        );
        // Value attached to an allowed call.
        bytes memory commit =
            abi.encodeCall(auction.commit, (MARKET, nextInterval(), bytes32(uint256(1)), 1e6));
        _refusedCall(
            abi.encodeCall(IMarketAccount.execute, (address(auction), 1, commit)),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterCallNotAllowed.selector, address(auction), auction.commit.selector
            )
        );
        // A batch with one bad call.
        IMarketAccount.Call[] memory calls = new IMarketAccount.Call[](2);
        calls[0] = IMarketAccount.Call({target: address(auction), value: 0, data: commit});
        calls[1] = IMarketAccount.Call({target: address(token), value: 0, data: approve});
        _refusedCall(
            abi.encodeCall(IMarketAccount.executeBatch, (calls)),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterCallNotAllowed.selector, address(token), IERC20.approve.selector
            )
        );
        // Not an account call at all.
        _refusedCall(
            abi.encodeCall(SimpleAccount.initialize, (address(this))),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterCallNotAllowed.selector,
                address(0),
                SimpleAccount.initialize.selector
            )
        );
    }

    function test_aBatchOfMarketActions_isSponsored() public {
        uint64 i = nextInterval();
        IMarketAccount.Call[] memory calls = new IMarketAccount.Call[](2);
        for (uint256 k; k < 2; ++k) {
            calls[k] = IMarketAccount.Call({
                target: address(auction),
                value: 0,
                data: abi.encodeCall(auction.commit, (MARKET, i, bytes32(k + 7), 1e6))
            });
        }
        (uint48 until, uint48 after_) = window();
        entryPoint.handleOps(
            one(
                sponsored(
                    userOp(abi.encodeCall(IMarketAccount.executeBatch, (calls))), SPONSOR_PK, until, after_
                )
            ),
            bundler
        );
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(uint256(count), 2, "both commitments landed");
    }

    function test_nonParticipants_andMalformedData_areRefused() public {
        address[] memory who = new address[](1);
        who[0] = address(account);
        paymaster.setParticipants(who, 0);
        (uint48 until, uint48 after_) = window();
        PackedUserOperation memory op = sponsored(_commitOp(0), SPONSOR_PK, until, after_);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEntryPoint.FailedOpWithRevert.selector,
                0,
                "AA33 reverted",
                abi.encodeWithSelector(IMarketPaymaster.PaymasterNotParticipant.selector, address(account))
            )
        );
        entryPoint.handleOps(one(op), bundler);
        paymaster.setParticipants(who, QUOTA);
        op = _commitOp(0);
        op.paymasterAndData = abi.encodePacked(address(paymaster), uint128(150_000), uint128(0), uint48(1));
        op = signed(op);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEntryPoint.FailedOpWithRevert.selector,
                0,
                "AA33 reverted",
                abi.encodeWithSelector(IMarketPaymaster.PaymasterBadData.selector, 6)
            )
        );
        entryPoint.handleOps(one(op), bundler);
    }

    function test_marketAccount_signsOrdersWithErc1271() public {
        bytes32 digest = keccak256("an order digest");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OWNER_PK, digest);
        vm.assertEq(
            account.isValidSignature(digest, abi.encodePacked(r, s, v)),
            bytes4(0x1626ba7e),
            "the owner's signature"
        );
        (v, r, s) = vm.sign(SPONSOR_PK, digest);
        vm.assertEq(
            account.isValidSignature(digest, abi.encodePacked(r, s, v)), bytes4(0xffffffff), "another key"
        );
        vm.assertEq(account.isValidSignature(digest, hex"1234"), bytes4(0xffffffff), "malformed");
        // The factory creates accounts only for the EntryPoint, at the counterfactual address.
        vm.expectRevert(
            abi.encodeWithSelector(MarketAccountFactory.FactoryNotSenderCreator.selector, address(this))
        );
        factory.createAccount(alice, 1);
        vm.assertEq(factory.getAddress(vm.addr(OWNER_PK), 0), address(account), "counterfactual address");
    }

    function test_admin_isTheOwnerOnly() public {
        address[] memory who = new address[](1);
        vm.prank(alice);
        vm.expectPartialRevert(bytes4(keccak256("OwnableUnauthorizedAccount(address)")));
        paymaster.setParticipants(who, 1);
        vm.prank(alice);
        vm.expectPartialRevert(bytes4(keccak256("OwnableUnauthorizedAccount(address)")));
        paymaster.withdrawTo(payable(alice), 1);
        vm.assertEq(paymaster.signer(), sponsor, "the sponsorship key");
        // Withdrawals of the deposit go to the owner's choice.
        uint256 before = alice.balance;
        paymaster.withdrawTo(payable(alice), 1 ether);
        vm.assertEq(alice.balance - before, 1 ether, "withdrawn");
    }
}

/// @notice Gas of a sponsored commit against the same commit paid by the account itself
///         (snapshots/PaymasterGas.json). Target: sponsorship adds <= 10k gas. Alone in its
///         bundle it adds about 15k (cold paymaster account 2.6k, quota slot 5k, signature 3k+,
///         paymasterAndData and decoding: see the issue note), held as a regression bound; in a
///         bundle of four it adds about 9.6k per operation (the paymaster's account and deposit
///         are warm after the first), held to the target.
contract PaymasterGas is PaymasterFixture {
    function test_gas_sponsoredCommit_overhead() public {
        // Warm both paths once so that both measured operations see the same storage state.
        vm.deal(address(account), 1 ether);
        (uint48 until, uint48 after_) = window();
        uint64 i = nextInterval();
        PackedUserOperation memory self_ = userOp(commitCall(i, bytes32(uint256(1)), 1e6));
        entryPoint.handleOps(one(signed(self_)), bundler);
        entryPoint.handleOps(
            one(sponsored(userOp(commitCall(i, bytes32(uint256(2)), 1e6)), SPONSOR_PK, until, after_)),
            bundler
        );

        self_ = signed(userOp(commitCall(i, bytes32(uint256(3)), 1e6)));
        entryPoint.handleOps(one(self_), bundler);
        uint256 unsponsored = vm.snapshotGasLastCall("handleOps: commit, account pays");
        PackedUserOperation memory op =
            sponsored(userOp(commitCall(i, bytes32(uint256(4)), 1e6)), SPONSOR_PK, until, after_);
        entryPoint.handleOps(one(op), bundler);
        uint256 withPaymaster = vm.snapshotGasLastCall("handleOps: commit, market paymaster pays");
        vm.snapshotValue("sponsorship overhead", withPaymaster - unsponsored);
        vm.assertLe(withPaymaster - unsponsored, 16_000, "sponsorship overhead (regression bound)");
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(uint256(count), 4, "all four landed");
    }

    /// @dev Bundlers send operations in bundles: there the paymaster's account and its deposit
    ///      slot in the EntryPoint are cold only for the first operation, while every account
    ///      that pays for itself touches its own deposit. Four accounts commit in one bundle
    ///      paying for themselves, then in one bundle sponsored (each measured after a warm-up of
    ///      both, so both see the same storage state).
    function test_gas_sponsoredCommit_overheadPerOperationInABundle() public {
        uint256 n = 4;
        uint256[] memory owners = new uint256[](n);
        address[] memory accounts = new address[](n);
        owners[0] = OWNER_PK;
        accounts[0] = address(account);
        token.mint(address(this), n * 1e9);
        for (uint256 k = 1; k < n; ++k) {
            owners[k] = OWNER_PK + k;
            vm.prank(address(entryPoint.senderCreator()));
            accounts[k] = address(factory.createAccount(vm.addr(owners[k]), 0));
            auction.deposit(IERC20(address(token)), accounts[k], 1e9);
        }
        paymaster.setParticipants(accounts, QUOTA);
        for (uint256 k; k < n; ++k) {
            vm.deal(accounts[k], 1 ether);
        }
        (uint48 until, uint48 after_) = window();
        uint64 i = nextInterval();
        uint256 c;
        uint256[2] memory gas;
        for (uint256 round; round < 2; ++round) {
            for (uint256 mode; mode < 2; ++mode) {
                PackedUserOperation[] memory ops = new PackedUserOperation[](n);
                for (uint256 k; k < n; ++k) {
                    PackedUserOperation memory op = userOpOf(accounts[k], commitCall(i, bytes32(++c), 1e6));
                    ops[k] = mode == 0
                        ? signedBy(op, owners[k])
                        : sponsoredFor(op, SPONSOR_PK, owners[k], until, after_);
                }
                entryPoint.handleOps(ops, bundler);
                if (round == 1) {
                    gas[mode] = vm.snapshotGasLastCall(
                        mode == 0
                            ? "handleOps: 4 commits, accounts pay"
                            : "handleOps: 4 commits, market paymaster pays"
                    );
                }
            }
        }
        uint256 overhead = (gas[1] - gas[0]) / n;
        vm.snapshotValue("sponsorship overhead per operation, bundle of 4", overhead);
        vm.assertLe(overhead, 10_000, "sponsorship overhead per operation in a bundle");
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        vm.assertEq(uint256(count), 4 * n, "every commit landed");
    }
}
