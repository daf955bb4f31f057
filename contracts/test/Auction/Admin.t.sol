// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "../utils/Fixture.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {IClearingVerifier} from "../../src/interfaces/IClearingVerifier.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {IPoseidonT4, IPoseidonT5} from "../../src/interfaces/IPoseidon.sol";
import {EnergyIntentToken} from "../../src/EnergyIntentToken.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";
import {IEnergyIntentToken} from "../../src/interfaces/IEnergyIntentToken.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

contract AdminTest is AuctionFixture {
    bytes32 internal constant M2 = bytes32(uint256(0xBEEF));

    function test_constructor_revertsZeroAdmin() public {
        vm.expectRevert(ISealgridAuction.AuctionZeroAddress.selector);
        new SealgridAuction(address(0), pauser, intents, poseidonT4, poseidonT5);
    }

    function test_constructor_revertsHasherWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNoCode.selector, address(0xBAD)));
        new SealgridAuction(admin, pauser, intents, IPoseidonT4(address(0xBAD)), poseidonT5);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNoCode.selector, address(0xBAD)));
        new SealgridAuction(admin, pauser, intents, poseidonT4, IPoseidonT5(address(0xBAD)));
    }

    function test_createMarket_assignsSequence() public {
        vm.prank(admin);
        auction.createMarket(M2, params());
        (ISealgridAuction.MarketParams memory p, uint32 seq, uint64 lastGate, uint128 bond) =
            auction.getMarket(M2);
        vm.assertEq(uint256(seq), 2, "second market");
        vm.assertEq(uint256(lastGate), 0, "open");
        vm.assertEq(uint256(bond), 0, "no bond yet");
        vm.assertEq(p.operator, operator, "operator");
    }

    function test_createMarket_revertsForNonAdmin() public {
        ISealgridAuction.MarketParams memory p = params();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, bytes32(0)
            )
        );
        auction.createMarket(M2, p);
    }

    function test_createMarket_revertsDuplicate() public {
        ISealgridAuction.MarketParams memory p = params();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionMarketExists.selector, MARKET));
        auction.createMarket(MARKET, p);
    }

    function test_createMarket_revertsFieldOverflow() public {
        ISealgridAuction.MarketParams memory p = params();
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionFieldOverflow.selector, OrderLib.FIELD_MODULUS)
        );
        auction.createMarket(bytes32(OrderLib.FIELD_MODULUS), p);
    }

    function test_createMarket_revertsInvalidParams() public {
        ISealgridAuction.MarketParams[11] memory bad;
        string[11] memory reasons = [
            "token is zero",
            "verifier is zero",
            "operator is zero",
            "interval length is zero",
            "settle window is zero",
            "settle window + 60 > gate lead",
            "commit horizon is zero",
            "max commitments is zero",
            "verifier gas limit < 50000",
            "price floor >= cap",
            "min bond is zero"
        ];
        for (uint256 k; k < bad.length; ++k) {
            bad[k] = params();
        }
        bad[0].token = IERC20(address(0));
        bad[1].verifier = IClearingVerifier(address(0));
        bad[2].operator = address(0);
        bad[3].intervalLength = 0;
        bad[4].settleWindow = 0;
        bad[5].settleWindow = LEAD - 59;
        bad[6].commitHorizon = 0;
        bad[7].maxCommitments = 0;
        bad[8].verifierGasLimit = 49_999;
        bad[9].priceFloor = CAP;
        bad[10].minBond = 0;
        for (uint256 k; k < bad.length; ++k) {
            vm.prank(admin);
            vm.expectRevert(
                abi.encodeWithSelector(ISealgridAuction.AuctionInvalidParams.selector, reasons[k])
            );
            auction.createMarket(M2, bad[k]);
        }
    }

    function test_updateMarket_changesMutableOnly() public {
        ISealgridAuction.MarketParams memory p = params();
        p.priceCap = CAP * 2;
        vm.prank(admin);
        auction.updateMarket(MARKET, p);
        (ISealgridAuction.MarketParams memory got,,,) = auction.getMarket(MARKET);
        vm.assertEq(int256(got.priceCap), int256(CAP) * 2, "cap updated");
        p.intervalLength = 900;
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionInvalidParams.selector, "token and timing are immutable"
            )
        );
        auction.updateMarket(MARKET, p);
    }

    function test_updateMarket_revertsUnknownOrClosed() public {
        ISealgridAuction.MarketParams memory p = params();
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionUnknownMarket.selector, M2));
        auction.updateMarket(M2, p);
        auction.closeMarket(MARKET);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionMarketClosed.selector, MARKET));
        auction.updateMarket(MARKET, p);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionMarketClosed.selector, MARKET));
        auction.closeMarket(MARKET);
        vm.stopPrank();
    }

    function test_pause_onlyPauser() public {
        bytes32 role = auction.PAUSER_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role)
        );
        auction.pause();
        vm.startPrank(pauser);
        auction.pause();
        vm.assertTrue(auction.paused(), "paused");
        auction.unpause();
        vm.assertFalse(auction.paused(), "unpaused");
        vm.stopPrank();
    }

    function test_views_timesAndDomain() public view {
        uint64 i = nextInterval();
        (uint256 gate, uint256 deadline, uint256 start) = auction.intervalTimes(MARKET, i);
        vm.assertEq(gate, gateOf(i), "gate");
        vm.assertEq(deadline, gateOf(i) + WINDOW, "deadline");
        vm.assertEq(start, startOf(i), "start");
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("sealgrid"),
                keccak256("1"),
                block.chainid,
                address(auction)
            )
        );
        vm.assertEq(auction.domainSeparator(), expected, "domain separator");
        vm.assertEq(
            auction.ORDER_TYPEHASH(),
            keccak256(
                "Order(address trader,bytes32 market,uint64 interval,uint8 side,uint64 quantityWh,int64 limitPrice,uint64 nonce,bytes32 salt)"
            ),
            "order type hash"
        );
    }
}

