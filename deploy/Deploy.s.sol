// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MockERC20} from "../contracts/test/utils/Mocks.sol";
import {ClearingVerifier} from "../contracts/src/ClearingVerifier.sol";
import {SealgridAuction} from "../contracts/src/SealgridAuction.sol";
import {IPoseidonT4, IPoseidonT5} from "../contracts/src/interfaces/IPoseidon.sol";
import {ISealgridAuction} from "../contracts/src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken} from "../contracts/src/EnergyIntentToken.sol";
import {MeterRegistry} from "../contracts/src/MeterRegistry.sol";
import {DeliverySettlement} from "../contracts/src/DeliverySettlement.sol";
import {GranularCertificates} from "../contracts/src/GranularCertificates.sol";
import {MarketAccountFactory} from "../contracts/src/accounts/MarketAccountFactory.sol";
import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {IMarketPaymaster} from "../contracts/src/interfaces/IMarketPaymaster.sol";

interface VmDeploy {
    function startBroadcast(uint256 privateKey) external;
    function startBroadcast() external;
    function parseUint(string calldata value) external pure returns (uint256);
    function envOr(string calldata name, string calldata defaultValue) external view returns (string memory);
    function stopBroadcast() external;
    function addr(uint256 privateKey) external pure returns (address);
    function deployCode(string calldata artifactPath) external returns (address deployed);
    function deployCode(string calldata artifactPath, bytes calldata constructorArgs, uint256 value)
        external
        returns (address deployed);
    function envUint(string calldata name) external view returns (uint256);
    function envInt(string calldata name) external view returns (int256);
    function envAddress(string calldata name) external view returns (address);
    function envBytes32(string calldata name) external view returns (bytes32);
    function envString(string calldata name) external view returns (string memory);
    function envOr(string calldata name, address defaultValue) external view returns (address);
    function envOr(string calldata name, string calldata delim, address[] calldata defaultValue)
        external
        view
        returns (address[] memory);
    function envOr(string calldata name, string calldata delim, uint256[] calldata defaultValue)
        external
        view
        returns (uint256[] memory);
    function envOr(string calldata name, string calldata delim, bytes32[] calldata defaultValue)
        external
        view
        returns (bytes32[] memory);
}

/// @notice What the deployment needs of the market paymaster beyond {IMarketPaymaster} (its
///         BasePaymaster's owner and deposit). The paymaster is deployed from its artifact: its
///         source is compiled at optimizer runs = 1,000,000 (foundry.toml), and importing it here
///         would compile this script, and the auction it creates, at those runs too, past EIP-170.
interface IPaymasterAdmin {
    /// @notice The paymaster's owner.
    /// @return The owner.
    function owner() external view returns (address);
    /// @notice Adds the sent value to the paymaster's EntryPoint deposit.
    function deposit() external payable;
}

/// @notice Tells the deployment script who it broadcasts from: forge gives a call made under
///         `vm.startBroadcast()` the broadcasting account as its sender, and records no
///         transaction for a static call.
contract DeployerProbe {
    /// @notice The caller.
    /// @return The address that called.
    function caller() external view returns (address) {
        return msg.sender;
    }
}

