// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {DeliverySettlement, IDeliverySettlement} from "../../src/DeliverySettlement.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {ReadingLib} from "../../src/libraries/ReadingLib.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/// @notice Signed readings and prices: acceptance, revision ordering, and every refusal.
contract ReadingsTest is DeliveryFixture {
    uint64 internal I;

    function setUp() public override {
        super.setUp();
        I = uint64(T0 / L);
        registerMeter(1, alice, MeterRegistry.EnergySource.None);
        registerMeter(2, bob, MeterRegistry.EnergySource.Solar);
        vm.warp(endOf(I) + 10);
    }

    function _stored(uint256 n, uint64 i)
        internal
        view
        returns (bool p, uint64 imp, uint64 exp, uint8 q, uint32 rev)
    {
        (p, imp, exp, q, rev,) = settlement.reading(meterId(n), i);
    }

    function test_reading_isStoredAndRead() public {
        vm.assertEq(submit(1, I, 1200, 30, ReadingLib.ACTUAL, 0), 1, "stored");
        (bool p, uint64 imp, uint64 exp, uint8 q, uint32 rev) = _stored(1, I);
        vm.assertTrue(p, "present");
        vm.assertEq(uint256(imp), 1200, "import");
        vm.assertEq(uint256(exp), 30, "export");
        vm.assertEq(uint256(q), 0, "quality");
        vm.assertEq(uint256(rev), 0, "revision");
        // The neighbouring interval sharing the slot is untouched.
        (p,,,,) = _stored(1, I ^ 1);
        vm.assertFalse(p, "neighbour absent");
        vm.assertEq(submit(1, I - 1, 7, 8, ReadingLib.ESTIMATED, 3), 1, "neighbour");
        (p, imp,,,) = _stored(1, I);
        vm.assertEq(uint256(imp), 1200, "first kept");
        (, imp, exp, q, rev) = _stored(1, I - 1);
        vm.assertEq(uint256(imp) * 1000 + exp, 7008, "second");
        vm.assertEq(uint256(q) * 10 + rev, 13, "quality and revision");
    }

    function test_revisions_higherReplaces_sameIsNoop_lowerAndConflictRevert() public {
        submit(1, I, 1200, 0, ReadingLib.ESTIMATED, 1);
        // The identical reading again (a replay): nothing happens.
        vm.assertEq(submit(1, I, 1200, 0, ReadingLib.ESTIMATED, 1), 0, "duplicate is a no-op");
        // Same revision, other content.
        ReadingLib.MeterReading memory r = reading(1, I, 1300, 0, ReadingLib.ACTUAL, 1);
        ReadingLib.Signature memory s = signReading(gatewayKey(1), r);
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.ReadingConflict.selector, meterId(1), I, uint32(1))
        );
        this.submitSigned(r, s);
        // Lower revision.
        r = reading(1, I, 1300, 0, ReadingLib.ACTUAL, 0);
        s = signReading(gatewayKey(1), r);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.ReadingStaleRevision.selector, meterId(1), I, uint32(1), uint32(0)
            )
        );
        this.submitSigned(r, s);
        // Higher revision replaces.
        vm.assertEq(submit(1, I, 1310, 5, ReadingLib.ACTUAL, 2), 1, "revision 2");
        (, uint64 imp, uint64 exp, uint8 q, uint32 rev) = _stored(1, I);
        vm.assertEq(uint256(imp), 1310, "import");
        vm.assertEq(uint256(exp), 5, "export");
        vm.assertEq(uint256(q), 0, "actual now");
        vm.assertEq(uint256(rev), 2, "revision");
    }

    function submitSigned(ReadingLib.MeterReading memory r, ReadingLib.Signature memory s) external {
        ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        rs[0] = r;
        ss[0] = s;
        settlement.submitReadings(rs, ss);
    }

    function test_forgedWrongSignerRevoked_areRefused() public {
        // Signed by meter 2's gateway for meter 1.
        ReadingLib.MeterReading memory r = reading(1, I, 100, 0, 0, 0);
        ReadingLib.Signature memory s = signReading(gatewayKey(2), r);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.ReadingUnauthorized.selector, meterId(1), I, vm.addr(gatewayKey(2))
            )
        );
        this.submitSigned(r, s);
        // Forged: a field changed after signing recovers another address.
        s = signReading(gatewayKey(1), r);
        r.importWh = 1;
        vm.expectPartialRevert(IDeliverySettlement.ReadingUnauthorized.selector);
        this.submitSigned(r, s);
        // A malleable (high-s) or garbage signature recovers nobody.
        r.importWh = 100;
        s.vs = bytes32(type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.ReadingUnauthorized.selector, meterId(1), I, address(0)
            )
        );
        this.submitSigned(r, s);
        // An unregistered meter.
        r = reading(9, I, 100, 0, 0, 0);
        s = signReading(gatewayKey(9), r);
        vm.expectPartialRevert(IDeliverySettlement.ReadingUnauthorized.selector);
        this.submitSigned(r, s);
        // A revoked key: refused even for intervals it covered.
        r = reading(1, I, 100, 0, 0, 0);
        s = signReading(gatewayKey(1), r);
        vm.prank(registrar);
        registry.revokeGateway(meterId(1));
        vm.expectPartialRevert(IDeliverySettlement.ReadingUnauthorized.selector);
        this.submitSigned(r, s);
        // Nothing was stored.
        (bool p,,,,) = _stored(1, I);
        vm.assertFalse(p, "nothing stored");
    }

    function test_window_rangeAndShape_areChecked() public {
        // The current interval has not ended.
        uint64 now_ = uint64(block.timestamp / L);
        ReadingLib.MeterReading memory r = reading(1, now_, 1, 0, 0, 0);
        ReadingLib.Signature memory s = signReading(gatewayKey(1), r);
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.ReadingEarly.selector, meterId(1), now_, endOf(now_))
        );
        this.submitSigned(r, s);
        // Out of range.
        r = reading(1, I, uint64(1 << 48), 0, 0, 0);
        s = signReading(gatewayKey(1), r);
        vm.expectRevert(abi.encodeWithSelector(IDeliverySettlement.ReadingOutOfRange.selector, meterId(1), I));
        this.submitSigned(r, s);
        r = reading(1, I, 1, 0, 0, uint32(1 << 24));
        s = signReading(gatewayKey(1), r);
        vm.expectRevert(abi.encodeWithSelector(IDeliverySettlement.ReadingOutOfRange.selector, meterId(1), I));
        this.submitSigned(r, s);
        // Unknown quality.
        r = reading(1, I, 1, 0, 3, 0);
        vm.expectRevert(abi.encodeWithSelector(ReadingLib.ReadingInvalidQuality.selector, uint8(3)));
        this.submitSigned(r, s);
        // Length mismatch.
        ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](2);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        vm.expectRevert(abi.encodeWithSelector(IDeliverySettlement.SettlementLengthMismatch.selector, 2, 1));
        settlement.submitReadings(rs, ss);
        // After the true-up window.
        r = reading(1, I, 1, 0, 0, 0);
        s = signReading(gatewayKey(1), r);
        vm.warp(endOf(I) + TRUE_UP_WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.ReadingLate.selector, meterId(1), I, endOf(I) + TRUE_UP_WINDOW
            )
        );
        this.submitSigned(r, s);
        // Paused.
        vm.warp(endOf(I) + 10);
        vm.prank(pauser);
        settlement.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        this.submitSigned(r, s);
    }

    function test_aBadReadingFailsTheBatch_andKeepsWhatWasStoredBefore() public {
        submit(1, I, 500, 0, 0, 0);
        ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](2);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](2);
        rs[0] = reading(2, I, 0, 900, 0, 0);
        ss[0] = signReading(gatewayKey(2), rs[0]);
        rs[1] = reading(1, I, 400, 0, 0, 0); // a conflicting rewrite of revision 0
        ss[1] = signReading(gatewayKey(1), rs[1]);
        vm.expectPartialRevert(IDeliverySettlement.ReadingConflict.selector);
        settlement.submitReadings(rs, ss);
        (bool p,,,,) = _stored(2, I);
        vm.assertFalse(p, "the batch is atomic");
        (, uint64 imp,,,) = _stored(1, I);
        vm.assertEq(uint256(imp), 500, "the accepted reading is kept");
    }

    function test_prices_oracleOnly_withRevisions() public {
        vm.assertEq(postPrice(I, 42_000, 0), 1, "stored");
        vm.assertEq(postPrice(I, 42_000, 0), 0, "duplicate");
        (bool p, int64 v, uint32 rev,) = settlement.price(MARKET, I);
        vm.assertTrue(p, "present");
        vm.assertEq(int256(v), 42_000, "price");
        vm.assertEq(uint256(rev), 0, "revision");
        vm.assertEq(postPrice(I, -15_000, 1), 1, "negative revision");
        (, v, rev,) = settlement.price(MARKET, I);
        vm.assertEq(int256(v), -15_000, "negative price");

        ReadingLib.RealTimePrice[] memory ps = new ReadingLib.RealTimePrice[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        ps[0] = ReadingLib.RealTimePrice({market: MARKET, interval: I, price: 1, revision: 0});
        ss[0] = compact(ORACLE_PK, settlement.priceDigest(ps[0]));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.ReadingStaleRevision.selector, MARKET, I, uint32(1), uint32(0)
            )
        );
        settlement.submitPrices(ps, ss);
        ps[0].revision = 2;
        ss[0] = compact(gatewayKey(1), settlement.priceDigest(ps[0]));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeliverySettlement.ReadingUnauthorized.selector, MARKET, I, vm.addr(gatewayKey(1))
            )
        );
        settlement.submitPrices(ps, ss);
        ps[0].market = bytes32(uint256(1));
        vm.expectRevert(
            abi.encodeWithSelector(IDeliverySettlement.SettlementUnknownMarket.selector, bytes32(uint256(1)))
        );
        settlement.submitPrices(ps, ss);
    }

    function test_digests_matchEip712() public view {
        ReadingLib.MeterReading memory r = reading(1, I, 1, 2, 0, 3);
        bytes32 sh = keccak256(
            abi.encode(
                ReadingLib.METER_READING_TYPEHASH,
                r.meterId,
                r.interval,
                r.importWh,
                r.exportWh,
                r.quality,
                r.revision
            )
        );
        vm.assertEq(
            settlement.readingDigest(r),
            keccak256(abi.encodePacked("\x19\x01", settlement.domainSeparator(), sh)),
            "reading digest"
        );
        vm.assertEq(
            ReadingLib.REAL_TIME_PRICE_TYPEHASH,
            keccak256("RealTimePrice(bytes32 market,uint64 interval,int64 price,uint32 revision)"),
            "price type hash"
        );
    }
}
