// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {AuctionFixture} from "../utils/Fixture.sol";
import {StagedVerifiers} from "../utils/StagedVerifiers.sol";
import {IClearingVerifierAdapter} from "../../src/interfaces/IClearingVerifierAdapter.sol";
import {VmExtra, vmx} from "../utils/VmExtra.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";
import {Deploy} from "../../../deploy/Deploy.s.sol";

/// @notice Issue 17, governance: market id 0 is refused; closeMarket records the latest gate a
///         commitment can actually have (the old code guessed now + the current horizon, so after
///         a horizon cut the bond became free while committed intervals could still settle and be
///         disputed); a pause of any length freezes no claim, refund, withdrawal or dispute; the
///         deployment script refuses a timelock without proposers or executors and leaves the
///         timelock as the only admin of everything it deploys.
contract GovernanceTest is AuctionFixture, StagedVerifiers {
    function _tok() internal view returns (IERC20) {
        return IERC20(address(token));
    }

    function test_createMarket_refusesMarketIdZero() public {
        ISealgridAuction.MarketParams memory p = params();
        vm.prank(admin);
        vm.expectRevert(ISealgridAuction.AuctionZeroMarketId.selector);
        auction.createMarket(bytes32(0), p);
    }

    function test_attack_closeAfterHorizonCut_bondStaysUntilCommittedIntervalsAreFinal() public {
        // A commitment at the far end of the 1-day horizon.
        uint64 k = uint64((block.timestamp + HORIZON + LEAD) / L);
        vm.assertLe(gateOf(k), block.timestamp + HORIZON, "within the horizon");
        OrderLib.Order memory o = order(carol, k, 0, 500, 50_000, 1);
        ISealgridAuction.CommitmentRecord memory rc = commitOrder(o, 25e3);
        commitOrder(order(bob, k, 1, 500, 0, 1), 0);
        bytes memory receipt = receiptSig(k, rc.index, rc.commitment);
        // Governance cuts the horizon to an hour, then closes the market.
        ISealgridAuction.MarketParams memory p = params();
        p.commitHorizon = 3600;
        vm.startPrank(admin);
        auction.updateMarket(MARKET, p);
        auction.closeMarket(MARKET);
        vm.stopPrank();
        (,, uint64 lastGate,) = auction.getMarket(MARKET);
        vm.assertGe(uint256(lastGate), gateOf(k), "the last gate covers the committed interval");
        vm.assertEq(uint256(lastGate), T0 + HORIZON, "exactly how far the horizon ever reached");

        // Where the old guess (now + 1 h) would have freed the bond, it stays locked.
        vm.warp(T0 + 3600 + LEAD);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionBondLocked.selector, 0, MIN_BOND));
        auction.withdrawBond(MARKET, operator, MIN_BOND * 2);
        // So the committed interval settles, and censorship in it is still slashed.
        uint64[] memory w = words2(excludedWord(), sellWord(0));
        settleAt(k, 0, 0, w);
        auction.dispute(
            MARKET,
            k,
            ISealgridAuction.Dispute({
                index: rc.index, order: o, lock: rc.lock, proof: proofOf(w, rc.index), receipt: receipt
            })
        );
        vm.assertEq(uint256(auction.insurance(MARKET)), SLASH, "slashed");
        // Once the last possible interval has started, the whole bond is free.
        vm.warp(uint256(lastGate) + LEAD);
        vm.prank(operator);
        auction.withdrawBond(MARKET, operator, MIN_BOND * 2 - SLASH);
    }

    function test_attack_longPauseFreezesNoMoney() public {
        uint64 i = nextInterval();
        // i trades, j holds a censored order, n is never settled.
        ISealgridAuction.CommitmentRecord memory ra = commitOrder(order(alice, i, 0, 1000, 200_000, 1), 200e3);
        ISealgridAuction.CommitmentRecord memory rb = commitOrder(order(bob, i, 1, 1000, 100_000, 1), 0);
        uint64 j = i + 1;
        OrderLib.Order memory o = order(carol, j, 0, 500, 50_000, 1);
        ISealgridAuction.CommitmentRecord memory rc = commitOrder(o, 25e3);
        ISealgridAuction.CommitmentRecord memory rb2 = commitOrder(order(bob, j, 1, 500, 0, 2), 0);
        uint64 n = i + 2;
        ISealgridAuction.CommitmentRecord memory rn = commitOrder(order(alice, n, 0, 10, 100, 3), 1);
        bytes memory receipt = receiptSig(j, rc.index, rc.commitment);
        uint64[] memory wi = words2(buyWord(1000), sellWord(1000));
        uint64[] memory wj = words2(excludedWord(), 0);
        settleAt(i, 150_000, 1000, wi);
        settleAt(j, 0, 0, wj);
        vm.prank(alice);
        auction.deposit(_tok(), alice, 5);

        vm.prank(pauser);
        auction.pause();
        // What takes on new obligations stops.
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        auction.commit(MARKET, n + 1, bytes32(uint256(1)), 1);
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        auction.deposit(_tok(), alice, 1);
        // Disputes work while paused.
        auction.dispute(
            MARKET,
            j,
            ISealgridAuction.Dispute({
                index: rc.index, order: o, lock: rc.lock, proof: proofOf(wj, 0), receipt: receipt
            })
        );
        // A year later, still paused: claims, refunds, voids and withdrawals all work.
        vm.warp(block.timestamp + 400 days);
        vm.assertTrue(auction.paused(), "still paused");
        auction.claim(MARKET, i, claimOf(ra, wi));
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](1);
        cs[0] = claimOf(rb, wi);
        auction.claimBatch(MARKET, i, cs);
        auction.refund(MARKET, j, rb2);
        auction.voidInterval(MARKET, n);
        ISealgridAuction.CommitmentRecord[] memory rr = new ISealgridAuction.CommitmentRecord[](1);
        rr[0] = rn;
        auction.refundBatch(MARKET, n, rr);
        uint256 aliceFree = auction.balanceOf(_tok(), alice);
        vm.assertEq(aliceFree, 5 + 200e3 - 150_000 + 1, "alice: deposit, claim change, refund");
        vm.assertEq(auction.balanceOf(_tok(), bob), 150_000, "bob paid");
        vm.assertEq(auction.balanceOf(_tok(), carol), 25e3, "carol's lock back");
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        auction.withdraw(_tok(), alice, aliceFree);
        vm.assertEq(token.balanceOf(alice) - before, aliceFree, "withdrawn while paused");
    }

    function _setDeployEnv(string memory proposers, string memory executors, address verifier4, bytes32 hash4)
        internal
    {
        vmx.setEnv("SG_DEPLOYER_KEY", "0xD3910E");
        vmx.setEnv("SG_TOKEN", "0x0000000000000000000000000000000000000000");
        vmx.setEnv("SG_BOND", "2000000000");
        vmx.setEnv("SG_INTENT_URI", "https://sealgrid.invalid/intent/{id}.json");
        vmx.setEnv("SG_CERTIFICATE_URI", "https://sealgrid.invalid/gc/{id}.json");
        vmx.setEnv("SG_PAUSER", "0x000000000000000000000000000000000000BA05");
        vmx.setEnv("SG_MARKET", "0x00000000000000000000000000000000000000000000000000000000005ea19d");
        vmx.setEnv("SG_OPERATOR", "0x0000000000000000000000000000000000000e7a");
        vmx.setEnv("SG_INTERVAL_LENGTH", "300");
        vmx.setEnv("SG_GATE_LEAD", "300");
        vmx.setEnv("SG_SETTLE_WINDOW", "240");
        vmx.setEnv("SG_COMMIT_HORIZON", "86400");
        vmx.setEnv("SG_MAX_COMMITMENTS", "4");
        vmx.setEnv("SG_VERIFIER_GAS_LIMIT", "800000");
        vmx.setEnv("SG_PRICE_FLOOR", "-500000");
        vmx.setEnv("SG_PRICE_CAP", "5000000");
        vmx.setEnv("SG_MIN_BOND", "1000000000");
        vmx.setEnv("SG_SLASH_AMOUNT", "100000000");
        vmx.setEnv("SG_MAX_PER_ACCOUNT", "8");
        vmx.setEnv("SG_UNOPENED_FEE", "100000");
        vmx.setEnv("SG_CAPACITIES", "4");
        vmx.setEnv("SG_VERIFIERS", vmx.toString(verifier4));
        vmx.setEnv("SG_VERIFIER_CODEHASHES", vmx.toString(hash4));
        vmx.setEnv("SG_REGISTRAR", "0x0000000000000000000000000000000000000De5");
        vmx.setEnv("SG_READING_WINDOW", "900");
        vmx.setEnv("SG_TRUE_UP_WINDOW", "15552000");
        vmx.setEnv("SG_ORACLE", "0x00000000000000000000000000000000000000AC");
        vmx.setEnv("SG_BALANCING", "0x00000000000000000000000000000000000000BA");
        vmx.setEnv("SG_TIMELOCK_DELAY", "86400");
        vmx.setEnv("SG_SPONSOR", "0x0000000000000000000000000000000000000000");
        vmx.setEnv("SG_PROPOSERS", proposers);
        vmx.setEnv("SG_EXECUTORS", executors);
    }

    /// @dev Without SG_DEPLOYER_KEY the script broadcasts from forge's own sender (`--keystore`,
    ///      `--account`, `--ledger`; in a test, the test's origin), which is the deployer: it funds
    ///      the bond, administers everything while deploying and keeps no admin role after.
    function _deployKeyless(Deploy script, string memory board, address v4, bytes32 h4) internal {
        _setDeployEnv(board, board, v4, h4);
        vmx.setEnv("SG_DEPLOYER_KEY", "");
        vmx.recordLogs();
        script.run();
        VmExtra.Log[] memory logs = vmx.getRecordedLogs();
        bytes32 minDelayChange = keccak256("MinDelayChange(uint256,uint256)");
        bytes32 roleGranted = keccak256("RoleGranted(bytes32,address,address)");
        address sender = tx.origin; // forge's default sender in a test
        vm.assertTrue(sender != vm.addr(0xD3910E), "not the keyed deployer");
        address timelock;
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].topics[0] == minDelayChange) timelock = logs[k].emitter;
        }
        vm.assertTrue(timelock != address(0), "a timelock was deployed");
        uint256 governed;
        uint256 sawSender;
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].topics[0] != roleGranted || logs[k].topics[1] != bytes32(0)) continue;
            IAccessControl target = IAccessControl(logs[k].emitter);
            address account = address(uint160(uint256(logs[k].topics[2])));
            if (account == timelock) ++governed;
            if (account == sender) ++sawSender;
            vm.assertTrue(target.hasRole(bytes32(0), timelock), "the timelock administers it");
            vm.assertFalse(target.hasRole(bytes32(0), sender), "the sender keeps no admin role");
        }
        vm.assertEq(governed, 5, "five contracts under the keyless deployment's timelock");
        vm.assertEq(sawSender, 4, "the sender was the deploying admin of the four governed contracts");
    }

    /// @dev One test for every deployment case: the environment is process-wide, so the cases run
    ///      in sequence here rather than in parallel tests.
    function test_deploy_refusesEmptyTimelockSets_andLeavesTheTimelockOnlyAdmin() public {
        address v4 = deployVerifier(4);
        bytes32 h4 = v4.codehash;
        string memory board = "0x0000000000000000000000000000000000000B0A";
        Deploy script = new Deploy();
        _setDeployEnv("", board, v4, h4);
        vm.expectRevert(Deploy.DeployNoProposers.selector);
        script.run();
        _setDeployEnv(board, "", v4, h4);
        vm.expectRevert(Deploy.DeployNoExecutors.selector);
        script.run();
        // First (while the test's origin is still forge's default sender; a keyed broadcast leaves
        // its account as the origin of the test): the keyless path.
        _deployKeyless(script, board, v4, h4);

        _setDeployEnv(board, board, v4, h4);
        vmx.recordLogs();
        script.run();
        VmExtra.Log[] memory logs = vmx.getRecordedLogs();
        address deployer = vm.addr(0xD3910E);
        // The timelock is the contract that announced its delay.
        bytes32 minDelayChange = keccak256("MinDelayChange(uint256,uint256)");
        bytes32 roleGranted = keccak256("RoleGranted(bytes32,address,address)");
        address timelock;
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].topics[0] == minDelayChange) timelock = logs[k].emitter;
        }
        vm.assertTrue(timelock != address(0), "a timelock was deployed");
        // Every account ever granted an admin role by the deployment: only the timelock holds it now.
        uint256 governed;
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].topics[0] != roleGranted || logs[k].topics[1] != bytes32(0)) continue;
            IAccessControl target = IAccessControl(logs[k].emitter);
            address account = address(uint160(uint256(logs[k].topics[2])));
            vm.assertTrue(target.hasRole(bytes32(0), timelock), "the timelock administers it");
            if (account != timelock) {
                vm.assertFalse(target.hasRole(bytes32(0), account), "no other admin is left");
            } else {
                ++governed;
            }
        }
        // auction, intent token, meter registry, delivery settlement and the timelock itself.
        vm.assertEq(governed, 5, "five contracts under the timelock");
        vm.assertFalse(
            IAccessControl(timelock).hasRole(bytes32(0), deployer), "deployer is not the timelock admin"
        );
        TimelockController tl = TimelockController(payable(timelock));
        address boardAddr = address(0xB0A);
        vm.assertTrue(tl.hasRole(tl.PROPOSER_ROLE(), boardAddr), "the board proposes");
        vm.assertTrue(tl.hasRole(tl.EXECUTOR_ROLE(), boardAddr), "the board executes");
        vm.assertFalse(tl.hasRole(tl.PROPOSER_ROLE(), deployer), "the deployer does not propose");

        // Last (a revert inside the broadcast leaves it open): a verifier whose runtime code is
        // not the expected one (the 16-slot entry under the 4-slot hash) is refused by the adapter.
        _setDeployEnv(board, board, deployVerifier(16), h4);
        vm.expectPartialRevert(IClearingVerifierAdapter.ClearingVerifierCodeHashMismatch.selector);
        script.run();
    }
}
