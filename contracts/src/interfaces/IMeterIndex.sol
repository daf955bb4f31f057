// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @title IMeterIndex
/// @notice What delivery settlement asks the meter registry: the meters of an account in a
///         market (now, or as of a past time: ownership has history), whether a recovered signer
///         may sign a meter's reading for an interval, and the key epoch that signer holds.
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

    /// @notice The meters `owner` held in `market` at unix time `time` (an ownership change at time t
    ///         applies to what starts at or after t), with each meter's revoked key epochs.
    /// @param owner The owner account.
    /// @param market The market id.
    /// @param time The unix time (delivery settlement passes the interval's start).
    /// @return ids The meter ids.
    /// @return revokedEpochs Per meter, bit e set when its key of epoch e has been revoked.
    function metersAt(address owner, bytes32 market, uint64 time)
        external
        view
        returns (bytes32[] memory ids, uint32[] memory revokedEpochs);

    /// @notice {isAuthorized}, with the key epoch of `signer` on the meter (0 for the key the
    ///         meter was registered with, +1 per rotation) and the meter's revoked epochs.
    /// @param meterId The meter id.
    /// @param interval The delivery interval of the reading.
    /// @param signer The recovered signer.
    /// @return ok True if the reading's signer is authorised.
    /// @return epoch The signer's key epoch on the meter (0 when not authorised).
    /// @return revokedEpochs Bit e set when the meter's key of epoch e has been revoked.
    function keyEpoch(bytes32 meterId, uint64 interval, address signer)
        external
        view
        returns (bool ok, uint8 epoch, uint32 revokedEpochs);
}
