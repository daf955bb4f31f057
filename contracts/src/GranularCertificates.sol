// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";

import {IDeliverySettlement} from "./DeliverySettlement.sol";
import {IMeterRegistry, MeterRegistry} from "./MeterRegistry.sol";

/// @title IGranularCertificates
/// @notice Hourly granular certificates (EnergyTag, DESIGN 3.8) as ERC-1155: one unit is one Wh
///         of verified renewable export of one registered generator in one hour. Certificates are
///         issued to the meter's owner, move like any ERC-1155 token, and are retired (burned) by
///         a holder for a beneficiary with a claim reference.
/// @dev Token id = device number << 64 | hour (hour = unix time / 3600). Declared in this file,
///      before {GranularCertificates}, because it names `GranularCertificates.Move`, which stays
///      declared in the contract (the committed ABI's and the Rust bindings' name; see
///      {IMeterRegistry}).
interface IGranularCertificates is IERC1155MetadataURI {
    /// @notice Emitted when verified export of a device-hour fell below what was issued (a
    ///         downward revision): the registrar resolves it.
    /// @param id The certificate id.
    /// @param issuedWh What was issued.
    /// @param verifiedWh What is verified now.
    event CertificateOverIssued(uint256 indexed id, uint256 issuedWh, uint256 verifiedWh);
    /// @notice Emitted when certificates are retired (cancelled) for a beneficiary.
    /// @param id The certificate id.
    /// @param holder The holder who retired them.
    /// @param beneficiary Who the consumption claim is made for.
    /// @param wh The amount (Wh).
    /// @param claimRef The claim reference.
    event CertificateRetired(
        uint256 indexed id, address indexed holder, address indexed beneficiary, uint256 wh, bytes32 claimRef
    );

    /// @notice The meter is not a registered renewable generator.
    error CertificateNotEligible(bytes32 meterId);
    /// @notice The token id does not decode to a registered device and an hour.
    error CertificateInvalidId(uint256 id);
    /// @notice A zero beneficiary or amount.
    error CertificateInvalidRetirement();

    /// @notice The meter registry (owners, device numbers, energy sources).
    /// @return The registry.
    function registry() external view returns (IMeterRegistry);

    /// @notice The delivery settlement holding the verified readings.
    /// @return The settlement.
    function settlement() external view returns (IDeliverySettlement);

    /// @notice Intervals per hour.
    /// @return 3600 / intervalLength.
    function intervalsPerHour() external view returns (uint64);

    /// @notice Interval length in seconds (the settlement's).
    /// @return The interval length.
    function intervalLength() external view returns (uint256);

    /// @notice Issues the certificates of `meterId` for `hour` not issued yet, to its owner.
    /// @param meterId The generator's meter.
    /// @param hour The hour (unix time / 3600).
    /// @return minted Wh minted now.
    function issue(bytes32 meterId, uint64 hour) external returns (uint256 minted);

    /// @notice {issue} for several generators and one hour (the operator's hourly run).
    /// @param meterIds The generators' meters.
    /// @param hour The hour (unix time / 3600).
    /// @return minted Wh minted now, in total.
    function issueBatch(bytes32[] calldata meterIds, uint64 hour) external returns (uint256 minted);

    /// @notice Moves certificates from sellers to buyers along the P2P fills of an hour (the
    ///         operator's allocation), in one transaction.
    /// @param moves The transfers.
    function transferAlongFills(GranularCertificates.Move[] calldata moves) external;

    /// @notice Retires (cancels) `wh` certificates of `id` held by the caller for `beneficiary`.
    /// @param id The certificate id.
    /// @param wh The amount (Wh).
    /// @param beneficiary Who the consumption claim is made for.
    /// @param claimRef The claim reference (e.g. a hash of the disclosure it backs).
    function retire(uint256 id, uint256 wh, address beneficiary, bytes32 claimRef) external;

    /// @notice Wh issued for a device-hour.
    /// @param id The certificate id.
    /// @return The issued Wh.
    function issued(uint256 id) external view returns (uint256);

    /// @notice Wh retired of a device-hour.
    /// @param id The certificate id.
    /// @return The retired Wh.
    function retired(uint256 id) external view returns (uint256);