/// @notice The production deployment, driven by `sealgrid deploy --rpc URL --config FILE`, which
///         validates the config (deploy/config/*.toml), deploys the generated halo2 verifiers and
///         passes everything here as `SG_*` environment variables. The deployer signs in one of
///         two ways: with a raw key in SG_DEPLOYER_KEY (local devnets only: the environment, so it
///         never appears in a process list), or, with SG_DEPLOYER_KEY unset or empty, with forge's
///         own wallet options (`forge script deploy/Deploy.s.sol --broadcast --keystore FILE |
///         --account NAME | --ledger ... --sender ADDRESS`; `sealgrid deploy` passes
///         `--keystore` for a keystore key spec). It deploys:
///         intent token, Poseidon hashers, auction, the ClearingVerifier adapter over the verifiers
///         (SG_VERIFIERS, each pinned to its runtime code hash in SG_VERIFIER_CODEHASHES),
///         one market with its operator bond, the meter registry, delivery settlement (configured
///         for the market) and granular certificates, and a TimelockController that takes over
///         every admin role (the deployer keeps none). `SG_TOKEN = 0` deploys a mock token (local networks only;
///         the CLI refuses it elsewhere).
/// @dev Refuses, before sending anything, a timelock without proposers (nobody could ever change
///      anything) or without executors (nothing proposed could ever run), and checks at the end
///      that the timelock is the only admin of every contract deployed here: of the auction, the
///      intent token, the meter registry and delivery settlement, and of itself (no admin but
///      itself). The paymaster's owner is set in `_paymaster`.
contract Deploy {
    VmDeploy internal constant vm = VmDeploy(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @notice SG_PROPOSERS is empty: the timelock would have no proposer.
    error DeployNoProposers();
    /// @notice SG_EXECUTORS is empty: the timelock would have no executor.
    error DeployNoExecutors();
    /// @notice After the deployment the admin role of `target` is wrong for `account`: the timelock
    ///         lacks it, or the deployer still holds it.
    error DeployAdminMismatch(address target, address account);
    /// @notice After the deployment `target` is owned by `owner`, not by the timelock.
    error DeployOwnerMismatch(address target, address owner);

    /// @notice Runs the deployment.
    function run() external {
        (address[] memory proposers, address[] memory executors) = _timelockSets();
        address deployer = _startBroadcast();
        (SealgridAuction auction, EnergyIntentToken intents, bytes32 market) = _auction(deployer);
        (MeterRegistry registry, DeliverySettlement settlement, GranularCertificates certs) =
            _delivery(deployer, auction, intents, market);
        // Governance: the timelock (its own admin) becomes the only admin; it owns the paymaster
        // from construction on.
        TimelockController timelock =
            new TimelockController(vm.envUint("SG_TIMELOCK_DELAY"), proposers, executors, address(0));
        IPaymasterAdmin paymaster = _paymaster(address(timelock), auction, certs);
        IAccessControl[4] memory governed = [
            IAccessControl(address(auction)),
            IAccessControl(address(intents)),
            IAccessControl(address(registry)),
            IAccessControl(address(settlement))
        ];
        for (uint256 k; k < governed.length; ++k) {
            governed[k].grantRole(0x00, address(timelock)); // DEFAULT_ADMIN_ROLE
            governed[k].renounceRole(0x00, deployer);
        }
        vm.stopBroadcast();

        for (uint256 k; k < governed.length; ++k) {
            _onlyTimelock(governed[k], timelock, deployer);
        }
        _onlyTimelock(IAccessControl(address(timelock)), timelock, deployer);
        if (address(paymaster) != address(0) && paymaster.owner() != address(timelock)) {
            revert DeployOwnerMismatch(address(paymaster), paymaster.owner());
        }
    }

    /// @dev The token (a mock when SG_TOKEN is zero), the verifier adapter, the intent token, the
    ///      auction (the intent token's only minter) and its market with the operator bond.
    function _auction(address deployer)
        internal
        returns (SealgridAuction auction, EnergyIntentToken intents, bytes32 market)
    {
        IERC20 token = IERC20(vm.envAddress("SG_TOKEN"));
        if (address(token) == address(0)) {
            MockERC20 mock = new MockERC20();
            mock.mint(deployer, vm.envUint("SG_BOND"));
            token = IERC20(address(mock));
        }
        ClearingVerifier verifier = _verifier();
        intents = new EnergyIntentToken(deployer, vm.envString("SG_INTENT_URI"));
        auction = new SealgridAuction(
            deployer,
            vm.envAddress("SG_PAUSER"),
            intents,
            IPoseidonT4(vm.deployCode("PoseidonT4.sol:PoseidonT4")),
            IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"))
        );
        intents.grantRole(intents.MINTER_ROLE(), address(auction));
        market = vm.envBytes32("SG_MARKET");
        auction.createMarket(market, _params(token, verifier));
        uint256 bond = vm.envUint("SG_BOND");
        if (bond > 0) {
            token.approve(address(auction), bond);
            auction.depositBond(market, uint128(bond));
        }
    }

    /// @dev Starts the broadcast and returns the deployer: with SG_DEPLOYER_KEY set, that key's
    ///      account; otherwise whoever forge broadcasts from (`--sender`, or the one wallet of
    ///      `--keystore`, `--account`, `--ledger`), asked of a {DeployerProbe} created before the
    ///      broadcast (so never sent) through a static call (never a transaction). The deployer
    ///      only gets roles it renounces (a wrong address could not renounce them), and the checks
    ///      in {run} confirm it keeps none.
    function _startBroadcast() internal returns (address deployer) {
        string memory raw = vm.envOr("SG_DEPLOYER_KEY", string(""));
        if (bytes(raw).length != 0) {
            uint256 key = vm.parseUint(raw);
            vm.startBroadcast(key);
            return vm.addr(key);
        }
        DeployerProbe probe = new DeployerProbe();
        vm.startBroadcast();
        return probe.caller();
    }

    /// @dev SG_PROPOSERS and SG_EXECUTORS (comma-separated); reverts if either is empty.
    function _timelockSets() internal view returns (address[] memory proposers, address[] memory executors) {
        address[] memory none = new address[](0);
        proposers = vm.envOr("SG_PROPOSERS", ",", none);
        executors = vm.envOr("SG_EXECUTORS", ",", none);
        if (proposers.length == 0) revert DeployNoProposers();
        if (executors.length == 0) revert DeployNoExecutors();
    }

    /// @dev Reverts unless `timelock` holds DEFAULT_ADMIN_ROLE on `target` and the deployer does not.
    function _onlyTimelock(IAccessControl target, TimelockController timelock, address deployer)
        internal
        view
    {
        bytes32 admin = 0x00; // DEFAULT_ADMIN_ROLE
        if (!target.hasRole(admin, address(timelock))) {
            revert DeployAdminMismatch(address(target), address(timelock));
        }
        if (target.hasRole(admin, deployer)) revert DeployAdminMismatch(address(target), deployer);
    }

    function _delivery(address deployer, SealgridAuction auction, EnergyIntentToken intents, bytes32 market)
        internal
        returns (MeterRegistry registry, DeliverySettlement settlement, GranularCertificates certs)
    {
        registry = new MeterRegistry(deployer, vm.envAddress("SG_REGISTRAR"));
        settlement = new DeliverySettlement(
            deployer,
            vm.envAddress("SG_PAUSER"),
            registry,
            auction,
            intents,
            vm.envUint("SG_INTERVAL_LENGTH"),
            uint32(vm.envUint("SG_READING_WINDOW")),
            uint32(vm.envUint("SG_TRUE_UP_WINDOW"))
        );
        certs = new GranularCertificates(registry, settlement, vm.envString("SG_CERTIFICATE_URI"));
        intents.grantRole(intents.MARKET_ROLE(), address(settlement));
        settlement.configureMarket(market, vm.envAddress("SG_ORACLE"), vm.envAddress("SG_BALANCING"));
    }

    /// @dev With SG_SPONSOR set: the MarketAccount factory and the market paymaster on
    ///      SG_ENTRY_POINT, staked (with the deployment) and funded by the deployer, with the caps
    ///      SG_PM_*. Its owner (deposit, stake, registrar) is the timelock from construction on;
    ///      the operator is its registrar (registers participants). The deployer keeps nothing.
    function _paymaster(address timelock, SealgridAuction auction, GranularCertificates certs)
        internal
        returns (IPaymasterAdmin paymaster)
    {
        address sponsor = vm.envOr("SG_SPONSOR", address(0));
        if (sponsor == address(0)) return paymaster;
        bytes memory args = abi.encode(
            IEntryPoint(vm.envAddress("SG_ENTRY_POINT")),
            timelock,
            vm.envAddress("SG_OPERATOR"),
            sponsor,
            auction,
            certs,
            uint48(vm.envUint("SG_QUOTA_PERIOD")),
            uint32(vm.envUint("SG_UNSTAKE_DELAY")),
            _paymasterLimits()
        );
        paymaster = IPaymasterAdmin(
            vm.deployCode("MarketPaymaster.sol:MarketPaymaster", args, vm.envUint("SG_PAYMASTER_STAKE"))
        );
        paymaster.deposit{value: vm.envUint("SG_PAYMASTER_DEPOSIT")}();
        new MarketAccountFactory(IEntryPoint(vm.envAddress("SG_ENTRY_POINT")));
    }

    function _paymasterLimits() internal view returns (IMarketPaymaster.Limits memory) {
        return IMarketPaymaster.Limits({
            verificationGas: uint32(vm.envUint("SG_PM_VERIFICATION_GAS")),
            callGasPerCall: uint32(vm.envUint("SG_PM_CALL_GAS_PER_CALL")),
            maxCalls: uint32(vm.envUint("SG_PM_MAX_CALLS")),
            preVerificationGas: uint32(vm.envUint("SG_PM_PRE_VERIFICATION_GAS")),
            paymasterVerificationGas: uint32(vm.envUint("SG_PM_PAYMASTER_VERIFICATION_GAS")),
            paymasterPostOpGas: uint32(vm.envUint("SG_PM_PAYMASTER_POST_OP_GAS")),
            maxFeePerGas: uint128(vm.envUint("SG_PM_MAX_FEE_PER_GAS")),
            maxPriorityFeePerGas: uint128(vm.envUint("SG_PM_MAX_PRIORITY_FEE_PER_GAS")),
            maxCost: uint128(vm.envUint("SG_PM_MAX_COST"))
        });
    }

    function _verifier() internal returns (ClearingVerifier) {
        uint256[] memory none = new uint256[](0);
        uint256[] memory caps = vm.envOr("SG_CAPACITIES", ",", none);
        address[] memory nobody = new address[](0);
        address[] memory impls = vm.envOr("SG_VERIFIERS", ",", nobody);
        bytes32[] memory noHashes = new bytes32[](0);
        bytes32[] memory hashes = vm.envOr("SG_VERIFIER_CODEHASHES", ",", noHashes);
        uint32[] memory c = new uint32[](caps.length);
        for (uint256 i; i < caps.length; ++i) {
            c[i] = uint32(caps[i]);
        }
        return new ClearingVerifier(c, impls, hashes);
    }

    function _params(IERC20 token, ClearingVerifier verifier)
        internal
        view
        returns (ISealgridAuction.MarketParams memory)
    {
        return ISealgridAuction.MarketParams({
            token: token,
            verifier: verifier,
            operator: vm.envAddress("SG_OPERATOR"),
            intervalLength: uint24(vm.envUint("SG_INTERVAL_LENGTH")),
            gateLead: uint24(vm.envUint("SG_GATE_LEAD")),
            settleWindow: uint24(vm.envUint("SG_SETTLE_WINDOW")),
            commitHorizon: uint24(vm.envUint("SG_COMMIT_HORIZON")),
            maxCommitments: uint24(vm.envUint("SG_MAX_COMMITMENTS")),
            verifierGasLimit: uint32(vm.envUint("SG_VERIFIER_GAS_LIMIT")),
            priceFloor: int64(vm.envInt("SG_PRICE_FLOOR")),
            priceCap: int64(vm.envInt("SG_PRICE_CAP")),
            minBond: uint128(vm.envUint("SG_MIN_BOND")),
            slashAmount: uint128(vm.envUint("SG_SLASH_AMOUNT")),
            maxPerAccount: uint8(vm.envUint("SG_MAX_PER_ACCOUNT")),
            unopenedFee: uint128(vm.envUint("SG_UNOPENED_FEE"))
        });
    }
}
