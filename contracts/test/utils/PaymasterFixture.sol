// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EntryPoint} from "@account-abstraction/contracts/core/EntryPoint.sol";
import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {MarketAccount} from "../../src/accounts/MarketAccount.sol";
import {MarketAccountFactory} from "../../src/accounts/MarketAccountFactory.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {DeliveryFixture} from "./DeliveryFixture.sol";
import {MarketPaymaster, IMarketAccount} from "../../src/MarketPaymaster.sol";
import {IMarketPaymaster} from "../../src/interfaces/IMarketPaymaster.sol";

/// @notice The delivery fixture plus EntryPoint v0.8, the MarketAccount factory, the market
///         paymaster (staked and funded, with the caps of deploy/config/local.toml: the one home of
///         the default caps) and helpers to build, sponsor and sign UserOperations.
abstract contract PaymasterFixture is DeliveryFixture {
    EntryPoint internal entryPoint;
    MarketAccountFactory internal factory;
    MarketPaymaster internal paymaster;

    uint256 internal constant SPONSOR_PK = 0x5B0A5;
    uint256 internal constant OWNER_PK = 0x0E7E1;
    address internal sponsor;
    address payable internal bundler = payable(address(0xB0D1E));
    MarketAccount internal account;
    uint32 internal constant QUOTA = 3;
    /// @dev The paymaster's caps (from deploy/config/local.toml, `[accounts.limits]`).
    IMarketPaymaster.Limits internal limits;

    /// @dev The default caps of the deployment config (deploy/config/local.toml).
    function configuredLimits() internal view returns (IMarketPaymaster.Limits memory l) {
        string memory toml = vm.readFile("deploy/config/local.toml");
        l.verificationGas = uint32(vm.parseTomlUint(toml, ".accounts.limits.verification_gas"));
        l.callGasPerCall = uint32(vm.parseTomlUint(toml, ".accounts.limits.call_gas_per_call"));
        l.maxCalls = uint32(vm.parseTomlUint(toml, ".accounts.limits.max_calls"));
        l.preVerificationGas = uint32(vm.parseTomlUint(toml, ".accounts.limits.pre_verification_gas"));
        l.paymasterVerificationGas =
            uint32(vm.parseTomlUint(toml, ".accounts.limits.paymaster_verification_gas"));
        l.paymasterPostOpGas = uint32(vm.parseTomlUint(toml, ".accounts.limits.paymaster_post_op_gas"));
        l.maxFeePerGas = uint128(vm.parseTomlUint(toml, ".accounts.limits.max_fee_per_gas_wei"));
        l.maxPriorityFeePerGas =
            uint128(vm.parseTomlUint(toml, ".accounts.limits.max_priority_fee_per_gas_wei"));
        l.maxCost = uint128(vm.parseTomlUint(toml, ".accounts.limits.max_cost_wei"));
    }

    function setUp() public virtual override {
        super.setUp();
        sponsor = vm.addr(SPONSOR_PK);
        entryPoint = new EntryPoint();
        factory = new MarketAccountFactory(IEntryPoint(address(entryPoint)));
        vm.prank(address(entryPoint.senderCreator()));
        account = factory.createAccount(vm.addr(OWNER_PK), 0);
        limits = configuredLimits();
        vm.deal(address(this), 100 ether);
        paymaster = new MarketPaymaster{value: 1 ether}(
            IEntryPoint(address(entryPoint)),
            address(this),
            address(0),
            sponsor,
            auction,
            certs,
            1 days,
            1 days,
            limits
        );
        paymaster.deposit{value: 10 ether}();
        address[] memory who = new address[](1);
        who[0] = address(account);
        paymaster.setParticipants(who, QUOTA);
        // The account's lock money sits in the auction (deposited for it).
        token.mint(address(this), 1e12);
        token.approve(address(auction), type(uint256).max);
        auction.deposit(IERC20(address(token)), address(account), 1e12);
        vm.label(address(account), "smartAccount");
        vm.label(address(paymaster), "paymaster");
    }

    function commitCall(uint64 interval, bytes32 commitment, uint128 lock)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeCall(
            IMarketAccount.execute,
            (address(auction), 0, abi.encodeCall(auction.commit, (MARKET, interval, commitment, lock)))
        );
    }

    function userOp(bytes memory callData) internal view returns (PackedUserOperation memory op) {
        return userOpOf(address(account), callData);
    }

    function userOpOf(address sender, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op.sender = sender;
        op.nonce = entryPoint.getNonce(sender, 0);
        op.callData = callData;
        op.accountGasLimits = bytes32((uint256(100_000) << 128) | 150_000);
        op.preVerificationGas = 60_000;
        op.gasFees = bytes32((uint256(1 gwei) << 128) | 2 gwei);
    }

    /// @dev Sets the operation's gas limits (verification, call, pre-verification).
    function withGas(PackedUserOperation memory op, uint256 verification, uint256 call, uint256 pvg)
        internal
        pure
        returns (PackedUserOperation memory)
    {
        op.accountGasLimits = bytes32((verification << 128) | call);
        op.preVerificationGas = pvg;
        return op;
    }

    /// @dev Sets the operation's fees (max priority fee, max fee per gas).
    function withFees(PackedUserOperation memory op, uint256 priority, uint256 maxFee)
        internal
        pure
        returns (PackedUserOperation memory)
    {
        op.gasFees = bytes32((priority << 128) | maxFee);
        return op;
    }

    /// @dev Adds the paymaster fields, signed by `pk` for [validAfter, validUntil], and the
    ///      account owner's signature.
    function sponsored(PackedUserOperation memory op, uint256 pk, uint48 validUntil, uint48 validAfter)
        internal
        view
        returns (PackedUserOperation memory)
    {
        return sponsoredFor(op, pk, OWNER_PK, validUntil, validAfter);
    }

    /// @dev As `sponsored`, for the account of `ownerPk`.
    function sponsoredFor(
        PackedUserOperation memory op,
        uint256 pk,
        uint256 ownerPk,
        uint48 validUntil,
        uint48 validAfter
    ) internal view returns (PackedUserOperation memory) {
        return sponsoredWith(op, pk, ownerPk, validUntil, validAfter, PM_GAS, 0);
    }

    /// @dev Paymaster validation gas of the test operations.
    uint128 internal constant PM_GAS = 40_000;

    /// @dev As `sponsoredFor`, with the paymaster's validation and postOp gas limits.
    function sponsoredWith(
        PackedUserOperation memory op,
        uint256 pk,
        uint256 ownerPk,
        uint48 validUntil,
        uint48 validAfter,
        uint128 pmGas,
        uint128 postOpGas
    ) internal view returns (PackedUserOperation memory) {
        bytes memory head = abi.encodePacked(address(paymaster), pmGas, postOpGas);
        op.paymasterAndData = abi.encodePacked(head, validUntil, validAfter, new bytes(65));
        bytes32 h = MessageHashUtils.toEthSignedMessageHash(this.hashFor(op, validUntil, validAfter));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, h);
        op.paymasterAndData = abi.encodePacked(head, validUntil, validAfter, r, s, v);
        return signedBy(op, ownerPk);
    }

    function hashFor(PackedUserOperation calldata op, uint48 validUntil, uint48 validAfter)
        external
        view
        returns (bytes32)
    {
        return paymaster.getHash(op, validUntil, validAfter);
    }

    function signed(PackedUserOperation memory op) internal view returns (PackedUserOperation memory) {
        return signedBy(op, OWNER_PK);
    }

    function signedBy(PackedUserOperation memory op, uint256 ownerPk)
        internal
        view
        returns (PackedUserOperation memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ownerPk, entryPoint.getUserOpHash(op));
        op.signature = abi.encodePacked(r, s, v);
        return op;
    }

    function one(PackedUserOperation memory op) internal pure returns (PackedUserOperation[] memory ops) {
        ops = new PackedUserOperation[](1);
        ops[0] = op;
    }

    function window() internal view returns (uint48 validUntil, uint48 validAfter) {
        return (uint48(block.timestamp + 600), uint48(block.timestamp - 60));
    }
}
