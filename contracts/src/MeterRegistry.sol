// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {IMeterIndex} from "./interfaces/IMeterIndex.sol";

/// @title IMeterRegistry
/// @notice The registry of revenue meters (and chargers, inverters) whose gateways sign the
///         readings that delivery settlement runs on (DESIGN 3.7): meter id -> owner account,
///         gateway signer, accuracy class, site, generator flag and energy source, with the
///         history of gateway keys (numbered by epoch) and of owners.
/// @dev Declared in this file, before {MeterRegistry}, because it names the meter structs and enums
///      that {MeterRegistry} declares (`MeterRegistry.Meter`, ...): the committed ABIs name a struct
///      by its declaring contract and the Rust bindings take their type paths from that name
///      (`MeterRegistry::Meter`), so the types stay where they were; a separate interface file would
///      need a circular import, which solc resolves in an order that depends on the importer.
///      Callers that need no meter struct (delivery settlement) use {IMeterIndex} alone.
interface IMeterRegistry is IMeterIndex, IAccessControl {
    /// @notice Emitted when a meter is registered.
    /// @param meterId The meter id.
    /// @param owner The owner account.
    /// @param gateway The first gateway signer.
    /// @param from The first interval the gateway key is valid for.
    /// @param device The device number assigned.
    event MeterRegistered(
        bytes32 indexed meterId, address indexed owner, address gateway, uint64 from, uint32 device
    );
    /// @notice Emitted when a meter's gateway key is rotated (planned).
    /// @param meterId The meter id.
    /// @param oldGateway The previous key (zero after a revocation).
    /// @param newGateway The new key.
    /// @param from The first interval the new key is valid for.
    event GatewayRotated(bytes32 indexed meterId, address oldGateway, address newGateway, uint64 from);
    /// @notice Emitted when a gateway key is revoked (compromised): invalid for every interval,
    ///         once per meter that ever used it.
    /// @param meterId The meter id.
    /// @param gateway The revoked key.
    event GatewayRevoked(bytes32 indexed meterId, address gateway);
    /// @notice Emitted when a meter changes owner.
    /// @param meterId The meter id.
    /// @param oldOwner The previous owner.
    /// @param newOwner The new owner.
    event MeterOwnerChanged(bytes32 indexed meterId, address oldOwner, address newOwner);

    /// @notice The meter id is 0 or already registered.
    error MeterExists(bytes32 meterId);
    /// @notice The meter is not registered.
    error MeterUnknown(bytes32 meterId);
    /// @notice A zero owner or gateway, or a generator without an energy source.
    error MeterInvalid(bytes32 meterId);
    /// @notice The gateway key was revoked before and can never be installed again.
    error MeterGatewayRevoked(address gateway);
    /// @notice A rotation must take effect after the current key's first interval.
    error MeterRotationTooEarly(uint64 from, uint64 currentFrom);
    /// @notice The key was installed on this meter before: every key has one epoch per meter.
    error MeterGatewayReused(address gateway);
    /// @notice The meter has had 32 keys (epochs 0-31, the 5 bits a stored reading carries):
    ///         register it again under a new id.
    error MeterKeyLimit(bytes32 meterId);

    /// @notice The role that registers meters and manages their gateway keys.
    /// @return The role id, keccak256("REGISTRAR_ROLE").
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice Registers a meter with its first gateway key, valid from interval `m.gatewayFrom`.
    /// @param meterId The meter id.
    /// @param m The meter (`m.device` must be 0: the registry assigns the next device number).
    function registerMeter(bytes32 meterId, MeterRegistry.Meter calldata m) external;

    /// @notice Installs a new gateway key valid from interval `from`; the old key stays valid for
    ///         the intervals before `from` (unless it was revoked).
    /// @param meterId The meter id.
    /// @param gateway The new gateway signer.
    /// @param from The first interval the new key signs for.
    function rotateGateway(bytes32 meterId, address gateway, uint64 from) external;

    /// @notice Revokes a meter's current gateway key after a compromise: readings it signed are
    ///         invalid for every interval (on every meter that used the key; delivery settlement
    ///         ignores them and lets the current key replace them), and the key can never be
    ///         installed again. The meter takes no readings until a new key is rotated in.
    /// @param meterId The meter id.
    function revokeGateway(bytes32 meterId) external;

    /// @notice Moves a meter to a new owner account (a site changing hands) from now on: what
    ///         started before this block (intervals included) stays the previous owner's.
    /// @param meterId The meter id.
    /// @param owner The new owner.
    function setOwner(bytes32 meterId, address owner) external;

