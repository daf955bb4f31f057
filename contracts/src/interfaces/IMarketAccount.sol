// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title IMarketAccount
/// @notice The account calls the paymaster understands (BaseAccount / SimpleAccount v0.8).
interface IMarketAccount {
    /// @notice One call of a batch.
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    /// @notice Executes one call.
    /// @param target The callee.
    /// @param value The wei sent.
    /// @param data The calldata.
    function execute(address target, uint256 value, bytes calldata data) external;

    /// @notice Executes calls in order.
    /// @param calls The calls.
    function executeBatch(Call[] calldata calls) external;
}
