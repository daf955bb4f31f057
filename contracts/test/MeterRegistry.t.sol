// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {Vm} from "./utils/Vm.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MeterRegistry, IMeterRegistry} from "../src/MeterRegistry.sol";
import {ReadingLib} from "../src/libraries/ReadingLib.sol";

contract MeterRegistryTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    MeterRegistry internal reg;
    address internal admin = address(0xA11CE);
    address internal registrar = address(0x4E6);
    address internal owner = address(0x0E1);
    address internal gw1 = address(0x6A1);
    address internal gw2 = address(0x6A2);
    address internal gw3 = address(0x6A3);
    bytes32 internal constant ID = keccak256("meter/site-17/main");

    function setUp() public {
        reg = new MeterRegistry(admin, registrar);
    }

    function _meter(address gateway, uint64 from) internal view returns (MeterRegistry.Meter memory) {
        return MeterRegistry.Meter({
            owner: owner,
            device: 0,
            gateway: gateway,
            gatewayFrom: from,
            accuracy: MeterRegistry.AccuracyClass.C12_20_0_2,
            generator: true,
            source: MeterRegistry.EnergySource.Solar,
            site: keccak256("site-17"),
            zone: bytes32("US-CAISO"),
            market: bytes32(uint256(0x5ea19d))
        });
    }

    function _register() internal {
        vm.prank(registrar);
        reg.registerMeter(ID, _meter(gw1, 100));
    }

    function test_register_storesTheMeter() public {
        _register();
        MeterRegistry.Meter memory m = reg.meter(ID);
        vm.assertEq(m.owner, owner, "owner");
        vm.assertEq(m.gateway, gw1, "gateway");
        vm.assertEq(uint256(m.gatewayFrom), 100, "from");
        vm.assertTrue(m.generator, "generator");
        vm.assertTrue(reg.isAuthorized(ID, 100, gw1), "current key from its first interval");
        vm.assertFalse(reg.isAuthorized(ID, 99, gw1), "not before");
        vm.assertFalse(reg.isAuthorized(ID, 100, gw2), "another key");
        vm.assertFalse(reg.isAuthorized(keccak256("other"), 100, gw1), "another meter");
        vm.assertFalse(reg.isAuthorized(ID, 100, address(0)), "no signer");
    }

    function test_register_refusesBadInput() public {
        _register();
        vm.startPrank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterExists.selector, ID));
        reg.registerMeter(ID, _meter(gw1, 100));
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterExists.selector, bytes32(0)));
        reg.registerMeter(bytes32(0), _meter(gw1, 100));
        bytes32 id2 = keccak256("m2");
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterInvalid.selector, id2));
        reg.registerMeter(id2, _meter(address(0), 100));
        MeterRegistry.Meter memory m = _meter(gw2, 100);
        m.owner = address(0);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterInvalid.selector, id2));
        reg.registerMeter(id2, m);
        m = _meter(gw2, 100);
        m.source = MeterRegistry.EnergySource.None; // a generator must name its source
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterInvalid.selector, id2));
        reg.registerMeter(id2, m);
        vm.stopPrank();
    }

    function test_onlyRegistrarsManageMeters() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, owner, reg.REGISTRAR_ROLE()
            )
        );
        vm.prank(owner);
        reg.registerMeter(ID, _meter(gw1, 100));
        _register();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, owner, reg.REGISTRAR_ROLE()
            )
        );
        vm.prank(owner);
        reg.rotateGateway(ID, gw2, 200);
    }

    function test_rotation_keepsThePastKeyForPastIntervals() public {
        _register();
        vm.prank(registrar);
        reg.rotateGateway(ID, gw2, 200);
        vm.assertTrue(reg.isAuthorized(ID, 150, gw1), "old key for an interval before the rotation");
        vm.assertFalse(reg.isAuthorized(ID, 200, gw1), "old key not from the rotation on");
        vm.assertTrue(reg.isAuthorized(ID, 200, gw2), "new key");
        vm.assertFalse(reg.isAuthorized(ID, 150, gw2), "new key not before its start");
        MeterRegistry.PastKey[] memory h = reg.gatewayHistory(ID);
        vm.assertEq(h.length, 1, "one past key");
        vm.assertEq(h[0].gateway, gw1, "past key");
        vm.assertEq(uint256(h[0].until), 200, "until");
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRotationTooEarly.selector, 200, 200));
        vm.prank(registrar);
        reg.rotateGateway(ID, gw3, 200);
    }

    function test_revocation_invalidatesTheKeyForEveryInterval() public {
        _register();
        vm.startPrank(registrar);
        reg.rotateGateway(ID, gw2, 200);
        reg.revokeGateway(ID); // gw2 compromised
        vm.stopPrank();
        vm.assertFalse(reg.isAuthorized(ID, 250, gw2), "revoked key refused");
        vm.assertTrue(reg.isRevoked(gw2), "recorded");
        vm.assertTrue(reg.isAuthorized(ID, 150, gw1), "the earlier key still covers its intervals");
        vm.assertEq(reg.meter(ID).gateway, address(0), "no key until a new one");
        // A revoked key can never come back, on this meter or another.
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterGatewayRevoked.selector, gw2));
        vm.prank(registrar);
        reg.rotateGateway(ID, gw2, 300);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterGatewayRevoked.selector, gw2));
        vm.prank(registrar);
        reg.registerMeter(keccak256("m2"), _meter(gw2, 0));
        // The replacement starts at or after the revoked key's first interval.
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterRotationTooEarly.selector, 150, 200));
        vm.prank(registrar);
        reg.rotateGateway(ID, gw3, 150);
        vm.prank(registrar);
        reg.rotateGateway(ID, gw3, 200);
        vm.assertTrue(reg.isAuthorized(ID, 250, gw3), "replacement key");
        vm.assertEq(reg.gatewayHistory(ID).length, 1, "the revoked key is not history");
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterInvalid.selector, ID));
        vm.prank(registrar);
        reg.setOwner(ID, address(0));
    }

    function test_unknownMeters_andOwnerChanges() public {
        vm.startPrank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterUnknown.selector, ID));
        reg.rotateGateway(ID, gw2, 200);
        vm.expectRevert(abi.encodeWithSelector(IMeterRegistry.MeterUnknown.selector, ID));
        reg.revokeGateway(ID);
        reg.registerMeter(ID, _meter(gw1, 100));
        reg.setOwner(ID, address(0xB0B));
        vm.stopPrank();
        vm.assertEq(reg.meter(ID).owner, address(0xB0B), "new owner");
    }

    /// Fuzz: for any rotation point, exactly one unrevoked key covers each interval from the first.
    function testFuzz_exactlyOneKeyPerInterval(uint64 rotateAt, uint64 interval) public {
        rotateAt = uint64(bound(rotateAt, 101, type(uint64).max));
        _register();
        vm.prank(registrar);
        reg.rotateGateway(ID, gw2, rotateAt);
        bool a = reg.isAuthorized(ID, interval, gw1);
        bool b = reg.isAuthorized(ID, interval, gw2);
        if (interval < 100) {
            vm.assertFalse(a || b, "no key before registration");
        } else {
            vm.assertTrue(a != b, "exactly one key");
            vm.assertEq(b, interval >= rotateAt, "the new key from the rotation on");
        }
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (x < lo) return lo + (x % (hi - lo + 1));
        if (x > hi) return lo + (x % (hi - lo + 1));
        return x;
    }
}

