// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ICollateralVault
/// @notice Free balances of ERC-20 collateral held by a market contract for its accounts: anyone
///         deposits for an account, only the account withdraws its own balance. The auction uses
///         them for commitment locks, payments and slashes; delivery settlement for imbalance
///         charges. Money owed elsewhere (commitment locks, operator bonds, fees, debts) is never
///         part of a free balance, so a withdrawal can only take what its caller has free.
/// @dev Each contract reverts with its own errors (`Auction...`, `Settlement...`) for a zero amount
///      or address, an insufficient balance and a token that moves another amount than asked.
///      Deposits are pausable (OpenZeppelin `Pausable`: `paused()`, {Paused} / {Unpaused}, which are
///      not redeclared here: overriding `paused()` would add an internal call to every pausable
///      entry), withdrawals never are.
interface ICollateralVault {
    /// @notice Emitted when tokens enter an account's free balance from outside.
    /// @param token The payment token.
    /// @param account The account credited.
    /// @param amount The amount in base units.
    event Deposited(IERC20 indexed token, address indexed account, uint256 amount);

    /// @notice Emitted when an account withdraws from its free balance.
    /// @param token The payment token.
    /// @param account The account debited (the caller).
    /// @param to The receiver of the tokens.
    /// @param amount The amount in base units.
    event Withdrawn(IERC20 indexed token, address indexed account, address to, uint256 amount);

    /// @notice Deposits `amount` of `token`, pulled from the caller, into `account`'s free balance.
    /// @param token The payment token.
    /// @param account The account credited.
    /// @param amount The amount in base units.
    function deposit(IERC20 token, address account, uint256 amount) external;

    /// @notice Withdraws `amount` of `token` from the caller's free balance to `to`.
    /// @param token The payment token.
    /// @param to The receiver.
    /// @param amount The amount in base units.
    function withdraw(IERC20 token, address to, uint256 amount) external;

    /// @notice A free balance.
    /// @param token The payment token.
    /// @param account The account.
    /// @return The free balance in base units.
    function balanceOf(IERC20 token, address account) external view returns (uint256);
}
