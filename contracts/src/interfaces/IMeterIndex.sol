// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title IMeterIndex
/// @notice What delivery settlement asks the meter registry: the meters of an account in a
///         market, and whether a recovered signer may sign a meter's reading for an interval.
/// @dev The part of {IMeterRegistry} that names no meter struct, so that its callers depend on
///      neither the registry's source nor its types.
interface IMeterIndex {
    /// @notice The meters `owner` holds in `market` (every market when `market` is zero).
    /// @param owner The owner account.
    /// @param market The market id, or zero for all.
    /// @return ids The meter ids, in registration order unless an ownership change reordered them.
    function metersOf(address owner, bytes32 market) external view returns (bytes32[] memory ids);

    /// @notice Whether `signer` may sign readings of `meterId` for `interval`: it is the key that
    ///         covered that interval (current or past) and it was never revoked.
    /// @param meterId The meter id.
    /// @param interval The delivery interval of the reading.
    /// @param signer The recovered signer.
    /// @return True if the reading's signer is authorised.
    function isAuthorized(bytes32 meterId, uint64 interval, address signer) external view returns (bool);
}
