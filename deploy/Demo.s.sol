// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Vm} from "../contracts/test/utils/Vm.sol";
import {MockERC20, AcceptAllVerifier} from "../contracts/test/utils/Mocks.sol";
import {ClearingVerifier} from "../contracts/src/ClearingVerifier.sol";
import {IClearingVerifier} from "../contracts/src/interfaces/IClearingVerifier.sol";
import {SealgridAuction} from "../contracts/src/SealgridAuction.sol";
import {IPoseidonT4, IPoseidonT5} from "../contracts/src/interfaces/IPoseidon.sol";
import {ISealgridAuction} from "../contracts/src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken} from "../contracts/src/EnergyIntentToken.sol";
import {MeterRegistry} from "../contracts/src/MeterRegistry.sol";
import {DeliverySettlement} from "../contracts/src/DeliverySettlement.sol";
import {GranularCertificates} from "../contracts/src/GranularCertificates.sol";

interface VmScript {
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
    function envUint(string calldata name) external view returns (uint256);
    function envAddress(string calldata name) external view returns (address);
}

/// @notice The devnet deployment (crates/chain's `Devnet` runs it on a local anvil): token,
///         intent token, Poseidon hashers, auction, the demo market with its bond, the meter
///         registry, delivery settlement (oracle: dev key 5, balancing account: dev key 6's
///         address, readings due 15 minutes after an interval ends, true-ups for 180 days) and
///         granular certificates, a timelock as admin, and four funded traders with approvals.
///         `deploy()` gives the market the real verifier: the ClearingVerifier adapter over the
///         generated halo2 verifiers of capacities 4 and 16 (devnet KZG parameters), so the market
///         takes at most 16 commitments per interval. `deployWithTestVerifier()` gives it the
///         TEST-ONLY AcceptAllVerifier from contracts/test and 4,096 commitments, for tests and
///         benchmarks of everything but the proof.
contract Demo {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    VmScript internal constant vms = VmScript(address(uint160(uint256(keccak256("hevm cheat code")))));
    bytes32 internal constant MARKET = bytes32(uint256(keccak256("sealgrid/demo/feeder-7")) >> 8);
    // anvil's well-known dev keys (public; never use them outside a devnet)
    uint256 internal constant K0 = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;
    uint256 internal constant K1 = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 internal constant K2 = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 internal constant K3 = 0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6;
    uint256 internal constant K4 = 0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a;
    uint256 internal constant K5 = 0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba;
    uint256 internal constant K6 = 0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e;

    /// @notice Deploys with the real clearing verifier.
    function deploy() external {
        _deploy(true);
    }

    /// @notice Deploys with the TEST-ONLY accept-all verifier.
    function deployWithTestVerifier() external {
        _deploy(false);
    }

    function _verifier(bool real) internal returns (IClearingVerifier) {
        if (!real) return new AcceptAllVerifier();
        uint32[] memory caps = new uint32[](2);
        (caps[0], caps[1]) = (4, 16);
        address[] memory vs = new address[](2);
        (vs[0], vs[1]) = (_staged("Halo2ClearingVerifier4"), _staged("Halo2ClearingVerifier16"));
        bytes32[] memory hs = new bytes32[](2);
        (hs[0], hs[1]) = (vs[0].codehash, vs[1].codehash);
        return new ClearingVerifier(caps, vs, hs);
    }

    /// @dev A two-stage generated verifier: stage 2 (no immutables: its runtime code hash is its
    ///      artifact's), then the entry pinned to it.
    function _staged(string memory name) internal returns (address entry) {
        string memory last = string.concat(name, ".sol:", name, "Stage2");
        address stage2 = vm.deployCode(last);
        entry = vm.deployCode(
            string.concat(name, ".sol:", name), abi.encode(stage2, keccak256(vm.getDeployedCode(last)))
        );
    }

    function _deploy(bool real) internal {
        address deployer = vm.addr(K0);
        vms.startBroadcast(K0);
        MockERC20 token = new MockERC20();
        EnergyIntentToken intents =
            new EnergyIntentToken(deployer, "https://sealgrid.invalid/intent/{id}.json");
        // The Poseidon libraries are their own contracts (compiled for runtime gas).
        SealgridAuction auction = new SealgridAuction(
            deployer,
            deployer,
            intents,
            IPoseidonT4(vm.deployCode("PoseidonT4.sol:PoseidonT4")),
            IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"))
        );
        intents.grantRole(intents.MINTER_ROLE(), address(auction));
        auction.createMarket(
            MARKET,
            ISealgridAuction.MarketParams({
                token: IERC20(address(token)),
                verifier: _verifier(real),
                operator: deployer,
                intervalLength: 300,
                gateLead: 300,
                settleWindow: 240,
                commitHorizon: 86_400,
                maxCommitments: real ? 16 : 4096,
                verifierGasLimit: 800_000,
                priceFloor: -500_000,
                priceCap: 5_000_000,
                minBond: 1000e6,
                slashAmount: 100e6,
                maxPerAccount: 32,
                unopenedFee: 0
            })
        );
        token.mint(deployer, 10_000e6);
        token.approve(address(auction), type(uint256).max);
        auction.depositBond(MARKET, 2000e6);
        // Delivery: the registry (the deployer is the meter desk), settlement and certificates.
        MeterRegistry registry = new MeterRegistry(deployer, deployer);
        DeliverySettlement settlement =
            new DeliverySettlement(deployer, deployer, registry, auction, intents, 300, 900, 180 days);
        new GranularCertificates(registry, settlement, "https://sealgrid.invalid/gc/{id}.json");
        intents.grantRole(intents.MARKET_ROLE(), address(settlement));
        settlement.configureMarket(MARKET, vm.addr(K5), vm.addr(K6));
        // Governance: a timelock becomes the admin; the deployer keeps only the pauser role.
        address[] memory proposers = new address[](1);
        proposers[0] = deployer;
        TimelockController timelock = new TimelockController(2 days, proposers, proposers, address(0));
        auction.grantRole(auction.DEFAULT_ADMIN_ROLE(), address(timelock));
        intents.grantRole(intents.DEFAULT_ADMIN_ROLE(), address(timelock));
        registry.grantRole(registry.DEFAULT_ADMIN_ROLE(), address(timelock));
        settlement.grantRole(settlement.DEFAULT_ADMIN_ROLE(), address(timelock));
        auction.renounceRole(auction.DEFAULT_ADMIN_ROLE(), deployer);
        intents.renounceRole(intents.DEFAULT_ADMIN_ROLE(), deployer);
        registry.renounceRole(registry.DEFAULT_ADMIN_ROLE(), deployer);
        settlement.renounceRole(settlement.DEFAULT_ADMIN_ROLE(), deployer);
        uint256[4] memory keys = [K1, K2, K3, K4];
        for (uint256 k; k < 4; ++k) {
            token.mint(vm.addr(keys[k]), 1000e6);
        }
        vms.stopBroadcast();
        for (uint256 k; k < 4; ++k) {
            vms.startBroadcast(keys[k]);
            token.approve(address(auction), type(uint256).max);
            vms.stopBroadcast();
        }
    }
}
