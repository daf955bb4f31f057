//! `sealgrid gateway`: the meter gateway service (the `sealgrid-gateway` crate).

use std::{path::PathBuf, time::Duration};

use eyre::{Result, WrapErr};
use sealgrid_gateway::{Csms, Forwarder, Gateway, GatewayConfig};

/// Reads the configured meters at every interval boundary, signs their readings with the
/// gateway's key into a durable outbox and delivers the outbox to the node. Example:
/// `sealgrid gateway --config gateway.toml` (docs/gateways.md).
#[derive(Debug, clap::Args)]
pub(crate) struct GatewayArgs {
    /// The gateway's config file (TOML; docs/gateways.md).
    #[arg(long)]
    config: PathBuf,
    /// Read every meter once, deliver the outbox once, print a summary and exit.
    #[arg(long)]
    once: bool,
}

impl GatewayArgs {
    pub(crate) fn run(self) -> Result<()> {
        // Logs to stderr: stdout carries only the `--once` summary.
        crate::cmd::stderr_logs();
        let cfg = GatewayConfig::load(&self.config)?;
        let meters = cfg.meters()?;
        let rt = tokio::runtime::Runtime::new().wrap_err("starting the runtime")?;
        rt.block_on(async move {
            let gw = Gateway::from_config(&cfg).await?;
            let forwarder = Forwarder::new(&cfg.gateway.node, cfg.gateway.batch)?;
            tracing::info!(
                gateway = %gw.address(),
                meters = meters.len(),
                node = %cfg.gateway.node,
                "gateway started"
            );
            // The CSMS for charging stations, when configured; in --once mode it only signs
            // the held captures whose boundary has passed.
            let csms = Csms::from_config(gw.clone(), &cfg).await?;
            if let Some((_, l)) = &csms {
                tracing::info!(listen = %l.local_addr()?, chargers = cfg.chargers.len(), "CSMS listening (wss, ocpp2.0.1)");
            }
            if self.once {
                gw.release_chargers(sealgrid_gateway::unix_now()).await?;
                let outcomes = gw
                    .read_all(&meters, sealgrid_gateway::unix_now(), cfg.gateway.concurrency)
                    .await?;
                let mut answered = 0;
                loop {
                    let r = forwarder.pass(gw.outbox(), sealgrid_gateway::unix_now()).await?;
                    answered += r.answered;
                    if r.answered == 0 {
                        break;
                    }
                }
                let c = gw.outbox().counts().await?;
                println!(
                    "{}",
                    serde_json::json!({
                        "meters": outcomes.len(),
                        "refused_meters": outcomes.iter().filter(|o| matches!(o, sealgrid_gateway::MeterOutcome::Refused(_))).count(),
                        "answered": answered,
                        "outbox": {"pending": c.pending, "accepted": c.accepted, "duplicate": c.duplicate, "refused": c.refused},
                    })
                );
                return Ok(());
            }
            if let Some((csms, listener)) = csms {
                tokio::spawn(async move {
                    if let Err(e) = csms.serve(listener, std::future::pending()).await {
                        tracing::error!(error = %e, "the CSMS stopped");
                    }
                });
            }
            gw.run(
                meters,
                forwarder,
                Duration::from_secs(cfg.gateway.poll_offset_s),
                cfg.gateway.concurrency,
                async {
                    let _ = tokio::signal::ctrl_c().await;
                    tracing::info!("shutting down; the outbox keeps what was not delivered");
                },
            )
            .await?;
            Ok(())
        })
    }
}
