// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {StagedVerifiers} from "./StagedVerifiers.sol";
import {MockERC20} from "./Mocks.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {IClearingVerifier} from "../../src/interfaces/IClearingVerifier.sol";

/// @notice Commits the sequence of a proof vector (contracts/test/vectors/clearing-proof-4.json,
///         written by the Rust prover) the way it was proven: each commitment from its committer
///         with its lock, which the accumulator binds.
abstract contract ProofVectorCommits is StagedVerifiers {
    /// @dev The statement the vector's proof was made for.
    function vectorStatement(string memory json)
        internal
        view
        returns (IClearingVerifier.Statement memory s)
    {
        s.market = vm.parseJsonBytes32(json, ".market");
        s.interval = uint64(vm.parseJsonUint(json, ".interval"));
        s.accumulator = uint256(vm.parseJsonBytes32(json, ".accumulator"));
        s.count = uint32(vm.parseJsonUint(json, ".count"));
        s.priceFloor = int64(vm.parseJsonInt(json, ".priceFloor"));
        s.priceCap = int64(vm.parseJsonInt(json, ".priceCap"));
        s.clearingPrice = int64(vm.parseJsonInt(json, ".clearingPrice"));
        s.volume = uint64(vm.parseJsonUint(json, ".volume"));
        s.fills = vm.parseJsonBytes(json, ".fills");
    }

    /// @dev Commits the vector's sequence to `interval` of `market`; returns the records.
    function commitVector(
        SealgridAuction auction,
        MockERC20 token,
        string memory json,
        bytes32 market,
        uint64 interval
    ) internal returns (ISealgridAuction.CommitmentRecord[] memory) {
        return commitVector(auction, token, json, market, interval, type(uint256).max, address(0), 0);
    }

    /// @dev As above, except that slot `k` is committed by `who` with `lock` (an attacker's
    ///      copy, or another lock).
    function commitVector(
        SealgridAuction auction,
        MockERC20 token,
        string memory json,
        bytes32 market,
        uint64 interval,
        uint256 k,
        address who,
        uint128 lock
    ) internal returns (ISealgridAuction.CommitmentRecord[] memory rs) {
        bytes32[] memory cs = vm.parseJsonBytes32Array(json, ".commitments");
        address[] memory committers = vm.parseJsonAddressArray(json, ".committers");
        uint256[] memory locks = vm.parseJsonUintArray(json, ".locks");
        rs = new ISealgridAuction.CommitmentRecord[](cs.length);
        for (uint256 j; j < cs.length; ++j) {
            (address from, uint128 l) = j == k ? (who, lock) : (committers[j], uint128(locks[j]));
            rs[j] = _commitFrom(auction, token, market, interval, cs[j], from, l);
        }
    }

    function _commitFrom(
        SealgridAuction auction,
        MockERC20 token,
        bytes32 market,
        uint64 interval,
        bytes32 commitment,
        address from,
        uint128 lock
    ) private returns (ISealgridAuction.CommitmentRecord memory) {
        token.mint(from, lock);
        vm.startPrank(from);
        token.approve(address(auction), lock);
        uint32 index = auction.commit(market, interval, commitment, lock);
        vm.stopPrank();
        return
            ISealgridAuction.CommitmentRecord({
                index: index, trader: from, lock: lock, commitment: commitment
            });
    }
}
