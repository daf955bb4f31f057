// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {IStakeManager} from "@account-abstraction/contracts/interfaces/IStakeManager.sol";
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
        // Two calls: the call gas cap is twice the per-call cap.
        PackedUserOperation memory op =
            withGas(userOp(abi.encodeCall(IMarketAccount.executeBatch, (calls))), 100_000, 300_000, 60_000);
        entryPoint.handleOps(one(sponsored(op, SPONSOR_PK, until, after_)), bundler);
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

    function test_construction_ownerFromTheStart_stakeAdded_zeroCapsRefused() public {
        address timelock = address(0x7111);
        IMarketPaymaster.Limits memory l = limits;
        MarketPaymaster pm = new MarketPaymaster{value: 2 ether}(
            IEntryPoint(address(entryPoint)), timelock, alice, sponsor, auction, certs, 1 days, 3 days, l
        );
        vm.assertEq(pm.owner(), timelock, "the owner from construction on");
        vm.assertEq(pm.pendingOwner(), address(0), "no handover pending");
        vm.assertEq(pm.registrar(), alice, "registrar");
        vm.assertEq(abi.encode(pm.limits()), abi.encode(l), "caps");
        (, bool staked, uint112 stake, uint32 delay,) = _deposit(address(pm));
        vm.assertTrue(staked, "staked");
        vm.assertEq(uint256(stake), 2 ether, "stake");
        vm.assertEq(uint256(delay), 3 days, "unstake delay");
        l.maxCost = 0;
        vm.expectRevert(IMarketPaymaster.PaymasterInvalidConfig.selector);
        new MarketPaymaster(
            IEntryPoint(address(entryPoint)), timelock, alice, sponsor, auction, certs, 1 days, 0, l
        );
        l = limits;
        l.callGasPerCall = 0;
        vm.expectRevert(IMarketPaymaster.PaymasterInvalidConfig.selector);
        new MarketPaymaster(
            IEntryPoint(address(entryPoint)), timelock, alice, sponsor, auction, certs, 1 days, 0, l
        );
        vm.expectRevert(IMarketPaymaster.PaymasterInvalidConfig.selector);
        new MarketPaymaster(
            IEntryPoint(address(entryPoint)), address(0), alice, sponsor, auction, certs, 1 days, 0, limits
        );
    }

    function _deposit(address who) internal view returns (uint256, bool, uint112, uint32, uint48) {
        IStakeManager.DepositInfo memory d = entryPoint.getDepositInfo(who);
        return (d.deposit, d.staked, d.stake, d.unstakeDelaySec, d.withdrawTime);
    }

    function test_admin_isTheOwnerOnly() public {
        address[] memory who = new address[](1);
        who[0] = bob;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMarketPaymaster.PaymasterUnauthorized.selector, alice));
        paymaster.setParticipants(who, 1);
        // The owner names a registrar, which registers participants and nothing else.
        vm.prank(alice);
        vm.expectPartialRevert(bytes4(keccak256("OwnableUnauthorizedAccount(address)")));
        paymaster.setRegistrar(alice);
        vm.expectRevert(IMarketPaymaster.PaymasterInvalidConfig.selector);
        paymaster.setRegistrar(address(0));
        paymaster.setRegistrar(alice);
        vm.assertEq(paymaster.registrar(), alice, "registrar");
        vm.prank(alice);
        paymaster.setParticipants(who, 7);
        (uint32 quota,,) = paymaster.usageOf(bob);
        vm.assertEq(uint256(quota), 7, "registered by the registrar");
        vm.prank(alice);
        vm.expectPartialRevert(bytes4(keccak256("OwnableUnauthorizedAccount(address)")));
        paymaster.unlockStake();
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
        // Each path commits into its own interval, so that both measured commits are the
        // account's second in their interval (an account's j-th record costs j probes).
        uint64 i = nextInterval();
        PackedUserOperation memory self_ = userOp(commitCall(i, bytes32(uint256(1)), 1e6));
        entryPoint.handleOps(one(signed(self_)), bundler);
        entryPoint.handleOps(
            one(sponsored(userOp(commitCall(i + 1, bytes32(uint256(2)), 1e6)), SPONSOR_PK, until, after_)),
            bundler
        );

        self_ = signed(userOp(commitCall(i, bytes32(uint256(3)), 1e6)));
        entryPoint.handleOps(one(self_), bundler);
        uint256 unsponsored = vm.snapshotGasLastCall("handleOps: commit, account pays");
        PackedUserOperation memory op =
            sponsored(userOp(commitCall(i + 1, bytes32(uint256(4)), 1e6)), SPONSOR_PK, until, after_);
        entryPoint.handleOps(one(op), bundler);
        uint256 withPaymaster = vm.snapshotGasLastCall("handleOps: commit, market paymaster pays");
        vm.snapshotValue("sponsorship overhead", withPaymaster - unsponsored);
        vm.assertLe(withPaymaster - unsponsored, 16_000, "sponsorship overhead (regression bound)");
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        (, uint32 count1,,,,) = auction.getInterval(MARKET, i + 1);
        vm.assertEq(uint256(count) + count1, 4, "all four landed");
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
                    // One interval per mode: in round 1 every commit is its account's second
                    // in its interval either way.
                    PackedUserOperation memory op =
                        userOpOf(accounts[k], commitCall(i + uint64(mode), bytes32(++c), 1e6));
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
        // The caps on every gas field and fee (issue 17, hole 10) cost about 630 per operation
        // over the 9,622 before them. (Compiling the paymaster at runs = 1,000,000 saved 740 but
        // put the auction into two compiler profiles, which forge scripts cannot name.)
        vm.assertLe(overhead, 10_500, "sponsorship overhead per operation in a bundle");
        (, uint32 count,,,,) = auction.getInterval(MARKET, i);
        (, uint32 count1,,,,) = auction.getInterval(MARKET, i + 1);
        vm.assertEq(uint256(count) + count1, 4 * n, "every commit landed");
    }
}

