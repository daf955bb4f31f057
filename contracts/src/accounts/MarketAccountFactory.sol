// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Create2} from "@openzeppelin/contracts/utils/Create2.sol";
import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {ISenderCreator} from "@account-abstraction/contracts/interfaces/ISenderCreator.sol";
import {MarketAccount} from "./MarketAccount.sol";

/// @title MarketAccountFactory
/// @notice Deploys {MarketAccount}s (ERC-1967 proxies) at counterfactual addresses, for the
///         EntryPoint's `initCode` (DESIGN 3.9). Accounts can be registered with the paymaster
///         before they exist and are created by their first UserOperation.
contract MarketAccountFactory {
    /// @notice The account implementation behind every proxy.
    MarketAccount public immutable accountImplementation;
    /// @notice The EntryPoint's sender creator, the only caller of {createAccount}.
    ISenderCreator public immutable senderCreator;

    /// @notice Only the EntryPoint's sender creator creates accounts.
    error FactoryNotSenderCreator(address caller);

    /// @param entryPoint The EntryPoint v0.8.
    constructor(IEntryPoint entryPoint) {
        accountImplementation = new MarketAccount(entryPoint);
        senderCreator = entryPoint.senderCreator();
    }

    /// @notice Creates the account of `owner` with `salt` (or returns it if it exists).
    /// @dev Requirements: the caller is the EntryPoint's sender creator.
    /// @param owner The account's owner key.
    /// @param salt The CREATE2 salt.
    /// @return account The account.
    function createAccount(address owner, uint256 salt) external returns (MarketAccount account) {
        if (msg.sender != address(senderCreator)) revert FactoryNotSenderCreator(msg.sender);
        address addr = getAddress(owner, salt);
        if (addr.code.length > 0) return MarketAccount(payable(addr));
        return MarketAccount(
            payable(new ERC1967Proxy{salt: bytes32(salt)}(
                    address(accountImplementation), abi.encodeWithSignature("initialize(address)", owner)
                ))
        );
    }

    /// @notice The counterfactual address of the account of `owner` with `salt`.
    /// @param owner The owner key.
    /// @param salt The CREATE2 salt.
    /// @return The address.
    function getAddress(address owner, uint256 salt) public view returns (address) {
        return Create2.computeAddress(
            bytes32(salt),
            keccak256(
                abi.encodePacked(
                    type(ERC1967Proxy).creationCode,
                    abi.encode(
                        address(accountImplementation), abi.encodeWithSignature("initialize(address)", owner)
                    )
                )
            )
        );
    }
}
