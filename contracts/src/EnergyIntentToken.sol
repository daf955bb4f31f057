// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IEnergyIntentToken, tokenId} from "./interfaces/IEnergyIntentToken.sol";

/// @title EnergyIntentToken
/// @notice ERC-1155 energy intents: one unit is one Wh that a cleared order bought (kind 0, to be
///         consumed) or sold (kind 1, to be delivered) in one market and delivery interval.
/// @dev Token id = marketSeq << 128 | interval << 8 | kind (docs/encoding.md). Only holders of
///      MARKET_ROLE (the auction contracts) mint and burn; the admin (a timelock) grants that role
///      and sets the metadata URI.
contract EnergyIntentToken is IEnergyIntentToken, ERC1155, AccessControl {
    /// @inheritdoc IEnergyIntentToken
    bytes32 public constant MARKET_ROLE = keccak256("MARKET_ROLE");

    /// @inheritdoc IEnergyIntentToken
    uint8 public constant KIND_BOUGHT = 0;
    /// @inheritdoc IEnergyIntentToken
    uint8 public constant KIND_SOLD = 1;

    /// @param admin The account (a TimelockController in production) holding DEFAULT_ADMIN_ROLE.
    /// @param uri_ The metadata URI template, with `{id}` substituted by clients (ERC-1155).
    constructor(address admin, string memory uri_) ERC1155(uri_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IEnergyIntentToken
    /// @dev Requirements: caller has MARKET_ROLE; `id` decodes to a valid kind.
    ///      Emits a {TransferSingle} event.
    function mint(address to, uint256 id, uint256 amount) external onlyRole(MARKET_ROLE) {
        if (id & 0xff > KIND_SOLD) revert IntentInvalidId(id);
        _mint(to, id, amount, "");
    }

    /// @inheritdoc IEnergyIntentToken
    /// @dev Requirements: caller has MARKET_ROLE. Emits a {TransferSingle} event.
    function burn(address from, uint256 id, uint256 amount) external onlyRole(MARKET_ROLE) {
        _burn(from, id, amount);
    }

    /// @inheritdoc IEnergyIntentToken
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE.
    function setURI(string calldata newUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setURI(newUri);
    }

    /// @inheritdoc IEnergyIntentToken
    function encodeId(uint32 marketSeq, uint64 interval, uint8 kind) external pure returns (uint256 id) {
        if (kind > KIND_SOLD) revert IntentInvalidId(kind);
        return tokenId(marketSeq, interval, kind);
    }

    /// @inheritdoc IEnergyIntentToken
    function decodeId(uint256 id) external pure returns (uint32 marketSeq, uint64 interval, uint8 kind) {
        if (id >> 160 != 0 || uint8(id) > KIND_SOLD || (id >> 72) & 0xffffffffffffff != 0) {
            revert IntentInvalidId(id);
        }
        return (uint32(id >> 128), uint64(id >> 8), uint8(id));
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(IERC165, ERC1155, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }
}
