//! `sealgrid meter ...`: what a meter gateway does with a reading.

use alloy_primitives::{Address, B256};

use alloy_sol_types::SolStruct;
use clap::{Subcommand, ValueEnum};
use eyre::{Result, bail};
use sealgrid_types::{MeterQuality, MeterReading, sealgrid_domain, sign_struct};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Quality {
    /// A measured value.
    Actual,
    /// An estimate.
    Estimated,
    /// A substituted value (validation, estimation and editing).
    Substituted,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MeterCommand {
    /// Signs a meter reading with EIP-712 (DESIGN 3.7) as the meter's gateway and prints the
    /// reading, its digest, the signer and the signature as JSON.
    ///
    /// Example: `sealgrid meter sign --meter 0x.. --interval 5984424 --import-wh 1234
    /// --export-wh 5678 --chain-id 31337 --contract 0x.. --key keystore:gateway.json` (on chain
    /// 31337 the default takes a raw devnet key from SEALGRID_GATEWAY_KEY).
    Sign {
        /// The meter id (bytes32).
        #[arg(long)]
        meter: B256,
        /// The delivery interval the reading covers.
        #[arg(long)]
        interval: u64,
        /// Energy imported from the grid in the interval (Wh).
        #[arg(long)]
        import_wh: u64,
        /// Energy exported to the grid in the interval (Wh).
        #[arg(long)]
        export_wh: u64,
        /// Reading quality.
        #[arg(long, value_enum, default_value = "actual")]
        quality: Quality,
        /// Revision: a correction of a reading carries a higher revision.
        #[arg(long, default_value_t = 0)]
        revision: u32,
        /// Chain id of the domain.
        #[arg(long)]
        chain_id: u64,
        /// The contract that verifies readings (the domain's verifying contract).
        #[arg(long)]
        contract: Address,
        /// The gateway's key: `keystore:PATH`, `pkcs11:MODULE?token=..&key=..`, or `env:VAR`
        /// (a raw key in the environment, on chain 31337 only). Never the key itself.
        #[arg(
            long,
            env = "SEALGRID_GATEWAY_KEY_SPEC",
            default_value = "env:SEALGRID_GATEWAY_KEY"
        )]
        key: String,
    },
}

/// Readings above this are refused: 2^48 Wh (281 TWh) in one interval is no meter's reading.
const MAX_READING_WH: u64 = (1 << 48) - 1;

impl MeterCommand {
    pub(crate) fn run(self) -> Result<()> {
        match self {
            Self::Sign {
                meter,
                interval,
                import_wh,
                export_wh,
                quality,
                revision,
                chain_id,
                contract,
                key,
            } => {
                if meter == B256::ZERO {
                    bail!("--meter must be a registered meter id, not zero");
                }
                if import_wh > MAX_READING_WH || export_wh > MAX_READING_WH {
                    bail!("a reading above {MAX_READING_WH} Wh is out of range");
                }
                let quality = match quality {
                    Quality::Actual => MeterQuality::Actual,
                    Quality::Estimated => MeterQuality::Estimated,
                    Quality::Substituted => MeterQuality::Substituted,
                } as u8;
                let signer = crate::cmd::keys::load(
                    &key,
                    "--key",
                    chain_id == crate::cmd::keys::ANVIL_CHAIN_ID,
                )?;
                let reading = MeterReading {
                    meterId: meter,
                    interval,
                    importWh: import_wh,
                    exportWh: export_wh,
                    quality,
                    revision,
                };
                let domain = sealgrid_domain(chain_id, contract);
                let signature = sign_struct(&signer, &reading, &domain)?;
                let out = serde_json::json!({
                    "reading": reading,
                    "digest": reading.eip712_signing_hash(&domain),
                    "signer": signer.address().to_checksum(None),
                    "signature": alloy_primitives::hex::encode_prefixed(signature),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
        }
        Ok(())
    }
}
