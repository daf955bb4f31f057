// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title EnergyIntentToken
/// @notice ERC-1155 energy intents: one unit is one Wh that a cleared order bought (kind 0, to be
///         consumed) or sold (kind 1, to be delivered) in one market and delivery interval.
/// @dev Token id = marketSeq << 128 | interval << 8 | kind (docs/encoding.md). Only holders of
///      MARKET_ROLE (the auction contracts) mint and burn; the admin (a timelock) grants that role
///      and sets the metadata URI.
contract EnergyIntentToken is ERC1155, AccessControl {
    /// @notice The role of the market contracts allowed to mint and burn.
    bytes32 public constant MARKET_ROLE = keccak256("MARKET_ROLE");

    /// @notice Kind of intent: energy bought.
    uint8 public constant KIND_BOUGHT = 0;
    /// @notice Kind of intent: energy sold.
    uint8 public constant KIND_SOLD = 1;

    /// @notice The token id does not decode to a valid (market, interval, kind).
    error IntentInvalidId(uint256 id);

    /// @param admin The account (a TimelockController in production) holding DEFAULT_ADMIN_ROLE.
    /// @param uri_ The metadata URI template, with `{id}` substituted by clients (ERC-1155).
    constructor(address admin, string memory uri_) ERC1155(uri_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Mints `amount` Wh of intent `id` to `to`.
    /// @dev Requirements: caller has MARKET_ROLE; `id` decodes to a valid kind.
    ///      Emits a {TransferSingle} event.
    /// @param to The receiving trader.
    /// @param id The intent token id.
    /// @param amount The quantity in Wh.
    function mint(address to, uint256 id, uint256 amount) external onlyRole(MARKET_ROLE) {
        if (id & 0xff > KIND_SOLD) revert IntentInvalidId(id);
        _mint(to, id, amount, "");
    }

    /// @notice Burns `amount` Wh of intent `id` held by `from` (delivery settlement).
    /// @dev Requirements: caller has MARKET_ROLE. Emits a {TransferSingle} event.
    /// @param from The holder.
    /// @param id The intent token id.
    /// @param amount The quantity in Wh.
    function burn(address from, uint256 id, uint256 amount) external onlyRole(MARKET_ROLE) {
        _burn(from, id, amount);
    }

    /// @notice Sets the metadata URI template.
    /// @dev Requirements: caller has DEFAULT_ADMIN_ROLE.
    /// @param newUri The new URI template with `{id}`.
    function setURI(string calldata newUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setURI(newUri);
    }

    /// @notice Encodes an intent token id.
    /// @param marketSeq The market's creation number.
    /// @param interval The delivery interval index.
    /// @param kind 0 = bought, 1 = sold.
    /// @return id The token id.
    function encodeId(uint32 marketSeq, uint64 interval, uint8 kind) external pure returns (uint256 id) {
        if (kind > KIND_SOLD) revert IntentInvalidId(kind);
        return tokenId(marketSeq, interval, kind);
    }

    /// @notice Decodes an intent token id.
    /// @param id The token id.
    /// @return marketSeq The market's creation number.
    /// @return interval The delivery interval index.
    /// @return kind 0 = bought, 1 = sold.
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
        override(ERC1155, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }
}

/// @notice Token id = marketSeq << 128 | interval << 8 | kind.
function tokenId(uint32 marketSeq, uint64 interval, uint8 kind) pure returns (uint256) {
    return (uint256(marketSeq) << 128) | (uint256(interval) << 8) | kind;
}
