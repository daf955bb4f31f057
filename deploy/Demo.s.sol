// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Vm} from "../contracts/test/utils/Vm.sol";
import {MockERC20, AcceptAllVerifier} from "../contracts/test/utils/Mocks.sol";
import {FillsProof} from "../contracts/test/utils/FillsProof.sol";
import {SealgridAuction} from "../contracts/src/SealgridAuction.sol";
import {IPoseidonT3, IPoseidonT5} from "../contracts/src/interfaces/IPoseidon.sol";
import {ISealgridAuction} from "../contracts/src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken} from "../contracts/src/EnergyIntentToken.sol";
import {OrderLib} from "../contracts/src/libraries/OrderLib.sol";
import {FillsLib} from "../contracts/src/libraries/FillsLib.sol";

interface VmScript {
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
    function envUint(string calldata name) external view returns (uint256);
    function envAddress(string calldata name) external view returns (address);
}

/// @notice Devnet walk-through of one interval on a local anvil, driven by scripts/demo.sh:
///         `deploy` (contracts, timelock, market, bond, funded traders), `commit` (four traders
///         sign EIP-712 orders with their keys and commit), `settle`, `claim`. Until the prover
///         lands, the market's verifier is the TEST-ONLY AcceptAllVerifier from contracts/test,
///         and the fills of the fixed book below are computed by hand from DESIGN §3.5.
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

    function deploy() external {
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
            IPoseidonT3(vm.deployCode("PoseidonT3.sol:PoseidonT3")),
            IPoseidonT5(vm.deployCode("PoseidonT5.sol:PoseidonT5"))
        );
        intents.grantRole(intents.MARKET_ROLE(), address(auction));
        auction.createMarket(
            MARKET,
            ISealgridAuction.MarketParams({
                token: IERC20(address(token)),
                verifier: new AcceptAllVerifier(),
                operator: deployer,
                intervalLength: 300,
                gateLead: 300,
                settleWindow: 240,
                commitHorizon: 86_400,
                maxCommitments: 4096,
                verifierGasLimit: 500_000,
                priceFloor: -500_000,
                priceCap: 5_000_000,
                minBond: 1000e6,
                slashAmount: 100e6
            })
        );
        token.mint(deployer, 10_000e6);
        token.approve(address(auction), type(uint256).max);
        auction.depositBond(MARKET, 2000e6);
        // Governance: a timelock becomes the admin; the deployer keeps only the pauser role.
        address[] memory proposers = new address[](1);
        proposers[0] = deployer;
        TimelockController timelock = new TimelockController(2 days, proposers, proposers, address(0));
        auction.grantRole(auction.DEFAULT_ADMIN_ROLE(), address(timelock));
        intents.grantRole(intents.DEFAULT_ADMIN_ROLE(), address(timelock));
        auction.renounceRole(auction.DEFAULT_ADMIN_ROLE(), deployer);
        intents.renounceRole(intents.DEFAULT_ADMIN_ROLE(), deployer);
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

    /// The fixed book: two buyers and two sellers (quantity Wh, limit per kWh in token units).
    function _orders(uint64 interval)
        internal
        pure
        returns (OrderLib.Order[4] memory o, uint128[4] memory locks)
    {
        address[4] memory who = [vm.addr(K1), vm.addr(K2), vm.addr(K3), vm.addr(K4)];
        uint8[4] memory side = [0, 0, 1, 1];
        uint64[4] memory q = [uint64(40_000), 25_000, 30_000, 50_000];
        int64[4] memory lim = [int64(120_000), 90_000, 60_000, 100_000];
        for (uint256 k; k < 4; ++k) {
            o[k] = OrderLib.Order({
                trader: who[k],
                market: MARKET,
                interval: interval,
                side: side[k],
                quantityWh: q[k],
                limitPrice: lim[k],
                nonce: interval,
                salt: bytes32(uint256(keccak256(abi.encode("demo-salt", k, interval))) >> 8)
            });
            locks[k] = uint128(OrderLib.requiredLock(side[k], q[k], lim[k]));
        }
    }

    function commit(SealgridAuction auction, uint64 interval) external {
        (OrderLib.Order[4] memory o, uint128[4] memory locks) = _orders(interval);
        uint256[4] memory keys = [K1, K2, K3, K4];
        for (uint256 k; k < 4; ++k) {
            // The trader's EIP-712 signature, as its wallet would produce it for the matcher.
            bytes32 digest = auction.orderDigest(o[k]);
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[k], digest);
            require(ecrecover(digest, v, r, s) == o[k].trader, "signature does not recover");
            vms.startBroadcast(keys[k]);
            auction.commit(MARKET, interval, auction.orderCommitment(o[k]), locks[k]);
            vms.stopBroadcast();
        }
    }

    /// DESIGN §3.5 on the fixed book: D(p) = 65k for p <= 90k, 40k for p <= 120k; S(p) = 30k for
    /// 60k <= p < 100k, 80k from 100k. V(p) is 30k on [60k, 90k] and 40k on [100k, 120k]:
    /// V* = 40k, [pLo, pHi] = [100k, 120k], p* = 110k; the 120k bid fills 40k, the 60k ask fills
    /// 30k and the marginal 100k ask the remaining 10k.
    function _fills() internal pure returns (uint64[] memory w) {
        w = new uint64[](4);
        w[0] = 40_000;
        w[1] = 0;
        w[2] = 30_000 | FillsLib.SELL_FLAG;
        w[3] = 10_000 | FillsLib.SELL_FLAG;
    }

    function settle(SealgridAuction auction, uint64 interval) external {
        uint64[] memory w = _fills();
        bytes memory packed;
        for (uint256 k; k < w.length; ++k) {
            packed = bytes.concat(packed, bytes8(w[k]));
        }
        vms.startBroadcast(K0);
        auction.settle(MARKET, interval, 110_000, 40_000, packed, "");
        vms.stopBroadcast();
    }

    function claim(SealgridAuction auction, uint64 interval) external {
        (OrderLib.Order[4] memory o, uint128[4] memory locks) = _orders(interval);
        uint64[] memory w = _fills();
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](4);
        for (uint256 k; k < 4; ++k) {
            cs[k] = ISealgridAuction.Claim({
                record: ISealgridAuction.CommitmentRecord({
                    index: uint32(k),
                    trader: o[k].trader,
                    lock: locks[k],
                    commitment: auction.orderCommitment(o[k])
                }),
                word: w[k],
                proof: FillsProof.siblings(w, uint32(k))
            });
        }
        vms.startBroadcast(K0);
        auction.claimBatch(MARKET, interval, cs);
        vms.stopBroadcast();
    }
}
