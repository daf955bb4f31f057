// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeliveryFixture} from "./utils/DeliveryFixture.sol";
import {MeterRegistry} from "../src/MeterRegistry.sol";
import {ReadingLib} from "../src/libraries/ReadingLib.sol";

/// @notice Gas of delivery settlement, written to snapshots/DeliveryGas.json (committed; run with
///         `FOUNDRY_PROFILE=gas forge test --match-contract DeliveryGas`, regenerate with
///         FORGE_SNAPSHOT_CHECK=false). Every call is its own transaction (isolate = true), so the
///         figures are whole transactions: 21,000 base, calldata and cold storage included.
///         Targets: a reading <= 30k in batches of 100 (calldata included); a certificate
///         issuance for one device-hour <= 60k.
contract DeliveryGas is DeliveryFixture {
    uint256 internal constant METERS = 100;
    uint64 internal I;

    function setUp() public override {
        super.setUp();
        for (uint256 n = 1; n <= METERS; ++n) {
            registerMeter(n, address(uint160(0x1000 + n)), MeterRegistry.EnergySource.Solar);
        }
        I = uint64(T0 / L) & ~uint64(1); // even: intervals I and I + 1 share a storage slot
        vm.warp(endOf(I + 1) + 10);
    }

    function _batch(uint256 meters, uint64 intervals)
        internal
        view
        returns (ReadingLib.MeterReading[] memory rs, ReadingLib.Signature[] memory ss)
    {
        rs = new ReadingLib.MeterReading[](meters * intervals);
        ss = new ReadingLib.Signature[](meters * intervals);
        uint256 k;
        for (uint256 n = 1; n <= meters; ++n) {
            for (uint64 j; j < intervals; ++j) {
                rs[k] = reading(n, I + j, uint64(1000 + 37 * n), uint64(2000 + 11 * n + j), 0, 0);
                ss[k] = signReading(gatewayKey(n), rs[k]);
                ++k;
            }
        }
    }

    /// The shape a gateway head-end posts every 10 minutes: 50 meters x 2 intervals.
    function test_gas_readings_50meters_2intervals() public {
        (ReadingLib.MeterReading[] memory rs, ReadingLib.Signature[] memory ss) = _batch(50, 2);
        settlement.submitReadings(rs, ss);
        uint256 g = vm.snapshotGasLastCall("submitReadings 100 (50 meters x 2 intervals)");
        vm.snapshotValue("submitReadings 100 (50 meters x 2 intervals), per reading", g / 100);
        vm.assertLe(g / 100, 30_000, "<= 30k per reading, calldata and base included");
    }

    /// Every reading in its own storage slot: 100 meters x 1 interval (recorded, see the note in
    /// docs/settlement.md).
    function test_gas_readings_100meters_1interval() public {
        (ReadingLib.MeterReading[] memory rs, ReadingLib.Signature[] memory ss) = _batch(100, 1);
        settlement.submitReadings(rs, ss);
        uint256 g = vm.snapshotGasLastCall("submitReadings 100 (100 meters x 1 interval)");
        vm.snapshotValue("submitReadings 100 (100 meters x 1 interval), per reading", g / 100);
    }

    function test_gas_settle_20accounts() public {
        (ReadingLib.MeterReading[] memory rs, ReadingLib.Signature[] memory ss) = _batch(20, 1);
        settlement.submitReadings(rs, ss);
        address[] memory accounts = new address[](20);
        for (uint256 n = 1; n <= 20; ++n) {
            accounts[n - 1] = address(uint160(0x1000 + n));
            position(accounts[n - 1], I, 0, uint64(1000));
            collateral(accounts[n - 1], 1e9);
        }
        collateral(balancing, 1e12);
        postPrice(I, 85_000, 0);
        vm.warp(endOf(I) + READING_WINDOW);
        settlement.settle(MARKET, I, accounts);
        uint256 g = vm.snapshotGasLastCall("settle 20 accounts");
        vm.snapshotValue("settle 20 accounts, per account", g / 20);
        // A revised price resettles all of them.
        vm.warp(endOf(I) + READING_WINDOW + 60);
        postPrice(I, 90_000, 1);
        settlement.resettle(MARKET, I, accounts);
        g = vm.snapshotGasLastCall("resettle 20 accounts");
        vm.snapshotValue("resettle 20 accounts, per account", g / 20);
        // A withdrawal checks the exposure: the intents held over the open intervals.
        vm.prank(accounts[0]);
        settlement.withdraw(IERC20(address(token)), accounts[0], 1e6);
        vm.snapshotGasLastCall("withdraw (exposure over the open intervals, one market)");
    }

    function test_gas_issueCertificates() public {
        uint64 h = (I + 24) / 12; // an hour whose 12 intervals are all ahead
        uint64 first = h * 12;
        vm.warp((uint256(first) + 12) * L + 10);
        uint256 devices = 20;
        bytes32[] memory ids = new bytes32[](devices);
        for (uint256 n = 1; n <= devices; ++n) {
            ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](12);
            ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](12);
            for (uint64 j; j < 12; ++j) {
                rs[j] = reading(n, first + j, 0, uint64(2000 + j + n), 0, 0);
                ss[j] = signReading(gatewayKey(n), rs[j]);
            }
            settlement.submitReadings(rs, ss);
            ids[n - 1] = meterId(n);
        }
        vm.warp((uint256(first) + 12) * L + READING_WINDOW);
        certs.issue(meterId(devices + 1), h); // a device without readings: nothing to mint
        certs.issue(meterId(1), h);
        vm.snapshotGasLastCall("issue certificates (one device-hour, alone in its transaction)");
        ids[0] = meterId(devices + 2); // no readings either; the batch covers devices 2..20
        certs.issueBatch(ids, h);
        uint256 g = vm.snapshotGasLastCall("issueBatch (19 device-hours)");
        vm.snapshotValue("issueBatch (19 device-hours), per device-hour", g / (devices - 1));
        vm.assertLe(g / (devices - 1), 60_000, "issuance <= 60k per device-hour, in the hourly batch");
        vm.assertEq(
            certs.balanceOf(address(uint160(0x1000 + 5)), certs.certificateId(5, h)), 12 * 2005 + 66, "minted"
        );
    }
}
