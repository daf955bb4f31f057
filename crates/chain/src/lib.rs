#![doc = include_str!("../README.md")]

pub mod aa;
pub mod delivery;
pub mod desk;
mod error;
mod reader;
pub mod rpc;
pub mod sender;
pub mod submitter;

pub use error::{ChainError, ChainResult, CodeHashMismatch, NotSettleable};
pub use reader::{AuctionReader, ChainEvent, CommitLimits, Head, IntervalInfo, MarketInfo};
pub use rpc::RetryPolicy;
pub use sender::{
    AlertHook, Confirmed, GasAlert, Landed, RevertDecoder, Sender, SenderConfig, decode_revert,
};
pub use submitter::{SettleOutcome, SettleState, Submitter, SubmitterConfig};

/// Contract bindings generated from the committed ABIs (`abi/*.json`).
pub mod bindings {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        SealgridAuction,
        "abi/SealgridAuction.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        EnergyIntentToken,
        "abi/EnergyIntentToken.json"
    );

    /// The meter registry (its own module: other bindings name its `EnergySource` type).
    pub mod registry {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug)]
            MeterRegistry,
            "abi/MeterRegistry.json"
        );
    }

    /// Delivery settlement (with the `ReadingLib` structs).
    pub mod settlement {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug)]
            DeliverySettlement,
            "abi/DeliverySettlement.json"
        );
    }

    /// Granular certificates.
    pub mod certificates {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug)]
            GranularCertificates,
            "abi/GranularCertificates.json"
        );
    }

    /// The market's ERC-4337 paymaster (with the v0.8 `PackedUserOperation`).
    pub mod paymaster {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug)]
            MarketPaymaster,
            "abi/MarketPaymaster.json"
        );
    }

    /// The EntryPoint v0.8 subset the operator and the tests use.
    pub mod entry_point {
        #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
        alloy::sol! {
            /// ERC-4337 v0.8 packed user operation.
            #[derive(Debug)]
            struct PackedUserOperation {
                address sender;
                uint256 nonce;
                bytes initCode;
                bytes callData;
                bytes32 accountGasLimits;
                uint256 preVerificationGas;
                bytes32 gasFees;
                bytes paymasterAndData;
                bytes signature;
            }

            /// EntryPoint v0.8.
            #[sol(rpc)]
            #[derive(Debug)]
            interface IEntryPoint {
                error FailedOp(uint256 opIndex, string reason);
                error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
                function handleOps(PackedUserOperation[] calldata ops, address beneficiary) external;
                function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
                function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
                function balanceOf(address account) external view returns (uint256);
                function senderCreator() external view returns (address);
                event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
                event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);
            }
        }
    }

    alloy::sol! {
        /// The ERC-20 subset the services use.
        #[sol(rpc)]
        interface IERC20 {
            function balanceOf(address account) external view returns (uint256);
            function approve(address spender, uint256 amount) external returns (bool);
            function transfer(address to, uint256 amount) external returns (bool);
        }

        /// The clearing verifier interface (contracts/src/interfaces/IClearingVerifier.sol).
        #[sol(rpc)]
        #[derive(Debug)]
        interface IClearingVerifier {
            struct Statement {
                bytes32 market;
                uint64 interval;
                uint256 accumulator;
                uint32 count;
                int64 priceFloor;
                int64 priceCap;
                int64 clearingPrice;
                uint64 volume;
                bytes fills;
            }
            function verifyClearing(Statement calldata statement, bytes calldata proof) external view returns (bool valid);
        }

        /// The test token's open mint (devnet only).
        #[sol(rpc)]
        interface IMockToken {
            function mint(address to, uint256 amount) external;
        }

        /// ERC-1271: signature validation by contract accounts.
        #[sol(rpc)]
        interface IERC1271 {
            function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4);
        }
    }
}
