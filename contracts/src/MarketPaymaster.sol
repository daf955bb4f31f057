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
///        up, malformed data) revert with the reason.
///      - The quota period is taken from the signed validAfter (validation may not read the block
///        time under ERC-7562), so the service decides which period an operation counts in. Usage
///        is kept in one slot per sender (storage associated with the sender). The paymaster must
///        be staked: it reads its own configuration during validation.
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

    /// @notice A sender's usage: the period it last counted in and the operations counted there.
    struct Usage {
        uint32 quota; // operations per period; 0 = not a participant
        uint48 period;
        uint32 used;
    }

    mapping(address account => Usage) internal _usage;

    uint256 internal constant DATA_LENGTH = 6 + 6 + 65;

    /// @param entryPoint_ The EntryPoint v0.8.
    /// @param signer_ The sponsorship service's key.
    /// @param auction_ The auction.
    /// @param certificates_ The certificates contract.
    /// @param period_ Quota period length in seconds (e.g. 86,400).
    constructor(
        IEntryPoint entryPoint_,
        address signer_,
        ISealgridAuction auction_,
        IGranularCertificates certificates_,
        uint48 period_
    ) BasePaymaster(entryPoint_) {
        if (signer_ == address(0) || address(auction_) == address(0) || period_ == 0) {
            revert PaymasterInvalidConfig();
        }
        signer = signer_;
        auction = address(auction_);
        certificates = address(certificates_);
        period = period_;
    }

    /// @inheritdoc IMarketPaymaster
    /// @dev Requirements: caller is the owner. Emits {ParticipantSet} per account.
    function setParticipants(address[] calldata accounts, uint32 quota) external onlyOwner {
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
        return keccak256(
            abi.encode(
                userOp.sender,
                userOp.nonce,
                keccak256(userOp.initCode),
                keccak256(userOp.callData),
                userOp.accountGasLimits,
                uint256(
                    bytes32(userOp.paymasterAndData[PAYMASTER_VALIDATION_GAS_OFFSET:PAYMASTER_DATA_OFFSET])
                ),
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
        if (callData.length < 4) {
            return (false, address(0), bytes4(0));
        }
        bytes4 outer = bytes4(callData[:4]);
        if (outer == IMarketAccount.execute.selector) {
            (address t, uint256 v, bytes memory d) = abi.decode(callData[4:], (address, uint256, bytes));
            return _allowed(t, v, d);
        }
        if (outer == IMarketAccount.executeBatch.selector) {
            IMarketAccount.Call[] memory calls = abi.decode(callData[4:], (IMarketAccount.Call[]));
            if (calls.length == 0) return (false, address(0), outer);
            for (uint256 k; k < calls.length; ++k) {
                (ok, target, selector) = _allowed(calls[k].target, calls[k].value, calls[k].data);
                if (!ok) return (false, target, selector);
            }
            return (true, address(0), bytes4(0));
        }
        return (false, address(0), outer);
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
        bytes calldata data = userOp.paymasterAndData[PAYMASTER_DATA_OFFSET:];
        if (data.length != DATA_LENGTH) revert PaymasterBadData(data.length);
        uint48 validUntil = uint48(bytes6(data[:6]));
        uint48 validAfter = uint48(bytes6(data[6:12]));
        _spend(userOp, validAfter);
        bool failed = !_signedBySigner(getHash(userOp, validUntil, validAfter), data[12:]);
        return ("", _packValidationData(failed, validUntil, validAfter));
    }

    /// @dev The policy: a participant, sponsored calls only, and one more operation of its quota
    ///      in the period of `validAfter`.
    function _spend(PackedUserOperation calldata userOp, uint48 validAfter) internal {
        address sender = userOp.sender;
        Usage memory u = _usage[sender];
        if (u.quota == 0) revert PaymasterNotParticipant(sender);
        (bool ok, address target, bytes4 selector) = sponsored(userOp.callData);
        if (!ok) revert PaymasterCallNotAllowed(target, selector);
        uint48 p = validAfter / period;
        uint32 used = u.period == p ? u.used : 0;
        if (used >= u.quota) revert PaymasterQuotaExceeded(sender, p, u.quota);
        _usage[sender] = Usage({quota: u.quota, period: p, used: used + 1});
    }

    /// @dev Whether `signature` is the sponsorship signer's over `hash` (EIP-191 personal message).
    function _signedBySigner(bytes32 hash, bytes calldata signature) internal view returns (bool) {
        (address recovered, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(MessageHashUtils.toEthSignedMessageHash(hash), signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }
}
