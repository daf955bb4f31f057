// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {BasePaymaster} from "@account-abstraction/contracts/core/BasePaymaster.sol";
import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {UserOperationLib} from "@account-abstraction/contracts/core/UserOperationLib.sol";
import {_packValidationData} from "@account-abstraction/contracts/core/Helpers.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {IGranularCertificates} from "./GranularCertificates.sol";
import {IMarketAccount} from "./interfaces/IMarketAccount.sol";
import {IMarketPaymaster} from "./interfaces/IMarketPaymaster.sol";
import {ISealgridAuction} from "./interfaces/ISealgridAuction.sol";

/// @title MarketPaymaster
/// @notice The market's ERC-4337 paymaster (EntryPoint v0.8, DESIGN 3.9): it pays the gas of
///         UserOperations of registered participants that only call the market's own contracts
///         with the market's own actions (commit, claim, refund on the auction; retire on the
///         certificates), within a per-account quota per period, and only with the operator's
///         sponsorship signature over the operation and its validity window (the verifying-
///         paymaster pattern; the sponsorship service signs after applying the same policy).
/// @dev paymasterAndData = paymaster (20) | validation gas (16) | postOp gas (16) |
///      validUntil (6) | validAfter (6) | signature (65).
///      - A wrong signature does not revert: validation returns SIG_VALIDATION_FAILED and the
///        EntryPoint refuses the operation (AA34). Expiry is the EntryPoint's check (AA32) on the
///        returned window.
///      - Policy refusals (not a participant, another target or selector, value sent, quota used
///        up, a gas limit or fee over its cap, malformed data) revert with the reason.
///      - Every gas field and the fee are capped ({Limits}), so neither a signature the service
///        should not have made nor a participant that bundles its own operation can take more
///        than `maxCost` per operation from the deposit (docs/operations.md, "Sponsored gas").
///      - The quota period is taken from the signed validAfter (validation may not read the block
///        time under ERC-7562), so the service decides which period an operation counts in. Usage
///        is kept in one slot per sender (storage associated with the sender). Periods never go
///        backwards: an operation signed for an earlier period than the sender's usage counts in
///        is refused, so it cannot reset the count. The paymaster must be staked: it reads its
///        own configuration during validation (the caps are immutables, no storage read).
///      - The owner (the timelock, set at construction, DESIGN 3.10) holds the deposit, the stake
///        and the registrar; the registrar (the operator's participant desk) registers
///        participants.
contract MarketPaymaster is IMarketPaymaster, BasePaymaster {
    using UserOperationLib for PackedUserOperation;

    /// @inheritdoc IMarketPaymaster
    address public immutable auction;
    /// @inheritdoc IMarketPaymaster
    address public immutable certificates;
    /// @inheritdoc IMarketPaymaster
    uint48 public immutable period;

    /// @inheritdoc IMarketPaymaster
    address public immutable signer;

    /// @inheritdoc IMarketPaymaster
    address public registrar;

    uint32 internal immutable _verificationGas;
    uint32 internal immutable _callGasPerCall;
    uint32 internal immutable _maxCalls;
    uint32 internal immutable _preVerificationGas;
    uint32 internal immutable _paymasterVerificationGas;
    uint32 internal immutable _paymasterPostOpGas;
    uint128 internal immutable _maxFeePerGas;
    uint128 internal immutable _maxPriorityFeePerGas;
    uint128 internal immutable _maxCost;

    /// @notice A sender's usage: the period it last counted in and the operations counted there.
    struct Usage {
        uint32 quota; // operations per period; 0 = not a participant
        uint48 period;
        uint32 used;
    }

    mapping(address account => Usage) internal _usage;

    uint256 internal constant DATA_LENGTH = 6 + 6 + 65;

    /// @dev The owner is `owner_` from the start (no two-step handover is pending after
    ///      deployment), so a stake sent with the deployment is added here. Requirements: nonzero
    ///      owner, signer, auction, period and caps (but the postOp gas, 0 without a postOp).
    ///      Emits {RegistrarSet} when `registrar_` is set.
    /// @param entryPoint_ The EntryPoint v0.8.
    /// @param owner_ The owner (the timelock).
    /// @param registrar_ Registers participants besides the owner (0 = none).
    /// @param signer_ The sponsorship service's key.
    /// @param auction_ The auction.
    /// @param certificates_ The certificates contract.
    /// @param period_ Quota period length in seconds (e.g. 86,400).
    /// @param unstakeDelaySec Unstake delay of the stake sent as value (none without value).
    /// @param limits_ The caps on gas and fees of one operation.
    constructor(
        IEntryPoint entryPoint_,
        address owner_,
        address registrar_,
        address signer_,
        ISealgridAuction auction_,
        IGranularCertificates certificates_,
        uint48 period_,
        uint32 unstakeDelaySec,
        Limits memory limits_
    ) payable BasePaymaster(entryPoint_) {
        if (
            owner_ == address(0) || signer_ == address(0) || address(auction_) == address(0) || period_ == 0
                || limits_.verificationGas == 0 || limits_.callGasPerCall == 0 || limits_.maxCalls == 0
                || limits_.preVerificationGas == 0 || limits_.paymasterVerificationGas == 0
                || limits_.maxFeePerGas == 0 || limits_.maxCost == 0
        ) {
            revert PaymasterInvalidConfig();
        }
        signer = signer_;
        auction = address(auction_);
        certificates = address(certificates_);
        period = period_;
        _verificationGas = limits_.verificationGas;
        _callGasPerCall = limits_.callGasPerCall;
        _maxCalls = limits_.maxCalls;
        _preVerificationGas = limits_.preVerificationGas;
        _paymasterVerificationGas = limits_.paymasterVerificationGas;
        _paymasterPostOpGas = limits_.paymasterPostOpGas;
        _maxFeePerGas = limits_.maxFeePerGas;
        _maxPriorityFeePerGas = limits_.maxPriorityFeePerGas;
        _maxCost = limits_.maxCost;
        if (msg.value > 0) entryPoint_.addStake{value: msg.value}(unstakeDelaySec);
        if (registrar_ != address(0)) {
            registrar = registrar_;
            emit RegistrarSet(registrar_);
        }
        _transferOwnership(owner_);
    }

    /// @inheritdoc IMarketPaymaster
    function limits() external view returns (Limits memory) {
        return Limits({
            verificationGas: _verificationGas,
            callGasPerCall: _callGasPerCall,
            maxCalls: _maxCalls,
            preVerificationGas: _preVerificationGas,
            paymasterVerificationGas: _paymasterVerificationGas,
            paymasterPostOpGas: _paymasterPostOpGas,
            maxFeePerGas: _maxFeePerGas,
            maxPriorityFeePerGas: _maxPriorityFeePerGas,
            maxCost: _maxCost
        });
    }

    /// @inheritdoc IMarketPaymaster
    /// @dev Requirements: caller is the owner; a nonzero registrar. Emits {RegistrarSet}.
    function setRegistrar(address registrar_) external onlyOwner {
        if (registrar_ == address(0)) revert PaymasterInvalidConfig();
        registrar = registrar_;
        emit RegistrarSet(registrar_);
    }

    /// @inheritdoc IMarketPaymaster
    /// @dev Requirements: caller is the owner or the registrar. Emits {ParticipantSet} per account.
    function setParticipants(address[] calldata accounts, uint32 quota) external {
        if (msg.sender != owner() && msg.sender != registrar) revert PaymasterUnauthorized(msg.sender);
        for (uint256 k; k < accounts.length; ++k) {
            _usage[accounts[k]].quota = quota;
            emit ParticipantSet(accounts[k], quota);
        }
    }

    /// @inheritdoc IMarketPaymaster
    function usageOf(address account) external view returns (uint32 quota, uint48 lastPeriod, uint32 used) {
        Usage memory u = _usage[account];
        return (u.quota, u.period, u.used);
    }

    /// @inheritdoc IMarketPaymaster
    function getHash(PackedUserOperation calldata userOp, uint48 validUntil, uint48 validAfter)
        public
        view
        returns (bytes32)
    {
        return _hash(
            userOp,
            uint256(bytes32(userOp.paymasterAndData[PAYMASTER_VALIDATION_GAS_OFFSET:PAYMASTER_DATA_OFFSET])),
            validUntil,
            validAfter
        );
    }

    /// @dev `getHash` with the paymaster's two gas limits (paymasterAndData[20:52]) given.
    function _hash(PackedUserOperation calldata userOp, uint256 pmGas, uint48 validUntil, uint48 validAfter)
        internal
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                userOp.sender,
                userOp.nonce,
                keccak256(userOp.initCode),
                keccak256(userOp.callData),
                userOp.accountGasLimits,
                pmGas,
                userOp.preVerificationGas,
                userOp.gasFees,
                block.chainid,
                address(this),
                validUntil,
                validAfter
            )
        );
    }

    /// @inheritdoc IMarketPaymaster
    function sponsored(bytes calldata callData)
        public
        view
        returns (bool ok, address target, bytes4 selector)
    {
        (ok, target, selector,) = _sponsoredCalls(callData);
    }

    /// @dev `sponsored` and the number of calls the operation makes.
    function _sponsoredCalls(bytes calldata callData)
        internal
        view
        returns (bool ok, address target, bytes4 selector, uint256 n)
    {
        if (callData.length < 4) {
            return (false, address(0), bytes4(0), 0);
        }
        bytes4 outer = bytes4(callData[:4]);
        if (outer == IMarketAccount.execute.selector) {
            (address t, uint256 v, bytes memory d) = abi.decode(callData[4:], (address, uint256, bytes));
            (ok, target, selector) = _allowed(t, v, d);
            return (ok, target, selector, 1);
        }
        if (outer == IMarketAccount.executeBatch.selector) {
            IMarketAccount.Call[] memory calls = abi.decode(callData[4:], (IMarketAccount.Call[]));
            n = calls.length;
            if (n == 0) return (false, address(0), outer, 0);
            for (uint256 k; k < n; ++k) {
                (ok, target, selector) = _allowed(calls[k].target, calls[k].value, calls[k].data);
                if (!ok) return (false, target, selector, n);
            }
            return (true, address(0), bytes4(0), n);
        }
        return (false, address(0), outer, 0);
    }

    function _allowed(address target, uint256 value, bytes memory data)
        internal
        view
        returns (bool, address, bytes4)
    {
        bytes4 sel = data.length >= 4 ? bytes4(data) : bytes4(0);
        bool ok = value == 0
            && ((target == auction
                    && (sel == ISealgridAuction.commit.selector
                        || sel == ISealgridAuction.claim.selector
                        || sel == ISealgridAuction.refund.selector))
                || (target == certificates && sel == IGranularCertificates.retire.selector));
        return (ok, target, sel);
    }

    /// @inheritdoc BasePaymaster
    function _validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32, uint256)
        internal
        override
        returns (bytes memory context, uint256 validationData)
    {
        // paymasterAndData is read once (each access to a dynamic member of the calldata struct
        // is re-validated): its gas limits for the caps and the hash, then its data.
        bytes calldata pmd = userOp.paymasterAndData;
        bytes calldata data = pmd[PAYMASTER_DATA_OFFSET:];
        if (data.length != DATA_LENGTH) revert PaymasterBadData(data.length);
        uint256 pmGas = uint256(bytes32(pmd[PAYMASTER_VALIDATION_GAS_OFFSET:PAYMASTER_DATA_OFFSET]));
        uint48 validUntil = uint48(bytes6(data[:6]));
        uint48 validAfter = uint48(bytes6(data[6:12]));
        // The policy (and the quota it spends) applies to every operation the service signed.
        // An unsigned one, such as a bundler's gas estimate with the service's stub data, fails
        // validation without it: the EntryPoint refuses it either way, and a bundler can then
        // measure the operation at its own simulation limits, above the caps.
        bool failed = !_signedBySigner(_hash(userOp, pmGas, validUntil, validAfter), data[12:]);
        if (!failed) _spend(userOp, pmGas, validAfter);
        return ("", _packValidationData(failed, validUntil, validAfter));
    }

    /// @dev The policy: a participant, sponsored calls only, gas and fees within their caps, and
    ///      one more operation of its quota in the period of `validAfter`, which is not before the
    ///      period its usage counts in.
    function _spend(PackedUserOperation calldata userOp, uint256 pmGas, uint48 validAfter) internal {
        address sender = userOp.sender;
        Usage memory u = _usage[sender];
        if (u.quota == 0) revert PaymasterNotParticipant(sender);
        (bool ok, address target, bytes4 selector, uint256 calls) = _sponsoredCalls(userOp.callData);
        if (!ok) revert PaymasterCallNotAllowed(target, selector);
        _checkLimits(userOp, pmGas, calls);
        uint48 p = validAfter / period;
        if (p < u.period) revert PaymasterPeriodWentBack(sender, p, u.period);
        uint32 used = u.period == p ? u.used : 0;
        if (used >= u.quota) revert PaymasterQuotaExceeded(sender, p, u.quota);
        _usage[sender] = Usage({quota: u.quota, period: p, used: used + 1});
    }

    /// @dev Every gas limit, both fees and the prefund within their caps ({Limits}). The prefund is
    ///      computed as the EntryPoint does (`_getRequiredPrefund`): the five gas limits times
    ///      maxFeePerGas, the most it can charge the deposit for the operation. One combined test
    ///      on the hot path; which cap was passed is worked out only to revert.
    /// @param pm paymasterAndData[20:52]: paymaster validation gas (high) | postOp gas (low).
    function _checkLimits(PackedUserOperation calldata userOp, uint256 pm, uint256 calls) internal view {
        uint256 account = uint256(userOp.accountGasLimits);
        uint256 fees = uint256(userOp.gasFees);
        uint256 pvg = userOp.preVerificationGas;
        if (
            calls > _maxCalls || account >> 128 > _verificationGas
                || uint128(account) > uint256(_callGasPerCall) * calls || pvg > _preVerificationGas
                || pm >> 128 > _paymasterVerificationGas || uint128(pm) > _paymasterPostOpGas
                || uint128(fees) > _maxFeePerGas || fees >> 128 > _maxPriorityFeePerGas
        ) {
            _refuseLimits(account, pm, fees, pvg, calls);
        }
        uint256 cost;
        // Every gas limit is within its cap here (below 2^64: the call cap is two uint32 values
        // multiplied) and maxFee below 2^128, so the sum and the product cannot overflow.
        unchecked {
            cost = ((account >> 128) + uint128(account) + pvg + (pm >> 128) + uint128(pm)) * uint128(fees);
        }
        if (cost > _maxCost) revert PaymasterCostOverCap(cost, _maxCost);
    }

    /// @dev Reverts with the first gas or fee cap `_checkLimits` found passed.
    function _refuseLimits(uint256 account, uint256 pm, uint256 fees, uint256 pvg, uint256 calls)
        internal
        view
    {
        if (calls > _maxCalls) revert PaymasterTooManyCalls(calls, _maxCalls);
        _cap(GasField.Verification, account >> 128, _verificationGas);
        _cap(GasField.Call, uint128(account), uint256(_callGasPerCall) * calls);
        _cap(GasField.PreVerification, pvg, _preVerificationGas);
        _cap(GasField.PaymasterVerification, pm >> 128, _paymasterVerificationGas);
        _cap(GasField.PaymasterPostOp, uint128(pm), _paymasterPostOpGas);
        if (uint128(fees) > _maxFeePerGas) revert PaymasterFeeOverCap(uint128(fees), _maxFeePerGas);
        revert PaymasterPriorityFeeOverCap(fees >> 128, _maxPriorityFeePerGas);
    }

    function _cap(GasField field, uint256 gas, uint256 cap) internal pure {
        if (gas > cap) revert PaymasterGasOverCap(field, gas, cap);
    }

    /// @dev Whether `signature` is the sponsorship signer's over `hash` (EIP-191 personal message).
    function _signedBySigner(bytes32 hash, bytes calldata signature) internal view returns (bool) {
        (address recovered, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(MessageHashUtils.toEthSignedMessageHash(hash), signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }
}
