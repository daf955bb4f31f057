// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IEnergyIntentToken, tokenId} from "./interfaces/IEnergyIntentToken.sol";

/// @title EnergyIntentToken
/// @notice ERC-1155 energy intents: one unit is one Wh that a cleared order bought (kind 0, to be
///         consumed) or sold (kind 1, to be delivered) in one market and delivery interval. An
///         intent is the trader's receipt of its own position and never moves: delivery
///         settlement reads positions from these balances, so no account's position (a sold
///         intent is an obligation to deliver, and at a negative real-time price a bought one can
///         be a liability too) can be changed by anyone else (DESIGN §3.7).
/// @dev Token id = marketSeq << 128 | interval << 8 | kind (docs/encoding.md). Only holders of
///      MINTER_ROLE (the auction) mint, only holders of MARKET_ROLE (delivery settlement, which
///      burns the positions it has settled) burn; transfers, batch transfers and approvals revert
///      with {IntentNonTransferable}. Mints run no ERC-1155 acceptance callback: a trader that is a
///      contract without `onERC1155Received` (or with one that reverts) must still be able to
///      claim, and nothing is sent that it could act on. The admin (a timelock) grants the roles
///      and sets the metadata URI.
contract EnergyIntentToken is IEnergyIntentToken, ERC1155, AccessControl {
    /// @inheritdoc IEnergyIntentToken
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

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
    /// @dev Through ERC1155's `_update`, without `_updateWithAcceptanceCheck`: no callback on the
    ///      receiver. Requirements: caller has MINTER_ROLE; `to` is nonzero; `id` decodes to a
    ///      valid kind. Emits a {TransferSingle} event (from the zero address).
    function mint(address to, uint256 id, uint256 amount) external onlyRole(MINTER_ROLE) {
        if (id & 0xff > KIND_SOLD) revert IntentInvalidId(id);
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = id;
        values[0] = amount;
        _update(address(0), to, ids, values);
    }

    /// @inheritdoc IEnergyIntentToken
    /// @dev Requirements: caller has MARKET_ROLE. Emits a {TransferSingle} event (to the zero address).
    function burn(address from, uint256 id, uint256 amount) external onlyRole(MARKET_ROLE) {
        _burn(from, id, amount);
    }

    /// @inheritdoc IEnergyIntentToken
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE.
    function setURI(string calldata newUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setURI(newUri);
    }

    /// @notice Always reverts: intents are not transferable, so there is nothing to approve.
    /// @dev Reverts with {IntentNonTransferable}.
    function setApprovalForAll(address, bool) public pure override(ERC1155, IERC1155) {
        revert IntentNonTransferable();
    }

    /// @notice Always reverts: intents are not transferable.
    /// @dev Reverts with {IntentNonTransferable}.
    function safeTransferFrom(address, address, uint256, uint256, bytes memory)
        public
        pure
        override(ERC1155, IERC1155)
    {
        revert IntentNonTransferable();
    }

    /// @notice Always reverts: intents are not transferable.
    /// @dev Reverts with {IntentNonTransferable}.
    function safeBatchTransferFrom(address, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        pure
        override(ERC1155, IERC1155)
    {
        revert IntentNonTransferable();
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

    /// @dev The one place balances change: only mints (from zero) and burns (to zero) pass, so no
    ///      path, present or inherited, can move an intent between accounts.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override
    {
        if (from != address(0) && to != address(0)) revert IntentNonTransferable();
        super._update(from, to, ids, values);
    }
}
