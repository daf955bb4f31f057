// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {PaymasterFixture} from "../utils/PaymasterFixture.sol";
import {IMarketAccount} from "../../src/MarketPaymaster.sol";
import {IMarketPaymaster} from "../../src/interfaces/IMarketPaymaster.sol";

/// @notice Issue 17, hole 10: the sponsorship signature bounded nothing, so an operation signed
///         with huge gas limits and fees (the old service signed 5M of every gas field at a max
///         fee of 10^15 wei) let a participant that bundles its own operation be paid
///         `preVerificationGas x gasPrice` and the unused-gas penalty from the paymaster's deposit.
///         Now every gas field, both fees and the operation's prefund are capped in
///         validatePaymasterUserOp, whoever signed. Also: quota periods never go backwards.
///         Each attack is signed with the real sponsorship key (what a careless or compromised
///         service would sign) and asserts that the deposit and the quota are untouched.
contract PaymasterBoundsTest is PaymasterFixture {
    uint256 internal constant MALLORY_PK = 0x3A11;
    address internal mallory;

    function setUp() public override {
        super.setUp();
        mallory = vm.addr(MALLORY_PK);
        vm.label(mallory, "mallory (participant and its own bundler)");
    }

    function _op(uint256 verification, uint256 call, uint256 pvg, uint128 pmGas, uint128 postOp)
        internal
        view
        returns (PackedUserOperation memory)
    {
        (uint48 until, uint48 after_) = window();
        PackedUserOperation memory op =
            withGas(userOp(commitCall(nextInterval(), bytes32(uint256(1)), 1e6)), verification, call, pvg);
        return sponsoredWith(op, SPONSOR_PK, OWNER_PK, until, after_, pmGas, postOp);
    }

    function _refused(PackedUserOperation memory op, bytes memory inner) internal {
        uint256 deposit = paymaster.getDeposit();
        (, uint48 p, uint32 used) = paymaster.usageOf(address(account));
        vm.expectRevert(
            abi.encodeWithSelector(IEntryPoint.FailedOpWithRevert.selector, 0, "AA33 reverted", inner)
        );
        entryPoint.handleOps(one(op), payable(mallory));
        vm.assertEq(paymaster.getDeposit(), deposit, "the deposit is untouched");
        vm.assertEq(mallory.balance, 0, "the bundler got nothing");
        (, uint48 p2, uint32 used2) = paymaster.usageOf(address(account));
        vm.assertEq(uint256(p2), uint256(p), "period untouched");
        vm.assertEq(uint256(used2), uint256(used), "quota untouched");
    }

    function _gasOver(IMarketPaymaster.GasField field, uint256 gas, uint256 cap)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(IMarketPaymaster.PaymasterGasOverCap.selector, field, gas, cap);
    }

    function test_eachGasFieldOverItsCap_isRefused() public {
        IMarketPaymaster.Limits memory l = paymaster.limits();
        vm.assertEq(abi.encode(l), abi.encode(limits), "the paymaster has the configured caps");
        (uint256 v, uint256 c, uint256 pv, uint128 pm) = (100_000, 150_000, 60_000, PM_GAS);
        _refused(
            _op(uint256(l.verificationGas) + 1, c, pv, pm, 0),
            _gasOver(
                IMarketPaymaster.GasField.Verification, uint256(l.verificationGas) + 1, l.verificationGas
            )
        );
        _refused(
            _op(v, uint256(l.callGasPerCall) + 1, pv, pm, 0),
            _gasOver(IMarketPaymaster.GasField.Call, uint256(l.callGasPerCall) + 1, l.callGasPerCall)
        );
        _refused(
            _op(v, c, uint256(l.preVerificationGas) + 1, pm, 0),
            _gasOver(
                IMarketPaymaster.GasField.PreVerification,
                uint256(l.preVerificationGas) + 1,
                l.preVerificationGas
            )
        );
        _refused(
            _op(v, c, pv, l.paymasterVerificationGas + 1, 0),
            _gasOver(
                IMarketPaymaster.GasField.PaymasterVerification,
                uint256(l.paymasterVerificationGas) + 1,
                l.paymasterVerificationGas
            )
        );
        _refused(
            _op(v, c, pv, pm, l.paymasterPostOpGas + 1),
            _gasOver(
                IMarketPaymaster.GasField.PaymasterPostOp,
                uint256(l.paymasterPostOpGas) + 1,
                l.paymasterPostOpGas
            )
        );
        // What the old service signed: 5M of everything (its 2^128 - 1 for the paymaster's
        // limits the EntryPoint already refuses, AA94).
        _refused(
            _op(5e6, 5e6, 5e6, 5e6, 5e6),
            _gasOver(IMarketPaymaster.GasField.Verification, 5e6, l.verificationGas)
        );
        // At the caps (and within the prefund cap at these fees) the operation lands.
        uint256 deposit = paymaster.getDeposit();
        entryPoint.handleOps(
            one(
                _op(l.verificationGas, l.callGasPerCall, l.preVerificationGas, l.paymasterVerificationGas, 0)
            ),
            payable(mallory)
        );
        (, uint32 count,,,,) = auction.getInterval(MARKET, nextInterval());
        vm.assertEq(uint256(count), 1, "an operation at the caps lands");
        vm.assertLe(deposit - paymaster.getDeposit(), l.maxCost, "and costs at most maxCost");
    }

    function test_callGasCap_scalesWithTheCalls_upToMaxCalls() public {
        IMarketPaymaster.Limits memory l = paymaster.limits();
        uint64 i = nextInterval();
        (uint48 until, uint48 after_) = window();
        for (uint256 n = 2; n <= l.maxCalls + 1; n += l.maxCalls - 1) {
            IMarketAccount.Call[] memory calls = new IMarketAccount.Call[](n);
            for (uint256 k; k < n; ++k) {
                calls[k] = IMarketAccount.Call({
                    target: address(auction),
                    value: 0,
                    data: abi.encodeCall(auction.commit, (MARKET, i, bytes32(k + 1 + n * 100), 1e6))
                });
            }
            bytes memory callData = abi.encodeCall(IMarketAccount.executeBatch, (calls));
            if (n > l.maxCalls) {
                PackedUserOperation memory op = withGas(userOp(callData), 100_000, 150_000, 60_000);
                _refused(
                    sponsored(op, SPONSOR_PK, until, after_),
                    abi.encodeWithSelector(IMarketPaymaster.PaymasterTooManyCalls.selector, n, l.maxCalls)
                );
            } else {
                uint256 cap = uint256(l.callGasPerCall) * n;
                _refused(
                    sponsored(withGas(userOp(callData), 100_000, cap + 1, 60_000), SPONSOR_PK, until, after_),
                    _gasOver(IMarketPaymaster.GasField.Call, cap + 1, cap)
                );
                entryPoint.handleOps(
                    one(
                        sponsored(withGas(userOp(callData), 100_000, cap, 60_000), SPONSOR_PK, until, after_)
                    ),
                    bundler
                );
                (, uint32 count,,,,) = auction.getInterval(MARKET, i);
                vm.assertEq(uint256(count), n, "a batch at n x the per-call cap lands");
            }
        }
    }

    function test_feesOverTheirCaps_areRefused() public {
        IMarketPaymaster.Limits memory l = paymaster.limits();
        (uint48 until, uint48 after_) = window();
        PackedUserOperation memory op = userOp(commitCall(nextInterval(), bytes32(uint256(1)), 1e6));
        _refused(
            sponsored(withFees(op, 1 gwei, uint256(l.maxFeePerGas) + 1), SPONSOR_PK, until, after_),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterFeeOverCap.selector, uint256(l.maxFeePerGas) + 1, l.maxFeePerGas
            )
        );
        _refused(
            sponsored(
                withFees(op, uint256(l.maxPriorityFeePerGas) + 1, l.maxFeePerGas), SPONSOR_PK, until, after_
            ),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterPriorityFeeOverCap.selector,
                uint256(l.maxPriorityFeePerGas) + 1,
                l.maxPriorityFeePerGas
            )
        );
        // Every field at its cap and the fee at its cap: the prefund passes the per-operation cap.
        op = withGas(op, l.verificationGas, l.callGasPerCall, l.preVerificationGas);
        op = withFees(op, l.maxPriorityFeePerGas, l.maxFeePerGas);
        uint256 prefund =
            (uint256(l.verificationGas)
                    + l.callGasPerCall
                    + l.preVerificationGas
                    + l.paymasterVerificationGas) * l.maxFeePerGas;
        vm.assertGt(prefund, l.maxCost, "the default caps bind the prefund at the fee cap");
        _refused(
            sponsoredWith(op, SPONSOR_PK, OWNER_PK, until, after_, l.paymasterVerificationGas, 0),
            abi.encodeWithSelector(IMarketPaymaster.PaymasterCostOverCap.selector, prefund, l.maxCost)
        );
    }

    /// @dev The attack as reported: the participant gets a sponsorship for an operation with a
    ///      huge preVerificationGas at the top fee (the old service signed anything) and bundles
    ///      it itself, naming itself the beneficiary. On the old code the EntryPoint paid it
    ///      preVerificationGas x gasPrice from the deposit (here 10M x 100 gwei = 1 ETH for a
    ///      commit worth ~110k gas; the old service's 5M x 10^15 wei was 5,000 ETH, capped only
    ///      by the deposit). Now it is refused;
    ///      and the most a within-caps operation bundled by the participant can cost is maxCost.
    function test_selfBundlingWithHugePreVerificationGas_cannotDrainTheDeposit() public {
        vm.fee(1 gwei);
        vm.txGasPrice(1 gwei);
        uint256 deposit = paymaster.getDeposit();
        (uint48 until, uint48 after_) = window();
        PackedUserOperation memory op = userOp(commitCall(nextInterval(), bytes32(uint256(1)), 1e6));
        op = withFees(withGas(op, 100_000, 150_000, 10_000_000), 100 gwei, 100 gwei);
        op = sponsored(op, SPONSOR_PK, until, after_);
        vm.prank(mallory, mallory);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEntryPoint.FailedOpWithRevert.selector,
                0,
                "AA33 reverted",
                _gasOver(IMarketPaymaster.GasField.PreVerification, 10_000_000, limits.preVerificationGas)
            )
        );
        entryPoint.handleOps(one(op), payable(mallory));
        vm.assertEq(paymaster.getDeposit(), deposit, "the deposit is untouched");
        vm.assertEq(mallory.balance, 0, "mallory was paid nothing");

        // The best mallory can do within the caps: every limit and fee at its cap that the
        // prefund cap allows, its own bundle. It is paid at most maxCost, once per quota unit.
        IMarketPaymaster.Limits memory l = limits;
        uint256 fee = uint256(l.maxCost)
            / (uint256(l.verificationGas)
                + l.callGasPerCall
                + l.preVerificationGas
                + l.paymasterVerificationGas);
        op = userOp(commitCall(nextInterval(), bytes32(uint256(2)), 1e6));
        op = withGas(op, l.verificationGas, l.callGasPerCall, l.preVerificationGas);
        op = withFees(op, l.maxPriorityFeePerGas, fee);
        op = sponsoredWith(op, SPONSOR_PK, OWNER_PK, until, after_, l.paymasterVerificationGas, 0);
        vm.prank(mallory, mallory);
        entryPoint.handleOps(one(op), payable(mallory));
        uint256 paid = deposit - paymaster.getDeposit();
        vm.assertGt(paid, 0, "the operation was paid for");
        vm.assertLe(paid, l.maxCost, "one operation costs the deposit at most maxCost");
        vm.assertLe(mallory.balance, l.maxCost, "and pays its bundler at most maxCost");
    }

    /// @dev Quota periods never go backwards: at the start of a period the service can still
    ///      have signed an operation whose validAfter (a minute before the chain's time) lies in
    ///      the previous period. On the old code landing it after the new period's operations
    ///      moved the usage back to the old period, and the new period's count started again:
    ///      every such pair doubled the quota.
    function test_anEarlierPeriodAfterALaterOne_cannotResetTheQuota() public {
        uint256 day = 1 days;
        vm.warp((block.timestamp / day + 1) * day + 30); // 30 s into a new period
        uint48 p = uint48(block.timestamp / day);
        uint48 until = uint48(block.timestamp + 600);
        // Signed with validAfter a minute before now: the previous period.
        PackedUserOperation memory early = sponsored(
            userOp(commitCall(nextInterval(), bytes32(uint256(99)), 1e6)),
            SPONSOR_PK,
            until,
            uint48(block.timestamp - 60)
        );
        // Then the account uses its whole quota in the current period.
        for (uint256 n; n < QUOTA; ++n) {
            entryPoint.handleOps(
                one(
                    sponsored(
                        userOp(commitCall(nextInterval(), bytes32(n + 1), 1e6)),
                        SPONSOR_PK,
                        until,
                        uint48(block.timestamp - 1)
                    )
                ),
                bundler
            );
        }
        (, uint48 last, uint32 used) = paymaster.usageOf(address(account));
        vm.assertEq(uint256(last), uint256(p), "counts in the current period");
        vm.assertEq(uint256(used), QUOTA, "quota used");
        // The early operation (its nonce is now stale, so re-sign the same window for the
        // current nonce, as a second pre-signed operation would be) cannot move the period back.
        early = sponsored(
            userOp(commitCall(nextInterval(), bytes32(uint256(99)), 1e6)),
            SPONSOR_PK,
            until,
            uint48(block.timestamp - 60)
        );
        _refused(
            early,
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterPeriodWentBack.selector, address(account), p - 1, p
            )
        );
        // And the current period stays used up.
        _refused(
            sponsored(
                userOp(commitCall(nextInterval(), bytes32(uint256(7)), 1e6)),
                SPONSOR_PK,
                until,
                uint48(block.timestamp - 1)
            ),
            abi.encodeWithSelector(
                IMarketPaymaster.PaymasterQuotaExceeded.selector, address(account), p, QUOTA
            )
        );
        (, uint32 count,,,,) = auction.getInterval(MARKET, nextInterval());
        vm.assertEq(uint256(count), QUOTA, "exactly the quota was sponsored");
    }
}