    /// @notice The EnergyTag attributes of a certificate id.
    /// @param id The certificate id.
    /// @return meterId The device's meter.
    /// @return source The energy source.
    /// @return zone The country / bidding zone.
    /// @return start Production start (unix seconds).
    /// @return end Production end (unix seconds, exclusive).
    function certificate(uint256 id)
        external
        view
        returns (bytes32 meterId, MeterRegistry.EnergySource source, bytes32 zone, uint64 start, uint64 end);

    /// @notice The certificate id of a device-hour.
    /// @param device The device number.
    /// @param hour The hour (unix time / 3600).
    /// @return The id.
    function certificateId(uint32 device, uint64 hour) external pure returns (uint256);
}

/// @title GranularCertificates
/// @notice Hourly granular certificates (EnergyTag, DESIGN 3.8) as ERC-1155: one unit is one Wh
///         of verified renewable export of one registered generator in one hour. Certificates are
///         issued to the meter's owner, move like any ERC-1155 token (the operator moves them
///         from sellers to buyers along P2P fills, with the sellers' approval), and are retired
///         (burned) by a holder for a beneficiary with a claim reference.
/// @dev Token id = device number << 64 | hour (hour = unix time / 3600); the attributes (device,
///      meter, energy source, zone, production start and end) follow from the id through the
///      registry ({certificate}). Issuance is permissionless and idempotent: it mints the increase
///      of verified export (actual readings of the hour's intervals whose reading deadline has
///      passed) over what was issued for that device-hour, so no Wh is ever issued twice. A later
///      downward revision of a certified reading cannot un-issue; it emits {CertificateOverIssued}
///      for the registrar to resolve. Retired certificates are burned: they can never move again,
///      and {retired} keeps the count per id.
contract GranularCertificates is IGranularCertificates, ERC1155 {
    /// @inheritdoc IGranularCertificates
    IMeterRegistry public immutable registry;
    /// @inheritdoc IGranularCertificates
    IDeliverySettlement public immutable settlement;
    /// @inheritdoc IGranularCertificates
    uint64 public immutable intervalsPerHour;

    /// @inheritdoc IGranularCertificates
    uint256 public immutable intervalLength;

    /// @dev Wh issued per device-hour, four devices per slot (issuance runs hour by hour over all
    ///      devices): (hour, device / 4) => 4 x 64 bits.
    mapping(uint64 hour => mapping(uint32 quad => uint256 words)) internal _issued;
    mapping(uint256 id => uint256) internal _retired;

    /// @param registry_ The meter registry.
    /// @param settlement_ The delivery settlement (its interval length divides an hour).
    /// @param uri_ The metadata URI template with `{id}`.
    constructor(IMeterRegistry registry_, IDeliverySettlement settlement_, string memory uri_) ERC1155(uri_) {
        registry = registry_;
        settlement = settlement_;
        intervalLength = settlement_.intervalLength();
        intervalsPerHour = uint64(3600 / intervalLength);
    }

    /// @inheritdoc IGranularCertificates
    /// @dev Requirements: the meter is a registered generator with a renewable source (solar,
    ///      wind, hydro, biomass, geothermal). Counts actual readings of the hour's intervals whose
    ///      reading deadline has passed. Emits a {TransferSingle} from the zero address (the
    ///      issuance) when something was minted, {CertificateOverIssued} when verified export went down.
    function issue(bytes32 meterId, uint64 hour) external returns (uint256 minted) {
        return _issue(meterId, hour, _due(hour));
    }

    /// @inheritdoc IGranularCertificates
    /// @dev Requirements and events as {issue}, for each meter; one ineligible meter reverts all.
    function issueBatch(bytes32[] calldata meterIds, uint64 hour) external returns (uint256 minted) {
        uint64 due = _due(hour);
        for (uint256 k; k < meterIds.length; ++k) {
            minted += _issue(meterIds[k], hour, due);
        }
    }

    /// @notice A transfer of certificates, in {transferAlongFills}.
    /// @dev Declared here, not in {IGranularCertificates}: the committed ABI (and the Rust
    ///      bindings) name it `GranularCertificates.Move`.
    struct Move {
        address from;
        address to;
        uint256 id;
        uint256 wh;
    }

    /// @inheritdoc IGranularCertificates
    /// @dev Requirements: the caller is each `from`, or approved by it (setApprovalForAll); each
    ///      holder has the Wh. Emits a {TransferSingle} per move; a receiver contract must accept.
    function transferAlongFills(Move[] calldata moves) external {
        for (uint256 k; k < moves.length; ++k) {
            Move calldata m = moves[k];
            if (m.from != msg.sender && !isApprovedForAll(m.from, msg.sender)) {
                revert ERC1155MissingApprovalForAll(msg.sender, m.from);
            }
            _safeTransferFrom(m.from, m.to, m.id, m.wh, "");
        }
    }

    /// @inheritdoc IGranularCertificates
    /// @dev Burns them: retired certificates never move again. Requirements: the caller holds
    ///      `wh`; `wh > 0`; the beneficiary is nonzero. Emits {CertificateRetired}.
    function retire(uint256 id, uint256 wh, address beneficiary, bytes32 claimRef) external {
        if (wh == 0 || beneficiary == address(0)) revert CertificateInvalidRetirement();
        _burn(msg.sender, id, wh);
        _retired[id] += wh;
        emit CertificateRetired(id, msg.sender, beneficiary, wh, claimRef);
    }

    function _issue(bytes32 meterId, uint64 hour, uint64 due) internal returns (uint256 minted) {
        (address owner, uint32 device, MeterRegistry.EnergySource source) = registry.generatorOf(meterId);
        if (
            owner == address(0) || source == MeterRegistry.EnergySource.None
                || source == MeterRegistry.EnergySource.Storage || source == MeterRegistry.EnergySource.Other
        ) revert CertificateNotEligible(meterId);
        (uint256 verified,) = settlement.verifiedExport(meterId, hour * intervalsPerHour, due);
        uint256 id = certificateId(device, hour);
        uint256 before;
        (minted, before) = _record(device, hour, verified);
        if (verified < before) {
            emit CertificateOverIssued(id, before, verified);
        } else if (minted != 0) {
            _mint(owner, id, minted, ""); // TransferSingle(from 0) is the issuance event
        }
    }

    /// @dev How many of the hour's intervals have their readings due.
    function _due(uint64 hour) internal view returns (uint64 count) {
        uint256 first = uint256(hour) * intervalsPerHour;
        uint256 len = intervalLength;
        uint256 wait = settlement.readingWindow();
        while (count < intervalsPerHour && (first + count + 1) * len + wait <= block.timestamp) {
            ++count;
        }
    }

    /// @dev Raises the issued Wh of a device-hour to `verified`; returns the increase and the
    ///      previous figure (nothing changes when verified export went down).
    function _record(uint32 device, uint64 hour, uint256 verified)
        internal
        returns (uint256 minted, uint256 before)
    {
        uint256 shift = (device & 3) * 64;
        uint256 words = _issued[hour][device >> 2];
        before = (words >> shift) & type(uint64).max;
        if (verified <= before) return (0, before);
        minted = verified - before;
        // verified <= intervalsPerHour * (2^48 - 1) < 2^64
        _issued[hour][device >> 2] = (words & ~(uint256(type(uint64).max) << shift)) | (verified << shift);
    }

    /// @inheritdoc IGranularCertificates
    function issued(uint256 id) public view returns (uint256) {
        uint64 hour = uint64(id);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 device = uint32(id >> 64);
        return (_issued[hour][device >> 2] >> ((device & 3) * 64)) & type(uint64).max;
    }

    /// @inheritdoc IGranularCertificates
    function retired(uint256 id) external view returns (uint256) {
        return _retired[id];
    }

    /// @inheritdoc IGranularCertificates
    function certificate(uint256 id)
        external
        view
        returns (bytes32 meterId, MeterRegistry.EnergySource source, bytes32 zone, uint64 start, uint64 end)
    {
        if (id >> 96 != 0) revert CertificateInvalidId(id);
        meterId = registry.meterOfDevice(uint32(id >> 64));
        if (meterId == bytes32(0)) revert CertificateInvalidId(id);
        MeterRegistry.Meter memory m = registry.meter(meterId);
        uint64 hour = uint64(id);
        return (meterId, m.source, m.zone, hour * 3600, hour * 3600 + 3600);
    }

    /// @inheritdoc IGranularCertificates
    function certificateId(uint32 device, uint64 hour) public pure returns (uint256) {
        return (uint256(device) << 64) | hour;
    }
}
