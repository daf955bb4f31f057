// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {DeliveryFixture} from "../utils/DeliveryFixture.sol";
import {GranularCertificates, IGranularCertificates} from "../../src/GranularCertificates.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {ReadingLib} from "../../src/libraries/ReadingLib.sol";

/// @notice Hourly granular certificates: issuance from verified export, once per Wh; transfer;
///         retirement; attributes.
contract CertificatesTest is DeliveryFixture {
    uint64 internal H; // an hour
    uint64 internal I0; // its first interval
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        H = uint64(T0 / 3600) + 1;
        I0 = H * 12;
        registerMeter(1, alice, MeterRegistry.EnergySource.Solar); // device 1
        registerMeter(2, bob, MeterRegistry.EnergySource.None); // a consumer
        registerMeter(3, carol, MeterRegistry.EnergySource.Storage); // a battery: not renewable
        id = certs.certificateId(1, H);
        vm.warp((uint256(H) + 1) * 3600 + READING_WINDOW);
    }

    function _hourOfReadings() internal {
        for (uint64 k; k < 12; ++k) {
            submit(1, I0 + k, 0, 1000 + k, k == 5 ? ReadingLib.ESTIMATED : ReadingLib.ACTUAL, 0);
        }
    }

    function test_issue_mintsVerifiedExport_once() public {
        _hourOfReadings();
        // 12 readings, 1000..1011 Wh; the estimated one (1005) does not count.
        uint256 expected = 12 * 1000 + 66 - 5 - 1000;
        vm.assertEq(certs.issue(meterId(1), H), expected, "minted");
        vm.assertEq(certs.balanceOf(alice, id), expected, "to the owner");
        vm.assertEq(certs.issued(id), expected, "issued");
        vm.assertEq(certs.issue(meterId(1), H), 0, "never twice");
        // The estimated interval gets its actual reading: only the increase is minted.
        submit(1, I0 + 5, 0, 1005, ReadingLib.ACTUAL, 1);
        vm.assertEq(certs.issue(meterId(1), H), 1005, "the increase");
        vm.assertEq(certs.balanceOf(alice, id), expected + 1005, "total");
        (uint256 verified, uint256 missing) = settlement.verifiedExport(meterId(1), I0, 12);
        vm.assertEq(certs.issued(id), verified, "supply equals verified export");
        vm.assertEq(missing, 0, "no gaps");
    }

    function test_issue_countsOnlyDueIntervals() public {
        _hourOfReadings();
        // Back to when only the first 3 intervals were past their reading deadline.
        vm.warp((uint256(I0) + 3) * L + READING_WINDOW);
        vm.assertEq(certs.issue(meterId(1), H), 1000 + 1001 + 1002, "three due intervals");
    }

    function test_downwardRevision_isReported_notReissued() public {
        _hourOfReadings();
        uint256 first = certs.issue(meterId(1), H);
        submit(1, I0, 0, 0, ReadingLib.ACTUAL, 1); // corrected down by 1,000 Wh
        vm.assertEq(certs.issue(meterId(1), H), 0, "nothing minted");
        vm.assertEq(certs.issued(id), first, "issued unchanged");
        // Later increases are minted only above what was issued.
        submit(1, I0, 0, 1500, ReadingLib.ACTUAL, 2);
        vm.assertEq(certs.issue(meterId(1), H), 500, "only above the issued figure");
    }

    function test_onlyRenewableGenerators() public {
        vm.expectRevert(
            abi.encodeWithSelector(IGranularCertificates.CertificateNotEligible.selector, meterId(2))
        );
        certs.issue(meterId(2), H);
        vm.expectRevert(
            abi.encodeWithSelector(IGranularCertificates.CertificateNotEligible.selector, meterId(3))
        );
        certs.issue(meterId(3), H);
        vm.expectRevert(
            abi.encodeWithSelector(IGranularCertificates.CertificateNotEligible.selector, meterId(9))
        );
        certs.issue(meterId(9), H);
    }

    function test_transfer_thenRetire_andRetiredNeverMove() public {
        _hourOfReadings();
        certs.issue(meterId(1), H);
        // The seller's certificates follow a fill to the buyer.
        vm.prank(alice);
        certs.safeTransferFrom(alice, bob, id, 4000, "");
        vm.prank(bob);
        certs.retire(id, 3000, bob, keccak256("scope-2 disclosure 2026"));
        vm.assertEq(certs.balanceOf(bob, id), 1000, "rest held");
        vm.assertEq(certs.retired(id), 3000, "retired");
        // Retired Wh are gone from the holder: they cannot be moved or retired again.
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, bob, 1000, 1001, id)
        );
        certs.safeTransferFrom(bob, carol, id, 1001, "");
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, bob, 1000, 3000, id)
        );
        certs.retire(id, 3000, bob, bytes32(0));
        vm.expectRevert(IGranularCertificates.CertificateInvalidRetirement.selector);
        certs.retire(id, 0, bob, bytes32(0));
        vm.expectRevert(IGranularCertificates.CertificateInvalidRetirement.selector);
        certs.retire(id, 1, address(0), bytes32(0));
        // Supply: issued = held + retired.
        vm.assertEq(
            certs.issued(id),
            certs.balanceOf(alice, id) + certs.balanceOf(bob, id) + certs.retired(id),
            "supply"
        );
    }

    function test_transferAlongFills_needsTheHoldersApproval() public {
        _hourOfReadings();
        certs.issue(meterId(1), H);
        GranularCertificates.Move[] memory moves = new GranularCertificates.Move[](2);
        moves[0] = GranularCertificates.Move({from: alice, to: bob, id: id, wh: 700});
        moves[1] = GranularCertificates.Move({from: alice, to: carol, id: id, wh: 300});
        address operatorDesk = address(0x0DE5);
        vm.prank(operatorDesk);
        vm.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155MissingApprovalForAll.selector, operatorDesk, alice)
        );
        certs.transferAlongFills(moves);
        vm.prank(alice);
        certs.setApprovalForAll(operatorDesk, true);
        vm.prank(operatorDesk);
        certs.transferAlongFills(moves);
        vm.assertEq(certs.balanceOf(bob, id), 700, "bob");
        vm.assertEq(certs.balanceOf(carol, id), 300, "carol");
        // More than the holder has: the whole batch fails.
        moves[0].wh = certs.balanceOf(alice, id);
        vm.prank(operatorDesk);
        vm.expectPartialRevert(IERC1155Errors.ERC1155InsufficientBalance.selector);
        certs.transferAlongFills(moves);
    }

    function test_attributes() public view {
        (bytes32 meter, MeterRegistry.EnergySource source, bytes32 zone, uint64 start, uint64 end) =
            certs.certificate(id);
        vm.assertEq(meter, meterId(1), "device");
        vm.assertEq(uint256(source), uint256(MeterRegistry.EnergySource.Solar), "source");
        vm.assertEq(zone, bytes32("US-CAISO"), "zone");
        vm.assertEq(uint256(start), uint256(H) * 3600, "start");
        vm.assertEq(uint256(end), uint256(H) * 3600 + 3600, "end");
    }

    function test_attributes_ofUnknownIds_revert() public {
        vm.expectRevert(
            abi.encodeWithSelector(IGranularCertificates.CertificateInvalidId.selector, uint256(99) << 64)
        );
        certs.certificate(uint256(99) << 64);
        vm.expectRevert(
            abi.encodeWithSelector(IGranularCertificates.CertificateInvalidId.selector, uint256(1) << 100)
        );
        certs.certificate(uint256(1) << 100);
    }
}
