// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";

/// @title IEnergyIntentToken
/// @notice ERC-1155 energy intents: one unit is one Wh that a cleared order bought (kind 0, to be
///         consumed) or sold (kind 1, to be delivered) in one market and delivery interval: the
///         trader's non-transferable receipt of its own position.
/// @dev Token id = marketSeq << 128 | interval << 8 | kind ({tokenId}, docs/encoding.md). Only
///      holders of MINTER_ROLE (the auction) mint, only holders of MARKET_ROLE (delivery
///      settlement) burn; transfers and approvals revert with {IntentNonTransferable}.
interface IEnergyIntentToken is IAccessControl, IERC1155MetadataURI {
    /// @notice The token id does not decode to a valid (market, interval, kind).
    /// @param id The token id (or the kind given to {encodeId}).
    error IntentInvalidId(uint256 id);

    /// @notice Intents never move between accounts: a position can be changed by no one else.
    error IntentNonTransferable();

    /// @notice The role allowed to mint (the auction, on claim).
    /// @return The role id, keccak256("MINTER_ROLE").
    function MINTER_ROLE() external view returns (bytes32);

    /// @notice The role allowed to burn (delivery settlement, for positions it has settled).
    /// @return The role id, keccak256("MARKET_ROLE").
    function MARKET_ROLE() external view returns (bytes32);

    /// @notice Kind of intent: energy bought.
    /// @return 0.
    function KIND_BOUGHT() external view returns (uint8);

    /// @notice Kind of intent: energy sold.
    /// @return 1.
    function KIND_SOLD() external view returns (uint8);

    /// @notice Mints `amount` Wh of intent `id` to `to`, without an ERC-1155 acceptance callback.
    /// @param to The receiving trader.
    /// @param id The intent token id.
    /// @param amount The quantity in Wh.
    function mint(address to, uint256 id, uint256 amount) external;

    /// @notice Burns `amount` Wh of intent `id` held by `from` (delivery settlement).
    /// @param from The holder.
    /// @param id The intent token id.
    /// @param amount The quantity in Wh.
    function burn(address from, uint256 id, uint256 amount) external;

    /// @notice Sets the metadata URI template.
    /// @param newUri The new URI template with `{id}`.
    function setURI(string calldata newUri) external;

    /// @notice Encodes an intent token id.
    /// @param marketSeq The market's creation number.
    /// @param interval The delivery interval index.
    /// @param kind 0 = bought, 1 = sold.
    /// @return id The token id.
    function encodeId(uint32 marketSeq, uint64 interval, uint8 kind) external pure returns (uint256 id);

    /// @notice Decodes an intent token id.
    /// @param id The token id.
    /// @return marketSeq The market's creation number.
    /// @return interval The delivery interval index.
    /// @return kind 0 = bought, 1 = sold.
    function decodeId(uint256 id) external pure returns (uint32 marketSeq, uint64 interval, uint8 kind);
}

/// @notice Token id = marketSeq << 128 | interval << 8 | kind: the encoding the token, the auction
///         (which mints) and delivery settlement (which burns) share.
/// @param marketSeq The market's creation number.
/// @param interval The delivery interval index.
/// @param kind 0 = bought, 1 = sold.
/// @return The token id.
function tokenId(uint32 marketSeq, uint64 interval, uint8 kind) pure returns (uint256) {
    return (uint256(marketSeq) << 128) | (uint256(interval) << 8) | kind;
}
