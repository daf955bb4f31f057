//! Charger → gateway → node → chain → settled (issue 19): a charging station from the PyPI
//! `ocpp` package (`tests/peers/ocpp_charger.py`) connects to the gateway's CSMS over TLS with
//! its Basic password (Security Profile 2) and plays a charging session whose meter values are
//! OCMF records signed with a P-256 key; the gateway verifies each against the station's
//! registered key, serial and pagination, maps the session onto the 5-minute grid, signs the
//! readings into the outbox, and the node takes them on-chain and settles them on exactly the
//! energy the meter signed. A station replaying its session is answered without a second
//! effect; forged, re-paginated, unsigned, flagged, foreign-serial, mismatched, future and
//! foreign-key records are refused with their codes and nothing is signed after them; an
//! unknown station, a wrong password and a client without the CA are refused at the handshake.

use std::{path::PathBuf, sync::Arc};

use alloy::{primitives::keccak256, signers::local::PrivateKeySigner};
use sealgrid_devkit::{
    harness::Net,
    peers::{ChargerPeer, TestTls},
};
use sealgrid_gateway::{Charger, Csms, Forwarder, Gateway, Outbox, Rule};
use sealgrid_keys::KeySigner;

use crate::gateway::{
    delivery_node, price_and_settle, register_and_fund, settled_for, stored_readings,
};

const PASSWORD: &str = "e2e-charger-password";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn key(spki_hex: &str) -> ocmf::PublicKey {
    ocmf::PublicKey::from_text(spki_hex, None).expect("the peer's SPKI")
}

/// A CSMS for `chargers` on a free loopback port, serving in the background; its URL base.
async fn csms(gw: Gateway, chargers: Vec<Charger>, tls: &TestTls) -> (Csms, String) {
    let config =
        sealgrid_gateway::tls::server_config(&tls.cert, &tls.key, None, &[]).expect("tls config");
    let csms = Csms::new(gw, chargers, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "wss://127.0.0.1:{}/ocpp",
        listener.local_addr().expect("addr").port()
    );
    let serving = csms.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
    (csms, url)
}

/// A gateway with its outbox in `dir`, its key from `seed`, signing in a domain no chain
/// checks (the tests that use it look at what is refused and kept, not at settlement).
async fn offline_gateway(dir: &std::path::Path, seed: &str) -> Gateway {
    Gateway::new(
        KeySigner::Local(PrivateKeySigner::from_bytes(&keccak256(seed)).expect("key")),
        sealgrid_types::sealgrid_domain(31337, alloy::primitives::Address::repeat_byte(1)),
        Outbox::open(&format!("sqlite:{}", dir.join("gw.db").display()))
            .await
            .expect("outbox"),
        Rule::default(),
    )
}