/// @notice What a sponsored operation needs, measured through the EntryPoint (each figure is the
///         least limit with which the operation still lands, found by bisection on a fresh state
///         each time; every handleOps is its own transaction under the gas profile, so storage is
///         cold as on chain), against the default caps of deploy/config/local.toml: each cap must
///         leave at least 25% headroom over its need and at most 3x (a cap far above the need is
///         money a self-bundling participant can take). preVerificationGas is the bundler's figure
///         and is measured through alto (tests/e2e/bundler.rs).
contract PaymasterGasNeeds is PaymasterFixture {
    enum Measured {
        Verification,
        Call,
        PaymasterVerification
    }

    uint256 internal constant ROOMY = 1_000_000;

    /// @dev The measurements run against a paymaster of the same code with caps far above every
    ///      need (the caps are immutables: their values do not change the validation's gas).
    function setUp() public override {
        super.setUp();
        IMarketPaymaster.Limits memory roomy = IMarketPaymaster.Limits({
            verificationGas: uint32(ROOMY),
            callGasPerCall: uint32(ROOMY),
            maxCalls: limits.maxCalls,
            preVerificationGas: uint32(ROOMY),
            paymasterVerificationGas: uint32(ROOMY),
            paymasterPostOpGas: 0,
            maxFeePerGas: 1e12,
            maxPriorityFeePerGas: 1e12,
            maxCost: 1e30
        });
        paymaster = new MarketPaymaster{value: 1 ether}(
            IEntryPoint(address(entryPoint)),
            address(this),
            address(0),
            sponsor,
            auction,
            certs,
            1 days,
            1 days,
            roomy
        );
        paymaster.deposit{value: 10 ether}();
        paymaster.setParticipants(_one(address(account)), QUOTA);
    }

    /// @dev The operation of `sender` with `callData`, the measured limit set to `gas` and the
    ///      others roomy, sponsored and signed.
    function _op(
        Measured which,
        uint256 gas,
        address sender,
        uint256 ownerPk,
        bytes memory initCode,
        bytes memory callData
    ) internal view returns (PackedUserOperation memory op) {
        (uint48 until, uint48 after_) = window();
        op = userOpOf(sender, callData);
        op.initCode = initCode;
        op = withGas(
            op, which == Measured.Verification ? gas : ROOMY, which == Measured.Call ? gas : ROOMY, 50_000
        );
        uint128 pm = which == Measured.PaymasterVerification ? uint128(gas) : uint128(ROOMY);
        op = sponsoredWith(op, SPONSOR_PK, ownerPk, until, after_, pm, 0);
    }

    /// @dev Whether `op` lands and adds `n` commitments to interval `i`; the state is restored.
    function _lands(PackedUserOperation memory op, uint64 i, uint32 n) internal returns (bool ok) {
        (, uint32 before,,,,) = auction.getInterval(MARKET, i);
        uint256 snap = vm.snapshotState();
        try entryPoint.handleOps(one(op), bundler) {
            (, uint32 count,,,,) = auction.getInterval(MARKET, i);
            ok = count == before + n;
        } catch {
            ok = false;
        }
        vm.revertToState(snap);
    }

    /// @dev The least `which` limit with which the operation lands.
    function _need(
        Measured which,
        address sender,
        uint256 ownerPk,
        bytes memory initCode,
        bytes memory callData,
        uint64 i,
        uint32 n
    ) internal returns (uint256) {
        uint256 lo = 1;
        uint256 hi = ROOMY;
        require(_lands(_op(which, hi, sender, ownerPk, initCode, callData), i, n), "does not land at all");
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_lands(_op(which, mid, sender, ownerPk, initCode, callData), i, n)) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }

    function _batch(uint64 i, uint256 n) internal view returns (bytes memory) {
        IMarketAccount.Call[] memory calls = new IMarketAccount.Call[](n);
        for (uint256 k; k < n; ++k) {
            calls[k] = IMarketAccount.Call({
                target: address(auction),
                value: 0,
                data: abi.encodeCall(auction.commit, (MARKET, i, bytes32(k + 100), 1e6))
            });
        }
        return abi.encodeCall(IMarketAccount.executeBatch, (calls));
    }

    function _headroom(string memory what, uint256 need, uint256 cap) internal {
        vm.snapshotValue(what, need);
        vm.assertGe(cap * 4, need * 5, string.concat(what, ": the cap leaves 25% headroom"));
        vm.assertLe(cap, need * 3, string.concat(what, ": the cap is at most 3x the need"));
    }

    function test_gas_measuredNeeds_fitTheDefaultCaps() public {
        uint64 i = nextInterval();
        address me = address(account);
        // The call: the first commit of an interval (new interval slots: the dearest commit).
        uint256 call = _need(Measured.Call, me, OWNER_PK, "", commitCall(i, bytes32(uint256(1)), 1e6), i, 1);
        _headroom("need: callGasLimit, first commit of an interval", call, limits.callGasPerCall);
        // A full batch per call.
        uint256 batch = _need(Measured.Call, me, OWNER_PK, "", _batch(i, limits.maxCalls), i, limits.maxCalls);
        vm.snapshotValue("need: callGasLimit, batch of maxCalls commits", batch);
        vm.assertLe(batch, uint256(limits.callGasPerCall) * limits.maxCalls, "a full batch fits");
        // The paymaster's validation: a full batch decodes the most.
        uint256 pm = _need(
            Measured.PaymasterVerification, me, OWNER_PK, "", _batch(i, limits.maxCalls), i, limits.maxCalls
        );
        _headroom(
            "need: paymasterVerificationGasLimit, batch of maxCalls", pm, limits.paymasterVerificationGas
        );
        // The account's validation with its deployment (a new counterfactual account).
        uint256 ownerPk = OWNER_PK + 77;
        address fresh = factory.getAddress(vm.addr(ownerPk), 0);
        paymaster.setParticipants(_one(fresh), QUOTA);
        token.mint(address(this), 1e9);
        auction.deposit(IERC20(address(token)), fresh, 1e9);
        bytes memory initCode =
            abi.encodePacked(address(factory), abi.encodeCall(factory.createAccount, (vm.addr(ownerPk), 0)));
        uint256 verification = _need(
            Measured.Verification, fresh, ownerPk, initCode, commitCall(i, bytes32(uint256(2)), 1e6), i, 1
        );
        _headroom(
            "need: verificationGasLimit, with the account's deployment", verification, limits.verificationGas
        );
    }

    function _one(address a) internal pure returns (address[] memory as_) {
        as_ = new address[](1);
        as_[0] = a;
    }
}
