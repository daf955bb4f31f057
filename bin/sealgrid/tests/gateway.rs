//! `sealgrid gateway --config FILE`: a config with a keystore key and two simulated DLMS
//! meters (tests/peers/dlms_meter.py) read once with the node unreachable — everything signed
//! stays in the outbox — and the configs an operator gets wrong, each refused with a clear
//! error before anything is read.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use sealgrid_devkit::peers::DlmsSimulator;
use sealgrid_gateway::unix_now;

const PASSWORD: &str = "cli-dlms";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gateway(config: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealgrid"))
        .args(["gateway", "--config"])
        .arg(config)
        .arg("--once")
        .env_remove("SG_TEST_DLMS_PW")
        .env_remove("SEALGRID_KEYSTORE_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_gateway_reads_its_meters_and_keeps_what_it_signed_while_the_node_is_away() {
    if unix_now() % 300 > 280 {
        std::thread::sleep(Duration::from_secs(300 - unix_now() % 300 + 2));
    }
    let start = unix_now() / 300 * 300 - 3600;
    let start_s = start.to_string();
    let sim = DlmsSimulator::start(
        &root(),
        &["--meters", "2", "--password", PASSWORD, "--start", &start_s],
    )
    .expect("simulator");
    let ports = &sim.ports;
    let dir = tempfile::tempdir().expect("tmp");
    let (_, keystore) =
        sealgrid_keys::create_keystore(dir.path().join("gateway.json"), "ks-pw").expect("keystore");
    // A closed port: the node is unreachable.
    let node = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let config = |key: &str, meters: &str, extra: &str| {
        format!(
            r#"
[gateway]
key = "{key}"
node = "{node}"
outbox = "sqlite:{outbox}"
chain_id = 31337
settlement = "0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
{extra}

[dlms]
client = 17
password_env = "SG_TEST_DLMS_PW"

{meters}
"#,
            outbox = dir.path().join("gw.db").display(),
        )
    };
    let meter = |n: usize, port: u16| {
        format!(
            "[[meter]]\nid = \"0x{:064x}\"\naddress = \"127.0.0.1:{port}\"\nmode = \"profile\"\n",
            n + 1
        )
    };
    let meters = format!("{}{}", meter(0, ports[0]), meter(1, ports[1]));
    let key = format!("keystore:{}", keystore.display());
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config(&key, &meters, "")).expect("config");
    let env = [
        ("SEALGRID_KEYSTORE_PASSWORD", "ks-pw"),
        ("SG_TEST_DLMS_PW", PASSWORD),
    ];
    let (code, out, err) = gateway(&path, &env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON summary");
    assert_eq!(v["meters"], 2, "{v}");
    assert_eq!(v["refused_meters"], 0, "{v}");
    assert_eq!(v["answered"], 0, "{v}");
    // An hour of 5-minute entries per meter, the first a base: 11 readings each, all pending.
    assert_eq!(v["outbox"]["pending"], 22, "{v}");
    // Run again: nothing new, nothing lost.
    let (code, out, err) = gateway(&path, &env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON summary");
    assert_eq!(v["outbox"]["pending"], 22, "{v}");

    // Configs an operator gets wrong.
    let raw = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    for (text, env, needle) in [
        // The meters' password variable is not set.
        (config(&key, &meters, ""), &env[..1], "SG_TEST_DLMS_PW"),
        // The keystore's password is missing.
        (
            config(&key, &meters, ""),
            &env[1..],
            "SEALGRID_KEYSTORE_PASSWORD",
        ),
        // A raw key in the file.
        (config(raw, &meters, ""), &env[..], "raw private key"),
        // A raw environment key off a local devnet.
        (config("env:SG_KEY", &meters, ""), &env[..], "local devnet"),
        // A meter listed twice.
        (
            config(&key, &format!("{meters}{}", meter(0, ports[0])), ""),
            &env[..],
            "twice",
        ),
        // A field that does not exist.
        (
            config(&key, &meters, "poll_every = 5"),
            &env[..],
            "poll_every",
        ),
        // An interval length that does not divide an hour.
        (
            config(&key, &meters, "interval_s = 7"),
            &env[..],
            "divide an hour",
        ),
    ] {
        std::fs::write(&path, text).expect("config");
        let (code, _, err) = gateway(&path, env);
        assert_ne!(code, 0, "{needle}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
}
