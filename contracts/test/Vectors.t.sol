// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AuctionFixture} from "./utils/Fixture.sol";
import {OrderLib} from "../src/libraries/OrderLib.sol";
import {IPoseidonT3} from "../src/interfaces/IPoseidon.sol";

/// @notice The contracts compute exactly the vectors that independent libraries produced
///         (circomlibjs for Poseidon, viem for EIP-712; tools/vectors/generate.mjs) and that the
///         Rust tests check too (crates/types/tests).
contract VectorsTest is AuctionFixture {
    string internal pos;
    string internal eip;
    IPoseidonT3 internal poseidonT3;

    function setUp() public override {
        super.setUp();
        poseidonT3 = IPoseidonT3(vm.deployCode("PoseidonT3.sol:PoseidonT3"));
        pos = vm.readFile("contracts/test/vectors/poseidon.json");
        eip = vm.readFile("contracts/test/vectors/eip712.json");
    }

    function _key(string memory base, uint256 k, string memory field) internal pure returns (string memory) {
        return string.concat(base, "[", vm.toString(k), "]", field);
    }

    function _count(string memory json, string memory base) internal view returns (uint256 n) {
        while (vm.keyExistsJson(json, _key(base, n, ""))) ++n;
    }

    function test_vectors_poseidon() public view {
        uint256 n2 = _count(pos, ".poseidon2");
        vm.assertGe(n2, 1, "poseidon2 cases");
        for (uint256 k; k < n2; ++k) {
            uint256[] memory in_ = vm.parseJsonUintArray(pos, _key(".poseidon2", k, ".inputs"));
            uint256 out = vm.parseJsonUint(pos, _key(".poseidon2", k, ".output"));
            vm.assertEq(poseidonT3.hash([in_[0], in_[1]]), out, "poseidon2");
        }
        uint256 n3 = _count(pos, ".poseidon3");
        vm.assertGe(n3, 1, "poseidon3 cases");
        for (uint256 k; k < n3; ++k) {
            uint256[] memory in_ = vm.parseJsonUintArray(pos, _key(".poseidon3", k, ".inputs"));
            uint256 out = vm.parseJsonUint(pos, _key(".poseidon3", k, ".output"));
            vm.assertEq(poseidonT4.hash([in_[0], in_[1], in_[2]]), out, "poseidon3");
        }
        uint256 n4 = _count(pos, ".poseidon4");
        vm.assertGe(n4, 1, "poseidon4 cases");
        for (uint256 k; k < n4; ++k) {
            uint256[] memory in_ = vm.parseJsonUintArray(pos, _key(".poseidon4", k, ".inputs"));
            uint256 out = vm.parseJsonUint(pos, _key(".poseidon4", k, ".output"));
            vm.assertEq(poseidonT5.hash([in_[0], in_[1], in_[2], in_[3]]), out, "poseidon4");
        }
        vm.assertEq(vm.parseJsonUint(pos, ".fieldModulus"), OrderLib.FIELD_MODULUS, "field modulus");
    }

    function _order(string memory json, string memory base) internal pure returns (OrderLib.Order memory o) {
        o.trader = vm.parseJsonAddress(json, string.concat(base, ".trader"));
        o.market = vm.parseJsonBytes32(json, string.concat(base, ".market"));
        o.interval = uint64(vm.parseJsonUint(json, string.concat(base, ".interval")));
        o.side = uint8(vm.parseJsonUint(json, string.concat(base, ".side")));
        o.quantityWh = uint64(vm.parseJsonUint(json, string.concat(base, ".quantityWh")));
        o.limitPrice = int64(vm.parseJsonInt(json, string.concat(base, ".limitPrice")));
        o.nonce = uint64(vm.parseJsonUint(json, string.concat(base, ".nonce")));
        o.salt = vm.parseJsonBytes32(json, string.concat(base, ".salt"));
    }

    function test_vectors_commitments() public view {
        uint256 n = _count(pos, ".commitments");
        vm.assertGe(n, 1, "commitment cases");
        for (uint256 k; k < n; ++k) {
            OrderLib.Order memory o = _order(pos, _key(".commitments", k, ".order"));
            bytes32 expected = vm.parseJsonBytes32(pos, _key(".commitments", k, ".commitment"));
            vm.assertEq(auction.orderCommitment(o), expected, "order commitment");
        }
    }

    function test_vectors_rejectOutOfField() public {
        uint256 n = _count(pos, ".rejectedOrders");
        vm.assertGe(n, 1, "rejected cases");
        for (uint256 k; k < n; ++k) {
            OrderLib.Order memory o = _order(pos, _key(".rejectedOrders", k, ".order"));
            vm.expectPartialRevert(OrderLib.OrderFieldOverflow.selector);
            auction.orderCommitment(o);
        }
    }

    /// The accumulator vectors, committed through the auction by their committers with their
    /// locks: the interval's accumulator after each commit is the vector's.
    function test_vectors_accumulator() public {
        bytes32[] memory cs = vm.parseJsonBytes32Array(pos, ".accumulator.commitments");
        address[] memory who = vm.parseJsonAddressArray(pos, ".accumulator.committers");
        uint256[] memory locks = vm.parseJsonUintArray(pos, ".accumulator.locks");
        bytes32[] memory accs = vm.parseJsonBytes32Array(pos, ".accumulator.accs");
        vm.assertEq(cs.length, accs.length, "lengths");
        vm.assertEq(who.length, accs.length, "committers");
        vm.assertEq(locks.length, accs.length, "locks");
        uint64 i = nextInterval();
        for (uint256 k; k < cs.length; ++k) {
            uint128 lock = uint128(locks[k]);
            token.mint(who[k], lock);
            vm.startPrank(who[k]);
            token.approve(address(auction), lock);
            auction.commit(MARKET, i, cs[k], lock);
            vm.stopPrank();
            (uint256 acc,,,,,) = auction.getInterval(MARKET, i);
            vm.assertEq(bytes32(acc), accs[k], "accumulator step");
        }
    }

    function test_vectors_eip712() public {
        vm.assertEq(vm.parseJsonUint(eip, ".chainId"), block.chainid, "chain id");
        address target = vm.parseJsonAddress(eip, ".verifyingContract");
        // The auction's runtime code at the vector's verifying contract: OZ EIP712 rebuilds the
        // domain separator for the new address.
        vm.etch(target, address(auction).code);
        (bool ok, bytes memory ret) = target.staticcall(abi.encodeWithSignature("domainSeparator()"));
        vm.assertTrue(ok, "domainSeparator()");
        vm.assertEq(
            abi.decode(ret, (bytes32)), vm.parseJsonBytes32(eip, ".domainSeparator"), "domain separator"
        );
        vm.assertEq(OrderLib.ORDER_TYPEHASH, vm.parseJsonBytes32(eip, ".orderTypeHash"), "order type hash");
        vm.assertEq(
            OrderLib.RECEIPT_TYPEHASH, vm.parseJsonBytes32(eip, ".receiptTypeHash"), "receipt type hash"
        );

        uint256 n = _count(eip, ".orders");
        vm.assertGe(n, 1, "order cases");
        for (uint256 k; k < n; ++k) {
            OrderLib.Order memory o = _order(eip, _key(".orders", k, ".order"));
            bytes32 digest = vm.parseJsonBytes32(eip, _key(".orders", k, ".digest"));
            (ok, ret) = target.staticcall(
                abi.encodeWithSignature(
                    "orderDigest((address,bytes32,uint64,uint8,uint64,int64,uint64,bytes32))", o
                )
            );
            vm.assertTrue(ok, "orderDigest()");
            vm.assertEq(abi.decode(ret, (bytes32)), digest, "order digest");
            bytes memory sig = vm.parseJsonBytes(eip, _key(".orders", k, ".signature"));
            vm.assertEq(
                _recover(digest, sig), vm.parseJsonAddress(eip, _key(".orders", k, ".signer")), "signer"
            );
        }

        (ok, ret) = target.staticcall(
            abi.encodeWithSignature(
                "receiptDigest(bytes32,uint64,uint32,bytes32)",
                vm.parseJsonBytes32(eip, ".receipt.receipt.market"),
                uint64(vm.parseJsonUint(eip, ".receipt.receipt.interval")),
                uint32(vm.parseJsonUint(eip, ".receipt.receipt.index")),
                vm.parseJsonBytes32(eip, ".receipt.receipt.commitment")
            )
        );
        vm.assertTrue(ok, "receiptDigest()");
        vm.assertEq(abi.decode(ret, (bytes32)), vm.parseJsonBytes32(eip, ".receipt.digest"), "receipt digest");
    }

    function _recover(bytes32 digest, bytes memory sig) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        return ecrecover(digest, v, r, s);
    }
}
