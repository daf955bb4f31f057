//! The gateway against simulated meters on the Gurux DLMS/COSEM stack
//! (`tests/peers/dlms_meter.py`, PyPI `gurux-dlms`): the client reads clock, registers and load
//! profile over the TCP wrapper and over HDLC with low-level security and agrees with the
//! meter's own generator; the gateway signs exactly the readings the interval rule gives, keeps
//! them through a reopen of the outbox, and refuses bad devices (backwards registers, wrong
//! OBIS, clock skew, wrong password) with their codes and nothing signed.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy_primitives::{Address, keccak256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolStruct;
use sealgrid_dlms::{Authentication, Client, DlmsError, Obis, Settings, Transport};
use sealgrid_gateway::{
    Capture, Gateway, Meter, MeterOutcome, Mode, Outbox, Rule, intervals::IntervalEnergy,
};
use sealgrid_keys::KeySigner;
use sealgrid_types::{MeterQuality, MeterReading, sealgrid_domain};
use serde_json::Value;

const PASSWORD: &str = "gw-test-pw";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// A running simulator; killed on drop.
struct Meters {
    child: Child,
    ports: Vec<u16>,
}

impl Drop for Meters {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn meters(args: &[&str]) -> Meters {
    let mut child = Command::new(python())
        .arg(root().join("tests/peers/dlms_meter.py"))
        .args(["--port", "0", "--password", PASSWORD])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the simulator starts (scripts/setup.sh installs gurux-dlms into .venv)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let v: Value = serde_json::from_str(&line).expect("ready JSON");
    assert_eq!(v["ready"], true, "{line}");
    let ports = v["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p.as_u64().expect("port") as u16)
        .collect();
    Meters { child, ports }
}

/// Meter 0's profile entries in `[from, to]` from the simulator's generator.
fn expected(args: &[&str], from: u64, to: u64) -> Vec<Capture> {
    let out = Command::new(python())
        .arg(root().join("tests/peers/dlms_meter.py"))
        .args(args)
        .args(["--expect", &from.to_string(), &to.to_string()])
        .output()
        .expect("--expect runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| Capture {
            t: e["time"].as_u64().expect("time"),
            import_wh: e["import_wh"].as_u64().expect("import"),
            export_wh: e["export_wh"].as_u64().expect("export"),
        })
        .collect()
}

fn now() -> u64 {
    sealgrid_gateway::unix_now()
}

/// Waits, if need be, until the next 5-minute boundary is at least 20 s away, so that a test's
/// profile does not gain an entry between its reads.
async fn away_from_a_boundary() {
    let into = now() % 300;
    if into > 280 {
        tokio::time::sleep(Duration::from_secs(300 - into + 2)).await;
    }
}

fn settings(transport: Transport, client: u8, password: &str) -> Settings {
    Settings {
        transport,
        client,
        auth: if client == 16 {
            Authentication::None
        } else {
            Authentication::Low(password.as_bytes().to_vec())
        },
        timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

fn meter(id: &str, port: u16, transport: Transport, mode: Mode) -> Meter {
    Meter {
        id: keccak256(id),
        address: ([127, 0, 0, 1], port).into(),
        mode,
        settings: settings(transport, 17, PASSWORD),
        profile: Obis::LOAD_PROFILE,
        import: Obis::ACTIVE_IMPORT,
        export: Obis::ACTIVE_EXPORT,
    }
}

async fn gateway(dir: &tempfile::TempDir) -> (Gateway, Address) {
    let key = PrivateKeySigner::from_bytes(&keccak256("gateway-test")).expect("key");
    let address = key.address();
    let outbox = Outbox::open(&format!("sqlite:{}", dir.path().join("gw.db").display()))
        .await
        .expect("outbox");
    let domain = sealgrid_domain(31337, Address::repeat_byte(0x5e));
    (
        Gateway::new(KeySigner::Local(key), domain, outbox, Rule::default()),
        address,
    )
}

/// The signed items in the outbox: (reading, recovered signer).
async fn signed(gw: &Gateway) -> Vec<(MeterReading, Address)> {
    let domain = sealgrid_domain(31337, Address::repeat_byte(0x5e));
    gw.outbox()
        .pending(10_000)
        .await
        .expect("pending")
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_str(&p.item).expect("item JSON");
            let r: MeterReading = serde_json::from_value(v["reading"].clone()).expect("reading");
            let sig = alloy_primitives::Signature::from_raw(
                &alloy_primitives::hex::decode(v["signature"].as_str().expect("sig")).expect("hex"),
            )
            .expect("signature");
            let signer = sig
                .recover_address_from_prehash(&r.eip712_signing_hash(&domain))
                .expect("recovers");
            (r, signer)
        })
        .collect()
}

#[tokio::test]
async fn the_client_reads_gurux_meters_over_wrapper_and_hdlc() {
    away_from_a_boundary().await;
    let start = now() / 300 * 300 - 3600;
    let args = ["--start", &start.to_string(), "--seed", "3"];
    for (transport, name) in [(Transport::Wrapper, "wrapper"), (Transport::Hdlc, "hdlc")] {
        let sim = meters(&[&args[..], &["--meters", "2", "--interface", name]].concat());
        let addr = ([127, 0, 0, 1], sim.ports[0]).into();
        let mut c = Client::connect(addr, settings(transport, 17, PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("{name}: associates: {e}"));
        let clock = c.clock().await.expect("clock");
        assert!(clock.abs_diff(now()) <= 2, "{name}: clock {clock}");
        let import = c.energy_wh(Obis::ACTIVE_IMPORT).await.expect("import");
        let t = now();
        let p = c
            .profile(Obis::LOAD_PROFILE, start, t)
            .await
            .expect("profile");
        assert_eq!(p.period, 300);
        assert_eq!(p.columns.len(), 3);
        let want = expected(&args, start, t);
        assert_eq!(want.len(), 12, "an hour of 5-minute entries");
        let got: Vec<(u64, i128, i128)> = p
            .rows
            .iter()
            .map(|r| {
                let dt = sealgrid_dlms::DateTime::from_data(&r[0]).expect("clock cell");
                (
                    dt.unix().expect("time"),
                    r[1].as_i128().expect("import"),
                    r[2].as_i128().expect("export"),
                )
            })
            .collect();
        let want_rows: Vec<(u64, i128, i128)> = want
            .iter()
            .map(|c| (c.t, c.import_wh.into(), c.export_wh.into()))
            .collect();
        assert_eq!(
            got, want_rows,
            "{name}: the profile as the meter's generator made it"
        );
        // The register is at least the last entry's total (it interpolates within the period).
        assert!(import >= want[11].import_wh, "{name}: import {import}");
        // A range inside the profile returns only the entries in it.
        let part = c
            .profile(Obis::LOAD_PROFILE, start + 900, start + 1800)
            .await
            .expect("range");
        let times: Vec<u64> = part
            .rows
            .iter()
            .map(|r| {
                sealgrid_dlms::DateTime::from_data(&r[0])
                    .and_then(|d| d.unix())
                    .expect("t")
            })
            .collect();
        assert_eq!(
            times,
            [start + 900, start + 1200, start + 1500, start + 1800]
        );
        c.close().await.expect("released");

        // The wrong password is refused at association.
        let e = Client::connect(addr, settings(transport, 17, "wrong"))
            .await
            .expect_err("refused");
        assert!(
            matches!(e, DlmsError::AssociationRefused { result: 1, .. }),
            "{name}: {e}"
        );
    }
}

#[tokio::test]
async fn the_gateway_signs_what_the_rule_gives_and_refuses_bad_meters() {
    away_from_a_boundary().await;
    let start = now() / 300 * 300 - 3600;
    let args = ["--start", &start.to_string(), "--seed", "5"];
    let dir = tempfile::tempdir().expect("tmp");
    let (gw, address) = gateway(&dir).await;

    // Profile mode, over HDLC: the first read signs the hour (12 entries, a base before them
    // is the simulator's k = 0 total at `start`, which the first read does not see: 11 readings).
    let sim = meters(&[&args[..], &["--interface", "hdlc"]].concat());
    let m = meter("meter-0", sim.ports[0], Transport::Hdlc, Mode::Profile);
    let t = now();
    assert_eq!(
        gw.read_meter(&m, t).await.expect("reads"),
        MeterOutcome::Signed(11)
    );
    let want = expected(&args, start, t);
    let (energies, _) = Rule::default().readings(None, &want).expect("monotone");
    let got = signed(&gw).await;
    assert_eq!(got.len(), 11);
    for ((r, signer), e) in got.iter().zip(&energies) {
        assert_eq!(*signer, address, "signed by the gateway key");
        assert_eq!(r.meterId, m.id);
        assert_eq!(
            IntervalEnergy {
                interval: r.interval,
                import_wh: r.importWh,
                export_wh: r.exportWh,
                quality: MeterQuality::try_from(r.quality).expect("quality"),
            },
            *e
        );
        assert_eq!(r.quality, MeterQuality::Actual as u8);
        assert_eq!(r.revision, 0);
    }
    // Read again: nothing new (the base moved with the readings, in one transaction).
    assert_eq!(
        gw.read_meter(&m, now()).await.expect("reads"),
        MeterOutcome::Signed(0)
    );
    // The outbox survives a reopen with every reading still pending.
    let reopened = Outbox::open(&format!("sqlite:{}", dir.path().join("gw.db").display()))
        .await
        .expect("reopens");
    assert_eq!(reopened.counts().await.expect("counts").pending, 11);
    drop(sim);

    // Bad devices: refused with their code, nothing signed.
    for (scenario, mode, code) in [
        ("backwards", Mode::Profile, "backwards"),
        ("wrong-obis", Mode::Registers, "wrong_obis"),
        ("clock-skew", Mode::Registers, "clock_skew"),
    ] {
        let sim = meters(&[&args[..], &["--scenario", scenario]].concat());
        let m = meter(scenario, sim.ports[0], Transport::Wrapper, mode);
        match gw.read_meter(&m, now()).await.expect("reads") {
            MeterOutcome::Refused(r) => assert_eq!(r.code, code, "{scenario}: {}", r.message),
            other => panic!("{scenario}: {other:?}"),
        }
        let pending = signed(&gw).await;
        assert!(
            pending.iter().all(|(r, _)| r.meterId != m.id),
            "{scenario}: nothing signed"
        );
    }
    let mut bad = meter("bad-password", 1, Transport::Wrapper, Mode::Registers);
    let sim = meters(&args);
    bad.address = ([127, 0, 0, 1], sim.ports[0]).into();
    bad.settings.auth = Authentication::Low(b"nope".to_vec());
    match gw.read_meter(&bad, now()).await.expect("reads") {
        MeterOutcome::Refused(r) => assert_eq!(r.code, "association_refused", "{}", r.message),
        other => panic!("{other:?}"),
    }
    let refusals = gw.outbox().device_refusals().await.expect("refusals");
    let codes: Vec<&str> = refusals.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "backwards",
            "wrong_obis",
            "clock_skew",
            "association_refused"
        ]
    );
    assert_eq!(
        signed(&gw).await.len(),
        11,
        "only the good meter's readings"
    );
}