/// The session start: five intervals back from the last boundary, so the whole session,
/// its end included, has passed.
fn session_start() -> u64 {
    sealgrid_gateway::unix_now() / 300 * 300 - 5 * 300
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charging_session_verified_by_the_gateway_settles_on_chain() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tls = TestTls::create(tmp.path()).expect("tls");
    let station_key = tmp.path().join("station.key");
    let spki = ChargerPeer::gen_key(&root(), &station_key).expect("station key");
    let pw = tmp.path().join("password");
    std::fs::write(&pw, PASSWORD).expect("password file");

    let net = Net::with_test_verifier().await;
    let gateway_key = PrivateKeySigner::from_bytes(&keccak256("e2e-charger-gw")).expect("key");
    let meter_id = keccak256("e2e-charger-meter");
    let (d, owner) = register_and_fund(&net, meter_id, gateway_key.address()).await;
    let wall = sealgrid_gateway::unix_now();
    net.warp(net.now().await.max(wall) + 1).await;

    let (node, svc, base) = delivery_node(&net, tmp.path()).await;

    let outbox_url = format!("sqlite:{}", tmp.path().join("gw.db").display());
    let gw = Gateway::new(
        KeySigner::Local(gateway_key.clone()),
        svc.domain().clone(),
        Outbox::open(&outbox_url).await.expect("outbox"),
        Rule::default(),
    );
    let station = "CS-E2E-1";
    let charger = Charger {
        station: station.into(),
        meter: meter_id,
        serial: "SIM-CHG-0001".into(),
        key: key(&spki),
        password: Some(PASSWORD.into()),
    };
    let (csms, ws) = csms(gw.clone(), vec![charger], &tls).await;

    let start = session_start().to_string();
    let session = [
        "--start",
        &start,
        "--intervals",
        "3",
        "--seed",
        "5",
        "--start-wh",
        "4200000",
    ];
    let connect = |station: &str| {
        vec![
            "--url".to_owned(),
            format!("{ws}/{station}"),
            "--ca".to_owned(),
            tls.ca.display().to_string(),
            "--password-file".to_owned(),
            pw.display().to_string(),
            "--key".to_owned(),
            station_key.display().to_string(),
        ]
    };
    let args: Vec<String> = connect(station)
        .into_iter()
        .chain(session.iter().map(|s| (*s).to_owned()))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = ChargerPeer::run(&root(), &args).await.expect("peer");
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.log);
    assert_eq!(run.summary["boot"], "Accepted", "{}", run.summary);
    assert_eq!(run.summary["records"], 5, "{}", run.summary);

    // Every record kept, as signed; nothing refused; four readings signed: the three
    // intervals of the session and the one its end reading closes (0 Wh).
    let kept = gw.outbox().charger_records(station).await.expect("records");
    assert_eq!(
        kept.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    for (_, text) in &kept {
        let rec = ocmf::Record::parse(text).expect("a record");
        ocmf::verify(&rec, &key(&spki)).expect("kept records verify with the station's key");
    }
    assert_eq!(
        gw.outbox().device_refusals().await.expect("refusals"),
        vec![]
    );
    gw.release_chargers(sealgrid_gateway::unix_now())
        .await
        .expect("release");
    assert_eq!(gw.outbox().counts().await.expect("counts").pending, 4);

    // The station reconnects and replays the whole session: answered, nothing new.
    let again = ChargerPeer::run(&root(), &args).await.expect("peer");
    assert_eq!(again.code, 0, "{}", again.log);
    assert_eq!(
        gw.outbox()
            .charger_records(station)
            .await
            .expect("records")
            .len(),
        5
    );
    assert_eq!(
        gw.outbox().device_refusals().await.expect("refusals"),
        vec![]
    );
    gw.release_chargers(sealgrid_gateway::unix_now())
        .await
        .expect("release");
    assert_eq!(gw.outbox().counts().await.expect("counts").pending, 4);

    // Delivered, priced, settled on the energy the meter signed.
    let up = Forwarder::new(&base, 500)
        .expect("forwarder")
        .pass(gw.outbox(), 1)
        .await
        .expect("pass");
    assert_eq!((up.answered, up.refused), (4, 0), "{up:?}");
    let (boundaries, energies) = ChargerPeer::expected(&root(), &session).expect("--expect");
    assert_eq!(boundaries.len(), 4);
    let mut want: Vec<(u64, u64, u64)> = energies.iter().map(|(i, wh)| (*i, *wh, 0)).collect();
    let closing = boundaries[3].0 / 300;
    want.push((closing, 0, 0));
    let intervals: Vec<u64> = want.iter().map(|w| w.0).collect();
    price_and_settle(&net, &d, &svc, &base, &intervals).await;
    let mut stored = stored_readings(&net, meter_id).await;
    stored.sort_unstable();
    assert_eq!(
        stored, want,
        "the readings on-chain are the signed register's deltas"
    );
    let mut settled = settled_for(&net, owner).await;
    settled.sort_unstable();
    let want_settled: Vec<(u64, i128)> = want
        .iter()
        .map(|(i, imp, _)| (*i, i128::from(*imp)))
        .collect();
    assert_eq!(
        settled, want_settled,
        "settled once each, on the metered energy"
    );
    drop(csms);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_charger_data_is_refused_and_nothing_is_signed_for_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tls = TestTls::create(tmp.path()).expect("tls");
    let station_key = tmp.path().join("station.key");
    let spki = ChargerPeer::gen_key(&root(), &station_key).expect("station key");
    let other_key = tmp.path().join("other.key");
    let other_spki = ChargerPeer::gen_key(&root(), &other_key).expect("other key");
    let pw = tmp.path().join("password");
    std::fs::write(&pw, PASSWORD).expect("password file");
    let wrong_pw = tmp.path().join("wrong");
    std::fs::write(&wrong_pw, "not-the-password").expect("password file");

    let gw = offline_gateway(tmp.path(), "gw").await;
    // Scenario → (station, the code its second record is refused with).
    let scenarios = [
        ("forged", "signature"),
        ("repaginated", "pagination"),
        ("unsigned", "unsigned"),
        ("error-flag", "error_flags"),
        ("serial-change", "serial"),
        ("value-mismatch", "value_mismatch"),
        ("future", "clock_skew"),
    ];
    let mut chargers: Vec<Charger> = scenarios
        .iter()
        .map(|(s, _)| Charger {
            station: format!("CS-{s}"),
            meter: keccak256(s.as_bytes()),
            serial: "SIM-CHG-0001".into(),
            key: key(&spki),
            password: Some(PASSWORD.into()),
        })
        .collect();
    // A station whose registered key is not the one its meter signs with.
    chargers.push(Charger {
        station: "CS-foreign-key".into(),
        meter: keccak256("foreign"),
        serial: "SIM-CHG-0001".into(),
        key: key(&other_spki),
        password: Some(PASSWORD.into()),
    });
    let (_csms, ws) = csms(gw.clone(), chargers, &tls).await;
    let start = session_start().to_string();

    let run = |station: String, scenario: &'static str, password: PathBuf, ca: PathBuf| {
        let (ws, start, key) = (ws.clone(), start.clone(), station_key.clone());
        async move {
            let args = [
                "--url".to_owned(),
                format!("{ws}/{station}"),
                "--ca".to_owned(),
                ca.display().to_string(),
                "--password-file".to_owned(),
                password.display().to_string(),
                "--key".to_owned(),
                key.display().to_string(),
                "--start".to_owned(),
                start,
                "--scenario".to_owned(),
                scenario.to_owned(),
                "--timeout".to_owned(),
                "20".to_owned(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ChargerPeer::run(&root(), &args).await.expect("peer")
        }
    };
    let mut runs = Vec::new();
    for (scenario, _) in scenarios {
        runs.push(tokio::spawn(run(
            format!("CS-{scenario}"),
            scenario,
            pw.clone(),
            tls.ca.clone(),
        )));
    }
    runs.push(tokio::spawn(run(
        "CS-foreign-key".into(),
        "good",
        pw.clone(),
        tls.ca.clone(),
    )));
    for r in runs {
        let r = r.await.expect("join");
        assert_eq!(r.code, 0, "{}\n{}", r.summary, r.log);
    }
    // Refused at the handshake: an unknown station, a wrong password, a client that does not
    // trust the gateway's CA (its own CA instead).
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("dir");
    let stranger = TestTls::create(&elsewhere).expect("another CA");
    for (station, password, ca, why) in [
        ("CS-unknown", pw.clone(), tls.ca.clone(), "404"),
        ("CS-forged", wrong_pw.clone(), tls.ca.clone(), "401"),
        ("CS-forged", pw.clone(), stranger.ca.clone(), "certificate"),
    ] {
        let r = run(station.into(), "good", password, ca).await;
        assert_eq!(r.code, 2, "{}", r.summary);
        assert!(
            r.summary["error"].as_str().is_some_and(|e| e.contains(why)),
            "{}",
            r.summary
        );
    }

    let refusals = gw.outbox().device_refusals().await.expect("refusals");
    for (scenario, code) in scenarios
        .iter()
        .copied()
        .chain([("foreign-key", "unknown_key")])
    {
        let station = format!("CS-{scenario}");
        let codes: Vec<&str> = refusals
            .iter()
            .filter(|(d, _, _)| *d == station)
            .map(|(_, c, _)| c.as_str())
            .collect();
        // The foreign-key station's every record is refused; elsewhere the second record is
        // refused with its reason and the transaction's chain is broken after it.
        let want: Vec<&str> = if scenario == "foreign-key" {
            vec![code; 5]
        } else {
            std::iter::once(code).chain(["pagination"; 3]).collect()
        };
        assert_eq!(codes, want, "{scenario}");
        let kept = gw
            .outbox()
            .charger_records(&station)
            .await
            .expect("records");
        assert_eq!(
            kept.len(),
            usize::from(scenario != "foreign-key"),
            "{scenario}"
        );
    }
    // Nothing signed: each session's only accepted record is its begin (a base).
    gw.release_chargers(sealgrid_gateway::unix_now() + 3600)
        .await
        .expect("release");
    assert_eq!(gw.outbox().counts().await.expect("counts").pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_enrolled_with_the_deployment_ca_connects_with_its_certificate_until_revoked() {
    use sealgrid_pki::{Pki, device_csr, est, pem};
    let tmp = tempfile::tempdir().expect("tmp");
    let pki = Arc::new(
        Pki::create(&tmp.path().join("ca"), "e2e deployment")
            .await
            .expect("ca"),
    );
    let now = sealgrid_gateway::unix_now();
    // The deployment's EST server; the station enrols over it with a one-time token.
    let est_tls = pki
        .server_config(&["127.0.0.1"], true, now)
        .await
        .expect("tls");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let est_addr = l.local_addr().expect("addr");
    tokio::spawn(est::serve_tls(
        l,
        est_tls,
        est::router(pki.clone()),
        std::future::pending(),
    ));
    let mut identities = Vec::new();
    for device in ["CS-SP3", "CS-OTHER"] {
        let token = pki
            .issue_token(device, std::time::Duration::from_secs(600), now)
            .await
            .expect("token");
        let (key_pem, csr) = device_csr(device).expect("csr");
        let cert = est::enrol(pki.ca_der(), est_addr, "127.0.0.1", device, &token, &csr)
            .await
            .expect("enrolled");
        let (c, k) = (
            tmp.path().join(format!("{device}.pem")),
            tmp.path().join(format!("{device}.key")),
        );
        std::fs::write(&c, pem("CERTIFICATE", &cert)).expect("cert file");
        std::fs::write(&k, key_pem).expect("key file");
        identities.push((c, k));
    }
    let station_key = tmp.path().join("station.key");
    let spki = ChargerPeer::gen_key(&root(), &station_key).expect("station key");

    let gw = offline_gateway(tmp.path(), "gw-sp3").await;
    // Security Profile 3: no password; the CSMS verifies client certificates of the CA.
    let charger = Charger {
        station: "CS-SP3".into(),
        meter: keccak256("sp3-meter"),
        serial: "SIM-CHG-0001".into(),
        key: key(&spki),
        password: None,
    };
    let csms = Csms::new(
        gw.clone(),
        vec![charger],
        pki.server_config(&["127.0.0.1"], true, now)
            .await
            .expect("tls"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ws = format!(
        "wss://127.0.0.1:{}/ocpp/CS-SP3",
        listener.local_addr().expect("a").port()
    );
    let serving = csms.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });

    let ca = pki.ca_path().display().to_string();
    let start = session_start().to_string();
    let run = |identity: Option<&(PathBuf, PathBuf)>| {
        let mut args = vec![
            "--url".to_owned(),
            ws.clone(),
            "--ca".to_owned(),
            ca.clone(),
            "--key".to_owned(),
            station_key.display().to_string(),
            "--start".to_owned(),
            start.clone(),
            "--timeout".to_owned(),
            "20".to_owned(),
        ];
        if let Some((c, k)) = identity {
            args.extend([
                "--client-cert".to_owned(),
                c.display().to_string(),
                "--client-key".to_owned(),
                k.display().to_string(),
            ]);
        }
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ChargerPeer::run(&root(), &args).await.expect("peer")
        }
    };
    // Its own certificate: in, and its session accepted.
    let r = run(Some(&identities[0])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.summary, r.log);
    assert_eq!(
        gw.outbox()
            .charger_records("CS-SP3")
            .await
            .expect("records")
            .len(),
        5
    );
    // No certificate and no password, or another device's certificate: refused.
    let r = run(None).await;
    assert_eq!(r.code, 2, "{}", r.summary);
    let r = run(Some(&identities[1])).await;
    assert_eq!(r.code, 2, "{}", r.summary);
    assert!(
        r.summary["error"]
            .as_str()
            .is_some_and(|e| e.contains("401")),
        "{}",
        r.summary
    );

    // Revoked: the CSMS takes the new CRL and refuses the station in the handshake.
    pki.revoke_device("CS-SP3", "decommissioned", now)
        .await
        .expect("revoke");
    csms.set_tls(
        pki.server_config(&["127.0.0.1"], true, now)
            .await
            .expect("tls"),
    );
    let r = run(Some(&identities[0])).await;
    assert_eq!(
        r.code, 2,
        "a revoked station is refused: {}\n{}",
        r.summary, r.log
    );
    assert_eq!(
        gw.outbox()
            .charger_records("CS-SP3")
            .await
            .expect("records")
            .len(),
        5
    );
}
