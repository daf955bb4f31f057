// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

/// @notice More of forge's cheatcodes, for the attack tests (events, environment, EIP-7702),
///         declared against the same cheatcode address as {Vm}; kept apart so that the shared
///         subset in Vm.sol stays small.
interface VmExtra {
    /// @notice An EIP-7702 authorization signed by a key.
    struct SignedDelegation {
        uint8 v;
        bytes32 r;
        bytes32 s;
        uint64 nonce;
        address implementation;
    }

    /// @notice An event recorded by {recordLogs}.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @notice Starts recording every event emitted from now on.
    function recordLogs() external;
    /// @notice The events recorded since {recordLogs} (and clears them).
    function getRecordedLogs() external returns (Log[] memory);
    /// @notice The next event emitted by `emitter` must match the one emitted next in the test.
    function expectEmit(address emitter) external;
    /// @notice The checksummed hex form of `value`.
    function toString(address value) external pure returns (string memory);
    /// @notice The 0x-prefixed hex form of `value`.
    function toString(bytes32 value) external pure returns (string memory);
    /// @notice Sets an environment variable for the rest of the test.
    function setEnv(string calldata name, string calldata value) external;
    /// @notice Signs an EIP-7702 authorization of `implementation` with `privateKey` and attaches
    ///         it to the next call, after which the key's account runs `implementation`'s code.
    function signAndAttachDelegation(address implementation, uint256 privateKey)
        external
        returns (SignedDelegation memory);
}

/// @dev The handle, for test contracts that also inherit {TestBase}.
VmExtra constant vmx = VmExtra(address(uint160(uint256(keccak256("hevm cheat code")))));
