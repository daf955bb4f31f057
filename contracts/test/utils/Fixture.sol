// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TestBase} from "./Vm.sol";
import {MockERC20, AcceptAllVerifier} from "./Mocks.sol";
import {IPoseidonT4, IPoseidonT5} from "../../src/interfaces/IPoseidon.sol";
import {FillsProof} from "./FillsProof.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {IClearingVerifier} from "../../src/interfaces/IClearingVerifier.sol";
import {EnergyIntentToken} from "../../src/EnergyIntentToken.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";
import {FillsLib} from "../../src/libraries/FillsLib.sol";

/// @notice Shared fixture: a payment token, the intent token, the auction with one market, a
///         bonded operator and labelled traders; helpers to build orders, fills and proofs.
abstract contract AuctionFixture is TestBase {
    MockERC20 internal token;
    EnergyIntentToken internal intents;
    SealgridAuction internal auction;
    IClearingVerifier internal verifier;

    address internal admin = address(0xAD);
    address internal pauser = address(0xBA05E);
    uint256 internal constant OPERATOR_PK = 0xA11CE;
    address internal operator;
    address internal alice = address(0xA1);
    address internal bob = address(0xB0);
    address internal carol = address(0xC0);

    bytes32 internal constant MARKET = bytes32(uint256(0x5ea19d));
    uint24 internal constant L = 300;
    uint24 internal constant LEAD = 300;
    uint24 internal constant WINDOW = 240;
    uint24 internal constant HORIZON = 1 days;
    uint24 internal constant MAX_COMMITMENTS = 4096;
    uint8 internal constant MAX_PER_ACCOUNT = 32;
    int64 internal constant FLOOR = -500_000;
    int64 internal constant CAP = 5_000_000;
    uint128 internal constant MIN_BOND = 1000e6;
    uint128 internal constant SLASH = 100e6;
    uint256 internal constant T0 = 1_800_000_000;

    IPoseidonT4 internal poseidonT4;
    IPoseidonT5 internal poseidonT5;

    /// @dev The Poseidon libraries as the deployments use them: their own contracts, compiled
    ///      for runtime gas (foundry.toml's compilation restrictions).
    function deployPoseidon() internal returns (IPoseidonT4 t3, IPoseidonT5 t5) {
        t3 = IPoseidonT4(vm.deployCode("PoseidonT4.sol:PoseidonT4"));
        t5 = IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"));
    }

    function setUp() public virtual {
        vm.warp(T0);
        operator = vm.addr(OPERATOR_PK);
        token = new MockERC20();
        intents = new EnergyIntentToken(admin, "https://sealgrid.invalid/intent/{id}.json");
        (poseidonT4, poseidonT5) = deployPoseidon();
        auction = new SealgridAuction(admin, pauser, intents, poseidonT4, poseidonT5);
        verifier = new AcceptAllVerifier();
        vm.startPrank(admin);
        intents.grantRole(intents.MINTER_ROLE(), address(auction));
        auction.createMarket(MARKET, params());
        vm.stopPrank();
        vm.label(address(auction), "auction");
        vm.label(address(token), "tUSD");
        vm.label(operator, "operator");
        vm.label(alice, "alice");
        vm.label(bob, "bob");
        vm.label(carol, "carol");
        fund(operator, MIN_BOND * 2);
        vm.prank(operator);
        auction.depositBond(MARKET, MIN_BOND * 2);
        fund(alice, 1e15);
        fund(bob, 1e15);
        fund(carol, 1e15);
    }

    function params() internal view virtual returns (ISealgridAuction.MarketParams memory) {
        return ISealgridAuction.MarketParams({
            token: IERC20(address(token)),
            verifier: verifier,
            operator: operator,
            intervalLength: L,
            gateLead: LEAD,
            settleWindow: WINDOW,
            commitHorizon: HORIZON,
            maxCommitments: MAX_COMMITMENTS,
            verifierGasLimit: 800_000,
            priceFloor: FLOOR,
            priceCap: CAP,
            minBond: MIN_BOND,
            slashAmount: SLASH,
            maxPerAccount: MAX_PER_ACCOUNT,
            unopenedFee: 0
        });
    }

    function fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(auction), type(uint256).max);
    }

    /// @dev The first interval whose gate is still in the future.
    function nextInterval() internal view returns (uint64) {
        return uint64((block.timestamp + LEAD) / L + 1);
    }

    function gateOf(uint64 i) internal pure returns (uint256) {
        return uint256(i) * L - LEAD;
    }

    function startOf(uint64 i) internal pure returns (uint256) {
        return uint256(i) * L;
    }

    function order(address trader, uint64 interval, uint8 side, uint64 q, int64 price, uint64 nonce)
        internal
        pure
        returns (OrderLib.Order memory)
    {
        return OrderLib.Order({
            trader: trader,
            market: MARKET,
            interval: interval,
            side: side,
            quantityWh: q,
            limitPrice: price,
            nonce: nonce,
            salt: keccak256(abi.encode(trader, interval, nonce)) >> 8
        });
    }

    function commitOrder(OrderLib.Order memory o, uint128 lock)
        internal
        returns (ISealgridAuction.CommitmentRecord memory r)
    {
        bytes32 c = auction.orderCommitment(o);
        vm.prank(o.trader);
        uint32 index = auction.commit(MARKET, o.interval, c, lock);
        return ISealgridAuction.CommitmentRecord({index: index, trader: o.trader, lock: lock, commitment: c});
    }

    function commitRaw(address trader, uint64 interval, bytes32 c, uint128 lock)
        internal
        returns (ISealgridAuction.CommitmentRecord memory r)
    {
        vm.prank(trader);
        uint32 index = auction.commit(MARKET, interval, c, lock);
        return ISealgridAuction.CommitmentRecord({index: index, trader: trader, lock: lock, commitment: c});
    }

    function buyWord(uint64 q) internal pure returns (uint64) {
        return q;
    }

    function sellWord(uint64 q) internal pure returns (uint64) {
        return q == 0 ? 0 : q | FillsLib.SELL_FLAG;
    }

    function excludedWord() internal pure returns (uint64) {
        return FillsLib.EXCLUDED_FLAG;
    }

    function pack(uint64[] memory words) internal pure returns (bytes memory out) {
        for (uint256 k; k < words.length; ++k) {
            out = bytes.concat(out, bytes8(words[k]));
        }
    }

    function words2(uint64 a, uint64 b) internal pure returns (uint64[] memory w) {
        w = new uint64[](2);
        w[0] = a;
        w[1] = b;
    }

    function words3(uint64 a, uint64 b, uint64 c) internal pure returns (uint64[] memory w) {
        w = new uint64[](3);
        w[0] = a;
        w[1] = b;
        w[2] = c;
    }

    /// @dev Merkle siblings of leaf `index` over `words` (docs/encoding.md).
    function proofOf(uint64[] memory words, uint32 index) internal pure returns (bytes32[] memory) {
        return FillsProof.siblings(words, index);
    }

    function settleAt(uint64 interval, int64 price, uint64 volume, uint64[] memory words) internal {
        vm.warp(gateOf(interval));
        vm.prank(operator);
        auction.settle(MARKET, interval, price, volume, pack(words), "");
    }

    function claimOf(ISealgridAuction.CommitmentRecord memory r, uint64[] memory words)
        internal
        pure
        returns (ISealgridAuction.Claim memory)
    {
        return ISealgridAuction.Claim({record: r, word: words[r.index], proof: proofOf(words, r.index)});
    }

    function receiptSig(uint64 interval, uint32 index, bytes32 commitment)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = auction.receiptDigest(MARKET, interval, index, commitment);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OPERATOR_PK, digest);
        return abi.encodePacked(r, s, v);
    }
}
