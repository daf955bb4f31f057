// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {SimpleAccount} from "@account-abstraction/contracts/accounts/SimpleAccount.sol";
import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title MarketAccount
/// @notice The traders' ERC-4337 smart account (DESIGN 3.9): the reference SimpleAccount v0.8
///         (one owner key, execute / executeBatch, UUPS) plus ERC-1271, so that the owner's
///         EIP-712 signature of an order whose trader is this account is accepted by the matcher
///         and the auction (disputes).
/// @dev The signed digests name the account (the order's `trader` and the EIP-712 domain), so a
///      signature for one account cannot be replayed for another account of the same owner.
contract MarketAccount is SimpleAccount, IERC1271 {
    /// @param entryPoint_ The EntryPoint v0.8.
    constructor(IEntryPoint entryPoint_) SimpleAccount(entryPoint_) {}

    /// @notice ERC-1271: valid when `signature` is the owner's ECDSA signature of `hash`.
    /// @param hash The digest (an EIP-712 hash).
    /// @param signature 65-byte r || s || v.
    /// @return magic 0x1626ba7e if valid, 0xffffffff otherwise.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4 magic) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == owner
            ? this.isValidSignature.selector
            : bytes4(0xffffffff);
    }
}