contract FundsTest is AuctionFixture {
    function _tok() internal view returns (IERC20) {
        return IERC20(address(token));
    }

    function test_deposit_andWithdraw() public {
        vm.startPrank(alice);
        auction.deposit(_tok(), bob, 500);
        vm.stopPrank();
        vm.assertEq(auction.balanceOf(_tok(), bob), 500, "credited to bob");
        vm.prank(bob);
        auction.withdraw(_tok(), carol, 200);
        vm.assertEq(auction.balanceOf(_tok(), bob), 300, "debited");
        vm.assertEq(token.balanceOf(carol), 1e15 + 200, "paid out");
    }

    function test_deposit_reverts() public {
        vm.startPrank(alice);
        vm.expectRevert(ISealgridAuction.AuctionZeroAmount.selector);
        auction.deposit(_tok(), alice, 0);
        vm.expectRevert(ISealgridAuction.AuctionZeroAddress.selector);
        auction.deposit(_tok(), address(0), 1);
        vm.stopPrank();
        vm.prank(pauser);
        auction.pause();
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        auction.deposit(_tok(), alice, 1);
    }

    function test_withdraw_reverts() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientBalance.selector, 0, 1));
        auction.withdraw(_tok(), alice, 1);
        vm.expectRevert(ISealgridAuction.AuctionZeroAmount.selector);
        auction.withdraw(_tok(), alice, 0);
        vm.expectRevert(ISealgridAuction.AuctionZeroAddress.selector);
        auction.withdraw(_tok(), address(0), 1);
        vm.stopPrank();
    }

    function test_bond_depositAndWithdrawRules() public {
        vm.startPrank(operator);
        vm.expectRevert(ISealgridAuction.AuctionZeroAmount.selector);
        auction.depositBond(MARKET, 0);
        auction.withdrawBond(MARKET, operator, MIN_BOND);
        vm.expectRevert(
            abi.encodeWithSelector(ISealgridAuction.AuctionBondLocked.selector, MIN_BOND - 1, MIN_BOND)
        );
        auction.withdrawBond(MARKET, operator, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISealgridAuction.AuctionInsufficientBalance.selector, MIN_BOND, MIN_BOND + 1
            )
        );
        auction.withdrawBond(MARKET, operator, MIN_BOND + 1);
        vm.expectRevert(ISealgridAuction.AuctionZeroAddress.selector);
        auction.withdrawBond(MARKET, address(0), 1);
        vm.stopPrank();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionNotOperator.selector, alice));
        auction.withdrawBond(MARKET, alice, 1);
        vm.prank(admin);
        auction.closeMarket(MARKET);
        vm.warp(block.timestamp + HORIZON + LEAD - 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionBondLocked.selector, 0, MIN_BOND));
        auction.withdrawBond(MARKET, operator, MIN_BOND);
        vm.warp(block.timestamp + 1);
        vm.prank(operator);
        auction.withdrawBond(MARKET, operator, MIN_BOND);
    }

    function test_withdrawFees() public {
        uint64 i = nextInterval();
        commitRaw(alice, i, bytes32(uint256(1)), 1000);
        commitRaw(bob, i, bytes32(uint256(2)), 0);
        uint64[] memory w = words2(buyWord(3), sellWord(3));
        settleAt(i, 333, 3, w); // 3 * 333 / 1000 = 0.999: buyer pays 1, seller gets 0
        vm.warp(startOf(i));
        auction.claim(
            MARKET, i, claimOf(ISealgridAuction.CommitmentRecord(0, alice, 1000, bytes32(uint256(1))), w)
        );
        auction.claim(
            MARKET, i, claimOf(ISealgridAuction.CommitmentRecord(1, bob, 0, bytes32(uint256(2))), w)
        );
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(ISealgridAuction.AuctionInsufficientFees.selector, 1, 2));
        auction.withdrawFees(_tok(), admin, 2);
        vm.expectRevert(ISealgridAuction.AuctionZeroAddress.selector);
        auction.withdrawFees(_tok(), address(0), 1);
        auction.withdrawFees(_tok(), admin, 1);
        vm.stopPrank();
        vm.assertEq(token.balanceOf(admin), 1, "fee paid out");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, bytes32(0)
            )
        );
        auction.withdrawFees(_tok(), alice, 1);
    }
}

