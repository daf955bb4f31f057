// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TestBase} from "./utils/Vm.sol";
import {ProofVectorCommits} from "./utils/ProofVector.sol";
import {MockERC20} from "./utils/Mocks.sol";
import {ClearingVerifier} from "../src/ClearingVerifier.sol";
import {IClearingVerifier} from "../src/interfaces/IClearingVerifier.sol";
import {SealgridAuction} from "../src/SealgridAuction.sol";
import {ISealgridAuction} from "../src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken} from "../src/EnergyIntentToken.sol";
import {IPoseidonT4, IPoseidonT5} from "../src/interfaces/IPoseidon.sol";
import {IClearingVerifierAdapter} from "../src/interfaces/IClearingVerifierAdapter.sol";

/// @notice The generated halo2 verifiers behind the ClearingVerifier adapter, fed a real proof
///         made by the Rust prover (contracts/test/vectors/clearing-proof-4.json, written by
///         `SEALGRID_WRITE_VECTORS=1 cargo test -p sealgrid-prover --test proof`), and the auction
///         settling with it: accepted only for exactly the committed book.
contract ClearingVerifierTest is ProofVectorCommits {
    string internal vec;
    ClearingVerifier internal adapter;
    address internal v4;
    address internal v16;

    function setUp() public {
        vec = vm.readFile("contracts/test/vectors/clearing-proof-4.json");
        v4 = deployVerifier(4);
        v16 = deployVerifier(16);
        uint32[] memory caps = new uint32[](2);
        (caps[0], caps[1]) = (4, 16);
        address[] memory vs = new address[](2);
        (vs[0], vs[1]) = (v4, v16);
        bytes32[] memory hs = new bytes32[](2);
        (hs[0], hs[1]) = (v4.codehash, v16.codehash);
        adapter = new ClearingVerifier(caps, vs, hs);
    }

    function _statement() internal view returns (IClearingVerifier.Statement memory) {
        return vectorStatement(vec);
    }

    function _proof() internal view returns (bytes memory) {
        return vm.parseJsonBytes(vec, ".proof");
    }

    function test_acceptsTheProvenStatement() public view {
        IClearingVerifier.Statement memory s = _statement();
        bytes memory proof = _proof();
        uint256 before = gasleft();
        bool ok = adapter.verifyClearing(s, proof);
        uint256 used = before - gasleft();
        vm.assertTrue(ok, "valid proof rejected");
        vm.assertLe(used, 550_000, "verification gas");
    }

    function test_rejectsAnyOtherStatement() public view {
        IClearingVerifier.Statement memory s = _statement();
        bytes memory proof = _proof();
        s.clearingPrice += 1;
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "price");
        s = _statement();
        s.volume += 1;
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "volume");
        s = _statement();
        s.accumulator ^= 1;
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "accumulator");
        s = _statement();
        s.fills[7] = bytes1(uint8(s.fills[7]) + 1);
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "fill word");
        s = _statement();
        s.priceCap -= 1;
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "bounds");
        s = _statement();
        s.interval += 1;
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "interval");
    }

    function test_rejectsCorruptProofAndBadShapes() public view {
        IClearingVerifier.Statement memory s = _statement();
        bytes memory proof = _proof();
        proof[100] = bytes1(uint8(proof[100]) ^ 1);
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "corrupt proof");
        proof = _proof();
        // The same words under the 16-slot key: another verifying key, another statement.
        s.count = 5;
        s.fills = bytes.concat(s.fills, new bytes(8));
        vm.assertFalse(adapter.verifyClearing{gas: 2_000_000}(s, proof), "other capacity");
        s = _statement();
        s.count = 17; // no capacity holds it
        s.fills = new bytes(17 * 8);
        vm.assertFalse(adapter.verifyClearing(s, proof), "no capacity");
        s = _statement();
        s.fills = new bytes(8);
        vm.assertFalse(adapter.verifyClearing(s, proof), "fills length");
    }

    function test_constructorRejectsBadConfigs() public {
        uint32[] memory caps = new uint32[](2);
        address[] memory vs = new address[](2);
        bytes32[] memory hs = new bytes32[](2);
        (caps[0], caps[1]) = (16, 4);
        (vs[0], vs[1]) = (v4, v16);
        (hs[0], hs[1]) = (v4.codehash, v16.codehash);
        vm.expectRevert(IClearingVerifierAdapter.ClearingVerifierBadConfig.selector);
        new ClearingVerifier(caps, vs, hs);
        (caps[0], caps[1]) = (4, 16);
        vm.expectRevert(IClearingVerifierAdapter.ClearingVerifierBadConfig.selector);
        new ClearingVerifier(caps, vs, new bytes32[](1));
        vs[1] = address(0xdead);
        vm.expectRevert(IClearingVerifierAdapter.ClearingVerifierBadConfig.selector);
        new ClearingVerifier(caps, vs, hs);
        vm.expectRevert(IClearingVerifierAdapter.ClearingVerifierBadConfig.selector);
        new ClearingVerifier(new uint32[](0), new address[](0), new bytes32[](0));
        (uint32[] memory c, address[] memory v, bytes32[] memory h) = adapter.circuits();
        vm.assertEq(c.length, 2, "capacities");
        vm.assertEq(v[1], v16, "verifier 16");
        vm.assertEq(h[0], v4.codehash, "hash 4");
        vm.assertEq(h[1], v16.codehash, "hash 16");
    }

    /// The auction settles the committed book only with its proof.
    function test_auctionSettlesOnlyWithTheProof() public {
        IClearingVerifier.Statement memory s = _statement();
        MockERC20 token = new MockERC20();
        EnergyIntentToken intents = new EnergyIntentToken(address(this), "https://sealgrid.invalid/{id}.json");
        SealgridAuction auction = new SealgridAuction(
            address(this),
            address(this),
            intents,
            IPoseidonT4(vm.deployCode("PoseidonT4.sol:PoseidonT4")),
            IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"))
        );
        intents.grantRole(intents.MINTER_ROLE(), address(auction));
        auction.createMarket(
            s.market,
            ISealgridAuction.MarketParams({
                token: IERC20(address(token)),
                verifier: adapter,
                operator: address(this),
                intervalLength: 300,
                gateLead: 300,
                settleWindow: 240,
                commitHorizon: 1 days,
                maxCommitments: 16,
                verifierGasLimit: 800_000,
                priceFloor: s.priceFloor,
                priceCap: s.priceCap,
                minBond: 1e6,
                slashAmount: 1e5,
                maxPerAccount: 32,
                unopenedFee: 0
            })
        );
        token.mint(address(this), 1e12);
        token.approve(address(auction), type(uint256).max);
        auction.depositBond(s.market, 1e6);
        uint256 gate = uint256(s.interval) * 300 - 300;
        vm.warp(gate - 600);
        commitVector(auction, token, vec, s.market, s.interval);
        vm.warp(gate + 10);
        bytes memory proof = _proof();
        vm.expectRevert(ISealgridAuction.AuctionInvalidProof.selector);
        auction.settle(s.market, s.interval, s.clearingPrice + 1, s.volume, s.fills, proof);
        auction.settle(s.market, s.interval, s.clearingPrice, s.volume, s.fills, proof);
        (uint256 acc,,, int64 price, uint64 volume,) = auction.getInterval(s.market, s.interval);
        vm.assertEq(acc, s.accumulator, "accumulator");
        vm.assertEq(price, s.clearingPrice, "price");
        vm.assertEq(volume, s.volume, "volume");
    }
}
