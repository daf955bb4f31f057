// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IClearingVerifier} from "../../src/interfaces/IClearingVerifier.sol";

/// @notice A freely mintable ERC-20 for tests.
contract MockERC20 is ERC20 {
    constructor() ERC20("Test USD", "tUSD") {}

    /// @notice Six decimals, as the local config's `[token] decimals` and the USD stablecoins
    ///         it stands in for (the desk commands convert amounts with it).
    /// @return 6.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice A token that keeps 1% of every transfer (unsupported by the auction).
contract FeeOnTransferERC20 is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0xFEE), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

/// @notice TEST ONLY: accepts every proof, and records the last statement it saw.
/// @dev Lives under contracts/test/ and must never be deployed outside tests and the devnet demo.
contract AcceptAllVerifier is IClearingVerifier {
    function verifyClearing(Statement calldata, bytes calldata) external pure returns (bool) {
        return true;
    }
}

/// @notice TEST ONLY: accepts a proof iff it equals keccak256 of the ABI-encoded statement, so
///         tests can show the auction passes exactly its own state to the verifier.
contract StatementHashVerifier is IClearingVerifier {
    function verifyClearing(Statement calldata s, bytes calldata proof) external pure returns (bool) {
        return proof.length == 32 && bytes32(proof) == keccak256(abi.encode(s));
    }
}

/// @notice TEST ONLY: rejects every proof by returning false.
contract RejectAllVerifier is IClearingVerifier {
    function verifyClearing(Statement calldata, bytes calldata) external pure returns (bool) {
        return false;
    }
}

/// @notice TEST ONLY: burns all gas it is given, like a real verifier fed a corrupted proof.
contract GasBurnerVerifier is IClearingVerifier {
    function verifyClearing(Statement calldata, bytes calldata) external pure returns (bool) {
        uint256 x;
        while (true) {
            unchecked {
                ++x;
            }
        }
        return x == 0;
    }
}
