//! `sealgrid meter ...`: what a meter gateway does with a reading.

use alloy_primitives::{Address, B256};

use alloy_sol_types::SolStruct;
use clap::{Subcommand, ValueEnum};
use eyre::{Result, bail};
use sealgrid_types::{MAX_READING_WH, MeterQuality, MeterReading, sealgrid_domain, sign_struct};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Quality {
    /// A measured value.
    Actual,
    /// An estimate.
    Estimated,
    /// A substituted value (validation, estimation and editing).
    Substituted,
}

/// The energy source of a meter (certificates need a renewable one).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Source {
    /// Not a generator.
    None,
    /// Solar PV.
    Solar,
    /// Wind.
    Wind,
    /// Hydro.
    Hydro,
    /// Biomass.
    Biomass,
    /// Geothermal.
    Geothermal,
    /// Storage (a battery: not certificate eligible).
    Storage,
    /// Other (not certificate eligible).
    Other,
}

/// ANSI C12.20 accuracy class.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Accuracy {
    /// ±0.2 % (revenue grade for C&I and generation).
    #[value(name = "0.2")]
    C02,
    /// ±0.5 %.
    #[value(name = "0.5")]
    C05,
}

/// Where a meter command finds the registry (the deployment and its chain's endpoint).
#[derive(Debug, clap::Args)]
pub(crate) struct RegistryArgs {
    #[command(flatten)]
    at: crate::cmd::desk::At,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MeterCommand {
    /// Registers a revenue meter in the deployment's market, with its owner and first gateway
    /// key (REGISTRAR_ROLE: the config's `delivery.registrar`). Prints the device number.
    ///
    /// Example: `sealgrid meter register --deployment FILE --meter 0x.. --owner 0x.. --gateway
    /// 0x.. --source solar --zone US-CAISO --key keystore:registrar.json`.
    Register {
        #[command(flatten)]
        at: RegistryArgs,
        /// The meter id (bytes32, nonzero).
        #[arg(long)]
        meter: B256,
        /// The account whose position the meter measures.
        #[arg(long)]
        owner: Address,
        /// The gateway key's address (the meter's readings are signed with it).
        #[arg(long)]
        gateway: Address,
        /// The first interval the gateway key signs.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Energy source: a generator names one (solar..geothermal are certificate eligible).
        #[arg(long, value_enum, default_value = "none")]
        source: Source,
        /// ANSI C12.20 accuracy class.
        #[arg(long, value_enum, default_value = "0.2")]
        accuracy: Accuracy,
        /// Site id (bytes32, e.g. a hash of the service point).
        #[arg(long, default_value_t = B256::ZERO)]
        site: B256,
        /// Country / bidding zone (EnergyTag), at most 32 bytes.
        #[arg(long)]
        zone: String,
        /// The registrar's key spec (`env:SEALGRID_REGISTRAR_KEY` on a local network).
        #[arg(
            long,
            env = "SEALGRID_REGISTRAR_KEY_SPEC",
            default_value = "env:SEALGRID_REGISTRAR_KEY"
        )]
        key: String,
    },
    /// Rotates a meter's gateway key (planned): the new key signs from `--from` on, the old one
    /// keeps the intervals before.
    Rotate {
        #[command(flatten)]
        at: RegistryArgs,
        /// The meter id.
        #[arg(long)]
        meter: B256,
        /// The new gateway key's address.
        #[arg(long)]
        gateway: Address,
        /// The first interval of the new key (after the current key's first).
        #[arg(long)]
        from: u64,
        /// The registrar's key spec.
        #[arg(
            long,
            env = "SEALGRID_REGISTRAR_KEY_SPEC",
            default_value = "env:SEALGRID_REGISTRAR_KEY"
        )]
        key: String,
    },
    /// Revokes a meter's current gateway key (compromise): invalid for every interval, on every
    /// meter that used it; its readings can be replaced.
    Revoke {
        #[command(flatten)]
        at: RegistryArgs,
        /// The meter id.
        #[arg(long)]
        meter: B256,
        /// The registrar's key spec.
        #[arg(
            long,
            env = "SEALGRID_REGISTRAR_KEY_SPEC",
            default_value = "env:SEALGRID_REGISTRAR_KEY"
        )]
        key: String,
    },
    /// Shows a registered meter: owner, device, source, market, current and past gateway keys.
    Show {
        #[command(flatten)]
        at: RegistryArgs,
        /// The meter id.
        #[arg(long)]
        meter: B256,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
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

impl RegistryArgs {
    /// The record, and a delivery client sending with `key` (or read-only without one).
    async fn client(
        &self,
        key: Option<&str>,
    ) -> Result<(
        sealgrid_deploy::DeployRecord,
        sealgrid_chain::delivery::Delivery,
    )> {
        use eyre::WrapErr;
        let (record, rpc) = self.at.resolve()?;
        let d = match key {
            Some(spec) => {
                let local = record.kind == sealgrid_deploy::NetworkKind::Local;
                let signer = crate::cmd::keys::load(spec, "--key", local)?;
                sealgrid_chain::delivery::Delivery::connect(&rpc, record.delivery, signer).await
            }
            None => sealgrid_chain::delivery::Delivery::read_only(&rpc, record.delivery).await,
        }
        .wrap_err_with(|| {
            format!(
                "the delivery contracts of {}",
                self.at.deployment().display()
            )
        })?;
        Ok((record, d))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    use eyre::WrapErr;
    tokio::runtime::Runtime::new().wrap_err("starting the runtime")
}

impl MeterCommand {
    pub(crate) fn run(self) -> Result<()> {
        match self {
            Self::Register {
                at,
                meter,
                owner,
                gateway,
                from,
                source,
                accuracy,
                site,
                zone,
                key,
            } => {
                if meter == B256::ZERO {
                    bail!("--meter must be nonzero");
                }
                if zone.len() > 32 || zone.is_empty() {
                    bail!("--zone must be 1 to 32 bytes");
                }
                let source = source as u8;
                let accuracy: u8 = match accuracy {
                    Accuracy::C02 => 1,
                    Accuracy::C05 => 2,
                };
                let zone = B256::right_padding_from(zone.as_bytes());
                runtime()?.block_on(async move {
                    let (record, d) = at.client(Some(&key)).await?;
                    let m = sealgrid_chain::bindings::registry::MeterRegistry::Meter {
                        owner,
                        device: 0,
                        generator: source != 0,
                        source,
                        gateway,
                        gatewayFrom: from,
                        accuracy,
                        site,
                        zone,
                        market: record.market,
                    };
                    d.register_meter(meter, m).await?;
                    println!("meter {meter}: registered in market {} as device {}", record.market, d.device_of(meter).await?);
                    Ok(())
                })
            }
            Self::Rotate {
                at,
                meter,
                gateway,
                from,
                key,
            } => runtime()?.block_on(async move {
                let (_, d) = at.client(Some(&key)).await?;
                d.rotate_gateway(meter, gateway, from).await?;
                println!("meter {meter}: gateway {gateway} from interval {from}");
                Ok(())
            }),
            Self::Revoke { at, meter, key } => runtime()?.block_on(async move {
                let (_, d) = at.client(Some(&key)).await?;
                d.revoke_gateway(meter).await?;
                println!("meter {meter}: gateway key revoked");
                Ok(())
            }),
            Self::Show { at, meter, json } => runtime()?.block_on(async move {
                let (_, d) = at.client(None).await?;
                let Some((m, history)) = d.meter(meter).await? else {
                    bail!("meter {meter} is not registered");
                };
                let past: Vec<serde_json::Value> = history
                    .iter()
                    .map(|k| serde_json::json!({ "gateway": k.gateway, "from": k.from, "until": k.until }))
                    .collect();
                let zone = String::from_utf8_lossy(m.zone.as_slice())
                    .trim_end_matches('\0')
                    .to_owned();
                let v = serde_json::json!({
                    "meter": meter,
                    "owner": m.owner,
                    "device": m.device,
                    "generator": m.generator,
                    "source": m.source,
                    "gateway": m.gateway,
                    "gateway_from": m.gatewayFrom,
                    "accuracy": m.accuracy,
                    "site": m.site,
                    "zone": zone,
                    "market": m.market,
                    "past_gateways": past,
                });
                if json {
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    println!(
                        "meter {meter}\n  owner      {}\n  device     {}\n  source     {} (generator: {})\n  market     {}\n  zone       {zone}\n  gateway    {} from interval {}{}",
                        m.owner,
                        m.device,
                        m.source,
                        m.generator,
                        m.market,
                        m.gateway,
                        m.gatewayFrom,
                        history
                            .iter()
                            .map(|k| format!("\n  past key   {} for intervals {}..{}", k.gateway, k.from, k.until))
                            .collect::<String>()
                    );
                }
                Ok(())
            }),
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
                Ok(())
            }
        }
    }
}
