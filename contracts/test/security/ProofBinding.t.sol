// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ProofVectorCommits} from "../utils/ProofVector.sol";
import {MockERC20} from "../utils/Mocks.sol";
import {ClearingVerifier} from "../../src/ClearingVerifier.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken} from "../../src/EnergyIntentToken.sol";
import {IPoseidonT4, IPoseidonT5} from "../../src/interfaces/IPoseidon.sol";

/// @notice Issue 17, hole 3: the proof binds each commitment to the account that committed it
///         and to its lock. Played with the real generated verifier and the Rust prover's proof
///         of the vector book (contracts/test/vectors/clearing-proof-4.json: a bid of 5 Wh at
///         100 filled at p* > 0, asks, one excluded commitment). The circuit side (an operator
///         cannot make a proof for a copied commitment or an under-locked payer at all) is
///         prover/tests/circuit.rs, `rejects_an_opening_of_a_commitment_someone_else_committed`
///         and `rejects_a_fill_its_lock_does_not_cover`. Here: the on-chain accumulator of such a
///         sequence is not the one any valid proof was made for, so settle refuses it, the
///         interval voids and every lock comes back whole.
contract ProofBindingAttackTest is ProofVectorCommits {
    string internal vec;
    MockERC20 internal token;
    SealgridAuction internal auction;
    bytes32 internal market;
    uint64 internal interval;
    uint256 internal gate;
    address internal constant ATTACKER = address(0xA77AC4E5);

    function setUp() public {
        vec = vm.readFile("contracts/test/vectors/clearing-proof-4.json");
        uint32[] memory caps = new uint32[](1);
        caps[0] = 4;
        ClearingVerifier adapter = deployAdapter(caps);
        token = new MockERC20();
        EnergyIntentToken intents = new EnergyIntentToken(address(this), "https://sealgrid.invalid/{id}.json");
        auction = new SealgridAuction(
            address(this),
            address(this),
            intents,
            IPoseidonT4(vm.deployCode("PoseidonT4.sol:PoseidonT4")),
            IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"))
        );
        intents.grantRole(intents.MARKET_ROLE(), address(auction));
        market = vm.parseJsonBytes32(vec, ".market");
        interval = uint64(vm.parseJsonUint(vec, ".interval"));
        auction.createMarket(
            market,
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
                priceFloor: int64(vm.parseJsonInt(vec, ".priceFloor")),
                priceCap: int64(vm.parseJsonInt(vec, ".priceCap")),
                minBond: 1e6,
                slashAmount: 1e5,
                maxPerAccount: 32,
                unopenedFee: 0
            })
        );
        token.mint(address(this), 1e6);
        token.approve(address(auction), type(uint256).max);
        auction.depositBond(market, 1e6);
        gate = uint256(interval) * 300 - 300;
        vm.warp(gate - 600);
    }

    /// Settle with the vector's proof must fail; after the deadline the interval voids and every
    /// committer gets exactly its lock back: nobody lost anything.
    function _settleFailsAndEveryoneIsWhole(ISealgridAuction.CommitmentRecord[] memory rs) internal {
        uint256 held = token.balanceOf(address(auction));
        vm.warp(gate + 10);
        bytes memory fills = vm.parseJsonBytes(vec, ".fills");
        bytes memory proof = vm.parseJsonBytes(vec, ".proof");
        int64 price = int64(vm.parseJsonInt(vec, ".clearingPrice"));
        uint64 volume = uint64(vm.parseJsonUint(vec, ".volume"));
        vm.expectRevert(ISealgridAuction.AuctionInvalidProof.selector);
        auction.settle(market, interval, price, volume, fills, proof);
        vm.warp(gate + 240);
        auction.voidInterval(market, interval);
        auction.refundBatch(market, interval, rs);
        for (uint256 j; j < rs.length; ++j) {
            vm.assertEq(
                auction.balanceOf(IERC20(address(token)), rs[j].trader), rs[j].lock, "lock returned whole"
            );
        }
        vm.assertEq(token.balanceOf(address(auction)), held, "no token left the contract");
    }

    /// The honest sequence settles with the proof (the control: the attacks below fail only
    /// because of what they change).
    function test_honestSequenceSettles() public {
        commitVector(auction, token, vec, market, interval);
        vm.warp(gate + 10);
        auction.settle(
            market,
            interval,
            int64(vm.parseJsonInt(vec, ".clearingPrice")),
            uint64(vm.parseJsonUint(vec, ".volume")),
            vm.parseJsonBytes(vec, ".fills"),
            vm.parseJsonBytes(vec, ".proof")
        );
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(market, interval);
        vm.assertEq(uint8(status), uint8(ISealgridAuction.Status.Settled), "settled");
    }

    /// A buyer committed with lock 0 cannot be filled at p* > 0: the proof for the book that was
    /// opened does not verify against a sequence with that lock.
    function test_buyerWithLockZeroCannotBeFilled() public {
        address[] memory committers = vm.parseJsonAddressArray(vec, ".committers");
        _settleFailsAndEveryoneIsWhole(
            commitVector(auction, token, vec, market, interval, 0, committers[0], 0)
        );
    }

    /// A commitment copied by another account (the attacker commits the buyer's commitment in its
    /// place) cannot be opened with the buyer's opening.
    function test_copiedCommitmentCannotBeOpenedByItsCopier() public {
        uint256[] memory locks = vm.parseJsonUintArray(vec, ".locks");
        _settleFailsAndEveryoneIsWhole(
            commitVector(auction, token, vec, market, interval, 0, ATTACKER, uint128(locks[0]))
        );
    }
}
