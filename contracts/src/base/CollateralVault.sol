// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICollateralVault} from "../interfaces/ICollateralVault.sol";

/// @title CollateralVault
/// @notice The free balances of {ICollateralVault}, written once for the auction and delivery
///         settlement: deposits for any account, withdrawals of the caller's own balance only, and
///         the exact-amount pull that rejects fee-on-transfer tokens.
/// @dev The inheriting contract moves money between free balances and its own books (locks,
///      bonds, fees, debts) through `_balances` and the internal helpers here, and names its own
///      errors through the four `_revert...` hooks (each must revert; {_debit} stays safe even if
///      one did not). Every external entry that moves tokens is `nonReentrant`, so a token that
///      calls back (an ERC-777-style hook) cannot re-enter any of the contract's entries; deposit
///      is pausable, withdraw never is, so that paused funds are never stuck. A withdrawal can be
///      refused further by {_checkWithdrawal} (delivery settlement: collateral that backs an
///      exposure, or an account in debt); the auction keeps the default, which refuses nothing.
abstract contract CollateralVault is ICollateralVault, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev token => account => free balance.
    mapping(IERC20 token => mapping(address account => uint256)) internal _balances;

    /// @inheritdoc ICollateralVault
    /// @dev Requirements: not paused; `amount > 0`; `account` is nonzero; the token moves exactly
    ///      `amount` from the caller. Emits {Deposited}.
    function deposit(IERC20 token, address account, uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) _revertZeroAmount();
        if (account == address(0)) _revertZeroAddress();
        _pull(token, amount);
        _balances[token][account] += amount;
        emit Deposited(token, account, amount);
    }

    /// @inheritdoc ICollateralVault
    /// @dev Requirements: `amount > 0`; `to` is nonzero; the caller's free balance holds `amount`;
    ///      {_checkWithdrawal} accepts what is left. Works while paused. Emits {Withdrawn}.
    function withdraw(IERC20 token, address to, uint256 amount) external nonReentrant {
        if (amount == 0) _revertZeroAmount();
        if (to == address(0)) _revertZeroAddress();
        _debit(token, msg.sender, amount);
        _checkWithdrawal(token, msg.sender);
        token.safeTransfer(to, amount);
        emit Withdrawn(token, msg.sender, to, amount);
    }

    /// @inheritdoc ICollateralVault
    function balanceOf(IERC20 token, address account) external view returns (uint256) {
        return _balances[token][account];
    }

    /// @dev Takes `amount` from `account`'s free balance; reverts through
    ///      {_revertInsufficientBalance} when the balance is smaller.
    function _debit(IERC20 token, address account, uint256 amount) internal {
        uint256 bal = _balances[token][account];
        if (bal < amount) _revertInsufficientBalance(bal, amount);
        // Checked on purpose: the hook above reverts, and the subtraction would too.
        _balances[token][account] = bal - amount;
    }

    /// @dev Called by {withdraw} after the debit, before the transfer: reverts when `account` may
    ///      not keep what is left of its free balance. The default accepts every withdrawal.
    /// @param token The payment token.
    /// @param account The withdrawing account.
    function _checkWithdrawal(IERC20 token, address account) internal view virtual {}

    /// @dev Pulls `amount` of `token` from the caller and checks that exactly that much arrived
    ///      (fee-on-transfer and rebasing tokens are not supported).
    function _pull(IERC20 token, uint256 amount) internal {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) _revertTransferMismatch(amount, received);
    }

    /// @dev Reverts with the contract's "zero amount" error.
    function _revertZeroAmount() internal pure virtual;

    /// @dev Reverts with the contract's "zero address" error.
    function _revertZeroAddress() internal pure virtual;

    /// @dev Reverts with the contract's "insufficient balance" error.
    /// @param balance The free balance.
    /// @param amount The amount asked for.
    function _revertInsufficientBalance(uint256 balance, uint256 amount) internal pure virtual;

    /// @dev Reverts with the contract's "transfer mismatch" error.
    /// @param expected The amount asked for.
    /// @param received The amount that arrived.
    function _revertTransferMismatch(uint256 expected, uint256 received) internal pure virtual;
}
