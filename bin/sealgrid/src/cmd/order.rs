use std::{fs, path::PathBuf};

use alloy_primitives::Address;
use clap::Subcommand;
use eyre::{Context, Result};
use sealgrid_types::{Order, order_commitment, sealgrid_domain, sign_order};

#[derive(Debug, Subcommand)]
pub(crate) enum OrderCommand {
    /// Prints the Poseidon commitment of an order (docs/encoding.md).
    ///
    /// Example: `sealgrid order commitment order.json`, where order.json holds
    /// `{"trader":"0x..","market":"0x..","interval":5,"side":0,"quantityWh":1000,
    /// "limitPrice":-20,"nonce":1,"salt":"0x.."}`.
    Commitment {
        /// The order as JSON.
        file: PathBuf,
    },
    /// Signs an order with EIP-712 under the sealgrid domain and prints the signature.
    ///
    /// Example: `sealgrid order sign order.json --chain-id 31337 --auction 0x.. --key
    /// keystore:~/.foundry/keystores/trader` (password from SEALGRID_KEYSTORE_PASSWORD). On
    /// anvil's chain 31337 the default `env:SEALGRID_KEY` takes a raw devnet key.
    Sign {
        /// The order as JSON.
        file: PathBuf,
        /// Chain id of the domain.
        #[arg(long)]
        chain_id: u64,
        /// The auction contract (the domain's verifying contract).
        #[arg(long)]
        auction: Address,
        /// The trader's key: `keystore:PATH`, `pkcs11:MODULE?token=..&key=..`, or `env:VAR` (a
        /// raw key in the environment, on chain 31337 only). Never the key itself.
        #[arg(long, env = "SEALGRID_KEY_SPEC", default_value = "env:SEALGRID_KEY")]
        key: String,
    },
}

fn read_order(file: &PathBuf) -> Result<Order> {
    let text = fs::read_to_string(file).wrap_err_with(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).wrap_err_with(|| format!("{} is not an order", file.display()))
}

impl OrderCommand {
    pub(crate) fn run(self) -> Result<()> {
        match self {
            Self::Commitment { file } => {
                let order = read_order(&file)?;
                println!("{}", order_commitment(&order)?);
            }
            Self::Sign {
                file,
                chain_id,
                auction,
                key,
            } => {
                let order = read_order(&file)?;
                let signer = crate::cmd::keys::load(
                    &key,
                    "--key",
                    chain_id == crate::cmd::keys::ANVIL_CHAIN_ID,
                )?;
                let signature = sign_order(&signer, &order, &sealgrid_domain(chain_id, auction))?;
                println!("{}", alloy_primitives::hex::encode_prefixed(signature));
            }
        }
        Ok(())
    }
}