contract IntentTokenTest is AuctionFixture {
    function test_onlyMinterMints_onlyMarketBurns() public {
        bytes32 minter = intents.MINTER_ROLE();
        bytes32 market = intents.MARKET_ROLE();
        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, minter)
        );
        intents.mint(alice, 1, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, market)
        );
        intents.burn(alice, 1, 1);
        vm.stopPrank();
        // The auction mints and cannot burn; a burner (delivery settlement) burns and cannot mint.
        address burner = address(0xB42);
        vm.prank(admin);
        intents.grantRole(market, burner);
        vm.startPrank(address(auction));
        intents.mint(alice, 1, 5);
        vm.expectRevert(abi.encodeWithSelector(IEnergyIntentToken.IntentInvalidId.selector, uint256(2)));
        intents.mint(alice, 2, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InvalidReceiver.selector, address(0)));
        intents.mint(address(0), 1, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(auction), market
            )
        );
        intents.burn(alice, 1, 2);
        vm.stopPrank();
        vm.startPrank(burner);
        intents.burn(alice, 1, 2);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, burner, minter)
        );
        intents.mint(burner, 1, 1);
        vm.stopPrank();
        vm.assertEq(intents.balanceOf(alice, 1), 3, "minted minus burned");
        vm.assertFalse(intents.hasRole(market, address(auction)), "the auction holds no burn role");
    }

    function test_uriAndIds() public {
        vm.prank(admin);
        intents.setURI("ipfs://x/{id}");
        vm.assertEq(bytes(intents.uri(0)), bytes("ipfs://x/{id}"), "uri");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, bytes32(0)
            )
        );
        intents.setURI("x");
        vm.expectRevert(abi.encodeWithSelector(IEnergyIntentToken.IntentInvalidId.selector, uint256(2)));
        intents.encodeId(1, 2, 2);
        uint256 bad = uint256(1) << 100;
        vm.expectRevert(abi.encodeWithSelector(IEnergyIntentToken.IntentInvalidId.selector, bad));
        intents.decodeId(bad);
        vm.assertTrue(intents.supportsInterface(0xd9b67a26), "ERC-1155");
    }

    function testFuzz_idRoundTrip(uint32 seq, uint64 interval, bool sold) public view {
        uint8 kind = sold ? 1 : 0;
        uint256 id = intents.encodeId(seq, interval, kind);
        (uint32 s, uint64 i, uint8 k) = intents.decodeId(id);
        vm.assertEq(uint256(s), seq, "seq");
        vm.assertEq(uint256(i), interval, "interval");
        vm.assertEq(uint256(k), kind, "kind");
    }
}
