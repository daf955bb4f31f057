// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TestBase} from "../utils/Vm.sol";
import {MockERC20, AcceptAllVerifier} from "../utils/Mocks.sol";
import {IPoseidonT4, IPoseidonT5} from "../../src/interfaces/IPoseidon.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken} from "../../src/EnergyIntentToken.sol";
import {AuctionHandler} from "./AuctionHandler.sol";

/// @notice Invariants of the auction under random call sequences (256 runs x depth 100 by
///         default, `FOUNDRY_PROFILE=deep` for 1024 x 500):
///         (a) token balance = locks + free balances + bond + fees + pool (milli-units, exact),
///             and the pool is zero whenever every settled fill is claimed;
///         (b) no fill is claimed twice;
///         (c) after a void every lock is refundable and a refund moves nothing else;
///         (d) ERC-1155 minted - burned = sum of balances, per id;
///         (e) no withdrawal takes more than the caller's free balance (another trader's
///             balance or locked collateral), and a refused one moves nothing;
///         (f) no intent ever moves between accounts (transfers, batch transfers, approvals);
///         (g) claimBatch never reverts on a final interval, whatever its items (any order,
///             duplicates, consumed records, a contract trader without a receiver), and every
///             claim moves exactly what the clearing rule says;
///         (h) no interval pays out more than it collected (plus what its unclaimed payers still
///             owe, so: once every payer has claimed, paid <= collected);
///         (i) a dispute, by anyone, returns the lock to the trader and moves the slash from the
///             bond to insurance, and pays the caller nothing;
///         (j) no account gets more than `maxPerAccount` commitments into an interval, no lock
///             below the unopened fee is accepted, and a withdrawn or excluded commitment pays
///             exactly the fee into insurance (checked with every claim and withdrawal).
contract AuctionInvariants is TestBase {
    AuctionHandler internal handler;
    SealgridAuction internal auction;
    MockERC20 internal token;
    EnergyIntentToken internal intents;
    bytes32 internal constant MARKET = bytes32(uint256(0x5ea19d));
    /// @dev The handler's FEE and PER_ACCOUNT (checked equal in setUp).
    uint128 internal constant SPAM_FEE = 1000;
    uint256 internal constant SPAM_PER_ACCOUNT = 4;

    function setUp() public {
        vm.warp(1_800_000_000);
        address admin = address(0xAD);
        uint256 operatorPk = 0xA11CE;
        address operator = vm.addr(operatorPk);
        token = new MockERC20();
        intents = new EnergyIntentToken(admin, "");
        auction = new SealgridAuction(
            admin,
            admin,
            intents,
            IPoseidonT4(vm.deployCode("PoseidonT4.sol:PoseidonT4")),
            IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"))
        );
        vm.startPrank(admin);
        intents.grantRole(intents.MINTER_ROLE(), address(auction));
        auction.createMarket(
            MARKET,
            ISealgridAuction.MarketParams({
                token: IERC20(address(token)),
                verifier: new AcceptAllVerifier(),
                operator: operator,
                intervalLength: 300,
                gateLead: 300,
                settleWindow: 240,
                commitHorizon: 3600,
                maxCommitments: 64,
                verifierGasLimit: 100_000,
                priceFloor: -100_000,
                priceCap: 300_000,
                minBond: 1e6,
                slashAmount: 1e5,
                maxPerAccount: uint8(SPAM_PER_ACCOUNT),
                unopenedFee: SPAM_FEE
            })
        );
        vm.stopPrank();
        token.mint(operator, 1e12);
        vm.startPrank(operator);
        token.approve(address(auction), type(uint256).max);
        auction.depositBond(MARKET, 1e12);
        vm.stopPrank();

        handler = new AuctionHandler(auction, token, intents, MARKET, operatorPk);
        vm.assertEq(uint256(handler.FEE()), SPAM_FEE, "fee");
        vm.assertEq(handler.PER_ACCOUNT(), SPAM_PER_ACCOUNT, "cap");
        targetContract(address(handler));
        bytes4[] memory sel = new bytes4[](16);
        sel[0] = AuctionHandler.commit.selector;
        sel[1] = AuctionHandler.commit.selector; // twice: commits dominate real traffic
        sel[2] = AuctionHandler.withdrawCommitment.selector;
        sel[3] = AuctionHandler.settle.selector;
        sel[4] = AuctionHandler.warp.selector;
        sel[5] = AuctionHandler.claim.selector;
        sel[6] = AuctionHandler.refund.selector;
        sel[7] = AuctionHandler.dispute.selector;
        sel[8] = AuctionHandler.burn.selector;
        sel[9] = AuctionHandler.depositAndWithdraw.selector;
        sel[10] = AuctionHandler.overdraw.selector;
        sel[11] = AuctionHandler.claimBatchAnyOrder.selector;
        sel[12] = AuctionHandler.claimBatchAnyOrder.selector; // claims as often as commits
        sel[13] = AuctionHandler.transferIntents.selector;
        sel[14] = AuctionHandler.warpFar.selector;
        sel[15] = AuctionHandler.dispute.selector; // twice: the window before the start is short
        targetSelector(FuzzSelector({addr: address(handler), selectors: sel}));
    }

    function invariant_a_moneyConserved() public view {
        uint256 free;
        for (uint256 k; k < handler.ACTORS(); ++k) {
            free += auction.balanceOf(IERC20(address(token)), handler.actors(k));
        }
        (,,, uint128 bond) = auction.getMarket(MARKET);
        (int128 pool, uint128 fees) = auction.ledger(IERC20(address(token)));
        int256 lhs = int256(token.balanceOf(address(auction)) * 1000);
        uint256 insured = auction.insurance(MARKET);
        int256 rhs = int256((handler.ghostLocks() + free + bond + insured) * 1000 + fees) + pool;
        vm.assertEq(lhs, rhs, "1000 * balance == 1000 * (locks + free + bond + insurance) + fees + pool");
        if (handler.ghostUnclaimedFills() == 0) {
            vm.assertEq(int256(pool), 0, "pool is zero once all fills are claimed");
        }
    }

    function invariant_b_noDoubleClaim() public view {
        vm.assertFalse(handler.ghostDoubleClaim(), "a consumed record was claimed again");
    }

    function invariant_c_voidRefundsEverything() public view {
        vm.assertFalse(handler.ghostRefundFailed(), "a lock of a voided interval was not refundable");
        vm.assertFalse(handler.ghostRefundMovedOther(), "a refund moved more than its lock");
    }

    function invariant_d_intentSupply() public view {
        for (uint256 n; n < handler.idsLength(); ++n) {
            uint256 id = handler.ids(n);
            uint256 sum;
            for (uint256 k; k < handler.ACTORS(); ++k) {
                sum += intents.balanceOf(handler.actors(k), id);
            }
            vm.assertEq(
                handler.ghostMinted(id) - handler.ghostBurned(id), sum, "minted - burned == sum of balances"
            );
        }
    }

    function invariant_e_noOverdraw() public view {
        vm.assertFalse(handler.ghostVaultBreach(), "a withdrawal took more than the caller's free balance");
    }

    function invariant_f_intentsNeverMove() public view {
        vm.assertFalse(handler.ghostIntentMoved(), "an intent moved between accounts");
    }

    function invariant_g_batchesNeverBlocked() public view {
        vm.assertFalse(handler.ghostBatchReverted(), "a claimBatch on a final interval reverted");
        vm.assertFalse(handler.ghostClaimMismatch(), "a claim moved other than the clearing rule says");
    }

    function invariant_h_noIntervalPaysOutMoreThanItCollected() public view {
        for (uint256 n; n < handler.intervalsLength(); ++n) {
            uint64 i = handler.intervals(n);
            vm.assertLe(
                handler.ghostOut(i), handler.ghostIn(i) + handler.ghostDue(i), "paid <= collected + still due"
            );
            if (handler.ghostDue(i) == 0) {
                vm.assertLe(handler.ghostOut(i), handler.ghostIn(i), "paid <= collected");
            }
        }
    }

    function invariant_i_disputesPayOnlyTheTraderAndInsurance() public view {
        vm.assertFalse(handler.ghostDisputeMisdirected(), "a dispute moved money elsewhere");
    }

    function invariant_j_spamIsCappedAndPaysTheFee() public view {
        vm.assertFalse(
            handler.ghostSpamAccepted(), "a commitment above the cap or below the fee was accepted"
        );
        vm.assertFalse(
            handler.ghostWithdrawMismatch(), "a withdrawal moved other than lock - fee and the fee"
        );
        vm.assertGe(auction.insurance(MARKET), handler.ghostFees(), "every unopened fee is in insurance");
    }

    /// Every invariant above in one campaign, so that a deep run (one million calls) checks all
    /// of them after every call: `FOUNDRY_INVARIANT_RUNS=1000 FOUNDRY_INVARIANT_DEPTH=1000 forge
    /// test --match-test invariant_all`.
    function invariant_all() public view {
        invariant_a_moneyConserved();
        invariant_b_noDoubleClaim();
        invariant_c_voidRefundsEverything();
        invariant_d_intentSupply();
        invariant_e_noOverdraw();
        invariant_f_intentsNeverMove();
        invariant_g_batchesNeverBlocked();
        invariant_h_noIntervalPaysOutMoreThanItCollected();
        invariant_i_disputesPayOnlyTheTraderAndInsurance();
        invariant_j_spamIsCappedAndPaysTheFee();
    }

    /// Shows the run exercised every path (read in -vv output); fails if nothing settled or claimed.
    function afterInvariant() public view {
        vm.assertGe(handler.calls("commit"), 1, "commits happened");
    }
}