/// @notice The shared EIP-712 vector of a meter reading (viem, tools/vectors/generate.mjs):
///         ReadingLib hashes it as viem and the Rust types do, the signature recovers the gateway,
///         and the registry authorises that gateway for the reading's interval.
contract MeterReadingVectorTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function _hash(ReadingLib.MeterReading memory r) external pure returns (bytes32) {
        return ReadingLib.structHash(r);
    }

    function test_vector_meterReading() public {
        string memory eip = vm.readFile("contracts/test/vectors/eip712.json");
        ReadingLib.MeterReading memory r = ReadingLib.MeterReading({
            meterId: vm.parseJsonBytes32(eip, ".meterReading.meterReading.meterId"),
            interval: uint64(vm.parseJsonUint(eip, ".meterReading.meterReading.interval")),
            importWh: uint64(vm.parseJsonUint(eip, ".meterReading.meterReading.importWh")),
            exportWh: uint64(vm.parseJsonUint(eip, ".meterReading.meterReading.exportWh")),
            quality: uint8(vm.parseJsonUint(eip, ".meterReading.meterReading.quality")),
            revision: uint32(vm.parseJsonUint(eip, ".meterReading.meterReading.revision"))
        });
        vm.assertEq(
            ReadingLib.METER_READING_TYPEHASH, vm.parseJsonBytes32(eip, ".meterReadingTypeHash"), "type hash"
        );
        bytes32 sh = ReadingLib.structHash(r);
        vm.assertEq(sh, vm.parseJsonBytes32(eip, ".meterReading.structHash"), "struct hash");
        bytes32 domain = vm.parseJsonBytes32(eip, ".domainSeparator");
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domain, sh));
        vm.assertEq(digest, vm.parseJsonBytes32(eip, ".meterReading.digest"), "digest");
        address signer = ECDSA.recover(digest, vm.parseJsonBytes(eip, ".meterReading.signature"));
        vm.assertEq(signer, vm.parseJsonAddress(eip, ".meterReading.signer"), "signer");

        MeterRegistry reg = new MeterRegistry(address(this), address(this));
        reg.registerMeter(
            r.meterId,
            MeterRegistry.Meter({
                owner: address(0xB0B),
                device: 0,
                gateway: signer,
                gatewayFrom: r.interval,
                accuracy: MeterRegistry.AccuracyClass.C12_20_0_5,
                generator: false,
                source: MeterRegistry.EnergySource.None,
                site: bytes32(0),
                zone: bytes32(0),
                market: bytes32(0)
            })
        );
        vm.assertTrue(reg.isAuthorized(r.meterId, r.interval, signer), "authorised gateway");
        reg.revokeGateway(r.meterId);
        vm.assertFalse(reg.isAuthorized(r.meterId, r.interval, signer), "revoked gateway");

        r.quality = 3;
        vm.expectRevert(abi.encodeWithSelector(ReadingLib.ReadingInvalidQuality.selector, uint8(3)));
        this._hash(r);
    }
}
