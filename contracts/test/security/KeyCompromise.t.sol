// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {DeliverySettlement, IDeliverySettlement} from "../../src/DeliverySettlement.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {ReadingLib} from "../../src/libraries/ReadingLib.sol";

/// @notice Key compromise is contained (issue 17). A thief with a meter's gateway key (or the
///         oracle's) signs what suits it: a reading at the maximum revision, so no correction
///         can ever replace it, or a bogus reading that hides consumption, or an absurd price.
///         On today's code the maximum revision locks the reading forever, and a revoked key's
///         reading cannot be replaced by the new key at the same or a lower revision. Now
///         revisions move in bounded steps, records carry the key epoch that signed them, records
///         of a revoked epoch are ignored by settlement and replaceable by the current key at any
///         revision, and real-time prices stay within the market's floor and cap.
contract KeyCompromiseTest is DeliveryFixture {
    bytes4 internal constant JUMP = bytes4(keccak256("ReadingRevisionJump(bytes32,uint64,uint32,uint32)"));
    bytes4 internal constant PRICE_BOUNDS = bytes4(keccak256("PriceOutOfBounds(bytes32,uint64,int64)"));

    uint64 internal I;
    uint256 internal constant NEW_KEY = 0x6A7E999;

    function setUp() public override {
        super.setUp();
        I = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        collateral(alice, 1000e6);
        collateral(balancing, 10_000e6);
        position(alice, I, 10_000, 0);
        vm.warp(endOf(I) + 10);
    }

    function submitSigned(ReadingLib.MeterReading memory r, uint256 pk) external {
        submit1(r, pk);
    }

    function submitPriceSigned(int64 p, uint32 revision, uint256 pk) external {
        ReadingLib.RealTimePrice[] memory ps = new ReadingLib.RealTimePrice[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        ps[0] = ReadingLib.RealTimePrice({market: MARKET, interval: I, price: p, revision: revision});
        ss[0] = compact(pk, settlement.priceDigest(ps[0]));
        settlement.submitPrices(ps, ss);
    }

    function _rotate() internal {
        vm.startPrank(registrar);
        registry.revokeGateway(meterId(1));
        registry.rotateGateway(meterId(1), vm.addr(NEW_KEY), 0);
        vm.stopPrank();
    }

    /// The thief posts the maximum revision: refused, revisions move by at most 16.
    function test_attack_revisionCannotJumpToTheMaximum() public {
        uint32 max = uint32(ReadingLib.MAX_REVISION);
        vm.expectRevert(abi.encodeWithSelector(JUMP, meterId(1), I, uint32(0), max));
        this.submitSigned(reading(1, I, 0, 0, 0, max), gatewayKey(1));
        submit(1, I, 12_000, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(JUMP, meterId(1), I, uint32(0), uint32(17)));
        this.submitSigned(reading(1, I, 0, 0, 0, 17), gatewayKey(1));
        vm.assertEq(submit(1, I, 12_100, 0, 0, 16), 1, "a bounded step is accepted");
    }

    /// The thief hides alice's consumption behind a higher revision; after the revocation the
    /// honest gateway's new key replaces it at revision 0, and settlement charges the truth.
    function test_attack_revokedKeysReading_isReplacedAtALowerRevision() public {
        submit(1, I, 12_000, 0, 0, 0); // the honest reading
        submit(1, I, 10_000, 0, 0, 5); // the thief's, hiding 2 kWh
        _rotate();
        vm.assertEq(submit1(reading(1, I, 12_000, 0, 0, 0), NEW_KEY), 1, "replaced at revision 0");
        (bool present, uint64 imp,,,,) = settlement.reading(meterId(1), I);
        vm.assertTrue(present, "present");
        vm.assertEq(uint256(imp), 12_000, "the honest value");
        // And with the new key's record stored, the normal revision rules apply again.
        vm.expectPartialRevert(IDeliverySettlement.ReadingConflict.selector);
        this.submitSigned(reading(1, I, 11_000, 0, 0, 0), NEW_KEY);
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 a0 = bal(alice);
        settlement.settle(MARKET, I, one(alice));
        vm.assertEq(a0 - bal(alice), 200_000, "alice pays for the 2 kWh she consumed");
    }

    /// A revoked key's reading that nobody replaced yet is not used: the meter settles on an
    /// estimate, flagged, and the replacement resettles it.
    function test_attack_revokedKeysReading_isIgnoredBySettlement() public {
        submit(1, I - 1, 12_000, 0, 0, 0); // history from the honest gateway (the same key!)
        submit(1, I, 10_000, 0, 0, 0); // the thief's
        _rotate();
        postPrice(I, 100_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        uint256 a0 = bal(alice);
        settlement.settle(MARKET, I, one(alice));
        DeliverySettlement.Position memory p = settlement.position(MARKET, I, alice);
        vm.assertEq(uint256(p.flags) & 2, 2, "estimate: the revoked key's readings do not count");
        // Its history does not count either: no valid reading at all, so deemed delivery (the
        // worse for alice than a zero reading, which would credit her the 10 kWh she bought).
        vm.assertEq(int256(p.metered), 10_000, "deemed delivery");
        vm.assertEq(bal(alice), a0, "nothing charged or credited on missing data");
        submit1(reading(1, I, 12_000, 0, 0, 0), NEW_KEY);
        settlement.resettle(MARKET, I, one(alice));
        vm.assertEq(a0 - bal(alice), 200_000, "settled on the replacement");
        vm.assertEq(uint256(settlement.position(MARKET, I, alice).flags), 1, "actual");
    }

    /// Prices outside the market's floor and cap are refused.
    function test_attack_pricesAreBounded() public {
        vm.expectRevert(abi.encodeWithSelector(PRICE_BOUNDS, MARKET, I, CAP + 1));
        this.submitPriceSigned(CAP + 1, 0, ORACLE_PK);
        vm.expectRevert(abi.encodeWithSelector(PRICE_BOUNDS, MARKET, I, FLOOR - 1));
        this.submitPriceSigned(FLOOR - 1, 0, ORACLE_PK);
        vm.expectRevert(abi.encodeWithSelector(PRICE_BOUNDS, MARKET, I, type(int64).min));
        this.submitPriceSigned(type(int64).min, 0, ORACLE_PK);
        this.submitPriceSigned(CAP, 0, ORACLE_PK);
        vm.expectRevert(abi.encodeWithSelector(JUMP, MARKET, I, uint32(0), uint32(17)));
        this.submitPriceSigned(CAP - 1, 17, ORACLE_PK);
    }

    /// The oracle's key is stolen: the thief posts a price that suits it. The pauser revokes the
    /// key at once; settlement will not use the thief's price; the timelock installs a new
    /// oracle whose price replaces it at revision 0; the thief's key can never come back.
    function test_attack_revokedOraclesPrice_isNotUsed_andIsReplaced() public {
        submit(1, I, 12_000, 0, 0, 0);
        this.submitPriceSigned(FLOOR, 7, ORACLE_PK); // 2 kWh over contract would earn alice money
        vm.prank(pauser);
        settlement.revokeOracle(MARKET);
        (,,, uint32 epoch) = settlement.price(MARKET, I);
        vm.assertEq(uint256(epoch), 0, "tagged with the oracle epoch");
        vm.warp(endOf(I) + READING_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.SettlementPriceRevoked.selector, MARKET, I)
        );
        settlement.settle(MARKET, I, one(alice));
        // The revoked key signs nothing any more, and cannot be installed again.
        vm.expectPartialRevert(IDeliverySettlement.ReadingUnauthorized.selector);
        this.submitPriceSigned(FLOOR, 8, ORACLE_PK);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IDeliverySettlement.SettlementOracleRevoked.selector, oracle));
        settlement.configureMarket(MARKET, oracle, balancing);
        uint256 newOracle = 0x0AC1F;
        vm.prank(admin);
        settlement.configureMarket(MARKET, vm.addr(newOracle), balancing);
        vm.assertEq(uint256(settlement.marketConfig(MARKET).oracleEpoch), 1, "a new epoch");
        this.submitPriceSigned(100_000, 0, newOracle);
        (, int64 v, uint32 rev, uint32 ep) = settlement.price(MARKET, I);
        vm.assertEq(int256(v), 100_000, "replaced");
        vm.assertEq(uint256(rev) * 10 + ep, 1, "revision 0, epoch 1");
        uint256 a0 = bal(alice);
        settlement.settle(MARKET, I, one(alice));
        vm.assertEq(a0 - bal(alice), 200_000, "settled on the honest price");
        // A pauser only; nobody else revokes.
        vm.expectPartialRevert(bytes4(keccak256("AccessControlUnauthorizedAccount(address,bytes32)")));
        settlement.revokeOracle(MARKET);
    }

    /// One gateway key signs for two meters (a head-end): revoking it on one meter revokes it on
    /// both, and both meters' readings from it become replaceable and unused.
    function test_attack_sharedKeyRevokedEverywhere() public {
        bytes32 id2 = keccak256("second meter, same gateway");
        vm.prank(registrar);
        registry.registerMeter(
            id2,
            MeterRegistry.Meter({
                owner: bob,
                device: 0,
                gateway: vm.addr(gatewayKey(1)),
                gatewayFrom: 0,
                accuracy: MeterRegistry.AccuracyClass.C12_20_0_2,
                generator: false,
                source: MeterRegistry.EnergySource.None,
                site: bytes32(0),
                zone: bytes32(0),
                market: MARKET
            })
        );
        ReadingLib.MeterReading memory r = reading(1, I, 0, 0, 0, 3);
        r.meterId = id2;
        submit1(r, gatewayKey(1));
        vm.prank(registrar);
        registry.revokeGateway(meterId(1));
        (bool installed, uint8 epoch, bool revoked) = registry.epochOf(id2, vm.addr(gatewayKey(1)));
        vm.assertTrue(installed && revoked, "revoked on the other meter too");
        vm.assertEq(uint256(epoch), 0, "its first key");
        vm.assertEq(registry.meter(id2).gateway, address(0), "removed there as well");
        vm.prank(registrar);
        registry.rotateGateway(id2, vm.addr(NEW_KEY), 0);
        r.importWh = 4000;
        r.revision = 0;
        vm.assertEq(submit1(r, NEW_KEY), 1, "replaced by the new key at a lower revision");
        (,,,,, uint8 e) = settlement.reading(id2, I);
        vm.assertEq(uint256(e), 1, "tagged with the new key's epoch");
    }

    /// Keys are never reused on a meter, and a meter has at most 32.
    function test_keyEpochs_areUniqueAndBounded() public {
        vm.startPrank(registrar);
        registry.rotateGateway(meterId(1), address(0x1001), 10);
        vm.expectRevert(
            abi.encodeWithSelector(bytes4(keccak256("MeterGatewayReused(address)")), vm.addr(gatewayKey(1)))
        );
        registry.rotateGateway(meterId(1), vm.addr(gatewayKey(1)), 20);
        for (uint64 k = 2; k < 32; ++k) {
            registry.rotateGateway(meterId(1), address(uint160(0x1000 + k)), 10 + k);
        }
        vm.expectRevert(abi.encodeWithSelector(bytes4(keccak256("MeterKeyLimit(bytes32)")), meterId(1)));
        registry.rotateGateway(meterId(1), address(0x2000), 100);
        vm.stopPrank();
        (bool installed, uint8 epoch,) = registry.epochOf(meterId(1), address(0x101f));
        vm.assertTrue(installed, "installed");
        vm.assertEq(uint256(epoch), 31, "the last epoch");
    }

    /// A planned oracle change (no compromise) keeps the earlier prices valid; the new oracle
    /// re-posting the same price and revision changes nothing, a different one conflicts.
    function test_plannedOracleRotation_keepsPrices() public {
        this.submitPriceSigned(100_000, 0, ORACLE_PK);
        uint256 next = 0x0AC20;
        vm.prank(admin);
        settlement.configureMarket(MARKET, vm.addr(next), balancing);
        vm.assertFalse(settlement.oracleEpochRevoked(MARKET, 0), "not revoked");
        this.submitPriceSigned(100_000, 0, next);
        (,,, uint32 epoch) = settlement.price(MARKET, I);
        vm.assertEq(uint256(epoch), 0, "the stored price is kept");
        vm.expectPartialRevert(IDeliverySettlement.ReadingConflict.selector);
        this.submitPriceSigned(90_000, 0, next);
        vm.expectPartialRevert(IDeliverySettlement.ReadingUnauthorized.selector);
        this.submitPriceSigned(90_000, 1, ORACLE_PK); // the old key signs nothing any more
    }
}