    /// @notice The owner of a meter at unix time `time` (zero if unknown then).
    /// @param meterId The meter id.
    /// @param time The unix time.
    /// @return The owner.
    function ownerAt(bytes32 meterId, uint64 time) external view returns (address);

    /// @notice The past owners of a meter and the times they held it, oldest first.
    /// @param meterId The meter id.
    /// @return The past owners.
    function ownerHistory(bytes32 meterId) external view returns (MeterRegistry.PastOwner[] memory);

    /// @notice The revoked key epochs of a meter (bit e set when its key of epoch e is revoked).
    /// @param meterId The meter id.
    /// @return The bit set.
    function revokedEpochs(bytes32 meterId) external view returns (uint32);

    /// @notice The key epoch of a gateway key on a meter: 0 for the key it was registered with, +1
    ///         per rotation.
    /// @param meterId The meter id.
    /// @param gateway The key.
    /// @return installed Whether the key was ever installed on the meter.
    /// @return epoch The epoch.
    /// @return revoked Whether it is revoked.
    function epochOf(bytes32 meterId, address gateway)
        external
        view
        returns (bool installed, uint8 epoch, bool revoked);

    /// @notice The meter `meterId` (all zero if unknown).
    /// @param meterId The meter id.
    /// @return The meter.
    function meter(bytes32 meterId) external view returns (MeterRegistry.Meter memory);

    /// @notice A meter's device number (granular certificate ids), 0 if unknown.
    /// @param meterId The meter id.
    /// @return The device number.
    function deviceOf(bytes32 meterId) external view returns (uint32);

    /// @notice What certificate issuance needs of a meter, in one storage read.
    /// @param meterId The meter id.
    /// @return owner The owner (zero if unknown).
    /// @return device The device number.
    /// @return source The energy source (None unless a generator).
    function generatorOf(bytes32 meterId)
        external
        view
        returns (address owner, uint32 device, MeterRegistry.EnergySource source);

    /// @notice The meter with device number `device` (zero if none).
    /// @param device The device number.
    /// @return The meter id.
    function meterOfDevice(uint32 device) external view returns (bytes32);

    /// @notice The past gateway keys of a meter, oldest first.
    /// @param meterId The meter id.
    /// @return The keys and the intervals they covered.
    function gatewayHistory(bytes32 meterId) external view returns (MeterRegistry.PastKey[] memory);

    /// @notice Whether `gateway` was revoked.
    /// @param gateway The signer.
    /// @return True if revoked.
    function isRevoked(address gateway) external view returns (bool);
}

