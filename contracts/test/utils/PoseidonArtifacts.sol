// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

// Nothing in contracts/src imports the Poseidon libraries: the auction calls deployed copies
// through IPoseidonT4/T5. This file makes forge compile them (under the runtime-gas profile of
// foundry.toml) so that tests and deploy scripts can deploy them by artifact name
// (`vm.deployCode("PoseidonT4.sol:PoseidonT4")`). PoseidonT3 is only used by the vectors test.
import {PoseidonT3} from "poseidon-solidity/PoseidonT3.sol";
import {PoseidonT4} from "poseidon-solidity/PoseidonT4.sol";
import {PoseidonT5} from "poseidon-solidity/PoseidonT5.sol";
