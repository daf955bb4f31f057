//! `sealgrid gateway` serving a charging station (OCPP 2.0.1 over TLS, Basic auth, OCMF
//! records; tests/peers/ocpp_charger.py) while the node is unreachable, killed with SIGKILL
//! after the session and again after a replay of it: every record the station was answered
//! for is kept, the held captures are signed after the restart, exactly once. And the charger
//! configs an operator gets wrong, each refused before anything is served.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sealgrid_devkit::peers::{ChargerPeer, TestTls};
use sealgrid_gateway::unix_now;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn command(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sealgrid"));
    c.args(["gateway", "--config"])
        .arg(config)
        .env("SEALGRID_KEYSTORE_PASSWORD", "ks-pw")
        .env("RUST_LOG", "info");
    c
}

/// `sealgrid gateway` running until killed; waits for its CSMS to listen.
fn start(config: &Path) -> Child {
    let mut child = command(config)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let t = Instant::now();
    let mut line = String::new();
    while !line.contains("CSMS listening") {
        line.clear();
        assert!(
            err.read_line(&mut line).expect("read") > 0,
            "the gateway exited"
        );
        assert!(t.elapsed() < Duration::from_secs(60), "no CSMS");
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in err.lines() {});
    child
}

fn once(config: &Path) -> serde_json::Value {
    let out = command(config).arg("--once").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

#[test]
fn records_survive_a_kill_and_are_signed_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let tls = TestTls::create(dir.path()).expect("tls");
    let (_, keystore) =
        sealgrid_keys::create_keystore(dir.path().join("gateway.json"), "ks-pw").expect("keystore");
    let station_key = dir.path().join("station.key");
    let spki = ChargerPeer::gen_key(&root(), &station_key).expect("key");
    let pw = dir.path().join("station.pw");
    std::fs::write(&pw, "cli-station-pw\n").expect("pw");
    let free = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let (node_port, ocpp_port) = (free(), free());
    let base = format!(
        r#"[gateway]
key = "keystore:{keystore}"
node = "http://127.0.0.1:{node_port}"
outbox = "sqlite:{outbox}"
chain_id = 31337
settlement = "0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
"#,
        keystore = keystore.display(),
        outbox = dir.path().join("gw.db").display(),
    );
    let ocpp = format!(
        "[ocpp]\nlisten = \"127.0.0.1:{ocpp_port}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        tls.cert.display(),
        tls.key.display()
    );
    let charger = |extra: &str| {
        format!(
            "[[charger]]\nstation = \"CS-CLI\"\nmeter = \"0x{:064x}\"\nserial = \"SIM-CHG-0001\"\npublic_key = \"{spki}\"\n{extra}\n",
            77
        )
    };
    let with_pw = format!("password_file = \"{}\"", pw.display());
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, format!("{base}\n{ocpp}\n{}", charger(&with_pw))).expect("config");

    let start_t = (unix_now() / 300 * 300 - 5 * 300).to_string();
    let url = format!("wss://127.0.0.1:{ocpp_port}/ocpp/CS-CLI");
    let args = [
        "--url",
        &url,
        "--ca",
        &tls.ca.display().to_string(),
        "--password-file",
        &pw.display().to_string(),
        "--key",
        &station_key.display().to_string(),
        "--start",
        &start_t,
        "--timeout",
        "20",
    ]
    .map(str::to_owned);
    let session = || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tokio::runtime::Runtime::new()
            .expect("rt")
            .block_on(ChargerPeer::run(&root(), &args))
            .expect("peer")
    };

    // The session, then SIGKILL.
    let mut gw = start(&path);
    let r = session();
    assert_eq!(r.code, 0, "{}\n{}", r.summary, r.log);
    gw.kill().expect("kill -9");
    gw.wait().expect("reaped");
    // Restarted: the station replays everything (it was answered; the records are kept, so
    // these are duplicates), SIGKILL again.
    let mut gw = start(&path);
    let r = session();
    assert_eq!(r.code, 0, "{}\n{}", r.summary, r.log);
    gw.kill().expect("kill -9");
    gw.wait().expect("reaped");
    // The held captures are signed once: the session's three intervals and the one its end
    // closes; a second run adds nothing. The node is unreachable: all pending.
    let v = once(&path);
    assert_eq!(v["outbox"]["pending"], 4, "{v}");
    let v = once(&path);
    assert_eq!(v["outbox"]["pending"], 4, "{v}");

    // Charger configs an operator gets wrong.
    for (text, needle) in [
        (
            format!("{base}\n{}", charger(&with_pw)),
            "need an [ocpp] section",
        ),
        (
            format!("{base}\n{ocpp}\n{}", charger("")),
            "could not authenticate",
        ),
        (
            format!(
                "{base}\n{ocpp}\n{}",
                charger(&with_pw).replace(&spki, "zz-not-a-key")
            ),
            "public_key",
        ),
        (
            format!(
                "{base}\n{ocpp}\n{}",
                charger(&with_pw).replace("CS-CLI", "CS/CLI")
            ),
            "no '/'",
        ),
        (
            format!("{base}\n{ocpp}\n{}{}", charger(&with_pw), charger(&with_pw)),
            "twice",
        ),
        (
            format!("{base}\n{}\ncrls = [\"x.crl\"]\n", ocpp),
            "crls without ocpp.client_ca",
        ),
        (
            format!("{base}\n{}\nprice_poll_s = 0\n", ocpp),
            "ocpp.price_poll_s must be 1 to 3600",
        ),
        (
            format!("{base}\n{}\ncost_decimals = 30\n", ocpp),
            "ocpp.cost_decimals above 18",
        ),
    ] {
        std::fs::write(&path, text).expect("config");
        let out = command(&path).arg("--once").output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "{needle:?} in {err}"
        );
    }
}