/// @title MeterRegistry
/// @notice The registry of revenue meters (and chargers, inverters) whose gateways sign the
///         readings that delivery settlement runs on (DESIGN 3.7): meter id -> owner account,
///         gateway signer, accuracy class, site, generator flag and energy source.
/// @dev Gateway keys have a history. A key is valid for the intervals from the one where it was
///      installed up to (excluding) the one where it was rotated out, so readings of past intervals
///      signed before a planned rotation stay valid. A revoked key (a compromise) is invalid for
///      every interval, past ones included. Only REGISTRAR_ROLE holders (the operator's meter desk)
///      register, rotate and revoke; the admin (a timelock) grants that role.
///      Keys are numbered per meter by epoch (0 = the key it was registered with, +1 per rotation,
///      at most 32, and no key twice): delivery settlement tags every stored reading with the
///      epoch of its signer, and the registry keeps per meter the set of revoked epochs, so a
///      revoked key's readings can be recognised and replaced. A revocation covers every meter
///      the key was ever installed on.
///      Ownership has history: a change at time t applies to what starts at or after t, and the
///      owner as of any earlier time stays answerable ({ownerAt}, {metersAt}), so a change of
///      owner never re-assigns past intervals, also for resettlements months later.
///      Every meter also gets a device number (1, 2, ...) at registration: granular certificate
///      ids are device number << 64 | hour (DESIGN 3.8). The registry indexes meters by owner
///      (every meter an owner ever held, once) so that delivery settlement finds every meter of
///      an account in a market.
contract MeterRegistry is IMeterRegistry, AccessControl {
    /// @inheritdoc IMeterRegistry
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    // The types are declared here, not in {IMeterRegistry}, so that the committed ABIs keep naming
    // them `MeterRegistry.Meter`, ... (the Rust bindings' type paths).

    /// @notice Metering accuracy (ANSI C12.20 classes).
    enum AccuracyClass {
        Unspecified,
        C12_20_0_2, // +-0.2 %, revenue grade for C&I and generation
        C12_20_0_5 // +-0.5 %
    }

    /// @notice Energy source of a generator (EnergyTag attribute).
    enum EnergySource {
        None,
        Solar,
        Wind,
        Hydro,
        Biomass,
        Geothermal,
        Storage,
        Other
    }

    /// @notice A meter as registered.
    struct Meter {
        // slot 0: what certificate issuance reads
        address owner; // the account whose position the meter measures
        uint32 device; // device number, assigned by the registry (pass 0)
        bool generator; // measures a generator's export (certificate eligible when renewable)
        EnergySource source;
        // slot 1: what reading authorisation reads
        address gateway; // the current gateway signer (0 after a revocation until a new key)
        uint64 gatewayFrom; // first interval the current gateway key is valid for
        AccuracyClass accuracy;
        bytes32 site; // site id (e.g. a hash of the service point)
        bytes32 zone; // country / bidding zone (EnergyTag)
        bytes32 market; // the market (zone or feeder) whose positions the meter settles
    }

    /// @notice A past gateway key of a meter and the intervals it covered.
    struct PastKey {
        address gateway;
        uint64 from;
        uint64 until; // exclusive
    }

    /// @notice A past owner of a meter and the unix times it held the meter.
    struct PastOwner {
        address owner;
        uint64 from;
        uint64 until; // exclusive
    }

    /// @dev What settlement reads per meter, in one slot: the current owner and since when, the
    ///      revoked key epochs, the current key's epoch and the number of keys installed.
    struct MeterState {
        address owner;
        uint40 ownerSince;
        uint32 revokedEpochs;
        uint8 epoch;
        uint8 keys;
    }

    /// @dev Epochs are 5 bits in a stored reading.
    uint8 internal constant MAX_KEYS = 32;

    mapping(bytes32 meterId => Meter) internal _meters;
    mapping(bytes32 meterId => PastKey[]) internal _history;
    mapping(address gateway => bool) internal _revoked;
    mapping(address owner => bytes32[]) internal _owned; // every meter the owner ever held, once
    mapping(address owner => mapping(bytes32 meterId => bool)) internal _listed;
    mapping(bytes32 meterId => MeterState) internal _state;
    mapping(bytes32 meterId => PastOwner[]) internal _pastOwners;
    mapping(bytes32 meterId => mapping(address gateway => uint256)) internal _keyOf; // epoch + 1
    mapping(address gateway => bytes32[]) internal _keyMeters; // the meters a key was installed on
    mapping(uint32 device => bytes32 meterId) internal _byDevice;
    uint32 internal _devices;

    /// @param admin The DEFAULT_ADMIN_ROLE holder (a TimelockController in production).
    /// @param registrar The first REGISTRAR_ROLE holder (may be zero).
    constructor(address admin, address registrar) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (registrar != address(0)) _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @inheritdoc IMeterRegistry
    /// @dev Requirements: caller has REGISTRAR_ROLE; the id is new and nonzero; owner and gateway
    ///      are nonzero and the gateway was never revoked; a generator names its energy source;
    ///      `m.device` is 0 (the registry assigns the next device number).
    ///      Emits {MeterRegistered}.
    function registerMeter(bytes32 meterId, Meter calldata m) external onlyRole(REGISTRAR_ROLE) {
        if (meterId == bytes32(0) || _meters[meterId].owner != address(0)) revert MeterExists(meterId);
        if (m.owner == address(0) || m.gateway == address(0)) revert MeterInvalid(meterId);
        if (m.generator != (m.source != EnergySource.None) || m.device != 0) revert MeterInvalid(meterId);
        if (_revoked[m.gateway]) revert MeterGatewayRevoked(m.gateway);
        uint32 device = ++_devices;
        _meters[meterId] = m;
        _meters[meterId].device = device;
        _state[meterId].owner = m.owner; // owner since time 0: nobody held it before
        _list(m.owner, meterId);
        _install(meterId, m.gateway);
        _byDevice[device] = meterId;
        emit MeterRegistered(meterId, m.owner, m.gateway, m.gatewayFrom, device);
    }

    /// @inheritdoc IMeterRegistry
    /// @dev Requirements: caller has REGISTRAR_ROLE; the meter exists; the new key is nonzero and
    ///      never revoked nor installed on this meter before; the meter has had fewer than 32 keys;
    ///      `from` is after the current key's first interval (at or after the revoked key's first
    ///      interval when the meter has none). Emits {GatewayRotated}.
    function rotateGateway(bytes32 meterId, address gateway, uint64 from) external onlyRole(REGISTRAR_ROLE) {
        Meter storage m = _meter(meterId);
        if (gateway == address(0)) revert MeterInvalid(meterId);
        if (_revoked[gateway]) revert MeterGatewayRevoked(gateway);
        address old = m.gateway;
        if (old != address(0)) {
            if (from <= m.gatewayFrom) revert MeterRotationTooEarly(from, m.gatewayFrom);
            _history[meterId].push(PastKey({gateway: old, from: m.gatewayFrom, until: from}));
        } else if (from < m.gatewayFrom) {
            // After a revocation the new key starts where the revoked one did, or later: the
            // intervals before stay with the (unrevoked) keys in the history.
            revert MeterRotationTooEarly(from, m.gatewayFrom);
        }
        _install(meterId, gateway);
        m.gateway = gateway;
        m.gatewayFrom = from;
        emit GatewayRotated(meterId, old, gateway, from);
    }

    /// @inheritdoc IMeterRegistry
    /// @dev Requirements: caller has REGISTRAR_ROLE; the meter exists and has a key.
    ///      Marks the key's epoch revoked on every meter it was installed on, and removes it where
    ///      it is the current key. Emits {GatewayRevoked} per such meter.
    function revokeGateway(bytes32 meterId) external onlyRole(REGISTRAR_ROLE) {
        address gateway = _meter(meterId).gateway;
        if (gateway == address(0)) revert MeterInvalid(meterId);
        _revoked[gateway] = true;
        bytes32[] storage ids = _keyMeters[gateway];
        for (uint256 j; j < ids.length; ++j) {
            bytes32 id = ids[j];
            _state[id].revokedEpochs |= uint32(1 << (_keyOf[id][gateway] - 1));
            if (_meters[id].gateway == gateway) _meters[id].gateway = address(0);
            emit GatewayRevoked(id, gateway);
        }
    }

    /// @inheritdoc IMeterRegistry
    /// @dev Requirements: caller has REGISTRAR_ROLE; the meter exists; the owner is nonzero.
    ///      The previous owner's period ends now (it keeps everything that started before this
    ///      block). Emits {MeterOwnerChanged}.
    function setOwner(bytes32 meterId, address owner) external onlyRole(REGISTRAR_ROLE) {
        Meter storage m = _meter(meterId);
        if (owner == address(0)) revert MeterInvalid(meterId);
        MeterState storage st = _state[meterId];
        address old = st.owner;
        emit MeterOwnerChanged(meterId, old, owner);
        _pastOwners[meterId].push(
            PastOwner({owner: old, from: st.ownerSince, until: uint64(block.timestamp)})
        );
        st.owner = owner;
        st.ownerSince = uint40(block.timestamp);
        m.owner = owner;
        _list(owner, meterId);
    }

    /// @inheritdoc IMeterRegistry
    function meter(bytes32 meterId) external view returns (Meter memory) {
        return _meters[meterId];
    }

    /// @inheritdoc IMeterIndex
    function metersOf(address owner, bytes32 market) external view returns (bytes32[] memory ids) {
        bytes32[] storage set = _owned[owner];
        uint256 n = set.length;
        ids = new bytes32[](n);
        uint256 k;
        for (uint256 j; j < n; ++j) {
            bytes32 id = set[j];
            if (_state[id].owner != owner) continue; // held it once, not now
            if (market == bytes32(0) || _meters[id].market == market) ids[k++] = id;
        }
        assembly ("memory-safe") {
            mstore(ids, k) // shrink to the matches
        }
    }

    /// @inheritdoc IMeterIndex
    function metersAt(address owner, bytes32 market, uint64 time)
        external
        view
        returns (bytes32[] memory ids, uint32[] memory revoked)
    {
        bytes32[] storage set = _owned[owner];
        uint256 n = set.length;
        ids = new bytes32[](n);
        revoked = new uint32[](n);
        uint256 k;
        for (uint256 j; j < n; ++j) {
            bytes32 id = set[j];
            if (market != bytes32(0) && _meters[id].market != market) continue;
            MeterState memory st = _state[id];
            // Past periods all end by the current one's start.
            bool held = st.ownerSince <= time ? st.owner == owner : _ownerBefore(id, time) == owner;
            if (!held) continue;
            ids[k] = id;
            revoked[k] = st.revokedEpochs;
            ++k;
        }
        assembly ("memory-safe") {
            mstore(ids, k) // shrink to the matches
            mstore(revoked, k)
        }
    }

    /// @inheritdoc IMeterRegistry
    function ownerAt(bytes32 meterId, uint64 time) external view returns (address) {
        MeterState storage st = _state[meterId];
        return st.ownerSince <= time ? st.owner : _ownerBefore(meterId, time);
    }

    /// @inheritdoc IMeterRegistry
    function ownerHistory(bytes32 meterId) external view returns (PastOwner[] memory) {
        return _pastOwners[meterId];
    }

    /// @inheritdoc IMeterRegistry
    function revokedEpochs(bytes32 meterId) external view returns (uint32) {
        return _state[meterId].revokedEpochs;
    }

    /// @inheritdoc IMeterRegistry
    function epochOf(bytes32 meterId, address gateway)
        external
        view
        returns (bool installed, uint8 epoch, bool revoked)
    {
        uint256 k = _keyOf[meterId][gateway];
        if (k == 0) return (false, 0, false);
        epoch = uint8(k - 1);
        return (true, epoch, (_state[meterId].revokedEpochs >> epoch) & 1 == 1);
    }

    /// @inheritdoc IMeterIndex
    function keyEpoch(bytes32 meterId, uint64 interval, address signer)
        external
        view
        returns (bool ok, uint8 epoch, uint32 revoked)
    {
        if (signer == address(0)) return (false, 0, 0);
        MeterState storage st = _state[meterId];
        revoked = st.revokedEpochs;
        Meter storage m = _meters[meterId];
        // The current key is never revoked (a revocation removes it) and is in no past period
        // (no key is installed twice on a meter).
        if (m.gateway == signer) return (interval >= m.gatewayFrom, st.epoch, revoked);
        uint256 k = _keyOf[meterId][signer];
        if (k == 0) return (false, 0, revoked);
        epoch = uint8(k - 1);
        if ((revoked >> epoch) & 1 == 1) return (false, 0, revoked);
        PastKey[] storage h = _history[meterId];
        for (uint256 i = h.length; i > 0; --i) {
            PastKey storage p = h[i - 1];
            if (p.gateway == signer) return (interval >= p.from && interval < p.until, epoch, revoked);
        }
        return (false, 0, revoked);
    }

    /// @inheritdoc IMeterRegistry
    function deviceOf(bytes32 meterId) external view returns (uint32) {
        return _meters[meterId].device;
    }

    /// @inheritdoc IMeterRegistry
    function generatorOf(bytes32 meterId)
        external
        view
        returns (address owner, uint32 device, EnergySource source)
    {
        Meter storage m = _meters[meterId];
        return (m.owner, m.device, m.source);
    }

    /// @inheritdoc IMeterRegistry
    function meterOfDevice(uint32 device) external view returns (bytes32) {
        return _byDevice[device];
    }

    /// @inheritdoc IMeterRegistry
    function gatewayHistory(bytes32 meterId) external view returns (PastKey[] memory) {
        return _history[meterId];
    }

    /// @inheritdoc IMeterRegistry
    function isRevoked(address gateway) external view returns (bool) {
        return _revoked[gateway];
    }

    /// @inheritdoc IMeterIndex
    function isAuthorized(bytes32 meterId, uint64 interval, address signer) public view returns (bool) {
        if (signer == address(0) || _revoked[signer]) return false;
        Meter storage m = _meters[meterId];
        if (m.gateway == signer && interval >= m.gatewayFrom) return true;
        PastKey[] storage h = _history[meterId];
        for (uint256 i = h.length; i > 0; --i) {
            PastKey storage k = h[i - 1];
            if (k.gateway == signer && interval >= k.from && interval < k.until) return true;
        }
        return false;
    }

    /// @dev Adds the meter to the owner's list once (the list keeps every meter it ever held).
    function _list(address owner, bytes32 meterId) internal {
        if (_listed[owner][meterId]) return;
        _listed[owner][meterId] = true;
        _owned[owner].push(meterId);
    }

    /// @dev Installs `gateway` as the meter's key of the next epoch.
    function _install(bytes32 meterId, address gateway) internal {
        if (_keyOf[meterId][gateway] != 0) revert MeterGatewayReused(gateway);
        MeterState storage st = _state[meterId];
        uint8 n = st.keys;
        if (n == MAX_KEYS) revert MeterKeyLimit(meterId);
        _keyOf[meterId][gateway] = uint256(n) + 1;
        st.epoch = n;
        st.keys = n + 1;
        _keyMeters[gateway].push(meterId);
    }

    /// @dev The owner of a past period covering `at` (zero if none).
    function _ownerBefore(bytes32 meterId, uint64 time) internal view returns (address) {
        PastOwner[] storage h = _pastOwners[meterId];
        for (uint256 i = h.length; i > 0; --i) {
            PastOwner storage p = h[i - 1];
            if (time >= p.from && time < p.until) return p.owner;
        }
        return address(0);
    }

    function _meter(bytes32 meterId) internal view returns (Meter storage m) {
        m = _meters[meterId];
        if (m.owner == address(0)) revert MeterUnknown(meterId);
    }
}
