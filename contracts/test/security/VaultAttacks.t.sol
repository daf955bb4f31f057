// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {ICollateralVault} from "../../src/interfaces/ICollateralVault.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {IDeliverySettlement} from "../../src/DeliverySettlement.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";

/// @notice An ERC-20 that calls back into the receiver of every transfer (an ERC-777-style hook),
///         so that the receiver can try to re-enter the vault that is paying it.
contract CallbackERC20 is ERC20 {
    /// @dev The account whose incoming transfers call back.
    address public hooked;

    constructor() ERC20("Callback", "CB") {}

    function setHooked(address account) external {
        hooked = account;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && to == hooked) VaultAttacker(to).onTokenReceived(value);
    }
}

/// @notice Deposits into a vault, withdraws, and on the token's callback tries again: a second
///         withdrawal of the same balance, a deposit, and a withdrawal of another account's funds.
contract VaultAttacker {
    ICollateralVault internal immutable vault;
    CallbackERC20 internal immutable token;
    bool internal armed;
    /// @dev The revert data of each re-entry attempt (all must fail).
    bytes[] public reentryErrors;
    uint256 public reentrySuccesses;

    constructor(ICollateralVault vault_, CallbackERC20 token_) {
        vault = vault_;
        token = token_;
        token_.approve(address(vault_), type(uint256).max);
    }

    function depositAndDrain(uint256 amount) external {
        vault.deposit(IERC20(address(token)), address(this), amount);
        armed = true;
        vault.withdraw(IERC20(address(token)), address(this), amount);
        armed = false;
    }

    function onTokenReceived(uint256 value) external {
        if (!armed) return;
        armed = false;
        _try(abi.encodeCall(ICollateralVault.withdraw, (IERC20(address(token)), address(this), value)));
        _try(abi.encodeCall(ICollateralVault.deposit, (IERC20(address(token)), address(this), 1)));
        _try(abi.encodeCall(ICollateralVault.withdraw, (IERC20(address(token)), address(this), 1)));
    }

    function _try(bytes memory data) internal {
        (bool ok, bytes memory ret) = address(vault).call(data);
        if (ok) ++reentrySuccesses;
        else reentryErrors.push(ret);
    }

    function reentryCount() external view returns (uint256) {
        return reentryErrors.length;
    }
}

