//! `sealgrid bench gateway`: the DLMS path of the gateway and its outbox through an outage
//! (issue 19's targets and measurements).
//!
//! `meters` simulated meters (`tests/peers/dlms_meter.py`, the Gurux stack, TCP wrapper, LLS)
//! with `hours` of 5-minute load profile each. Measured:
//!
//! 1. **Reads**: every meter read in registers mode (connect, associate, clock, both
//!    registers, release), `concurrency` at a time, twice: the first visit also reads the
//!    registers' scalers, the later ones take them from the gateway's cache (what every
//!    interval costs; the target is judged on it). Meter reads per second.
//! 2. **Outage**: a real devnet and node (delivery intake) with the meters registered to the
//!    gateway's key; the gateway reads every meter's whole profile while the node is not
//!    reachable, signing `meters × (12 × hours − 1)` readings into its outbox; then the node is
//!    reachable and the outbox drains, oldest first. Every reading must be accepted once.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use sealgrid_chain::bindings::registry::MeterRegistry;
use sealgrid_deploy::devnet::{DEV_KEYS, Devnet, demo_market};
use sealgrid_dlms::{Authentication, Obis, Settings, Transport};
use sealgrid_gateway::{Forwarder, Gateway, Meter, MeterOutcome, Mode, Outbox, Rule};
use sealgrid_keys::KeySigner;
use sealgrid_node::{DeliveryNodeConfig, NodeConfig, launch};

use crate::{DevkitError, DevkitResult, peers::DlmsSimulator};

/// Options of the gateway benchmark.
#[derive(Clone, Debug)]
pub struct GatewayBenchOptions {
    /// The project root (the simulator, the devnet tools and deploy script).
    pub root: PathBuf,
    /// Simulated meters.
    pub meters: usize,
    /// Hours of load profile each meter holds (the outage).
    pub hours: u64,
    /// Meters read at once.
    pub concurrency: usize,
}

/// Reads target (meter reads per second through the DLMS path).
pub const TARGET_READS_PER_S: f64 = 1_000.0;

const PASSWORD: &str = "bench";

fn bench_err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("gateway bench: {e}"))
}

