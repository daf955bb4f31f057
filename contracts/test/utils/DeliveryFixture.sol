// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AuctionFixture} from "./Fixture.sol";
import {MeterRegistry} from "../../src/MeterRegistry.sol";
import {DeliverySettlement} from "../../src/DeliverySettlement.sol";
import {GranularCertificates} from "../../src/GranularCertificates.sol";
import {ReadingLib} from "../../src/libraries/ReadingLib.sol";
import {tokenId} from "../../src/EnergyIntentToken.sol";

/// @notice The auction fixture plus the meter registry, delivery settlement and certificates,
///         with one configured market, an oracle, a balancing account and helpers to register
///         meters, sign readings and prices, and give accounts positions (intent tokens).
abstract contract DeliveryFixture is AuctionFixture {
    MeterRegistry internal registry;
    DeliverySettlement internal settlement;
    GranularCertificates internal certs;

    address internal registrar = address(0x4E6);
    uint256 internal constant ORACLE_PK = 0x0AC1E;
    address internal oracle;
    address internal balancing = address(0xBA1);
    uint32 internal constant READING_WINDOW = 3600;
    uint32 internal constant TRUE_UP_WINDOW = 180 days;
    uint32 internal seq;

    function setUp() public virtual override {
        super.setUp();
        oracle = vm.addr(ORACLE_PK);
        registry = new MeterRegistry(admin, registrar);
        settlement = new DeliverySettlement(
            admin, pauser, registry, auction, intents, L, READING_WINDOW, TRUE_UP_WINDOW
        );
        certs = new GranularCertificates(registry, settlement, "https://sealgrid.invalid/gc/{id}.json");
        vm.startPrank(admin);
        intents.grantRole(intents.MARKET_ROLE(), address(settlement));
        intents.grantRole(intents.MARKET_ROLE(), address(this)); // positions without an auction round
        intents.grantRole(intents.MINTER_ROLE(), address(this));
        settlement.configureMarket(MARKET, oracle, balancing);
        vm.stopPrank();
        (, seq,,) = auction.getMarket(MARKET);
        vm.label(address(settlement), "settlement");
        vm.label(balancing, "balancing");
        vm.label(oracle, "oracle");
    }

    function gatewayKey(uint256 n) internal pure returns (uint256) {
        return 0x6A7E000 + n;
    }

    function meterId(uint256 n) internal pure returns (bytes32) {
        return keccak256(abi.encode("meter", n));
    }

    /// @dev Registers meter `n` of `owner` in MARKET with gateway key gatewayKey(n).
    function registerMeter(uint256 n, address owner, MeterRegistry.EnergySource source)
        internal
        returns (bytes32 id)
    {
        id = meterId(n);
        vm.prank(registrar);
        registry.registerMeter(
            id,
            MeterRegistry.Meter({
                owner: owner,
                device: 0,
                gateway: vm.addr(gatewayKey(n)),
                gatewayFrom: 0,
                accuracy: MeterRegistry.AccuracyClass.C12_20_0_2,
                generator: source != MeterRegistry.EnergySource.None,
                source: source,
                site: keccak256(abi.encode("site", n)),
                zone: bytes32("US-CAISO"),
                market: MARKET
            })
        );
    }

    function reading(uint256 n, uint64 interval, uint64 imp, uint64 exp, uint8 quality, uint32 revision)
        internal
        pure
        returns (ReadingLib.MeterReading memory)
    {
        return ReadingLib.MeterReading({
            meterId: meterId(n),
            interval: interval,
            importWh: imp,
            exportWh: exp,
            quality: quality,
            revision: revision
        });
    }

    function compact(uint256 pk, bytes32 digest) internal pure returns (ReadingLib.Signature memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return ReadingLib.Signature({r: r, vs: bytes32(uint256(s) | (uint256(v - 27) << 255))});
    }

    function signReading(uint256 pk, ReadingLib.MeterReading memory r)
        internal
        view
        returns (ReadingLib.Signature memory)
    {
        return compact(pk, settlement.readingDigest(r));
    }

    function submit1(ReadingLib.MeterReading memory r, uint256 pk) internal returns (uint256) {
        ReadingLib.MeterReading[] memory rs = new ReadingLib.MeterReading[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        rs[0] = r;
        ss[0] = signReading(pk, r);
        return settlement.submitReadings(rs, ss);
    }

    /// @dev Submits the reading of meter `n` signed by its own gateway.
    function submit(uint256 n, uint64 interval, uint64 imp, uint64 exp, uint8 quality, uint32 revision)
        internal
        returns (uint256)
    {
        return submit1(reading(n, interval, imp, exp, quality, revision), gatewayKey(n));
    }

    function postPrice(uint64 interval, int64 price, uint32 revision) internal returns (uint256) {
        ReadingLib.RealTimePrice[] memory ps = new ReadingLib.RealTimePrice[](1);
        ReadingLib.Signature[] memory ss = new ReadingLib.Signature[](1);
        ps[0] =
            ReadingLib.RealTimePrice({market: MARKET, interval: interval, price: price, revision: revision});
        ss[0] = compact(ORACLE_PK, settlement.priceDigest(ps[0]));
        return settlement.submitPrices(ps, ss);
    }

    /// @dev Gives `who` bought and sold intents of `interval` (as a claim would).
    function position(address who, uint64 interval, uint64 bought, uint64 sold) internal {
        if (bought != 0) intents.mint(who, tokenId(seq, interval, 0), bought);
        if (sold != 0) intents.mint(who, tokenId(seq, interval, 1), sold);
    }

    function collateral(address who, uint256 amount) internal {
        token.mint(address(this), amount);
        token.approve(address(settlement), amount);
        settlement.deposit(IERC20(address(token)), who, amount);
    }

    function endOf(uint64 interval) internal pure returns (uint256) {
        return (uint256(interval) + 1) * L;
    }

    function one(address a) internal pure returns (address[] memory as_) {
        as_ = new address[](1);
        as_[0] = a;
    }

    function bal(address who) internal view returns (uint256) {
        return settlement.balanceOf(IERC20(address(token)), who);
    }

    function fees() internal view returns (uint256) {
        return settlement.fees(IERC20(address(token)));
    }
}
