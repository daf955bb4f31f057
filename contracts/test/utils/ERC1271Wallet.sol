// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @notice TEST-ONLY smart-contract account: its owner acts through `execute`, and it accepts
///         the owner's ECDSA signatures through ERC-1271. Used by the matcher's intake tests to
///         check that contract accounts can open orders.
contract ERC1271Wallet is IERC1271 {
    /// @notice The EOA that controls the account.
    address public immutable owner;

    /// @notice Thrown when someone other than the owner calls `execute`.
    error ERC1271WalletNotOwner(address caller);

    /// @param owner_ The controlling EOA.
    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Calls `target` with `data` as the account.
    /// @param target The contract to call.
    /// @param data The calldata.
    /// @return The call's return data (reverts bubble up).
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != owner) revert ERC1271WalletNotOwner(msg.sender);
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == owner
            ? IERC1271.isValidSignature.selector
            : bytes4(0xffffffff);
    }
}
