//! The demo feeder's gateway (docs/gateways.md): one DLMS/COSEM revenue meter and one EV
//! charging station, both simulated by independent stacks (Gurux's DLMS server, the `ocpp`
//! package's charge point), read by a `sealgrid_gateway::Gateway` whose signed readings reach
//! the node through its forwarder, as a deployed gateway's do.
//!
//! The station authenticates with Security Profile 3: a certificate it enrolled for from the
//! feeder's device CA (`sealgrid_pki`) with a one-time token; its OCMF records are verified
//! against the key registered for it before the gateway signs anything.
//!
//! The devnet's chain runs ahead of the wall clock (the demo warps it to trade intervals
//! without waiting for them), so the gateway, the meter and the station keep the chain's time:
//! the wall clock shifted by the same offset.

use std::{path::Path, time::Duration};

use alloy::primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use sealgrid_dlms::{Authentication, Obis, Settings, Transport};
use sealgrid_gateway::{
    Charger, Clock, Csms, Forwarder, Gateway, Meter, MeterOutcome, Mode, Outbox, Rule,
};
use sealgrid_keys::KeySigner;

use crate::{
    DevkitError, DevkitResult,
    peers::{ChargerPeer, DlmsSimulator},
};

fn err(e: impl std::fmt::Display) -> DevkitError {
    DevkitError::Demo(format!("feeder gateway: {e}"))
}

/// The station's OCPP identity (its certificate's DNS name).
const STATION: &str = "CS-FEEDER-1";
/// The station meter's OCMF serial.
const SERIAL: &str = "DEMO-CHG-0001";
/// Decimals of the devnet's payment token (costs are sent in token units).
const TOKEN_DECIMALS: u32 = 6;
/// Intervals the feeder's meters report at most (the gateway's backfill and the station's
/// records stay within an hour of chain time).
pub(crate) const MAX_INTERVALS: u64 = 10;

/// The feeder gateway's meters, registered with its key.
#[derive(Debug, Clone)]
pub(crate) struct Feeder {
    /// The gateway's key (the meters' registered gateway signer).
    pub key: PrivateKeySigner,
    /// The DLMS meter's id.
    pub dlms: B256,
    /// The charging station's meter id.
    pub charger: B256,
}

/// What the feeder's gateway did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeederSummary {
    /// Readings the gateway signed for the DLMS meter.
    pub dlms_readings: u64,
    /// OCMF records of the charging session the gateway verified and kept.
    pub charger_records: usize,
    /// Readings the gateway signed for the charger.
    pub charger_readings: u64,
    /// Device data refused (codes).
    pub refusals: Vec<String>,
    /// Readings the node accepted from the gateway's outbox.
    pub accepted: u64,
    /// The running costs the station was sent (`CostUpdated`, token units).
    pub cost_updates: Vec<f64>,
    /// The final cost in the answer to its `Ended` event (token units).
    pub total_cost: Option<f64>,
    /// The cost the demo computes itself from the station's energies and the cleared prices
    /// (token units; none when an interval with energy did not clear).
    pub expected_cost: Option<f64>,
}