/// Runs the benchmark; returns the `RESULT` lines (the last one is the verdict).
pub async fn run_gateway_bench(
    opts: GatewayBenchOptions,
    mut progress: impl FnMut(&str),
) -> DevkitResult<Vec<String>> {
    if opts.meters == 0 || opts.hours == 0 || opts.concurrency == 0 {
        return Err(bench_err("meters, hours and concurrency must be positive"));
    }
    let now = sealgrid_gateway::unix_now();
    let start = now / 300 * 300 - opts.hours * 3600;
    progress(&format!(
        "starting {} simulated meters with {} h of profile",
        opts.meters, opts.hours
    ));
    let (meters, start_s) = (opts.meters.to_string(), start.to_string());
    let sim = DlmsSimulator::start(
        &opts.root,
        &[
            "--interface",
            "wrapper",
            "--password",
            PASSWORD,
            "--meters",
            &meters,
            "--start",
            &start_s,
        ],
    )?;
    if sim.ports.len() != opts.meters {
        return Err(bench_err(format!(
            "{} ports for {} meters",
            sim.ports.len(),
            opts.meters
        )));
    }
    let ports = &sim.ports;
    let meter = |n: usize, mode: Mode| Meter {
        id: keccak256(format!("sealgrid/bench/dlms/{n}")),
        address: ([127, 0, 0, 1], ports[n]).into(),
        mode,
        settings: Settings {
            transport: Transport::Wrapper,
            client: 17,
            auth: Authentication::Low(PASSWORD.as_bytes().to_vec()),
            timeout: Duration::from_secs(30),
            ..Settings::default()
        },
        profile: Obis::LOAD_PROFILE,
        import: Obis::ACTIVE_IMPORT,
        export: Obis::ACTIVE_EXPORT,
    };

    progress("starting anvil and deploying the demo contracts");
    let net = Devnet::start_with_test_verifier(&opts.root).await?;
    let tmp = tempfile::tempdir().map_err(bench_err)?;
    let gateway_key = PrivateKeySigner::from_bytes(&keccak256("sealgrid/bench/dlms-gateway"))
        .map_err(bench_err)?;
    let outbox = Outbox::open(&format!("sqlite:{}", tmp.path().join("gw.db").display()))
        .await
        .map_err(bench_err)?;
    let domain = sealgrid_types::sealgrid_domain(net.chain_id, net.delivery.settlement);
    let gw = Gateway::new(
        KeySigner::Local(gateway_key.clone()),
        domain,
        outbox,
        Rule::default(),
    );

    // 1. Reads: a first visit (scalers read too) and the visits after it (scalers cached),
    //    which is what every interval costs.
    let registers: Vec<Meter> = (0..opts.meters)
        .map(|n| meter(n, Mode::Registers))
        .collect();
    let mut passes = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        let outcomes = gw
            .read_all(&registers, sealgrid_gateway::unix_now(), opts.concurrency)
            .await
            .map_err(bench_err)?;
        let secs = t.elapsed().as_secs_f64();
        if let Some(MeterOutcome::Refused(r)) = outcomes
            .iter()
            .find(|o| matches!(o, MeterOutcome::Refused(_)))
        {
            return Err(bench_err(format!(
                "a meter read was refused: {} {}",
                r.code, r.message
            )));
        }
        progress(&format!("{} meters read in {secs:.2} s", opts.meters));
        passes.push(secs);
    }
    let (first_s, read_s) = (passes[0], passes[1]);
    let reads_per_s = opts.meters as f64 / read_s;

    // 2. The outage: the meters registered to the gateway key, the profile read and signed
    //    with no node to send to, then the node and the drain.
    progress(&format!(
        "registering {} meters to the gateway key",
        opts.meters
    ));
    let registry = MeterRegistry::new(net.delivery.registry, net.wallet(DEV_KEYS[0])?);
    let market = demo_market();
    let mut last = None;
    for n in 0..opts.meters {
        let owner =
            PrivateKeySigner::from_bytes(&keccak256(format!("sealgrid/bench/dlms-owner/{n}")))
                .map_err(bench_err)?
                .address();
        let m = MeterRegistry::Meter {
            owner,
            device: 0,
            generator: false,
            source: 0,
            gateway: gateway_key.address(),
            gatewayFrom: 0,
            accuracy: 1,
            site: B256::ZERO,
            zone: B256::right_padding_from(b"US-CAISO"),
            market,
        };
        last = Some(
            registry
                .registerMeter(meter(n, Mode::Profile).id, m)
                .gas(400_000)
                .send()
                .await
                .map_err(bench_err)?,
        );
    }
    if let Some(p) = last {
        let r = p.get_receipt().await.map_err(bench_err)?;
        if !r.status() {
            return Err(bench_err("a meter registration reverted"));
        }
    }
    // Chain time at least the gateway's, so the last interval has ended on-chain too.
    net.warp(sealgrid_gateway::unix_now() + 1).await?;

    let profiles: Vec<Meter> = (0..opts.meters).map(|n| meter(n, Mode::Profile)).collect();
    // A fresh outbox: the register reads above moved the bases.
    let outbox = Outbox::open(&format!(
        "sqlite:{}",
        tmp.path().join("outage.db").display()
    ))
    .await
    .map_err(bench_err)?;
    let gw = Gateway::new(
        KeySigner::Local(gateway_key),
        sealgrid_types::sealgrid_domain(net.chain_id, net.delivery.settlement),
        outbox,
        Rule::default(),
    )
    .with_backfill(opts.hours * 3600);
    let t = Instant::now();
    let outcomes = gw
        .read_all(&profiles, sealgrid_gateway::unix_now(), opts.concurrency)
        .await
        .map_err(bench_err)?;
    let buffer_s = t.elapsed().as_secs_f64();
    let signed: u64 = outcomes
        .iter()
        .map(|o| match o {
            MeterOutcome::Signed(n) => *n,
            MeterOutcome::Refused(_) => 0,
        })
        .sum();
    let want = opts.meters as u64 * (opts.hours * 12 - 1);
    if signed != want {
        return Err(bench_err(format!(
            "{signed} readings signed, {want} expected"
        )));
    }
    progress(&format!(
        "{signed} readings buffered in {buffer_s:.1} s; the node comes up"
    ));

    let mut cfg = NodeConfig::new(
        net.rpc.clone(),
        net.auction,
        DEV_KEYS[0].parse::<PrivateKeySigner>().map_err(bench_err)?,
        format!("sqlite:{}", tmp.path().join("node.db").display()),
    );
    cfg.markets = vec![market];
    cfg.background = false;
    cfg.delivery = Some(DeliveryNodeConfig {
        run_loop: false,
        ..DeliveryNodeConfig::new(net.delivery)
    });
    let node = launch(cfg).await?;
    let forwarder = Forwarder::new(&node.base_url(), 500).map_err(bench_err)?;
    let t = Instant::now();
    let mut refused = 0;
    loop {
        let r = forwarder
            .pass(gw.outbox(), sealgrid_gateway::unix_now())
            .await
            .map_err(bench_err)?;
        refused += r.refused;
        if let Some(wait) = r.retry_after {
            tokio::time::sleep(wait).await;
        } else if r.answered == 0 && r.deferred == 0 {
            break;
        } else if r.deferred > 0 {
            return Err(bench_err("the node did not take a batch"));
        }
    }
    let drain_s = t.elapsed().as_secs_f64();
    let c = gw.outbox().counts().await.map_err(bench_err)?;
    if refused > 0 || c.accepted != want || c.pending != 0 {
        return Err(bench_err(format!(
            "drained {c:?} with {refused} refused; {want} accepted expected"
        )));
    }
    node.shutdown().await;
    let met = reads_per_s >= TARGET_READS_PER_S;
    Ok(vec![
        format!(
            "RESULT gateway_dlms_first_reads meters={} concurrency={} seconds={first_s:.3} reads_per_s={:.0}",
            opts.meters,
            opts.concurrency,
            opts.meters as f64 / first_s
        ),
        format!(
            "RESULT gateway_dlms_reads meters={} concurrency={} seconds={read_s:.3} reads_per_s={reads_per_s:.0}",
            opts.meters, opts.concurrency
        ),
        format!(
            "RESULT gateway_outage meters={} hours={} readings={want} buffer_s={buffer_s:.1} drain_s={drain_s:.1} drain_per_s={:.0}",
            opts.meters,
            opts.hours,
            want as f64 / drain_s
        ),
        format!("RESULT gateway target_reads_per_s={TARGET_READS_PER_S:.0} met={met}"),
    ])
}