/// @notice Attacks on the shared collateral vault as the auction and delivery settlement use it:
///         taking another account's collateral, withdrawing collateral that backs a commitment or an
///         imbalance, and re-entering through a token callback. In every case nobody loses anything
///         and the contract still holds every free balance it owes.
contract VaultAttacksTest is DeliveryFixture {
    IERC20 internal tok;
    address internal mallory = address(0xBAD);

    function setUp() public override {
        super.setUp();
        tok = IERC20(address(token));
        fund(mallory, 1e12);
        vm.prank(mallory);
        token.approve(address(settlement), type(uint256).max);
        vm.prank(alice);
        token.approve(address(settlement), type(uint256).max);
    }

    // ------------------------------------------------------------------ auction

    function test_auction_cannotWithdrawAnothersCollateral() public {
        vm.prank(alice);
        auction.deposit(tok, alice, 500e6);
        uint256 held = token.balanceOf(address(auction));
        // Mallory has no balance: withdrawing anything, to herself or to alice's address, fails.
        vm.startPrank(mallory);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientBalance.selector, 0, 1));
        auction.withdraw(tok, mallory, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientBalance.selector, 0, 500e6)
        );
        auction.withdraw(tok, alice, 500e6);
        vm.stopPrank();
        vm.assertEq(auction.balanceOf(tok, alice), 500e6, "alice keeps her balance");
        vm.assertEq(token.balanceOf(address(auction)), held, "nothing left the auction");
    }

    function test_auction_depositForAnotherIsTheirs() public {
        // A deposit credits `account`, not the payer: the payer cannot take it back.
        vm.prank(mallory);
        auction.deposit(tok, alice, 7e6);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientBalance.selector, 0, 7e6));
        auction.withdraw(tok, mallory, 7e6);
        vm.prank(alice);
        auction.withdraw(tok, alice, 7e6);
        vm.assertEq(auction.balanceOf(tok, alice), 0, "withdrawn by its owner");
    }

    function test_auction_cannotWithdrawLockedCollateral() public {
        vm.prank(alice);
        auction.deposit(tok, alice, 1000e6);
        uint64 i = nextInterval();
        OrderLib.Order memory o = order(alice, i, OrderLib.BUY, 10_000, 50_000, 1);
        commitOrder(o, 600e6); // the lock comes out of the free balance
        vm.assertEq(auction.balanceOf(tok, alice), 400e6, "free after the lock");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientBalance.selector, 400e6, 400e6 + 1)
        );
        auction.withdraw(tok, alice, 400e6 + 1);
        vm.prank(alice);
        auction.withdraw(tok, alice, 400e6);
        // The lock is still fully backed.
        vm.assertGe(token.balanceOf(address(auction)), 600e6 + 2 * MIN_BOND, "locks and bond backed");
    }

    function test_auction_withdrawOpenWhilePaused_depositNot() public {
        vm.prank(alice);
        auction.deposit(tok, alice, 5e6);
        vm.prank(pauser);
        auction.pause();
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        auction.deposit(tok, alice, 1);
        vm.prank(alice);
        auction.withdraw(tok, alice, 5e6);
        vm.assertEq(auction.balanceOf(tok, alice), 0, "withdrawn while paused");
    }

    function test_auction_reentryThroughTokenCallbackFails() public {
        _reentry(ICollateralVault(address(auction)));
    }

    // --------------------------------------------------------- delivery settlement

    function test_settlement_cannotWithdrawAnothersCollateral() public {
        collateral(alice, 300e6);
        vm.startPrank(mallory);
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.SettlementInsufficientBalance.selector, 0, 300e6)
        );
        settlement.withdraw(tok, alice, 300e6);
        vm.stopPrank();
        vm.assertEq(bal(alice), 300e6, "alice keeps her collateral");
        vm.assertEq(token.balanceOf(address(settlement)), 300e6, "nothing left the vault");
    }

    function test_settlement_withdrawingBelowExposure_isRefused_andDebtIsRepaid() public {
        // Alice bought 10 kWh and consumed 12 kWh; before the interval settles she tries to take
        // her collateral out. What backs her open position (10 kWh at minus the floor) stays
        // (CollateralEscape.t.sol plays the other cases); the charge beyond it that she cannot
        // pay becomes her recorded debt, and the balancing account is credited only with tokens
        // that exist.
        uint64 i = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        collateral(alice, 100e6);
        collateral(balancing, 1000e6);
        position(alice, i, 10_000, 0);
        vm.warp(endOf(i) + 10);
        submit(1, i, 12_000, 0, 0, 0);
        postPrice(i, CAP, 0);
        uint256 need = 10_000 * uint256(-int256(FLOOR)) / 1000;
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.SettlementCollateralLocked.selector, 0, need)
        );
        settlement.withdraw(tok, alice, 100e6);
        vm.prank(alice);
        settlement.withdraw(tok, alice, 100e6 - need);
        vm.warp(endOf(i) + READING_WINDOW);
        uint256 z0 = bal(balancing);
        settlement.settle(MARKET, i, one(alice)); // 2,000 Wh at the cap: 10,000,000 > need
        vm.assertEq(bal(alice), 0, "nothing left to charge");
        vm.assertEq(bal(balancing), z0 + need, "credited only what she paid");
        vm.assertEq(settlement.debtOf(MARKET, alice), 10_000_000 - need, "the rest is owed");
        vm.assertEq(token.balanceOf(address(settlement)), bal(balancing) + fees(), "every balance backed");
        // Paid back from a later deposit.
        collateral(alice, 10e6);
        settlement.repay(MARKET, alice);
        vm.assertEq(settlement.debtOf(MARKET, alice), 0, "repaid");
        vm.assertEq(bal(balancing), z0 + 10_000_000, "balancing account made whole");
    }

    function test_settlement_reentryThroughTokenCallbackFails() public {
        _reentry(ICollateralVault(address(settlement)));
    }

    // ------------------------------------------------------------------ helpers

    /// @dev An attacker deposits 100 and withdraws it; in the token's callback it tries to
    ///      withdraw the same 100 again, deposit, and withdraw someone else's unit. Every re-entry
    ///      reverts with ReentrancyGuardReentrantCall and the honest depositor is untouched.
    function _reentry(ICollateralVault vault) internal {
        CallbackERC20 cb = new CallbackERC20();
        IERC20 cbt = IERC20(address(cb));
        cb.mint(alice, 1000);
        vm.startPrank(alice);
        cb.approve(address(vault), type(uint256).max);
        vault.deposit(cbt, alice, 1000);
        vm.stopPrank();
        VaultAttacker attacker = new VaultAttacker(vault, cb);
        cb.mint(address(attacker), 100);
        cb.setHooked(address(attacker));
        attacker.depositAndDrain(100);
        vm.assertEq(attacker.reentryCount(), 3, "three re-entries attempted");
        vm.assertEq(attacker.reentrySuccesses(), 0, "none succeeded");
        for (uint256 k; k < 3; ++k) {
            vm.assertEq(
                attacker.reentryErrors(k),
                abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector),
                "reentrancy guard"
            );
        }
        vm.assertEq(cb.balanceOf(address(attacker)), 100, "the attacker got back only its own 100");
        vm.assertEq(vault.balanceOf(cbt, address(attacker)), 0, "and has nothing left inside");
        vm.assertEq(vault.balanceOf(cbt, alice), 1000, "alice untouched");
        vm.assertEq(cb.balanceOf(address(vault)), 1000, "alice's 1000 still held");
    }
}
