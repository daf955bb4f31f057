// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IPaymaster} from "@account-abstraction/contracts/interfaces/IPaymaster.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";

/// @title IMarketPaymaster
/// @notice The market's ERC-4337 paymaster (EntryPoint v0.8, DESIGN 3.9): it pays the gas of
///         UserOperations of registered participants that only call the market's own contracts
///         with the market's own actions (commit, claim, refund on the auction; retire on the
///         certificates), within a per-account quota per period, and only with the operator's
///         sponsorship signature over the operation and its validity window.
/// @dev The EntryPoint calls ({IPaymaster}) and the deposit, stake and ownership functions come
///      from eth-infinitism's `BasePaymaster` and OpenZeppelin's `Ownable2Step`, whose functions are
///      not virtual and so cannot be redeclared here.
interface IMarketPaymaster is IPaymaster {
    /// @notice The caps on every gas field and the fee of one sponsored operation (docs/operations.md,
    ///         "Sponsored gas": set from the sponsored calls' measured needs with headroom). The
    ///         worst case one operation can take from the deposit is
    ///         `min(maxCost, (verificationGas + callGasPerCall * maxCalls + preVerificationGas +
    ///         paymasterVerificationGas + paymasterPostOpGas) * maxFeePerGas)`: the EntryPoint never
    ///         charges more than the operation's prefund, which is its gas limits times its max fee.
    /// @param verificationGas Cap on verificationGasLimit (the account's validation, its deployment
    ///        included).
    /// @param callGasPerCall Cap on callGasLimit per sponsored call (`execute` is one call,
    ///        `executeBatch` one per entry).
    /// @param maxCalls Most sponsored calls in one operation.
    /// @param preVerificationGas Cap on preVerificationGas (calldata and the bundler's share of
    ///        the transaction; on rollups also the L1 data fee).
    /// @param paymasterVerificationGas Cap on paymasterVerificationGasLimit.
    /// @param paymasterPostOpGas Cap on paymasterPostOpGasLimit (this paymaster has no postOp: 0).
    /// @param maxFeePerGas Cap on maxFeePerGas (wei).
    /// @param maxPriorityFeePerGas Cap on maxPriorityFeePerGas (wei).
    /// @param maxCost Cap on the operation's prefund, its gas limits times maxFeePerGas (wei).
    struct Limits {
        uint32 verificationGas;
        uint32 callGasPerCall;
        uint32 maxCalls;
        uint32 preVerificationGas;
        uint32 paymasterVerificationGas;
        uint32 paymasterPostOpGas;
        uint128 maxFeePerGas;
        uint128 maxPriorityFeePerGas;
        uint128 maxCost;
    }

    /// @notice A gas field of a user operation (in {PaymasterGasOverCap}).
    enum GasField {
        Verification,
        Call,
        PreVerification,
        PaymasterVerification,
        PaymasterPostOp
    }

    /// @notice Emitted when a participant's quota is set (0 = removed).
    /// @param account The smart account.
    /// @param quota Operations per period.
    event ParticipantSet(address indexed account, uint32 quota);

    /// @notice Emitted when the owner names the account that registers participants.
    /// @param registrar The new registrar (0 = only the owner registers).
    event RegistrarSet(address indexed registrar);

    /// @notice The sender is not a registered participant.
    error PaymasterNotParticipant(address sender);
    /// @notice The operation calls something the market does not sponsor.
    error PaymasterCallNotAllowed(address target, bytes4 selector);
    /// @notice The sender used its quota for the period.
    error PaymasterQuotaExceeded(address sender, uint48 period, uint32 quota);
    /// @notice paymasterAndData is not validUntil | validAfter | signature.
    error PaymasterBadData(uint256 length);
    /// @notice A zero address, period or cap (or a zero registrar in {setRegistrar}).
    error PaymasterInvalidConfig();
    /// @notice The caller is neither the owner nor the registrar.
    error PaymasterUnauthorized(address caller);
    /// @notice A gas limit of the operation is over its cap.
    error PaymasterGasOverCap(GasField field, uint256 gas, uint256 cap);
    /// @notice The operation makes more sponsored calls than one operation may.
    error PaymasterTooManyCalls(uint256 calls, uint256 maxCalls);
    /// @notice maxFeePerGas is over its cap.
    error PaymasterFeeOverCap(uint256 maxFeePerGas, uint256 cap);
    /// @notice maxPriorityFeePerGas is over its cap.
    error PaymasterPriorityFeeOverCap(uint256 maxPriorityFeePerGas, uint256 cap);
    /// @notice The operation's prefund (gas limits times maxFeePerGas) is over the per-operation cap.
    error PaymasterCostOverCap(uint256 cost, uint256 cap);
    /// @notice The operation's quota period (from validAfter) is before the one the sender's usage
    ///         already counts in: quota periods never go backwards.
    error PaymasterPeriodWentBack(address sender, uint48 period, uint48 lastPeriod);

    /// @notice The auction whose actions are sponsored.
    /// @return The auction's address.
    function auction() external view returns (address);

    /// @notice The certificates contract (retirements are sponsored).
    /// @return The certificates' address.
    function certificates() external view returns (address);

    /// @notice Length of a quota period in seconds.
    /// @return The period length.
    function period() external view returns (uint48);

    /// @notice The sponsorship service's signing key (immutable: rotating it means deploying a new
    ///         paymaster and moving the deposit).
    /// @return The signer.
    function signer() external view returns (address);

    /// @notice The caps on the gas and fees of one sponsored operation (immutable: changing them
    ///         means deploying a new paymaster, like the signer).
    /// @return The caps.
    function limits() external view returns (Limits memory);

    /// @notice The account that registers participants besides the owner (the operator's
    ///         participant desk; the owner, a timelock, names it).
    /// @return The registrar (0 = none).
    function registrar() external view returns (address);

    /// @notice Names the registrar (to take the right back, name the owner itself).
    /// @param registrar_ The new registrar (nonzero).
    function setRegistrar(address registrar_) external;

    /// @notice Registers participants with a quota of operations per period (0 removes them).
    /// @param accounts The smart accounts.
    /// @param quota Operations per period.
    function setParticipants(address[] calldata accounts, uint32 quota) external;

    /// @notice A participant's quota and usage.
    /// @param account The smart account.
    /// @return quota Operations per period (0 = not a participant).
    /// @return lastPeriod The period its usage counts in.
    /// @return used Operations used in that period.
    function usageOf(address account) external view returns (uint32 quota, uint48 lastPeriod, uint32 used);

    /// @notice The hash the sponsorship service signs (EIP-191 personal message over it): the
    ///         operation without the paymaster signature, the chain, this paymaster and the window.
    /// @param userOp The operation.
    /// @param validUntil Last second the sponsorship is valid.
    /// @param validAfter First second it is valid (also picks the quota period).
    /// @return The hash.
    function getHash(PackedUserOperation calldata userOp, uint48 validUntil, uint48 validAfter)
        external
        view
        returns (bytes32);

    /// @notice Whether the market sponsors `callData` of an account (execute / executeBatch of
    ///         commit, claim, refund on the auction and retire on the certificates, no value).
    /// @param callData The operation's callData.
    /// @return ok True if sponsored; otherwise the first refused target and selector.
    /// @return target The refused target.
    /// @return selector The refused selector.
    function sponsored(bytes calldata callData)
        external
        view
        returns (bool ok, address target, bytes4 selector);
}
