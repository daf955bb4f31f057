#![doc = include_str!("../README.md")]

pub mod delivery;
pub mod deploy;
pub mod devnet;
mod error;
mod reader;
pub mod submitter;

pub use error::{ChainError, ChainResult};
pub use reader::{AuctionReader, ChainEvent, Head, IntervalInfo, MarketInfo};
pub use submitter::{Confirmed, GasAlert, SettleOutcome, Settlement, Submitter, SubmitterConfig};

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