/// Runs the feeder's gateway over chain intervals `from..=to` (each `interval_s` long), with
/// the chain `offset_s` ahead of the wall clock and its last interval ended; delivers to the
/// node at `node`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    root: &Path,
    feeder: &Feeder,
    domain: alloy::sol_types::Eip712Domain,
    node: &str,
    market: B256,
    cleared: &std::collections::HashMap<u64, i64>,
    from: u64,
    to: u64,
    interval_s: u64,
    offset_s: i64,
    seed: u64,
) -> DevkitResult<FeederSummary> {
    let dir = tempfile::tempdir().map_err(err)?;
    let clock = Clock::offset(offset_s);
    let now = clock.now();
    let first = from * interval_s;
    let k = to + 1 - from;
    let gw = Gateway::new(
        KeySigner::Local(feeder.key.clone()),
        domain,
        Outbox::open(&format!(
            "sqlite:{}",
            dir.path().join("gateway.db").display()
        ))
        .await
        .map_err(err)?,
        Rule {
            interval_s,
            ..Rule::default()
        },
    )
    .with_clock(clock.clone())
    .with_backfill(now.saturating_sub(first) + 2 * interval_s);

    // The revenue meter: a load profile over the DLMS/COSEM wrapper, low-level security. Its
    // first entry (the base) is at the first interval's start.
    let start = (first - interval_s).to_string();
    let offset = offset_s.to_string();
    let sim = DlmsSimulator::start(
        root,
        &[
            "--start",
            &start,
            "--seed",
            &(seed % 65_536).to_string(),
            "--clock-offset",
            &offset,
        ],
    )
    .map_err(err)?;
    let meter = Meter {
        id: feeder.dlms,
        address: ([127, 0, 0, 1], sim.ports[0]).into(),
        mode: Mode::Profile,
        settings: Settings {
            transport: Transport::Wrapper,
            client: 17,
            // The simulator's LLS password: Gurux's well-known default.
            auth: Authentication::Low(b"00000000".to_vec()),
            ..Settings::default()
        },
        profile: Obis::LOAD_PROFILE,
        import: Obis::ACTIVE_IMPORT,
        export: Obis::ACTIVE_EXPORT,
    };
    let mut summary = FeederSummary::default();
    match gw.read_meter(&meter, gw.now()).await.map_err(err)? {
        MeterOutcome::Signed(n) => summary.dlms_readings = n,
        // Recorded in the outbox's device refusals, listed below.
        MeterOutcome::Refused(_) => {}
    }
    drop(sim);
    // Readings are signed as soon as their boundary has passed (the CSMS signs held captures
    // while it serves): the charger's are what the outbox gains from here on.
    let before = gw.outbox().counts().await.map_err(err)?.pending;

    // The station: enrolled from the feeder's device CA, then one charging session.
    let pki = sealgrid_pki::Pki::create(&dir.path().join("ca"), "sealgrid demo feeder devices")
        .await
        .map_err(err)?;
    // Certificates are checked against the wall clock by TLS, not the chain's.
    let wall = sealgrid_gateway::unix_now();
    let token = pki
        .issue_token(STATION, Duration::from_secs(3600), wall)
        .await
        .map_err(err)?;
    let (station_key, csr) = sealgrid_pki::device_csr(STATION).map_err(err)?;
    let issued = pki.enrol(STATION, &token, &csr, wall).await.map_err(err)?;
    let (cert_path, tls_key_path) = (dir.path().join("station.pem"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, &issued.pem).map_err(err)?;
    sealgrid_pki::write_private(&tls_key_path, &station_key).map_err(err)?;
    let meter_key = dir.path().join("meter.key");
    let spki = ChargerPeer::gen_key(root, &meter_key).map_err(err)?;
    let charger = Charger {
        station: STATION.into(),
        meter: feeder.charger,
        serial: SERIAL.into(),
        key: ocmf::PublicKey::from_text(&spki, None).map_err(|e| err(format!("{e:?}")))?,
        password: None,
    };
    let tls = pki
        .server_config(&["127.0.0.1"], false, wall)
        .await
        .map_err(err)?;
    // Costs at the market's cleared prices, from the node, looked for every second.
    let feed = sealgrid_gateway::PriceFeed::new(
        node,
        market,
        interval_s,
        TOKEN_DECIMALS,
        Duration::from_secs(1),
    )
    .map_err(err)?;
    let csms = Csms::new(gw.clone(), vec![charger], tls).with_prices(feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let port = listener.local_addr().map_err(err)?.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(csms.serve(listener, async {
        let _ = stopped.await;
    }));
    let session_args = [
        "--start".to_owned(),
        first.to_string(),
        "--intervals".to_owned(),
        k.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
        "--start-wh".to_owned(),
        "2000000".to_owned(),
    ];
    let args: Vec<String> = [
        "--url",
        &format!("wss://127.0.0.1:{port}/ocpp/{STATION}"),
        "--ca",
        &pki.ca_path().display().to_string(),
        "--client-cert",
        &cert_path.display().to_string(),
        "--client-key",
        &tls_key_path.display().to_string(),
        "--key",
        &meter_key.display().to_string(),
        "--serial",
        SERIAL,
        "--clock-offset",
        &offset,
        // Time between events for a CostUpdated mid-transaction.
        "--event-gap",
        "2",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(session_args.iter().cloned())
    .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let session = ChargerPeer::run(root, &args).await;
    let _ = stop.send(());
    let _ = serving.await;
    let session = session.map_err(err)?;
    if session.code != 0 {
        return Err(err(format!(
            "the charging station's session failed: {}\n{}",
            session.summary, session.log
        )));
    }
    let total = |v: &serde_json::Value| v.get("totalCost").and_then(serde_json::Value::as_f64);
    summary.cost_updates = session.summary["cost_updates"]
        .as_array()
        .map(|a| a.iter().filter_map(total).collect())
        .unwrap_or_default();
    summary.total_cost = session.summary["answers"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(total);
    let session_args: Vec<&str> = session_args.iter().map(String::as_str).collect();
    let (_, energies) = ChargerPeer::expected(root, &session_args).map_err(err)?;
    summary.expected_cost = energies
        .iter()
        .filter(|(_, wh)| *wh > 0)
        .map(|(interval, wh)| {
            let value = i128::from(*wh) * i128::from(*cleared.get(interval)?);
            Some(value.div_euclid(1000) + i128::from(value.rem_euclid(1000) != 0))
        })
        .sum::<Option<i128>>()
        .map(|base| base as f64 / 10f64.powi(TOKEN_DECIMALS as i32));
    summary.charger_records = gw
        .outbox()
        .charger_records(STATION)
        .await
        .map_err(err)?
        .len();
    gw.release_chargers(gw.now()).await.map_err(err)?;
    summary.charger_readings = gw.outbox().counts().await.map_err(err)?.pending - before;
    summary.refusals.extend(
        gw.outbox()
            .device_refusals()
            .await
            .map_err(err)?
            .into_iter()
            .map(|(device, code, message)| format!("{device} {code}: {message}")),
    );

    // The outbox to the node.
    let forwarder = Forwarder::new(node, 500).map_err(err)?;
    let report = forwarder.pass(gw.outbox(), gw.now()).await.map_err(err)?;
    if report.refused > 0 || report.deferred > 0 {
        return Err(err(format!(
            "the node did not take the gateway's readings: {report:?}"
        )));
    }
    summary.accepted = gw.outbox().counts().await.map_err(err)?.accepted;
    Ok(summary)
}
